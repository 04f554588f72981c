//! The live book in a real browser, as a reader uses it: Chromium opens
//! a chapter page from the book server, posts in the panel's chat, and
//! reads the panel's wire; then opens the same pages as files, where
//! the panel falls back to the recorded transcript. Skipped (and says
//! so) where Chromium is not installed; on CI (`CI=true`) a missing
//! Chromium fails instead.

mod common;

use std::time::Duration;

use common::LiveBook;
use fantoccini::Locator;
use serde_json::json;
use wire::browser::Page;
use wire::{Client, Request, Tap};

/// Bounds a failure, not a speed: a passing test goes on at once.
const PATIENCE: Duration = Duration::from_secs(15);

/// The panel's promise to a reader: what the browser sends or gets is
/// in the panel within a second. Everything runs on one computer, and
/// the tap writes an event down before it passes the bytes on.
const LIVE: Duration = Duration::from_secs(1);

/// A message that would be HTML if anything used `innerHTML`.
const NOT_HTML: &str = "<img src=x onerror=alert(1)>";

/// Runs `steps` inside the panel's chat (its iframe), then comes back
/// to the book's page.
async fn in_the_chat(page: &Page, steps: impl AsyncFnOnce(&Page)) {
    let client = page.webdriver();
    let frame = client.find(Locator::Css(".live-panel iframe")).await;
    frame
        .expect("the panel has its chat")
        .enter_frame()
        .await
        .unwrap();
    steps(page).await;
    client.enter_parent_frame().await.unwrap();
}

/// Posts `text` as `ana` through the chat's own form.
async fn post_in_the_chat(page: &Page, text: &str) {
    in_the_chat(page, async |chat| {
        chat.wait_for_text("#status", "connected", PATIENCE).await;
        chat.say("ana", text).await;
    })
    .await;
}

/// The number of elements that match `css`.
async fn count(page: &Page, css: &str) -> serde_json::Value {
    page.eval(&format!("document.querySelectorAll('{css}').length"))
        .await
}

#[tokio::test]
async fn the_sse_page_shows_a_posted_message_in_the_live_panel() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let book = LiveBook::start(common::build(out.path()).await).await;
    let page = browser.page().await;
    page.goto(&book.url("03-sse.html")).await;

    // Live: the recorded transcript gives way to the chat and its wire,
    // and the wire shows the chat page's own requests.
    page.wait_for_text(".live-status", "live", PATIENCE).await;
    assert_eq!(count(&page, ".live-panel.live").await, json!(1));
    let wire = ".live-panel .live-wire";
    page.wait_for_text(wire, "GET /events", PATIENCE).await;

    post_in_the_chat(&page, NOT_HTML).await;
    let data = format!(r#"data: {{"id":1,"user":"ana","text":"{NOT_HTML}"}}"#);
    page.wait_for_text(wire, &data, LIVE).await;
    page.wait_for_text(".live-footer", "bytes on the wire", PATIENCE)
        .await;

    // Text, never HTML: in the panel and in the chat.
    assert_eq!(count(&page, ".live-panel img").await, json!(0));
    in_the_chat(&page, async |chat| {
        chat.wait_for_text("#messages", NOT_HTML, PATIENCE).await;
        assert_eq!(count(chat, "#messages img").await, json!(0));
    })
    .await;

    // Paused, the panel holds new lines back and says how many. (The
    // button first scrolls out from under the book's menu bar.)
    let centre = "document.querySelector('.live-pause')\
        .scrollIntoView({ block: 'center' })";
    page.eval(centre).await;
    page.click(".live-pause").await;
    let tap = Tap::start(book.chapters["03-sse"]).await.unwrap();
    let mut other = Client::connect(&tap, "127.0.0.1").await;
    let json = r#"{"user":"ben","text":"while paused"}"#;
    let posted = other.send(Request::post_json("/messages", json)).await;
    assert_eq!(posted.status, 201);
    page.wait_for_text(".live-status", "new lines wait", PATIENCE)
        .await;
    assert!(!page.text(wire).await.contains("while paused"));
    page.eval(centre).await;
    page.click(".live-pause").await;
    page.wait_for_text(wire, "while paused", PATIENCE).await;

    let console = page.console_log().await.unwrap();
    let errors: Vec<&String> =
        console.iter().filter(|l| l.starts_with("SEVERE")).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    page.close().await;
}

#[tokio::test]
async fn the_websocket_page_shows_the_101_and_decoded_frames() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let book = LiveBook::start(common::build(out.path()).await).await;
    let page = browser.page().await;
    page.goto(&book.url("04-websocket.html")).await;

    let wire = ".live-panel .live-wire";
    page.wait_for_text(wire, "HTTP/1.1 101 Switching Protocols", PATIENCE)
        .await;
    post_in_the_chat(&page, "hello frames").await;
    // The browser's frame is masked (RFC 6455 §5.3), the server's not.
    page.wait_for_text(wire, "op=0x1 text MASK=1", PATIENCE)
        .await;
    let text = page
        .wait_for_text(wire, "op=0x1 text MASK=0", PATIENCE)
        .await;
    assert!(
        text.contains(r#"{"user":"ana","text":"hello frames"}"#),
        "{text}"
    );
    page.close().await;
}

#[tokio::test]
async fn chapter_6_shows_one_chapter_at_a_time() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let book = LiveBook::start(common::build(out.path()).await).await;
    let page = browser.page().await;
    page.goto(&book.url("06-choosing.html")).await;
    let wire = ".live-panel .live-wire";
    page.wait_for_text(wire, "GET /poll.js", PATIENCE).await;

    // Choose chapter 4: the panel starts again, with its lines only.
    let choose = "(() => { const s = document.querySelector('.live-choose'); \
        s.selectedIndex = 3; s.dispatchEvent(new Event('change')); \
        return s.value; })()";
    assert_eq!(page.eval(choose).await, json!("Chapter 4: WebSocket"));
    page.wait_for_text(wire, "GET /ws", PATIENCE).await;
    assert!(!page.text(wire).await.contains("poll.js"));
    let src = page.eval("document.querySelector('.live-chat').src").await;
    let url = format!("http://{}/", book.chapters["04-websocket"]);
    assert_eq!(src, json!(url));
    page.close().await;
}

#[tokio::test]
async fn static_pages_show_the_recorded_transcript_and_no_error() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let site = common::build(out.path()).await;
    let page = browser.page().await;
    let pages = [
        ("03-sse.html", "C1 → GET /events HTTP/1.1"),
        ("04-websocket.html", "101 Switching Protocols"),
    ];
    for (name, recorded) in pages {
        let url = format!("file://{}", site.join(name).display());
        page.goto(&url).await;
        // The panel's script is on the page, and it left the panel as
        // the page wrote it: the note, then the test's transcript.
        let script = "document.querySelector('script[src*=\"panel\"]') !== null";
        assert_eq!(page.eval(script).await, json!(true), "{name}");
        let panel = page
            .wait_for_text(".live-panel", "cargo run -p book", PATIENCE)
            .await;
        assert!(panel.contains(recorded), "{name}: {panel}");
        assert_eq!(count(&page, ".live-panel.live").await, json!(0));
        assert_eq!(count(&page, ".live-panel iframe").await, json!(0));
        let console = page.console_log().await.unwrap();
        let errors: Vec<&String> =
            console.iter().filter(|l| l.starts_with("SEVERE")).collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
    page.close().await;
}
