//! What a tap records: which way bytes went, and what happened on
//! each connection, in order.
//!
//! This is the bottom of the crate. The tap writes these events; the
//! decoders and the transcript read them; none of them is needed to
//! say what an event is.

use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::escape::escape;

/// Which way bytes go on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From the client to the server: requests.
    ToServer,
    /// From the server to the client: responses.
    ToClient,
}

impl Dir {
    /// The arrow a transcript prints: `→` to the server, `←` back.
    pub fn arrow(self) -> &'static str {
        match self {
            Dir::ToServer => "→",
            Dir::ToClient => "←",
        }
    }
}

/// Something that happened on a tapped connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The connection: 1 for the first one the tap accepted, then 2, …
    pub conn: usize,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A client connected from `client` (its address and port).
    Open { client: SocketAddr },
    /// Bytes went one way.
    Data { dir: Dir, bytes: Vec<u8> },
    /// One side closed its way (a TCP FIN), or the connection broke.
    Close { dir: Dir },
    /// A test cut the connection (`Recording::cut` in the tap): the
    /// tap dropped it both ways at once, as a broken network would.
    Cut,
}

/// Bytes in `events` that went `dir` on `conn`.
pub fn bytes_in(events: &[Event], conn: usize, dir: Dir) -> usize {
    events
        .iter()
        .filter(|e| e.conn == conn)
        .map(|e| match &e.kind {
            EventKind::Data { dir: d, bytes } if *d == dir => bytes.len(),
            _ => 0,
        })
        .sum()
}

/// The events one per line, bytes escaped but not decoded: what a
/// failing test prints, when a decoder may be what went wrong.
pub fn listing(events: &[Event]) -> String {
    let mut out = String::new();
    for Event { conn, kind } in events {
        let _ = match kind {
            EventKind::Open { client } => {
                writeln!(out, "C{conn} ─ open from {client}")
            }
            EventKind::Data { dir, bytes } => {
                writeln!(out, "C{conn} {} {}", dir.arrow(), escape(bytes))
            }
            EventKind::Close { dir } => writeln!(out, "C{conn} {} FIN", dir.arrow()),
            EventKind::Cut => writeln!(out, "C{conn} ✂ cut"),
        };
    }
    out
}
