//! What every chapter binary does around its routes: logs, the
//! `listening on` line, the accept loop and a graceful stop, as the
//! introduction ("Run a chapter") tells a reader to expect: one line
//! on stdout, logs on stderr, Ctrl-C to stop.
//!
//! - [`run`]: what a chapter's `main` calls. It logs to stderr
//!   ([`init_tracing`]), listens for Ctrl-C and SIGTERM
//!   ([`shutdown_signal`]), binds and prints the `listening on` line
//!   ([`bind`]), and hands the listener to the chapter's `serve`.
//! - [`serve`] and [`serve_with`]: the one accept loop, for warp's
//!   routes over plain TCP, and over TLS in chapter 5. [`accept`] is
//!   the loop itself, with its back-off on errors.
//! - [`Stop`] and [`Shutdown`]: the stop that every stream, parked
//!   request and socket of a server shares.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::Instrument;
use warp::{Filter, Reply};

/// Logs go to stderr, filtered by `RUST_LOG` (default: `info`), so
/// stdout holds only the `listening on` line.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Binds `addr` and prints `listening on http://HOST:PORT` with the
/// real port (port 0 asks the system for a free one).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    let listener = bind_quietly(addr, "--addr").await?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    announce(&[format!("listening on http://{local}")]);
    Ok(listener)
}

/// Binds `addr`, the value of `flag`, and prints nothing: for a second
/// listener, whose line the chapter prints itself (chapter 5's
/// `https://`). A busy port gets the same clear error as [`bind`].
pub async fn bind_quietly(
    addr: SocketAddr,
    flag: &str,
) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|e| {
        format!(
            "cannot listen on {addr}: {e}\n\
             hint: is another server using this port? \
             Try {flag} 127.0.0.1:0 for a free port."
        )
    })
}

/// Prints `lines` on stdout, and flushes them now: a script that
/// starts the server waits for them.
pub fn announce(lines: &[String]) {
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(stdout, "{line}");
    }
    let _ = stdout.flush();
}

/// Completes on Ctrl-C or SIGTERM: the signal to stop gracefully.
///
/// Call it BEFORE [`bind`]: the handlers are installed by this call,
/// not when the future is first polled. A script that sends SIGTERM
/// right after the `listening on` line would otherwise kill the
/// process (the default action) instead of stopping it gracefully.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            let (Ok(mut term), Ok(mut int)) = (term, int) else {
                // No handlers: wait forever, as there is no signal to
                // wait for.
                tracing::warn!("cannot listen for Ctrl-C and SIGTERM");
                return std::future::pending().await;
            };
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            tracing::info!("shutting down");
        }
    }
    #[cfg(not(unix))]
    {
        async move {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        }
    }
}

/// The stop signal, as [`run`] hands it to a chapter's `serve`.
pub type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How a chapter's `serve` may end, for [`run`]: `()`, as it cannot
/// fail once its listener is bound, or `Err(why)` when it has more to
/// set up first (chapter 5's second listener).
pub trait Served {
    fn into_result(self) -> Result<(), String>;
}

impl Served for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl Served for Result<(), String> {
    fn into_result(self) -> Result<(), String> {
        self
    }
}

