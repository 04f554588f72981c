//! The decoder of one whole connection: it starts as HTTP/1.1 and
//! follows the connection when it switches protocol.
//!
//! A connection does not announce its protocol once and for all:
//!
//! - a client that knows the server speaks HTTP/2 starts with the
//!   connection preface instead of a request (h2c with prior
//!   knowledge, RFC 9113 §3.3): from then on, HTTP/2 frames both ways;
//! - a `101 Switching Protocols` to `websocket` ends HTTP/1.1 on the
//!   connection (RFC 6455 §4.1): from then on, WebSocket frames;
//! - a `101` to anything else: bytes this crate does not decode.
//!
//! Each protocol has its own decoder below this one ([`crate::http1`],
//! [`crate::websocket`], [`crate::http2`]), and none of them knows the
//! others. This one picks the decoder, hands the bytes over at the
//! switch, gives the HTTP decoders the SSE parser for event-stream
//! bodies ([`crate::sse`]), and puts all their pieces in one type,
//! [`Piece`], which the transcript renders.

use crate::http1::{self, Http1};
use crate::http2::{self, Http2, PREFACE};
use crate::record::Dir;
use crate::sse;
use crate::websocket;

/// One decoded part of a connection's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Bytes exactly as they crossed the wire. `payload` marks what the
    /// application sent (bodies, chunk data); the rest is the
    /// protocol's overhead (start lines, headers, chunk sizes).
    Bytes { bytes: Vec<u8>, payload: bool },
    /// An explanation added by a decoder; it is not on the wire.
    Note(String),
    /// A whole HTTP/1.1 message ended here; the text sums it up in a
    /// few words (`GET /messages?after=0`, `200 OK, 2-byte body`).
    End(String),
    /// A WebSocket frame (after `101 Switching Protocols`), decoded.
    Frame(websocket::Decoded),
    /// An HTTP/2 frame (after the connection preface), decoded.
    Http2(Box<http2::Shown>),
}

/// What the connection speaks at the moment. The HTTP decoders are
/// large (HTTP/2 keeps an HPACK table each way): boxed, they keep a
/// `Connection`, and each client that holds one, small.
#[derive(Debug)]
enum Protocol {
    Http1(Box<Http1>),
    /// After a `101` to `websocket`: frames each way.
    WebSocket([Frames; 2]),
    /// After the preface: HTTP/2 frames both ways.
    Http2(Box<Http2>),
    /// After a `101` to a protocol this crate does not decode.
    Other,
}

/// The decoder of one connection: requests one way, responses back.
#[derive(Debug)]
pub struct Connection {
    protocol: Protocol,
    /// The client's first bytes, while they could still be the start
    /// of the HTTP/2 preface.
    early: Vec<u8>,
    /// The client's first bytes were not the preface: no HTTP/2 by
    /// prior knowledge on this connection.
    spoke_http1: bool,
}

impl Default for Connection {
    fn default() -> Self {
        Connection::new()
    }
}

impl Connection {
    pub fn new() -> Self {
        let http = Http1::with_event_streams(sse::reader);
        Connection {
            protocol: Protocol::Http1(Box::new(http)),
            early: Vec::new(),
            spoke_http1: false,
        }
    }

    /// Feeds the next bytes that went in `dir`; pieces that are
    /// complete are pushed onto `out`.
    pub fn feed(&mut self, dir: Dir, bytes: &[u8], out: &mut Vec<Piece>) {
        match &mut self.protocol {
            Protocol::Http1(_) if dir == Dir::ToServer && !self.spoke_http1 => {
                let mut seen = std::mem::take(&mut self.early);
                seen.extend_from_slice(bytes);
                if !self.at_preface(&seen, out) {
                    self.feed_http1(dir, &seen, out);
                }
            }
            Protocol::Http1(_) => self.feed_http1(dir, bytes, out),
            Protocol::WebSocket(frames) => frames[slot(dir)].feed(bytes, out),
            Protocol::Http2(h2) => feed_http2(h2, dir, bytes, out),
            Protocol::Other => raw(bytes.to_vec(), out),
        }
    }

