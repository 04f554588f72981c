//! The chat in a real browser: two headless Chromium pages, one posts
//! through the form, the other shows the message at its next poll.
//! Skipped (and says so) where Chromium is not installed; on CI
//! (`CI=true`) a missing Chromium fails instead.

use std::time::Duration;

use ch01_polling::{serve, Config};
use wire::{EventKind, Tap, TestServer};

/// Bounds a failure, not a speed: a passing test goes on at once.
const PATIENCE: Duration = Duration::from_secs(15);

#[tokio::test]
async fn a_message_posted_in_one_page_appears_in_the_other() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let config = Config {
        interval: Duration::from_millis(200),
        ..Config::default()
    };
    let server =
        TestServer::start(|listener, shutdown| serve(listener, config, shutdown))
            .await;
    // The pages load through the tap, so the test can also check what
    // the browser itself sent.
    let tap = Tap::start(server.addr()).await.unwrap();
    let url = format!("http://{}/", tap.addr());

    let ready = "polling every 0.2 s";
    let (ana, ben) = browser.chatting(&url, ready, "hello from ana").await;
    ana.wait_for_text("#messages", "hello from ana", PATIENCE)
        .await;

    // A message is text, never HTML: the tags show as typed.
    ben.say("ben", "<b>not bold</b>").await;
    ana.wait_for_text("#messages", "<b>not bold</b>", PATIENCE)
        .await;
    assert_eq!(
        ana.eval("document.querySelectorAll('#messages b').length")
            .await,
        0
    );
    // Each message once, in order, on both pages.
    let ids =
        "[...document.querySelectorAll('#messages li')].map(li => li.dataset.id)";
    assert_eq!(ana.eval(ids).await, serde_json::json!(["1", "2"]));
    assert_eq!(ben.eval(ids).await, serde_json::json!(["1", "2"]));

    // An error from the server is shown to the user, in its words.
    ana.say("   ", "who am I?").await;
    ana.wait_for_text("#error", "user must not be blank", PATIENCE)
        .await;

    // The browser revalidates on its own: with `cache-control:
    // no-cache` and an ETag, it sends `If-None-Match` and takes the
    // 304 as the cached `[]`, without a line of our JavaScript.
    tap.wait_until("a poll answered 304", PATIENCE, |events| {
        events.iter().any(|e| match &e.kind {
            EventKind::Data { bytes, .. } => {
                bytes.starts_with(b"HTTP/1.1 304 Not Modified")
            }
            _ => false,
        })
    })
    .await;

    ana.close().await;
    ben.close().await;
}

// ANCHOR: restart
/// A page open across a restart: the new run answers the old cursor
/// with 409, and the page shows the new run's messages after a line
/// that says the history was reset.
#[tokio::test]
async fn the_page_survives_a_restart() {
    wire::restart::a_page_survives_a_restart(|listener, shutdown, run| {
        let config = Config {
            interval: Duration::from_millis(200),
            run: Some(chat::Run::named(run)),
            ..Config::default()
        };
        serve(listener, config, shutdown)
    })
    .await;
}
// ANCHOR_END: restart

/// The polls the browser sent so far: `GET /messages` request heads.
fn polls(events: &[wire::Event]) -> usize {
    let mut count = 0;
    for event in events {
        if let EventKind::Data {
            dir: wire::Dir::ToServer,
            bytes,
        } = &event.kind
        {
            if bytes.starts_with(b"GET /messages") {
                count += 1;
            }
        }
    }
    count
}

// ANCHOR: hidden
/// A page in a background tab is hidden (`document.visibilityState`);
/// it stops polling, and polls again as soon as it is shown.
#[tokio::test]
async fn a_hidden_tab_stops_polling_and_polls_at_once_when_shown() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let config = Config {
        interval: Duration::from_millis(500),
        ..Config::default()
    };
    let server =
        TestServer::start(|listener, shutdown| serve(listener, config, shutdown))
            .await;
    let tap = Tap::start(server.addr()).await.unwrap();
    let ana = browser.page().await;
    ana.goto(&format!("http://{}/", tap.addr())).await;
    ana.wait_for_text("#status", "polling every 0.5 s", PATIENCE)
        .await;
    // The page's own record of what it was told, for the end.
    let seen = "(window.seen = [], document.addEventListener('visibilitychange', \
                () => seen.push(document.visibilityState)), seen.length)";
    ana.eval(seen).await;

    // Open a second tab and bring it to the front: ana's tab is now in
    // the background, hence hidden.
    let webdriver = ana.webdriver();
    let home = webdriver.window().await.unwrap();
    let tab = webdriver.new_window(true).await.unwrap();
    webdriver.switch_to_window(tab.handle).await.unwrap();
    // A poll that was in flight may still arrive: wait a moment.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let hidden = polls(&tap.events());
    // Six intervals in the background: not one poll.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(polls(&tap.events()), hidden, "no poll from a hidden tab");

    // Back to ana's tab: it is shown, and it polls. No timer is left
    // to do it, so this poll is the one `visibilitychange` sends.
    webdriver.switch_to_window(home).await.unwrap();
    tap.wait_until("a poll after the tab is shown", PATIENCE, |events| {
        polls(events) > hidden
    })
    .await;
    let states = ana.eval("seen").await;
    assert_eq!(states, serde_json::json!(["hidden", "visible"]));
    ana.close().await;
}
// ANCHOR_END: hidden
