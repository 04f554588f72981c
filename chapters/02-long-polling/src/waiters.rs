//! The count of parked requests, and the bound on it.
//!
//! A parked request costs little (a task, a socket, a timer entry),
//! but not nothing. Without a bound, enough clients could hold enough
//! requests to run the server out of memory or file descriptors. So
//! the server counts them, refuses more than `--max-waiters`, and
//! shows the count at `GET /stats`.

use chat::limit::{self, Limit};

// ANCHOR: waiters
/// The parked requests, counted with the chat's [`Limit`], the bound
/// that chapter 3 puts on its event streams. Cloning shares the count.
#[derive(Clone, Debug)]
pub struct Waiters {
    limit: Limit,
}

/// One parked request's place in the count. Dropping it frees the
/// place, however the request ends: answered, timed out, or dropped
/// because its client went away.
#[derive(Debug)]
pub struct Slot {
    /// Held for its drop, which gives the place back.
    _place: limit::Slot,
    waiters: Waiters,
    answered: bool,
}

impl Waiters {
    /// At most `max` requests may be parked at the same time.
    pub fn new(max: usize) -> Self {
        Waiters {
            limit: Limit::new(max),
        }
    }

    /// A place for one more parked request, or `None` when all
    /// `max` places are taken. The limit checks and takes in one
    /// step: two requests that arrive at the same time can never both
    /// take the last place.
    pub fn park(&self) -> Option<Slot> {
        let place = self.limit.take()?;
        tracing::debug!(parked = self.parked(), "request parked");
        Some(Slot {
            _place: place,
            waiters: self.clone(),
            answered: false,
        })
    }

    /// How many requests are parked now.
    pub fn parked(&self) -> usize {
        self.limit.open()
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
        // The place is given back right after this: count without it.
        let parked = self.waiters.parked().saturating_sub(1);
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
