//! A decoder for HTTP/1.1 (RFC 9112) as it crosses the wire.
//!
//! It does not serve or answer anything: it cuts the byte stream of
//! one connection into [`Piece`]s, so a transcript can show each
//! header line, each body and each chunk with its size. It must give
//! the same pieces however the bytes were split across reads: TCP
//! keeps the order of bytes, never the size of the reads.
//!
//! It knows HTTP/1.1 only. After a `101 Switching Protocols` it says
//! so ([`Piece::Switched`]) and cuts nothing more: the bytes that
//! follow belong to the new protocol, and the connection decoder
//! ([`crate::connection`]) takes them with [`Http1::take_rest`].

use std::collections::VecDeque;

use crate::body::{NewReader, Reader};
use crate::record::Dir;

/// One decoded part of a byte stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Bytes exactly as they crossed the wire. `payload` marks what the
    /// application sent (bodies, chunk data); the rest is the
    /// protocol's overhead (start lines, headers, chunk sizes).
    Bytes { bytes: Vec<u8>, payload: bool },
    /// An explanation added by the decoder; it is not on the wire.
    Note(String),
    /// A whole message ended here; the text sums it up in a few words
    /// (`GET /messages?after=0`, `200 OK, 2-byte body`).
    End(String),
    /// The `101 Switching Protocols` that just ended: from here on the
    /// connection speaks the protocol its `Upgrade` header names (RFC
    /// 9110 §7.8), both ways, and this decoder cuts nothing more.
    Switched(String),
}

/// How the body of the current message is delimited (RFC 9112 §6.3).
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Reading the start line and the header lines.
    Head,
    /// `Content-Length: n`: this many body bytes are left.
    Body { left: usize },
    /// `Transfer-Encoding: chunked`: next is a chunk-size line.
    ChunkSize,
    /// Inside a chunk: data bytes left, then its CR LF.
    ChunkData { left: usize },
    /// The CR LF that closes a chunk's data.
    ChunkEnd,
    /// After the last chunk: trailer lines up to an empty line.
    Trailers,
    /// A response with no length: the body ends when the server closes.
    UntilClose,
    /// After `101 Switching Protocols`: no longer HTTP/1.1. The bytes
    /// wait in the buffer for [`Http1::take_rest`].
    Switched,
    /// Bytes that cannot be HTTP/1.1 (a bad chunk size): passed on as
    /// they come, uncut.
    Lost,
}

/// One direction of one connection.
#[derive(Debug)]
struct Stream {
    dir: Dir,
    state: State,
    /// Bytes received but not yet cut into pieces.
    buf: Vec<u8>,
    /// The start line of the message being read.
    start: String,
    /// Header lines of the head being read, as (lower-case name, value).
    headers: Vec<(String, String)>,
    /// Body bytes of the message being read (for its summary).
    body_len: usize,
    /// A `text/event-stream` body is also read as events, so the
    /// transcript can note each one (see [`crate::body`]).
    events: Option<Box<dyn Reader>>,
    /// Where a reader for an event stream comes from, if anywhere.
    new_reader: Option<NewReader>,
}

/// The decoder of one connection: requests one way, responses back.
///
/// A response can only be framed with its request in mind (a response
/// to `HEAD` has no body, RFC 9112 §6.3), so both directions live here.
#[derive(Debug)]
pub struct Http1 {
    requests: Stream,
    responses: Stream,
    /// Methods of the requests still waiting for their response.
    methods: VecDeque<String>,
}

impl Default for Http1 {
    fn default() -> Self {
        Http1::new()
    }
}

impl Http1 {
    /// A decoder that passes event-stream bodies on as bytes, unread.
    pub fn new() -> Self {
        Http1 {
            requests: Stream::new(Dir::ToServer, None),
            responses: Stream::new(Dir::ToClient, None),
            methods: VecDeque::new(),
        }
    }

