//! Chapter 5: chapter 3's chat, over HTTP/1.1, h2c and HTTPS.
//!
//! Nothing in the routes changes: the event streams of chapter 3 are
//! served as they are. What changes is the connection under them. Over
//! HTTP/1.1, one stream takes one TCP connection for as long as it
//! lasts. Over HTTP/2, many streams share one connection (RFC 9113
//! §5): each request is a stream with its own id, and the frames of
//! all streams interleave on the wire.
//!
//! - [`serve`]: one accept loop per listener, one connection builder
//!   that speaks HTTP/1.1 or HTTP/2, whichever the client starts with.
//! - [`tls`]: the certificate, and ALPN, which agrees on `h2`.
//! - [`routes`]: chapter 3's routes, plus eight rooms for the page
//!   that shows the browser's connection limit.

pub mod tls;

use std::future::Future;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use warp::filters::BoxedFilter;
use warp::http::{header, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use chat::assets::asset;
use chat::Store;

/// What the server needs to know: the flags of `main.rs`.
#[derive(Clone, Debug)]
pub struct Config {
    /// Chapter 3's settings: history, heartbeat, retry, drain.
    pub sse: ch03_sse::Config,
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
    let (drain, draining) = watch::channel(false);
    // Errors as JSON (chapter 1), a log line per request.
    let fixed_date = config.fixed_date.clone();
    let routes = routes(store, &config, draining)
        .recover(chat::errors::recover)
        .unify()
        .map(move |response| with_date(response, &fixed_date))
        .with(warp::trace::request())
        .boxed();
    let (stop, stopping) = watch::channel(false);
    let drain_for = config.sse.drain;
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!(?drain_for, "draining: streams end, reconnects get 204");
        drain.send_replace(true);
        tokio::time::sleep(drain_for).await;
        stop.send_replace(true);
        // Dropping `drain` ends any stream that is still open.
    });
    let plain = accept_loop(listener, None, routes.clone(), stopping.clone());
    let secure = async {
        if let Some(tls) = tls {
            let acceptor = Some(tls.acceptor);
            accept_loop(tls.listener, acceptor, routes, stopping).await;
        }
    };
    tokio::join!(plain, secure);
}
// ANCHOR_END: serve

// ANCHOR: accept_loop
/// Accepts connections until `stopping`, then waits for the open ones
/// to finish. Each connection gets the same routes, whatever it speaks.
async fn accept_loop<R: Reply + 'static>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    routes: BoxedFilter<(R,)>,
    mut stopping: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopping.wait_for(|stop| *stop) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, most often: wait a moment
                // rather than spin, and let connections close.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(warp::service(routes.clone()));
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            // auto::Builder reads the first bytes: the HTTP/2 preface
            // means HTTP/2 (h2c by prior knowledge, RFC 9113 §3.3, or
            // h2 after ALPN); anything else is HTTP/1.1.
            let builder = auto::Builder::new(TokioExecutor::new());
            let served = match tls {
                None => {
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(tcp), service);
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(stream) => {
                        let alpn = stream.get_ref().1.alpn_protocol();
                        let alpn = alpn.map(String::from_utf8_lossy);
                        tracing::debug!(%peer, ?alpn, "TLS handshake done");
                        let io = TokioIo::new(stream);
                        let conn =
                            builder.serve_connection_with_upgrades(io, service);
                        watcher.watch(conn.into_owned()).await
                    }
                    Err(e) => {
                        tracing::debug!(%peer, "TLS handshake failed: {e}");
                        return;
                    }
                },
            };
            if let Err(e) = served {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
    // Close the listener, tell every connection to finish (HTTP/2:
    // GOAWAY, RFC 9113 §6.8), and wait until they have.
    drop(listener);
    graceful.shutdown().await;
}
// ANCHOR_END: accept_loop

// ANCHOR: routes
/// Chapter 3's routes, its page replaced by this chapter's, and eight
/// rooms: `/rooms/N/events` and `/rooms/N/messages`, each its own chat.
pub fn routes(
    store: Store,
    config: &Config,
    draining: watch::Receiver<bool>,
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
        .or(ch03_sse::routes(store, settings))
        .unify()
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
