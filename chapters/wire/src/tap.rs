//! The tap: a TCP relay that records every byte it passes on.
//!
//! ```text
//! client ──▶ tap (127.0.0.1:any) ──▶ server
//!        ◀──                     ◀──
//! ```
//!
//! The tap writes an event down *before* it passes the bytes on. So
//! when a client has read an answer, the answer is already in the
//! recording, and a test that goes step by step records the same
//! events in the same order every run.
//!
//! The tap knows only the recording ([`crate::record`]): it writes
//! bytes down, and leaves decoding and rendering to the layers above.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use crate::record::{bytes_in, Event, EventKind};
use crate::record::{listing, Dir};

/// A running tap. Dropping it stops the tap and all its connections.
///
/// It derefs to its [`Recording`]: `tap.events()`, `tap.hold(…)`.
pub struct Tap {
    addr: SocketAddr,
    upstream: SocketAddr,
    recording: Recording,
    task: JoinHandle<()>,
}

/// What a tap has recorded so far. Cloning it is cheap; clients keep
/// a clone to wait for their own bytes to be recorded.
#[derive(Clone)]
pub struct Recording {
    shared: Arc<Shared>,
}

impl std::ops::Deref for Tap {
    type Target = Recording;
    fn deref(&self) -> &Recording {
        &self.recording
    }
}

struct Shared {
    events: Mutex<Vec<Event>>,
    /// Gates that a test closes to hold bytes back (see [`Recording::hold`]).
    gates: Mutex<HashMap<(usize, Dir), watch::Sender<bool>>>,
    /// The number of events so far; waiters watch it grow.
    count: watch::Sender<usize>,
    /// A copy of each event, for a live display.
    live: Option<mpsc::UnboundedSender<Event>>,
    /// False for a tap that only shows events live ([`Tap::live`]):
    /// it runs for hours, and a recording would only grow.
    keep: bool,
    /// Connections a test has cut; set under the `events` lock.
    cut: Mutex<HashMap<usize, watch::Sender<bool>>>,
}

impl Shared {
    /// The gate of one direction of one connection: open (`true`)
    /// unless a test holds it.
    fn gate(&self, conn: usize, dir: Dir) -> watch::Sender<bool> {
        let mut gates = self.gates.lock().unwrap();
        let gate = gates
            .entry((conn, dir))
            .or_insert_with(|| watch::Sender::new(true));
        gate.clone()
    }

    fn record(&self, conn: usize, kind: EventKind) {
        self.record_unless_cut(conn, kind);
    }

    /// Records the event, unless `conn` was cut: then nothing more
    /// happens on it, and this returns false.
    fn record_unless_cut(&self, conn: usize, kind: EventKind) -> bool {
        let event = Event { conn, kind };
        let mut events = self.events.lock().unwrap();
        if *self.cut_signal(conn).borrow() {
            return false;
        }
        if event.kind == EventKind::Cut {
            self.cut_signal(conn).send_replace(true);
        }
        if let Some(live) = &self.live {
            let _ = live.send(event.clone());
        }
        if self.keep {
            events.push(event);
        }
        self.count.send_modify(|count| *count += 1);
        true
    }

    /// `true` once a test has cut `conn`.
    fn cut_signal(&self, conn: usize) -> watch::Sender<bool> {
        let mut cut = self.cut.lock().unwrap();
        let signal = cut.entry(conn).or_insert_with(|| watch::Sender::new(false));
        signal.clone()
    }
}