    fn feed_http1(&mut self, dir: Dir, bytes: &[u8], out: &mut Vec<Piece>) {
        let Protocol::Http1(http) = &mut self.protocol else {
            return;
        };
        let mut pieces = Vec::new();
        http.feed(dir, bytes, &mut pieces);
        if let Some(protocol) = push_http1(pieces, out) {
            self.switch(&protocol, out);
        }
    }

    /// Before the first request: a client that speaks HTTP/2 by prior
    /// knowledge (h2c, RFC 9113 §3.3) starts with the preface instead.
    /// Returns true if it took the client's bytes `seen` so far: the
    /// preface, or the start of one, which waits for the rest.
    fn at_preface(&mut self, seen: &[u8], out: &mut Vec<Piece>) -> bool {
        if seen.len() < PREFACE.len() && PREFACE.starts_with(seen) {
            self.early = seen.to_vec();
            return true;
        }
        if !seen.starts_with(PREFACE) {
            self.spoke_http1 = true;
            return false;
        }
        out.push(Piece::Bytes {
            bytes: PREFACE.to_vec(),
            payload: false,
        });
        out.push(Piece::Note(
            "the HTTP/2 connection preface: from here on, frames both ways".into(),
        ));
        let mut h2 = Http2::with_event_streams(sse::reader);
        feed_http2(&mut h2, Dir::ToServer, &seen[PREFACE.len()..], out);
        self.protocol = Protocol::Http2(Box::new(h2));
        true
    }

    /// A `101` switched the connection to `protocol`: the bytes that
    /// came after it, each way, go to that protocol's decoder.
    fn switch(&mut self, protocol: &str, out: &mut Vec<Piece>) {
        let Protocol::Http1(http) = &mut self.protocol else {
            return;
        };
        let responses = http.take_rest(Dir::ToClient);
        let requests = http.take_rest(Dir::ToServer);
        if !protocol.eq_ignore_ascii_case("websocket") {
            out.push(Piece::Note(
                "the connection now speaks another protocol".into(),
            ));
            self.protocol = Protocol::Other;
            raw(responses, out);
            raw(requests, out);
            return;
        }
        out.push(Piece::Note("from here on: WebSocket frames".into()));
        let mut frames = [Frames::default(), Frames::default()];
        frames[slot(Dir::ToClient)].feed(&responses, out);
        frames[slot(Dir::ToServer)].feed(&requests, out);
        self.protocol = Protocol::WebSocket(frames);
    }

    /// The side that sent in `dir` closed it: whatever is left is
    /// pushed as it is, with a note if a message was cut short.
    pub fn finish(&mut self, dir: Dir, out: &mut Vec<Piece>) {
        match &mut self.protocol {
            Protocol::Http1(_) if dir == Dir::ToServer && !self.early.is_empty() => {
                // The client closed after what could have been the
                // start of the preface, or of a request.
                out.push(Piece::Bytes {
                    bytes: std::mem::take(&mut self.early),
                    payload: false,
                });
                out.push(Piece::Note("closed in the middle of a head".into()));
            }
            Protocol::Http1(http) => {
                let mut pieces = Vec::new();
                http.finish(dir, &mut pieces);
                push_http1(pieces, out);
            }
            Protocol::WebSocket(frames) => frames[slot(dir)].finish(out),
            Protocol::Http2(h2) => {
                let rest = h2.finish(dir);
                if !rest.is_empty() {
                    let n = rest.len();
                    out.push(Piece::Bytes {
                        bytes: rest,
                        payload: false,
                    });
                    out.push(Piece::Note(format!(
                        "closed in the middle of a frame ({n} bytes)"
                    )));
                }
            }
            Protocol::Other => {}
        }
    }
}

