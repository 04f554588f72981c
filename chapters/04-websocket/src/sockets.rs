//! The open sockets: how many there are, the bound on them, and the
//! signal that tells them all to close.
//!
//! An open socket costs memory for as long as its page is open: a
//! task, its buffers, a TCP connection and a file descriptor. Without
//! a bound, enough clients could open enough sockets to run the
//! server out of memory or descriptors. So the server counts them,
//! and past `--max-connections` it refuses the handshake with 503
//! before anything is upgraded (see the handshake module).

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::timeout;

// ANCHOR: sockets
/// The open sockets. Cloning shares the same count and signal.
#[derive(Clone)]
pub struct Sockets {
    /// How many sockets are open, or about to open: a place is taken
    /// during the handshake, before the 101.
    open: watch::Sender<usize>,
    /// At most this many at the same time (`--max-connections`).
    max: usize,
    /// Becomes `true` when the server shuts down.
    stop: watch::Sender<bool>,
}

/// One socket's place in the count. Dropping it frees the place,
/// however the socket ends: closed, broken, dropped, or never
/// upgraded because the client left before the 101 arrived.
pub struct Slot(watch::Sender<usize>);

impl Sockets {
    /// At most `max` sockets may be open at the same time.
    pub fn new(max: usize) -> Self {
        Sockets {
            open: watch::Sender::new(0),
            max,
            stop: watch::Sender::new(false),
        }
    }

    /// A place for one more socket, or `None` when all `max` places
    /// are taken.
    pub fn reserve(&self) -> Option<Slot> {
        // Check and count in one step, under the count's own lock:
        // two handshakes that arrive at the same time can never both
        // take the last place.
        let max = self.max;
        let taken = self.open.send_if_modified(|open| {
            if *open >= max {
                return false;
            }
            *open += 1;
            true
        });
        taken.then(|| Slot(self.open.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.send_modify(|open| *open -= 1);
    }
}
// ANCHOR_END: sockets

impl Sockets {
    /// How many sockets are open now (places taken).
    pub fn open(&self) -> usize {
        *self.open.borrow()
    }

    /// The most sockets that may be open at the same time.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Tells every socket, open now or opened later, to close.
    pub fn close_all(&self) {
        self.stop.send_replace(true);
    }

    /// A receiver that turns `true` when the server shuts down.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Waits until every socket is closed, at most `limit`.
    pub async fn wait_closed(&self, limit: Duration) {
        let mut open = self.open.subscribe();
        let _ = timeout(limit, open.wait_for(|n| *n == 0)).await;
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
