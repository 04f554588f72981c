//! `cargo run -p ch04-websocket`: serve the chat over WebSocket.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use chat::flags;
use clap::Parser;

/// Chapter 4 of "The Real-Time Web, Byte by Byte": the chat over
/// WebSocket. Open the printed URL in two browser tabs.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:3004")]
    addr: SocketAddr,

    /// How many messages the server keeps in memory.
    #[arg(long, default_value_t = 1000, value_parser = flags::at_least_one)]
    history: usize,

    /// Seconds between two pings; a peer that has not answered the
    /// last ping by the next one is dropped (0.5 is allowed).
    #[arg(long, default_value = "30", value_parser = flags::seconds)]
    ping: Duration,

    /// The largest message a client may send, in bytes (close 1009
    /// above it).
    #[arg(long, default_value_t = 16 * 1024, value_parser = flags::at_least_one)]
    max_message: usize,

    /// The most bytes one socket's write buffer may hold; a frame
    /// that does not fit drops the socket (at least 16384).
    #[arg(long, default_value_t = 1024 * 1024, value_parser = buffer)]
    max_buffer: usize,

    /// The read buffer of each socket, in bytes (tungstenite's
    /// default is 131072).
    #[arg(long, value_name = "BYTES", default_value_t = 2048,
          value_parser = flags::at_least_one)]
    read_buffer: usize,

    /// How many sockets may be open at the same time; past it, the
    /// handshake gets 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = flags::at_least_one)]
    max_connections: usize,

    /// Another origin whose pages may open a socket, such as
    /// http://localhost:8080 (repeat for more). The server's own
    /// origin is always allowed.
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,
}

/// The write buffer must hold the largest frame the server sends: a
/// message of 1000 characters is far less than 16 KiB of JSON.
fn buffer(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 16 * 1024 => Ok(n),
        _ => Err(format!(
            "expected a number of bytes of at least 16384, not {text:?}"
        )),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = ch04_websocket::Config {
        history: args.history,
        run: None,
        ping: args.ping,
        max_message: args.max_message,
        allow_origin: args.allow_origin,
        max_buffer: args.max_buffer,
        read_buffer: args.read_buffer,
        max_connections: args.max_connections,
    };
    chat::server::run(args.addr, |listener, shutdown| {
        ch04_websocket::serve(listener, config, shutdown)
    })
    .await
}
