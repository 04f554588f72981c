//! The restart story that every chapter's browser test tells: a page
//! stays open while its server stops and a new run starts on the same
//! port. The page must show every message of the new run, once and in
//! order, after a line that says the history was reset.
//!
//! A chapter passes its `serve`, which takes the name of the run
//! (`"a1"`, then `"b2"`), so that the two runs differ as two real
//! starts do.

use std::future::Future;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::client::{Client, Request};
use crate::scenario::{Shutdown, TestServer};
use crate::tap::Tap;

/// Bounds a failure, not a speed: a passing test goes on at once.
/// It covers the slowest page: a long poll that backs off after 503.
const PATIENCE: Duration = Duration::from_secs(20);

/// What the page shows, one entry per list item: `"3 three"` for a
/// message (its id and text), `"reset"` for the line of a reset.
const SHOWN: &str = "[...document.querySelectorAll('#messages li')]\
    .map(li => li.classList.contains('reset') ? 'reset' \
    : `${li.dataset.id} ${li.querySelector('.text').textContent}`)";

/// Opens the chapter's page in Chromium, posts five messages to run
/// `a1`, restarts the server as run `b2` on the same port, posts two
/// more, and checks what the page shows. Without Chromium it says it
/// skipped (and fails under `CI=true`, see [`crate::browser`]).
pub async fn a_page_survives_a_restart<F, Fut>(serve: F)
where
    F: Fn(TcpListener, Shutdown, &'static str) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(browser) = crate::browser::chromium().await else {
        return;
    };
    let first = TestServer::start(|listener, stop| serve(listener, stop, "a1")).await;
    let addr = first.addr();
    // Posts go through a tap, so a failure shows their bytes.
    let tap = Tap::start(addr).await.expect("start the tap");
    let page = browser.page().await;
    page.goto(&format!("http://{addr}/")).await;
    let before = ["one", "two", "three", "four", "five"];
    post_all(&tap, &before).await;
    page.wait_for_text("#messages", "five", PATIENCE).await;

    // The restart: the first run stops as on Ctrl-C, and a new run
    // starts on the same port with an empty memory.
    assert!(first.stop(PATIENCE).await, "run a1 did not stop");
    let second =
        TestServer::start_at(addr, |listener, stop| serve(listener, stop, "b2")).await;
    let after = ["six", "seven"];
    post_all(&tap, &after).await;
    page.wait_for_text("#messages", "seven", PATIENCE).await;

    let mut expected: Vec<Value> = Vec::new();
    for (id, text) in (1..).zip(before) {
        expected.push(json!(format!("{id} {text}")));
    }
    expected.push(json!("reset"));
    for (id, text) in (1..).zip(after) {
        expected.push(json!(format!("{id} {text}")));
    }
    let shown = page.eval(SHOWN).await;
    assert_eq!(shown, Value::Array(expected), "what the page shows");
    page.close().await;
    assert!(second.stop(PATIENCE).await, "run b2 did not stop");
}

/// Posts each text as `ben`, on one connection through the tap.
async fn post_all(tap: &Tap, texts: &[&str]) {
    let mut client = Client::connect(tap, &tap.addr().to_string()).await;
    for text in texts {
        let json = format!(r#"{{"user":"ben","text":"{text}"}}"#);
        let response = client.send(Request::post_json("/messages", &json)).await;
        assert_eq!(response.status, 201, "POST {text}: {}", response.text());
    }
    client.close().await;
}
