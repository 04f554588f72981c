//! The bench's code (`benches/broker.rs`), run tiny: every setup
//! starts, every stream gets every message, and every number the
//! tables show is there. Speed is not asserted: this checks the
//! measuring, not the machine.

mod measure;

use std::time::Duration;

use measure::{Alone, Setup, Sizes, SETUPS};

#[tokio::test(flavor = "multi_thread")]
async fn every_setup_delivers_every_message_and_is_counted() {
    let sizes = Sizes {
        clients: 4,
        rounds: 5,
        warmup: 1,
        repeats: 1,
        gap: Duration::from_millis(1),
    };
    // Chapter 3 runs in this process: a test binary cannot be started
    // as a server, as the bench starts itself. `None`: Redis or nginx
    // is not installed; `find` said so.
    let Some(results) = measure::run(&sizes, &Alone::InProcess, |_| {})
        .await
        .expect("the run")
    else {
        return;
    };
    assert_eq!(results.rows.len(), SETUPS.len());
    for row in &results.rows {
        let name = row.setup.name();
        assert_eq!(row.delivered, 4 * 5, "{name}: every stream, every message");
        assert_eq!(row.delivered, row.expected, "{name}");
        assert!(row.last.p50 > 0 && row.last.p99 >= row.last.p50, "{name}");
        assert!(
            row.median.p50 > 0 && row.median.p50 <= row.last.p50,
            "{name}"
        );
        for (process, us) in &row.cpu {
            assert!(*us > 0.0, "{name}: no CPU time read for {process}");
        }
        let streams: usize = row.spread.iter().map(|(_, n)| n).sum();
        assert_eq!(streams, 4, "{name}");
    }
    // Round robin deals 4 streams to 3 servers as 2, 1, 1.
    let three = measure::row_of(&results, Setup::Proxied(3)).unwrap();
    let spread: Vec<usize> = three.spread.iter().map(|(_, n)| *n).collect();
    assert_eq!(spread, [2, 1, 1]);
    let text = measure::markdown(&results);
    for line in text.lines() {
        assert!(line.chars().count() <= 85, "too long for a page: {line}");
    }
    assert!(text.contains("| nginx + 3 servers |"), "{text}");
    assert!(measure::reading(&results).contains("the broker hop"));
}