/// HTTP/1.1's pieces as the connection's; returns the protocol a
/// `101` switched to, if one did (HTTP/1.1 gives no piece after it).
fn push_http1(pieces: Vec<http1::Piece>, out: &mut Vec<Piece>) -> Option<String> {
    for piece in pieces {
        out.push(match piece {
            http1::Piece::Bytes { bytes, payload } => {
                Piece::Bytes { bytes, payload }
            }
            http1::Piece::Note(text) => Piece::Note(text),
            http1::Piece::End(text) => Piece::End(text),
            http1::Piece::Switched(protocol) => return Some(protocol),
        });
    }
    None
}

fn feed_http2(h2: &mut Http2, dir: Dir, bytes: &[u8], out: &mut Vec<Piece>) {
    let mut frames = Vec::new();
    h2.feed(dir, bytes, &mut frames);
    let frames = frames
        .into_iter()
        .map(|shown| Piece::Http2(Box::new(shown)));
    out.extend(frames);
}

/// Bytes of a protocol this crate does not decode, as they came.
fn raw(bytes: Vec<u8>, out: &mut Vec<Piece>) {
    if !bytes.is_empty() {
        out.push(Piece::Bytes {
            bytes,
            payload: true,
        });
    }
}

fn slot(dir: Dir) -> usize {
    match dir {
        Dir::ToServer => 0,
        Dir::ToClient => 1,
    }
}

/// WebSocket frames going one way (RFC 6455 §5.2).
#[derive(Debug, Default)]
struct Frames {
    /// Bytes received but not yet a whole frame.
    buf: Vec<u8>,
    /// Bytes that were not a frame came: the rest is shown uncut.
    lost: bool,
}