    /// A decoder that also reads each `text/event-stream` body with a
    /// reader from `new_reader`, and notes what each line did.
    pub fn with_event_streams(new_reader: NewReader) -> Self {
        Http1 {
            responses: Stream::new(Dir::ToClient, Some(new_reader)),
            ..Http1::new()
        }
    }

    /// Feeds the next bytes that went in `dir`; pieces that are
    /// complete are pushed onto `out`.
    pub fn feed(&mut self, dir: Dir, bytes: &[u8], out: &mut Vec<Piece>) {
        let stream = match dir {
            Dir::ToServer => &mut self.requests,
            Dir::ToClient => &mut self.responses,
        };
        stream.buf.extend_from_slice(bytes);
        stream.cut(&mut self.methods, out);
        // A 101 switches both ways (RFC 9110 §15.2.2): the client's
        // next bytes are the new protocol's, not a request.
        if self.responses.state == State::Switched {
            self.requests.state = State::Switched;
        }
    }

    /// After [`Piece::Switched`]: the bytes that went `dir` and are not
    /// HTTP/1.1, for the decoder of the new protocol.
    pub fn take_rest(&mut self, dir: Dir) -> Vec<u8> {
        let stream = match dir {
            Dir::ToServer => &mut self.requests,
            Dir::ToClient => &mut self.responses,
        };
        std::mem::take(&mut stream.buf)
    }

    /// The side that sent in `dir` closed it: whatever is left is
    /// pushed as it is, with a note if a message was cut short.
    pub fn finish(&mut self, dir: Dir, out: &mut Vec<Piece>) {
        let stream = match dir {
            Dir::ToServer => &mut self.requests,
            Dir::ToClient => &mut self.responses,
        };
        stream.finish(out);
    }
}

impl Stream {
    fn new(dir: Dir, new_reader: Option<NewReader>) -> Self {
        Stream {
            dir,
            state: State::Head,
            buf: Vec::new(),
            start: String::new(),
            headers: Vec::new(),
            body_len: 0,
            events: None,
            new_reader,
        }
    }

    /// Takes the first `n` bytes of the buffer.
    fn take(&mut self, n: usize) -> Vec<u8> {
        let rest = self.buf.split_off(n);
        std::mem::replace(&mut self.buf, rest)
    }

    /// Takes one whole line (up to and with its LF), if there is one.
    fn take_line(&mut self) -> Option<Vec<u8>> {
        let lf = self.buf.iter().position(|&b| b == b'\n')?;
        Some(self.take(lf + 1))
    }

    fn cut(&mut self, methods: &mut VecDeque<String>, out: &mut Vec<Piece>) {
        loop {
            let progressed = match self.state {
                State::Head => self.head_line(methods, out),
                State::Body { left } => {
                    let n = left.min(self.buf.len());
                    if n > 0 {
                        self.payload(n, out);
                        self.state = State::Body { left: left - n };
                    }
                    if left - n == 0 {
                        self.end(out);
                        true
                    } else {
                        false
                    }
                }
                State::ChunkSize => self.chunk_size(out),
                State::ChunkData { left } => {
                    let n = left.min(self.buf.len());
                    if n > 0 {
                        self.payload(n, out);
                    }
                    if left - n == 0 {
                        self.state = State::ChunkEnd;
                        true
                    } else {
                        self.state = State::ChunkData { left: left - n };
                        false
                    }
                }
                State::ChunkEnd => {
                    if self.buf.len() < 2 {
                        false
                    } else {
                        let crlf = self.take(2);
                        if crlf != b"\r\n" {
                            out.push(overhead(crlf));
                            out.push(Piece::Note(
                                "expected CR LF after chunk data".into(),
                            ));
                        } else {
                            out.push(overhead(crlf));
                        }
                        self.state = State::ChunkSize;
                        true
                    }
                }
                State::Trailers => match self.take_line() {
                    None => false,
                    Some(line) => {
                        let blank = is_blank(&line);
                        out.push(overhead(line));
                        if blank {
                            self.end(out);
                        }
                        true
                    }
                },
                State::UntilClose => {
                    // Whole lines go out as they come; the rest waits
                    // for more bytes or for the close.
                    if let Some(lf) = self.buf.iter().rposition(|&b| b == b'\n') {
                        self.payload(lf + 1, out);
                    }
                    false
                }
                // The bytes wait for the new protocol's decoder.
                State::Switched => false,
                State::Lost => {
                    if !self.buf.is_empty() {
                        let bytes = std::mem::take(&mut self.buf);
                        out.push(Piece::Bytes {
                            bytes,
                            payload: true,
                        });
                    }
                    false
                }
            };
            if !progressed {
                return;
            }
        }
    }

