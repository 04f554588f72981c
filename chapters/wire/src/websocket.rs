//! WebSocket frames, encoded and decoded by hand (RFC 6455 §5).
//!
//! Chapter 4 walks through this code field by field, and the
//! transcripts decode WebSocket traffic with it. A property test
//! checks it against tungstenite, the library warp uses.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```

use std::fmt;

// ANCHOR: opcode
/// What a frame carries (RFC 6455 §5.2). Opcodes 0x8 and up are
/// control frames; 0x3–0x7 and 0xB–0xF are reserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpCode(pub u8);

impl OpCode {
    pub const CONTINUATION: OpCode = OpCode(0x0);
    pub const TEXT: OpCode = OpCode(0x1);
    pub const BINARY: OpCode = OpCode(0x2);
    pub const CLOSE: OpCode = OpCode(0x8);
    pub const PING: OpCode = OpCode(0x9);
    pub const PONG: OpCode = OpCode(0xA);

    /// Control frames (close, ping, pong) have the high bit of the
    /// opcode set (RFC 6455 §5.5).
    pub fn is_control(self) -> bool {
        self.0 & 0x8 != 0
    }

    /// The opcodes RFC 6455 defines; any other is a protocol error.
    pub fn is_known(self) -> bool {
        matches!(self.0, 0x0..=0x2 | 0x8..=0xA)
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            0x0 => "continuation",
            0x1 => "text",
            0x2 => "binary",
            0x8 => "close",
            0x9 => "ping",
            0xA => "pong",
            _ => "reserved",
        }
    }
}
// ANCHOR_END: opcode

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:X} {}", self.0, self.name())
    }
}

/// How the payload length was written: in the 7 bits of the second
/// byte (0–125), or after it in 16 bits (126) or 64 bits (127).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthForm {
    Bits7,
    Bits16,
    Bits64,
}

impl LengthForm {
    /// The shortest form for `len`: RFC 6455 §5.2 says "the minimal
    /// number of bytes MUST be used to encode the length".
    pub fn for_len(len: u64) -> LengthForm {
        match len {
            0..=125 => LengthForm::Bits7,
            126..=0xFFFF => LengthForm::Bits16,
            _ => LengthForm::Bits64,
        }
    }

    /// Bytes the form adds after the first two.
    pub fn extra_bytes(self) -> usize {
        match self {
            LengthForm::Bits7 => 0,
            LengthForm::Bits16 => 2,
            LengthForm::Bits64 => 8,
        }
    }
}

// ANCHOR: frame
/// One frame. `payload` is always the real data: unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The last frame of a message (a message may be fragmented).
    pub fin: bool,
    /// RSV1–RSV3: zero unless an extension gives them a meaning.
    pub rsv: [bool; 3],
    pub opcode: OpCode,
    /// The masking key. A client masks every frame; a server never
    /// masks (RFC 6455 §5.1).
    pub mask: Option<[u8; 4]>,
    pub payload: Vec<u8>,
}
// ANCHOR_END: frame

impl Frame {
    /// A final, unmasked frame, as a server sends it.
    pub fn new(opcode: OpCode, payload: impl Into<Vec<u8>>) -> Frame {
        Frame {
            fin: true,
            rsv: [false; 3],
            opcode,
            mask: None,
            payload: payload.into(),
        }
    }

    pub fn text(text: &str) -> Frame {
        Frame::new(OpCode::TEXT, text.as_bytes())
    }

    /// A close frame: a 2-byte status code, then a UTF-8 reason
    /// (RFC 6455 §5.5.1).
    pub fn close(code: u16, reason: &str) -> Frame {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        Frame::new(OpCode::CLOSE, payload)
    }

    /// The same frame with a masking key, as a client sends it.
    pub fn masked(mut self, key: [u8; 4]) -> Frame {
        self.mask = Some(key);
        self
    }

    /// The same frame with FIN set to `fin`.
    pub fn with_fin(mut self, fin: bool) -> Frame {
        self.fin = fin;
        self
    }

    /// How many bytes the header takes: 2 to 14.
    pub fn header_len(&self) -> usize {
        let form = LengthForm::for_len(self.payload.len() as u64);
        let mask = if self.mask.is_some() { 4 } else { 0 };
        2 + form.extra_bytes() + mask
    }

