//! The count of parked requests, and the bound on it.
//!
//! A parked request costs little (a task, a socket, a timer entry),
//! but not nothing. Without a bound, enough clients could hold enough
//! requests to run the server out of memory or file descriptors. So
//! the server counts them, refuses more than `--max-waiters`, and
//! shows the count at `GET /stats`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

// ANCHOR: waiters
/// The parked requests, counted. Cloning shares the count.
#[derive(Clone, Debug)]
pub struct Waiters {
    parked: Arc<AtomicUsize>,
    max: usize,
}

/// One parked request's place in the count. Dropping it frees the
/// place, however the request ends: answered, timed out, or dropped
/// because its client went away.
#[derive(Debug)]
pub struct Slot {
    parked: Arc<AtomicUsize>,
    answered: bool,
}

impl Waiters {
    /// At most `max` requests may be parked at the same time.
    pub fn new(max: usize) -> Self {
        Waiters {
            parked: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// A place for one more parked request, or `None` when all
    /// `max` places are taken.
    pub fn park(&self) -> Option<Slot> {
        // Take a place first, then check: two requests that arrive at
        // the same time can never both take the last place.
        let before = self.parked.fetch_add(1, Ordering::SeqCst);
        if before >= self.max {
            self.parked.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        tracing::debug!(parked = before + 1, "request parked");
        Some(Slot {
            parked: self.parked.clone(),
            answered: false,
        })
    }

    /// How many requests are parked now.
    pub fn parked(&self) -> usize {
        self.parked.load(Ordering::SeqCst)
    }
}

impl Slot {
    /// The request got its answer (200, 204 or 503): it did not
    /// leave on its own.
    pub fn answered(mut self) {
        self.answered = true;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let parked = self.parked.fetch_sub(1, Ordering::SeqCst) - 1;
        if self.answered {
            tracing::debug!(parked, "parked request answered");
        } else {
            // Nobody answered, so the handler's future was dropped:
            // the client closed its connection while it waited, and
            // the HTTP server dropped the request (see the chapter).
            tracing::info!(parked, "a client left while parked");
        }
    }
}
// ANCHOR_END: waiters

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_refuses_beyond_the_bound() {
        let waiters = Waiters::new(2);
        let a = waiters.park().expect("a first place");
        let b = waiters.park().expect("a second place");
        assert!(waiters.park().is_none(), "a third place");
        assert_eq!(waiters.parked(), 2);
        a.answered();
        assert_eq!(waiters.parked(), 1);
        drop(b);
        assert_eq!(waiters.parked(), 0);
        assert!(waiters.park().is_some());
    }
}
