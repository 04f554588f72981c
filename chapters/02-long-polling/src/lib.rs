//! Chapter 2: the chat, delivered by long polling.
//!
//! The page asks `GET /messages?after=ID&wait=S`, and the server holds
//! the request until there is news. The chat itself (messages, store,
//! `POST /messages`, errors) is in the `chat` crate.
//!
//! - [`long_poll`]: the held `GET /messages`, and its answers.
//! - [`waiters`]: the count of held ("parked") requests, and its bound.
//! - this file: the configuration, `serve`, the page and `GET /stats`.

pub mod long_poll;
pub mod waiters;

use std::future::Future;

use serde::Serialize;
use tokio::net::TcpListener;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use chat::server::Stop;
use chat::Store;
pub use long_poll::LongPoll;
pub use waiters::Waiters;

/// What the server needs to know: the flags of `main.rs`.
#[derive(Clone, Debug)]
pub struct Config {
    /// How many messages the store keeps (`--history`).
    pub history: usize,
    /// The name of this run; `None` picks a random one, as a real
    /// start does. Tests fix it, so that transcripts do not change.
    pub run: Option<chat::Run>,
    /// How many requests may be parked at the same time
    /// (`--max-waiters`).
    pub max_waiters: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            history: 1000,
            run: None,
            max_waiters: 10_000,
        }
    }
}

// ANCHOR: serve
/// Serves the chapter on `listener` until `shutdown` completes, then
/// answers the parked requests and lets the requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let stop = Stop::new();
    let state = LongPoll {
        store: chat::server::store(config.history, config.run.clone()),
        waiters: Waiters::new(config.max_waiters),
        stopping: stop.shutdown(),
    };
    let routes = routes(state)
        .recover(chat::errors::recover)
        .with(warp::trace::request());
    // A graceful shutdown stops accepting, then waits for every
    // request in flight. A parked request is in flight, and would
    // hold the shutdown for up to its `wait`. So the same signal also
    // tells the parked requests to answer now.
    let shutdown = async move {
        shutdown.await;
        stop.now();
    };
    chat::server::serve(listener, routes, shutdown).await;
}
// ANCHOR_END: serve

// ANCHOR: routes
/// Everything the chapter serves: the page, its script, the chat with
/// the long-poll `GET /messages`, and `GET /stats`.
pub fn routes(
    state: LongPoll,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    page(&state.store)
        .or(long_poll_js())
        .unify()
        .or(chat::assets::routes())
        .unify()
        .or(stats(state.waiters.clone()))
        .unify()
        .or(chat::routes::post_messages(state.store.clone()))
        .unify()
        .or(long_poll::get_messages(state))
        .unify()
}
// ANCHOR_END: routes

const INDEX_HTML: &str = include_str!("../static/index.html");
const LONG_POLL_JS: &str = include_str!("../static/long-poll.js");

// GET /
fn page(
    store: &Store,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    chat::assets::page(INDEX_HTML, store)
}

// GET /long-poll.js
fn long_poll_js() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    chat::assets::script("long-poll.js", LONG_POLL_JS)
}

// ANCHOR: stats
/// `GET /stats` → `{"parked": N}`: how many requests wait right now.
#[derive(Serialize)]
struct Stats {
    parked: usize,
}

// GET /stats
fn stats(
    waiters: Waiters,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("stats").and(warp::get()).map(move || {
        let stats = Stats {
            parked: waiters.parked(),
        };
        let mut response = chat::reply::json(StatusCode::OK, &stats);
        let no_store = HeaderValue::from_static("no-store");
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, no_store);
        response
    })
}
// ANCHOR_END: stats
