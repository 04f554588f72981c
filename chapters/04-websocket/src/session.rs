//! One open socket, from the 101 to the close frame.
//!
//! The socket task does four things at once: it sends every stored
//! message the client has not seen, it reads the client's frames, it
//! pings, and it watches for the server's shutdown. It never keeps a
//! queue of its own: like the other chapters, it reads the store
//! after a cursor, so a socket can fall behind only as far as the
//! history reaches.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::{interval_at, timeout, Instant, MissedTickBehavior};
use tungstenite::error::{CapacityError, Error as WsError};
use warp::ws::{Message, WebSocket};

use chat::routes::PAGE_SIZE;
use chat::{NewMessage, Store};

use crate::Config;

/// What a socket needs from the server's flags.
#[derive(Clone, Debug)]
pub struct Limits {
    pub ping: Duration,
}

impl From<&Config> for Limits {
    fn from(config: &Config) -> Self {
        Limits { ping: config.ping }
    }
}

/// The open sockets: a shutdown signal they all watch, and a count
/// of those still open, so that `serve` can wait for them.
#[derive(Clone)]
pub struct Sessions {
    stop: watch::Sender<bool>,
    open: watch::Sender<usize>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new()
    }
}

impl Sessions {
    pub fn new() -> Self {
        Sessions {
            stop: watch::Sender::new(false),
            open: watch::Sender::new(0),
        }
    }

    /// Tells every socket, open now or opened later, to close.
    pub fn close_all(&self) {
        self.stop.send_replace(true);
    }

    /// Waits until every socket is closed, at most `limit`.
    pub async fn wait_closed(&self, limit: Duration) {
        let mut open = self.open.subscribe();
        let _ = timeout(limit, open.wait_for(|n| *n == 0)).await;
    }

    fn enter(&self) -> Open {
        self.open.send_modify(|n| *n += 1);
        Open(self.open.clone())
    }
}

/// One open socket in the count; dropped when the task ends.
struct Open(watch::Sender<usize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// How long the server waits for the client's close frame after its
/// own, before it drops the connection anyway.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

// ANCHOR: run
/// Serves one socket. `after` is the cursor from `?after=ID`: the
/// messages after it are sent first, then every new one.
pub async fn run(
    mut socket: WebSocket,
    store: Store,
    after: u64,
    limits: Limits,
    sessions: Sessions,
) {
    let _open = sessions.enter();
    let mut stop = sessions.stop.subscribe();
    let mut newest = store.subscribe();
    let mut cursor = after;
    // The first round replays history: a gap there only means the
    // history no longer reaches back to `after`.
    let mut live = false;
    // The first ping goes out one period after the upgrade.
    let period = limits.ping;
    let mut ping = interval_at(Instant::now() + period, period);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut pong_due = false;
    loop {
        // Mark the newest id as seen *before* reading the store: a
        // message stored after this line wakes `newest.changed()`.
        newest.borrow_and_update();
        match send_new(&mut socket, &store, &mut cursor, live, &limits).await {
            Sent::All => live = true,
            Sent::Behind(why) => return close(socket, 1013, &why).await,
            Sent::Gone => return,
        }
        tokio::select! {
            _ = stopped(&mut stop) => {
                return close(socket, 1001, "the server is shutting down").await;
            }
            frame = socket.next() => match frame {
                Some(Ok(message)) => {
                    if message.is_pong() {
                        // Any pong is a sign of life: a peer may
                        // answer only the latest of several pings, or
                        // send a pong unasked as a one-way heartbeat
                        // (RFC 6455 §5.5.3). A pong needs no reply.
                        pong_due = false;
                    } else if let Some(reply) = receive(&store, &message) {
                        if send(&mut socket, reply, &limits).await.is_err() {
                            return;
                        }
                    }
                    // A close from the client: tungstenite has queued
                    // the reply; the next `next()` sends it and ends.
                }
                Some(Err(e)) => return fail(socket, &e).await,
                None => return, // closed: the TCP connection ends here
            },
            _ = newest.changed() => {} // new messages: loop and send
            _ = ping.tick() => {
                if pong_due {
                    // No pong for a whole period: the peer (or the
                    // path to it) is gone. Nobody would read a close
                    // frame, so the connection just ends (§7.1.7).
                    tracing::info!("no pong in {period:?}: dropping the socket");
                    return;
                }
                // An empty ping: 2 bytes. The browser answers it by
                // itself; a page never sees pings or pongs.
                if send(&mut socket, Message::ping(Vec::new()), &limits)
                    .await
                    .is_err()
                {
                    return;
                }
                pong_due = true;
            }
        }
    }
}
// ANCHOR_END: run

/// Completes when the server shuts down (at once if it already has).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

enum Sent {
    All,
    Behind(String),
    Gone,
}

// ANCHOR: send_new
/// Sends every stored message after `cursor`, one text frame each.
async fn send_new(
    socket: &mut WebSocket,
    store: &Store,
    cursor: &mut u64,
    live: bool,
    limits: &Limits,
) -> Sent {
    loop {
        let messages = store.after(*cursor, PAGE_SIZE);
        let Some(first) = messages.first() else {
            return Sent::All;
        };
        // Once live, the next message must be the one right after the
        // cursor. If it is not, the history has moved past this
        // socket while it waited on a slow reader: 1013, "try again
        // later". The page reconnects with ?after and gets what is
        // still there; it learns from the reason that some is not.
        if live && first.id() != *cursor + 1 {
            let why = format!("too slow: messages after {cursor} are gone");
            return Sent::Behind(why);
        }
        for message in messages {
            let json = String::from_utf8_lossy(message.json()).into_owned();
            match send(socket, Message::text(json), limits).await {
                Ok(()) => {}
                Err(Stuck::Timeout) => {
                    // Not a byte read in a whole ping period: as good
                    // as gone, and a close frame would wait forever.
                    tracing::info!("the peer does not read: dropping it");
                    return Sent::Gone;
                }
                Err(Stuck::Broken) => return Sent::Gone,
            }
            *cursor = message.id();
        }
    }
}
// ANCHOR_END: send_new

enum Stuck {
    /// The peer has not read for a whole ping period.
    Timeout,
    /// The connection is gone or already closing.
    Broken,
}

/// Sends one frame. The write buffer is bounded (`--max-buffer`), so
/// a peer that does not read makes `send` wait, never grow memory; a
/// wait of a whole ping period means the peer is not keeping up.
async fn send(
    socket: &mut WebSocket,
    frame: Message,
    limits: &Limits,
) -> Result<(), Stuck> {
    match timeout(limits.ping, socket.send(frame)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Stuck::Broken),
        Err(_) => Err(Stuck::Timeout),
    }
}

