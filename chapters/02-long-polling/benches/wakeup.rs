//! `cargo bench -p ch02-long-polling`: what a POST costs when many
//! requests are parked.
//!
//! 1. Wake-up: N clients park a long poll; one POST is sent; the time
//!    is taken from just before the POST is written until the LAST of
//!    the N clients has read its whole answer. Many rounds; p50 and
//!    p99 for N = 1 and N = 1000.
//! 2. Idle: the CPU time the process uses while 1000 requests are
//!    parked and nothing happens.
//! 3. Storm: 100 messages posted back to back to 1000 parked clients;
//!    how many answers it takes to deliver them all.
//!
//! The server is the chapter's binary (built for release), in its own
//! process. The clients run in this process, over real TCP on
//! 127.0.0.1, on the same cores: their work (reading 1000 answers)
//! counts in the time.

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::parked;
use tokio::sync::mpsc;
use wire::{Request, Response};

const ROUNDS: usize = 500;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    // The server is the chapter's binary, as a reader runs it, but
    // with only warnings logged: the time of one log line per
    // request is not what this measures.
    let exe = env!("CARGO_BIN_EXE_ch02-long-polling");
    let quiet = [("RUST_LOG", "warn")];
    let server = wire::process::Server::start_with_env(exe, &[], &quiet).await;
    let addr = server.addr;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("long-poll wake-up, {cores} cores, {ROUNDS} rounds per line");
    // Other programs on the machine change the slow rounds most: say
    // how busy it was (the load average over the last minute).
    println!("load average before: {}", load_average());

    for repoll in [Repoll::AfterTheRound, Repoll::AtOnce] {
        let one = wakeup(addr, 1, repoll).await;
        let many = wakeup(addr, 1000, repoll).await;
        let ratio = many.p50.as_secs_f64() / one.p50.as_secs_f64();
        println!("  p50 with 1000 waiters / p50 with 1 waiter: {ratio:.0}");
    }

    let pid = server.child.id().expect("the server runs");
    idle(addr, pid, 1000).await;
    storm(addr, 1000, 100).await;
    println!("load average after: {}", load_average());
}

struct Percentiles {
    p50: Duration,
}

/// How the clients send their next poll after an answer.
#[derive(Clone, Copy, PartialEq)]
enum Repoll {
    /// When the round is over: a round times the wake-up alone.
    AfterTheRound,
    /// At once, as the page does: the clients' new requests (and the
    /// server's work to park them again) share the cores with the
    /// answers still being written, and count in the time.
    AtOnce,
}

/// Parks `n` clients, then times `ROUNDS` posts, each until the last
/// client has its answer.
async fn wakeup(addr: SocketAddr, n: usize, repoll: Repoll) -> Percentiles {
    let newest = newest_id(addr).await;
    let (done, mut answered) = mpsc::unbounded_channel();
    let (next_round, round) = tokio::sync::watch::channel(0usize);
    let mut clients = Vec::new();
    for _ in 0..n {
        let mut http = common::connect(addr).await;
        let done = done.clone();
        let mut round = round.clone();
        clients.push(tokio::spawn(async move {
            let mut cursor = newest;
            loop {
                let target = format!("/messages?after={cursor}&wait=50");
                let answer = http.try_send(Request::get(&target)).await;
                let Response { status, .. } = answer.expect("an answer");
                assert_eq!(status, 200);
                cursor += 1;
                if done.send(Instant::now()).is_err() {
                    return;
                }
                if repoll == Repoll::AfterTheRound && round.changed().await.is_err()
                {
                    return;
                }
            }
        }));
    }
    let mut poster = common::connect(addr).await;
    let mut times = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        wait_until_parked(addr, n).await;
        let json = format!(r#"{{"user":"bench","text":"round {round}"}}"#);
        let start = Instant::now();
        let post = Request::post_json("/messages", &json);
        let status = poster.send(post).await.status;
        assert_eq!(status, 201);
        let mut last = start;
        for _ in 0..n {
            last = last.max(answered.recv().await.unwrap());
        }
        times.push(last - start);
        next_round.send_replace(round + 1);
    }
    for client in clients {
        client.abort();
    }
    wait_until_parked(addr, 0).await;
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let (p50, p99, max) = (at(0.50), at(0.99), times[times.len() - 1]);
    let how = match repoll {
        Repoll::AfterTheRound => "re-poll after the round",
        Repoll::AtOnce => "re-poll at once",
    };
    println!(
        "{n:>4} parked, {how:<23}: POST to last answer p50 {:>6.3} ms, \
         p99 {:>6.3} ms, max {:>6.3} ms",
        ms(p50),
        ms(p99),
        ms(max)
    );
    Percentiles { p50 }
}

