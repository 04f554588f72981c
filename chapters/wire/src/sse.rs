//! The `text/event-stream` format, read the way a browser reads it.
//!
//! The rules are those of the WHATWG HTML Standard, §9.2.5 "Parsing an
//! event stream" and §9.2.6 "Interpreting an event stream":
//!
//! - A line ends with CR LF, a lone LF or a lone CR.
//! - One leading byte order mark (U+FEFF) is dropped.
//! - An empty line dispatches the event built so far.
//! - A line that starts with `:` is a comment, and is ignored.
//! - `name: value` sets a field; one space after the colon is dropped;
//!   a line without a colon is a field with an empty value.
//! - `data` lines are joined with LF; `id` sets the last event id
//!   (unless it contains NUL); `retry` sets the reconnection time, but
//!   only if it is all ASCII digits; other field names are ignored.
//!
//! The [`Parser`] takes bytes as they come and reports, for each line
//! that did something, where in the bytes that line ended. The
//! transcript uses that to print a note (`╰─ event message, …`) right
//! below the line that dispatched the event: it is the
//! [`body::Reader`] the connection decoder gives the HTTP decoders.
//!
//! The parser needs nothing but bytes. Only the helpers at the end,
//! which read the events out of a tap's recording, take the HTTP/1.1
//! decoder to find the bodies in it: [`crate::http1`] does not know
//! this module, so the two never import each other.

use crate::body;
use crate::escape::escape;
use crate::http1::{Http1, Piece};
use crate::record::{Dir, Event as TapEvent, EventKind};

/// An event as a browser's `EventSource` dispatches it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// The event type: `message` unless an `event:` field said else.
    /// `onmessage` sees only `message`; other types need
    /// `addEventListener(type, …)`.
    pub kind: String,
    /// The `data` lines, joined with LF.
    pub data: String,
    /// `lastEventId`: the last `id` the stream set, even in an earlier
    /// event. The browser sends it back as `Last-Event-ID`.
    pub last_id: String,
}

/// What one line of the stream did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// An empty line ended an event that had data.
    Dispatch(Event),
    /// `retry:` set the reconnection time, in milliseconds.
    Retry(u64),
    /// A comment line (`:` first); the browser ignores it.
    Comment(String),
    /// A line the rules say to ignore, and why.
    Ignored(String),
}

impl Output {
    /// The notes a transcript prints below the line: one, or for an
    /// event whose data has several lines, one more per data line.
    pub fn notes(&self) -> Vec<String> {
        let escape = |text: &str| escape(text.as_bytes());
        match self {
            Output::Dispatch(e) if e.data.contains('\n') => {
                let lines: Vec<&str> = e.data.split('\n').collect();
                let mut notes = vec![format!(
                    "event {}, lastEventId {:?}, data of {} lines joined by LF:",
                    e.kind,
                    e.last_id,
                    lines.len()
                )];
                notes.extend(lines.iter().map(|line| format!("  {}", escape(line))));
                notes
            }
            Output::Dispatch(e) => vec![format!(
                "event {}, lastEventId {:?}, data {}",
                e.kind,
                e.last_id,
                escape(&e.data)
            )],
            Output::Retry(ms) => {
                vec![format!(
                    "retry: the browser reconnects {ms} ms after a drop"
                )]
            }
            Output::Comment(_) => vec!["comment: the browser ignores it".to_owned()],
            Output::Ignored(why) => vec![format!("ignored: {why}")],
        }
    }
}

// ANCHOR: parser
/// Reads an event stream in pieces of any size.
#[derive(Clone, Debug, Default)]
pub struct Parser {
    /// Bytes of the line not yet ended.
    line: Vec<u8>,
    /// The first line may start with a byte order mark.
    past_first_line: bool,
    /// The last byte was a CR: an LF right after it ends nothing.
    after_cr: bool,
    /// The event being built: its data lines, its type.
    data: String,
    kind: String,
    /// The "last event ID buffer" of the standard.
    id_buffer: String,
}

