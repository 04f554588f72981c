//! Chapter 1: the chat, delivered by short polling.
//!
//! The page asks `GET /messages?after=ID` every `--interval`. The
//! chat itself (messages, store, `POST`/`GET /messages`, errors) is in
//! the `chat` crate; this crate adds the page that polls and serves it.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use warp::reply::Response;
use warp::{Filter, Rejection};

use chat::Store;

/// What the server needs to know: the flags of `main.rs`.
#[derive(Clone, Debug)]
pub struct Config {
    /// How many messages the store keeps (`--history`).
    pub history: usize,
    /// The name of this run; `None` picks a random one, as a real
    /// start does. Tests fix it, so that transcripts do not change.
    pub run: Option<chat::Run>,
    /// How long the page waits between two polls (`--interval`).
    pub interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            history: 1000,
            run: None,
            interval: Duration::from_secs(2),
        }
    }
}

// ANCHOR: serve
/// Serves the chapter on `listener` until `shutdown` completes, then
/// lets the requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let store = chat::server::store(config.history, config.run.clone());
    let routes = routes(store, &config)
        .recover(chat::errors::recover)
        .with(warp::trace::request());
    chat::server::serve(listener, routes, shutdown).await;
}
// ANCHOR_END: serve

// ANCHOR: routes
/// Everything the chapter serves: the page, its script, the chat.
pub fn routes(
    store: Store,
    config: &Config,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    page(config.interval, &store)
        .or(poll_js())
        .unify()
        .or(chat::assets::routes())
        .unify()
        .or(chat::routes::routes(store))
        .unify()
}
// ANCHOR_END: routes

const INDEX_HTML: &str = include_str!("../static/index.html");
const POLL_JS: &str = include_str!("../static/poll.js");

// GET /
fn page(
    interval: Duration,
    store: &Store,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // The page learns the poll interval from the server, so
    // `--interval` changes what every browser does.
    let millis = interval.as_millis().to_string();
    let html = INDEX_HTML.replace("{{interval_ms}}", &millis);
    chat::assets::page(&html, store)
}

// GET /poll.js
fn poll_js() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    chat::assets::script("poll.js", POLL_JS)
}
