//! The chapters that the book runs: each one's name, port and `serve`.
//!
//! Every chapter crate has the same `serve(listener, config, shutdown)`
//! (chapter 1 explains why a server takes its listener and its stop
//! signal as arguments). The book calls it exactly as the chapter's own
//! `main.rs` does, with the chapter's default settings, so a page in
//! the book behaves as `cargo run -p chNN-…` does.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::OnceLock;

use ch07_production::RedisLog;
use chat::server::Signal;
use tokio::net::TcpListener;

/// How the book starts a chapter's server: on this listener, until
/// this signal.
pub type Serve = fn(TcpListener, Signal) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// One chapter that the book runs.
#[derive(Clone, Copy, Debug)]
pub struct Chapter {
    /// Its folder under `chapters/` and its page under `src/`:
    /// `03-sse` is `chapters/03-sse` and `src/03-sse.md`. A page's
    /// panel names its chapter this way (`data-chapter="03-sse"`).
    pub name: &'static str,
    /// Its number; its usual port is 3000 + the number.
    pub number: u16,
    /// Its title, as the page's heading says it.
    pub title: &'static str,
    pub serve: Serve,
}

impl Chapter {
    /// Where the chapter's tap listens when the book is at `book`: the
    /// same host, and the book's port + the chapter's number (3003 for
    /// chapter 3 when the book is on 3000). When the book asks for any
    /// free port (port 0), so does every chapter.
    pub fn addr(&self, book: SocketAddr) -> Result<SocketAddr, String> {
        let port = match book.port() {
            0 => 0,
            port => port.checked_add(self.number).ok_or_else(|| {
                format!("no port {port} + {} for {}", self.number, self.name)
            })?,
        };
        Ok(SocketAddr::new(book.ip(), port))
    }
}

/// The Redis that chapter 7 uses by default: the one a reader starts
/// with `redis-server`, as for `cargo run -p ch07-production`.
pub const REDIS: &str = "redis://127.0.0.1:6379";

/// The Redis of this process's book (`--redis`), set once by `main`
/// before any chapter starts; [`REDIS`] when it is not set.
static REDIS_URL: OnceLock<String> = OnceLock::new();

/// Chapter 7 uses the Redis at `url` (`--redis`). Call it once, before
/// any chapter starts; a later call changes nothing.
pub fn use_redis(url: String) {
    let _ = REDIS_URL.set(url);
}

fn redis_url() -> &'static str {
    REDIS_URL.get().map_or(REDIS, String::as_str)
}

/// Whether chapter 7 can run: `Err` says why not, in one line.
pub async fn production_ready() -> Result<(), String> {
    match RedisLog::connect(redis_url(), "chat", 1).await {
        Ok(_) => Ok(()),
        Err(why) => Err(why.lines().next().unwrap_or_default().to_owned()),
    }
}

/// Chapter 7's `serve`, on the book's Redis.
async fn production(listener: TcpListener, shutdown: Signal) {
    let config = ch07_production::Config::default();
    let history = config.sse.history;
    let log = match RedisLog::connect(redis_url(), "chat", history).await {
        Ok(log) => log,
        Err(why) => return tracing::warn!("chapter 7 needs Redis: {why}"),
    };
    // Spawned, and the task awaited: rustc cannot prove the future of
    // `serve` `Send` once it is inside another `async fn` (the redis
    // crate holds references across `.await`), but it can here.
    let server = ch07_production::serve(listener, log, config, shutdown);
    let _ = tokio::spawn(server).await;
}

/// Every chapter that the book runs, in the book's order.
pub fn all() -> Vec<Chapter> {
    vec![
        Chapter {
            name: "01-polling",
            number: 1,
            title: "Polling",
            serve: |listener, shutdown| {
                let config = ch01_polling::Config::default();
                Box::pin(ch01_polling::serve(listener, config, shutdown))
            },
        },
        Chapter {
            name: "02-long-polling",
            number: 2,
            title: "Long polling",
            serve: |listener, shutdown| {
                let config = ch02_long_polling::Config::default();
                Box::pin(ch02_long_polling::serve(listener, config, shutdown))
            },
        },
        Chapter {
            name: "03-sse",
            number: 3,
            title: "Server-Sent Events",
            serve: |listener, shutdown| {
                let config = ch03_sse::Config::default();
                Box::pin(ch03_sse::serve(listener, config, shutdown))
            },
        },
        Chapter {
            name: "04-websocket",
            number: 4,
            title: "WebSocket",
            serve: |listener, shutdown| {
                let config = ch04_websocket::Config::default();
                Box::pin(ch04_websocket::serve(listener, config, shutdown))
            },
        },
        Chapter {
            name: "05-http2",
            number: 5,
            title: "HTTP/2",
            // Only the `http://` listener (HTTP/1.1 and h2c): a tap in
            // front of `https://` would see TLS records, which it
            // cannot read (chapter 5, "TLS and ALPN").
            serve: |listener, shutdown| {
                let config = ch05_http2::Config::default();
                Box::pin(ch05_http2::serve(listener, None, config, shutdown))
            },
        },
        Chapter {
            name: "07-production",
            number: 7,
            title: "In production",
            // One server of chapter 7, on the Redis that a reader runs
            // (`main.rs` leaves the chapter out when none answers).
            // It shares the log with `cargo run -p ch07-production`.
            serve: |listener, shutdown| Box::pin(production(listener, shutdown)),
        },
        // A LATER CHAPTER GOES HERE: one more `Chapter { … }`, and a
        // panel in its page (see `src/03-sse.md`, "Try it"). Nothing
        // else in the book changes.
    ]
}