impl Parser {
    pub fn new() -> Self {
        Parser::default()
    }

    /// Feeds the next bytes. For each line that did something, pushes
    /// `(at, output)`, where `at` is the index in `bytes` just past the
    /// byte that ended the line.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<(usize, Output)>) {
        for (i, &byte) in bytes.iter().enumerate() {
            // CR LF is one line end, not two.
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            match byte {
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    if let Some(output) = self.end_line() {
                        out.push((i + 1, output));
                    }
                }
                _ => self.line.push(byte),
            }
        }
    }

    /// One whole line, without its line end.
    fn end_line(&mut self) -> Option<Output> {
        let mut line = std::mem::take(&mut self.line);
        if !std::mem::replace(&mut self.past_first_line, true) {
            // UTF-8 decoding drops one leading BOM.
            if line.starts_with("\u{feff}".as_bytes()) {
                line.drain(..3);
            }
        }
        // The stream is always UTF-8; bad bytes become U+FFFD.
        let line = String::from_utf8_lossy(&line);
        if line.is_empty() {
            return self.dispatch();
        }
        if let Some(comment) = line.strip_prefix(':') {
            return Some(Output::Comment(comment.to_owned()));
        }
        let (name, value) = match line.split_once(':') {
            // One space after the colon is not part of the value.
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (&*line, ""),
        };
        match name {
            "event" => self.kind = value.to_owned(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if value.contains('\0') => {
                return Some(Output::Ignored("an id with a NUL".into()));
            }
            "id" => self.id_buffer = value.to_owned(),
            "retry" => {
                let digits =
                    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
                return match value.parse::<u64>() {
                    Ok(ms) if digits => Some(Output::Retry(ms)),
                    _ => Some(Output::Ignored(format!("retry {value:?}"))),
                };
            }
            other => {
                return Some(Output::Ignored(format!("unknown field {other:?}")))
            }
        }
        None
    }

    /// An empty line: the event so far goes out, if it has data.
    fn dispatch(&mut self) -> Option<Output> {
        let kind = std::mem::take(&mut self.kind);
        let mut data = std::mem::take(&mut self.data);
        if data.is_empty() {
            return None;
        }
        data.pop(); // the LF after the last data line
        let kind = if kind.is_empty() {
            "message".into()
        } else {
            kind
        };
        let last_id = self.id_buffer.clone();
        Some(Output::Dispatch(Event {
            kind,
            data,
            last_id,
        }))
    }
}
// ANCHOR_END: parser

/// The parser as the HTTP decoders use it: the notes of each line.
impl body::Reader for Parser {
    fn notes(&mut self, bytes: &[u8]) -> Vec<(usize, Vec<String>)> {
        let mut outputs = Vec::new();
        self.feed(bytes, &mut outputs);
        let notes = outputs.into_iter().map(|(at, o)| (at, o.notes()));
        notes.collect()
    }
}

/// A fresh parser for each event stream ([`body::NewReader`]).
pub fn reader() -> Box<dyn body::Reader> {
    Box::new(Parser::new())
}

