//! The one support crate of the book: it records what crosses a TCP
//! connection and shows it to a reader, byte by byte.
//!
//! - [`tap`]: a relay on 127.0.0.1 that records every byte each way.
//! - [`http1`]: cuts HTTP/1.1 bytes into head lines, bodies, chunks.
//! - [`http2`]: decodes HTTP/2 frames, HPACK header lists included.
//! - [`sse`]: reads `text/event-stream` bodies as a browser does.
//! - [`transcript`]: renders a recording as lines, with a footer that
//!   counts the bytes; [`diagram`] draws it as a sequence diagram.
//! - [`client`]: a raw-socket client that writes exact bytes.
//! - [`scenario`]: a chapter's server behind a tap, for tests.
//! - [`process`]: a chapter binary run as a reader runs it.
//! - [`browser`]: headless Chromium for the real-browser tests.
//! - [`restart`]: the story of a page that stays open across a restart.
//! - [`services`]: real Redis and nginx for chapter 7, started by a test.
//!
//! `cargo run -p wire -- --listen 127.0.0.1:4000 --to 127.0.0.1:3001`
//! runs the tap by hand and prints the conversation as it happens.

pub mod browser;
pub mod client;
pub mod diagram;
pub mod http1;
pub mod http2;
pub mod process;
pub mod restart;
pub mod scenario;
pub mod services;
pub mod sse;
pub mod tap;
pub mod transcript;
pub mod websocket;

pub use client::{Client, Request, Response};
pub use http1::{Dir, Piece};
pub use scenario::{Scenario, Shutdown, TestServer};
pub use tap::{Event, EventKind, Tap};
pub use transcript::Transcript;

/// insta, for [`assert_transcript!`]; chapters need no other copy.
pub use insta;

// ANCHOR: assert_transcript
/// Checks `text` against the snapshot `name` in the calling test's
/// `snapshots/` folder. The `.snap` header is three lines long, so the
/// book includes the body with `{{#include file.snap:4:}}`.
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
