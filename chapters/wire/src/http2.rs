//! HTTP/2 frames (RFC 9113), decoded for a transcript, and built for a
//! test that writes them by hand.
//!
//! An HTTP/2 connection starts with the client's preface, 24 fixed
//! bytes (RFC 9113 §3.4); after it, both ways carry frames. Every
//! frame has the same 9-byte header (§4.1):
//!
//! ```text
//! +-----------------------------------------------+
//! |                 Length (24)                   |
//! +---------------+---------------+---------------+
//! |   Type (8)    |   Flags (8)   |
//! +-+-------------+---------------+-------------------------------+
//! |R|                 Stream Identifier (31)                      |
//! +=+=============================================================+
//! |                   Frame Payload (0...)                      ...
//! +---------------------------------------------------------------+
//! ```
//!
//! Header lists travel compressed with HPACK (RFC 7541). The HPACK
//! decoder is `loona-hpack`: a maintained fork of the `hpack` crate
//! that decodes Huffman strings and the dynamic table, checked against
//! the RFC's examples, with no dependency on any HTTP stack. It is
//! re-exported as [`hpack`]. Its encoder never adds a field with a
//! known name to the table, so tests write header blocks with the
//! small [`HeaderEncoder`] below, which does what browsers do.
//! HPACK is stateful, and each way has its own table: the client's
//! encoder fills the table the server decodes with, and the other way
//! round. So this decoder keeps one HPACK decoder per direction.

use std::collections::HashMap;

use crate::body::{NewReader, Reader};
use crate::escape::escape;
use crate::record::{Dir, Event, EventKind};

/// HPACK, for tests that write HEADERS frames themselves.
pub use loona_hpack as hpack;

/// What an HTTP/2 client sends first (RFC 9113 §3.4). An HTTP/1.1
/// server reads it as a request for the method `PRI`, which it does
/// not know, and fails at once: the two cannot be mistaken.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The frame header is 9 bytes long (RFC 9113 §4.1).
pub const HEADER_LEN: usize = 9;

// ANCHOR: kind
/// The type of a frame (RFC 9113 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Kind(pub u8);

impl Kind {
    pub const DATA: Kind = Kind(0x0);
    pub const HEADERS: Kind = Kind(0x1);
    pub const PRIORITY: Kind = Kind(0x2);
    pub const RST_STREAM: Kind = Kind(0x3);
    pub const SETTINGS: Kind = Kind(0x4);
    pub const PUSH_PROMISE: Kind = Kind(0x5);
    pub const PING: Kind = Kind(0x6);
    pub const GOAWAY: Kind = Kind(0x7);
    pub const WINDOW_UPDATE: Kind = Kind(0x8);
    pub const CONTINUATION: Kind = Kind(0x9);

    pub fn name(self) -> &'static str {
        match self.0 {
            0x0 => "DATA",
            0x1 => "HEADERS",
            0x2 => "PRIORITY",
            0x3 => "RST_STREAM",
            0x4 => "SETTINGS",
            0x5 => "PUSH_PROMISE",
            0x6 => "PING",
            0x7 => "GOAWAY",
            0x8 => "WINDOW_UPDATE",
            0x9 => "CONTINUATION",
            // A receiver ignores a type it does not know (§4.1).
            _ => "unknown",
        }
    }
}
// ANCHOR_END: kind

/// Flag bits (RFC 9113 §6): what each means depends on the type.
pub mod flags {
    pub const END_STREAM: u8 = 0x1;
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PADDED: u8 = 0x8;
    pub const PRIORITY: u8 = 0x20;
}

/// The SETTINGS parameters (RFC 9113 §6.5.2, RFC 8441, RFC 9218).
pub mod setting {
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    pub const ENABLE_PUSH: u16 = 0x2;
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    pub const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;
    pub const NO_RFC7540_PRIORITIES: u16 = 0x9;

    pub fn name(id: u16) -> &'static str {
        match id {
            HEADER_TABLE_SIZE => "HEADER_TABLE_SIZE",
            ENABLE_PUSH => "ENABLE_PUSH",
            MAX_CONCURRENT_STREAMS => "MAX_CONCURRENT_STREAMS",
            INITIAL_WINDOW_SIZE => "INITIAL_WINDOW_SIZE",
            MAX_FRAME_SIZE => "MAX_FRAME_SIZE",
            MAX_HEADER_LIST_SIZE => "MAX_HEADER_LIST_SIZE",
            ENABLE_CONNECT_PROTOCOL => "ENABLE_CONNECT_PROTOCOL",
            NO_RFC7540_PRIORITIES => "NO_RFC7540_PRIORITIES",
            // An unknown setting is ignored (§6.5.2).
            _ => "unknown",
        }
    }
}

