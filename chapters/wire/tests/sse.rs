//! The event-stream decoder against a parser written by someone else
//! (the `eventsource-stream` crate), on generated streams cut at every
//! byte boundary. Both must dispatch the same events, whatever the cut.
//!
//! Known differences, kept out of the generated streams on purpose:
//! - `retry: +5`: that crate takes it (Rust's number parser allows a
//!   `+`); the HTML Standard wants ASCII digits only. Our unit tests
//!   check that we ignore it.
//! - a stream that ends in a lone CR: that crate waits for a possible
//!   LF; the standard ends the line at once. Streams here end in LF.
//! - a leading BOM: that crate panics (it cuts the 3-byte BOM after
//!   its first byte). It gets the stream without the BOM, which is
//!   what the standard says a leading BOM means; ours gets the BOM.
//! - bytes that are not UTF-8: that crate stops with an error; the
//!   standard decodes them as U+FFFD. Streams here are UTF-8.

use eventsource_stream::EventStream;
use futures_util::{FutureExt, StreamExt};
use wire::sse::{self, Event};

/// A small deterministic random generator (xorshift64), so every run
/// checks the same streams, and a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// A stream with every feature the rules mention: three kinds of line
/// end, comments, fields with and without a colon or a space,
/// ids with NUL, retry values good and bad, unknown fields, empty data.
fn generate(rng: &mut Rng) -> String {
    let names = [
        "data", "data", "data", "id", "event", "retry", "", "bogus", "dat",
    ];
    let values = [
        "",
        "x",
        " x",
        "a:b",
        "1",
        "42",
        "1s",
        "é",
        "😀",
        "two  spaces",
        "id\0",
    ];
    let ends = ["\n", "\r", "\r\n"];
    let mut stream = String::new();
    let lines = 1 + rng.next() % 12;
    for _ in 0..lines {
        match rng.next() % 7 {
            // An empty line: dispatch.
            0 | 1 => {}
            2 => {
                stream.push(':');
                stream.push_str(rng.pick(&values));
            }
            3 => stream.push_str(rng.pick(&names)),
            _ => {
                stream.push_str(rng.pick(&names));
                stream.push_str(rng.pick(&[":", ": ", ":  "]));
                stream.push_str(rng.pick(&values));
            }
        }
        stream.push_str(rng.pick(&ends));
    }
    stream.push('\n');
    stream
}

/// The other parser, fed `parts` one after the other.
fn theirs(parts: &[&[u8]]) -> Vec<Event> {
    let chunks: Vec<Result<Vec<u8>, ()>> =
        parts.iter().map(|p| Ok(p.to_vec())).collect();
    let events = EventStream::new(futures_util::stream::iter(chunks))
        .collect::<Vec<_>>()
        .now_or_never()
        .expect("a stream of ready parts is read at once");
    events
        .into_iter()
        .map(|e| {
            let e = e.expect("valid UTF-8 always parses");
            Event {
                kind: e.event,
                data: e.data,
                last_id: e.id,
            }
        })
        .collect()
}

/// Ours, fed `parts` one after the other.
fn ours(parts: &[&[u8]]) -> Vec<Event> {
    let mut parser = sse::Parser::new();
    let mut out = Vec::new();
    for part in parts {
        parser.feed(part, &mut out);
    }
    out.into_iter()
        .filter_map(|(_, o)| match o {
            sse::Output::Dispatch(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn agrees_with_eventsource_stream_at_every_cut() {
    let mut rng = Rng(0x5eed_0003);
    let mut seen = Vec::new();
    for case in 0..300 {
        let plain = generate(&mut rng);
        let whole = theirs(&[plain.as_bytes()]);
        // Every fourth stream starts with a BOM, for us only.
        let stream = match case % 4 {
            0 => format!("\u{feff}{plain}"),
            _ => plain.clone(),
        };
        let bytes = stream.as_bytes();
        assert_eq!(ours(&[bytes]), whole, "case {case}: {stream:?}");
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(ours(&[a, b]), whole, "case {case}, ours cut at {cut}");
        }
        let plain = plain.as_bytes();
        for cut in 0..=plain.len() {
            let (a, b) = plain.split_at(cut);
            assert_eq!(theirs(&[a, b]), whole, "case {case}, theirs cut at {cut}");
        }
        let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(ours(&one_by_one), whole, "case {case}, byte by byte");
        let one_by_one: Vec<&[u8]> = plain.chunks(1).collect();
        assert_eq!(theirs(&one_by_one), whole, "case {case}, byte by byte");
        seen.extend(whole);
    }
    // The generator is not so tame that the rules go untested.
    assert!(seen.len() > 150, "only {} events", seen.len());
    assert!(seen.iter().any(|e| e.data.contains('\n')));
    assert!(seen.iter().any(|e| e.data.is_empty()));
    assert!(seen.iter().any(|e| e.kind != "message"));
    assert!(seen.iter().any(|e| e.last_id == "42"));
    assert!(seen.iter().any(|e| e.data.contains("😀")));
}
