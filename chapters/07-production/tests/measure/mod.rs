//! What the broker hop costs, measured in chapter 6's way, and shared
//! by `benches/broker.rs` (the numbers in the book) and
//! `tests/measure_small.rs` (the same code, tiny, under `cargo test`).
//!
//! Five setups, the same clients and the same messages for each:
//!
//! 1. chapter 3's server alone: the store is in its memory;
//! 2. one chapter 7 server on Redis, the clients connected to it: a
//!    post goes to Redis and comes back through the server's reader
//!    (the broker hop alone);
//! 3. to 5. one, two and three chapter 7 servers behind the chapter's
//!    `nginx.conf`: the proxy, and the spread over servers;
//!
//! and a sixth, setup 2 again with Redis writing every post to disk
//! before it answers (`appendfsync always`, as the chapter's tests
//! run it): what durability adds to the hop.
//!
//! In each, N event streams are open; one message at a time is posted
//! and timed until every stream has it. The CPU time of every process
//! involved (servers, `redis-server`, nginx's master and worker) is
//! read from Linux's `/proc` before and after the rounds, as chapter 6
//! does.

// The bench and the test use all of this; the allow is for the
// functions a compiler sees used by one of them only.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout, timeout_at, Instant};

use ch06_choosing::machine::{self, Machine};
use wire::services::{Nginx, Redis};
use wire::sse::{Output, Parser};

/// How big one run is.
#[derive(Clone, Debug)]
pub struct Sizes {
    /// Open event streams, spread over the servers by nginx.
    pub clients: usize,
    /// Timed rounds: one post each, until every stream has it.
    pub rounds: usize,
    /// Rounds before the timed ones, not counted: the first post pays
    /// for things done once (Redis loads the script, nginx opens its
    /// first connection to a server, buffers grow).
    pub warmup: usize,
    /// How many times each setup runs, all setups in turn; the table
    /// keeps the run with the median CPU time, as chapter 6 does.
    pub repeats: usize,
    /// The pause before each round, so that each message finds the
    /// servers idle, as chat messages seconds apart do: every server's
    /// reader is back in `XREAD BLOCK`, nginx has closed the last
    /// post's connection to a server.
    pub gap: Duration,
}

/// Bounds a lost message, not a speed: the table then shows fewer
/// delivered than expected.
const ROUND_LIMIT: Duration = Duration::from_secs(10);

/// Bounds a server that does not start or a client that never gets
/// its stream.
const PATIENCE: Duration = Duration::from_secs(30);

/// The same text as chapter 6's runs: a short sentence of chat.
fn text_of(i: usize) -> String {
    format!("message {i:>4}: a line of chat, about as long as a short sentence")
}

// ANCHOR: setups
/// One way to serve the chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// Chapter 3's server, no Redis, no proxy.
    Alone,
    /// One chapter 7 server on Redis; the clients connect to it.
    Direct,
    /// This many chapter 7 servers on Redis, behind nginx.
    Proxied(usize),
    /// As `Direct`, with Redis on disk before it answers a post.
    DirectOnDisk,
}

pub const SETUPS: [Setup; 6] = [
    Setup::Alone,
    Setup::Direct,
    Setup::Proxied(1),
    Setup::Proxied(2),
    Setup::Proxied(3),
    Setup::DirectOnDisk,
];
// ANCHOR_END: setups

impl Setup {
    pub fn name(self) -> String {
        match self {
            Setup::Alone => "chapter 3 alone".into(),
            Setup::Direct => "1 server".into(),
            Setup::Proxied(1) => "nginx + 1 server".into(),
            Setup::Proxied(n) => format!("nginx + {n} servers"),
            Setup::DirectOnDisk => "1 server, on disk".into(),
        }
    }
}

/// Latency over the rounds, in microseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Latency {
    pub p50: u64,
    pub p99: u64,
}

