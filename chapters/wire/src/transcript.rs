//! Turns a recording into text a reader can follow line by line.
//!
//! ```text
//! C1 → GET /messages?after=0 HTTP/1.1\r\n
//! ```
//!
//! Every line starts with its connection (`C1`) and direction (`→`
//! to the server, `←` to the client). CR and LF are written `\r` and
//! `\n`, so the line ends on the wire stay visible. Lines that start
//! with `╰─` are notes from the decoder, not bytes. A footer counts
//! the bytes each way and splits payload from overhead.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use crate::connection::{Connection, Piece};
use crate::escape::escape;
use crate::record::{Dir, Event, EventKind};

/// The widest line a transcript prints: the book shows it unwrapped.
pub const WIDTH: usize = 85;

/// One line of a transcript, before normalisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Row {
    /// A client connected.
    Open { conn: usize },
    /// One line of bytes (ending in LF, or cut at a message end).
    Line { conn: usize, dir: Dir, text: String },
    /// A note from the decoder.
    Note { conn: usize, dir: Dir, text: String },
    /// A whole message went `dir`; `summary` is for diagrams.
    End {
        conn: usize,
        dir: Dir,
        summary: String,
    },
    /// One side closed its way (TCP FIN).
    Close { conn: usize, dir: Dir },
    /// A test cut the connection at the tap, both ways at once.
    Cut { conn: usize },
}

/// Bytes that went one way on one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count {
    pub payload: usize,
    pub overhead: usize,
    /// Whole HTTP messages.
    pub messages: usize,
    /// WebSocket frames.
    pub frames: usize,
}

impl Count {
    pub fn total(&self) -> usize {
        self.payload + self.overhead
    }
}

/// Decodes events as they come: the live tap prints its rows at
/// once, a test collects them all into a [`Transcript`].
#[derive(Default)]
pub struct Decoder {
    conns: HashMap<usize, Connection>,
    /// Bytes of a line not yet ended, per connection and direction.
    partial: HashMap<(usize, Dir), Vec<u8>>,
    counts: BTreeMap<usize, [Count; 2]>,
}

fn slot(dir: Dir) -> usize {
    match dir {
        Dir::ToServer => 0,
        Dir::ToClient => 1,
    }
}

impl Decoder {
    pub fn new() -> Self {
        Decoder::default()
    }

    /// The rows that `event` completes.
    pub fn push(&mut self, event: &Event) -> Vec<Row> {
        let conn = event.conn;
        let mut pieces = Vec::new();
        let mut rows = Vec::new();
        match &event.kind {
            EventKind::Open { .. } => {
                self.conns.insert(conn, Connection::new());
                self.counts.entry(conn).or_default();
                rows.push(Row::Open { conn });
            }
            EventKind::Data { dir, bytes } => {
                let http = self.conns.entry(conn).or_default();
                http.feed(*dir, bytes, &mut pieces);
                self.pieces(conn, *dir, pieces, &mut rows);
            }
            EventKind::Close { dir } => {
                let http = self.conns.entry(conn).or_default();
                http.finish(*dir, &mut pieces);
                self.pieces(conn, *dir, pieces, &mut rows);
                self.flush(conn, *dir, &mut rows);
                rows.push(Row::Close { conn, dir: *dir });
            }
            EventKind::Cut => {
                rows.push(Row::Cut { conn });
                // Whatever was cut short is said so, each way.
                for dir in [Dir::ToServer, Dir::ToClient] {
                    let http = self.conns.entry(conn).or_default();
                    http.finish(dir, &mut pieces);
                    self.pieces(conn, dir, std::mem::take(&mut pieces), &mut rows);
                    self.flush(conn, dir, &mut rows);
                }
            }
        }
        rows
    }

    /// Counts so far: per connection, `[to server, to client]`.
    pub fn counts(&self) -> &BTreeMap<usize, [Count; 2]> {
        &self.counts
    }

