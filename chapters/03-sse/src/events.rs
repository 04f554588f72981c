//! `GET /events`: the chat as a Server-Sent Events stream, with resume.

use std::convert::Infallible;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::watch;
use tokio::time::{interval_at, Instant, Interval, MissedTickBehavior};
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use chat::limit::{Limit, Slot};
use chat::routes::{query, with_store, Query, PAGE_SIZE};
use chat::server::Shutdown;
use chat::{Cursor, Reset, Store, Stored};

use crate::format;

/// What every stream needs to know besides the store.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Sent first as `retry:`: the browser's wait before a reconnect.
    pub retry: Duration,
    /// A comment goes out after this long without an event.
    pub heartbeat: Duration,
    /// The server's stop: its drain begins with it.
    pub draining: Shutdown,
    /// The bound on open streams (`--max-connections`). Clones share
    /// it: chapter 5's rooms count against one bound.
    pub limit: Limit,
}

impl Settings {
    pub fn new(config: &crate::Config, draining: Shutdown) -> Self {
        Settings {
            retry: config.retry,
            heartbeat: config.heartbeat,
            draining,
            limit: Limit::new(config.max_connections),
        }
    }
}

// ANCHOR: route
// GET /events  (Last-Event-ID header, or ?after=ID&run=RUN)
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
    if settings.draining.is_stopping() {
        return warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT)
            .into_response();
    }
    let cursor = match resume_point(last_event_id.as_deref(), &query, &store) {
        Ok(cursor) => cursor,
        Err(why) => return chat::reply::error(StatusCode::BAD_REQUEST, why),
    };
    // Past `--max-connections`: 503 before the stream opens. The
    // browser does not reconnect after it (not a 200); the page does,
    // later (see sse.js).
    let Some(slot) = settings.limit.take() else {
        return chat::limit::busy("event streams");
    };
    let stream = Events::new(store, cursor, &settings, slot);
    // The body is read by hyper, in the connection's own task: no task
    // or channel of ours. hyper asks for the next chunk only when it
    // has written the last one, so a slow reader slows the stream down.
    let body = futures_util::stream::unfold(stream, |mut stream| async move {
        let chunk = stream.next_chunk().await?;
        Some((Ok::<_, Infallible>(chunk), stream))
    });
    let mut response = warp::reply::stream(body).into_response();
    let headers = response.headers_mut();
    let event_stream = HeaderValue::from_static("text/event-stream");
    headers.insert(header::CONTENT_TYPE, event_stream);
    // A stream is never the same twice, and it has no validator to
    // ask about: no cache may store it (RFC 9111 §5.2.2.5).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // nginx (and proxies that copy it) buffer a response until the
    // buffer fills; this header asks them to pass each chunk at once.
    let no = HeaderValue::from_static("no");
    headers.insert("x-accel-buffering", no);
    response
}
// ANCHOR_END: open

// ANCHOR: resume_point
/// Where the stream starts: after the cursor in `Last-Event-ID` (sent
/// by the browser on every reconnect, WHATWG HTML §9.2.4), else after
/// `?after=ID&run=RUN` (the page sets it when it opens the stream:
/// `EventSource` cannot set headers), else after the newest message
/// (live only). Whether this run can continue from there is the
/// store's to say, in [`Store::read`].
fn resume_point(
    last_event_id: Option<&str>,
    query: &Query,
    store: &Store,
) -> Result<Cursor, String> {
    if let Some(text) = last_event_id {
        match Cursor::parse(text) {
            Ok(cursor) => return Ok(cursor),
            // Not a cursor at all: no id this server ever sent.
            Err(why) => tracing::warn!(last_event_id = text, "ignored: {why}"),
        }
    }
    match query.get("after") {
        Some(_) => query.cursor(),
        None => Ok(Cursor {
            run: Some(store.run().to_string()),
            after: store.newest_id(),
        }),
    }
}
// ANCHOR_END: resume_point

// ANCHOR: stream
/// One open stream: where it is, and what wakes it.
pub struct Events {
    store: Store,
    /// The client's cursor; after the first read, one of this run.
    cursor: Cursor,
    /// `retry: …`, written with the first chunk.
    first: Option<String>,
    newest: watch::Receiver<u64>,
    /// What the store says about itself (chapter 7: "the log is
    /// unavailable"); sent as an event when it changes.
    notices: watch::Receiver<Option<String>>,
    /// A notice changed and is not sent yet.
    notice_due: bool,
    draining: Shutdown,
    heartbeat: Interval,
    /// This stream's place under `--max-connections`.
    _slot: Slot,
}

impl Events {
    pub fn new(
        store: Store,
        cursor: Cursor,
        settings: &Settings,
        slot: Slot,
    ) -> Self {
        // Subscribe BEFORE the first read of the history. A message
        // posted between the read and the wait still wakes us, so none
        // falls in the seam.
        let newest = store.subscribe();
        let beat = settings.heartbeat;
        let mut heartbeat = interval_at(Instant::now() + beat, beat);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let notices = store.notices();
        // A new stream hears a notice that is already out, too.
        let notice_due = notices.borrow().is_some();
        Events {
            store,
            cursor,
            first: Some(format::retry(settings.retry)),
            newest,
            notices,
            notice_due,
            draining: settings.draining.clone(),
            heartbeat,
            _slot: slot,
        }
    }

