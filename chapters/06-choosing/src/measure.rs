//! The three runs, the same for every technique.
//!
//! 1. [`wire`]: a chat at human pace. A few readers, through the `wire`
//!    tap, one message every `gap`: bytes, requests, connections and
//!    delivery time per delivered message.
//! 2. [`fan_out`]: many readers, messages one at a time as fast as all
//!    readers take them: messages per second and server CPU time.
//! 3. [`idle`]: many readers, no messages: server memory per reader.
//! 4. [`burst`]: many readers, many messages posted back to back:
//!    how long the last reader waits.
//!
//! Runs 2, 3 and 4 start the server as a child process (this binary's
//! `serve` command), so that its CPU time and memory are its own and
//! not mixed with the clients'. Run 1 starts it in this process, with
//! the tap in front, as the chapters' tests do.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{timeout, Instant};
use wire::{Dir, EventKind, Tap, TestServer, Transcript};

use crate::clients::{self, Plan, Receipt};
use crate::machine;
use crate::technique::{Poster, Technique};

/// How big each run is.
#[derive(Clone, Debug)]
pub struct Sizes {
    /// Run 1: readers, messages, and the time between two messages.
    pub clients: usize,
    pub messages: usize,
    pub gap: Duration,
    /// Run 2: readers, the most rounds, and the longest it may take.
    pub fan_out_clients: usize,
    pub rounds: usize,
    pub fan_out_time: Duration,
    /// How many times each technique's fan-out runs.
    pub repeats: usize,
    /// Run 4: how many messages are posted back to back, to
    /// `fan_out_clients` readers.
    pub burst: usize,
    /// Run 3: the numbers of idle readers.
    pub idle: Vec<usize>,
    /// How often a polling client polls.
    pub interval: Duration,
}

/// A message as the text of its posts: a short sentence of chat.
fn text_of(i: usize) -> String {
    format!("message {i:>4}: a line of chat, about as long as a short sentence")
}

/// Latency percentiles, in microseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Latency {
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

