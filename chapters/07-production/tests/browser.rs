//! The chat in a real browser, through the chapter's own nginx.conf,
//! over three servers and one Redis: one page receives by SSE, the
//! other by WebSocket. Redis stops and comes back while they are
//! open. Skipped (and says so) where Chromium, nginx or Redis is not
//! installed; on CI (`CI=true`) a missing one fails instead.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use ch07_production::{serve, Config, RedisLog};
use wire::services::{Nginx, Redis};
use wire::TestServer;

/// Bounds a failure, not a speed: a passing test goes on at once.
const PATIENCE: Duration = Duration::from_secs(20);

async fn start(redis: &Redis, name: &str) -> TestServer {
    let log = RedisLog::connect(&redis.url(), "chat", 1000).await.unwrap();
    let config = Config {
        name: name.into(),
        ..Config::default()
    };
    TestServer::start(move |listener, shutdown| {
        serve(listener, log, config, shutdown)
    })
    .await
}

#[tokio::test]
async fn two_pages_chat_through_nginx_while_redis_stops() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let Some(mut redis) = Redis::start().await else {
        return;
    };
    let mut servers = Vec::new();
    for name in ["a", "b", "c"] {
        servers.push(start(&redis, name).await);
    }
    let addrs: Vec<SocketAddr> = servers.iter().map(TestServer::addr).collect();
    let Some(nginx) = Nginx::start(|port| common::nginx_conf(port, &addrs)).await
    else {
        return;
    };
    let url = format!("http://{}/", nginx.addr());

    let ana = browser.page().await;
    let ben = browser.page().await;
    ana.goto(&url).await;
    ben.goto(&format!("{url}?via=ws")).await;
    ana.wait_for_text("#status", "connected", PATIENCE).await;
    ben.wait_for_text("#frames", "open (subprotocol chat.v1)", PATIENCE)
        .await;

    ana.say("ana", "hello from ana").await;
    ben.wait_for_text("#messages", "hello from ana", PATIENCE)
        .await;
    ben.say("ben", "hello from ben").await;
    ana.wait_for_text("#messages", "hello from ben", PATIENCE)
        .await;

    // Redis stops: both pages say so, and a post is refused in words.
    redis.stop().await;
    for page in [&ana, &ben] {
        page.wait_for_text("#notice", "does not answer", PATIENCE)
            .await;
    }
    ana.say("ana", "is anyone there?").await;
    ana.wait_for_text("#error", "the chat cannot store messages now", PATIENCE)
        .await;

    // Redis is back: the notices go, and the chat goes on.
    redis.start_again().await;
    for page in [&ana, &ben] {
        wait_hidden(page, "#notice").await;
    }
    ana.say("ana", "back again").await;

    ben.wait_for_text("#messages", "back again", PATIENCE).await;
    ana.wait_for_text("#messages", "back again", PATIENCE).await;
    let shown = ben.text("#messages").await;
    assert!(
        !shown.contains("is anyone there?"),
        "a refused post was shown"
    );
    assert!(!shown.contains("history reset"), "{shown}");
    ana.close().await;
    ben.close().await;
}

/// Waits until the element matched by `css` is hidden.
async fn wait_hidden(page: &wire::browser::Page, css: &str) {
    let js = format!("document.querySelector({css:?}).hidden");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while page.eval(&js).await != serde_json::Value::Bool(true) {
        assert!(tokio::time::Instant::now() < deadline, "{css} still shown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
