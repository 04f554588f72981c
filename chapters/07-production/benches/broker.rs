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

use std::path::Path;
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

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime for the clients");
    let results = runtime.block_on(measure::run(&SIZES, |line| println!("{line}")));
    let results = match results {
        Ok(Some(results)) => results,
        // Redis or nginx is missing: `find` said which, and how to
        // install it. Nothing is written.
        Ok(None) => return,
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
}
