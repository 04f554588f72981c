//! The store: the newest messages in memory, each encoded once, and a
//! way to be told when a new one arrives.
//!
//! In chapters 1 to 6 the store is the chat: a post goes into it. In
//! chapter 7 it is one server's copy of a shared log: a post goes to
//! the log (see [`Log`]), and the copy is filled from the log.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use bytes::Bytes;
use tokio::sync::watch;
use warp::http::HeaderValue;

use crate::cursor::{Cursor, Reset, Run};
use crate::message::{Message, NewMessage};

// ANCHOR: store
/// The messages the server remembers. Cloning a `Store` is cheap:
/// every clone shares the same messages.
#[derive(Clone)]
pub struct Store {
    inner: Arc<RwLock<Inner>>,
    /// The id of the newest message (0 before the first one).
    /// Later chapters wait on it to learn of new messages without
    /// polling the store: see [`Store::subscribe`].
    newest: watch::Sender<u64>,
    /// Answers to `GET /messages?after=ID`, kept until the next post.
    pages: Arc<Mutex<Pages>>,
    /// Where posts go instead, when this store copies a shared log.
    log: Option<Arc<dyn Log>>,
    /// A word for the readers about the store itself ("the log is
    /// unavailable"), or `None` when all is well.
    notice: watch::Sender<Option<String>>,
}

struct Inner {
    /// Oldest first. Ids are consecutive, so the position of a
    /// message follows from its id.
    messages: VecDeque<Stored>,
    /// How many messages to keep (`--history`).
    capacity: usize,
    /// The name of this run (see [`crate::cursor`]). Under the same
    /// lock as the messages: a reader sees a run and its messages.
    run: Run,
}

/// One stored message. Its JSON is made once, when it is posted, and
/// every reader shares those bytes: cloning a `Stored` copies a
/// pointer, not the message.
#[derive(Clone, Debug)]
pub struct Stored(Arc<Entry>);

#[derive(Debug)]
struct Entry {
    id: u64,
    /// `{"id":1,"user":"ana","text":"hello"}`
    json: Bytes,
    /// The message in a technique's own framing (chapter 3: an SSE
    /// event), made by the first reader that needs it.
    framed: OnceLock<Bytes>,
}
// ANCHOR_END: store

// ANCHOR: log
/// A shared log that posts go to (chapter 7: a Redis stream). It
/// gives the message its id; the store learns of it from the log
/// later, like every other server that reads the same log.
pub trait Log: Send + Sync + 'static {
    fn append(&self, new: NewMessage) -> Appending<'_>;
}

/// What [`Log::append`] returns: the stored message, or why the log
/// could not take it.
pub type Appending<'a> =
    Pin<Box<dyn Future<Output = Result<Message, Unavailable>> + Send + 'a>>;

/// The log cannot take a post now. Nothing of the post was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unavailable(pub String);
// ANCHOR_END: log

impl Stored {
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The message as JSON, the bytes every chapter sends.
    pub fn json(&self) -> &Bytes {
        &self.0.json
    }

    /// The message in one technique's framing, made once by `frame`
    /// (the first call) and shared by every later reader.
    pub fn framed(&self, frame: impl FnOnce(&Stored) -> Bytes) -> Bytes {
        self.0.framed.get_or_init(|| frame(self)).clone()
    }

    /// A message that the store does not hold (the answer to a post
    /// that went to a [`Log`]), encoded as the store would.
    pub fn of(message: &Message) -> Stored {
        let json = serde_json::to_vec(message).expect("a message serializes");
        Stored(Arc::new(Entry {
            id: message.id,
            json: json.into(),
            framed: OnceLock::new(),
        }))
    }

    /// The message as a value, read back from its JSON.
    pub fn message(&self) -> Message {
        serde_json::from_slice(&self.0.json).expect("stored JSON is a message")
    }
}

/// The answer to one `GET /messages?after=ID`: the JSON array and
/// its ETag, made once for all the clients at the same cursor.
#[derive(Clone, Debug)]
pub struct Page {
    pub body: Bytes,
    pub etag: HeaderValue,
    /// How many messages the array holds.
    pub len: usize,
}

/// The pages made since the newest post. A post makes them all old.
#[derive(Default)]
struct Pages {
    /// The newest id when these pages were made.
    newest: u64,
    by_cursor: HashMap<u64, Page>,
}

/// How many pages to keep at most: clients that are caught up share
/// one cursor, so a few pages serve nearly every poll.
const MAX_PAGES: usize = 64;

