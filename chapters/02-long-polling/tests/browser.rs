//! The chat in a real browser: two headless Chromium pages. A message
//! posted in one appears in the other, carried by a request that the
//! other page had sent BEFORE the post: a parked long poll, answered
//! by the post, not a new poll. Skipped (and says so) where Chromium
//! is not installed; on CI (`CI=true`) a missing Chromium fails.

mod common;

use std::time::Duration;

use ch02_long_polling::{serve, Config};
use common::wait_parked;
use wire::{Dir, Event, EventKind, Request, Tap, TestServer};

/// Bounds a failure, not a speed: a passing test goes on at once.
const PATIENCE: Duration = Duration::from_secs(15);

/// The bytes a browser sent or received, with their place in the
/// recording.
fn data(events: &[Event]) -> Vec<(usize, usize, Dir, &[u8])> {
    let mut found = Vec::new();
    for (at, event) in events.iter().enumerate() {
        if let EventKind::Data { dir, bytes } = &event.kind {
            found.push((at, event.conn, *dir, bytes.as_slice()));
        }
    }
    found
}

fn contains(bytes: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    bytes.windows(needle.len()).any(|w| w == needle)
}

/// The connections on which a long poll was sent before `text` was
/// posted, and whose answer started after the post and carried `text`.
fn parked_polls_answered_by_the_post(events: &[Event], text: &str) -> Vec<usize> {
    let data = data(events);
    let posted = data
        .iter()
        .find(|(_, _, dir, bytes)| *dir == Dir::ToServer && contains(bytes, text))
        .map(|(at, ..)| *at)
        .expect("the POST in the recording");
    let mut conns = Vec::new();
    for (at, conn, dir, bytes) in &data {
        // `GET /messages?after=0&run=…&wait=25`: the page's first poll.
        let long_poll = *dir == Dir::ToServer
            && bytes.starts_with(b"GET /messages?after=0&run=")
            && contains(bytes, "&wait=25 ");
        if !long_poll || *at > posted {
            continue;
        }
        // What the server sent on this connection after the request:
        // its first bytes came after the POST, and they carry `text`.
        let answer: Vec<_> = data
            .iter()
            .filter(|(a, c, d, _)| a > at && c == conn && *d == Dir::ToClient)
            .collect();
        let Some((first_at, ..)) = answer.first() else {
            continue;
        };
        let bytes: Vec<u8> = answer.iter().flat_map(|(.., b)| b.to_vec()).collect();
        // Only the first response counts: cut at the start of a second.
        let second =
            (1..bytes.len()).find(|&i| bytes[i..].starts_with(b"HTTP/1.1 "));
        let first_response = &bytes[..second.unwrap_or(bytes.len())];
        if *first_at > posted && contains(first_response, text) {
            conns.push(*conn);
        }
    }
    conns
}

#[tokio::test]
async fn a_parked_request_carries_the_message_to_the_other_page() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let server = TestServer::start(|listener, shutdown| {
        serve(listener, Config::default(), shutdown)
    })
    .await;
    // The pages load through the tap, so the test can check what the
    // browsers sent, and when.
    let tap = Tap::start(server.addr()).await.unwrap();
    let url = format!("http://{}/", tap.addr());

    let ana = browser.page().await;
    let ben = browser.page().await;
    ana.goto(&url).await;
    ben.goto(&url).await;
    for page in [&ana, &ben] {
        page.wait_for_text("#status", "waiting for news", PATIENCE)
            .await;
    }
    // Both pages have a request parked at the server.
    wait_parked(server.addr(), 2).await;

    ana.say("ana", "hello from ana").await;
    ben.wait_for_text("#messages", "hello from ana", PATIENCE)
        .await;
    ana.wait_for_text("#messages", "hello from ana", PATIENCE)
        .await;

    // The proof that nobody polled: both pages got the message on the
    // request they had parked before the POST, and it was answered
    // after the POST.
    let events = tap.events();
    let carried = parked_polls_answered_by_the_post(&events, "hello from ana");
    assert_eq!(
        carried.len(),
        2,
        "parked polls that carried it: {carried:?}"
    );
    // Each page parks its next poll at once, with its new cursor.
    wait_parked(server.addr(), 2).await;

    // A message is text, never HTML: the tags show as typed.
    ben.say("ben", "<b>not bold</b>").await;
    ana.wait_for_text("#messages", "<b>not bold</b>", PATIENCE)
        .await;
    let bold = "document.querySelectorAll('#messages b').length";
    assert_eq!(ana.eval(bold).await, 0);
    // Each message once, in order, on both pages.
    let ids =
        "[...document.querySelectorAll('#messages li')].map(li => li.dataset.id)";
    ben.wait_for_text("#messages", "<b>not bold</b>", PATIENCE)
        .await;
    assert_eq!(ana.eval(ids).await, serde_json::json!(["1", "2"]));
    assert_eq!(ben.eval(ids).await, serde_json::json!(["1", "2"]));

    ana.close().await;
    ben.close().await;
}