impl Frames {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<Piece>) {
        self.buf.extend_from_slice(bytes);
        while !self.lost {
            // The transcript decodes any size (the limit is a
            // server's business).
            match websocket::decode(&self.buf, u64::MAX >> 1) {
                Ok(Some(decoded)) => {
                    self.buf.drain(..decoded.wire_len());
                    out.push(Piece::Frame(decoded));
                }
                Ok(None) => return,
                Err(e) => {
                    out.push(Piece::Note(format!("not a WebSocket frame: {e}")));
                    self.lost = true;
                }
            }
        }
        raw(std::mem::take(&mut self.buf), out);
    }

    /// The sender closed: a frame it cut short is said so.
    fn finish(&mut self, out: &mut Vec<Piece>) {
        let rest = std::mem::take(&mut self.buf);
        let n = rest.len();
        raw(rest, out);
        if n > 0 && !self.lost {
            let note = format!("closed in the middle of a frame ({n} bytes)");
            out.push(Piece::Note(note));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http2::{flags, setting, Frame, HeaderEncoder, Kind, Shown};

    fn shown(pieces: &[Piece]) -> Vec<&Shown> {
        pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Http2(s) => Some(&**s),
                _ => None,
            })
            .collect()
    }

    /// The HTTP/2 decoder gets the SSE parser from this one.
    #[test]
    fn data_of_an_event_stream_gets_event_notes() {
        let mut h2 = Connection::new();
        let mut out = Vec::new();
        h2.feed(Dir::ToServer, PREFACE, &mut out);
        let mut encoder = HeaderEncoder::new();
        let head = [(":status", "200"), ("content-type", "text/event-stream")];
        let block = encoder.encode(&head);
        h2.feed(
            Dir::ToClient,
            &Frame::headers(1, block, false).encode(),
            &mut out,
        );
        let event = b"id: 1\nevent: message\ndata: hi\n\n";
        h2.feed(
            Dir::ToClient,
            &Frame::data(1, event, false).encode(),
            &mut out,
        );
        let data = shown(&out)[1];
        assert_eq!(data.payload, event.len());
        assert_eq!(data.overhead, 9);
        let last = data.rows.last().unwrap();
        assert_eq!(
            last,
            &(true, r#"s1 event message, lastEventId "1", data hi"#.into())
        );
    }

    /// Client bytes: the preface, SETTINGS, a header block split into
    /// HEADERS and CONTINUATION, a PING, RST_STREAM and GOAWAY.
    fn conversation() -> Vec<u8> {
        let mut encoder = HeaderEncoder::new();
        let block = encoder.encode(&[(":method", "GET"), (":path", "/events")]);
        let (first, rest) = block.split_at(3);
        let frames = [
            Frame::settings(&[(setting::ENABLE_PUSH, 0), (0x99, 1)]),
            Frame::new(Kind::HEADERS, flags::END_STREAM, 1, first.to_vec()),
            Frame::new(Kind::CONTINUATION, flags::END_HEADERS, 1, rest.to_vec()),
            Frame::ping(false, *b"12345678"),
            Frame::window_update(1, 1000),
            Frame::rst_stream(1, 0x8),
            Frame::goaway(1, 0x0),
        ];
        let mut bytes = PREFACE.to_vec();
        for frame in frames {
            bytes.extend(frame.encode());
        }
        bytes
    }

    fn decode(parts: &[&[u8]]) -> Vec<Piece> {
        let mut http = Connection::new();
        let mut out = Vec::new();
        for part in parts {
            http.feed(Dir::ToServer, part, &mut out);
        }
        // Neighbouring bytes are joined: how reads were split is not
        // part of the result.
        let mut joined: Vec<Piece> = Vec::new();
        for piece in out {
            if let (
                Some(Piece::Bytes { bytes, .. }),
                Piece::Bytes { bytes: more, .. },
            ) = (joined.last_mut(), &piece)
            {
                bytes.extend_from_slice(more);
                continue;
            }
            joined.push(piece);
        }
        joined
    }

    #[test]
    fn every_split_gives_the_same_frames() {
        let bytes = conversation();
        let whole = decode(&[&bytes]);
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(decode(&[a, b]), whole, "cut at {cut}");
        }
        let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode(&one_by_one), whole);
    }

    #[test]
    fn control_frames_and_continuation_are_decoded() {
        let pieces = decode(&[&conversation()]);
        let frames = shown(&pieces);
        assert_eq!(frames.len(), 7);
        let notes: Vec<&str> = frames
            .iter()
            .flat_map(|f| f.rows.iter())
            .filter(|(note, _)| *note)
            .map(|(_, text)| text.as_str())
            .collect();
        for expected in [
            "  ENABLE_PUSH (0x2) = 0",
            "  unknown (0x99) = 1",
            "the header block goes on in CONTINUATION",
            "  :path: /events  (literal, name 4, added as 62)",
            "data 31 32 33 34 35 36 37 38: asks for the same 8 bytes back",
            "stream 1 may receive 1000 more bytes",
            "stream 1 ends: CANCEL (0x8)",
            "last stream processed 1, NO_ERROR (0x0)",
        ] {
            assert!(notes.contains(&expected), "{expected:?} in {notes:#?}");
        }
        // The request ends with its CONTINUATION: one message.
        let messages = frames.iter().filter(|f| f.message).count();
        assert_eq!(messages, 1);
        assert_eq!(
            frames[2].summary.as_deref(),
            Some("s1 GET /events, END_STREAM")
        );
        // Every byte is counted, none as payload (there is no DATA).
        let counted: usize = frames.iter().map(|f| f.overhead + f.payload).sum();
        assert_eq!(counted + PREFACE.len(), conversation().len());
    }

    #[test]
    fn an_http1_request_is_not_taken_for_a_preface() {
        // `P` could start the preface; `POST` cannot.
        let pieces = decode(&[b"P", b"OST / HTTP/1.1\r\ncontent-length: 0\r\n\r\n"]);
        assert!(pieces.contains(&Piece::End("POST /".into())), "{pieces:?}");
        assert!(shown(&pieces).is_empty());
    }
}
