//! `cargo run -p ch02-long-polling`: serve the chat with a long-polling
//! page.

use std::net::SocketAddr;
use std::process::ExitCode;

use chat::flags;
use clap::Parser;

/// Chapter 2 of "The Real-Time Web, Byte by Byte": the chat, delivered
/// by long polling. Open the printed URL in two browser tabs.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:3002")]
    addr: SocketAddr,

    /// How many messages the server keeps in memory.
    #[arg(long, default_value_t = 1000, value_parser = flags::at_least_one)]
    history: usize,

    /// How many requests may wait for news at the same time; more
    /// are refused with 503 and Retry-After.
    #[arg(long, default_value_t = 10_000, value_parser = flags::at_least_one)]
    max_waiters: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = ch02_long_polling::Config {
        history: args.history,
        run: None,
        max_waiters: args.max_waiters,
    };
    chat::server::run(args.addr, |listener, shutdown| {
        ch02_long_polling::serve(listener, config, shutdown)
    })
    .await
}
