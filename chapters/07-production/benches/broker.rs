//! `cargo bench -p ch07-production`: what the broker hop costs per
//! delivered message, with one, two and three servers behind nginx,
//! beside chapter 3's server alone.
//!
//! The setups, the clients and the numbers are in `tests/measure`,
//! which `tests/measure_small.rs` runs too, tiny, under `cargo test`.
//! This runs them at full size, prints the tables and a reading of
//! them, and writes the tables into the book's source:
//! `src/07-production/measured.md`, which the chapter includes.
//!
//! Cargo builds this bench and the chapter's binary for release, so
//! the servers measured are what a reader deploys.

#[path = "../tests/measure/mod.rs"]
mod measure;

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use measure::Sizes;

// ANCHOR: sizes
/// 100 streams, 300 messages: a full run of every setup three times
/// stays well under three minutes on two cores.
const SIZES: Sizes = Sizes {
    clients: 100,
    rounds: 300,
    warmup: 10,
    repeats: 3,
    gap: Duration::from_millis(5),
};
// ANCHOR_END: sizes

/// Where the book's chapter 7 includes the tables from.
const OUT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../src/07-production/measured.md"
);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == measure::SERVE_CHAPTER_3) {
        return serve_chapter_3(&args);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime for the clients");
    // Chapter 3's server in a process of its own, as chapter 7's
    // servers are: this program again, started as `serve-chapter-3`.
    let exe = std::env::current_exe().expect("the bench's own path");
    let alone = measure::Alone::Process(exe);
    let run = measure::run(&SIZES, &alone, |line| println!("{line}"));
    let results = runtime.block_on(run);
    let results = match results {
        Ok(Some(results)) => results,
        // Redis or nginx is missing: `find` said which, and how to
        // install it. Nothing is written.
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => panic!("the bench failed: {e}"),
    };
    let text = measure::markdown(&results);
    println!("\n{text}");
    println!("{}", measure::reading(&results));
    let out = Path::new(OUT);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).expect("create src/07-production");
    }
    std::fs::write(out, text).expect("write measured.md");
    println!("written: src/07-production/measured.md");
    ExitCode::SUCCESS
}

// ANCHOR: serve_chapter_3
/// Chapter 3's `main` with its flags at their defaults: the same
/// runtime (`#[tokio::main]`: one worker per core), the same logs
/// (`RUST_LOG`, set to `warn` by the harness), the same `listening
/// on` line and `ch03_sse::serve`. Cargo builds only this package's
/// binaries for its bench, so chapter 3's own is not at hand; its
/// library is, compiled for release like this bench.
fn serve_chapter_3(args: &[String]) -> ExitCode {
    let addr = args
        .iter()
        .skip_while(|a| *a != "--addr")
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime for chapter 3");
    let config = ch03_sse::Config::default();
    runtime.block_on(chat::server::run(addr, |listener, shutdown| {
        ch03_sse::serve(listener, config, shutdown)
    }))
}
// ANCHOR_END: serve_chapter_3