/// The error codes of RST_STREAM and GOAWAY (RFC 9113 §7).
pub fn error_name(code: u32) -> &'static str {
    match code {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x4 => "SETTINGS_TIMEOUT",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSION_ERROR",
        0xa => "CONNECT_ERROR",
        0xb => "ENHANCE_YOUR_CALM",
        0xc => "INADEQUATE_SECURITY",
        0xd => "HTTP_1_1_REQUIRED",
        _ => "unknown",
    }
}

// ANCHOR: frame
/// One frame: its header fields and its payload, as on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub kind: Kind,
    pub flags: u8,
    /// 0 for the connection itself; odd for streams a client opens.
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn new(kind: Kind, flags: u8, stream: u32, payload: Vec<u8>) -> Frame {
        Frame {
            kind,
            flags,
            stream,
            payload,
        }
    }

    /// The bytes on the wire: the 9-byte header, then the payload.
    pub fn encode(&self) -> Vec<u8> {
        let len = self.payload.len() as u32;
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        // A 24-bit length, big-endian (network byte order, §1).
        out.extend_from_slice(&len.to_be_bytes()[1..]);
        out.push(self.kind.0);
        out.push(self.flags);
        // The reserved bit R stays 0.
        out.extend_from_slice(&(self.stream & 0x7fff_ffff).to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }
    // ANCHOR_END: frame

    /// SETTINGS: each parameter is 6 bytes, a 16-bit id and a 32-bit
    /// value (§6.5.1).
    pub fn settings(values: &[(u16, u32)]) -> Frame {
        let mut payload = Vec::new();
        for (id, value) in values {
            payload.extend_from_slice(&id.to_be_bytes());
            payload.extend_from_slice(&value.to_be_bytes());
        }
        Frame::new(Kind::SETTINGS, 0, 0, payload)
    }

    /// The empty SETTINGS that says "I have applied yours" (§6.5.3).
    pub fn settings_ack() -> Frame {
        Frame::new(Kind::SETTINGS, flags::ACK, 0, Vec::new())
    }

    /// HEADERS with a whole header block (END_HEADERS set).
    pub fn headers(stream: u32, block: Vec<u8>, end_stream: bool) -> Frame {
        let end = if end_stream { flags::END_STREAM } else { 0 };
        Frame::new(Kind::HEADERS, flags::END_HEADERS | end, stream, block)
    }

    pub fn data(stream: u32, data: &[u8], end_stream: bool) -> Frame {
        let end = if end_stream { flags::END_STREAM } else { 0 };
        Frame::new(Kind::DATA, end, stream, data.to_vec())
    }

    /// Ends one stream, and only that one (§6.4).
    pub fn rst_stream(stream: u32, code: u32) -> Frame {
        Frame::new(Kind::RST_STREAM, 0, stream, code.to_be_bytes().to_vec())
    }

    pub fn window_update(stream: u32, increment: u32) -> Frame {
        let payload = increment.to_be_bytes().to_vec();
        Frame::new(Kind::WINDOW_UPDATE, 0, stream, payload)
    }

    pub fn ping(ack: bool, data: [u8; 8]) -> Frame {
        let flags = if ack { flags::ACK } else { 0 };
        Frame::new(Kind::PING, flags, 0, data.to_vec())
    }

    /// The last stream the sender will process, and why it stops.
    pub fn goaway(last_stream: u32, code: u32) -> Frame {
        let mut payload = last_stream.to_be_bytes().to_vec();
        payload.extend_from_slice(&code.to_be_bytes());
        Frame::new(Kind::GOAWAY, 0, 0, payload)
    }
}

/// Reads one whole frame from the start of `buf`: the frame and how
/// many bytes it took, or `None` if more bytes are needed.
pub fn parse(buf: &[u8]) -> Option<(Frame, usize)> {
    if buf.len() < HEADER_LEN {
        return None;
    }
    let len = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]) as usize;
    if buf.len() < HEADER_LEN + len {
        return None;
    }
    let stream = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) & 0x7fff_ffff;
    let payload = buf[HEADER_LEN..HEADER_LEN + len].to_vec();
    let frame = Frame::new(Kind(buf[3]), buf[4], stream, payload);
    Some((frame, HEADER_LEN + len))
}

