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
use tokio::time::{interval_at, timeout, Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

use chat::routes::PAGE_SIZE;
use chat::{Cursor, NewMessage, Store, Stored};

use crate::sockets::{Slot, Sockets};
use crate::upgrade::Socket;
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

/// How long the server waits for the client's close frame after its
/// own, before it drops the connection anyway.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

// ANCHOR: run
/// Serves one socket. `cursor` is the client's `?after=ID&run=RUN`:
/// the messages after it are sent first, then every new one.
pub async fn run(
    mut socket: Socket,
    slot: Slot,
    store: Store,
    cursor: Cursor,
    limits: Limits,
    sockets: Sockets,
) {
    talk(&mut socket, &store, cursor, &limits, &sockets).await;
    // Free the place first, then end the TCP connection: a client
    // that sees its connection end may connect again at once, and
    // must find the place free.
    drop(slot);
    drop(socket);
}

async fn talk(
    socket: &mut Socket,
    store: &Store,
    cursor: Cursor,
    limits: &Limits,
    sockets: &Sockets,
) {
    let stop = sockets.stopping();
    let mut newest = store.subscribe();
    // What the store says about itself (chapter 7: the shared log is
    // down, or back): one text frame `{"notice":…}` each time.
    let mut notices = store.notices();
    if notices.borrow().is_some() {
        notices.mark_changed();
    }
    let mut run = store.run();
    let mut after = match resume(socket, store, cursor, limits).await {
        Ok(after) => after,
        Err(stuck) => return stuck.log(),
    };
    // The first ping goes out one period after the upgrade.
    let period = limits.ping;
    let mut ping = interval_at(Instant::now() + period, period);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut pong_due = false;
    loop {
        // Mark the newest id as seen *before* reading the store: a
        // message stored after this line wakes `newest.changed()`.
        newest.borrow_and_update();
        if store.run() != run {
            // Chapter 7: the shared log began again, empty. The same
            // reset as for a new socket with an old cursor, in band.
            let old = Cursor {
                run: Some(run.to_string()),
                after,
            };
            run = store.run();
            after = match resume(socket, store, old, limits).await {
                Ok(after) => after,
                Err(stuck) => return stuck.log(),
            };
        }
        match send_new(socket, store, &mut after, limits).await {
            Ok(Sent::All) => {}
            Ok(Sent::Behind(why)) => return close(socket, 1013, &why).await,
            Err(stuck) => return stuck.log(),
        }
        tokio::select! {
            () = stop.stopped() => {
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
                    } else if let Some(reply) = receive(store, &message).await {
                        if let Err(stuck) = send(socket, reply, limits).await {
                            return stuck.log();
                        }
                    }
                    // A close from the client: tungstenite has queued
                    // the reply; the next `next()` sends it and ends.
                }
                Some(Err(e)) => return fail(socket, &e).await,
                None => return, // closed: the TCP connection ends here
            },
            _ = newest.changed() => {} // new messages: loop and send
            _ = notices.changed() => {
                let notice = notices.borrow_and_update().clone();
                let json = serde_json::json!({ "notice": notice }).to_string();
                if let Err(stuck) = send(socket, Message::text(json), limits).await {
                    return stuck.log();
                }
            }
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
                let empty = Message::Ping(Bytes::new());
                if let Err(stuck) = send(socket, empty, limits).await {
                    return stuck.log();
                }
                pong_due = true;
            }
        }
    }
}
// ANCHOR_END: run

// ANCHOR: resume
/// The first frames on a new socket: the messages after the client's
/// cursor. A cursor this run never issued (another run's, one from
/// the future, one older than the history) gets a reset frame first,
/// then the messages after the reset's cursor. The client learns at
/// once why, and nothing waits for ids that will never come. Returns
/// the id of the last message sent.
async fn resume(
    socket: &mut Socket,
    store: &Store,
    mut cursor: Cursor,
    limits: &Limits,
) -> Result<u64, Stuck> {
    loop {
        match store.read(&cursor, PAGE_SIZE) {
            Ok(messages) => {
                let last = messages.last().map_or(cursor.after, Stored::id);
                // The reset, if any, goes out in the same batch.
                send_batch(socket, &messages, limits).await?;
                return Ok(last);
            }
            Err(reset) => {
                tracing::info!(
                    why = reset.reset,
                    "a cursor this run cannot continue"
                );
                feed(socket, Message::text(reset.json()), limits).await?;
                cursor = Cursor {
                    run: Some(reset.run),
                    after: reset.after,
                };
            }
        }
    }
}
// ANCHOR_END: resume

enum Sent {
    All,
    Behind(String),
}

// ANCHOR: send_new
/// Sends every stored message after `after`, one text frame each.
async fn send_new(
    socket: &mut Socket,
    store: &Store,
    after: &mut u64,
    limits: &Limits,
) -> Result<Sent, Stuck> {
    loop {
        let messages = store.after(*after, PAGE_SIZE);
        let Some(first) = messages.first() else {
            return Ok(Sent::All);
        };
        // The next message must be the one right after the cursor. If
        // it is not, the history has moved past this socket while it
        // waited on a slow reader: 1013, "try again later". The page
        // reconnects with its cursor and gets a reset that says what
        // is gone, then what is still there.
        if first.id() != *after + 1 {
            let why = format!("too slow: messages after {after} are gone");
            return Ok(Sent::Behind(why));
        }
        send_batch(socket, &messages, limits).await?;
        *after = messages.last().map_or(*after, Stored::id);
    }
}
// ANCHOR_END: send_new

