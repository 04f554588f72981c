//! Chapter 3: the chat, delivered by Server-Sent Events.
//!
//! The page opens one long response, `GET /events`, and the server
//! writes each new message into it as it is posted. If the connection
//! drops, the browser reconnects by itself and says where it stopped.
//!
//! - [`format`]: the bytes of the `text/event-stream` format.
//! - [`events`]: `GET /events`, with resume by `Last-Event-ID`.
//! - [`stream`]: `GET /stream`, plain HTTP streaming, for comparison.
//! - [`cors`]: `--allow-origin`, for a page from another origin.
//! - [`deadline`]: `--write-timeout`, for a client that reads nothing.
//!
//! Posting stays a plain `POST /messages` from the `chat` crate: an
//! event stream goes one way only, from the server to the browser.

pub mod cors;
pub mod deadline;
pub mod events;
pub mod format;
pub mod stream;

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use warp::reply::Response;
use warp::{Filter, Rejection};

use chat::server::Stop;
use chat::Store;

/// What the server needs to know: the flags of `main.rs`.
#[derive(Clone, Debug)]
pub struct Config {
    /// How many messages the store keeps (`--history`).
    pub history: usize,
    /// The name of this run; `None` picks a random one, as a real
    /// start does. Tests fix it, so that transcripts do not change.
    pub run: Option<chat::Run>,
    /// A comment goes out after this long without an event
    /// (`--heartbeat`).
    pub heartbeat: Duration,
    /// How long the browser waits before it reconnects (`--retry`).
    pub retry: Duration,
    /// After the shutdown signal, how long the server keeps answering
    /// `204` to reconnecting pages before it stops (`--drain`).
    pub drain: Duration,
    /// How many event streams may be open at once
    /// (`--max-connections`).
    pub max_connections: usize,
    /// How long one write may wait before the connection is closed
    /// (`--write-timeout`); `None` waits for ever.
    pub write_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            history: 1000,
            run: None,
            heartbeat: Duration::from_secs(15),
            retry: Duration::from_secs(2),
            drain: Duration::from_secs(3),
            max_connections: 10_000,
            write_timeout: Some(Duration::from_secs(30)),
        }
    }
}

// ANCHOR: serve
/// Serves the chapter on `listener` until `shutdown` completes. Then it
/// drains: every stream ends, and for `config.drain` a reconnecting
/// page gets `204 No Content`, which tells it to stop. Then it stops.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    serve_allowing(listener, config, cors::AllowOrigins::default(), shutdown).await;
}

/// [`serve`], and pages from the origins in `allow` may read what it
/// serves (`--allow-origin`, see [`cors`]).
pub async fn serve_allowing(
    listener: TcpListener,
    config: Config,
    allow: cors::AllowOrigins,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let store = chat::server::store(config.history, config.run.clone());
    let drain = Stop::new();
    let settings = events::Settings::new(&config, drain.shutdown());
    let routes = cors::wrap(allow, routes(store, settings))
        .recover(chat::errors::recover)
        .with(warp::trace::request());
    let drain_for = config.drain;
    let write_timeout = config.write_timeout;
    let stop = async move {
        shutdown.await;
        tracing::info!(?drain_for, "draining: streams end, reconnects get 204");
        drain.now();
        tokio::time::sleep(drain_for).await;
        // Dropping `drain` here ends any stream that is still open.
    };
    // A stream never finishes by itself, so without the drain signal
    // a graceful shutdown would wait for it forever.
    // Every connection gets the write deadline (see [`deadline`]).
    let connection = move |tcp, _peer| {
        std::future::ready(Some(deadline::WriteDeadline::new(tcp, write_timeout)))
    };
    chat::server::serve_with(listener, routes, stop, connection).await;
}
// ANCHOR_END: serve

// ANCHOR: routes
/// Everything the chapter serves: the page, its script, the streams,
/// the chat.
pub fn routes(
    store: Store,
    settings: events::Settings,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let draining = settings.draining.clone();
    page(&store)
        .or(sse_js())
        .unify()
        .or(events::events(store.clone(), settings))
        .unify()
        .or(stream::stream(store.clone(), draining))
        .unify()
        .or(chat::assets::routes())
        .unify()
        .or(chat::routes::routes(store))
        .unify()
}
// ANCHOR_END: routes

const INDEX_HTML: &str = include_str!("../static/index.html");
const SSE_JS: &str = include_str!("../static/sse.js");

// GET /
fn page(
    store: &Store,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    chat::assets::page(INDEX_HTML, store)
}

// GET /sse.js
pub fn sse_js() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    chat::assets::script("sse.js", SSE_JS)
}