/// The `q` quantile of `times` (nearest rank), in microseconds.
fn latency_of(mut times: Vec<Duration>) -> Latency {
    times.sort();
    let at = |q: f64| {
        let i = ((times.len().max(1) - 1) as f64 * q).round() as usize;
        times.get(i).map_or(0, |d| d.as_micros() as u64)
    };
    Latency {
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// One setup, measured once.
#[derive(Clone, Debug)]
pub struct Row {
    pub setup: Setup,
    pub clients: usize,
    pub rounds: usize,
    pub delivered: u64,
    pub expected: u64,
    /// From just before the POST is written until the LAST stream has
    /// the event: what the slowest reader waits.
    pub last: Latency,
    /// Until half of the streams have it: what a typical reader waits.
    pub median: Latency,
    /// CPU time per delivered message, in microseconds, for each
    /// process: `server a`, `redis-server`, `nginx`, …
    pub cpu: Vec<(String, f64)>,
    /// How many streams each server got: `[("a", 34), ("b", 33), …]`.
    pub spread: Vec<(String, usize)>,
}

impl Row {
    /// Every process's CPU time per delivered message, summed.
    pub fn cpu_total(&self) -> f64 {
        self.cpu.iter().map(|(_, us)| us).sum()
    }

    /// The CPU time of the processes whose name starts with `prefix`.
    pub fn cpu_of(&self, prefix: &str) -> Vec<f64> {
        let of = self.cpu.iter().filter(|(name, _)| name.starts_with(prefix));
        of.map(|(_, us)| *us).collect()
    }
}

/// Everything one run measured, and on what.
pub struct Results {
    pub sizes: Sizes,
    pub alone: Alone,
    pub machine: Machine,
    /// `redis-server --version` and `nginx -v`, the version numbers.
    pub redis: String,
    pub nginx: String,
    pub rows: Vec<Row>,
    pub seconds: f64,
}

// ANCHOR: run
/// Measures every setup `sizes.repeats` times, in turns, and keeps
/// each setup's run with the median CPU time. `None` when Redis or
/// nginx is not installed (the test then skips, see
/// `wire::services::find`). `say` hears one line per run.
pub async fn run(
    sizes: &Sizes,
    alone: &Alone,
    say: impl Fn(&str),
) -> io::Result<Option<Results>> {
    let start = Instant::now();
    let machine = Machine::read();
    let (Some(redis), Some(nginx)) = (redis_version(), nginx_version()) else {
        return Ok(None);
    };
    let mut runs: Vec<Vec<Row>> = vec![Vec::new(); SETUPS.len()];
    for _ in 0..sizes.repeats.max(1) {
        for (i, setup) in SETUPS.into_iter().enumerate() {
            let Some(row) = measure(setup, sizes, alone).await? else {
                return Ok(None);
            };
            say(&summary(&row));
            runs[i].push(row);
        }
    }
    let mut rows = Vec::new();
    for mut runs in runs {
        runs.sort_by(|a, b| a.cpu_total().total_cmp(&b.cpu_total()));
        rows.push(runs.swap_remove(runs.len() / 2));
    }
    let mut machine = machine;
    machine.load_after = machine::load_average();
    Ok(Some(Results {
        sizes: sizes.clone(),
        alone: alone.clone(),
        machine,
        redis,
        nginx,
        rows,
        seconds: start.elapsed().as_secs_f64(),
    }))
}
// ANCHOR_END: run

/// One line for the bench's progress output.
fn summary(row: &Row) -> String {
    format!(
        "{:<18} {}/{} delivered, last p50 {} p99 {}, CPU {:.2} µs/message",
        row.setup.name(),
        row.delivered,
        row.expected,
        ms(row.last.p50),
        ms(row.last.p99),
        row.cpu_total()
    )
}

/// Whose CPU time is counted.
enum Counted {
    /// A process: the sum over its threads.
    Process(u32),
    /// Several processes: nginx's master and its worker.
    Processes(Vec<u32>),
    /// Threads of this process: chapter 3's server, run here.
    Threads(Arc<Mutex<Vec<u32>>>),
}

impl Counted {
    fn cpu_time(&self) -> Duration {
        match self {
            Counted::Process(pid) => machine::cpu_time(*pid),
            Counted::Processes(pids) => {
                pids.iter().map(|p| machine::cpu_time(*p)).sum()
            }
            Counted::Threads(tids) => {
                let tids = tids.lock().unwrap().clone();
                tids.iter().map(|tid| thread_cpu_time(*tid)).sum()
            }
        }
    }
}

/// The CPU time a thread of this process has used: the first field of
/// `/proc/self/task/TID/schedstat`, in nanoseconds, the same reading
/// as chapter 6's `cpu_time`, for one thread.
fn thread_cpu_time(tid: u32) -> Duration {
    let path = format!("/proc/self/task/{tid}/schedstat");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let ran = text.split_whitespace().next();
    Duration::from_nanos(ran.and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// The id of the calling thread: `/proc/thread-self` links to
/// `PID/task/TID`.
fn this_thread_id() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// Where chapter 3's server runs.
#[derive(Clone, Debug)]
pub enum Alone {
    /// In a process of its own: this program, started as `exe
    /// serve-chapter-3`, runs chapter 3's `main` (the bench's choice:
    /// every server measured is then a process of its own).
    Process(PathBuf),
    /// In this process, on threads of its own (the test's choice: a
    /// test binary cannot be started as a server).
    InProcess,
}

/// The argument that makes the bench chapter 3's server.
pub const SERVE_CHAPTER_3: &str = "serve-chapter-3";

// ANCHOR: alone
/// Chapter 3's server, in this process but on a runtime and threads
/// of its own (two workers, as `#[tokio::main]` makes on two cores),
/// so that its CPU time can be told from the clients': the sum over
/// its threads. Cargo builds only this package's binaries for a test,
/// not chapter 3's; but that binary is only flags around
/// `ch03_sse::serve`, which runs here with the binary's defaults.
struct InProcess {
    addr: SocketAddr,
    threads: Arc<Mutex<Vec<u32>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcess {
    fn start() -> io::Result<InProcess> {
        let threads = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = oneshot::channel::<()>();
        let (bound, addr) = std::sync::mpsc::channel();
        let record = threads.clone();
        let thread = std::thread::spawn(move || {
            // This thread runs the runtime's `block_on`, so it counts.
            record.lock().unwrap().extend(this_thread_id());
            let on_start = record.clone();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(cores())
                .enable_all()
                .on_thread_start(move || {
                    on_start.lock().unwrap().extend(this_thread_id());
                })
                .build()
                .expect("a runtime for chapter 3");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await;
                let listener = match listener {
                    Ok(listener) => listener,
                    Err(e) => return drop(bound.send(Err(e))),
                };
                let _ = bound.send(listener.local_addr());
                let config = ch03_sse::Config::default();
                // It stops when the runtime is dropped, below: the
                // streams are closed, and nothing needs a drain.
                let serve =
                    ch03_sse::serve(listener, config, std::future::pending());
                tokio::spawn(serve);
                let _ = stopped.await;
            });
            runtime.shutdown_timeout(Duration::from_secs(1));
        });
        let addr = addr
            .recv_timeout(PATIENCE)
            .map_err(|_| io::Error::other("chapter 3 did not start"))??;
        Ok(InProcess {
            addr,
            threads,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
// ANCHOR_END: alone

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A server in a process of its own, started as a reader starts a
/// chapter's binary, with `--addr 127.0.0.1:0`. It logs only
/// warnings: one line per request would be the log's cost, not the
/// hop's. Killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    _stdout: BufReader<tokio::process::ChildStdout>,
}

impl Server {
    /// A chapter 7 server, as the chapter runs it:
    /// `ch07-production --redis URL --servers 1 --name a`.
    async fn start(redis: &str, name: &str) -> io::Result<Server> {
        let exe = env!("CARGO_BIN_EXE_ch07-production");
        let flags = ["--redis", redis, "--servers", "1", "--name", name];
        Server::spawn(Path::new(exe), &flags).await
    }

    async fn spawn(exe: &Path, flags: &[&str]) -> io::Result<Server> {
        let mut child = Command::new(exe)
            .args(flags)
            .args(["--addr", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        // Kept open: a closed pipe would fail its later writes.
        let mut stdout = BufReader::new(stdout);
        let read = stdout.read_line(&mut line);
        timeout(PATIENCE, read).await.map_err(|_| {
            io::Error::other(format!("{} printed nothing", exe.display()))
        })??;
        // The first line is `listening on http://127.0.0.1:PORT`.
        let addr = line
            .trim_end()
            .strip_prefix("listening on http://")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| io::Error::other(format!("first line: {line:?}")))?;
        Ok(Server {
            child,
            addr,
            _stdout: stdout,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }
}

/// The chapter's own nginx.conf, with nginx's port in place of 8080
/// and the upstream block naming `servers` in place of 3007–3009.
fn nginx_conf(port: u16, servers: &[SocketAddr]) -> String {
    let mut conf = include_str!("../../nginx.conf").replace(
        "listen 127.0.0.1:8080;",
        &format!("listen 127.0.0.1:{port};"),
    );
    for n in 0..3 {
        let shipped = format!("        server 127.0.0.1:{};\n", 3007 + n);
        assert!(conf.contains(&shipped), "nginx.conf has no {shipped}");
        let ours = match servers.get(n) {
            Some(addr) => format!("        server {addr};\n"),
            None => String::new(),
        };
        conf = conf.replace(&shipped, &ours);
    }
    conf
}

/// What one setup runs: the front the clients connect to, and every
/// process to count, with a name. Dropping it stops them all.
struct Running {
    front: SocketAddr,
    counted: Vec<(String, Counted)>,
    _alone: Option<InProcess>,
    _redis: Option<Redis>,
    _servers: Vec<Server>,
    nginx: Option<Nginx>,
}

/// Sets a Redis parameter at run time (`CONFIG SET`).
async fn config_set(redis: &Redis, name: &str, value: &str) -> io::Result<()> {
    let answer = redis.command(&["CONFIG", "SET", name, value]).await?;
    if answer != "+OK\r\n" {
        let why = format!("CONFIG SET {name} {value}: {answer:?}");
        return Err(io::Error::other(why));
    }
    Ok(())
}

// ANCHOR: start
/// Starts `setup`. `None`: Redis or nginx is not installed.
async fn start(setup: Setup, alone: &Alone) -> io::Result<Option<Running>> {
    if let (Setup::Alone, Alone::Process(exe)) = (setup, alone) {
        let server = Server::spawn(exe, &[SERVE_CHAPTER_3]).await?;
        return Ok(Some(Running {
            front: server.addr,
            counted: vec![("chapter 3".into(), Counted::Process(server.pid()))],
            _alone: None,
            _redis: None,
            _servers: vec![server],
            nginx: None,
        }));
    }
    if setup == Setup::Alone {
        let alone = InProcess::start()?;
        let counted = vec![(
            "chapter 3".to_owned(),
            Counted::Threads(alone.threads.clone()),
        )];
        return Ok(Some(Running {
            front: alone.addr,
            counted,
            _alone: Some(alone),
            _redis: None,
            _servers: Vec::new(),
            nginx: None,
        }));
    }
    // A fresh Redis for each setup, so each starts on an empty log.
    // It is the chapter's tests' Redis (`appendonly yes`, `appendfsync
    // always`); all setups but the last answer a post before it is on
    // disk (`everysec`, Redis's own default for the file), so that the
    // disk's time does not hide the hop's. Entries go 100 to a block
    // (Redis's default); the tests' 4 make them trim early.
    let Some(redis) = Redis::start().await else {
        return Ok(None);
    };
    if setup != Setup::DirectOnDisk {
        config_set(&redis, "appendfsync", "everysec").await?;
    }
    config_set(&redis, "stream-node-max-entries", "100").await?;
    let n = match setup {
        Setup::Proxied(n) => n,
        _ => 1,
    };
    let mut servers = Vec::new();
    for name in ["a", "b", "c"].into_iter().take(n) {
        servers.push(Server::start(&redis.url(), name).await?);
    }
    let mut counted: Vec<(String, Counted)> = servers
        .iter()
        .zip(["a", "b", "c"])
        .map(|(s, name)| (format!("server {name}"), Counted::Process(s.pid())))
        .collect();
    let redis_pid = redis.pid().unwrap_or(0);
    counted.push(("redis-server".into(), Counted::Process(redis_pid)));
    let mut nginx = None;
    let mut front = servers[0].addr;
    if let Setup::Proxied(_) = setup {
        let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
        let Some(started) = Nginx::start(|port| nginx_conf(port, &addrs)).await
        else {
            return Ok(None);
        };
        front = started.addr();
        nginx = Some(started);
    }
    Ok(Some(Running {
        front,
        counted,
        _alone: None,
        _redis: Some(redis),
        _servers: servers,
        nginx,
    }))
}
// ANCHOR_END: start

/// A reader's receipt: which message, and when the bytes that
/// completed its event were read.
struct Receipt {
    id: u64,
    at: Instant,
}

// ANCHOR: measure
/// One setup, once: start it, open the streams, post, count.
async fn measure(
    setup: Setup,
    sizes: &Sizes,
    alone: &Alone,
) -> io::Result<Option<Row>> {
    let Some(mut running) = start(setup, alone).await? else {
        return Ok(None);
    };
    let n = sizes.clients;
    let (out, mut receipts) = mpsc::unbounded_channel();
    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    let mut readers = tokio::task::JoinSet::new();
    let mut spread: Vec<(String, usize)> = Vec::new();
    // One at a time: each stream is open before the next connects, so
    // nginx's round robin deals them out evenly, a, b, c, a, …
    for _ in 0..n {
        readers.spawn(reader(running.front, ready_tx.clone(), out.clone()));
        let served_by = match timeout(PATIENCE, ready.recv()).await {
            Ok(Some(Ok(name))) => name,
            Ok(Some(Err(e))) => return Err(e),
            _ => return Err(io::Error::other("a stream did not open")),
        };
        match spread.iter_mut().find(|(name, _)| *name == served_by) {
            Some((_, count)) => *count += 1,
            None => spread.push((served_by, 1)),
        }
    }
    spread.sort();
    // nginx's master starts its worker after it listens: only now,
    // with every stream open through it, is the worker surely there.
    if let Some(nginx) = &running.nginx {
        let pids = nginx.pids();
        if pids.len() < 2 {
            return Err(io::Error::other(format!(
                "nginx without a worker: {pids:?}"
            )));
        }
        running
            .counted
            .push(("nginx".into(), Counted::Processes(pids)));
    }
    let mut poster = Poster::connect(running.front).await?;
    let mut last = Vec::new();
    let mut median = Vec::new();
    let mut delivered = 0u64;
    let mut cpu_before = Vec::new();
    for round in 0..sizes.warmup + sizes.rounds {
        tokio::time::sleep(sizes.gap).await;
        if round == sizes.warmup {
            // The clients' work is in this process: only the servers'
            // processes (and threads) are read, before and after.
            cpu_before = running.counted.iter().map(|(_, c)| c.cpu_time()).collect();
        }
        // Each delay starts just before the POST is written.
        let at = Instant::now();
        let id = poster.post(&text_of(round)).await?;
        let deadline = Instant::now() + ROUND_LIMIT;
        let mut times = Vec::with_capacity(n);
        while times.len() < n {
            match timeout_at(deadline, receipts.recv()).await {
                Ok(Some(r)) if r.id == id => times.push(r.at - at),
                // A message of an earlier round that came too late.
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        if round < sizes.warmup {
            continue;
        }
        delivered += times.len() as u64;
        times.sort();
        if let (Some(slowest), Some(middle)) = (times.last(), times.get((n - 1) / 2))
        {
            last.push(*slowest);
            median.push(*middle);
        }
    }
    let spent = running.counted.iter().zip(&cpu_before);
    let per = |d: Duration| d.as_secs_f64() * 1e6 / delivered.max(1) as f64;
    let cpu = spent
        .map(|((name, c), before)| (name.clone(), per(c.cpu_time() - *before)))
        .collect();
    readers.abort_all();
    drop(running);
    Ok(Some(Row {
        setup,
        clients: n,
        rounds: sizes.rounds,
        delivered,
        expected: (n * sizes.rounds) as u64,
        last: latency_of(last),
        median: latency_of(median),
        cpu,
        spread,
    }))
}
// ANCHOR_END: measure

// ANCHOR: reader
/// One event stream, read from a raw socket: the request a browser's
/// `EventSource` sends, the chunked body taken apart (RFC 9112 §7.1),
/// the events parsed as the browser does (WHATWG HTML §9.2.5, with
/// `wire::sse::Parser`). The same bytes-in, events-out work for every
/// setup. Says on `ready` which server answered (`x-served-by`, or
/// `-` for chapter 3) once the stream's first line, `retry:`, is in.
async fn reader(
    addr: SocketAddr,
    ready: mpsc::UnboundedSender<io::Result<String>>,
    out: mpsc::UnboundedSender<Receipt>,
) {
    let result = read_stream(addr, &ready, &out).await;
    if let Err(e) = result {
        let _ = ready.send(Err(e));
    }
}

async fn read_stream(
    addr: SocketAddr,
    ready: &mpsc::UnboundedSender<io::Result<String>>,
    out: &mpsc::UnboundedSender<Receipt>,
) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let request = format!(
        "GET /events HTTP/1.1\r\nhost: {addr}\r\naccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut head = Vec::new();
    // The response head: up to the empty line.
    let (body_start, served_by, chunked) = loop {
        let read = stream.read(&mut buf).await?;
        if read == 0 {
            return Err(io::Error::other("the stream closed before its head"));
        }
        head.extend_from_slice(&buf[..read]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
            if !text.starts_with("http/1.1 200") {
                let line = text.lines().next().unwrap_or("").to_owned();
                return Err(io::Error::other(format!("the stream got {line}")));
            }
            let header = |name: &str| {
                let prefix = format!("{name}:");
                let line = text.lines().find(|l| l.starts_with(&prefix))?;
                Some(line[prefix.len()..].trim().to_owned())
            };
            let served_by = header("x-served-by").unwrap_or_else(|| "-".into());
            let chunked =
                header("transfer-encoding").is_some_and(|v| v == "chunked");
            break (end + 4, served_by, chunked);
        }
    };
    let mut chunks = Chunks::default();
    let mut parser = Parser::new();
    let mut data = Vec::new();
    let mut outputs = Vec::new();
    let mut served_by = Some(served_by);
    let mut pending = head.split_off(body_start);
    loop {
        // The moment these bytes were in hand: every event they
        // complete was delivered now.
        let at = Instant::now();
        data.clear();
        if chunked {
            chunks.feed(&pending, &mut data);
        } else {
            data.extend_from_slice(&pending);
        }
        outputs.clear();
        parser.feed(&data, &mut outputs);
        for (_, output) in outputs.drain(..) {
            match output {
                Output::Retry(_) => {
                    if let Some(name) = served_by.take() {
                        let _ = ready.send(Ok(name));
                    }
                }
                Output::Dispatch(event) if event.kind == "message" => {
                    let id = id_in(&event.data).ok_or_else(|| {
                        io::Error::other(format!("no id in {:?}", event.data))
                    })?;
                    if out.send(Receipt { id, at }).is_err() {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
        let read = stream.read(&mut buf).await?;
        if read == 0 {
            return Ok(());
        }
        pending.clear();
        pending.extend_from_slice(&buf[..read]);
    }
}
// ANCHOR_END: reader

/// The `id` of a message's JSON, `{"id":7,"user":…}`, read without a
/// JSON parser: the readers must cost the same in every setup, and
/// little.
fn id_in(json: &str) -> Option<u64> {
    let rest = &json[json.find("\"id\":")? + 5..];
    let digits = rest.trim_start();
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// A chunked body taken apart (RFC 9112 §7.1): a size line in hex,
/// that many bytes, CR LF; again, until size 0.
#[derive(Default)]
struct Chunks {
    /// The size line so far.
    line: Vec<u8>,
    /// Data bytes left in this chunk.
    left: usize,
    /// The CR LF after the data still to skip.
    skip: usize,
}

impl Chunks {
    fn feed(&mut self, mut bytes: &[u8], data: &mut Vec<u8>) {
        while !bytes.is_empty() {
            if self.left > 0 {
                let take = self.left.min(bytes.len());
                data.extend_from_slice(&bytes[..take]);
                self.left -= take;
                bytes = &bytes[take..];
                if self.left == 0 {
                    self.skip = 2;
                }
            } else if self.skip > 0 {
                self.skip -= 1;
                bytes = &bytes[1..];
            } else {
                let byte = bytes[0];
                bytes = &bytes[1..];
                if byte != b'\n' {
                    self.line.push(byte);
                    continue;
                }
                // `1a;ext=x\r`: the hex digits before `;` or CR.
                let line = String::from_utf8_lossy(&self.line).into_owned();
                self.line.clear();
                let hex = line.split([';', '\r']).next().unwrap_or("");
                self.left = usize::from_str_radix(hex.trim(), 16).unwrap_or(0);
            }
        }
    }
}

// ANCHOR: poster
/// Posts on one keep-alive connection, one POST at a time, and reads
/// each answer: `201 Created` with the stored message.
struct Poster {
    stream: TcpStream,
    host: String,
    buf: Vec<u8>,
}

impl Poster {
    async fn connect(addr: SocketAddr) -> io::Result<Poster> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Poster {
            stream,
            host: addr.to_string(),
            buf: Vec::new(),
        })
    }

    /// Posts `text` and returns the id the server gave it.
    async fn post(&mut self, text: &str) -> io::Result<u64> {
        let json = format!(r#"{{"user":"bench","text":"{text}"}}"#);
        let request = format!(
            "POST /messages HTTP/1.1\r\nhost: {}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
            self.host,
            json.len()
        );
        // One write: the whole request leaves in one segment.
        self.stream.write_all(request.as_bytes()).await?;
        let mut chunk = [0u8; 4096];
        let body = loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head =
                    String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                if !head.starts_with("http/1.1 201") {
                    let line = head.lines().next().unwrap_or("").to_owned();
                    return Err(io::Error::other(format!("the post got {line}")));
                }
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or_else(|| io::Error::other("a 201 without length"))?;
                if self.buf.len() >= end + 4 + length {
                    let body: Vec<u8> = self.buf.drain(..end + 4 + length).collect();
                    break String::from_utf8_lossy(&body[end + 4..]).into_owned();
                }
            }
            let read = timeout(ROUND_LIMIT, self.stream.read(&mut chunk))
                .await
                .map_err(|_| io::Error::other("no answer to a post"))??;
            if read == 0 {
                return Err(io::Error::other("the post's connection closed"));
            }
            self.buf.extend_from_slice(&chunk[..read]);
        };
        id_in(&body).ok_or_else(|| io::Error::other(format!("no id in {body:?}")))
    }
}
// ANCHOR_END: poster

/// `redis-server --version`: `Redis server v=7.0.15 sha=…` → `7.0.15`.
fn redis_version() -> Option<String> {
    let exe = wire::services::find("redis-server", "redis-server")?;
    let out = std::process::Command::new(exe)
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text.split_whitespace().find_map(|w| w.strip_prefix("v="))?;
    Some(v.to_owned())
}

/// `nginx -v` (on stderr): `nginx version: nginx/1.22.1` → `1.22.1`.
fn nginx_version() -> Option<String> {
    let exe = wire::services::find("nginx", "nginx")?;
    let out = std::process::Command::new(exe).arg("-v").output().ok()?;
    let text = String::from_utf8_lossy(&out.stderr);
    let v = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("nginx/"))?;
    Some(v.to_owned())
}

/// Microseconds as milliseconds, three significant digits.
pub fn ms(micros: u64) -> String {
    let ms = micros as f64 / 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// Microseconds of CPU time, three significant digits at most.
fn micros(x: f64) -> String {
    if x < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

fn times(x: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.1}×", x / base)
    } else {
        "n/a".into()
    }
}

fn table(header: &[&str], align: &str, rows: Vec<Vec<String>>) -> String {
    let mut out = format!("| {} |\n{align}\n", header.join(" | "));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

/// The row of `setup`, if it was measured.
pub fn row_of(results: &Results, setup: Setup) -> Option<&Row> {
    results.rows.iter().find(|r| r.setup == setup)
}

// ANCHOR: markdown
/// The two tables and the caption, as the book includes them. Every
/// line is at most 85 characters, as on every page.
pub fn markdown(r: &Results) -> String {
    let base = row_of(r, Setup::Alone);
    let base_p50 = base.map_or(0.0, |b| b.last.p50 as f64);
    let base_cpu = base.map_or(0.0, Row::cpu_total);
    let latency = r
        .rows
        .iter()
        .map(|row| {
            vec![
                row.setup.name(),
                format!("{}/{}", row.delivered, row.expected),
                ms(row.last.p50),
                ms(row.last.p99),
                times(row.last.p50 as f64, base_p50),
                ms(row.median.p50),
                ms(row.median.p99),
            ]
        })
        .collect();
    let cpu = r
        .rows
        .iter()
        .map(|row| {
            let list = |v: Vec<f64>| {
                let each: Vec<String> = v.iter().map(|x| micros(*x)).collect();
                if each.is_empty() {
                    "–".to_owned()
                } else {
                    each.join(" + ")
                }
            };
            let servers = match row.setup {
                Setup::Alone => list(row.cpu_of("chapter 3")),
                _ => list(row.cpu_of("server ")),
            };
            let spread: Vec<String> =
                row.spread.iter().map(|(_, n)| n.to_string()).collect();
            vec![
                row.setup.name(),
                spread.join("/"),
                servers,
                list(row.cpu_of("redis-server")),
                list(row.cpu_of("nginx")),
                micros(row.cpu_total()),
                times(row.cpu_total(), base_cpu),
            ]
        })
        .collect();
    let mut out = String::new();
    out.push_str(&table(
        &[
            "setup",
            "delivered",
            "last p50",
            "last p99",
            "× alone",
            "median p50",
            "median p99",
        ],
        "|---|--:|--:|--:|--:|--:|--:|",
        latency,
    ));
    out.push('\n');
    out.push_str(&table(
        &[
            "setup",
            "streams",
            "server µs",
            "Redis µs",
            "nginx µs",
            "total µs",
            "× alone",
        ],
        "|---|--:|--:|--:|--:|--:|--:|",
        cpu,
    ));
    out.push('\n');
    out.push_str(&caption(r));
    out
}
// ANCHOR_END: markdown

/// What was measured, how, on what, and how busy the machine was.
fn caption(r: &Results) -> String {
    let m = &r.machine;
    let s = &r.sizes;
    // `YYYY-MM-DD HH:MM UTC`: the day is enough.
    let day = m.date.split(' ').next().unwrap_or("");
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let load = |text: &str| text.parse::<f64>().unwrap_or(f64::MAX);
    let busy = if load(&m.load_before) < 1.0 && load(&m.load_after) < 1.0 {
        ""
    } else {
        " The machine was busy with other work (a load average of 1 or more): \
         the times and CPU numbers are upper bounds."
    };
    let where_alone = match r.alone {
        Alone::Process(_) => "in a process of its own, with its binary's defaults",
        Alone::InProcess => "in the harness's process, on threads of its own",
    };
    let text = format!(
        "Measured on {day} on {cpus} CPU cores ({model}), Linux {kernel}, \
         {rustc}, in a {build} build, with redis-server {redis} and nginx \
         {nginx}. The load average was {before} before the run and {after} \
         after it. Chapter 3 alone: its server, {where_alone}. 1 server: \
         one chapter 7 server on Redis, streams and posts straight to it. \
         nginx + N servers: N chapter 7 servers, each a process, behind the \
         chapter's nginx.conf (one worker, round robin). Redis answered a \
         post before writing it to disk (appendfsync everysec), except in \
         \"on disk\" (appendfsync always). {clients} event streams; \
         {rounds} messages posted one at a time, {gap} ms apart, after \
         {warmup} rounds not counted. A delay runs from just before the \
         POST is written until the last stream (last) or half of the \
         streams (median) have parsed the event. CPU time is that of each \
         process in the setup during the rounds (Redis's and nginx's too), \
         read from /proc, per delivered message (messages × streams). The \
         clients ran in one more process, on the same cores, and are not \
         counted. Each setup ran {repeats} times, all setups in turn; the \
         tables show each setup's run with the median CPU time. The whole \
         run took {secs:.0} s.{busy}",
        cpus = m.cpus,
        model = m.cpu_model,
        kernel = m.kernel,
        rustc = m.rustc,
        redis = r.redis,
        nginx = r.nginx,
        before = m.load_before,
        after = m.load_after,
        clients = s.clients,
        rounds = s.rounds,
        gap = s.gap.as_millis(),
        warmup = s.warmup,
        repeats = s.repeats,
        secs = r.seconds,
    );
    wrap(&text)
}

/// Wraps `text` at 85 characters, as chapter 6's captions are.
fn wrap(text: &str) -> String {
    ch06_choosing::report::wrap(text)
}

// ANCHOR: reading
/// What the numbers say, in words, for whoever writes the chapter:
/// each step's added delay and CPU time, against the one before it.
pub fn reading(r: &Results) -> String {
    let mut out = String::new();
    let step = |out: &mut String, what: &str, from: Setup, to: Setup| {
        let (Some(a), Some(b)) = (row_of(r, from), row_of(r, to)) else {
            return;
        };
        let d = |x: u64, y: u64| (y as f64 - x as f64) / 1000.0;
        let _ = writeln!(
            out,
            "{what} ({} → {}): last stream {:+.2} ms at p50 ({:.1}×), \
             {:+.2} ms at p99; median stream {:+.2} ms at p50; CPU {:+.1} µs \
             per delivered message ({:.2}×), {:+.0} µs per post.",
            from.name(),
            to.name(),
            d(a.last.p50, b.last.p50),
            b.last.p50 as f64 / a.last.p50.max(1) as f64,
            d(a.last.p99, b.last.p99),
            d(a.median.p50, b.median.p50),
            b.cpu_total() - a.cpu_total(),
            b.cpu_total() / a.cpu_total().max(f64::MIN_POSITIVE),
            (b.cpu_total() - a.cpu_total()) * a.clients as f64,
        );
    };
    step(&mut out, "the broker hop", Setup::Alone, Setup::Direct);
    step(&mut out, "nginx in front", Setup::Direct, Setup::Proxied(1));
    step(
        &mut out,
        "a second server",
        Setup::Proxied(1),
        Setup::Proxied(2),
    );
    step(
        &mut out,
        "a third server",
        Setup::Proxied(2),
        Setup::Proxied(3),
    );
    step(&mut out, "all of it", Setup::Alone, Setup::Proxied(3));
    step(
        &mut out,
        "fsync per post",
        Setup::Direct,
        Setup::DirectOnDisk,
    );
    for setup in [Setup::Direct, Setup::Proxied(1), Setup::Proxied(3)] {
        let Some(row) = row_of(r, setup) else {
            continue;
        };
        for (name, us) in &row.cpu {
            let _ = writeln!(
                out,
                "{}: {name} used {us:.2} µs per delivered message, {:.0} µs \
                 per post ({:.0}% of the total).",
                setup.name(),
                us * row.clients as f64,
                100.0 * us / row.cpu_total().max(f64::MIN_POSITIVE),
            );
        }
    }
    out
}
// ANCHOR_END: reading