    // ANCHOR: encode
    /// The bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let len = self.payload.len() as u64;
        let mut out = Vec::with_capacity(self.header_len() + self.payload.len());
        // Byte 0: FIN, RSV1, RSV2, RSV3, then the 4-bit opcode.
        let bit = |on: bool, value: u8| if on { value } else { 0 };
        out.push(
            bit(self.fin, 0x80)
                | bit(self.rsv[0], 0x40)
                | bit(self.rsv[1], 0x20)
                | bit(self.rsv[2], 0x10)
                | (self.opcode.0 & 0x0F),
        );
        // Byte 1: MASK, then the length or 126 / 127.
        let mask_bit = bit(self.mask.is_some(), 0x80);
        match LengthForm::for_len(len) {
            LengthForm::Bits7 => out.push(mask_bit | len as u8),
            LengthForm::Bits16 => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            LengthForm::Bits64 => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        // The masking key, then the payload, masked with it.
        match self.mask {
            Some(key) => {
                out.extend_from_slice(&key);
                let start = out.len();
                out.extend_from_slice(&self.payload);
                apply_mask(&mut out[start..], key);
            }
            None => out.extend_from_slice(&self.payload),
        }
        out
    }
    // ANCHOR_END: encode
}

// ANCHOR: mask
/// Masking (RFC 6455 §5.3): byte `i` is XORed with key byte `i % 4`.
/// Doing it twice gives the original bytes back.
pub fn apply_mask(bytes: &mut [u8], key: [u8; 4]) {
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}
// ANCHOR_END: mask

/// A frame read from the wire, with how it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub frame: Frame,
    /// How the length was written (a sender may waste bytes).
    pub form: LengthForm,
    /// The header bytes exactly as they were on the wire.
    pub header: Vec<u8>,
}

impl Decoded {
    /// Header plus payload: how many bytes this frame took.
    pub fn wire_len(&self) -> usize {
        self.header.len() + self.frame.payload.len()
    }
}

/// Why bytes cannot be a frame at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The length is over the limit the reader set. It is refused
    /// before any memory is taken for the payload.
    TooLong { len: u64, max: u64 },
    /// A 64-bit length with its most significant bit set (RFC 6455
    /// §5.2 says it MUST be 0).
    HighBitSet,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLong { len, max } => {
                write!(f, "payload of {len} bytes is over the limit of {max}")
            }
            DecodeError::HighBitSet => {
                f.write_str("the most significant bit of a 64-bit length is set")
            }
        }
    }
}

// ANCHOR: decode
/// Reads one frame from the start of `buf`. `Ok(None)`: the frame is
/// not complete yet, read more bytes. A payload longer than
/// `max_payload` is refused before any memory is taken for it.
pub fn decode(buf: &[u8], max_payload: u64) -> Result<Option<Decoded>, DecodeError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    let fin = b0 & 0x80 != 0;
    let rsv = [b0 & 0x40 != 0, b0 & 0x20 != 0, b0 & 0x10 != 0];
    let opcode = OpCode(b0 & 0x0F);
    let masked = b1 & 0x80 != 0;
    let (form, len_end) = match b1 & 0x7F {
        126 => (LengthForm::Bits16, 4),
        127 => (LengthForm::Bits64, 10),
        _ => (LengthForm::Bits7, 2),
    };
    let Some(len_bytes) = buf.get(2..len_end) else {
        return Ok(None);
    };
    let len = match form {
        LengthForm::Bits7 => u64::from(b1 & 0x7F),
        LengthForm::Bits16 => {
            u64::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]))
        }
        LengthForm::Bits64 => {
            let len = u64::from_be_bytes(len_bytes.try_into().unwrap());
            if len >> 63 != 0 {
                return Err(DecodeError::HighBitSet);
            }
            len
        }
    };
    if len > max_payload {
        return Err(DecodeError::TooLong {
            len,
            max: max_payload,
        });
    }
    let header_end = len_end + if masked { 4 } else { 0 };
    let mask = match buf.get(len_end..header_end) {
        None => return Ok(None),
        Some(_) if !masked => None,
        Some(key) => Some([key[0], key[1], key[2], key[3]]),
    };
    // `len` fits in usize here: it is at most `max_payload`, and the
    // bytes must already be in `buf` before anything is copied.
    let Some(payload) = buf.get(header_end..).and_then(|rest| {
        let len = usize::try_from(len).ok()?;
        rest.get(..len)
    }) else {
        return Ok(None);
    };
    let mut payload = payload.to_vec();
    if let Some(key) = mask {
        apply_mask(&mut payload, key);
    }
    Ok(Some(Decoded {
        frame: Frame {
            fin,
            rsv,
            opcode,
            mask,
            payload,
        },
        form,
        header: buf[..header_end].to_vec(),
    }))
}
// ANCHOR_END: decode