/// The server goes away: the page says so and backs off, and it
/// comes back by itself when a server listens again.
#[tokio::test]
async fn the_page_backs_off_while_the_server_is_gone() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let server = TestServer::start(|listener, shutdown| {
        serve(listener, Config::default(), shutdown)
    })
    .await;
    let addr = server.addr();
    let page = browser.page().await;
    page.goto(&format!("http://{addr}/")).await;
    page.wait_for_text("#status", "waiting for news", PATIENCE)
        .await;
    wait_parked(addr, 1).await;
    // Stopping answers the parked request with 503 and Retry-After:
    // the page waits those 2 s, plus a random part of 0.5 s at most.
    assert!(server.stop(PATIENCE).await);
    let said = "shutting down; try again later); trying again in";
    page.wait_for_text("#status", said, PATIENCE).await;
    let status = page.text("#status").await;
    let seconds: f64 = status
        .rsplit("trying again in ")
        .next()
        .and_then(|s| s.trim_end_matches(" s").parse().ok())
        .unwrap_or_else(|| panic!("no delay in {status:?}"));
    // 2 s plus up to 0.5 s, shown with one decimal: 2.0 to 2.5.
    assert!((2.0..=2.5).contains(&seconds), "{status}");

    // A new server on the same address: the page finds it by itself.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async {
        let _ = stopped.await;
    };
    let again = tokio::spawn(serve(listener, Config::default(), stopped));
    wait_parked(addr, 1).await;
    page.wait_for_text("#status", "waiting for news", PATIENCE)
        .await;
    let mut http = common::connect(addr).await;
    let json = r#"{"user":"ben","text":"welcome back"}"#;
    let response = http.send(Request::post_json("/messages", json)).await;
    assert_eq!(response.status, 201);
    page.wait_for_text("#messages", "welcome back", PATIENCE)
        .await;
    page.close().await;
    drop(http);
    let _ = stop.send(());
    tokio::time::timeout(PATIENCE, again)
        .await
        .unwrap()
        .unwrap();
}

/// Two tabs of ONE browser, both at the same cursor, send the same
/// URL. Both requests must be parked at the server. Without
/// `cache: "no-store"` in the page's `fetch`, Chromium holds the
/// second one back until the first is answered (to see if its cache
/// can reuse that answer), and only one request is parked.
#[tokio::test]
async fn two_tabs_of_one_browser_both_wait_at_the_server() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let server = TestServer::start(|listener, shutdown| {
        serve(listener, Config::default(), shutdown)
    })
    .await;
    let url = format!("{}/", server.url());
    let page = browser.page().await;
    page.goto(&url).await;
    let first = page.webdriver().window().await.unwrap();
    let second = page.webdriver().new_window(true).await.unwrap().handle;
    page.webdriver().switch_to_window(second).await.unwrap();
    page.goto(&url).await;
    wait_parked(server.addr(), 2).await;

    let mut http = common::connect(server.addr()).await;
    let json = r#"{"user":"ben","text":"to both tabs"}"#;
    let response = http.send(Request::post_json("/messages", json)).await;
    assert_eq!(response.status, 201);
    page.wait_for_text("#messages", "to both tabs", PATIENCE)
        .await;
    page.webdriver().switch_to_window(first).await.unwrap();
    page.wait_for_text("#messages", "to both tabs", PATIENCE)
        .await;
    page.close().await;
}

/// A page open across a restart, with messages before it: the new
/// run answers the old cursor with 409 at once, never with a wait.
#[tokio::test]
async fn the_page_survives_a_restart() {
    wire::restart::a_page_survives_a_restart(|listener, shutdown, run| {
        let config = Config {
            run: Some(chat::Run::named(run)),
            ..Config::default()
        };
        serve(listener, config, shutdown)
    })
    .await;
}
