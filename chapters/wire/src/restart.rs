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

use crate::browser::Page;
use crate::scenario::{Shutdown, TestServer};

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
    over("http", &[], serve).await;
}

/// The same story over `scheme` (`"https"` for chapter 5's TLS),
/// with extra Chromium flags (`--ignore-certificate-errors` for its
/// self-signed certificate). `serve` must speak `scheme` on the
/// listener it is given.
pub async fn over<F, Fut>(scheme: &str, flags: &[&str], serve: F)
where
    F: Fn(TcpListener, Shutdown, &'static str) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(browser) = crate::browser::chromium().await else {
        return;
    };
    let first =
        TestServer::start(|listener, stop| serve(listener, stop, "a1")).await;
    let addr = first.addr();
    let page = browser.page_with_flags(flags).await;
    page.goto(&format!("{scheme}://{addr}/")).await;
    let before = ["one", "two", "three", "four", "five"];
    post_all(&page, &before).await;
    page.wait_for_text("#messages", "five", PATIENCE).await;

    // The restart: the first run stops as on Ctrl-C, and a new run
    // starts on the same port with an empty memory.
    assert!(first.stop(PATIENCE).await, "run a1 did not stop");
    let second =
        TestServer::start_at(addr, |listener, stop| serve(listener, stop, "b2"))
            .await;
    let after = ["six", "seven"];
    post_all(&page, &after).await;
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

/// Posts each text as `ben` with the page's own `fetch`, as a second
/// tab on the same site would: the same protocol as the page, HTTP/2
/// included. A post waits for its answer before the next one.
async fn post_all(page: &Page, texts: &[&str]) {
    for text in texts {
        let body = json!({ "user": "ben", "text": text }).to_string();
        // A refused connection counts as status 0: try again.
        let script = format!(
            "fetch('/messages', {{method: 'POST', \
             headers: {{'content-type': 'application/json'}}, \
             body: {body:?}}}).then(r => r.status, () => 0)"
        );
        let mut status = page.eval(&script).await;
        // Right after the restart, the new run may not listen yet.
        for _ in 0..50 {
            if status == json!(201) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            status = page.eval(&script).await;
        }
        assert_eq!(status, json!(201), "POST {text}");
    }
}