fn latency_of(histogram: &Histogram<u64>) -> Latency {
    Latency {
        p50: histogram.value_at_quantile(0.50),
        p99: histogram.value_at_quantile(0.99),
        max: histogram.max(),
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 10 minutes, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds")
}

/// Run 1, per technique. Byte counts are per delivered message.
#[derive(Clone, Debug)]
pub struct WireRow {
    pub technique: Technique,
    pub delivered: u64,
    pub expected: u64,
    /// Server → client: all bytes, and the message JSON in them.
    pub down: f64,
    pub payload: f64,
    /// Client → server: all bytes.
    pub up: f64,
    // ANCHOR: floor_of
    /// The least overhead the protocol allows, each way (see
    /// [`floor_of`]).
    pub floor_down: f64,
    pub floor_up: f64,
    pub requests: f64,
    pub connections: f64,
    /// Bytes (both ways) to open one reader, before any message.
    pub setup: f64,
    pub latency: Latency,
}

/// Starts the clients of `technique` for `n` readers at `addr`, in
/// batches, and waits until all are ready. Polling clients spread
/// their polls over one interval, as pages opened at different times.
async fn start_clients(
    technique: Technique,
    addr: SocketAddr,
    n: usize,
    sizes: &Sizes,
    idle: bool,
    out: &mpsc::UnboundedSender<Receipt>,
) -> io::Result<JoinSet<io::Result<()>>> {
    let mut set = JoinSet::new();
    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    let batch = 100;
    let mut started = 0;
    while started < n {
        let upto = (started + batch).min(n);
        for client in started..upto {
            let spread = match technique {
                Technique::Polling => {
                    sizes.interval.mul_f64(client as f64 / n as f64)
                }
                _ => Duration::ZERO,
            };
            let plan = Plan {
                technique,
                addr,
                client,
                interval: sizes.interval,
                start_after: spread,
                idle,
            };
            set.spawn(clients::run(plan, ready_tx.clone(), out.clone()));
        }
        for _ in started..upto {
            let limit = Duration::from_secs(30);
            match timeout(limit, ready.recv()).await {
                Ok(Some(())) => {}
                _ => {
                    let why =
                        format!("{} readers never got ready", technique.name());
                    return Err(io::Error::other(why));
                }
            }
        }
        started = upto;
    }
    Ok(set)
}

/// Run 1 for one technique.
pub async fn wire(technique: Technique, sizes: &Sizes) -> io::Result<WireRow> {
    let server = TestServer::start(move |listener, shutdown| {
        technique.serve(listener, shutdown)
    })
    .await;
    let tap = Tap::start(server.addr()).await?;
    let (out, mut receipts) = mpsc::unbounded_channel();
    let n = sizes.clients;
    let mut readers =
        start_clients(technique, tap.addr(), n, sizes, false, &out).await?;
    // Let the last requests reach the server and the tap.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let setup_events = tap.events().len();

    // The poster talks to the server directly: its bytes are the same
    // for every technique but the floor, and are not counted.
    let mut poster = Poster::connect(technique, server.addr()).await?;
    let mut posted = Vec::new();
    let mut tick = tokio::time::interval(sizes.gap);
    for i in 0..sizes.messages {
        tick.tick().await;
        let at = Instant::now();
        let (id, len) = poster.post(&text_of(i)).await?;
        posted.push((id, len, at));
    }
    let expected = (n * sizes.messages) as u64;
    let mut got = Vec::new();
    let mut seen = HashSet::new();
    let limit = sizes.interval * 2 + Duration::from_secs(10);
    let deadline = Instant::now() + limit;
    while (seen.len() as u64) < expected {
        match tokio::time::timeout_at(deadline, receipts.recv()).await {
            Ok(Some(r)) => {
                if seen.insert((r.client, r.id)) {
                    got.push(r);
                }
            }
            _ => break,
        }
    }
    let events = tap.events();
    readers.abort_all();
    drop(tap);
    server.stop(Duration::from_secs(10)).await;

    let mut latencies = histogram();
    let mut payload = 0usize;
    for r in &got {
        if let Some((_, len, at)) = posted.iter().find(|(id, _, _)| *id == r.id) {
            payload += len;
            let micros = r.at.saturating_duration_since(*at).as_micros() as u64;
            latencies.saturating_record(micros.max(1));
        }
    }
    let setup = Transcript::new(&events[..setup_events], &[]);
    let all = Transcript::new(&events, &[]);
    let delivered = got.len() as u64;
    let per = |x: usize| x as f64 / delivered.max(1) as f64;
    // Every byte the tap passed on, summed from its events: the same
    // sum as the transcripts' footers, for any protocol.
    let bytes = |events: &[wire::Event], dir: Dir| -> usize {
        let conns = events.iter().map(|e| e.conn).max().unwrap_or(0);
        (1..=conns)
            .map(|c| wire::tap::bytes_in(events, c, dir))
            .sum()
    };
    let phase = |dir: Dir| bytes(&events, dir) - bytes(&events[..setup_events], dir);
    // Count the answers, not the questions: the request that carries
    // the first message was sent before the first post, and the last
    // re-polls after the last receipt. One answer per request.
    let requests =
        all.total(Dir::ToClient).messages - setup.total(Dir::ToClient).messages;
    let opens = events[setup_events..]
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Open { .. }))
        .count();
    let setup_bytes = bytes(&events[..setup_events], Dir::ToServer)
        + bytes(&events[..setup_events], Dir::ToClient);
    let port = server_port(&events);
    let floors: Vec<(usize, usize)> = posted
        .iter()
        .map(|(id, len, _)| floor_of(technique, *id, *len, port))
        .collect();
    let floor_avg = |f: fn(&(usize, usize)) -> usize| {
        floors.iter().map(f).sum::<usize>() as f64 / floors.len().max(1) as f64
    };
    Ok(WireRow {
        technique,
        delivered,
        expected,
        down: per(phase(Dir::ToClient)),
        payload: per(payload),
        up: per(phase(Dir::ToServer)),
        floor_down: floor_avg(|f| f.0),
        floor_up: floor_avg(|f| f.1),
        requests: per(requests),
        connections: per(opens),
        setup: setup_bytes as f64 / n.max(1) as f64,
        latency: latency_of(&latencies),
    })
}

/// The port in the `Host` header is the tap's: its digits count.
fn server_port(events: &[wire::Event]) -> u16 {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Data { bytes, .. } => {
                let text = String::from_utf8_lossy(bytes);
                let host = text.split("host: 127.0.0.1:").nth(1)?;
                host.split("\r\n").next()?.parse().ok()
            }
            _ => None,
        })
        .unwrap_or(3000)
}

