//! The chat in a real browser: Chromium's own `EventSource` gets every
//! message, survives a cut connection by reconnecting with
//! `Last-Event-ID`, and stops for good on a 204. Skipped (and says so)
//! where Chromium is not installed; on CI (`CI=true`) a missing
//! Chromium fails instead.

use std::time::Duration;

use ch03_sse::{serve, Config};
use wire::{Client, EventKind, Request, Tap, TestServer};

/// Bounds a failure, not a speed: a passing test goes on at once.
const PATIENCE: Duration = Duration::from_secs(15);

/// The connections on which the browser sent a request whose head
/// contains `needle` (any letter case), in the order they were sent.
fn requests_with(events: &[wire::Event], needle: &str) -> Vec<(usize, String)> {
    let needle = needle.to_ascii_lowercase();
    let mut found = Vec::new();
    for event in events {
        if let EventKind::Data {
            dir: wire::Dir::ToServer,
            bytes,
        } = &event.kind
        {
            let text = String::from_utf8_lossy(bytes).to_ascii_lowercase();
            if text.contains(&needle) {
                found.push((event.conn, text));
            }
        }
    }
    found
}

async fn post(client: &mut Client, text: &str) {
    let json = format!(r#"{{"user":"ben","text":"{text}"}}"#);
    let r = client.send(Request::post_json("/messages", &json)).await;
    assert_eq!(r.status, 201);
}

#[tokio::test]
async fn chromium_reconnects_with_last_event_id_and_stops_on_204() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = Config {
        retry: Duration::from_millis(300),
        heartbeat: Duration::from_secs(3600),
        drain: Duration::from_secs(60),
        ..Config::default()
    };
    let server = TestServer::start(|listener, _| {
        serve(listener, config, async move {
            let _ = stopped.await;
        })
    })
    .await;
    let tap = Tap::start(server.addr()).await.unwrap();
    let url = format!("http://{}/", tap.addr());
    let ana = browser.page().await;
    ana.goto(&url).await;
    ana.wait_for_text("#status", "connected", PATIENCE).await;

    // One message through the form, one from another client.
    ana.say("ana", "one").await;
    let mut ben = Client::connect(&tap, &tap.addr().to_string()).await;
    post(&mut ben, "two").await;
    ana.wait_for_text("#messages", "two", PATIENCE).await;

    // Cut the stream's connection, and post two messages meanwhile.
    let (stream_conn, _) = requests_with(&tap.events(), "GET /events")[0].clone();
    tap.cut(stream_conn);
    post(&mut ben, "three").await;
    post(&mut ben, "four").await;

    // Chromium reconnects by itself, after `retry`, to the same URL,
    // and says where it stopped.
    tap.wait_until("a reconnect with Last-Event-ID", PATIENCE, |events| {
        !requests_with(events, "last-event-id: ").is_empty()
    })
    .await;
    let (_, reconnect) = requests_with(&tap.events(), "last-event-id: ")[0].clone();
    // The id is the cursor as a token: the run's name, a dot, id 2.
    let run = ana.eval("chat.run").await;
    let run = run.as_str().unwrap().to_ascii_lowercase();
    assert!(reconnect.contains(&format!("last-event-id: {run}.2\r\n")));
    let first = format!("get /events?after=0&run={run} ");
    assert!(reconnect.starts_with(&first), "{reconnect}");
    ana.wait_for_text("#messages", "four", PATIENCE).await;
    ana.wait_for_text("#status", "reconnected 1×", PATIENCE)
        .await;
    // Each message once, in order.
    let ids =
        "[...document.querySelectorAll('#messages li')].map(li => li.dataset.id)";
    let ids = ana.eval(ids).await;
    assert_eq!(ids, serde_json::json!(["1", "2", "3", "4"]));

    // The server drains: the stream ends, Chromium reconnects, gets
    // 204, and gives up for good (readyState CLOSED).
    stop.send(()).unwrap();
    ana.wait_for_text("#status", "closed the stream for good", PATIENCE)
        .await;
    let state = ana.eval("source.readyState").await;
    assert_eq!(state, serde_json::json!(2), "EventSource.CLOSED");
    let before = requests_with(&tap.events(), "GET /events").len();
    // No more reconnects: wait several retry times and count again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(requests_with(&tap.events(), "GET /events").len(), before);

    ana.close().await;
}

/// A page open across a restart: Chromium reconnects by itself with
/// the old run's `Last-Event-ID`; the new run answers with `reset`.
/// No drain here: with a drain, the page would come back later by
/// itself (see sse.js), after 5 s or more.
#[tokio::test]
async fn the_page_survives_a_restart() {
    wire::restart::a_page_survives_a_restart(|listener, shutdown, run| {
        let config = Config {
            run: Some(chat::Run::named(run)),
            retry: Duration::from_millis(300),
            drain: Duration::ZERO,
            ..Config::default()
        };
        serve(listener, config, shutdown)
    })
    .await;
}
