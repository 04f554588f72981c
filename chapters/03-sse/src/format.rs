//! The bytes of a `text/event-stream` body, written by hand.
//!
//! warp has a ready-made `warp::sse`, but it writes fields in its own
//! order (comment, event, data, id, retry) and without the space after
//! the colon (`data:x`). This chapter is about the format, so it writes
//! the lines itself: what the transcripts show is what this file says.
//!
//! The rules are in the WHATWG HTML Standard, §9.2 "Server-sent events":
//! a stream is lines ending in LF, and an empty line ends an event.

use std::fmt::Write;
use std::time::Duration;

// ANCHOR: retry
/// `retry: 2000`: how long the browser waits before it reconnects
/// after the connection drops. The empty line closes the block: it
/// dispatches nothing, as the block has no `data` (§9.2.6).
pub fn retry(after: Duration) -> String {
    format!("retry: {}\n\n", after.as_millis())
}
// ANCHOR_END: retry

// ANCHOR: event
/// One event: an optional `id`, its type, and its data. Each line of
/// `data` becomes its own `data:` line, because a line end inside a
/// field would end the field (§9.2.5). The browser joins the `data`
/// lines with LF again, so `event.data` is exactly `data`.
pub fn event(kind: &str, id: Option<&str>, data: &str) -> String {
    let mut out = String::new();
    // The browser keeps this id and, after a drop, sends it back in
    // the `Last-Event-ID` header: the resume point.
    if let Some(id) = id {
        let _ = writeln!(out, "id: {id}");
    }
    let _ = writeln!(out, "event: {kind}");
    // CR LF, a lone CR and a lone LF all end a line in this format.
    let data = data.replace("\r\n", "\n").replace('\r', "\n");
    for line in data.split('\n') {
        let _ = writeln!(out, "data: {line}");
    }
    // The empty line dispatches the event.
    out.push('\n');
    out
}
// ANCHOR_END: event

// ANCHOR: comment
/// A comment line: the browser ignores it. Sent when the stream has
/// been quiet for a while, it keeps proxies and load balancers from
/// closing a connection they think is idle.
pub fn comment(text: &str) -> String {
    format!(": {text}\n")
}
// ANCHOR_END: comment

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_data_gets_its_own_field() {
        let text = event("reset", Some("b2.4"), "one\ntwo\r\nthree\rfour");
        assert_eq!(
            text,
            "id: b2.4\nevent: reset\ndata: one\ndata: two\ndata: three\n\
             data: four\n\n"
        );
        assert_eq!(event("message", None, ""), "event: message\ndata: \n\n");
        assert_eq!(retry(Duration::from_millis(1500)), "retry: 1500\n\n");
    }
}
