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
    chat::server::init_tracing();
    // Before `bind` prints its line: see `shutdown_signal`.
    let shutdown = chat::server::shutdown_signal();
    let listener = match chat::server::bind(args.addr).await {
        Ok(listener) => listener,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::FAILURE;
        }
    };
    let config = ch01_polling::Config {
        history: args.history,
        interval: args.interval,
    };
    ch01_polling::serve(listener, config, shutdown).await;
    ExitCode::SUCCESS
}
