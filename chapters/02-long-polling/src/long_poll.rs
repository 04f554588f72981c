//! `GET /messages?after=ID&wait=S`: the long poll.
//!
//! The question is the same as in chapter 1: "anything after my
//! cursor?" Only the answer "no" changes. Instead of saying "no" at
//! once, the server keeps the request open and answers as soon as
//! there is news, or says "still no" (204) after `S` seconds.

use std::time::Duration;

use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use chat::reply::{error, json_bytes};
use chat::routes::{conflict, query, Query, PAGE_SIZE};
use chat::server::Shutdown;
use chat::{Page, Store};

use crate::waiters::Waiters;

/// How long a request waits when it does not say (`wait` absent).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(25);
/// The longest wait a client may ask for, in seconds. Not 60: that is
/// the default of nginx's `proxy_read_timeout`, and the idle timeout
/// of common load balancers. A proxy that hears nothing from a server
/// for that long gives up on it: nginx answers 504 itself, and counts
/// the server as failed. A wait of 60 s would race that; 50 s ends
/// with our own 204 first. Chapter 7 runs the race with a real nginx.
pub const MAX_WAIT_SECONDS: u64 = 50;
/// `Retry-After` when all `--max-waiters` places are taken.
pub const BUSY_RETRY_SECONDS: u64 = 5;
/// `Retry-After` when the server stops with requests parked.
pub const STOPPING_RETRY_SECONDS: u64 = 2;

// ANCHOR: state
/// What the long-poll route needs. Cloning it is cheap.
#[derive(Clone)]
pub struct LongPoll {
    pub store: Store,
    pub waiters: Waiters,
    /// The server's stop: a parked request answers when it begins.
    pub stopping: Shutdown,
}
// ANCHOR_END: state

// ANCHOR: route
// GET /messages?after=ID&wait=S
pub fn get_messages(
    state: LongPoll,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("messages")
        .and(warp::get())
        .and(query())
        .and(warp::any().map(move || state.clone()))
        .then(long_poll)
}
// ANCHOR_END: route

// ANCHOR: wait
/// The `wait` parameter: whole seconds from 0 to 50, 25 when absent.
/// `wait=0` asks for a plain poll: answer at once, 204 if nothing.
pub fn wait_of(query: &Query) -> Result<Duration, String> {
    let Some(text) = query.get("wait") else {
        return Ok(DEFAULT_WAIT);
    };
    match text.parse::<u64>() {
        Ok(seconds) if seconds <= MAX_WAIT_SECONDS => {
            Ok(Duration::from_secs(seconds))
        }
        _ => Err(format!(
            "wait must be a whole number of seconds from 0 to \
             {MAX_WAIT_SECONDS}, not {text:?}"
        )),
    }
}
// ANCHOR_END: wait

