//! The store: the newest messages in memory, and a way to be told
//! when a new one arrives.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::message::{Message, NewMessage};

// ANCHOR: store
/// The messages the server remembers. Cloning a `Store` is cheap:
/// every clone shares the same messages.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
    /// The id of the newest message (0 before the first one).
    /// Later chapters wait on it to learn of new messages without
    /// polling the store: see [`Store::subscribe`].
    newest: watch::Sender<u64>,
}

struct Inner {
    /// Oldest first. Ids are consecutive, so the position of a
    /// message follows from its id.
    messages: VecDeque<Message>,
    /// How many messages to keep (`--history`).
    capacity: usize,
}
// ANCHOR_END: store

impl Store {
    /// A store that keeps the newest `capacity` messages (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Store {
            inner: Arc::new(Mutex::new(Inner {
                messages: VecDeque::with_capacity(capacity.min(1024)),
                capacity,
            })),
            newest: watch::Sender::new(0),
        }
    }

    // ANCHOR: post
    /// Stores a valid message, gives it the next id and tells every
    /// subscriber. The oldest message is forgotten when the history
    /// is full.
    pub fn post(&self, new: NewMessage) -> Message {
        let mut inner = self.inner.lock().unwrap();
        let message = Message {
            id: *self.newest.borrow() + 1,
            user: new.user,
            text: new.text,
        };
        if inner.messages.len() == inner.capacity {
            inner.messages.pop_front();
        }
        inner.messages.push_back(message.clone());
        // Still under the lock, so subscribers see ids in order and
        // find the message in the store when they wake up.
        self.newest.send_replace(message.id);
        message
    }
    // ANCHOR_END: post

    // ANCHOR: after
    /// The retained messages with an id greater than `after`, oldest
    /// first, at most `limit` of them.
    pub fn after(&self, after: u64, limit: usize) -> Vec<Message> {
        let inner = self.inner.lock().unwrap();
        // Ids are consecutive, so a binary search finds the start.
        let start = inner.messages.partition_point(|m| m.id <= after);
        inner.messages.range(start..).take(limit).cloned().collect()
    }
    // ANCHOR_END: after

    /// The id of the newest message, 0 when there is none yet.
    pub fn newest_id(&self) -> u64 {
        *self.newest.borrow()
    }

    /// The id of the oldest message still retained, if any. A client
    /// whose cursor is older than this has missed messages for good.
    pub fn oldest_id(&self) -> Option<u64> {
        let inner = self.inner.lock().unwrap();
        inner.messages.front().map(|m| m.id)
    }

    /// How many messages are retained now.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().messages.len()
    }

    /// True before the first message, or if none is retained.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // ANCHOR: subscribe
    /// A receiver that wakes whenever a message is stored. It carries
    /// only the newest id: the messages themselves are read with
    /// [`Store::after`], so a slow reader never loses one while it is
    /// still in the history.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }
    // ANCHOR_END: subscribe
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(store: &Store, text: &str) -> Message {
        store.post(NewMessage {
            user: "ana".into(),
            text: text.into(),
        })
    }

    #[test]
    fn ids_start_at_one_and_increase_by_one() {
        let store = Store::new(10);
        assert_eq!(store.newest_id(), 0);
        assert_eq!(post(&store, "a").id, 1);
        assert_eq!(post(&store, "b").id, 2);
        assert_eq!(store.newest_id(), 2);
    }

    #[test]
    fn keeps_only_the_newest_history() {
        let store = Store::new(3);
        for i in 0..5 {
            post(&store, &i.to_string());
        }
        let ids: Vec<u64> = store.after(0, 100).iter().map(|m| m.id).collect();
        assert_eq!(ids, [3, 4, 5]);
        assert_eq!(store.oldest_id(), Some(3));
    }

    #[test]
    fn after_is_exclusive_ordered_and_limited() {
        let store = Store::new(1000);
        for i in 0..250 {
            post(&store, &i.to_string());
        }
        let page = store.after(10, 100);
        assert_eq!(page.len(), 100);
        assert_eq!(page[0].id, 11);
        assert_eq!(page[99].id, 110);
        assert!(store.after(250, 100).is_empty());
        assert!(store.after(u64::MAX, 100).is_empty());
    }

    #[tokio::test]
    async fn subscribers_wake_on_post() {
        let store = Store::new(10);
        let mut rx = store.subscribe();
        let writer = store.clone();
        tokio::spawn(async move { post(&writer, "hi") });
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), 1);
    }
}