// ANCHOR: violation
/// The rules of RFC 6455 §5 that one frame can break, with the close
/// code an endpoint answers (§7.4.1: 1002 is "protocol error").
/// `from_client` says who sent it: masking goes one way only.
pub fn violation(frame: &Frame, from_client: bool) -> Option<(u16, &'static str)> {
    if frame.rsv.iter().any(|&bit| bit) {
        return Some((1002, "an RSV bit is set, but no extension was agreed"));
    }
    if !frame.opcode.is_known() {
        return Some((1002, "the opcode is reserved"));
    }
    if from_client && frame.mask.is_none() {
        return Some((1002, "a client frame is not masked"));
    }
    if !from_client && frame.mask.is_some() {
        return Some((1002, "a server frame is masked"));
    }
    if frame.opcode.is_control() && !frame.fin {
        return Some((1002, "a control frame is fragmented"));
    }
    if frame.opcode.is_control() && frame.payload.len() > 125 {
        return Some((1002, "a control frame has over 125 bytes of payload"));
    }
    None
}
// ANCHOR_END: violation

/// How a transcript shows one frame: the header bytes in hex, the
/// fields they hold, the payload (cut short if long: the footer still
/// counts every byte), and a summary for the sequence diagram.
pub struct Shown {
    pub header_hex: String,
    pub fields: String,
    pub payload: Option<String>,
    pub summary: String,
}

/// Payload shown in a transcript, at most: longer ones are cut, so
/// the line fits on the page with its "… (N bytes in all)".
const SHOWN_PAYLOAD: usize = 56;