/// A frame as a transcript shows it: rows of text, and how its bytes
/// count in the footer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    pub frame: Frame,
    /// `(is_note, text)`: the header in hex, then notes and lines.
    pub rows: Vec<(bool, String)>,
    /// DATA bytes the application sent; every other byte is overhead.
    pub payload: usize,
    pub overhead: usize,
    /// An arrow for the sequence diagram, if this frame gets one.
    pub summary: Option<String>,
    /// This frame starts a request or a response (a HEADERS frame).
    pub message: bool,
}

/// What the decoder remembers of one stream.
#[derive(Debug, Default)]
struct StreamInfo {
    /// The response is an event stream: DATA is also read as events.
    events: Option<Box<dyn Reader>>,
    /// The request was an extended CONNECT for `websocket` (RFC 8441
    /// §4): DATA carries WebSocket frames. A frame may span DATA
    /// frames, so each direction keeps the bytes of an unfinished one.
    websocket: Option<[Vec<u8>; 2]>,
}

/// A header block being collected: HEADERS or PUSH_PROMISE, then
/// CONTINUATION frames until END_HEADERS (§6.10).
#[derive(Debug)]
struct Block {
    stream: u32,
    bytes: Vec<u8>,
    /// The HEADERS frame that began it had END_STREAM.
    end_stream: bool,
    /// Begun by a PUSH_PROMISE on this stream: a promise, not a head.
    promised_on: Option<u32>,
}

/// One direction of an HTTP/2 connection.
struct Side {
    buf: Vec<u8>,
    hpack: hpack::Decoder<'static>,
    block: Option<Block>,
    /// HPACK failed once: its table is lost for good on this side.
    broken: bool,
}

/// The decoder of one HTTP/2 connection, both ways.
pub struct Http2 {
    sides: [Side; 2],
    streams: HashMap<u32, StreamInfo>,
    /// Where a reader for an event stream comes from, if anywhere.
    new_reader: Option<NewReader>,
}

impl std::fmt::Debug for Http2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http2")
            .field("streams", &self.streams)
            .finish()
    }
}

impl Default for Http2 {
    fn default() -> Self {
        Http2::new()
    }
}

/// Payload lines shown per DATA frame, at most; the rest is counted.
const SHOWN_LINES: usize = 8;

impl Http2 {
    /// A decoder that shows the DATA of event streams as lines, unread.
    pub fn new() -> Self {
        let side = || Side {
            buf: Vec::new(),
            hpack: hpack::Decoder::new(),
            block: None,
            broken: false,
        };
        Http2 {
            sides: [side(), side()],
            streams: HashMap::new(),
            new_reader: None,
        }
    }

    /// A decoder that also reads the DATA of each `text/event-stream`
    /// response with a reader from `new_reader`, and notes each event.
    pub fn with_event_streams(new_reader: NewReader) -> Self {
        Http2 {
            new_reader: Some(new_reader),
            ..Http2::new()
        }
    }

    /// Feeds bytes that went `dir` (after the preface); each whole
    /// frame is pushed onto `out`, as a transcript shows it.
    pub fn feed(&mut self, dir: Dir, bytes: &[u8], out: &mut Vec<Shown>) {
        let i = slot(dir);
        self.sides[i].buf.extend_from_slice(bytes);
        while let Some((frame, used)) = parse(&self.sides[i].buf) {
            let header = self.sides[i].buf[..HEADER_LEN].to_vec();
            self.sides[i].buf.drain(..used);
            out.push(self.show(i, &header, frame));
        }
    }

    /// The side that sent `dir` closed: returns the bytes of a frame
    /// it cut short (none if it closed between frames).
    pub fn finish(&mut self, dir: Dir) -> Vec<u8> {
        std::mem::take(&mut self.sides[slot(dir)].buf)
    }