/// The least overhead the protocol allows to deliver one message of
/// `len` JSON bytes with id `id`: (server → client, client → server).
///
/// - polling and long polling: one request with only its request line
///   and `Host` (RFC 9112 §3.2), and one response with only its status
///   line, `date` (which a server with a clock must send in a 2xx
///   response, RFC 9110 §6.6.1) and `content-length`, the body the
///   message in `[` `]`;
/// - SSE: `id: N` and `data: ` lines and the empty line (WHATWG HTML
///   §9.2.6), in one chunk with its size line and CR LF (RFC 9112
///   §7.1); nothing goes to the server;
/// - SSE over h2c: the same lines, in a DATA frame with its 9-byte
///   header (RFC 9113 §4.1);
/// - SSE over h2 (TLS): that frame in one TLS 1.3 record, 22 bytes
///   more (RFC 8446 §5.2);
/// - WebSocket: a 2-byte frame header for payloads under 126 bytes,
///   4 up to 65,535 (RFC 6455 §5.2); nothing goes to the server;
/// - bare TCP: the line feed.
pub fn floor_of(
    technique: Technique,
    id: u64,
    len: usize,
    port: u16,
) -> (usize, usize) {
    let digits = |n: usize| n.to_string().len();
    // An IMF-fixdate is always 29 characters (RFC 9110 §5.6.7).
    let date = "date: Sun, 06 Nov 1994 08:49:37 GMT\r\n".len();
    let response = |body: usize| {
        let length = "content-length: \r\n".len() + digits(body);
        "HTTP/1.1 200 OK\r\n".len() + date + length + 2
    };
    let request = |query: &str| {
        format!("GET /messages?after={}{query} HTTP/1.1\r\n", id - 1).len()
            + format!("host: 127.0.0.1:{port}\r\n\r\n").len()
    };
    match technique {
        Technique::Polling => (response(len + 2) + 2, request("")),
        Technique::LongPolling => (response(len + 2) + 2, request("&wait=25")),
        Technique::Sse => {
            let event = format!("id: {id}\ndata: \n\n").len();
            let chunk = format!("{:x}\r\n\r\n", event + len).len();
            (event + chunk, 0)
        }
        Technique::SseH2c => {
            // The event in one DATA frame with its 9-byte header
            // (RFC 9113 §4.1); no chunks.
            (format!("id: {id}\ndata: \n\n").len() + 9, 0)
        }
        Technique::SseH2Tls => {
            // The same frame in one TLS 1.3 record: a 5-byte header,
            // one byte of inner content type, a 16-byte AEAD tag (RFC
            // 8446 §5.2).
            let frame = floor_of(Technique::SseH2c, id, len, port).0;
            (frame + 5 + 1 + 16, 0)
        }
        Technique::WebSocket | Technique::WebSocket4k | Technique::WebSocket128k => {
            (if len < 126 { 2 } else { 4 }, 0)
        }
        Technique::Floor => (1, 0),
    }
}
// ANCHOR_END: floor_of

/// Run 2, per technique.
#[derive(Clone, Debug)]
pub struct FanOutRow {
    pub technique: Technique,
    pub clients: usize,
    pub rounds: usize,
    pub delivered: u64,
    pub expected: u64,
    /// Delivered messages per second over the whole run.
    pub per_second: f64,
    /// Server CPU time per delivered message, in microseconds.
    pub cpu_micros: f64,
    pub latency: Latency,
}

/// Starts `exe serve TECHNIQUE --addr 127.0.0.1:0`: the server in a
/// process of its own. It is killed when dropped.
async fn start_child(exe: &Path, technique: Technique) -> wire::process::Server {
    let exe = exe.display().to_string();
    wire::process::Server::start(&exe, &["serve", technique.arg()]).await
}

/// What runs 2 and 4 start with: the server in its own process,
/// `fan_out_clients` readers that report their receipts, and a poster.
struct Crowd {
    server: wire::process::Server,
    readers: JoinSet<io::Result<()>>,
    receipts: mpsc::UnboundedReceiver<Receipt>,
    poster: Poster,
}

impl Crowd {
    async fn start(
        technique: Technique,
        sizes: &Sizes,
        exe: &Path,
    ) -> io::Result<Crowd> {
        let server = start_child(exe, technique).await;
        let (out, receipts) = mpsc::unbounded_channel();
        let n = sizes.fan_out_clients;
        let readers =
            start_clients(technique, server.addr, n, sizes, false, &out).await?;
        // Let the last requests reach the server.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let poster = Poster::connect(technique, server.addr).await?;
        Ok(Crowd {
            server,
            readers,
            receipts,
            poster,
        })
    }
}