/// The CPU time the server process `pid` uses in 5 s while `n`
/// requests are parked and nothing is posted.
async fn idle(addr: SocketAddr, pid: u32, n: usize) {
    let newest = newest_id(addr).await;
    let mut clients = Vec::new();
    for _ in 0..n {
        let mut http = common::connect(addr).await;
        let target = format!("/messages?after={newest}&wait=50");
        http.write(Request::get(&target)).await;
        clients.push(http);
    }
    wait_until_parked(addr, n).await;
    let before = cpu_time(pid);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let used = cpu_time(pid) - before;
    println!(
        "{n:>4} parked, idle for 5 s: the server used {:.0} ms of CPU time \
         (Linux counts it in 10 ms steps)",
        ms(used)
    );
    drop(clients);
    wait_until_parked(addr, 0).await;
}

/// `messages` posted back to back while `n` clients long-poll: how
/// many answers carry them, against one answer per message per client.
async fn storm(addr: SocketAddr, n: usize, messages: u64) {
    let newest = newest_id(addr).await;
    let target_id = newest + messages;
    let mut clients = Vec::new();
    for _ in 0..n {
        let mut http = common::connect(addr).await;
        clients.push(tokio::spawn(async move {
            let (mut cursor, mut answers) = (newest, 0u64);
            while cursor < target_id {
                let target = format!("/messages?after={cursor}&wait=50");
                let answer = http.try_send(Request::get(&target)).await;
                let Response { status, body, .. } = answer.expect("an answer");
                assert_eq!(status, 200);
                let got: Vec<serde_json::Value> =
                    serde_json::from_slice(&body).unwrap();
                cursor = got.last().unwrap()["id"].as_u64().unwrap();
                answers += 1;
            }
            answers
        }));
    }
    wait_until_parked(addr, n).await;
    let mut poster = common::connect(addr).await;
    let start = Instant::now();
    for i in 0..messages {
        let json = format!(r#"{{"user":"bench","text":"storm {i}"}}"#);
        let post = Request::post_json("/messages", &json);
        let status = poster.send(post).await.status;
        assert_eq!(status, 201);
    }
    let mut answers = 0;
    for client in clients {
        answers += client.await.unwrap();
    }
    let elapsed = start.elapsed();
    let worst = n as u64 * messages;
    println!(
        "storm: {messages} messages to {n} clients in {:.0} ms: {answers} \
         answers (one per message per client would be {worst}), {:.1} \
         messages per answer",
        ms(elapsed),
        (n as u64 * messages) as f64 / answers as f64
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The id of the newest message, read page by page with `wait=0`.
async fn newest_id(addr: SocketAddr) -> u64 {
    let mut http = common::connect(addr).await;
    let mut cursor = 0;
    loop {
        let target = format!("/messages?after={cursor}&wait=0");
        let answer = http.try_send(Request::get(&target)).await;
        let Response { status, body, .. } = answer.expect("an answer");
        if status == 204 {
            return cursor;
        }
        let page: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
        cursor = page.last().unwrap()["id"].as_u64().unwrap();
    }
}

async fn wait_until_parked(addr: SocketAddr, n: usize) {
    let limit = Instant::now() + Duration::from_secs(30);
    while parked(addr).await != n as u64 {
        assert!(Instant::now() < limit, "never {n} parked");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// User + system CPU time of process `pid` so far, from /proc.
fn cpu_time(pid: u32) -> Duration {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(path).expect("Linux's /proc");
    // Fields 14 and 15 (utime, stime), counted after the `(name)`.
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let total = ticks(11).unwrap_or(0) + ticks(12).unwrap_or(0);
    // The kernel counts in USER_HZ ticks, 100 per second on Linux.
    Duration::from_millis(total * 10)
}

/// The load average over the last minute, from /proc.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().unwrap_or("?").to_owned()
}