/// Parses a whole stream: every dispatched event, in order.
pub fn parse(bytes: &[u8]) -> Vec<Event> {
    let mut parser = Parser::new();
    let mut out = Vec::new();
    parser.feed(bytes, &mut out);
    out.into_iter()
        .filter_map(|(_, o)| match o {
            Output::Dispatch(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// What the responses on `conn` said so far, as recorded by a tap:
/// their bodies, read as event streams, one parser per response.
pub fn outputs_in(events: &[TapEvent], conn: usize) -> Vec<Output> {
    let mut http = Http1::new();
    let mut parser = Parser::new();
    let mut out = Vec::new();
    for event in events.iter().filter(|e| e.conn == conn) {
        let EventKind::Data { dir, bytes } = &event.kind else {
            continue;
        };
        let mut pieces = Vec::new();
        http.feed(*dir, bytes, &mut pieces);
        if *dir == Dir::ToServer {
            continue;
        }
        for piece in pieces {
            match piece {
                Piece::Bytes {
                    bytes,
                    payload: true,
                } => parser.feed(&bytes, &mut out),
                Piece::End(_) => parser = Parser::new(),
                _ => {}
            }
        }
    }
    out.into_iter().map(|(_, output)| output).collect()
}

/// The events the server sent on `conn` so far. A test waits on this
/// to know what a client has received.
pub fn events_in(events: &[TapEvent], conn: usize) -> Vec<Event> {
    let outputs = outputs_in(events, conn).into_iter();
    outputs
        .filter_map(|o| match o {
            Output::Dispatch(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// How many comment lines (heartbeats) the server sent on `conn`.
pub fn comments_in(events: &[TapEvent], conn: usize) -> usize {
    let outputs = outputs_in(events, conn).into_iter();
    outputs.filter(|o| matches!(o, Output::Comment(_))).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, data: &str, last_id: &str) -> Event {
        Event {
            kind: kind.into(),
            data: data.into(),
            last_id: last_id.into(),
        }
    }

    #[test]
    fn the_examples_of_the_standard() {
        // From §9.2.6 of the HTML Standard: data lines join with LF.
        let stream = b"data: YHOO\ndata: +2\ndata: 10\n\n";
        assert_eq!(parse(stream), [event("message", "YHOO\n+2\n10", "")]);
        // A comment, an id that stays, an id that is cleared, and one
        // space (only one) dropped after the colon.
        let stream = b": test stream\n\ndata: first event\nid: 1\n\n\
            data:second event\nid\n\ndata:  third event\n";
        assert_eq!(
            parse(stream),
            [
                event("message", "first event", "1"),
                event("message", "second event", "")
            ]
        );
        // A field name alone is a field with an empty value. An empty
        // data line still counts; an event never ended is not sent.
        let stream = b"data\n\ndata\ndata\n\ndata:";
        let expected = [event("message", "", ""), event("message", "\n", "")];
        assert_eq!(parse(stream), expected);
    }

    #[test]
    fn line_ends_bom_nul_and_retry() {
        let stream = "\u{feff}event: reset\rdata: a\r\ndata: b\n\r";
        assert_eq!(parse(stream.as_bytes()), [event("reset", "a\nb", "")]);
        // Only one BOM, and only at the very start.
        let stream = "\u{feff}\u{feff}data: x\n\n";
        assert!(parse(stream.as_bytes()).is_empty());
        // An id with a NUL is ignored: the last id stays "7".
        let stream = b"id: 7\ndata: a\n\nid: 8\0\ndata: b\n\n";
        assert_eq!(
            parse(stream),
            [event("message", "a", "7"), event("message", "b", "7")]
        );
        let mut parser = Parser::new();
        let mut out = Vec::new();
        parser.feed(b"retry: 2000\nretry: +5\nretry: 1s\nretry:\n", &mut out);
        let retries: Vec<&Output> = out.iter().map(|(_, o)| o).collect();
        assert_eq!(retries[0], &Output::Retry(2000));
        // Rust's u64 parser takes "+5"; the standard wants digits only.
        assert!(matches!(retries[1], Output::Ignored(_)));
        assert!(matches!(retries[2], Output::Ignored(_)));
        assert!(matches!(retries[3], Output::Ignored(_)));
    }

    #[test]
    fn reports_where_each_line_ended() {
        let mut parser = Parser::new();
        let mut out = Vec::new();
        parser.feed(b"retry: 5\n: hi\ndata: x\n\nrest", &mut out);
        let at: Vec<usize> = out.iter().map(|(at, _)| *at).collect();
        assert_eq!(at, [9, 14, 23]);
    }
}