impl Store {
    /// A store that keeps the newest `capacity` messages (at least
    /// one), for a new run with a random name.
    pub fn new(capacity: usize) -> Self {
        Store::with_run(capacity, Run::random())
    }

    /// The same, for a run with a name chosen by the caller.
    pub fn with_run(capacity: usize, run: Run) -> Self {
        let capacity = capacity.max(1);
        Store {
            inner: Arc::new(RwLock::new(Inner {
                messages: VecDeque::with_capacity(capacity.min(1024)),
                capacity,
                run,
            })),
            newest: watch::Sender::new(0),
            pages: Arc::default(),
            log: None,
            notice: watch::Sender::new(None),
        }
    }

    /// A store that copies `log`: [`Store::submit`] sends posts to
    /// the log, and the copy is filled by [`Store::insert`].
    pub fn copying(capacity: usize, run: Run, log: Arc<dyn Log>) -> Self {
        Store {
            log: Some(log),
            ..Store::with_run(capacity, run)
        }
    }

    /// The name of this run.
    pub fn run(&self) -> Run {
        self.inner.read().unwrap().run.clone()
    }

    // ANCHOR: post
    /// Stores a valid message, gives it the next id and tells every
    /// subscriber. The oldest message is forgotten when the history
    /// is full.
    pub fn post(&self, new: NewMessage) -> Stored {
        let mut inner = self.inner.write().unwrap();
        let message = Message {
            id: *self.newest.borrow() + 1,
            user: new.user,
            text: new.text,
        };
        // Encoded here, once: no reader serializes it again.
        let stored = Stored::of(&message);
        self.keep(&mut inner, stored.clone());
        stored
    }

    /// Keeps `stored` as the newest message, and forgets the oldest
    /// when the history is full.
    fn keep(&self, inner: &mut Inner, stored: Stored) {
        if inner.messages.len() == inner.capacity {
            inner.messages.pop_front();
        }
        let id = stored.id();
        inner.messages.push_back(stored);
        // Still under the lock, so subscribers see ids in order and
        // find the message in the store when they wake up.
        self.newest.send_replace(id);
    }
    // ANCHOR_END: post

    // ANCHOR: submit
    /// A post from a client. It goes into this store, or to the log
    /// when the store copies one; then it is the log's answer.
    pub async fn submit(&self, new: NewMessage) -> Result<Stored, Unavailable> {
        match &self.log {
            None => Ok(self.post(new)),
            Some(log) => Ok(Stored::of(&log.append(new).await?)),
        }
    }
    // ANCHOR_END: submit

    // ANCHOR: insert
    /// Adds a message read from the shared log, with the id the log
    /// gave it. Ids arrive in order; one that is not the next means
    /// that the log lost some to its retention while this copy could
    /// not read it: the copy then holds only what follows the gap,
    /// and a reader behind the gap gets a reset, as for any gap.
    pub fn insert(&self, message: &Message) -> Option<Stored> {
        let mut inner = self.inner.write().unwrap();
        let newest = *self.newest.borrow();
        if message.id <= newest {
            return None; // read twice (a reconnect): keep the first
        }
        if message.id != newest + 1 {
            inner.messages.clear();
        }
        let stored = Stored::of(message);
        self.keep(&mut inner, stored.clone());
        Some(stored)
    }

    /// The log began again, empty, as run `run` (its data was lost).
    /// This copy forgets the old run; every reader's cursor names it,
    /// so every reader gets a reset on its next read.
    pub fn restart(&self, run: Run) {
        let mut inner = self.inner.write().unwrap();
        tracing::warn!(old = %inner.run, new = %run, "the log began a new run");
        inner.messages.clear();
        inner.run = run;
        // Wakes every reader, though the id goes down to 0.
        self.newest.send_replace(0);
    }
    // ANCHOR_END: insert

    /// Says something to every reader about the store itself, or
    /// (`None`) that all is well again.
    pub fn set_notice(&self, notice: Option<String>) {
        self.notice.send_if_modified(|old| {
            let changed = *old != notice;
            *old = notice;
            changed
        });
    }

    /// The current notice, and news of the next one.
    pub fn notices(&self) -> watch::Receiver<Option<String>> {
        self.notice.subscribe()
    }

