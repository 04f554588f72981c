//! What every chapter binary does around its routes: flags, logs,
//! the `listening on` line and a graceful stop (SPEC.md §2).

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;

use tokio::net::TcpListener;

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
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        format!(
            "cannot listen on {addr}: {e}\n\
             hint: is another server using this port? \
             Try --addr 127.0.0.1:0 for a free port."
        )
    })?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout().lock();
    // Flush now: a script that starts the server waits for this line.
    let _ = writeln!(stdout, "listening on http://{local}");
    let _ = stdout.flush();
    Ok(listener)
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
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What every chapter's `main` does around its `serve`: logs to
/// stderr, the stop signal, bind and print `listening on …`, then
/// serve until Ctrl-C or SIGTERM. A bind error is printed, and the
/// process exits with a failure.
pub async fn run<F, Fut>(addr: SocketAddr, serve: F) -> ExitCode
where
    F: FnOnce(TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = ()>,
{
    init_tracing();
    // Before `bind` prints its line: see `shutdown_signal`.
    let shutdown: Shutdown = Box::pin(shutdown_signal());
    let listener = match bind(addr).await {
        Ok(listener) => listener,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::FAILURE;
        }
    };
    serve(listener, shutdown).await;
    ExitCode::SUCCESS
}

/// The store of one run: named `run`, or a random name when `None`
/// (a real start). The name is logged: a reader can match it with
/// the `run=` of the requests that arrive.
pub fn store(history: usize, run: Option<crate::Run>) -> crate::Store {
    let store =
        crate::Store::with_run(history, run.unwrap_or_else(crate::Run::random));
    tracing::info!(run = %store.run(), history, "a new run begins");
    store
}
