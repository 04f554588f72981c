//! `GET /stream`: plain HTTP streaming, the precursor of SSE.
//!
//! One response that never ends: each new message is written as one
//! chunk of a chunked body (RFC 9112 §7.1). It works, but the body has
//! no format: the reader gets bytes, not messages.

use std::convert::Infallible;

use bytes::Bytes;
use tokio::sync::watch;
use warp::http::{header, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use chat::routes::with_store;
use chat::server::Shutdown;
use chat::Store;

// ANCHOR: stream
// GET /stream
pub fn stream(
    store: Store,
    draining: Shutdown,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("stream")
        .and(warp::get())
        .and(with_store(store))
        .map(move |store: Store| {
            let start = Plain {
                cursor: store.newest_id(),
                newest: store.subscribe(),
                store,
                draining: draining.clone(),
            };
            // hyper reads the body in the connection's own task. No
            // length is known up front, so hyper sends it chunked, and
            // each item of this stream becomes one chunk.
            let body = futures_util::stream::unfold(start, |mut plain| async move {
                let chunk = plain.next_chunk().await?;
                Some((Ok::<_, Infallible>(chunk), plain))
            });
            let mut response = warp::reply::stream(body).into_response();
            let text = HeaderValue::from_static("text/plain; charset=utf-8");
            response.headers_mut().insert(header::CONTENT_TYPE, text);
            response
        })
}

/// Each message posted from now on, as its JSON and nothing else:
/// no separator, no id, no way to resume.
struct Plain {
    store: Store,
    cursor: u64,
    newest: watch::Receiver<u64>,
    draining: Shutdown,
}

impl Plain {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            // The next message, if one is new since the last chunk.
            if let Some(message) = self.store.after(self.cursor, 1).pop() {
                self.cursor = message.id();
                return Some(message.json().clone());
            }
            tokio::select! {
                changed = self.newest.changed() => changed.ok()?,
                () = self.draining.stopped() => return None,
            }
        }
    }
}
// ANCHOR_END: stream
