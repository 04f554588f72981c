//! `cargo run --release -p ch06-choosing`: measure every technique
//! and write the tables and charts into the book's source.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chat::flags::{at_least_one, seconds};
use clap::{Parser, Subcommand};

use ch06_choosing::{Sizes, Technique};

/// Chapter 6 of "The Real-Time Web, Byte by Byte": runs each chapter's
/// server on 127.0.0.1, drives real clients of each technique through
/// the same chat, and writes Markdown tables and SVG charts.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Where to write the tables and charts (default: the book's
    /// src/06-choosing folder in this workspace).
    #[arg(long)]
    out: Option<PathBuf>,

    /// Only these techniques (repeat the flag); default: all eight.
    #[arg(long, value_enum)]
    only: Vec<Technique>,

    /// Chat at human pace: how many readers, through the tap.
    #[arg(long, default_value_t = 20, value_parser = at_least_one)]
    clients: usize,

    /// Chat at human pace: how many messages are posted. With the
    /// default gap, the run ends before chapter 4's first ping (30 s),
    /// so the bytes are the messages' alone.
    #[arg(long, default_value_t = 12, value_parser = at_least_one)]
    messages: usize,

    /// Chat at human pace: seconds between two messages.
    #[arg(long, default_value = "2.5", value_parser = seconds)]
    gap: Duration,

    /// Fan-out: how many readers.
    #[arg(long, default_value_t = 1000, value_parser = at_least_one)]
    fan_out_clients: usize,

    /// Fan-out: the most messages (one per round).
    #[arg(long, default_value_t = 200, value_parser = at_least_one)]
    rounds: usize,

    /// Fan-out: the most seconds one technique may take.
    #[arg(long, default_value = "20", value_parser = seconds)]
    fan_out_time: Duration,

    /// Fan-out: how many times each technique runs (in turns); the
    /// table shows the run with the median CPU time.
    #[arg(long, default_value_t = 3, value_parser = at_least_one)]
    repeats: usize,

    /// Burst: how many messages are posted back to back, to
    /// --fan-out-clients readers (polling is left out).
    #[arg(long, default_value_t = 200, value_parser = at_least_one)]
    burst: usize,

    /// Idle: the numbers of idle readers, comma-separated.
    #[arg(
        long,
        default_value = "1000,10000",
        value_delimiter = ',',
        value_parser = at_least_one
    )]
    idle: Vec<usize>,

    /// Seconds between two polls of a polling client (default:
    /// chapter 1's page, 2 s).
    #[arg(long, value_parser = seconds)]
    interval: Option<Duration>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve one technique, as the chapter's binary does (the harness
    /// runs this as a child process, to measure the server alone).
    Serve {
        #[arg(value_enum)]
        technique: Technique,
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:3006")]
        addr: SocketAddr,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    // The servers log each request at `info`; writing those lines is
    // not what is measured. The servers run in child processes, which
    // inherit this. It is set here, before the runtime starts its
    // threads: changing the environment while another thread may read
    // it is undefined behaviour on most Unix systems.
    if args.command.is_none() && std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "warn");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run(args)),
        Err(why) => {
            eprintln!("error: cannot start the runtime: {why}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> ExitCode {
    if let Some(Command::Serve { technique, addr }) = args.command {
        // As the chapter's binary does: see `chat::server::run`.
        return chat::server::run(addr, |listener, shutdown| {
            technique.serve(listener, shutdown)
        })
        .await;
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(why) => {
            eprintln!("error: cannot find this program's path: {why}");
            return ExitCode::FAILURE;
        }
    };
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../src/06-choosing")
    });
    let techniques = if args.only.is_empty() {
        Technique::ALL.to_vec()
    } else {
        args.only
    };
    let sizes = Sizes {
        clients: args.clients,
        messages: args.messages,
        gap: args.gap,
        fan_out_clients: args.fan_out_clients,
        rounds: args.rounds,
        fan_out_time: args.fan_out_time,
        repeats: args.repeats,
        burst: args.burst,
        idle: args.idle,
        interval: args
            .interval
            .unwrap_or_else(ch06_choosing::technique::poll_interval),
    };
    let say = |line: &str| eprintln!("{line}");
    match ch06_choosing::run(&techniques, &sizes, &exe, &out, say).await {
        Ok(results) => {
            println!("wrote {} in {:.0} s", out.display(), results.seconds);
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("error: {why}");
            ExitCode::FAILURE
        }
    }
}
