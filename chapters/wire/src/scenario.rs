//! A chapter's server behind a tap, driven step by step by a test.
//!
//! ```ignore
//! let s = Scenario::start("127.0.0.1:3001", |listener, shutdown| {
//!     ch01_polling::serve(listener, Config::default(), shutdown)
//! })
//! .await;
//! let mut c1 = s.connect().await;
//! let r = c1.send(Request::get("/messages?after=0")).await;
//! insta::assert_snapshot!("empty_poll", s.transcript().text());
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

// A scenario is for tests only (the `testing` feature); a server on a
// free port is also what chapter 6 measures.
#[cfg(feature = "testing")]
use crate::{client::Client, tap::Tap, transcript::Transcript};

/// A server started on `127.0.0.1:0` the way every chapter starts:
/// `serve(listener, shutdown)` (the mini-redis shape). Dropping it
/// asks the server to stop.
pub struct TestServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Binds a free port on 127.0.0.1 and spawns `serve` on it.
    pub async fn start<F, Fut>(serve: F) -> TestServer
    where
        F: FnOnce(TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        TestServer::spawn(listener, serve)
    }

    /// Binds `addr` again, where a stopped server listened: a restart.
    /// The port can take a moment to be free, so binding is retried
    /// for up to five seconds.
    pub async fn start_at<F, Fut>(addr: SocketAddr, serve: F) -> TestServer
    where
        F: FnOnce(TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        assert!(addr.ip().is_loopback(), "tests listen on loopback only");
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(e) if tries < 50 => {
                    tries += 1;
                    tracing::debug!("bind {addr} again: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot bind {addr} again: {e}"),
            }
        };
        TestServer::spawn(listener, serve)
    }

    fn spawn<F, Fut>(listener: TcpListener, serve: F) -> TestServer
    where
        F: FnOnce(TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let shutdown = Shutdown(stopped);
        let task = tokio::spawn(serve(listener, shutdown));
        TestServer {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends the shutdown signal and waits (at most `limit`) for the
    /// server to finish. Returns whether it did.
    pub async fn stop(mut self, limit: Duration) -> bool {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().unwrap();
        tokio::time::timeout(limit, task).await.is_ok()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The shutdown signal a test hands to `serve`: it completes when the
/// test stops the server (or drops it).
pub struct Shutdown(oneshot::Receiver<()>);

impl Future for Shutdown {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

/// A server, a tap in front of it, and the clients of one story.
#[cfg(feature = "testing")]
pub struct Scenario {
    pub server: TestServer,
    pub tap: Tap,
    host: String,
}

#[cfg(feature = "testing")]
impl Scenario {
    /// Starts the server and the tap. `host` is what clients write in
    /// their `host` header: the chapter's own address, as a reader's
    /// curl would write it, so transcripts match the book's commands.
    pub async fn start<F, Fut>(host: &str, serve: F) -> Scenario
    where
        F: FnOnce(TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let server = TestServer::start(serve).await;
        let tap = Tap::start(server.addr()).await.expect("start the tap");
        Scenario {
            server,
            tap,
            host: host.into(),
        }
    }

    /// A new connection through the tap: `C1`, then `C2`, …
    pub async fn connect(&self) -> Client {
        Client::connect(&self.tap, &self.host).await
    }

    /// Everything recorded so far, decoded, ports and dates replaced.
    pub fn transcript(&self) -> Transcript {
        let ports = [self.tap.addr().port(), self.server.addr().port()];
        Transcript::new(&self.tap.events(), &ports)
    }
}

/// True when the bytes sent to `conn` so far end with a whole chunk of
/// an event stream (its data ends in LF, then the chunk's CR LF). A
/// test that goes on before this could see the chunk's last bytes
/// recorded after its next step, and the transcript would change.
pub fn at_chunk_end(events: &[crate::record::Event], conn: usize) -> bool {
    use crate::record::{Dir, EventKind};
    let mut tail: Vec<u8> = Vec::new();
    for event in events.iter().filter(|e| e.conn == conn) {
        if let EventKind::Data {
            dir: Dir::ToClient,
            bytes,
        } = &event.kind
        {
            tail.extend_from_slice(bytes);
            let keep = tail.len().saturating_sub(3);
            tail.drain(..keep);
        }
    }
    tail.ends_with(b"\n\r\n")
}

/// Waits (at most `patience`) until the event stream on `conn` has
/// dispatched `n` events and ended its chunk, and returns them. More
/// than `n` fails: the story went on without the test.
pub async fn wait_events(
    tap: &crate::tap::Recording,
    conn: usize,
    n: usize,
    patience: Duration,
) -> Vec<crate::sse::Event> {
    let what = format!("{n} events on C{conn}");
    tap.wait_until(&what, patience, |events| {
        crate::sse::events_in(events, conn).len() >= n && at_chunk_end(events, conn)
    })
    .await;
    let events = crate::sse::events_in(&tap.events(), conn);
    assert_eq!(events.len(), n, "more events than expected: {events:?}");
    events
}

/// Waits (at most `patience`) until the event stream on `conn` has
/// sent its `retry:` line, at the end of a chunk.
pub async fn wait_retry(
    tap: &crate::tap::Recording,
    conn: usize,
    patience: Duration,
) {
    let what = format!("retry on C{conn}");
    tap.wait_until(&what, patience, |events| {
        let outputs = crate::sse::outputs_in(events, conn);
        let retry = outputs
            .iter()
            .any(|o| matches!(o, crate::sse::Output::Retry(_)));
        retry && at_chunk_end(events, conn)
    })
    .await;
}