    fn show(&mut self, side: usize, header: &[u8], frame: Frame) -> Shown {
        let len = frame.payload.len();
        let mut shown = Shown {
            rows: vec![(false, hex(header))],
            payload: 0,
            overhead: HEADER_LEN + len,
            summary: None,
            message: false,
            frame: frame.clone(),
        };
        let flag_names = flag_names(frame.kind, frame.flags);
        let flags = if flag_names.is_empty() {
            format!("flags=0x{:02x}", frame.flags)
        } else {
            format!("flags=0x{:02x} {flag_names}", frame.flags)
        };
        shown.rows.push((
            true,
            format!(
                "{} len={len} {flags} stream={}",
                frame.kind.name(),
                frame.stream
            ),
        ));
        let s = frame.stream;
        let p = &frame.payload;
        let note = |shown: &mut Shown, text: String| shown.rows.push((true, text));
        match frame.kind {
            Kind::DATA => {
                let (pad, data) = unpad(&frame);
                shown.payload = data.len();
                shown.overhead = HEADER_LEN + len - data.len();
                if pad > 0 {
                    note(&mut shown, format!("{pad} bytes of padding"));
                }
                let info = self.streams.entry(s).or_default();
                if let Some(bufs) = info.websocket.as_mut() {
                    let buf = &mut bufs[side];
                    let first = websocket_rows(s, buf, data, &mut shown.rows);
                    shown.summary = first;
                    return shown;
                }
                let sse = info.events.is_some();
                let event =
                    data_rows(s, info.events.as_deref_mut(), data, &mut shown.rows);
                if let Some(event) = event {
                    // The diagram draws each event as an arrow.
                    shown.summary = Some(event);
                } else if !sse {
                    let end = if frame.flags & flags::END_STREAM != 0 {
                        ", END_STREAM"
                    } else {
                        ""
                    };
                    shown.summary = Some(format!("s{s} DATA {} B{end}", data.len()));
                }
            }
            Kind::HEADERS | Kind::PUSH_PROMISE => {
                let (pad, rest) = unpad(&frame);
                let mut rest = rest;
                if pad > 0 {
                    note(&mut shown, format!("{pad} bytes of padding"));
                }
                // HEADERS with PRIORITY: 5 bytes of priority first.
                let prioritized = frame.flags & flags::PRIORITY != 0;
                if frame.kind == Kind::HEADERS && prioritized && rest.len() >= 5 {
                    note(&mut shown, priority(&rest[..5]));
                    rest = &rest[5..];
                }
                let mut stream = s;
                if frame.kind == Kind::PUSH_PROMISE && rest.len() >= 4 {
                    let id =
                        u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
                    stream = id & 0x7fff_ffff;
                    note(
                        &mut shown,
                        format!("the server promises stream {stream}, a push"),
                    );
                    rest = &rest[4..];
                }
                let push = frame.kind == Kind::PUSH_PROMISE;
                self.sides[side].block = Some(Block {
                    stream,
                    bytes: rest.to_vec(),
                    end_stream: !push && frame.flags & flags::END_STREAM != 0,
                    promised_on: push.then_some(s),
                });
                if frame.flags & flags::END_HEADERS != 0 {
                    self.end_block(side, &mut shown);
                } else {
                    note(
                        &mut shown,
                        "the header block goes on in CONTINUATION".into(),
                    );
                }
            }
            Kind::CONTINUATION => match self.sides[side].block.as_mut() {
                Some(block) => {
                    block.bytes.extend_from_slice(p);
                    if frame.flags & flags::END_HEADERS != 0 {
                        self.end_block(side, &mut shown);
                    }
                }
                None => {
                    note(&mut shown, "a CONTINUATION with no header block".into())
                }
            },
            Kind::SETTINGS => {
                if frame.flags & flags::ACK != 0 {
                    note(&mut shown, "the peer's SETTINGS are applied".into());
                } else {
                    for param in p.chunks(6) {
                        if param.len() < 6 {
                            note(&mut shown, "a parameter cut short".into());
                            break;
                        }
                        let id = u16::from_be_bytes([param[0], param[1]]);
                        let value = u32::from_be_bytes([
                            param[2], param[3], param[4], param[5],
                        ]);
                        let name = setting::name(id);
                        note(&mut shown, format!("  {name} (0x{id:x}) = {value}"));
                    }
                    if p.is_empty() {
                        note(&mut shown, "  (no parameters: all defaults)".into());
                    }
                    shown.summary = Some("SETTINGS".into());
                }
            }
            Kind::WINDOW_UPDATE if len == 4 => {
                let n = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff;
                let whose = if s == 0 {
                    "the connection".to_owned()
                } else {
                    format!("stream {s}")
                };
                note(&mut shown, format!("{whose} may receive {n} more bytes"));
            }
            Kind::PING if len == 8 => {
                let what = if frame.flags & flags::ACK != 0 {
                    "the answer to a PING"
                } else {
                    "asks for the same 8 bytes back"
                };
                note(&mut shown, format!("data {}: {what}", hex(p)));
            }
            Kind::RST_STREAM if len == 4 => {
                let code = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
                let name = error_name(code);
                note(&mut shown, format!("stream {s} ends: {name} (0x{code:x})"));
                shown.summary = Some(format!("s{s} RST_STREAM {name}"));
                self.streams.remove(&s);
            }
            Kind::GOAWAY if len >= 8 => {
                let last =
                    u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff;
                let code = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
                let name = error_name(code);
                note(
                    &mut shown,
                    format!("last stream processed {last}, {name} (0x{code:x})"),
                );
                if len > 8 {
                    let debug = escape(&p[8..]);
                    note(&mut shown, format!("debug data: {debug}"));
                }
                shown.summary = Some(format!("GOAWAY {name}"));
            }
            Kind::PRIORITY if len == 5 => note(&mut shown, priority(p)),
            _ => {
                if len > 0 {
                    shown.rows.push((false, hex_cut(p)));
                }
            }
        }
        shown
    }