    // ANCHOR: after
    /// The retained messages with an id greater than `after`, oldest
    /// first, at most `limit` of them.
    pub fn after(&self, after: u64, limit: usize) -> Vec<Stored> {
        let inner = self.inner.read().unwrap();
        // The messages are in the order of their ids, so a binary
        // search finds the start.
        let start = inner.messages.partition_point(|m| m.id() <= after);
        inner.messages.range(start..).take(limit).cloned().collect()
    }
    // ANCHOR_END: after

    // ANCHOR: read
    /// Like [`Store::after`], for a client's cursor: first it checks
    /// that this run issued the cursor and still holds what follows.
    /// If not, the answer is a [`Reset`], never an empty list that a
    /// client would read as "nothing new".
    pub fn read(&self, cursor: &Cursor, limit: usize) -> Result<Vec<Stored>, Reset> {
        let inner = self.inner.read().unwrap();
        self.check(&inner, cursor)?;
        let start = inner.messages.partition_point(|m| m.id() <= cursor.after);
        Ok(inner.messages.range(start..).take(limit).cloned().collect())
    }

    fn check(&self, inner: &Inner, cursor: &Cursor) -> Result<(), Reset> {
        let run = inner.run.as_str();
        let reset = |why: String, after: u64| Reset {
            reset: why,
            run: run.to_owned(),
            after,
        };
        if let Some(theirs) = cursor.run.as_deref().filter(|r| *r != run) {
            // A server's memory ends with the process; a shared log
            // ends only when it loses its data (chapter 7).
            let what = match self.log {
                None => "the server restarted",
                Some(_) => "the chat's log began again",
            };
            let why = format!("{what}: run {theirs} is over, {run} began");
            return Err(reset(why, 0));
        }
        let after = cursor.after;
        let newest = inner.messages.back().map_or(0, Stored::id);
        // A copy of a shared log may be a moment behind it: a cursor
        // of this run that is ahead of the copy came from another
        // server, and the message is on its way. Nothing to reset.
        let ours = cursor.run.as_deref() == Some(run);
        if after > newest && self.log.is_some() && ours {
            return Ok(());
        }
        if after > newest {
            let why = format!(
                "there is no message {after} yet: the newest is {newest} \
                 (did the server restart?)"
            );
            return Err(reset(why, 0));
        }
        let oldest = inner.messages.front().map_or(1, Stored::id);
        // After 0 means "from the start": never a gap.
        if after > 0 && after + 1 < oldest {
            let (from, to) = (after + 1, oldest - 1);
            let kept = inner.messages.len();
            let why = format!(
                "messages {from} to {to} are no longer kept: \
                 the server keeps the newest {kept}"
            );
            return Err(reset(why, to));
        }
        Ok(())
    }
    // ANCHOR_END: read

    // ANCHOR: page
    /// The answer to `GET /messages?after=ID`, made once for every
    /// client at the same cursor until the next post.
    pub fn page(&self, cursor: &Cursor, limit: usize) -> Result<Page, Reset> {
        // One lock for the pages: when a post wakes a thousand parked
        // requests at one cursor, the first makes the page while the
        // others wait a moment, and then they all share it.
        let mut pages = self.pages.lock().unwrap();
        let inner = self.inner.read().unwrap();
        let newest = inner.messages.back().map_or(0, Stored::id);
        if pages.newest != newest {
            // A post since these were made: they are all old.
            pages.by_cursor.clear();
            pages.newest = newest;
        }
        self.check(&inner, cursor)?;
        if let Some(page) = pages.by_cursor.get(&cursor.after) {
            return Ok(page.clone());
        }
        let start = inner.messages.partition_point(|m| m.id() <= cursor.after);
        let messages: Vec<&Stored> =
            inner.messages.range(start..).take(limit).collect();
        let page = Page::of(&messages);
        if pages.by_cursor.len() >= MAX_PAGES {
            pages.by_cursor.clear();
        }
        pages.by_cursor.insert(cursor.after, page.clone());
        Ok(page)
    }
    // ANCHOR_END: page

    /// The id of the newest message, 0 when there is none yet.
    pub fn newest_id(&self) -> u64 {
        *self.newest.borrow()
    }

    /// The id of the oldest message still retained, if any. A client
    /// whose cursor is older than this has missed messages for good.
    pub fn oldest_id(&self) -> Option<u64> {
        let inner = self.inner.read().unwrap();
        inner.messages.front().map(Stored::id)
    }