/// What every chapter's `main` does around its `serve`: logs to
/// stderr, the stop signal, bind and print `listening on …`, then
/// serve until Ctrl-C or SIGTERM. A bind error (or an error of
/// `serve`) is printed, and the process exits with a failure.
pub async fn run<F, Fut>(addr: SocketAddr, serve: F) -> ExitCode
where
    F: FnOnce(TcpListener, Signal) -> Fut,
    Fut: Future,
    Fut::Output: Served,
{
    init_tracing();
    // Before `bind` prints its line: see `shutdown_signal`.
    let shutdown: Signal = Box::pin(shutdown_signal());
    let listener = match bind(addr).await {
        Ok(listener) => listener,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::FAILURE;
        }
    };
    match serve(listener, shutdown).await.into_result() {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("error: {why}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: shutdown
/// Starts a server's stop: [`Stop::now`]. Dropping it (its last
/// clone) stops too, so a stream cannot outlive the server that owned
/// it. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct Stop(watch::Sender<bool>);

/// A server's stop, as the parts that must act on it see it: the
/// streams that end, the parked requests that answer, the sockets
/// that close. Cloning shares it; each clone learns of the stop.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    /// A [`Shutdown`] that learns of this stop, even if it began
    /// before the call.
    pub fn shutdown(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }

    /// Begins the stop, for every [`Shutdown`] made from this one.
    pub fn now(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Whether the stop has begun: a new request is then refused at
    /// once, rather than opened and ended.
    pub fn is_stopping(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once the stop has begun, or its [`Stop`] is gone
    /// (then the server has stopped). The future owns what it needs,
    /// so a task can keep it, or `select!` on it in a loop.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut stopping = self.0.clone();
        async move {
            // An error means the `Stop` is gone: stopped all the same.
            let _ = stopping.wait_for(|stopping| *stopping).await;
        }
    }
}
// ANCHOR_END: shutdown

/// Serves warp's `routes` on `listener` until `shutdown` completes.
/// Then it stops taking connections and lets the requests in flight
/// finish.
///
/// warp's own `serve` does the same with an accept loop of its own.
/// This one is the chapters' own, so that chapter 5, which must add
/// TLS, runs the very loop that the other chapters run.
pub async fn serve<F, R>(
    listener: TcpListener,
    routes: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    F: Filter<Extract = (R,)> + Clone + Send + Sync + 'static,
    R: Reply,
{
    let plain = |tcp: TcpStream, _peer| std::future::ready(Some(tcp));
    serve_with(listener, routes, shutdown, plain).await;
}

// ANCHOR: serve_with
/// [`serve`], with a step before HTTP: `handshake` turns each new
/// connection into the stream that HTTP is read from (chapter 5's TLS),
/// or into `None` to drop it. Each connection gets the same routes,
/// whatever it speaks.
pub async fn serve_with<F, R, H, Fut, Io>(
    listener: TcpListener,
    routes: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
    handshake: H,
) where
    F: Filter<Extract = (R,)> + Clone + Send + Sync + 'static,
    R: Reply,
    H: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = Option<Io>> + Send + 'static,
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    accept(&listener, shutdown, |tcp, peer| {
        let service = TowerToHyperService::new(warp::service(routes.clone()));
        let watcher = graceful.watcher();
        let handshake = handshake(tcp, peer);
        let connection = async move {
            let Some(io) = handshake.await else { return };
            // auto::Builder reads the first bytes: the HTTP/2 preface
            // means HTTP/2 (h2c by prior knowledge, RFC 9113 §3.3, or
            // h2 after ALPN); anything else is HTTP/1.1.
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // What a client may send before the server reads it (RFC
            // 9113 §6.9). The connection's window is larger than a
            // stream's: a request body that no handler reads fills its
            // own stream's window, and the other streams still have
            // room (chapter 5, "Flow control").
            builder
                .http2()
                .initial_stream_window_size(256 * 1024)
                .initial_connection_window_size(1024 * 1024)
                // SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3): a
                // client may open a WebSocket as one stream of this
                // connection, with an extended CONNECT (chapter 5).
                // Without it, a browser opens a second TCP connection
                // for the socket, over HTTP/1.1.
                .enable_connect_protocol();
            let conn =
                builder.serve_connection_with_upgrades(TokioIo::new(io), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!("connection ended: {e}");
            }
        };
        // Every log line of this connection's requests names its peer.
        let span = tracing::info_span!("connection", %peer);
        tokio::spawn(connection.instrument(span));
    })
    .await;
    // Close the listener, tell every connection to finish (HTTP/1.1:
    // close after the response in flight; HTTP/2: GOAWAY, RFC 9113
    // §6.8), and wait until they have.
    drop(listener);
    graceful.shutdown().await;
}
// ANCHOR_END: serve_with

// ANCHOR: accept
/// The pause after a failed accept: the first one, and the longest.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// See [`FIRST_PAUSE`].
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// Accepts connections on `listener` until `shutdown` completes, and
/// hands each to `connection`.
///
/// An accept can fail, most often because the process is out of file
/// descriptors (EMFILE). Trying again at once fails again at once: the
/// loop would spin and take a core, while the connections that could
/// free a descriptor wait for CPU. So it waits, 10 ms at first, twice
/// as long after each failure in a row up to 1 s, and goes on.
pub async fn accept<C>(
    listener: &TcpListener,
    shutdown: impl Future<Output = ()>,
    mut connection: C,
) where
    C: FnMut(TcpStream, SocketAddr),
{
    tokio::pin!(shutdown);
    let mut pause = FIRST_PAUSE;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => return,
        };
        match accepted {
            Ok((tcp, peer)) => {
                pause = FIRST_PAUSE;
                connection(tcp, peer);
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}; trying again in {pause:?}");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = &mut shutdown => return,
                }
                pause = longer(pause);
            }
        }
    }
}

/// The pause after one more failure in a row: twice as long, at most
/// [`LONGEST_PAUSE`].
fn longer(pause: Duration) -> Duration {
    (pause * 2).min(LONGEST_PAUSE)
}
// ANCHOR_END: accept

/// The store of one run: named `run`, or a random name when `None`
/// (a real start). The name is logged: a reader can match it with
/// the `run=` of the requests that arrive.
pub fn store(history: usize, run: Option<crate::Run>) -> crate::Store {
    let store =
        crate::Store::with_run(history, run.unwrap_or_else(crate::Run::random));
    tracing::info!(run = %store.run(), history, "a new run begins");
    store
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_shutdown_learns_of_the_stop() {
        let stop = Stop::new();
        let early = stop.shutdown();
        assert!(!early.is_stopping());
        let waiting = tokio::spawn(early.stopped());
        stop.now();
        // Made after the stop began: it has begun for this one too.
        let late = stop.shutdown();
        assert!(early.is_stopping() && late.is_stopping());
        late.stopped().await;
        waiting.await.unwrap();
    }

    #[tokio::test]
    async fn a_dropped_stop_counts_as_stopped() {
        let stop = Stop::new();
        let shutdown = stop.shutdown();
        drop(stop);
        shutdown.stopped().await;
    }

    #[test]
    fn failed_accepts_wait_longer_and_longer_up_to_a_second() {
        let pauses: Vec<u128> =
            std::iter::successors(Some(FIRST_PAUSE), |p| Some(longer(*p)))
                .take(9)
                .map(|pause| pause.as_millis())
                .collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    }

    #[tokio::test]
    async fn accept_stops_on_the_signal() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Stop::new();
        let mut peers = Vec::new();
        let serving = accept(&listener, stop.shutdown().stopped(), |_, peer| {
            peers.push(peer);
            stop.now();
        });
        let client = TcpStream::connect(addr).await.unwrap();
        serving.await;
        assert_eq!(peers, [client.local_addr().unwrap()]);
    }
}