/// Run 2 for one technique: `fan_out_clients` readers; each round
/// posts one message and waits until every reader has it.
pub async fn fan_out(
    technique: Technique,
    sizes: &Sizes,
    exe: &Path,
) -> io::Result<FanOutRow> {
    let Crowd {
        server,
        mut readers,
        mut receipts,
        mut poster,
    } = Crowd::start(technique, sizes, exe).await?;
    let pid = server.child.id().unwrap_or(0);
    let n = sizes.fan_out_clients;
    let mut latencies = histogram();
    let mut delivered = 0u64;
    let mut rounds = 0;
    let round_limit = sizes.interval * 2 + Duration::from_secs(10);
    // ANCHOR: round
    // The server's CPU time is read from outside, before and after:
    // the clients' work is in this process, not in the server's.
    let cpu_before = machine::cpu_time(pid);
    let start = Instant::now();
    while rounds < sizes.rounds && start.elapsed() < sizes.fan_out_time {
        // Each delay starts just before the POST is written, and ends
        // when a reader has parsed the message.
        let at = Instant::now();
        let (id, _) = poster.post(&text_of(rounds)).await?;
        rounds += 1;
        let deadline = Instant::now() + round_limit;
        let mut have = 0;
        while have < n {
            match tokio::time::timeout_at(deadline, receipts.recv()).await {
                Ok(Some(r)) if r.id == id => {
                    have += 1;
                    let micros = r.at.saturating_duration_since(at).as_micros();
                    latencies.saturating_record((micros as u64).max(1));
                }
                Ok(Some(_)) => {}
                // A bound for a lost message, not a measure: the
                // table then shows fewer delivered than expected.
                _ => break,
            }
        }
        delivered += have as u64;
    }
    let elapsed = start.elapsed();
    let cpu = machine::cpu_time(pid) - cpu_before;
    // ANCHOR_END: round
    readers.abort_all();
    drop(server); // killed on drop
    Ok(FanOutRow {
        technique,
        clients: n,
        rounds,
        delivered,
        expected: (n * rounds) as u64,
        per_second: delivered as f64 / elapsed.as_secs_f64(),
        cpu_micros: cpu.as_secs_f64() * 1e6 / delivered.max(1) as f64,
        latency: latency_of(&latencies),
    })
}

/// Run 4, per technique: a burst.
#[derive(Clone, Debug)]
pub struct BurstRow {
    pub technique: Technique,
    pub clients: usize,
    pub messages: usize,
    pub delivered: u64,
    pub expected: u64,
    /// From the start of each message's POST to its receipt.
    pub latency: Latency,
}

/// Run 4 for one technique: `fan_out_clients` readers, and `burst`
/// messages sent at once: one write of `burst` pipelined POSTs (one
/// write of `burst` lines for the floor). Each delay runs from that
/// write to a reader's receipt, so the p99 is how long it takes until
/// nearly every reader has nearly every message. This is where a
/// server that does work per reader per message falls behind most.
pub async fn burst(
    technique: Technique,
    sizes: &Sizes,
    exe: &Path,
) -> io::Result<BurstRow> {
    let Crowd {
        server,
        mut readers,
        mut receipts,
        mut poster,
    } = Crowd::start(technique, sizes, exe).await?;
    let n = sizes.fan_out_clients;
    // ANCHOR: burst
    let texts: Vec<String> = (0..sizes.burst).map(text_of).collect();
    let at = Instant::now();
    let ids: HashSet<u64> = poster.post_burst(&texts).await?.into_iter().collect();
    // The receipts waited in the channel meanwhile, each with the
    // moment its reader parsed the message.
    let expected = (n * sizes.burst) as u64;
    let deadline = Instant::now() + sizes.interval * 2 + Duration::from_secs(20);
    let mut latencies = histogram();
    let mut delivered = 0u64;
    while delivered < expected {
        match tokio::time::timeout_at(deadline, receipts.recv()).await {
            Ok(Some(r)) if ids.contains(&r.id) => {
                delivered += 1;
                let micros = r.at.saturating_duration_since(at).as_micros();
                latencies.saturating_record((micros as u64).max(1));
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    // ANCHOR_END: burst
    readers.abort_all();
    drop(server);
    Ok(BurstRow {
        technique,
        clients: n,
        messages: sizes.burst,
        delivered,
        expected,
        latency: latency_of(&latencies),
    })
}

/// Run 3, per technique and number of readers.
#[derive(Clone, Debug)]
pub struct IdleRow {
    pub technique: Technique,
    pub clients: usize,
    /// Server RSS growth per open idle reader, in bytes.
    pub per_client: f64,
}

/// Run 3 for one technique and `n` idle readers, on a fresh server.
pub async fn idle(
    technique: Technique,
    n: usize,
    sizes: &Sizes,
    exe: &Path,
) -> io::Result<IdleRow> {
    let server = start_child(exe, technique).await;
    let pid = server.child.id().unwrap_or(0);
    let (out, _receipts) = mpsc::unbounded_channel();
    // One reader first, closed again: the server's one-time costs
    // (buffers, first task, lazy tables) are then in the baseline.
    let mut warm =
        start_clients(technique, server.addr, 1, sizes, true, &out).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    warm.abort_all();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ANCHOR: idle
    let before = machine::rss(pid);
    let readers =
        start_clients(technique, server.addr, n, sizes, true, &out).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = machine::rss(pid);
    // ANCHOR_END: idle
    drop(readers);
    drop(server);
    Ok(IdleRow {
        technique,
        clients: n,
        per_client: after.saturating_sub(before) as f64 / n as f64,
    })
}
