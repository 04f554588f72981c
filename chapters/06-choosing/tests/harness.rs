//! The harness at a tiny size: a few readers, a few messages, in a
//! debug build, into a temporary folder. It checks the shape of what
//! is written, never a number: speed is measured by the full run
//! (see the README), not asserted in tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ch06_choosing::report::{CHARTS, TABLES};
use ch06_choosing::{Sizes, Technique};

fn tiny() -> Sizes {
    Sizes {
        clients: 2,
        messages: 3,
        gap: Duration::from_millis(100),
        fan_out_clients: 5,
        rounds: 3,
        fan_out_time: Duration::from_secs(5),
        repeats: 2,
        burst: 4,
        idle: vec![5, 10],
        interval: Duration::from_millis(300),
    }
}

/// The rows of the Markdown table in `file`, each a list of cells;
/// the header first, the alignment line left out.
fn rows(file: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .filter(|line| line.starts_with('|') && !line.starts_with("|---"))
        .map(|line| {
            let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
            inner.split('|').map(|c| c.trim().to_owned()).collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_technique_reports_every_column() {
    let dir = tempfile::tempdir().unwrap();
    let out: PathBuf = dir.path().join("06-choosing");
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_ch06-choosing"));
    let sizes = tiny();
    let run = ch06_choosing::run(&Technique::ALL, &sizes, &exe, &out, |_| {});
    // A bound for a hang, not a measure of speed.
    let results = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the tiny run ends")
        .expect("the tiny run works");
    let delivering: Vec<Technique> = Technique::ALL
        .into_iter()
        .filter(|t| t.delivers())
        .collect();
    assert_eq!(results.wire.len(), delivering.len());

    let all: Vec<&str> = Technique::ALL.iter().map(|t| t.name()).collect();
    let names: Vec<&str> = delivering.iter().map(|t| t.name()).collect();
    let burst: Vec<&str> = names[1..].to_vec(); // polling left out
    let expected = [
        ("bytes.md", &names),
        ("delivery.md", &names),
        ("fan-out.md", &names),
        ("burst.md", &burst),
        ("idle.md", &all),
    ];
    for (table, names) in expected {
        let rows = rows(&out.join(table));
        assert!(rows.len() > 1, "{table} has a header and rows");
        let width = rows[0].len();
        let firsts: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
        assert_eq!(&firsts, names, "{table}: one row per technique, in order");
        for row in &rows[1..] {
            assert_eq!(row.len(), width, "{table}: {row:?} has every column");
            for cell in &row[1..] {
                // A number, possibly with a unit or a ratio; not empty,
                // not "n/a".
                let starts_with_digit =
                    cell.chars().next().is_some_and(|c| c.is_ascii_digit());
                assert!(
                    starts_with_digit,
                    "{table}: {cell:?} in {row:?} is a number"
                );
            }
        }
    }
    // Every message reached every reader in the two runs that count.
    for row in rows(&out.join("delivery.md")).iter().skip(1) {
        let (got, wanted) = row[3].split_once('/').unwrap();
        assert_eq!(got, wanted, "chat at human pace: {row:?}");
    }
    for table in ["fan-out.md", "burst.md"] {
        for row in rows(&out.join(table)).iter().skip(1) {
            let (got, wanted) = row[1].split_once('/').unwrap();
            assert_eq!(got, wanted, "{table}: {row:?}");
        }
    }
    // The targets: each says what was measured and whether it was met.
    let targets = rows(&out.join("targets.md"));
    assert_eq!(targets[0], ["target", "measured", "met"]);
    // Overhead (5), idle (2), long polling (1), CPU (2), p99 (2 × 2).
    assert!(
        targets.len() >= 1 + 5 + 2 + 1 + 2 + 4,
        "every target has a row"
    );
    for row in &targets[1..] {
        assert!(row[1].chars().next().is_some_and(|c| c.is_ascii_digit()));
        assert!(row[2] == "yes" || row[2] == "no", "{row:?}");
    }
    // The caption names the machine and the build, within the width.
    let caption = std::fs::read_to_string(out.join("machine.md")).unwrap();
    assert!(caption.contains("CPU cores") && caption.contains("debug build"));
    for name in TABLES.iter().chain(CHARTS.iter()) {
        let text = std::fs::read_to_string(out.join(name)).unwrap();
        for line in text.lines().filter(|_| name.ends_with(".md")) {
            assert!(line.chars().count() <= 85, "{name}: {line:?} is too wide");
        }
        if name.ends_with(".svg") {
            assert!(text.starts_with("<svg"), "{name} is an SVG");
            let shown = if *name == "memory.svg" { &all } else { &names };
            for technique in shown {
                assert!(text.contains(technique), "{name} names {technique}");
            }
        }
    }
}
