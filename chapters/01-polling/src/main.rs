//! `cargo run -p ch01-polling`: serve the chat with a polling page.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

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
    #[arg(long, default_value_t = 1000, value_parser = at_least_one)]
    history: usize,

    /// Seconds the page waits between two polls (0.5 is allowed).
    #[arg(long, default_value = "2", value_parser = seconds)]
    interval: Duration,
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "expected a whole number of at least 1, not {text:?}"
        )),
    }
}

fn seconds(text: &str) -> Result<Duration, String> {
    let parsed = text
        .parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0 && *s <= 3600.0);
    let why = || format!("expected seconds between 0 and 3600, not {text:?}");
    parsed.map(Duration::from_secs_f64).ok_or_else(why)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    chat::server::init_tracing();
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
    ch01_polling::serve(listener, config, chat::server::shutdown_signal()).await;
    ExitCode::SUCCESS
}