    fn payload(&mut self, n: usize, out: &mut Vec<Piece>) {
        let bytes = self.take(n);
        self.push_payload(bytes, out);
    }

    /// Body bytes go out as payload. In an event stream, a note on
    /// what a line did follows the bytes that ended that line, so the
    /// notes do not depend on how the bytes were split.
    fn push_payload(&mut self, bytes: Vec<u8>, out: &mut Vec<Piece>) {
        self.body_len += bytes.len();
        let Some(reader) = self.events.as_mut() else {
            out.push(Piece::Bytes {
                bytes,
                payload: true,
            });
            return;
        };
        let mut from = 0;
        for (at, notes) in reader.notes(&bytes) {
            if at > from {
                let part = bytes[from..at].to_vec();
                out.push(Piece::Bytes {
                    bytes: part,
                    payload: true,
                });
            }
            out.extend(notes.into_iter().map(Piece::Note));
            from = at;
        }
        if from < bytes.len() {
            out.push(Piece::Bytes {
                bytes: bytes[from..].to_vec(),
                payload: true,
            });
        }
    }

    /// Reads one head line; at the empty line, decides how the body is
    /// delimited. Returns whether it made progress.
    fn head_line(
        &mut self,
        methods: &mut VecDeque<String>,
        out: &mut Vec<Piece>,
    ) -> bool {
        let Some(line) = self.take_line() else {
            return false;
        };
        let blank = is_blank(&line);
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        out.push(overhead(line));
        if self.start.is_empty() {
            // Empty lines before a request line are allowed and
            // ignored (RFC 9112 §2.2).
            if !blank {
                self.start = text;
                self.headers.clear();
                self.body_len = 0;
            }
            return true;
        }
        if !blank {
            self.header(&text);
            return true;
        }
        self.end_of_head(methods, out);
        true
    }

