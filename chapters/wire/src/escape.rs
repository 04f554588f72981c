//! Bytes as text a reader can see: the escaping every line of a
//! transcript goes through, and every decoder's notes too.
//!
//! It sits at the bottom with the recording: a decoder that quotes a
//! header value or a WebSocket payload escapes it the same way the
//! transcript escapes a line, without knowing the transcript.

use std::fmt::Write as _;

// ANCHOR: escape
/// Bytes as text: `\r` for CR, `\n` for LF, `\t` for TAB, `\xNN` for
/// any other control byte or byte that is not UTF-8. A rendered line
/// ends where an LF was, so a `\n` inside a line is two real bytes
/// (`\` and `n`, as in a JSON string), never a line break.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}
// ANCHOR_END: escape

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_bytes_and_invalid_utf8() {
        assert_eq!(escape(b"a\r\n"), "a\\r\\n");
        assert_eq!(escape(b"\t\x00\x7f"), "\\t\\x00\\x7f");
        assert_eq!(escape("é".as_bytes()), "é");
        assert_eq!(escape(b"\xff!"), "\\xff!");
    }
}
