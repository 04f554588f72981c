//! Chapter 4: the chat over WebSocket.
//!
//! - [`handshake`]: `GET /ws` and the checks before the upgrade
//!   (RFC 6455 §4): origin, version, key, cursor, and the bound on
//!   open sockets.
//! - [`upgrade`]: the chapter's own `101 Switching Protocols`, and
//!   the socket's buffers, chosen for many quiet connections.
//! - [`session`]: one open socket: replay (or a reset), live
//!   messages, posts sent as text frames, pings, and the close codes.
//! - [`sockets`]: the count of open sockets, its bound, and the
//!   signal that closes them all.
//!
//! The chat itself (messages, store, `POST`/`GET /messages`, errors)
//! is in the `chat` crate. The frames are encoded by tungstenite; the
//! `wire` crate decodes them by hand for the transcripts.

pub mod handshake;
pub mod session;
pub mod sockets;
pub mod upgrade;

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use warp::reply::Response;
use warp::{Filter, Rejection};

use chat::Store;

pub use sockets::Sockets;
pub use upgrade::accept_key;

/// What the server needs to know: the flags of `main.rs`.
#[derive(Clone, Debug)]
pub struct Config {
    /// How many messages the store keeps (`--history`).
    pub history: usize,
    /// The name of this run; `None` picks a random one, as a real
    /// start does. Tests fix it, so that transcripts do not change.
    pub run: Option<chat::Run>,
    /// How often the server pings each socket (`--ping`). A peer that
    /// has not answered the last ping by the next one is dropped.
    pub ping: Duration,
    /// The largest message a client may send, in bytes
    /// (`--max-message`). A longer one gets close code 1009.
    pub max_message: usize,
    /// Origins allowed besides the server's own (`--allow-origin`),
    /// written as a browser sends them: `http://localhost:8080`.
    pub allow_origin: Vec<String>,
    /// The most bytes tungstenite may hold in one socket's write
    /// buffer (`--max-buffer`). A frame that does not fit is refused
    /// and the socket is dropped, so it must hold the largest frame
    /// the server sends: at least 16 KiB.
    pub max_buffer: usize,
    /// The read buffer of each socket, in bytes (`--read-buffer`).
    /// tungstenite's default is 128 KiB; 2 KiB suits many sockets
    /// that receive little.
    pub read_buffer: usize,
    /// How many sockets may be open at the same time
    /// (`--max-connections`). Past it, the handshake gets 503.
    pub max_connections: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            history: 1000,
            run: None,
            ping: Duration::from_secs(30),
            // The same limit as a POST body (chat::routes).
            max_message: chat::routes::MAX_BODY_BYTES,
            allow_origin: Vec::new(),
            max_buffer: 1024 * 1024,
            read_buffer: 2 * 1024,
            max_connections: 10_000,
        }
    }
}

// ANCHOR: serve
/// Serves the chapter on `listener` until `shutdown` completes. Then
/// every open socket gets close code 1001 ("going away").
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let store = chat::server::store(config.history, config.run.clone());
    let sockets = Sockets::new(config.max_connections);
    let routes = routes(store, &config, sockets.clone())
        .recover(chat::errors::recover)
        .with(warp::trace::request());
    // After a 101, the socket no longer belongs to the HTTP server:
    // its graceful stop does not wait for it, or tell it. So the
    // signal first tells every socket to close, then stops HTTP.
    let closing = sockets.clone();
    let signal = async move {
        shutdown.await;
        closing.close_all();
    };
    chat::server::serve(listener, routes, signal).await;
    // Each socket sends close 1001 and waits a moment for the reply.
    sockets.wait_closed(Duration::from_secs(5)).await;
}
// ANCHOR_END: serve

// ANCHOR: routes
/// Everything the chapter serves: the page, its script, the socket,
/// and the chat's own routes (which still take `POST /messages`).
pub fn routes(
    store: Store,
    config: &Config,
    sockets: Sockets,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    page(&store)
        .or(ws_js())
        .unify()
        .or(handshake::websocket(store.clone(), config.clone(), sockets))
        .unify()
        .or(chat::assets::routes())
        .unify()
        .or(chat::routes::routes(store))
        .unify()
}
// ANCHOR_END: routes

const INDEX_HTML: &str = include_str!("../static/index.html");
const WS_JS: &str = include_str!("../static/ws.js");

// GET /
fn page(
    store: &Store,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    chat::assets::page(INDEX_HTML, store)
}

// GET /ws.js
pub fn ws_js() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    chat::assets::script("ws.js", WS_JS)
}