    /// The header block is whole: decode it with this side's table.
    fn end_block(&mut self, side: usize, shown: &mut Shown) {
        let Some(block) = self.sides[side].block.take() else {
            return;
        };
        shown.rows.push((false, hex_cut(&block.bytes)));
        let n = block.bytes.len();
        if self.sides[side].broken {
            let why = "not decoded: an earlier block broke the HPACK table";
            shown.rows.push((true, why.into()));
            return;
        }
        let kinds = representations(&block.bytes);
        let decoded = self.sides[side].hpack.decode(&block.bytes);
        let headers = match decoded {
            Ok(headers) => headers,
            Err(e) => {
                self.sides[side].broken = true;
                shown.rows.push((true, format!("HPACK error: {e:?}")));
                return;
            }
        };
        shown.rows.push((
            true,
            format!("header block {n} bytes, {} fields:", headers.len()),
        ));
        let mut kinds = kinds.into_iter();
        for (name, value) in &headers {
            let name = String::from_utf8_lossy(name);
            let value = escape(value);
            let how = kinds.next().unwrap_or_default();
            shown
                .rows
                .push((true, format!("  {name}: {value}  ({how})")));
        }
        let get = |wanted: &str| {
            headers
                .iter()
                .find(|(n, _)| n == wanted.as_bytes())
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        let s = block.stream;
        let end = if block.end_stream { ", END_STREAM" } else { "" };
        if let Some(on) = block.promised_on {
            shown.summary = Some(format!("s{on} PUSH_PROMISE s{s}"));
            return;
        }
        if let Some(method) = get(":method") {
            let path = get(":path").unwrap_or_default();
            shown.summary = Some(format!("s{s} {method} {path}{end}"));
            shown.message = true;
            // RFC 8441 §4: CONNECT with `:protocol` asks for a stream
            // that carries that protocol, here WebSocket frames.
            let protocol = get(":protocol");
            let websocket =
                protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket"));
            if method == "CONNECT" && websocket {
                self.streams.entry(s).or_default().websocket =
                    Some(Default::default());
            }
        } else if let Some(status) = get(":status") {
            shown.summary = Some(format!("s{s} {status}{end}"));
            shown.message = true;
            let event_stream = get("content-type").is_some_and(|v| {
                let essence = v.split(';').next().unwrap_or("").trim();
                essence.eq_ignore_ascii_case("text/event-stream")
            });
            if event_stream {
                // An event stream (WHATWG HTML §9.2) is also decoded.
                self.streams.entry(s).or_default().events =
                    self.new_reader.map(|new| new());
            }
        }
    }
}

fn slot(dir: Dir) -> usize {
    match dir {
        Dir::ToServer => 0,
        Dir::ToClient => 1,
    }
}

fn hex(bytes: &[u8]) -> String {
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(" ")
}

/// Hex of at most 16 bytes: a header block is shown, not read.
fn hex_cut(bytes: &[u8]) -> String {
    if bytes.len() <= 16 {
        return hex(bytes);
    }
    format!("{} … ({} bytes in all)", hex(&bytes[..16]), bytes.len())
}

fn flag_names(kind: Kind, bits: u8) -> String {
    let known: &[(u8, &str)] = match kind {
        Kind::DATA => {
            &[(flags::END_STREAM, "END_STREAM"), (flags::PADDED, "PADDED")]
        }
        Kind::HEADERS => &[
            (flags::END_STREAM, "END_STREAM"),
            (flags::END_HEADERS, "END_HEADERS"),
            (flags::PADDED, "PADDED"),
            (flags::PRIORITY, "PRIORITY"),
        ],
        Kind::SETTINGS | Kind::PING => &[(flags::ACK, "ACK")],
        Kind::PUSH_PROMISE => &[
            (flags::END_HEADERS, "END_HEADERS"),
            (flags::PADDED, "PADDED"),
        ],
        Kind::CONTINUATION => &[(flags::END_HEADERS, "END_HEADERS")],
        _ => &[],
    };
    let names: Vec<&str> = known
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    names.join("|")
}

/// The payload without its padding (§6.1): (pad length, the rest).
fn unpad(frame: &Frame) -> (usize, &[u8]) {
    let p = &frame.payload;
    if frame.flags & flags::PADDED == 0 || p.is_empty() {
        return (0, p);
    }
    let pad = p[0] as usize;
    if 1 + pad > p.len() {
        return (0, p);
    }
    (pad, &p[1..p.len() - pad])
}

/// A PRIORITY field (§5.3.2; deprecated by RFC 9113, still parsed).
fn priority(p: &[u8]) -> String {
    let raw = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
    let exclusive = raw & 0x8000_0000 != 0;
    let weight = u16::from(p[4]) + 1;
    format!(
        "priority: depends on stream {}{}, weight {weight}",
        raw & 0x7fff_ffff,
        if exclusive { " (exclusive)" } else { "" }
    )
}

/// DATA as lines of text (escaped like every transcript line), with a
/// note after each line that completed an event of an event stream.
/// Returns a summary of the first event, for the diagram.
fn data_rows(
    stream: u32,
    events: Option<&mut (dyn Reader + 'static)>,
    data: &[u8],
    rows: &mut Vec<(bool, String)>,
) -> Option<String> {
    let mut first = None;
    let outputs = events.map(|reader| reader.notes(data)).unwrap_or_default();
    let mut outputs = outputs.into_iter().peekable();
    let mut start = 0;
    let mut lines = 0;
    while start < data.len() {
        let end = data[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |lf| start + lf + 1);
        if lines == SHOWN_LINES {
            let rest = data.len() - start;
            rows.push((true, format!("… {rest} more bytes of data")));
            break;
        }
        rows.push((false, escape(&data[start..end])));
        lines += 1;
        while let Some((at, _)) = outputs.peek() {
            if *at > end {
                break;
            }
            let (_, notes) = outputs.next().unwrap();
            for (i, note) in notes.into_iter().enumerate() {
                // Which stream the event came on: `s1 event message…`.
                let note = if i == 0 {
                    format!("s{stream} {note}")
                } else {
                    note
                };
                if first.is_none() && note.contains(" event ") {
                    let short = note.split(", data ").next().unwrap_or(&note);
                    first = Some(short.to_owned());
                }
                rows.push((true, note));
            }
        }
        start = end;
    }
    first
}

/// DATA of a WebSocket stream (RFC 8441 §5): the WebSocket frames it
/// completes, decoded as chapter 4's transcripts show them. `buf`
/// holds the start of a frame that an earlier DATA frame began.
/// Returns a summary of the first frame, for the diagram.
fn websocket_rows(
    stream: u32,
    buf: &mut Vec<u8>,
    data: &[u8],
    rows: &mut Vec<(bool, String)>,
) -> Option<String> {
    buf.extend_from_slice(data);
    let mut first = None;
    loop {
        match crate::websocket::decode(buf, u64::MAX >> 1) {
            Ok(Some(decoded)) => {
                let shown = crate::websocket::show(&decoded);
                rows.push((
                    true,
                    format!("a WebSocket frame: {}", shown.header_hex),
                ));
                rows.push((true, format!("  {}", shown.fields)));
                if let Some(payload) = shown.payload {
                    rows.push((false, payload));
                }
                first.get_or_insert(format!("s{stream} ws {}", shown.summary));
                buf.drain(..decoded.wire_len());
            }
            Ok(None) => break,
            Err(e) => {
                rows.push((true, format!("not a WebSocket frame: {e}")));
                buf.clear();
                break;
            }
        }
    }
    if !buf.is_empty() {
        let n = buf.len();
        rows.push((true, format!("{n} bytes of a frame that goes on")));
    }
    first
}

/// How each field of a header block was written (RFC 7541 §6): from
/// the table by index, or as a literal that is (or is not) added to
/// the table. One entry per field, in order; size updates are skipped.
fn representations(block: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < block.len() {
        let first = block[at];
        let (prefix, kind) = match first {
            b if b & 0x80 != 0 => (7, 0),
            b if b & 0xc0 == 0x40 => (6, 1),
            b if b & 0xe0 == 0x20 => (5, 2),
            b if b & 0xf0 == 0x10 => (4, 3),
            _ => (4, 4),
        };
        let Some((index, used)) = integer(&block[at..], prefix) else {
            return out;
        };
        at += used;
        let table = |i: usize| {
            if i <= 61 {
                format!("static {i}")
            } else {
                format!("dynamic {i}")
            }
        };
        if kind == 0 {
            out.push(table(index));
            continue;
        }
        if kind == 2 {
            // A dynamic table size update carries no field.
            continue;
        }
        let mut huffman = false;
        let mut strings = if index == 0 { 2 } else { 1 };
        while strings > 0 {
            let Some(&b) = block.get(at) else {
                return out;
            };
            huffman |= b & 0x80 != 0;
            let Some((len, used)) = integer(&block[at..], 7) else {
                return out;
            };
            at += used + len;
            strings -= 1;
        }
        let name = if index == 0 {
            "literal".to_owned()
        } else {
            format!("literal, name {index}")
        };
        // A new entry always takes index 62; older ones move up.
        let what = match kind {
            1 => ", added as 62",
            3 => ", never to be added",
            _ => ", not added",
        };
        let huffman = if huffman { ", Huffman" } else { "" };
        out.push(format!("{name}{what}{huffman}"));
    }
    out
}

/// An HPACK integer with an N-bit prefix (RFC 7541 §5.1).
fn integer(bytes: &[u8], prefix: u32) -> Option<(usize, usize)> {
    let max = (1usize << prefix) - 1;
    let first = usize::from(*bytes.first()?) & max;
    if first < max {
        return Some((first, 1));
    }
    let mut value = max;
    let mut shift = 0;
    for (i, &b) in bytes.iter().enumerate().skip(1) {
        value += usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
    None
}

/// The frames that went `dir` on `conn`, as recorded by a tap (after
/// the preface). A test waits on these to know where a story stands.
pub fn frames_in(events: &[Event], conn: usize, dir: Dir) -> Vec<Frame> {
    let mut bytes = Vec::new();
    for event in events.iter().filter(|e| e.conn == conn) {
        if let EventKind::Data { dir: d, bytes: b } = &event.kind {
            if *d == dir {
                bytes.extend_from_slice(b);
            }
        }
    }
    let mut rest = bytes.strip_prefix(PREFACE).unwrap_or(&bytes);
    let mut frames = Vec::new();
    while let Some((frame, used)) = parse(rest) {
        frames.push(frame);
        rest = &rest[used..];
    }
    frames
}

// ANCHOR: encoder
/// Writes header lists as HPACK (RFC 7541) the way browsers do: a
/// field already in a table is sent as its index (one byte, often);
/// any other is sent as a literal and added to the dynamic table, so
/// the next request can send its index instead. Strings are written
/// without Huffman coding, so a transcript shows them as text.
pub struct HeaderEncoder {
    /// The static table (RFC 7541 Appendix A), entries 1 to 61.
    statics: Vec<(Vec<u8>, Vec<u8>)>,
    /// The dynamic table, newest first: entry 62 is `dynamic[0]`.
    dynamic: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Default for HeaderEncoder {
    fn default() -> Self {
        HeaderEncoder::new()
    }
}

impl HeaderEncoder {
    pub fn new() -> Self {
        // The static table, read back from the decoder: the bytes
        // 0x81 to 0xbd are "indexed field 1" to "indexed field 61".
        let all: Vec<u8> = (0x81..=0xbd).collect();
        let statics = hpack::Decoder::new().decode(&all).expect("static table");
        HeaderEncoder {
            statics,
            dynamic: Vec::new(),
        }
    }

    /// One header block for `headers`, in order.
    pub fn encode(&mut self, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in headers {
            let (name, value) = (name.as_bytes(), value.as_bytes());
            let table = || self.statics.iter().chain(&self.dynamic);
            let same = |(n, v): &(Vec<u8>, Vec<u8>)| n == name && v == value;
            if let Some(i) = table().position(same) {
                // Indexed field (§6.1): 1, then a 7-bit prefix index.
                integer_into(&mut out, 0x80, 7, i + 1);
                continue;
            }
            // Literal with incremental indexing (§6.2.1): 01, then a
            // 6-bit prefix index of the name, or 0 and the name.
            match table().position(|(n, _)| n == name) {
                Some(i) => integer_into(&mut out, 0x40, 6, i + 1),
                None => {
                    out.push(0x40);
                    string_into(&mut out, name);
                }
            }
            string_into(&mut out, value);
            self.add(name, value);
        }
        out
    }

    /// Adds an entry; the oldest go when the table passes 4096 bytes,
    /// the default SETTINGS_HEADER_TABLE_SIZE (§4.1: each entry counts
    /// its name, its value and 32 more).
    fn add(&mut self, name: &[u8], value: &[u8]) {
        self.dynamic.insert(0, (name.to_vec(), value.to_vec()));
        let size = |t: &[(Vec<u8>, Vec<u8>)]| {
            t.iter().map(|(n, v)| n.len() + v.len() + 32).sum::<usize>()
        };
        while size(&self.dynamic) > 4096 {
            self.dynamic.pop();
        }
    }
}
// ANCHOR_END: encoder

/// An HPACK integer (§5.1): `flags` in the high bits of the first byte.
fn integer_into(out: &mut Vec<u8>, flags: u8, prefix: u32, value: usize) {
    let max = (1usize << prefix) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    let mut rest = value - max;
    while rest >= 0x80 {
        out.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// An HPACK string literal (§5.2), not Huffman coded (H = 0).
fn string_into(out: &mut Vec<u8>, bytes: &[u8]) {
    integer_into(out, 0, 7, bytes.len());
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_wait_for_all_their_bytes() {
        let frame = Frame::settings(&[(setting::ENABLE_PUSH, 0)]);
        let wire = frame.encode();
        assert_eq!(&wire[..9], &[0, 0, 6, 4, 0, 0, 0, 0, 0]);
        assert_eq!(parse(&wire[..10]), None);
        assert_eq!(parse(&wire), Some((frame, 15)));
    }

    /// RFC 7541 Appendix C.3: three requests on one connection, the
    /// second and third smaller thanks to the dynamic table.
    #[test]
    fn hpack_tables_live_as_long_as_the_connection() {
        let mut h2 = Http2::new();
        let mut encoder = HeaderEncoder::new();
        let mut frames = Vec::new();
        let request = [
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/events"),
            (":authority", "127.0.0.1:3005"),
        ];
        for stream in [1, 3] {
            let block = encoder.encode(&request);
            let frame = Frame::headers(stream, block, true).encode();
            // Split anywhere: the decoder waits for whole frames.
            h2.feed(Dir::ToServer, &frame[..5], &mut frames);
            h2.feed(Dir::ToServer, &frame[5..], &mut frames);
        }
        assert_eq!(frames.len(), 2);
        assert!(frames[0].frame.payload.len() > frames[1].frame.payload.len());
        assert_eq!(
            frames[1].summary.as_deref(),
            Some("s3 GET /events, END_STREAM")
        );
        let notes: Vec<&str> = frames[1]
            .rows
            .iter()
            .filter(|(note, _)| *note)
            .map(|(_, t)| t.as_str())
            .collect();
        let path = "  :path: /events  (dynamic 63)";
        assert!(notes.contains(&path), "{notes:?}");
        // The first time, a literal added to the table.
        let first = "  :path: /events  (literal, name 4, added as 62)";
        assert!(frames[0].rows.iter().any(|(_, t)| t == first));
    }

    #[test]
    fn integers_with_a_prefix() {
        // RFC 7541 C.1.2: 1337 with a 5-bit prefix.
        assert_eq!(integer(&[0x1f, 0x9a, 0x0a], 5), Some((1337, 3)));
        assert_eq!(integer(&[0x0a], 5), Some((10, 1)));
    }
}
