//! Chapter 7: the chat in production. Several servers behind nginx,
//! and the messages in a Redis stream that all of them share.
//!
//! ```text
//! browser ──▶ nginx ──▶ server a ─┐
//!                   ──▶ server b ─┼──▶ Redis stream chat:messages
//!                   ──▶ server c ─┘
//! ```
//!
//! - [`log`]: the shared log, a Redis stream: `XADD` for a post,
//!   `XREVRANGE` to copy the newest, `XREAD BLOCK` to wait for more.
//! - [`follow`]: the one reader of the log in each server, which
//!   copies it into the server's store.
//!
//! Nothing else is new. Each server delivers with chapter 3's event
//! stream and chapter 4's WebSocket, from a `chat::Store` as before;
//! only a post goes to the log instead of into the store.

pub mod follow;
pub mod log;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use warp::http::{header, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection};

use chat::routes::{query, Query};
use chat::{Run, Store};

pub use log::RedisLog;

/// What one server needs to know: the flags of `main.rs`.
#[derive(Clone, Debug)]
pub struct Config {
    /// The server's name, sent in every answer as `x-served-by`, so
    /// that a reader (and a test) sees which server answered.
    pub name: String,
    /// Chapter 3's settings: `history` is how many messages each
    /// server keeps in memory (and the stream's `MAXLEN ~`), and the
    /// heartbeat, retry, drain and bound of the event streams. The
    /// run comes from the log, so `run` is not used.
    pub sse: ch03_sse::Config,
    /// Chapter 4's settings for the WebSocket: ping, limits, origins.
    pub ws: ch04_websocket::Config,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: "a".into(),
            sse: ch03_sse::Config::default(),
            ws: ch04_websocket::Config::default(),
        }
    }
}

// ANCHOR: serve
/// Serves one server of the chapter on `listener`, with the messages
/// in `log`, until `shutdown` completes. Then event streams end and
/// WebSockets get close 1001, as in chapters 3 and 4.
pub async fn serve(
    listener: tokio::net::TcpListener,
    log: RedisLog,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    // The run is the log's, not this process's: every server has the
    // same, and a restart of a server changes nothing.
    let run = log.run().await.unwrap_or_else(|e| {
        // Redis went away since `connect`: the reader will learn the
        // log's run when Redis is back, and take it then.
        tracing::warn!("cannot read the log's run yet: {e}");
        Run::named("unknown")
    });
    tracing::info!(server = config.name, %run, "serving the log's run");
    let history = config.sse.history;
    let store = Store::copying(history, run, Arc::new(log.clone()));
    // One reader of the log for this whole server.
    let reader = tokio::spawn(follow::follow(log, store.clone()));

    let drain = chat::server::Stop::new();
    let settings = ch03_sse::events::Settings::new(&config.sse, drain.shutdown());
    let sockets = ch04_websocket::Sockets::new(config.ws.max_connections);
    let routes = routes(store, &config, settings, sockets.clone())
        .recover(chat::errors::recover)
        .with(warp::reply::with::header(
            "x-served-by",
            config.name.clone(),
        ))
        .with(warp::trace::request());
    let drain_for = config.sse.drain;
    let closing = sockets.clone();
    let stop = async move {
        shutdown.await;
        // Chapter 3's drain and chapter 4's close 1001, together.
        drain.now();
        closing.close_all();
        tokio::time::sleep(drain_for).await;
    };
    chat::server::serve(listener, routes, stop).await;
    sockets.wait_closed(Duration::from_secs(5)).await;
    reader.abort();
}
// ANCHOR_END: serve

// ANCHOR: routes
/// Everything one server serves: the page, chapter 3's event stream,
/// chapter 4's WebSocket, and the chat's routes, whose posts go to
/// the log.
pub fn routes(
    store: Store,
    config: &Config,
    settings: ch03_sse::events::Settings,
    sockets: ch04_websocket::Sockets,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    page(store.clone(), config.name.clone())
        .or(ch03_sse::sse_js())
        .unify()
        .or(ch04_websocket::ws_js())
        .unify()
        .or(ch03_sse::events::events(store.clone(), settings))
        .unify()
        .or(ch04_websocket::handshake::websocket(
            store.clone(),
            config.ws.clone(),
            sockets,
        ))
        .unify()
        .or(chat::assets::routes())
        .unify()
        .or(chat::routes::routes(store))
        .unify()
}
// ANCHOR_END: routes

const INDEX_HTML: &str = include_str!("../static/index.html");

// GET /  (SSE) and GET /?via=ws (WebSocket)
fn page(
    store: Store,
    name: String,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path::end()
        .and(warp::get())
        .and(query())
        .map(move |query: Query| {
            let ws = query.get("via") == Some("ws");
            let (script, via, other) = if ws {
                ("/ws.js", "WebSocket", "<a href=\"/\">SSE</a>")
            } else {
                ("/sse.js", "SSE", "<a href=\"/?via=ws\">WebSocket</a>")
            };
            let html = INDEX_HTML
                .replace("{{run}}", store.run().as_str())
                .replace("{{script}}", script)
                .replace("{{via}}", via)
                .replace("{{other}}", other)
                .replace("{{name}}", &html_text(&name));
            let mut response = Response::new(html.into());
            let html_type = HeaderValue::from_static("text/html; charset=utf-8");
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, html_type);
            response
        })
}

/// A server name as HTML text: `--name` is the operator's, but a
/// name with `<` in it must still show as text.
fn html_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