impl Tap {
    /// Starts a tap on `127.0.0.1` (a free port) in front of `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Tap> {
        Tap::start_on("127.0.0.1:0".parse().unwrap(), upstream, None).await
    }

    /// Starts a tap on `listen` in front of `upstream`; if `live` is
    /// given, every event is also sent there as it happens.
    pub async fn start_on(
        listen: SocketAddr,
        upstream: SocketAddr,
        live: Option<mpsc::UnboundedSender<Event>>,
    ) -> std::io::Result<Tap> {
        let listener = TcpListener::bind(listen).await?;
        Tap::spawn(listener, upstream, live, true)
    }

    /// Starts a tap on `listener`, already bound, that keeps no
    /// recording: every event goes to `live` as it happens, and
    /// nowhere else. For a display that runs for hours, such as the
    /// book's live panels, where a recording would only grow.
    pub fn live(
        listener: TcpListener,
        upstream: SocketAddr,
        live: mpsc::UnboundedSender<Event>,
    ) -> std::io::Result<Tap> {
        Tap::spawn(listener, upstream, Some(live), false)
    }

    fn spawn(
        listener: TcpListener,
        upstream: SocketAddr,
        live: Option<mpsc::UnboundedSender<Event>>,
        keep: bool,
    ) -> std::io::Result<Tap> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            events: Mutex::new(Vec::new()),
            gates: Mutex::new(HashMap::new()),
            count: watch::Sender::new(0),
            live,
            keep,
            cut: Mutex::new(HashMap::new()),
        });
        let task = tokio::spawn(accept_loop(listener, upstream, shared.clone()));
        Ok(Tap {
            addr,
            upstream,
            recording: Recording { shared },
            task,
        })
    }

    /// Where clients connect to be recorded.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server the tap passes bytes on to.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }
}

impl Recording {
    /// A copy of everything recorded so far, in order.
    pub fn events(&self) -> Vec<Event> {
        self.shared.events.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the recording. Panics after
    /// `timeout` with `what`: a bound for a test that would hang, not
    /// a measure of speed.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&[Event]) -> bool,
    ) {
        let mut count = self.shared.count.subscribe();
        let waiting = async {
            loop {
                if done(&self.shared.events.lock().unwrap()) {
                    return;
                }
                if count.changed().await.is_err() {
                    return;
                }
            }
        };
        if tokio::time::timeout(timeout, waiting).await.is_err() {
            panic!(
                "the tap waited {timeout:?} for {what}; recorded so far:\n{}",
                listing(&self.events())
            );
        }
    }

    /// Stops passing on (and recording) bytes that go `dir` on `conn`
    /// until [`Recording::release`]. They wait in the socket meanwhile.
    ///
    /// When a server writes to two connections at once (a POST on one
    /// wakes a waiting request on another), the order in which the tap
    /// reads them is up to the scheduler. Holding one of them lets a
    /// test fix that order, so its transcript is the same every run.
    pub fn hold(&self, conn: usize, dir: Dir) {
        self.shared.gate(conn, dir).send_replace(false);
    }

    /// Cuts connection `conn` both ways at once, as a broken network
    /// or a crashed proxy would: bytes in flight are dropped, and each
    /// side sees its connection end. The recording shows a `Cut`, and
    /// nothing after it on `conn`.
    pub fn cut(&self, conn: usize) {
        self.shared.record_unless_cut(conn, EventKind::Cut);
    }

    /// Lets bytes held by [`Recording::hold`] through again.
    pub fn release(&self, conn: usize, dir: Dir) {
        self.shared.gate(conn, dir).send_replace(true);
    }

    /// Bytes recorded so far going `dir` on `conn`.
    pub fn bytes(&self, conn: usize, dir: Dir) -> usize {
        bytes_in(&self.shared.events.lock().unwrap(), conn, dir)
    }

    /// The connection number of the client at `client`, once the tap
    /// has accepted it.
    pub async fn conn_of(&self, client: SocketAddr) -> usize {
        let what = format!("the connection from {client}");
        let mut conn = 0;
        self.wait_until(&what, Duration::from_secs(10), |events| {
            events.iter().any(|e| match e.kind {
                EventKind::Open { client: c } if c == client => {
                    conn = e.conn;
                    true
                }
                _ => false,
            })
        })
        .await;
        conn
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts
        // every connection it relays.
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    shared: Arc<Shared>,
) {
    let mut conns = tokio::task::JoinSet::new();
    let mut next = 1;
    // After a failed accept (out of file descriptors, most often),
    // trying again at once fails again at once, and the loop would
    // spin. So it waits: 10 ms, twice as long after each failure in a
    // row, at most 1 s. The chapters' servers do the same
    // (`chat::server::accept`); the tap does not depend on them.
    let first_pause = Duration::from_millis(10);
    let mut pause = first_pause;
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("tap: accept failed: {e}; trying again in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        pause = first_pause;
        let conn = next;
        next += 1;
        shared.record(conn, EventKind::Open { client: peer });
        let shared = shared.clone();
        conns.spawn(async move {
            match TcpStream::connect(upstream).await {
                Ok(server) => relay(conn, client, server, shared).await,
                Err(e) => {
                    tracing::warn!("tap: cannot reach {upstream}: {e}");
                    shared.record(conn, EventKind::Close { dir: Dir::ToClient });
                }
            }
        });
        // Forget the connections that have ended.
        while conns.try_join_next().is_some() {}
    }
}

async fn relay(
    conn: usize,
    client: TcpStream,
    server: TcpStream,
    shared: Arc<Shared>,
) {
    // Small writes must go out at once, as the endpoints wrote them.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = copy(
        conn,
        Dir::ToServer,
        client_read,
        server_write,
        shared.clone(),
    );
    let down = copy(conn, Dir::ToClient, server_read, client_write, shared);
    tokio::join!(up, down);
}

