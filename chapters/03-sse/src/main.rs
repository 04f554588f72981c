//! `cargo run -p ch03-sse`: serve the chat with an EventSource page.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use chat::flags;
use clap::Parser;

/// Chapter 3 of "The Real-Time Web, Byte by Byte": the chat, delivered
/// by Server-Sent Events. Open the printed URL in two browser tabs.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:3003")]
    addr: SocketAddr,

    /// How many messages the server keeps in memory.
    #[arg(long, default_value_t = 1000, value_parser = flags::at_least_one)]
    history: usize,

    /// Seconds without an event before the server sends a comment
    /// line, so that proxies do not close the quiet connection.
    #[arg(long, default_value = "15", value_parser = flags::seconds)]
    heartbeat: Duration,

    /// Seconds the browser waits before it reconnects (sent to it as
    /// `retry:` in milliseconds).
    #[arg(long, default_value = "2", value_parser = flags::seconds)]
    retry: Duration,

    /// Seconds to answer 204 to reconnecting pages after Ctrl-C, so
    /// that they stop trying (0 stops at once).
    #[arg(long, default_value = "3", value_parser = flags::seconds_or_zero)]
    drain: Duration,

    /// How many event streams may be open at once; past it, a new one
    /// gets 503 with Retry-After.
    #[arg(long, default_value_t = 10_000, value_parser = flags::at_least_one)]
    max_connections: usize,

    /// Seconds one write may wait for a client that reads nothing
    /// before the server closes its connection (0: wait for ever).
    #[arg(long, default_value = "30", value_parser = flags::seconds_or_zero)]
    write_timeout: Duration,

    /// An origin (like `http://127.0.0.1:8080`) whose pages may read
    /// the stream and the chat from another origin, with cookies; `*`
    /// allows every origin, without cookies. Repeat it for more.
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = ch03_sse::Config {
        history: args.history,
        run: None,
        heartbeat: args.heartbeat,
        retry: args.retry,
        drain: args.drain,
        max_connections: args.max_connections,
        write_timeout: Some(args.write_timeout).filter(|t| !t.is_zero()),
    };
    chat::server::run(args.addr, |listener, shutdown| {
        let allow = ch03_sse::cors::AllowOrigins::new(args.allow_origin);
        ch03_sse::serve_allowing(listener, config, allow, shutdown)
    })
    .await
}