/// Describes a decoded frame for a transcript.
pub fn show(decoded: &Decoded) -> Shown {
    let frame = &decoded.frame;
    let hex = |bytes: &[u8]| {
        let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        parts.join(" ")
    };
    let len = frame.payload.len();
    let form = match decoded.form {
        LengthForm::Bits7 => "7-bit",
        LengthForm::Bits16 => "16-bit",
        LengthForm::Bits64 => "64-bit",
    };
    let mut fields = vec![
        format!("FIN={}", u8::from(frame.fin)),
        format!(
            "RSV={}{}{}",
            u8::from(frame.rsv[0]),
            u8::from(frame.rsv[1]),
            u8::from(frame.rsv[2])
        ),
        format!("op={}", frame.opcode),
        format!("MASK={}", u8::from(frame.mask.is_some())),
        format!("len={len} ({form})"),
    ];
    if let Some(key) = frame.mask {
        fields.push(format!("key={}", hex(&key)));
    }
    let (payload, summary) = match frame.opcode {
        OpCode::CLOSE if len >= 2 => {
            let code = u16::from_be_bytes([frame.payload[0], frame.payload[1]]);
            let reason = String::from_utf8_lossy(&frame.payload[2..]);
            let text = format!("close code {code}, reason {reason:?}");
            (Some(text), format!("close {code}"))
        }
        OpCode::BINARY => {
            let shown = &frame.payload[..len.min(16)];
            let more = if len > 16 { " …" } else { "" };
            let text = format!("{}{more}", hex(shown));
            (Some(text), format!("binary, {len} B"))
        }
        op => {
            // Escaped like every transcript line: CR, LF and other
            // control bytes stay visible.
            let text = crate::escape::escape(&frame.payload);
            let mut shown: String = text.chars().take(SHOWN_PAYLOAD).collect();
            if shown.len() < text.len() {
                shown.push_str(&format!(" … ({len} bytes in all)"));
            }
            let name = op.name();
            let summary = if frame.fin || op.is_control() {
                format!("{name}, {len} B")
            } else {
                format!("{name} (more follows), {len} B")
            };
            ((len > 0).then_some(shown), summary)
        }
    };
    Shown {
        header_hex: hex(&decoded.header),
        fields: fields.join(" "),
        payload,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        text.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    /// The examples of RFC 6455 §5.7, byte for byte.
    #[test]
    fn the_examples_of_rfc_6455() {
        let hello = Frame::text("Hello");
        assert_eq!(hello.encode(), hex("81 05 48 65 6c 6c 6f"));
        let masked = Frame::text("Hello").masked([0x37, 0xfa, 0x21, 0x3d]);
        let wire = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");
        assert_eq!(masked.encode(), wire);
        assert_eq!(decode(&wire, 125).unwrap().unwrap().frame, masked);
        let first = Frame::text("Hel").with_fin(false);
        assert_eq!(first.encode(), hex("01 03 48 65 6c"));
        let rest = Frame::new(OpCode::CONTINUATION, "lo");
        assert_eq!(rest.encode(), hex("80 02 6c 6f"));
        let ping = Frame::new(OpCode::PING, "Hello");
        assert_eq!(ping.encode(), hex("89 05 48 65 6c 6c 6f"));
        let big = Frame::new(OpCode::BINARY, vec![0; 256]).encode();
        assert_eq!(big[..4], hex("82 7e 01 00"));
        let huge = Frame::new(OpCode::BINARY, vec![0; 65536]).encode();
        assert_eq!(huge[..10], hex("82 7f 00 00 00 00 00 01 00 00"));
    }

    // ANCHOR: header_2_to_14
    #[test]
    fn a_header_is_2_to_14_bytes() {
        assert_eq!(Frame::text("").header_len(), 2);
        assert_eq!(Frame::text(&"x".repeat(125)).header_len(), 2);
        assert_eq!(Frame::text(&"x".repeat(126)).header_len(), 4);
        assert_eq!(Frame::text(&"x".repeat(65535)).header_len(), 4);
        let long = Frame::text(&"x".repeat(65536)).masked([1, 2, 3, 4]);
        assert_eq!(long.header_len(), 14);
    }
    // ANCHOR_END: header_2_to_14

    #[test]
    fn every_prefix_is_incomplete_and_the_whole_decodes() {
        let frame = Frame::new(OpCode::BINARY, vec![7; 300]).masked([9, 8, 7, 6]);
        let wire = frame.encode();
        for end in 0..wire.len() {
            assert_eq!(decode(&wire[..end], 1 << 20), Ok(None), "prefix {end}");
        }
        let decoded = decode(&wire, 1 << 20).unwrap().unwrap();
        assert_eq!(decoded.frame, frame);
        assert_eq!(decoded.form, LengthForm::Bits16);
        assert_eq!(decoded.wire_len(), wire.len());
    }

    #[test]
    fn a_length_over_the_limit_is_refused_before_the_payload_arrives() {
        // A header that claims 2^62 bytes, and no payload at all.
        let header = hex("82 7f 40 00 00 00 00 00 00 00");
        let max = 1 << 20;
        let len = 1 << 62;
        assert_eq!(decode(&header, max), Err(DecodeError::TooLong { len, max }));
        let high = hex("82 7f 80 00 00 00 00 00 00 00");
        assert_eq!(decode(&high, u64::MAX), Err(DecodeError::HighBitSet));
    }

    #[test]
    fn rule_breaking_frames_get_1002() {
        let key = [1, 2, 3, 4];
        let ok = Frame::text("hi").masked(key);
        assert_eq!(violation(&ok, true), None);
        assert!(violation(&Frame::text("hi"), true).is_some());
        assert!(violation(&ok, false).is_some());
        let mut rsv = ok.clone();
        rsv.rsv[0] = true;
        assert_eq!(violation(&rsv, true).unwrap().0, 1002);
        let reserved = Frame::new(OpCode(0x3), "").masked(key);
        assert_eq!(violation(&reserved, true).unwrap().0, 1002);
        let split_ping = Frame::new(OpCode::PING, "").with_fin(false).masked(key);
        assert_eq!(violation(&split_ping, true).unwrap().0, 1002);
        let big_ping = Frame::new(OpCode::PING, vec![0; 126]).masked(key);
        assert_eq!(violation(&big_ping, true).unwrap().0, 1002);
    }
}
