//! `GET /events`: the chat as a Server-Sent Events stream, with resume.

use std::convert::Infallible;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{interval_at, Instant, MissedTickBehavior};
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use chat::routes::{query, with_store, Query, PAGE_SIZE};
use chat::{Message, Store};

use crate::format;

/// What every stream needs to know besides the store.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Sent first as `retry:`: the browser's wait before a reconnect.
    pub retry: Duration,
    /// A comment goes out after this long without an event.
    pub heartbeat: Duration,
    /// Turns `true` when the server starts to shut down.
    pub draining: watch::Receiver<bool>,
}

// ANCHOR: route
// GET /events  (Last-Event-ID header, or ?after=ID)
pub fn events(
    store: Store,
    settings: Settings,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("events")
        .and(warp::get())
        .and(warp::header::optional::<String>("last-event-id"))
        .and(query())
        .and(with_store(store))
        .and(warp::any().map(move || settings.clone()))
        .map(open)
}
// ANCHOR_END: route

// ANCHOR: open
fn open(
    last_event_id: Option<String>,
    query: Query,
    store: Store,
    settings: Settings,
) -> Response {
    // While the server drains, 204 tells the browser to stop: an
    // EventSource reconnects after a network error or the end of a
    // stream, but never after a response that is not a 200 with
    // `text/event-stream` (WHATWG HTML §9.2.3).
    if *settings.draining.borrow() {
        return warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT)
            .into_response();
    }
    let cursor = match resume_point(last_event_id.as_deref(), &query, &store) {
        Ok(cursor) => cursor,
        Err(why) => return chat::reply::error(StatusCode::BAD_REQUEST, why),
    };
    // A channel of one chunk between the task that writes events and
    // the response body that hyper sends: when the client reads
    // slowly, `send` waits, and the task waits with it.
    let (tx, mut rx) = mpsc::channel::<String>(1);
    tokio::spawn(pump(store, cursor, settings, tx));
    let body = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|chunk| chunk.map(Ok::<_, Infallible>))
    });
    let mut response = warp::reply::stream(body).into_response();
    let headers = response.headers_mut();
    let event_stream = HeaderValue::from_static("text/event-stream");
    headers.insert(header::CONTENT_TYPE, event_stream);
    // A stream is never the same twice: no cache may store it.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // nginx (and proxies that copy it) buffer a response until the
    // buffer fills; this header asks them to pass each chunk at once.
    let no = HeaderValue::from_static("no");
    headers.insert("x-accel-buffering", no);
    response
}
// ANCHOR_END: open

// ANCHOR: resume_point
/// Where the stream starts: after the id in `Last-Event-ID` (sent by
/// the browser on every reconnect, WHATWG HTML §9.2.4), else after
/// `?after=ID` (the page sets it on the first connect: `EventSource`
/// cannot set headers), else after the newest message (live only).
fn resume_point(
    last_event_id: Option<&str>,
    query: &Query,
    store: &Store,
) -> Result<u64, String> {
    if let Some(text) = last_event_id {
        match text.trim().parse::<u64>() {
            Ok(id) if id <= store.newest_id() => return Ok(id),
            // Not an id this server ever sent (or it restarted and
            // forgot): resuming there would skip or hide messages.
            _ => tracing::warn!(last_event_id = text, "ignored: not a known id"),
        }
    }
    match query.get("after") {
        Some(_) => query.after(),
        None => Ok(store.newest_id()),
    }
}
// ANCHOR_END: resume_point

// ANCHOR: pump
/// Writes the stream: `retry`, then every message after `cursor`,
/// then each new one as it is posted, with heartbeats in between.
pub async fn pump(
    store: Store,
    mut cursor: u64,
    settings: Settings,
    tx: mpsc::Sender<String>,
) {
    // Subscribe BEFORE reading the history. A message posted between
    // the read and the wait still wakes us, so none falls in the seam.
    let mut newest = store.subscribe();
    let mut draining = settings.draining.clone();
    let mut out = Out {
        tx,
        draining: settings.draining.clone(),
    };
    if !out.send(format::retry(settings.retry)).await {
        return;
    }
    let beat = settings.heartbeat;
    let mut heartbeat = interval_at(Instant::now() + beat, beat);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        newest.borrow_and_update();
        // Read from the store, not from a queue of our own: a slow
        // client cannot make us drop a message it still can get.
        let batch = store.after(cursor, PAGE_SIZE);
        if let Some(first) = batch.first() {
            if first.id > cursor + 1 {
                // The history no longer has what the client missed.
                let reset = reset(cursor, first.id, store.len());
                if !out.send(reset).await {
                    return;
                }
            }
        }
        for message in &batch {
            if !out.send(message_event(message)).await {
                return;
            }
            cursor = message.id;
        }
        if !batch.is_empty() {
            heartbeat.reset();
        }
        if batch.len() == PAGE_SIZE {
            continue; // more history to send
        }
        tokio::select! {
            changed = newest.changed() => if changed.is_err() { return },
            _ = heartbeat.tick() => {
                if !out.send(format::comment("heartbeat")).await {
                    return;
                }
            }
            // The client left: hyper dropped the body, and with it
            // the other end of the channel.
            _ = out.tx.closed() => return,
            // Shutting down: ending the body ends the response with
            // its last chunk, and the browser will reconnect.
            _ = drained(&mut draining) => return,
        }
    }
}
// ANCHOR_END: pump