    /// How many messages are retained now.
    pub fn len(&self) -> usize {
        self.inner.read().unwrap().messages.len()
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

impl Page {
    /// `[m1,m2,…]`: the stored JSON of each message, joined, with no
    /// message encoded again.
    fn of(messages: &[&Stored]) -> Page {
        let size: usize = messages.iter().map(|m| m.json().len() + 1).sum();
        let mut body = Vec::with_capacity(size + 2);
        body.push(b'[');
        for (i, message) in messages.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(message.json());
        }
        body.push(b']');
        let etag = crate::routes::etag_of(&body);
        Page {
            body: body.into(),
            etag,
            len: messages.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(store: &Store, text: &str) -> Stored {
        store.post(NewMessage {
            user: "ana".into(),
            text: text.into(),
        })
    }

    fn ids(messages: &[Stored]) -> Vec<u64> {
        messages.iter().map(Stored::id).collect()
    }

    fn at(run: Option<&str>, after: u64) -> Cursor {
        Cursor {
            run: run.map(String::from),
            after,
        }
    }

    #[test]
    fn ids_start_at_one_and_increase_by_one() {
        let store = Store::new(10);
        assert_eq!(store.newest_id(), 0);
        assert_eq!(post(&store, "a").id(), 1);
        assert_eq!(post(&store, "b").id(), 2);
        assert_eq!(store.newest_id(), 2);
    }

    #[test]
    fn the_json_is_made_once_and_shared() {
        let store = Store::new(10);
        let posted = post(&store, "hi");
        assert_eq!(posted.json(), r#"{"id":1,"user":"ana","text":"hi"}"#);
        let read = store.after(0, 10);
        // The same bytes in memory, not an equal copy.
        assert_eq!(read[0].json().as_ptr(), posted.json().as_ptr());
        assert_eq!(read[0].message().text, "hi");
    }

    #[test]
    fn keeps_only_the_newest_history() {
        let store = Store::new(3);
        for i in 0..5 {
            post(&store, &i.to_string());
        }
        assert_eq!(ids(&store.after(0, 100)), [3, 4, 5]);
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
        assert_eq!(page[0].id(), 11);
        assert_eq!(page[99].id(), 110);
        assert!(store.after(250, 100).is_empty());
        assert!(store.after(u64::MAX, 100).is_empty());
    }

    // ANCHOR: reset_tests
    #[test]
    fn a_cursor_this_run_never_issued_gets_a_reset() {
        let store = Store::with_run(3, Run::named("b2"));
        for i in 0..5 {
            post(&store, &i.to_string()); // ids 1 to 5; 3, 4, 5 kept
        }
        // This run's cursors, and a bare id it can check: fine.
        assert_eq!(ids(&store.read(&at(Some("b2"), 3), 9).unwrap()), [4, 5]);
        assert_eq!(ids(&store.read(&at(None, 2), 9).unwrap()), [3, 4, 5]);
        assert!(store.read(&at(Some("b2"), 5), 9).unwrap().is_empty());
        // Another run's cursor, even one whose id exists here.
        let other = store.read(&at(Some("a1"), 4), 9).unwrap_err();
        assert_eq!((other.run.as_str(), other.after), ("b2", 0));
        assert!(other.reset.contains("restarted"), "{}", other.reset);
        // An id from the future.
        let future = store.read(&at(None, 9), 9).unwrap_err();
        assert_eq!(future.after, 0);
        // Older than the history: continue after the gap.
        let gone = store.read(&at(Some("b2"), 1), 9).unwrap_err();
        assert_eq!(gone.after, 2);
        assert_eq!(
            gone.reset,
            "messages 2 to 2 are no longer kept: the server keeps the newest 3"
        );
        // The start never needs a reset.
        assert_eq!(ids(&store.read(&at(Some("b2"), 0), 9).unwrap()), [3, 4, 5]);
    }
    // ANCHOR_END: reset_tests

    #[test]
    fn pages_are_shared_until_the_next_post() {
        let store = Store::with_run(10, Run::named("b2"));
        post(&store, "a");
        let first = store.page(&at(None, 0), 100).unwrap();
        let again = store.page(&at(Some("b2"), 0), 100).unwrap();
        assert_eq!(first.body.as_ptr(), again.body.as_ptr());
        // A hit still checks the run.
        assert!(store.page(&at(Some("a1"), 0), 100).is_err());
        post(&store, "b");
        let after_post = store.page(&at(None, 0), 100).unwrap();
        assert_eq!(after_post.len, 2);
        assert_ne!(after_post.etag, first.etag);
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
