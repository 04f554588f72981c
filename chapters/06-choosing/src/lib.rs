//! Chapter 6: every technique of the book, measured side by side.
//!
//! The harness starts each chapter's server, drives real clients of
//! its technique through the same chat over 127.0.0.1, and writes the
//! numbers into the book's source as Markdown tables and SVG charts.
//!
//! - [`technique`]: the four chapters' servers, and the floor.
//! - [`floor`]: a bare TCP broadcaster, the least any technique costs.
//! - [`http`]: a small HTTP/1.1 client on a raw socket.
//! - [`clients`]: one client per technique, doing what its page does.
//! - [`measure`]: the three runs: bytes and delay, fan-out, idle.
//! - [`machine`]: CPU time, memory and the machine, from `/proc`.
//! - [`report`]: the tables, the charts, the caption.

pub mod clients;
pub mod floor;
pub mod http;
pub mod machine;
pub mod measure;
pub mod report;
pub mod technique;
pub mod tls;

use std::io;
use std::path::Path;
use std::time::Instant;

pub use measure::Sizes;
pub use report::Results;
pub use technique::Technique;

/// Runs every measurement for `techniques` and writes the results into
/// `out`. `exe` is this harness's binary: the fan-out and idle runs
/// start it as `exe serve TECHNIQUE` to get a server process of its
/// own. `say` hears one line per finished measurement.
pub async fn run(
    techniques: &[Technique],
    sizes: &Sizes,
    exe: &Path,
    out: &Path,
    say: impl Fn(&str),
) -> io::Result<Results> {
    let start = Instant::now();
    let open_files = machine::raise_open_files();
    let machine = machine::Machine::read();
    let mut results = Results {
        machine,
        sizes: sizes.clone(),
        open_files,
        wire: Vec::new(),
        fan_out: Vec::new(),
        burst: Vec::new(),
        idle: Vec::new(),
        seconds: 0.0,
    };
    let delivering: Vec<Technique> = techniques
        .iter()
        .copied()
        .filter(|t| t.delivers())
        .collect();
    let techniques_all = techniques;
    let techniques = &delivering[..];
    for &technique in techniques {
        let row = measure::wire(technique, sizes).await?;
        say(&format!("{row:?}"));
        results.wire.push(row);
    }
    // The fan-out's CPU time varies from run to run on a shared
    // machine (the other programs, the cores' clock). So each
    // technique runs several times, all techniques in turn, and the
    // table keeps each technique's run with the median CPU time.
    let mut runs: Vec<Vec<measure::FanOutRow>> = vec![Vec::new(); techniques.len()];
    for _ in 0..sizes.repeats.max(1) {
        for (i, &technique) in techniques.iter().enumerate() {
            let row = measure::fan_out(technique, sizes, exe).await?;
            say(&format!("{row:?}"));
            runs[i].push(row);
        }
    }
    for mut rows in runs {
        rows.sort_by(|a, b| a.cpu_micros.total_cmp(&b.cpu_micros));
        results.fan_out.push(rows.swap_remove(rows.len() / 2));
    }
    // Polling's delay is its interval, burst or not: left out.
    for &technique in techniques.iter().filter(|t| **t != Technique::Polling) {
        let row = measure::burst(technique, sizes, exe).await?;
        say(&format!("{row:?}"));
        results.burst.push(row);
    }
    for &technique in techniques_all {
        for &n in &sizes.idle {
            let row = measure::idle(technique, n, sizes, exe).await?;
            say(&format!("{row:?}"));
            results.idle.push(row);
        }
    }
    results.machine.load_after = machine::load_average();
    results.seconds = start.elapsed().as_secs_f64();
    report::write(&results, out)?;
    Ok(results)
}
