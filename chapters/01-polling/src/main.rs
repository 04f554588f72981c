//! `cargo run -p ch01-polling`: serve the chat with a polling page.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use chat::flags;
use clap::Parser;

/// Chapter 1 of "The Real-Time Web, Byte by Byte": the chat, delivered
/// by short polling. Open the printed URL in two browser tabs.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:3001")]
    addr: SocketAddr,

    /// How many messages the server keeps in memory.
    #[arg(long, default_value_t = 1000, value_parser = flags::at_least_one)]
    history: usize,

    /// Seconds the page waits between two polls (0.5 is allowed).
    #[arg(long, default_value = "2", value_parser = flags::seconds)]
    interval: Duration,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = ch01_polling::Config {
        history: args.history,
        run: None,
        interval: args.interval,
    };
    chat::server::run(args.addr, |listener, shutdown| {
        ch01_polling::serve(listener, config, shutdown)
    })
    .await
}