/// The sending end of a stream: gives up when the client leaves or the
/// server drains, so a client that never reads cannot stall shutdown.
struct Out {
    tx: mpsc::Sender<String>,
    draining: watch::Receiver<bool>,
}

impl Out {
    async fn send(&mut self, chunk: String) -> bool {
        tokio::select! {
            sent = self.tx.send(chunk) => sent.is_ok(),
            _ = drained(&mut self.draining) => false,
        }
    }
}

/// Completes once the server drains (or has stopped).
pub(crate) async fn drained(draining: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: the server has stopped.
    let _ = draining.wait_for(|d| *d).await;
}

// ANCHOR: message_event
/// `id: 3` / `event: message` / `data: {"id":3,…}`. The JSON has no
/// line break in it (JSON writes a newline in a string as `\n`), so
/// the data is always one line.
fn message_event(message: &Message) -> String {
    let json = serde_json::to_string(message).expect("a message serializes");
    format::event("message", Some(message.id), &json)
}

/// The client asked for messages that are gone: it says which, in two
/// lines of text. Its id moves the browser's `lastEventId` past the
/// gap, so a reconnect right after it does not report the gap again.
fn reset(cursor: u64, first: u64, kept: usize) -> String {
    let (from, to) = (cursor + 1, first - 1);
    let text = format!(
        "messages {from} to {to} are no longer kept\n\
         the server keeps the newest {kept}"
    );
    format::event("reset", Some(to), &text)
}
// ANCHOR_END: message_event

#[cfg(test)]
mod tests {
    use super::*;
    use chat::NewMessage;

    fn post(store: &Store, text: &str) {
        let user = "ana".to_owned();
        store.post(NewMessage {
            user,
            text: text.into(),
        });
    }

    fn settings() -> (watch::Sender<bool>, Settings) {
        let (stop, draining) = watch::channel(false);
        let settings = Settings {
            retry: Duration::from_secs(2),
            heartbeat: Duration::from_secs(3600),
            draining,
        };
        (stop, settings)
    }

    // ANCHOR: slow_reader
    /// A client that stops reading falls behind; the messages that
    /// left the history meanwhile are reported, never skipped in
    /// silence, and the stream goes on with what is kept.
    #[tokio::test]
    async fn a_slow_reader_is_told_what_it_missed() {
        let store = Store::new(3);
        let (_stop, settings) = settings();
        let (tx, mut rx) = mpsc::channel(1);
        tokio::spawn(pump(store.clone(), 0, settings, tx));
        assert_eq!(rx.recv().await.unwrap(), "retry: 2000\n\n");
        // The reader sleeps while ten messages are posted: the first
        // one waits in the channel, the pump waits for room.
        post(&store, "m1");
        tokio::task::yield_now().await;
        for i in 2..=10 {
            post(&store, &format!("m{i}"));
        }
        let mut got = Vec::new();
        while got.len() < 5 {
            got.push(rx.recv().await.unwrap());
        }
        assert!(got[0].starts_with("id: 1\nevent: message\n"), "{got:?}");
        assert_eq!(
            got[1],
            "id: 7\nevent: reset\ndata: messages 2 to 7 are no longer kept\n\
             data: the server keeps the newest 3\n\n"
        );
        for (event, id) in got[2..].iter().zip(8..) {
            assert!(event.starts_with(&format!("id: {id}\n")), "{event}");
        }
    }
    // ANCHOR_END: slow_reader

    #[tokio::test]
    async fn draining_ends_the_stream() {
        let store = Store::new(3);
        let (stop, settings) = settings();
        let (tx, mut rx) = mpsc::channel(1);
        let task = tokio::spawn(pump(store, 0, settings, tx));
        assert!(rx.recv().await.is_some());
        stop.send_replace(true);
        task.await.unwrap();
        assert!(rx.recv().await.is_none());
    }
}