    fn pieces(
        &mut self,
        conn: usize,
        dir: Dir,
        pieces: Vec<Piece>,
        rows: &mut Vec<Row>,
    ) {
        for piece in pieces {
            let count = &mut self.counts.entry(conn).or_default()[slot(dir)];
            match piece {
                Piece::Bytes { bytes, payload } => {
                    if payload {
                        count.payload += bytes.len();
                    } else {
                        count.overhead += bytes.len();
                    }
                    let partial = self.partial.entry((conn, dir)).or_default();
                    partial.extend_from_slice(&bytes);
                    // Every ended line becomes a row at once.
                    while let Some(lf) = partial.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = partial.drain(..=lf).collect();
                        let text = escape(&line);
                        rows.push(Row::Line { conn, dir, text });
                    }
                }
                Piece::Note(text) => {
                    self.flush(conn, dir, rows);
                    rows.push(Row::Note { conn, dir, text });
                }
                Piece::Frame(decoded) => {
                    // Control frames (close, ping, pong) are overhead;
                    // text, binary and continuation data are payload.
                    let data = decoded.frame.payload.len();
                    if decoded.frame.opcode.is_control() {
                        count.overhead += decoded.header.len() + data;
                    } else {
                        count.overhead += decoded.header.len();
                        count.payload += data;
                    }
                    count.frames += 1;
                    self.flush(conn, dir, rows);
                    let shown = crate::websocket::show(&decoded);
                    rows.push(Row::Line {
                        conn,
                        dir,
                        text: shown.header_hex,
                    });
                    rows.push(Row::Note {
                        conn,
                        dir,
                        text: shown.fields,
                    });
                    if let Some(text) = shown.payload {
                        rows.push(Row::Line { conn, dir, text });
                    }
                    rows.push(Row::End {
                        conn,
                        dir,
                        summary: shown.summary,
                    });
                }
                Piece::Http2(shown) => {
                    // DATA is payload; frame headers, padding, header
                    // blocks and control frames are overhead.
                    count.payload += shown.payload;
                    count.overhead += shown.overhead;
                    count.frames += 1;
                    if shown.message {
                        count.messages += 1;
                    }
                    self.flush(conn, dir, rows);
                    for (note, text) in shown.rows {
                        rows.push(if note {
                            Row::Note { conn, dir, text }
                        } else {
                            Row::Line { conn, dir, text }
                        });
                    }
                    if let Some(summary) = shown.summary {
                        rows.push(Row::End { conn, dir, summary });
                    }
                }
                Piece::End(summary) => {
                    count.messages += 1;
                    self.flush(conn, dir, rows);
                    rows.push(Row::End { conn, dir, summary });
                }
            }
        }
    }

    /// A line without its LF ends here (a body with no newline).
    fn flush(&mut self, conn: usize, dir: Dir, rows: &mut Vec<Row>) {
        if let Some(partial) = self.partial.get_mut(&(conn, dir)) {
            if !partial.is_empty() {
                let text = escape(partial);
                partial.clear();
                rows.push(Row::Line { conn, dir, text });
            }
        }
    }

    /// Ends every connection's pending lines (the recording stopped).
    pub fn finish(&mut self) -> Vec<Row> {
        let mut rows = Vec::new();
        let mut keys: Vec<_> = self.partial.keys().copied().collect();
        keys.sort_by_key(|(conn, dir)| (*conn, slot(*dir)));
        for (conn, dir) in keys {
            self.flush(conn, dir, &mut rows);
        }
        rows
    }
}

/// Replaces what a test cannot control with fixed markers: the tap's
/// and the server's ports with `[PORT]`, HTTP dates with `[DATE]`.
/// [`Normalizer::none`] changes nothing: the live tap shows real values.
#[derive(Clone, Debug, Default)]
pub struct Normalizer {
    ports: Vec<u16>,
    dates: bool,
}

impl Normalizer {
    /// Replaces dates and these ports.
    pub fn new(ports: &[u16]) -> Self {
        Normalizer {
            ports: ports.to_vec(),
            dates: true,
        }
    }

    /// Replaces nothing.
    pub fn none() -> Self {
        Normalizer::default()
    }

    pub fn apply(&self, text: &str) -> String {
        let mut text = if self.dates {
            replace_dates(text)
        } else {
            text.to_owned()
        };
        for port in &self.ports {
            text = replace_port(&text, *port);
        }
        text
    }
}

