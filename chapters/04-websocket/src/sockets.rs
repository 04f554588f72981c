//! The open sockets: the bound on them, how many are still open, and
//! the signal that tells them all to close.
//!
//! An open socket costs memory for as long as its page is open: a
//! task, its buffers, a TCP connection and a file descriptor. So the
//! number of sockets has a bound, `--max-connections`, counted with
//! the chat's [`Limit`], as chapter 3 counts its event streams. Past
//! it, the handshake gets 503 before anything is upgraded (see the
//! handshake module).

use std::time::Duration;

use chat::limit::{self, Limit};
use chat::server::{Shutdown, Stop};

// ANCHOR: sockets
/// The open sockets. Cloning shares the same count and signal.
#[derive(Clone)]
pub struct Sockets {
    /// The bound (`--max-connections`) and the count of places taken.
    /// A place is taken during the handshake, before the 101.
    limit: Limit,
    /// Tells every socket that the server shuts down.
    stop: Stop,
}

/// One socket's place. Dropping it frees the place, however the
/// socket ends: closed, broken, dropped, or never upgraded because
/// the client left before the 101 reached it.
pub type Slot = limit::Slot;

impl Sockets {
    /// At most `max` sockets may be open at the same time.
    pub fn new(max: usize) -> Self {
        Sockets {
            limit: Limit::new(max),
            stop: Stop::new(),
        }
    }

    /// A place for one more socket, or `None` when all are taken.
    /// The limit takes its place in one step: two handshakes that
    /// arrive at the same time can never both take the last place.
    pub fn reserve(&self) -> Option<Slot> {
        self.limit.take()
    }
}
// ANCHOR_END: sockets

impl Sockets {
    /// How many sockets are open now (places taken).
    pub fn open(&self) -> usize {
        self.limit.open()
    }

    /// Tells every socket, open now or opened later, to close.
    pub fn close_all(&self) {
        self.stop.now();
    }

    /// The server's stop, as each socket waits for it.
    pub fn stopping(&self) -> Shutdown {
        self.stop.shutdown()
    }

    /// Waits until every socket is closed, at most `limit`.
    pub async fn wait_closed(&self, limit: Duration) {
        self.limit.wait_none_open(limit).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_refuses_beyond_the_bound() {
        let sockets = Sockets::new(2);
        let a = sockets.reserve().expect("a first place");
        let b = sockets.reserve().expect("a second place");
        assert!(sockets.reserve().is_none(), "a third place");
        assert_eq!(sockets.open(), 2);
        drop(a);
        assert_eq!(sockets.open(), 1);
        let c = sockets.reserve().expect("the freed place");
        drop((b, c));
        assert_eq!(sockets.open(), 0);
    }
}
