//! `cargo run -p wire -- --listen 127.0.0.1:4000 --to 127.0.0.1:3001`
//!
//! Runs the tap by hand: point a browser or curl at the `--listen`
//! address and watch every byte of the conversation as it happens,
//! decoded the same way as the book's transcripts.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tokio::sync::mpsc;
use wire::tap::Tap;
use wire::transcript::{render_row, Decoder, Normalizer, Row};

/// Records and shows what crosses each TCP connection between a client
/// and a server: HTTP heads, bodies and chunk sizes, CR LF made visible.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address the tap listens on; clients connect here.
    #[arg(long, default_value = "127.0.0.1:4000")]
    listen: SocketAddr,

    /// Address of the server the tap passes every byte on to.
    #[arg(long)]
    to: SocketAddr,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let (live, mut events) = mpsc::unbounded_channel();
    let tap = match Tap::start_on(args.listen, args.to, Some(live)).await {
        Ok(tap) => tap,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    println!("tapping http://{} → {}", tap.addr(), tap.upstream());
    println!(
        "open http://{} in a browser, or use curl; Ctrl-C stops",
        tap.addr()
    );
    let mut decoder = Decoder::new();
    // Live output keeps real dates and ports: nothing to compare with.
    let plain = Normalizer::none();
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                for row in decoder.push(&event) {
                    print_row(&row, &plain);
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    for row in decoder.finish() {
        print_row(&row, &plain);
    }
    for (conn, [up, down]) in decoder.counts() {
        println!(
            "C{conn} → {} B ({} payload), ← {} B ({} payload)",
            up.total(),
            up.payload,
            down.total(),
            down.payload
        );
    }
    ExitCode::SUCCESS
}

fn print_row(row: &Row, normalizer: &Normalizer) {
    if let Row::End { conn, dir, summary } = row {
        println!("C{conn} {} ══ {summary}", dir.arrow());
        return;
    }
    for line in render_row(row, normalizer) {
        println!("{line}");
    }
}
