//! Chapter 5: chapter 3's chat, over HTTP/1.1, h2c and HTTPS.
//!
//! Nothing in the routes changes: the event streams of chapter 3 are
//! served as they are. What changes is the connection under them. Over
//! HTTP/1.1, one stream takes one TCP connection for as long as it
//! lasts. Over HTTP/2, many streams share one connection (RFC 9113
//! §5): each request is a stream with its own id, and the frames of
//! all streams interleave on the wire.
//!
//! - [`serve`]: every chapter's accept loop (`chat::server`) on each
//!   listener, with a TLS handshake first on the second one; its
//!   connection builder speaks HTTP/1.1 or HTTP/2, whichever the
//!   client starts with.
//! - [`tls`]: the certificate, and ALPN, which agrees on `h2`.
//! - [`routes`]: chapter 3's routes, plus eight rooms for the page
//!   that shows the browser's connection limit, and chapter 4's
//!   socket at `/ws`, which HTTP/2 opens as a stream (RFC 8441).

pub mod tls;

use std::future::Future;

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use warp::filters::BoxedFilter;
use warp::http::{header, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection};

use ch04_websocket::{handshake, Sockets};
use chat::assets::asset;
use chat::server::{Shutdown, Stop};
use chat::Store;

/// What the server needs to know: the flags of `main.rs`.
#[derive(Clone, Debug)]
pub struct Config {
    /// Chapter 3's settings: history, heartbeat, retry, drain.
    pub sse: ch03_sse::Config,
    /// Chapter 4's socket settings (ping, message size, buffers). The
    /// socket shares the chat's store; `history` and `run` are unused.
    pub websocket: ch04_websocket::Config,
    /// How many rooms `/rooms/N/…` has, numbered from 1.
    pub rooms: usize,
    /// A `date` header to send instead of the clock's. Only tests set
    /// it: HPACK compresses the date (Huffman codes have different
    /// lengths, and a repeated date is sent as a table index), so with
    /// the clock's date the byte counts would change from run to run.
    pub fixed_date: Option<HeaderValue>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sse: ch03_sse::Config::default(),
            websocket: ch04_websocket::Config::default(),
            rooms: 8,
            fixed_date: None,
        }
    }
}

/// The second listener, for `https://`.
pub struct Tls {
    pub listener: TcpListener,
    pub acceptor: TlsAcceptor,
}

// ANCHOR: serve
/// Serves the chapter on `listener` (HTTP/1.1 and h2c) and, if given,
/// on `tls` (HTTPS, where ALPN picks `h2` or `http/1.1`), until
/// `shutdown` completes. Then it drains as chapter 3 does: streams end,
/// reconnects get `204` for `drain`, and then both listeners stop.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Tls>,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let store = chat::server::store(config.sse.history, config.sse.run.clone());
    let drain = Stop::new();
    let sockets = Sockets::new(config.websocket.max_connections);
    // Errors as JSON (chapter 1), a log line per request.
    let fixed_date = config.fixed_date.clone();
    let routes = routes(store, &config, drain.shutdown(), sockets.clone())
        .recover(chat::errors::recover)
        .unify()
        .map(move |response| with_date(response, &fixed_date))
        .with(warp::trace::request())
        .boxed();
    let stop = Stop::new();
    let stopping = stop.shutdown();
    let drain_for = config.sse.drain;
    let closing = sockets.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!(?drain_for, "draining: streams end, reconnects get 204");
        drain.now();
        // A socket on an HTTP/2 stream keeps that stream open, and a
        // graceful stop waits for open streams: close them first.
        closing.close_all();
        tokio::time::sleep(drain_for).await;
        stop.now();
        // Dropping `drain` ends any stream that is still open.
    });
    // The same accept loop as every chapter's, on each listener.
    let plain = chat::server::serve(listener, routes.clone(), stopping.stopped());
    let secure = async {
        if let Some(tls) = tls {
            let acceptor = tls.acceptor;
            let handshake =
                move |tcp, peer| tls_handshake(acceptor.clone(), tcp, peer);
            chat::server::serve_with(
                tls.listener,
                routes,
                stopping.stopped(),
                handshake,
            )
            .await;
        }
    };
    tokio::join!(plain, secure);
    // Each socket sends close 1001 and waits a moment for the reply.
    sockets.wait_closed(std::time::Duration::from_secs(5)).await;
}
// ANCHOR_END: serve