/// Passes bytes one way, recording each read before writing it on.
async fn copy(
    conn: usize,
    dir: Dir,
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    shared: Arc<Shared>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut gate = shared.gate(conn, dir).subscribe();
    let mut cut = shared.cut_signal(conn).subscribe();
    loop {
        // While a test holds this direction, read nothing.
        tokio::select! {
            open = gate.wait_for(|open| *open) => if open.is_err() { break },
            _ = cut.wait_for(|cut| *cut) => return,
        }
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            // Held while waiting for bytes: stop waiting (a read that
            // has not completed takes no bytes, so none are lost).
            _ = gate.wait_for(|open| !*open) => continue,
            // Cut: drop both sockets without a word.
            _ = cut.wait_for(|cut| *cut) => return,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let bytes = buf[..n].to_vec();
                let kind = EventKind::Data { dir, bytes };
                if !shared.record_unless_cut(conn, kind) {
                    return;
                }
                tokio::select! {
                    written = to.write_all(&buf[..n]) => {
                        if written.is_err() {
                            break;
                        }
                    }
                    _ = cut.wait_for(|cut| *cut) => return,
                }
            }
        }
    }
    // Record the close first, then pass it on (a TCP FIN), so the
    // other side sees it only once it is in the recording.
    shared.record(conn, EventKind::Close { dir });
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cut ends the connection for both sides, and nothing that
    /// either side sends afterwards is recorded.
    #[tokio::test]
    async fn a_cut_drops_the_connection_both_ways() {
        let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tap = Tap::start(server.local_addr().unwrap()).await.unwrap();
        let mut client = TcpStream::connect(tap.addr()).await.unwrap();
        let (mut upstream, _) = server.accept().await.unwrap();
        upstream.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 16];
        let n = client.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");

        tap.cut(1);
        let limit = Duration::from_secs(10);
        let eof = tokio::time::timeout(limit, client.read(&mut buf)).await;
        assert_eq!(eof.unwrap().unwrap(), 0, "the client sees the end");
        let eof = tokio::time::timeout(limit, upstream.read(&mut buf)).await;
        assert_eq!(eof.unwrap().unwrap(), 0, "the server sees the end");
        // Too late: the tap no longer passes or records anything.
        let _ = upstream.write_all(b"lost").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let events = tap.events();
        assert_eq!(events.last().unwrap().kind, EventKind::Cut);
        let cuts = events.iter().filter(|e| e.kind == EventKind::Cut).count();
        assert_eq!(cuts, 1);
        tap.cut(1); // a second cut changes nothing
        assert_eq!(tap.events(), events);
    }

    /// A live tap passes each event on as it happens, and keeps none:
    /// it may run for hours.
    #[tokio::test]
    async fn a_live_tap_sends_every_event_and_keeps_none() {
        let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (live, mut events) = mpsc::unbounded_channel();
        let upstream_addr = server.local_addr().unwrap();
        let tap = Tap::live(listener, upstream_addr, live).unwrap();
        let mut client = TcpStream::connect(tap.addr()).await.unwrap();
        let (mut upstream, _) = server.accept().await.unwrap();
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        upstream.read_exact(&mut buf).await.unwrap();
        let open = events.recv().await.unwrap();
        assert!(matches!(open.kind, EventKind::Open { .. }), "{open:?}");
        let data = events.recv().await.unwrap();
        let bytes = b"ping".to_vec();
        let dir = Dir::ToServer;
        assert_eq!(data.kind, EventKind::Data { dir, bytes });
        assert_eq!(tap.events(), Vec::new());
    }
}