/// `:PORT` not followed by another digit becomes `:[PORT]`.
fn replace_port(text: &str, port: u16) -> String {
    let needle = format!(":{port}");
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(&needle) {
        let after = &rest[i + needle.len()..];
        out.push_str(&rest[..i]);
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(&needle);
        } else {
            out.push_str(":[PORT]");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// An IMF-fixdate (RFC 9110 §5.6.7), `Sun, 06 Nov 1994 08:49:37 GMT`,
/// becomes `[DATE]`. It is always 29 bytes, so byte counts stay right.
fn replace_dates(text: &str) -> String {
    const SHAPE: &[u8] = b"Aaa, 00 Aaa 0000 00:00:00 GMT";
    let bytes = text.as_bytes();
    let fits = |at: usize| {
        bytes.len() >= at + SHAPE.len()
            && SHAPE.iter().zip(&bytes[at..]).all(|(s, b)| match s {
                b'A' => b.is_ascii_uppercase(),
                b'a' => b.is_ascii_lowercase(),
                b'0' => b.is_ascii_digit(),
                s => s == b,
            })
    };
    let mut out = String::new();
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if fits(i) {
            out.push_str(&text[copied..i]);
            out.push_str("[DATE]");
            i += SHAPE.len();
            copied = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Rows as the lines a reader sees, each at most [`WIDTH`] wide.
pub fn render_row(row: &Row, normalizer: &Normalizer) -> Vec<String> {
    match row {
        Row::Open { conn } => vec![format!("C{conn} ─ open")],
        Row::Line { conn, dir, text } => {
            let prefix = format!("C{conn} {} ", dir.arrow());
            wrap(&prefix, &normalizer.apply(text))
        }
        Row::Note { conn, dir, text } => {
            let prefix = format!("C{conn} {} ╰─ ", dir.arrow());
            wrap(&prefix, &normalizer.apply(text))
        }
        Row::End { .. } => vec![],
        Row::Close { conn, dir } => {
            let who = match dir {
                Dir::ToServer => "client",
                Dir::ToClient => "server",
            };
            vec![format!("C{conn} {} FIN (the {who} closed)", dir.arrow())]
        }
        Row::Cut { conn } => {
            vec![format!(
                "C{conn} ✂ cut: the tap dropped the connection both ways"
            )]
        }
    }
}

/// Cuts a long line; `↩` ends each part that continues below.
fn wrap(prefix: &str, text: &str) -> Vec<String> {
    let room = WIDTH - prefix.chars().count() - 1;
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= room + 1 {
        return vec![format!("{prefix}{text}")];
    }
    let parts: Vec<String> = chars.chunks(room).map(String::from_iter).collect();
    let last = parts.len() - 1;
    parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let more = if i < last { "↩" } else { "" };
            format!("{prefix}{part}{more}")
        })
        .collect()
}

/// A whole recording, decoded.
#[derive(Clone, Debug)]
pub struct Transcript {
    rows: Vec<Row>,
    counts: BTreeMap<usize, [Count; 2]>,
    normalizer: Normalizer,
}

impl Transcript {
    /// Decodes `events`; `ports` are replaced by `[PORT]` in the text.
    pub fn new(events: &[Event], ports: &[u16]) -> Self {
        let mut decoder = Decoder::new();
        let mut rows = Vec::new();
        for event in events {
            rows.extend(decoder.push(event));
        }
        rows.extend(decoder.finish());
        Transcript {
            rows,
            counts: decoder.counts.clone(),
            normalizer: Normalizer::new(ports),
        }
    }

    /// The decoded rows, in order.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// Bytes per connection: `[to server, to client]`.
    pub fn counts(&self) -> &BTreeMap<usize, [Count; 2]> {
        &self.counts
    }

    /// The bytes of all connections that went `dir`.
    pub fn total(&self, dir: Dir) -> Count {
        total(&self.counts, dir)
    }

    // ANCHOR: text
    /// The transcript: every line, then the footer.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for row in &self.rows {
            for line in render_row(row, &self.normalizer) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out.push('\n');
        out.push_str(&self.footer());
        out
    }
    // ANCHOR_END: text

    /// Bytes each way: what the application sent (payload: bodies and
    /// chunk data) and what the protocol added (overhead).
    pub fn footer(&self) -> String {
        footer(&self.counts)
    }

    // ANCHOR: diagram
    /// A sequence diagram of the whole messages, drawn from the same
    /// recording, so it cannot drift from the transcript.
    pub fn diagram(&self) -> String {
        let ends: Vec<(usize, Dir, String)> = self
            .rows
            .iter()
            .filter_map(|row| match row {
                Row::End { conn, dir, summary } => {
                    Some((*conn, *dir, self.normalizer.apply(summary)))
                }
                // An event in an event stream is drawn as an arrow of
                // its own: the response that carries it never ends.
                Row::Note { conn, dir, text } if text.starts_with("event ") => {
                    let event = text.split(", data ").next().unwrap_or(text);
                    Some((*conn, *dir, event.to_owned()))
                }
                _ => None,
            })
            .collect();
        crate::diagram::draw(&ends, WIDTH)
    }
    // ANCHOR_END: diagram
}

/// The bytes of all connections in `counts` that went `dir`.
fn total(counts: &BTreeMap<usize, [Count; 2]>, dir: Dir) -> Count {
    let mut sum = Count::default();
    for counts in counts.values() {
        let c = counts[slot(dir)];
        sum.payload += c.payload;
        sum.overhead += c.overhead;
        sum.messages += c.messages;
        sum.frames += c.frames;
    }
    sum
}

/// The footer of a transcript for `counts` (per connection, `[to
/// server, to client]`): bytes each way, payload and overhead. A live
/// display calls it with [`Decoder::counts`] as the bytes go by.
pub fn footer(counts: &BTreeMap<usize, [Count; 2]>) -> String {
    let mut out = String::from(
        "bytes on the wire (payload: bodies, chunk data; the rest: overhead)\n",
    );
    let line = |out: &mut String, name: &str, dir: Dir, c: Count| {
        let kind = match (dir, c.messages) {
            (Dir::ToServer, 1) => "request",
            (Dir::ToServer, _) => "requests",
            (Dir::ToClient, 1) => "response",
            (Dir::ToClient, _) => "responses",
        };
        let (total, payload, overhead) = (c.total(), c.payload, c.overhead);
        let bytes = format!("{total:>7} B = {payload:>6} payload + {overhead:>6}");
        let (arrow, n) = (dir.arrow(), c.messages);
        let frames = match c.frames {
            0 => String::new(),
            1 => ", 1 frame".to_owned(),
            f => format!(", {f} frames"),
        };
        let _ = writeln!(
            out,
            "{name:>3} {arrow} {n:>3} {kind:<9} {bytes} overhead{frames}"
        );
    };
    for (conn, counts) in counts {
        let name = format!("C{conn}");
        line(&mut out, &name, Dir::ToServer, counts[0]);
        line(&mut out, &name, Dir::ToClient, counts[1]);
    }
    if counts.len() > 1 {
        line(&mut out, "all", Dir::ToServer, total(counts, Dir::ToServer));
        line(&mut out, "all", Dir::ToClient, total(counts, Dir::ToClient));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(conn: usize, dir: Dir, bytes: &[u8]) -> Event {
        let bytes = bytes.to_vec();
        let kind = EventKind::Data { dir, bytes };
        Event { conn, kind }
    }

    fn events(request: &[&[u8]], response: &[&[u8]]) -> Vec<Event> {
        let client = "127.0.0.1:50000".parse().unwrap();
        let mut events = vec![Event {
            conn: 1,
            kind: EventKind::Open { client },
        }];
        for part in request {
            events.push(data(1, Dir::ToServer, part));
        }
        for part in response {
            events.push(data(1, Dir::ToClient, part));
        }
        events
    }

    const REQUEST: &[u8] = b"GET /x HTTP/1.1\r\nhost: 127.0.0.1:4321\r\n\r\n";
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
        date: Sat, 21 Nov 2026 23:54:19 GMT\r\n\
        transfer-encoding: chunked\r\n\r\n\
        7\r\n{\"a\":1}\r\n0\r\n\r\n";

    #[test]
    fn the_text_does_not_depend_on_how_reads_were_split() {
        let whole =
            Transcript::new(&events(&[REQUEST], &[RESPONSE]), &[4321]).text();
        for cut in 0..=RESPONSE.len() {
            let (a, b) = RESPONSE.split_at(cut);
            let t = Transcript::new(&events(&[REQUEST], &[a, b]), &[4321]);
            assert_eq!(t.text(), whole, "cut at {cut}");
        }
    }

    #[test]
    fn shows_line_ends_chunk_sizes_and_markers() {
        let t = Transcript::new(&events(&[REQUEST], &[RESPONSE]), &[4321]);
        let text = t.text();
        assert!(
            text.contains("C1 → host: 127.0.0.1:[PORT]\\r\\n\n"),
            "{text}"
        );
        assert!(text.contains("C1 ← date: [DATE]\\r\\n\n"), "{text}");
        let chunk = "C1 ← 7\\r\\n\nC1 ← ╰─ chunk size 0x7 = 7 bytes\n";
        assert!(text.contains(chunk), "{text}");
        assert!(text.contains("C1 ← {\"a\":1}\\r\\n\n"), "{text}");
        // Payload is the chunk data only; every other byte is overhead.
        let down = t.counts()[&1][1];
        assert_eq!(down.payload, 7);
        assert_eq!(down.total(), RESPONSE.len());
    }

    #[test]
    fn websocket_frames_are_decoded_after_a_101() {
        use crate::websocket::Frame;
        let request = b"GET /ws HTTP/1.1\r\nupgrade: websocket\r\n\r\n";
        let response = b"HTTP/1.1 101 Switching Protocols\r\n\
            upgrade: websocket\r\nconnection: upgrade\r\n\r\n";
        let hello = Frame::text("Hello").masked([0x37, 0xfa, 0x21, 0x3d]);
        let mut events = events(&[request], &[response]);
        // Split mid-header: the decoder waits for the whole frame.
        let wire = hello.encode();
        events.push(data(1, Dir::ToServer, &wire[..3]));
        events.push(data(1, Dir::ToServer, &wire[3..]));
        events.push(data(1, Dir::ToClient, &Frame::text("Hello").encode()));
        let t = Transcript::new(&events, &[]);
        let text = t.text();
        let expected = "C1 → 81 85 37 fa 21 3d\n\
            C1 → ╰─ FIN=1 RSV=000 op=0x1 text MASK=1 len=5 (7-bit) \
            key=37 fa 21 3d\n\
            C1 → Hello\n\
            C1 ← 81 05\n";
        assert!(text.contains(expected), "{text}");
        let up = t.counts()[&1][0];
        assert_eq!((up.frames, up.payload), (1, 5));
        assert!(t.diagram().contains("text, 5 B"), "{}", t.diagram());
    }

    #[test]
    fn replaces_only_whole_dates_and_ports() {
        let text = "Date: Mon, 02 Jan 2006 15:04:05 GMT; at :4321 not :43210";
        let n = Normalizer::new(&[4321]);
        assert_eq!(n.apply(text), "Date: [DATE]; at :[PORT] not :43210");
        assert_eq!(n.apply("Mon, 2 Jan 2006"), "Mon, 2 Jan 2006");
    }

    #[test]
    fn long_lines_wrap_within_the_page() {
        let lines = wrap("C1 ← ", &"x".repeat(200));
        assert!(lines.iter().all(|l| l.chars().count() <= WIDTH));
        assert!(lines[0].ends_with('↩'));
        let joined: String = lines
            .iter()
            .map(|l| l.trim_start_matches("C1 ← ").trim_end_matches('↩'))
            .collect();
        assert_eq!(joined, "x".repeat(200));
    }

    /// A recorded event stream reads the same in a transcript however
    /// the tap's reads cut it: notes follow the line that made them.
    #[test]
    fn an_event_stream_does_not_depend_on_how_reads_were_split() {
        let request: &[u8] = b"GET /events HTTP/1.1\r\nhost: a\r\n\r\n";
        let body = "retry: 2000\n\n: heartbeat\n\
                    id: 4\nevent: reset\ndata: one\ndata: two\n\n\
                    id: 5\nevent: message\ndata: {\"id\":5}\n\n";
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
             transfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        );
        let response = response.as_bytes();
        let events = |parts: &[&[u8]]| {
            let client = "127.0.0.1:50000".parse().unwrap();
            let mut events = vec![Event {
                conn: 1,
                kind: EventKind::Open { client },
            }];
            let data = |dir, bytes: &[u8]| Event {
                conn: 1,
                kind: EventKind::Data {
                    dir,
                    bytes: bytes.to_vec(),
                },
            };
            events.push(data(Dir::ToServer, request));
            events.extend(parts.iter().map(|p| data(Dir::ToClient, p)));
            events
        };
        let whole = Transcript::new(&events(&[response]), &[]).text();
        let reset = "╰─ event reset, lastEventId \"4\", data of 2 lines";
        assert!(whole.contains(reset));
        assert!(whole.contains("╰─ comment: the browser ignores it"));
        for cut in 0..=response.len() {
            let (a, b) = response.split_at(cut);
            let text = Transcript::new(&events(&[a, b]), &[]).text();
            assert_eq!(text, whole, "cut at {cut}");
        }
    }
}