// ANCHOR: accept_loop
/// What `--tls-addr` does before HTTP: the TLS handshake, in which
/// ALPN agrees on `h2` or `http/1.1`. Then the connection is served as
/// a plain one: the accept loop and hyper-util's connection builder,
/// which speaks HTTP/1.1 or HTTP/2, whichever the client starts with,
/// are every chapter's (`chat::server::serve_with`).
async fn tls_handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Option<TlsStream<TcpStream>> {
    match acceptor.accept(tcp).await {
        Ok(stream) => {
            let alpn = stream.get_ref().1.alpn_protocol();
            let alpn = alpn.map(String::from_utf8_lossy);
            tracing::debug!(%peer, ?alpn, "TLS handshake done");
            Some(stream)
        }
        Err(e) => {
            tracing::debug!(%peer, "TLS handshake failed: {e}");
            None
        }
    }
}
// ANCHOR_END: accept_loop

// ANCHOR: routes
/// Chapter 3's routes, its page replaced by this chapter's, eight
/// rooms: `/rooms/N/events` and `/rooms/N/messages`, each its own chat,
/// and chapter 4's socket at `/ws`: `GET` with `Upgrade` on HTTP/1.1,
/// the extended `CONNECT` of RFC 8441 on HTTP/2.
pub fn routes(
    store: Store,
    config: &Config,
    draining: Shutdown,
    sockets: Sockets,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // One bound on open streams (`--max-connections`) for the chat
    // and all the rooms: a clone of the settings shares the count.
    let settings = ch03_sse::events::Settings::new(&config.sse, draining);
    // Every room's store has the main chat's run name: one run of the
    // server, whose name the event ids carry (chapter 3).
    let run = store.run();
    let mut rooms = room(1, &config.sse, &run, settings.clone());
    for n in 2..=config.rooms {
        rooms = rooms
            .or(room(n, &config.sse, &run, settings.clone()))
            .unify()
            .boxed();
    }
    // GET /, /limit.html, /limit.js, /protocol.js
    page(&store)
        .or(asset("limit.html", LIMIT_HTML, "text/html; charset=utf-8"))
        .unify()
        .or(asset(
            "limit.js",
            LIMIT_JS,
            "text/javascript; charset=utf-8",
        ))
        .unify()
        .or(asset(
            "protocol.js",
            PROTOCOL_JS,
            "text/javascript; charset=utf-8",
        ))
        .unify()
        .or(rooms)
        .unify()
        .or(websocket(&store, &config.websocket, sockets))
        .unify()
        .or(ch03_sse::routes(store, settings))
        .unify()
}

/// `/ws`: one socket route for each version of HTTP.
fn websocket(
    store: &Store,
    config: &ch04_websocket::Config,
    sockets: Sockets,
) -> BoxedFilter<(Response,)> {
    let over_h1 =
        handshake::websocket(store.clone(), config.clone(), sockets.clone());
    let over_h2 =
        handshake::websocket_over_h2(store.clone(), config.clone(), sockets);
    over_h2.or(over_h1).unify().boxed()
}

/// The test's fixed `date`, if it set one (see [`Config::fixed_date`]).
fn with_date(mut response: Response, date: &Option<HeaderValue>) -> Response {
    if let Some(date) = date {
        response.headers_mut().insert(header::DATE, date.clone());
    }
    response
}
// ANCHOR_END: routes

/// One room: chapter 3's event stream and the chat's message routes,
/// on a store of its own, under `/rooms/N/`.
fn room(
    n: usize,
    sse: &ch03_sse::Config,
    run: &chat::Run,
    settings: ch03_sse::events::Settings,
) -> BoxedFilter<(Response,)> {
    let store = Store::with_run(sse.history, run.clone());
    warp::path("rooms")
        .and(warp::path(n.to_string()))
        .and(
            ch03_sse::events::events(store.clone(), settings)
                .or(chat::routes::routes(store))
                .unify(),
        )
        .boxed()
}

const INDEX_HTML: &str = include_str!("../static/index.html");
const LIMIT_HTML: &str = include_str!("../static/limit.html");
const LIMIT_JS: &str = include_str!("../static/limit.js");
const PROTOCOL_JS: &str = include_str!("../static/protocol.js");

// GET /
fn page(
    store: &Store,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    chat::assets::page(INDEX_HTML, store)
}