// ANCHOR: handler
async fn long_poll(query: Query, state: LongPoll) -> Response {
    let cursor = match query.cursor() {
        Ok(cursor) => cursor,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let wait = match wait_of(&query) {
        Ok(wait) => wait,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    // Subscribe BEFORE reading the store. `changed()` below wakes for
    // every post made after this line. Read first and subscribe
    // second, and a post that lands between the two is missed: the
    // read did not see it, and the new receiver counts it as already
    // seen. The request would then sleep through a message for up to
    // `wait` seconds.
    let mut news = state.store.subscribe();
    // A cursor from another run, or from the future, would wait for
    // ever: it gets its reset at once (chapter 1), never a 204.
    match state.store.page(&cursor, PAGE_SIZE) {
        Err(reset) => return not_stored(conflict(&reset)),
        Ok(page) if page.len > 0 => return found(page),
        Ok(_) => {}
    }
    if wait.is_zero() {
        return no_content();
    }
    if state.stopping.is_stopping() {
        return stopping();
    }
    let Some(slot) = state.waiters.park() else {
        let why = "too many requests are waiting; try again later";
        return unavailable(why, BUSY_RETRY_SECONDS);
    };
    // One timer for the whole wait, not a loop that checks the clock:
    // the task sleeps until a post, the timeout or the shutdown wakes
    // it, and uses no CPU meanwhile.
    let answer = tokio::time::timeout(wait, async {
        loop {
            tokio::select! {
                changed = news.changed() => {
                    if changed.is_err() {
                        return no_content(); // the store is gone
                    }
                    // Every request parked at this cursor wakes here;
                    // the first one makes the page, the rest share it.
                    match state.store.page(&cursor, PAGE_SIZE) {
                        Err(reset) => return not_stored(conflict(&reset)),
                        Ok(page) if page.len > 0 => return found(page),
                        Ok(_) => {}
                    }
                }
                () = state.stopping.stopped() => {
                    return stopping();
                }
            }
        }
    });
    // If the client closes its connection while we wait here, the
    // HTTP server drops this future: `slot` is dropped with it and
    // the count goes down. No code of ours has to notice.
    let response = answer.await.unwrap_or_else(|_elapsed| no_content());
    slot.answered();
    response
}
// ANCHOR_END: handler

// ANCHOR: answers
/// 200 with the new messages, oldest first.
fn found(page: Page) -> Response {
    not_stored(json_bytes(StatusCode::OK, page.body))
}

/// 204: nothing new within `wait`. "No Content" has no body at all,
/// not even `[]`, and so no `content-length` (RFC 9110 §15.3.5,
/// RFC 9112 §6.3).
fn no_content() -> Response {
    let mut response = Response::new(Vec::new().into());
    *response.status_mut() = StatusCode::NO_CONTENT;
    not_stored(response)
}

/// 503 Service Unavailable: "temporary, try again later", with
/// `Retry-After` saying when (RFC 9110 §15.6.4, §10.2.3).
fn unavailable(why: &str, retry_after_seconds: u64) -> Response {
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, why);
    let retry = HeaderValue::from(retry_after_seconds);
    response.headers_mut().insert(header::RETRY_AFTER, retry);
    not_stored(response)
}

/// The server is stopping: 503, and `connection: close`, so the
/// client does not send its next poll on this connection (RFC 9112
/// §9.6). It polls again after `Retry-After`, from its cursor.
fn stopping() -> Response {
    let why = "the server is shutting down; try again later";
    let mut response = unavailable(why, STOPPING_RETRY_SECONDS);
    let close = HeaderValue::from_static("close");
    response.headers_mut().insert(header::CONNECTION, close);
    response
}

/// A long-poll answer is news for one moment. `no-store` keeps every
/// cache, the browser's and a proxy's, from keeping it (RFC 9111
/// §5.2.2.5).
fn not_stored(mut response: Response) -> Response {
    let no_store = HeaderValue::from_static("no-store");
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, no_store);
    response
}
// ANCHOR_END: answers

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Query {
        let pairs = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Query(pairs.collect())
    }

    fn post(store: &Store) {
        let new = chat::NewMessage {
            user: "ben".into(),
            text: "hi".into(),
        };
        store.post(new);
    }

    // ANCHOR: race
    /// Why the handler subscribes before it reads: a receiver made
    /// after a post counts that post as already seen.
    #[test]
    fn a_post_between_read_and_subscribe_is_missed() {
        let store = Store::new(10);
        // The wrong order: read (nothing), a post lands, subscribe.
        assert!(store.after(0, PAGE_SIZE).is_empty());
        post(&store);
        let late = store.subscribe();
        // `changed()` would wait for the NEXT post: this one is lost.
        assert!(!late.has_changed().unwrap());

        // The right order: subscribe, read (nothing), a post lands.
        let early = store.subscribe();
        assert!(store.after(1, PAGE_SIZE).is_empty());
        post(&store);
        // `changed()` returns at once: the post is not missed.
        assert!(early.has_changed().unwrap());
    }
    // ANCHOR_END: race

    #[test]
    fn wait_is_whole_seconds_up_to_50() {
        assert_eq!(wait_of(&query(&[])), Ok(DEFAULT_WAIT));
        assert_eq!(wait_of(&query(&[("wait", "0")])), Ok(Duration::ZERO));
        let fifty = Duration::from_secs(50);
        assert_eq!(wait_of(&query(&[("wait", "50")])), Ok(fifty));
        for bad in ["51", "60", "-1", "1.5", "soon", ""] {
            assert!(wait_of(&query(&[("wait", bad)])).is_err(), "{bad}");
        }
    }
}
