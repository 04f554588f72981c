//! A bound on open-ended things: open event streams, open sockets.
//!
//! Each open stream costs memory and a file descriptor. Without a
//! bound, enough clients could run the server out of both. So the
//! server counts them and refuses one more than the bound, with a
//! `503` that says when to come back, before anything opens.

use std::time::Duration;

use tokio::sync::watch;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

/// `Retry-After` on a refusal: long enough for a few clients to
/// leave, short enough that a page does not wait for long.
pub const RETRY_AFTER_SECONDS: u64 = 5;

// ANCHOR: limit
/// The open streams, counted. Cloning shares the count. The count is
/// a `watch`, so a stopping server can wait until it is 0.
#[derive(Clone, Debug)]
pub struct Limit {
    open: watch::Sender<usize>,
    max: usize,
}

/// One open stream's place in the count; dropping it frees the place,
/// however the stream ends.
#[derive(Debug)]
pub struct Slot(watch::Sender<usize>);

impl Limit {
    /// At most `max` open at the same time.
    pub fn new(max: usize) -> Limit {
        Limit {
            open: watch::Sender::new(0),
            max,
        }
    }

    /// A place for one more, or `None` when all `max` are taken.
    pub fn take(&self) -> Option<Slot> {
        // Check and take in one step, under the watch's lock: two
        // requests that arrive at the same time can never both take
        // the last place.
        let max = self.max;
        let taken = self.open.send_if_modified(|open| {
            let free = *open < max;
            if free {
                *open += 1;
            }
            free
        });
        taken.then(|| Slot(self.open.clone()))
    }

    /// How many are open now.
    pub fn open(&self) -> usize {
        *self.open.borrow()
    }

    /// Waits until none is open, at most `limit`.
    pub async fn wait_none_open(&self, limit: Duration) {
        let mut open = self.open.subscribe();
        let _ = tokio::time::timeout(limit, open.wait_for(|n| *n == 0)).await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.send_modify(|open| *open -= 1);
    }
}
// ANCHOR_END: limit

// ANCHOR: busy
/// `503 Service Unavailable`: "temporary, try again later", with
/// `Retry-After` saying when (RFC 9110 §15.6.4, §10.2.3).
pub fn busy(what: &str) -> Response {
    let why = format!("too many open {what}; try again later");
    let mut response = crate::reply::error(StatusCode::SERVICE_UNAVAILABLE, why);
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
// ANCHOR_END: busy

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_refuses_beyond_the_bound() {
        let limit = Limit::new(2);
        let a = limit.take().expect("a first place");
        let _b = limit.take().expect("a second place");
        assert!(limit.take().is_none(), "a third place");
        assert_eq!(limit.open(), 2);
        drop(a);
        assert_eq!(limit.open(), 1);
        assert!(limit.take().is_some());
    }
}