// ANCHOR: batch
/// Sends messages as text frames, one frame per message: every frame
/// is fed to the socket, then one flush ends the batch.
async fn send_batch(
    socket: &mut Socket,
    messages: &[Stored],
    limits: &Limits,
) -> Result<(), Stuck> {
    for message in messages {
        feed(socket, text_frame(message), limits).await?;
    }
    flush(socket, limits).await
}

/// A stored message as a text frame. Its payload is the JSON made
/// once at `post`: `Utf8Bytes` holds the same `Bytes` (one more
/// reference to them, not a copy). `try_from` checks that they are
/// UTF-8, as the payload of a text frame must be (RFC 6455 §5.6).
fn text_frame(message: &Stored) -> Message {
    let json = Utf8Bytes::try_from(message.json().clone());
    Message::Text(json.expect("serde_json writes UTF-8"))
}
// ANCHOR_END: batch

/// Why a socket stopped before its close handshake.
enum Stuck {
    /// The peer has not read for a whole ping period.
    Timeout,
    /// The connection is gone or already closing.
    Broken,
}

impl Stuck {
    fn log(self) {
        if let Stuck::Timeout = self {
            // Not a byte read in a whole ping period: as good as gone,
            // and a close frame would wait forever.
            tracing::info!("the peer does not read: dropping it");
        }
    }
}

/// Every step of sending may wait: the write buffer is bounded, so
/// a peer that does not read makes the step wait, never grow memory.
/// A wait of a whole ping period means the peer is not keeping up.
async fn step<F>(limits: &Limits, sending: F) -> Result<(), Stuck>
where
    F: std::future::Future<Output = Result<(), WsError>>,
{
    match timeout(limits.ping, sending).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Stuck::Broken),
        Err(_) => Err(Stuck::Timeout),
    }
}

/// Hands one frame to the socket, without waiting for it to leave.
async fn feed(
    socket: &mut Socket,
    frame: Message,
    limits: &Limits,
) -> Result<(), Stuck> {
    step(limits, socket.feed(frame)).await
}

/// Waits until everything fed has been written to the connection.
async fn flush(socket: &mut Socket, limits: &Limits) -> Result<(), Stuck> {
    step(limits, socket.flush()).await
}

/// One frame, fed and flushed.
async fn send(
    socket: &mut Socket,
    frame: Message,
    limits: &Limits,
) -> Result<(), Stuck> {
    step(limits, socket.send(frame)).await
}

// ANCHOR: receive
/// A frame from the client. A text frame is a post, checked like the
/// body of `POST /messages`; what is wrong with it comes back as an
/// error frame, and the socket stays open.
async fn receive(store: &Store, message: &Message) -> Option<Message> {
    let refuse = |why: String| {
        let json = serde_json::json!({ "error": why }).to_string();
        Some(Message::text(json))
    };
    let text = match message {
        Message::Text(text) => text.as_str(),
        Message::Binary(_) => return refuse("send messages as text frames".into()),
        _ => return None, // ping or close: tungstenite has answered it
    };
    let new: NewMessage = match serde_json::from_str(text) {
        Ok(new) => new,
        Err(e) => return refuse(format!("invalid JSON: {e}")),
    };
    if let Err(why) = new.validate() {
        return refuse(why);
    }
    // Into the store, or to chapter 7's shared log, which may be down.
    let message = match store.submit(new).await {
        Ok(message) => message,
        Err(why) => {
            return refuse(format!("the chat cannot store messages now: {}", why.0))
        }
    };
    tracing::info!(id = message.id(), "message stored");
    // No answer here: the new message comes back to this socket like
    // to every other one, in order.
    None
}
// ANCHOR_END: receive

// ANCHOR: fail
/// tungstenite refuses a frame that breaks RFC 6455 but sends no
/// close frame itself. The close code says what was wrong (§7.4.1).
async fn fail(socket: &mut Socket, error: &WsError) {
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
    let _ = timeout(CLOSE_WAIT, socket.send(close_frame(code, &reason))).await;
}
// ANCHOR_END: fail

// ANCHOR: close
/// The closing handshake started by the server (§7.1.2): a close
/// frame, then wait for the client's close frame, then end TCP.
async fn close(socket: &mut Socket, code: u16, reason: &str) {
    let frame = close_frame(code, reason);
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

/// A close frame: the code, then the reason in UTF-8 (§5.5.1).
fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    // ANCHOR: shared_payload
    #[test]
    fn a_text_frame_shares_the_stored_json() {
        let store = Store::new(10);
        let new = NewMessage {
            user: "ana".into(),
            text: "hi".into(),
        };
        let stored = store.post(new);
        let Message::Text(payload) = text_frame(&stored) else {
            panic!("not a text frame");
        };
        // The same bytes in memory, not an equal copy.
        assert_eq!(payload.as_ptr(), stored.json().as_ptr());
        assert_eq!(payload.as_str(), r#"{"id":1,"user":"ana","text":"hi"}"#);
    }
    // ANCHOR_END: shared_payload
}
