//! The one support crate of the book: it records what crosses a TCP
//! connection and shows it to a reader, byte by byte.
//!
//! It is built in layers. A module uses only modules of the layers
//! below it, so each layer reads without the ones above:
//!
//! ```text
//! rendering     transcript  diagram
//! connections   connection  tap
//! protocols     http1  sse  websocket  http2
//! bottom        record  escape  body
//! ```
//!
//! - Bottom: [`record`], what a tap records (which way, what bytes);
//!   [`escape`], bytes as visible text; [`body`], how an HTTP decoder
//!   hands a body to a format it does not read itself.
//! - Protocols, one decoder each, none using another: [`http1`]
//!   cuts HTTP/1.1 into head lines, bodies and chunks; [`sse`] reads
//!   `text/event-stream` as a browser does; [`websocket`] is the frame
//!   codec; [`http2`] decodes frames and HPACK header lists. (Only the
//!   helpers at the end of [`sse`], which read events out of a
//!   recording, use [`http1`] to find the bodies in it.)
//! - [`connection`]: one connection's decoder, which starts as
//!   HTTP/1.1 and follows a `101` to WebSocket or a preface to HTTP/2.
//! - Rendering: [`transcript`] turns a recording into lines with a
//!   footer that counts the bytes; [`diagram`] draws it as a sequence
//!   diagram.
//! - [`tap`]: a relay on 127.0.0.1 that records every byte each way;
//!   it uses only [`record`]: it writes down what the others read.
//!
//! Beside the layers, the code that drives a chapter:
//!
//! - [`client`]: a raw-socket client that writes exact bytes.
//! - [`scenario`]: a chapter's server on a free port
//!   ([`TestServer`]), and behind a tap for tests (`Scenario`, with
//!   the `testing` feature).
//! - [`process`]: a chapter binary run as a reader runs it.
//!
//! And, with the `testing` feature only (for chapters' tests, so that
//! no chapter binary links a test dependency):
//!
//! - `browser`: headless Chromium for the real-browser tests.
//! - `restart`: the story of a page that stays open across a restart.
//! - `services`: real Redis and nginx for chapter 7, started by a test.
//! - `assert_transcript!`: a transcript checked against its snapshot.
//!
//! `cargo run -p wire -- --listen 127.0.0.1:4000 --to 127.0.0.1:3001`
//! runs the tap by hand and prints the conversation as it happens.

// The bottom layer.
pub mod body;
pub mod escape;
pub mod record;

// One decoder per protocol.
pub mod http1;
pub mod http2;
pub mod sse;
pub mod websocket;

// The decoder of a whole connection, and the tap.
pub mod connection;
pub mod tap;

// Rendering.
pub mod diagram;
pub mod transcript;

// Driving a chapter.
pub mod client;
pub mod process;
pub mod scenario;

// Test support.
#[cfg(feature = "testing")]
pub mod browser;
#[cfg(feature = "testing")]
pub mod restart;
#[cfg(feature = "testing")]
pub mod services;

pub use client::{Client, Request, Response};
pub use connection::{Connection, Piece};
pub use record::{Dir, Event, EventKind};
#[cfg(feature = "testing")]
pub use scenario::Scenario;
pub use scenario::{Shutdown, TestServer};
pub use tap::Tap;
pub use transcript::Transcript;

/// insta, for [`assert_transcript!`]; chapters need no other copy.
#[cfg(feature = "testing")]
pub use insta;

// ANCHOR: assert_transcript
/// Checks `text` against the snapshot `name` in the calling test's
/// `snapshots/` folder. The `.snap` header is three lines long, so the
/// book includes the body with `{{#include file.snap:4:}}`.
#[cfg(feature = "testing")]
#[macro_export]
macro_rules! assert_transcript {
    ($name:expr, $text:expr $(,)?) => {{
        let mut settings = $crate::insta::Settings::clone_current();
        settings.set_omit_expression(true);
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| $crate::insta::assert_snapshot!($name, $text));
    }};
}
// ANCHOR_END: assert_transcript
