//! What an HTTP decoder does with a body it frames but does not read.
//!
//! HTTP/1.1 and HTTP/2 cut a body out of the byte stream; what the
//! body says is another format's business. An event stream (WHATWG
//! HTML §9.2) is such a format: the transcript notes each event right
//! below the line that dispatched it. So the HTTP decoders take a
//! [`Reader`] for event streams from the layer above them (the
//! connection decoder hands them the SSE parser): neither HTTP decoder
//! knows the SSE parser, and the SSE parser knows neither of them.

/// Reads a body as it arrives, and says what its lines did.
pub trait Reader: std::fmt::Debug + Send {
    /// Feeds the next bytes of the body. For each line that did
    /// something, returns `(at, notes)`: `at` is the index in `bytes`
    /// just past the end of that line, `notes` what a transcript
    /// prints below it.
    fn notes(&mut self, bytes: &[u8]) -> Vec<(usize, Vec<String>)>;
}

/// Makes a fresh [`Reader`] for each event stream a decoder meets.
pub type NewReader = fn() -> Box<dyn Reader>;
