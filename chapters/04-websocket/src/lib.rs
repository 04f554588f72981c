//! Chapter 4: the chat over WebSocket.
//!
//! - [`handshake`]: `GET /ws` and the checks before the upgrade
//!   (RFC 6455 §4): origin, version, key, subprotocol.
//! - [`session`]: one open socket: replay, live messages, posts sent
//!   as text frames, pings, limits, and the close codes.
//!
//! The chat itself (messages, store, `POST`/`GET /messages`, errors)
//! is in the `chat` crate. The frames are encoded by tungstenite, the
//! library under `warp::ws`; the `wire` crate decodes them by hand
//! for the transcripts.

pub mod handshake;
pub mod session;

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use warp::reply::Response;
use warp::{Filter, Rejection};

use chat::Store;

pub use handshake::accept_key;
pub use session::Sessions;

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
    /// Bytes a socket may hold that the peer has not read yet
    /// (`--max-buffer`); past it, sending waits. It must be over
    /// 128 KiB, tungstenite's own write buffer.
    pub max_buffer: usize,
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
    let sessions = Sessions::new();
    let routes = routes(store, &config, sessions.clone())
        .recover(chat::errors::recover)
        .with(warp::trace::request());
    // After a 101, the socket no longer belongs to the HTTP server:
    // warp's graceful stop does not wait for it, or tell it. So the
    // signal first tells every socket to close, then stops HTTP.
    let closing = sessions.clone();
    let signal = async move {
        shutdown.await;
        closing.close_all();
    };
    warp::serve(routes)
        .incoming(listener)
        .graceful(signal)
        .run()
        .await;
    // Each socket sends close 1001 and waits a moment for the reply.
    sessions.wait_closed(Duration::from_secs(5)).await;
}
// ANCHOR_END: serve

// ANCHOR: routes
/// Everything the chapter serves: the page, its script, the socket,
/// and the chat's own routes (which still take `POST /messages`).
pub fn routes(
    store: Store,
    config: &Config,
    sessions: Sessions,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    page(&store)
        .or(ws_js())
        .unify()
        .or(handshake::websocket(
            store.clone(),
            config.clone(),
            sessions,
        ))
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
fn page(store: &Store) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    chat::assets::page(INDEX_HTML, store.run())
}

// GET /ws.js
fn ws_js() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    chat::assets::script("ws.js", WS_JS)
}