    /// The next chunk of the body: everything that is ready, in one
    /// write. `None` ends the stream (the server drains).
    pub async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if self.draining.is_stopping() {
                // Ending the body ends the response with its last
                // chunk, and the browser will reconnect.
                return None;
            }
            self.newest.borrow_and_update();
            let mut chunk = BytesMut::new();
            if let Some(retry) = self.first.take() {
                chunk.extend_from_slice(retry.as_bytes());
            }
            if std::mem::take(&mut self.notice_due) {
                let notice = self.notices.borrow_and_update().clone();
                chunk.extend_from_slice(&notice_event(notice.as_deref()));
            }
            // Read from the store, not from a queue of our own: a slow
            // client cannot make us drop a message it still can get.
            let batch = match self.store.read(&self.cursor, PAGE_SIZE) {
                Ok(batch) => batch,
                Err(reset) => {
                    chunk.extend_from_slice(&reset_event(&reset));
                    self.cursor.after = reset.after;
                    self.store.after(reset.after, PAGE_SIZE)
                }
            };
            self.cursor.run = Some(self.store.run().to_string());
            for message in &batch {
                chunk.extend_from_slice(&message_event(message, &self.store));
                self.cursor.after = message.id();
            }
            if !chunk.is_empty() {
                self.heartbeat.reset();
                return Some(chunk.freeze());
            }
            tokio::select! {
                changed = self.newest.changed() => {
                    if changed.is_err() {
                        return None; // the store is gone
                    }
                }
                _ = self.notices.changed() => self.notice_due = true,
                _ = self.heartbeat.tick() => {
                    return Some(format::comment("heartbeat").into());
                }
                () = self.draining.stopped() => return None,
            }
        }
    }
}
// ANCHOR_END: stream

// ANCHOR: message_event
/// `id: b2.3` / `event: message` / `data: {"id":3,…}`. The id is the
/// cursor as a token, run and id (chapter 1): the browser sends it
/// back as `Last-Event-ID`, so a reconnect to a restarted server names
/// the old run. The JSON has no line break in it (JSON writes a
/// newline in a string as `\n`), so the data is always one line.
///
/// Every stream sends the same bytes for a message: the first stream
/// that needs them makes them, and the others share them.
fn message_event(message: &Stored, store: &Store) -> Bytes {
    message.framed(|message| {
        let id = Cursor::token(&store.run(), message.id());
        let json = std::str::from_utf8(message.json()).expect("JSON is UTF-8");
        format::event("message", Some(&id), json).into()
    })
}

/// The client's cursor cannot continue here: a `reset` event says why,
/// as JSON. Its id is the cursor to continue from, so a reconnect
/// right after it does not report the same reset again.
fn reset_event(reset: &Reset) -> Bytes {
    let id = format!("{}.{}", reset.run, reset.after);
    format::event("reset", Some(&id), &reset.json()).into()
}
// ANCHOR_END: message_event

/// `event: notice` with `{"notice":"…"}`: what the store says about
/// itself, or `{"notice":null}` once all is well again. Chapter 7's
/// servers say so when the shared log stops answering.
fn notice_event(notice: Option<&str>) -> Bytes {
    let json = serde_json::json!({ "notice": notice }).to_string();
    format::event("notice", None, &json).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat::server::Stop;
    use chat::{NewMessage, Run};

    fn post(store: &Store, text: &str) {
        let user = "ana".to_owned();
        store.post(NewMessage {
            user,
            text: text.into(),
        });
    }

    fn settings() -> (Stop, Settings) {
        let stop = Stop::new();
        let settings = Settings {
            retry: Duration::from_secs(2),
            heartbeat: Duration::from_secs(3600),
            draining: stop.shutdown(),
            limit: Limit::new(10),
        };
        (stop, settings)
    }

    fn text(chunk: Option<Bytes>) -> String {
        String::from_utf8(chunk.expect("a chunk").to_vec()).unwrap()
    }

    // ANCHOR: slow_reader
    /// A client that stops reading falls behind; the messages that
    /// left the history meanwhile are reported, never skipped in
    /// silence, and the stream goes on with what is kept.
    #[tokio::test]
    async fn a_slow_reader_is_told_what_it_missed() {
        let store = Store::with_run(3, Run::named("b2"));
        let (_stop, settings) = settings();
        let slot = settings.limit.take().unwrap();
        let start = Cursor::parse("b2.0").unwrap();
        let mut stream = Events::new(store.clone(), start, &settings, slot);
        post(&store, "m1");
        let first = text(stream.next_chunk().await);
        assert!(first.starts_with("retry: 2000\n\nid: b2.1\n"), "{first}");
        // The reader sleeps while nine more messages are posted: no
        // queue grows, the store keeps the newest 3.
        for i in 2..=10 {
            post(&store, &format!("m{i}"));
        }
        let next = text(stream.next_chunk().await);
        let reset = concat!(
            r#"{"reset":"messages 2 to 7 are no longer kept: "#,
            r#"the server keeps the newest 3","run":"b2","after":7}"#,
        );
        let expected =
            format!("id: b2.7\nevent: reset\ndata: {reset}\n\nid: b2.8\n");
        assert!(next.starts_with(&expected), "{next}");
        // All that was ready came in that one chunk: 8, 9 and 10.
        assert!(next.contains("id: b2.10\n"), "{next}");
    }
    // ANCHOR_END: slow_reader

    #[tokio::test]
    async fn draining_ends_the_stream() {
        let store = Store::new(3);
        let (stop, settings) = settings();
        let slot = settings.limit.take().unwrap();
        let mut stream = Events::new(store, Cursor::start(), &settings, slot);
        assert!(stream.next_chunk().await.is_some());
        stop.now();
        assert!(stream.next_chunk().await.is_none());
    }

    #[tokio::test]
    async fn every_stream_shares_the_bytes_of_a_message() {
        let store = Store::with_run(3, Run::named("b2"));
        post(&store, "hi");
        let message = &store.after(0, 1)[0];
        let (a, b) = (
            message_event(message, &store),
            message_event(message, &store),
        );
        assert_eq!(a.as_ptr(), b.as_ptr());
    }
}
