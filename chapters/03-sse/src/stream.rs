//! `GET /stream`: plain HTTP streaming, the precursor of SSE.
//!
//! One response that never ends: each new message is written as one
//! chunk of a chunked body (RFC 9112 §7.1). It works, but the body has
//! no format: the reader gets bytes, not messages.

use std::convert::Infallible;

use tokio::sync::{mpsc, watch};
use warp::http::{header, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use chat::routes::{with_store, PAGE_SIZE};
use chat::Store;

use crate::events::drained;

// ANCHOR: stream
// GET /stream
pub fn stream(
    store: Store,
    draining: watch::Receiver<bool>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("stream")
        .and(warp::get())
        .and(with_store(store))
        .map(move |store: Store| {
            let (tx, mut rx) = mpsc::channel::<String>(1);
            tokio::spawn(write_messages(store, tx, draining.clone()));
            let body = futures_util::stream::poll_fn(move |cx| {
                rx.poll_recv(cx).map(|chunk| chunk.map(Ok::<_, Infallible>))
            });
            // No length is known up front, so hyper sends the body
            // chunked, and each `send` below becomes one chunk.
            let mut response = warp::reply::stream(body).into_response();
            let text = HeaderValue::from_static("text/plain; charset=utf-8");
            response.headers_mut().insert(header::CONTENT_TYPE, text);
            response
        })
}

/// Each message posted from now on, as its JSON and nothing else:
/// no separator, no id, no way to resume.
async fn write_messages(
    store: Store,
    tx: mpsc::Sender<String>,
    mut draining: watch::Receiver<bool>,
) {
    let mut newest = store.subscribe();
    let mut cursor = store.newest_id();
    loop {
        tokio::select! {
            changed = newest.changed() => if changed.is_err() { return },
            _ = tx.closed() => return,
            _ = drained(&mut draining) => return,
        }
        // Everything new since the last wake, a page at a time.
        loop {
            let batch = store.after(cursor, PAGE_SIZE);
            if batch.is_empty() {
                break;
            }
            for message in batch {
                let json = serde_json::to_string(&message).expect("serializes");
                tokio::select! {
                    sent = tx.send(json) => if sent.is_err() { return },
                    _ = drained(&mut draining) => return,
                }
                cursor = message.id;
            }
        }
    }
}
// ANCHOR_END: stream