    fn header(&mut self, text: &str) {
        if let Some((name, value)) = text.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim().to_owned();
            self.headers.push((name, value));
        }
    }

    fn end_of_head(&mut self, methods: &mut VecDeque<String>, out: &mut Vec<Piece>) {
        let headers = std::mem::take(&mut self.headers);
        let get = |name: &str| {
            headers
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let chunked = get("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let length = get("content-length").and_then(|v| v.parse::<usize>().ok());
        match self.dir {
            Dir::ToServer => {
                let method = self.start.split(' ').next().unwrap_or("").to_owned();
                methods.push_back(method);
                self.state = if chunked {
                    State::ChunkSize
                } else {
                    match length {
                        Some(n) if n > 0 => State::Body { left: n },
                        _ => return self.end(out),
                    }
                };
            }
            Dir::ToClient => {
                // An event stream (WHATWG HTML §9.2) is also decoded.
                let event_stream = get("content-type").is_some_and(|v| {
                    let essence = v.split(';').next().unwrap_or("").trim();
                    essence.eq_ignore_ascii_case("text/event-stream")
                });
                if event_stream {
                    self.events = self.new_reader.map(|new| new());
                }
                let status: u16 = self
                    .start
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if status == 101 {
                    methods.pop_front();
                    self.end(out);
                    let protocol = get("upgrade").unwrap_or("").to_owned();
                    self.state = State::Switched;
                    out.push(Piece::Switched(protocol));
                    return;
                }
                if (100..200).contains(&status) {
                    // An interim answer: the real one follows.
                    return self.end(out);
                }
                let method = methods.pop_front().unwrap_or_default();
                let no_body = method == "HEAD" || status == 204 || status == 304;
                self.state = if no_body {
                    return self.end(out);
                } else if chunked {
                    State::ChunkSize
                } else {
                    match length {
                        Some(0) => return self.end(out),
                        Some(n) => State::Body { left: n },
                        None => State::UntilClose,
                    }
                };
            }
        }
    }

    fn chunk_size(&mut self, out: &mut Vec<Piece>) -> bool {
        let Some(line) = self.take_line() else {
            return false;
        };
        let text = String::from_utf8_lossy(&line);
        // A chunk-size line is hex digits, maybe `;extensions`
        // (RFC 9112 §7.1).
        let hex = text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(hex, 16);
        out.push(overhead(line.clone()));
        match size {
            Ok(0) => {
                out.push(Piece::Note("last chunk (size 0)".into()));
                self.state = State::Trailers;
            }
            Ok(size) => {
                let unit = if size == 1 { "byte" } else { "bytes" };
                out.push(Piece::Note(format!("chunk size 0x{hex} = {size} {unit}")));
                self.state = State::ChunkData { left: size };
            }
            Err(_) => {
                out.push(Piece::Note("not a chunk size".into()));
                self.state = State::Lost;
            }
        }
        true
    }

    /// The message is complete: sum it up and get ready for the next.
    fn end(&mut self, out: &mut Vec<Piece>) {
        let summary = summarize(self.dir, &self.start, self.body_len);
        out.push(Piece::End(summary));
        self.start.clear();
        self.body_len = 0;
        self.events = None;
        self.state = State::Head;
    }

    fn finish(&mut self, out: &mut Vec<Piece>) {
        let rest = std::mem::take(&mut self.buf);
        match self.state {
            State::UntilClose => {
                if !rest.is_empty() {
                    self.push_payload(rest, out);
                }
                out.push(Piece::Note("the close ends the body".into()));
                self.end(out);
            }
            State::Switched | State::Lost => {
                if !rest.is_empty() {
                    out.push(Piece::Bytes {
                        bytes: rest,
                        payload: true,
                    });
                }
            }
            State::Head if self.start.is_empty() && rest.is_empty() => {}
            _ => {
                if !rest.is_empty() {
                    out.push(overhead(rest));
                }
                let why = match self.state {
                    State::Body { left } => {
                        format!("closed with {left} body bytes still to come")
                    }
                    State::Head => "closed in the middle of a head".to_owned(),
                    _ => "closed in the middle of a chunked body".to_owned(),
                };
                out.push(Piece::Note(why));
                self.start.clear();
                self.state = State::Head;
                self.events = None;
            }
        }
    }
}

fn overhead(bytes: Vec<u8>) -> Piece {
    Piece::Bytes {
        bytes,
        payload: false,
    }
}

fn is_blank(line: &[u8]) -> bool {
    line == b"\r\n" || line == b"\n"
}

/// `GET /messages?after=0` for a request; `200 OK, 2-byte body` for a
/// response.
fn summarize(dir: Dir, start: &str, body_len: usize) -> String {
    match dir {
        Dir::ToServer => {
            let mut parts = start.split(' ');
            let method = parts.next().unwrap_or("");
            let target = parts.next().unwrap_or("");
            let mut s = format!("{method} {target}");
            if body_len > 0 {
                s.push_str(&format!(", {body_len}-byte body"));
            }
            s
        }
        Dir::ToClient => {
            let status = start.split_once(' ').map(|(_, s)| s).unwrap_or(start);
            if body_len > 0 {
                format!("{status}, {body_len}-byte body")
            } else {
                status.to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `request` then `response`, each cut into the given parts,
    /// then closes both ways; returns the pieces with neighbouring
    /// bytes of the same kind joined (how they were split is not
    /// part of the result).
    fn decode(request: &[&[u8]], response: &[&[u8]]) -> Vec<Piece> {
        let mut http = Http1::new();
        let mut out = Vec::new();
        for part in request {
            http.feed(Dir::ToServer, part, &mut out);
        }
        for part in response {
            http.feed(Dir::ToClient, part, &mut out);
        }
        http.finish(Dir::ToServer, &mut out);
        http.finish(Dir::ToClient, &mut out);
        join(out)
    }

    fn join(pieces: Vec<Piece>) -> Vec<Piece> {
        let mut joined: Vec<Piece> = Vec::new();
        for piece in pieces {
            if let (
                Some(Piece::Bytes { bytes, payload }),
                Piece::Bytes {
                    bytes: more,
                    payload: p,
                },
            ) = (joined.last_mut(), &piece)
            {
                if payload == p {
                    bytes.extend_from_slice(more);
                    continue;
                }
            }
            joined.push(piece);
        }
        joined
    }

    const REQUESTS: &[u8] = b"GET /messages?after=0 HTTP/1.1\r\nhost: a\r\n\r\n\
        POST /messages HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\nhello\
        HEAD / HTTP/1.1\r\nhost: a\r\n\r\n\
        GET /stream HTTP/1.1\r\nhost: a\r\n\r\n";

    const RESPONSES: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n[]\
        HTTP/1.1 100 Continue\r\n\r\n\
        HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\n{}\n\
        HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n\
        HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
        5\r\nab\ncd\r\n1;x=y\r\n!\r\n0\r\ntrailer: t\r\n\r\n";

    #[test]
    fn every_split_gives_the_same_pieces() {
        let whole = decode(&[REQUESTS], &[RESPONSES]);
        for cut in 0..=REQUESTS.len() {
            let (a, b) = REQUESTS.split_at(cut);
            assert_eq!(decode(&[a, b], &[RESPONSES]), whole, "request cut {cut}");
        }
        for cut in 0..=RESPONSES.len() {
            let (a, b) = RESPONSES.split_at(cut);
            assert_eq!(decode(&[REQUESTS], &[a, b]), whole, "response cut {cut}");
        }
        // And one byte at a time, the worst case.
        let bytes: Vec<&[u8]> = RESPONSES.chunks(1).collect();
        let requests: Vec<&[u8]> = REQUESTS.chunks(1).collect();
        assert_eq!(decode(&requests, &bytes), whole);
    }

    #[test]
    fn frames_bodies_the_way_rfc_9112_says() {
        let pieces = decode(&[REQUESTS], &[RESPONSES]);
        let ends: Vec<&str> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::End(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            ends,
            [
                "GET /messages?after=0",
                "POST /messages, 5-byte body",
                "HEAD /",
                "GET /stream",
                "200 OK, 2-byte body",
                "100 Continue",
                "201 Created, 3-byte body",
                // The answer to HEAD has no body, whatever its length
                // header says (RFC 9112 §6.3).
                "200 OK",
                "200 OK, 6-byte body",
            ]
        );
        let notes: Vec<&str> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Note(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            notes,
            [
                "chunk size 0x5 = 5 bytes",
                "chunk size 0x1 = 1 byte",
                "last chunk (size 0)"
            ]
        );
    }

    #[test]
    fn every_byte_is_accounted_for() {
        let pieces = decode(&[REQUESTS], &[RESPONSES]);
        let total: usize = pieces
            .iter()
            .map(|p| match p {
                Piece::Bytes { bytes, .. } => bytes.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(total, REQUESTS.len() + RESPONSES.len());
    }

    #[test]
    fn a_body_without_length_ends_with_the_close() {
        let pieces = decode(
            &[b"GET / HTTP/1.0\r\n\r\n"],
            &[b"HTTP/1.0 200 OK\r\n\r\nline 1\nline 2"],
        );
        assert!(pieces.contains(&Piece::End("200 OK, 13-byte body".into())));
    }

    #[test]
    fn a_cut_message_is_reported() {
        let pieces =
            decode(&[b"POST / HTTP/1.1\r\ncontent-length: 9\r\n\r\nabc"], &[]);
        let note = "closed with 6 body bytes still to come";
        assert!(pieces.contains(&Piece::Note(note.into())), "{pieces:?}");
    }
}