// ANCHOR: receive
/// A frame from the client. A text frame is a post, checked like the
/// body of `POST /messages`; what is wrong with it comes back as an
/// error frame, and the socket stays open.
fn receive(store: &Store, message: &Message) -> Option<Message> {
    let refuse = |why: String| {
        let json = serde_json::json!({ "error": why }).to_string();
        Some(Message::text(json))
    };
    if message.is_binary() {
        return refuse("send messages as text frames".into());
    }
    let Ok(text) = message.to_str() else {
        return None; // ping or close: tungstenite has answered it
    };
    let new: NewMessage = match serde_json::from_str(text) {
        Ok(new) => new,
        Err(e) => return refuse(format!("invalid JSON: {e}")),
    };
    if let Err(why) = new.validate() {
        return refuse(why);
    }
    let message = store.post(new);
    tracing::info!(id = message.id(), "message stored");
    // No answer here: the new message comes back to this socket like
    // to every other one, in order.
    None
}
// ANCHOR_END: receive

// ANCHOR: fail
/// tungstenite refuses a frame that breaks RFC 6455 but sends no
/// close frame itself. The close code says what was wrong (§7.4.1).
async fn fail(socket: WebSocket, error: &warp::Error) {
    let source = std::error::Error::source(error);
    let Some(error) = source.and_then(|e| e.downcast_ref::<WsError>()) else {
        return;
    };
    let (code, reason) = match error {
        WsError::Protocol(why) => (1002, why.to_string()),
        WsError::Utf8(_) => (1007, "a text message is not UTF-8".to_owned()),
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => (
            1009,
            format!("{size} bytes is over the limit of {max_size}"),
        ),
        WsError::Capacity(why) => (1009, why.to_string()),
        _ => return, // the connection broke: nobody to tell
    };
    tracing::info!(code, reason, "closing a socket that broke the protocol");
    // tungstenite stops reading after an error, so the server closes
    // the TCP connection right after its close frame.
    close_now(socket, code, &reason).await;
}
// ANCHOR_END: fail

// ANCHOR: close
/// The closing handshake started by the server (§7.1.2): a close
/// frame, then wait for the client's close frame, then end TCP.
async fn close(mut socket: WebSocket, code: u16, reason: &str) {
    let frame = Message::close_with(code, reason.to_owned());
    if timeout(CLOSE_WAIT, socket.send(frame)).await.is_err() {
        return; // the peer does not read: nothing more to say
    }
    let _ = timeout(CLOSE_WAIT, async {
        // Frames still on their way are dropped; the close ends it.
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
}
// ANCHOR_END: close

async fn close_now(mut socket: WebSocket, code: u16, reason: &str) {
    let frame = Message::close_with(code, reason.to_owned());
    let _ = timeout(CLOSE_WAIT, socket.send(frame)).await;
}
