//! The chat in a real browser: two headless Chromium pages talk over
//! their sockets; the frame log shows open and close with its code.
//! Skipped (and says so) where Chromium is not installed; on CI
//! (`CI=true`) a missing Chromium fails instead.

use std::time::Duration;

use ch04_websocket::{serve, Config};
use wire::{Tap, TestServer};

/// Bounds a failure, not a speed: a passing test goes on at once.
const PATIENCE: Duration = Duration::from_secs(15);

#[tokio::test]
async fn two_pages_chat_over_websocket() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let server = TestServer::start(|listener, shutdown| {
        serve(listener, Config::default(), shutdown)
    })
    .await;
    // The pages load through the tap: their origin is the tap's
    // address, and so is their `host`, so the origin check passes.
    let tap = Tap::start(server.addr()).await.unwrap();
    let url = format!("http://{}/", tap.addr());

    let (ana, ben) = browser.chatting(&url, "connected", "hello from ana").await;
    for page in [&ana, &ben] {
        // The browser offered chat.v1 and the server selected it.
        page.wait_for_text("#frames", "open (subprotocol chat.v1)", PATIENCE)
            .await;
    }
    ana.wait_for_text("#messages", "hello from ana", PATIENCE)
        .await;
    // What the page sent and got, in bytes of UTF-8.
    let sent = r#"{"user":"ana","text":"hello from ana"}"#.len();
    let got = r#"{"id":1,"user":"ana","text":"hello from ana"}"#.len();
    let sent = format!("→ text, {sent} bytes");
    ana.wait_for_text("#frames", &sent, PATIENCE).await;
    let got = format!("← text, {got} bytes");
    ben.wait_for_text("#frames", &got, PATIENCE).await;

    // A post that breaks a rule gets an error frame, in words, and
    // the socket stays open.
    ben.say("   ", "who am I?").await;
    ben.wait_for_text("#error", "user must not be blank", PATIENCE)
        .await;
    assert_eq!(ben.text("#status").await, "connected");

    // ANCHOR: fragment
    // A WebSocket URL may not have a #fragment: the constructor throws
    // a SyntaxError (WHATWG WebSockets, "new WebSocket(url)").
    let fragment = ana
        .eval(
            "(() => { try { new WebSocket(`ws://${location.host}/ws#x`); \
             return 'no error'; } catch (e) { return e.name; } })()",
        )
        .await;
    assert_eq!(fragment, "SyntaxError");
    // ANCHOR_END: fragment

    // ANCHOR: no_subprotocol
    // Offered only a protocol the server does not speak, the server
    // selects none, and the browser fails the connection: no open
    // event, a close event with code 1006 ("abnormal closure").
    let refused = ana
        .eval(
            "new Promise((done) => { \
               const s = new WebSocket(`ws://${location.host}/ws`, ['chat.v9']); \
               s.onopen = () => done('open'); \
               s.onclose = (e) => done(`close ${e.code}`); })",
        )
        .await;
    assert_eq!(refused, "close 1006");
    // ANCHOR_END: no_subprotocol

    // The server stops: each page sees close 1001 and its reason, and
    // starts to reconnect.
    assert!(server.stop(PATIENCE).await, "the server did not stop");
    for page in [&ana, &ben] {
        let close = "close, code 1001 the server is shutting down";
        page.wait_for_text("#frames", close, PATIENCE).await;
        page.wait_for_text("#status", "reconnecting", PATIENCE)
            .await;
    }
    ana.close().await;
    ben.close().await;
}

/// A reconnect loses nothing: the page asks for `?after=` its cursor,
/// and names the run that cursor came from.
#[tokio::test]
async fn a_page_reconnects_with_its_cursor() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let server = TestServer::start(|listener, shutdown| {
        serve(listener, Config::default(), shutdown)
    })
    .await;
    let tap = Tap::start(server.addr()).await.unwrap();
    let url = format!("http://{}/", tap.addr());
    let page = browser.page().await;
    page.goto(&url).await;
    page.wait_for_text("#status", "connected", PATIENCE).await;
    page.say("ana", "before the cut").await;
    page.wait_for_text("#messages", "before the cut", PATIENCE)
        .await;
    // Cut every connection at the tap, as a network would.
    for conn in 1..=tap.events().iter().map(|e| e.conn).max().unwrap() {
        tap.cut(conn);
    }
    // No close frame came: the browser reports 1006.
    page.wait_for_text("#frames", "close, code 1006", PATIENCE)
        .await;
    page.wait_for_text("#status", "connected", PATIENCE).await;
    // The new socket asked for what came after message 1 of this run.
    let run = page.eval("chat.run").await;
    let run = run.as_str().expect("the page knows its run");
    let target = format!("GET /ws?after=1&run={run} HTTP/1.1");
    let asked = tap.events().iter().any(|e| match &e.kind {
        wire::EventKind::Data { bytes, .. } => bytes.starts_with(target.as_bytes()),
        _ => false,
    });
    assert!(asked, "no reconnect with {target}");
    page.close().await;
}

// ANCHOR: restart
/// A page stays open while the server restarts: run `a1` stops (the
/// socket gets close 1001), run `b2` starts on the same port. The
/// page reconnects with `?after=5&run=a1`, gets a reset frame, and
/// shows the new run's messages after a line that says so.
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
// ANCHOR_END: restart

// ANCHOR: limit_in_the_browser
/// Past `--max-connections`, the server answers 503, and the browser
/// tells the page no more than "close 1006": the WebSocket API does
/// not show the status of a failed handshake. The page's back-off
/// does the rest.
#[tokio::test]
async fn past_the_limit_a_page_sees_only_1006() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let config = Config {
        max_connections: 1,
        ..Config::default()
    };
    let server =
        TestServer::start(|listener, shutdown| serve(listener, config, shutdown))
            .await;
    let tap = Tap::start(server.addr()).await.unwrap();
    let page = browser.page().await;
    page.goto(&format!("http://{}/", tap.addr())).await;
    // The page's own socket takes the only place.
    page.wait_for_text("#status", "connected", PATIENCE).await;
    let second = page
        .eval(
            "new Promise((done) => { \
               const s = new WebSocket(`ws://${location.host}/ws`); \
               s.onopen = () => done('open'); \
               s.onclose = (e) => done(`close ${e.code}`); })",
        )
        .await;
    assert_eq!(second, "close 1006");
    // What the browser got, and did not pass on: the 503.
    let refused = tap.events().iter().any(|e| match &e.kind {
        wire::EventKind::Data { bytes, .. } => {
            bytes.starts_with(b"HTTP/1.1 503 Service Unavailable")
        }
        _ => false,
    });
    assert!(refused, "no 503 on the wire");
    page.close().await;
}
// ANCHOR_END: limit_in_the_browser
