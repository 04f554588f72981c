//! The shared log: one Redis stream that every server appends to and
//! every server reads.
//!
//! Three keys hold the chat (the prefix is `--key`, `chat` by
//! default):
//!
//! - `chat:messages`, the stream: one entry per message, with the
//!   fields `user` and `text`;
//! - `chat:next-id`, the last id given, so that ids are 1, 2, 3, …
//!   as in every chapter;
//! - `chat:run`, the name of the log's run (chapter 1's cursors): it
//!   changes only if Redis loses its data;
//! - `chat:post:KEY`, for one minute after each post: the id it got,
//!   so that a post sent twice is stored once.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};

use chat::store::{Appending, Log, Unavailable};
use chat::{Message, NewMessage, Run};

// ANCHOR: keys
/// The names of the keys, all under one prefix (`--key`, `chat`):
/// the stream `chat:messages`, the last id given `chat:next-id`, the
/// run's name `chat:run`, and `chat:post:KEY` for each recent post.
#[derive(Clone, Debug)]
pub struct Keys {
    pub prefix: String,
    pub stream: String,
    pub next_id: String,
    pub run: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_owned(),
            stream: format!("{prefix}:messages"),
            next_id: format!("{prefix}:next-id"),
            run: format!("{prefix}:run"),
        }
    }
}
// ANCHOR_END: keys

/// How long a post or a short read may wait for Redis. A post that
/// gets no answer in time fails with 503: the client can try again.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);

/// How long one `XREAD BLOCK` waits for a new entry before it
/// returns empty and the reader asks again.
pub const BLOCK: Duration = Duration::from_secs(5);

// ANCHOR: log
/// The chat's messages in a Redis stream. Cloning is cheap: clones
/// share one connection.
#[derive(Clone)]
pub struct RedisLog {
    client: redis::Client,
    /// For posts and short reads. A `ConnectionManager` connects
    /// again by itself when the connection drops.
    conn: ConnectionManager,
    keys: Arc<Keys>,
    /// How many entries the stream keeps (`MAXLEN ~`).
    history: usize,
    append: Arc<redis::Script>,
}
// ANCHOR_END: log

// ANCHOR: append_script
/// A post, in one step that no other client can cut in two: Redis
/// runs a script as a whole (the `EVAL` command). The id is the next
/// number, and the entry's stream id is that number: entry `5-0` is
/// message 5. `MAXLEN ~` trims the oldest entries; the `~` lets Redis
/// trim whole blocks of entries only, which is cheaper, so the stream
/// keeps at least `history` entries and a few more.
///
/// The post carries a key of its own, made by the server: if the
/// connection drops before the answer, the server sends the same post
/// again, and the script answers with the id it gave the first time
/// instead of storing the message twice.
///
/// If the run's name is missing (Redis lost its data), the script
/// starts a new run with the name the server offers.
pub const APPEND: &str = r"
local run = redis.call('GET', KEYS[3])
if not run then
  run = ARGV[4]
  redis.call('SET', KEYS[3], run)
end
local done = redis.call('GET', KEYS[4])
if done then
  return {tonumber(done), run}
end
local id = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], id .. '-0',
  'user', ARGV[2], 'text', ARGV[3])
redis.call('SET', KEYS[4], id, 'EX', 60)
return {id, run}
";
// ANCHOR_END: append_script

impl RedisLog {
    /// Connects to the Redis at `url` and checks that it answers.
    pub async fn connect(
        url: &str,
        prefix: &str,
        history: usize,
    ) -> Result<RedisLog, String> {
        let client = redis::Client::open(url)
            .map_err(|e| format!("{url:?} is not a Redis URL: {e}"))?;
        let conn = manager(client.clone(), ANSWER_WITHIN).await.map_err(|e| {
            format!(
                "no Redis answers at {url}: {e}\n\
                 hint: start one with `redis-server`; to install it on \
                 Debian or Ubuntu: sudo apt-get install redis-server"
            )
        })?;
        Ok(RedisLog {
            client,
            conn,
            keys: Arc::new(Keys::new(prefix)),
            history: history.max(1),
            append: Arc::new(redis::Script::new(APPEND)),
        })
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// A connection of its own for the one blocking read: while
    /// `XREAD BLOCK` waits, its connection can answer nothing else.
    pub async fn reader(&self) -> redis::RedisResult<ConnectionManager> {
        manager(self.client.clone(), BLOCK + ANSWER_WITHIN).await
    }

    // ANCHOR: run
    /// The log's run: the name in `chat:run`, or a new one if there is
    /// none yet. `SET … NX` writes it only if no other server was
    /// first, so every server ends up with the same name.
    pub async fn run(&self) -> redis::RedisResult<Run> {
        let mut conn = self.conn.clone();
        let offer = Run::random();
        let _: Option<String> = redis::cmd("SET")
            .arg(&self.keys.run)
            .arg(offer.as_str())
            .arg("NX")
            .query_async(&mut conn)
            .await?;
        let name: String = redis::cmd("GET")
            .arg(&self.keys.run)
            .query_async(&mut conn)
            .await?;
        Ok(run_named(&name))
    }
    // ANCHOR_END: run

    // ANCHOR: newest
    /// The newest `history` messages, oldest first: what a server
    /// copies when it starts. `XREVRANGE + - COUNT n` reads from the
    /// end of the stream backwards.
    pub async fn newest(
        &self,
        conn: &mut ConnectionManager,
    ) -> redis::RedisResult<Vec<Message>> {
        let reply: StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(&self.keys.stream)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(self.history)
            .query_async(conn)
            .await?;
        let mut messages: Vec<Message> =
            reply.ids.iter().filter_map(message).collect();
        messages.reverse();
        Ok(messages)
    }
    // ANCHOR_END: newest

    // ANCHOR: wait
    /// The entries after message `after`, waiting up to [`BLOCK`] for
    /// the first one: `XREAD BLOCK 5000 COUNT 100 STREAMS chat:messages
    /// 5-0`. In the same round trip, the run's name (a pipeline: Redis
    /// answers both commands in order), so the reader learns when the
    /// log began again.
    pub async fn wait(
        &self,
        conn: &mut ConnectionManager,
        after: u64,
    ) -> redis::RedisResult<(Option<String>, Vec<Message>)> {
        let (run, reply): (Option<String>, Option<StreamReadReply>) = redis::pipe()
            .cmd("GET")
            .arg(&self.keys.run)
            .cmd("XREAD")
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("COUNT")
            .arg(chat::routes::PAGE_SIZE)
            .arg("STREAMS")
            .arg(&self.keys.stream)
            .arg(format!("{after}-0"))
            .query_async(conn)
            .await?;
        let entries = reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids);
        Ok((run, entries.filter_map(|e| message(&e)).collect()))
    }
    // ANCHOR_END: wait
}

/// A connection manager that gives up on an answer after `within`.
/// It connects on its first use, and checks that Redis answers then
/// with `PING`, so that a missing Redis is found here.
async fn manager(
    client: redis::Client,
    within: Duration,
) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(ANSWER_WITHIN))
        .set_response_timeout(Some(within))
        // Reconnect soon: 100 ms, then 200 ms, … at most 2 s apart.
        .set_max_delay(Duration::from_secs(2))
        .set_number_of_retries(2);
    let mut conn = ConnectionManager::new_lazy_with_config(client, config)?;
    let ping = redis::cmd("PING");
    let _: String = ping.query_async(&mut conn).await?;
    Ok(conn)
}

/// A run name that Redis gave back; another program may have written
/// anything there, so a name that is not letters and digits is
/// replaced by one made from its bytes.
pub fn run_named(name: &str) -> Run {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Run::named(name)
    } else {
        let hex: String = name.bytes().take(8).map(|b| format!("{b:02x}")).collect();
        Run::named(if hex.is_empty() { "empty" } else { &hex })
    }
}

// ANCHOR: entry
/// A stream entry as a chat message: entry `5-0` with `user` and
/// `text` is message 5. An entry the chat did not write (another
/// shape of id, a missing field) is skipped, and said in the log.
fn message(entry: &StreamId) -> Option<Message> {
    let id = entry.id.strip_suffix("-0").and_then(|n| n.parse().ok());
    let user = entry.get::<String>("user");
    let text = entry.get::<String>("text");
    match (id, user, text) {
        (Some(id), Some(user), Some(text)) => Some(Message { id, user, text }),
        _ => {
            tracing::warn!(id = entry.id, "skipped: not an entry of the chat");
            None
        }
    }
}
// ANCHOR_END: entry

// ANCHOR: append
impl Log for RedisLog {
    fn append(&self, new: NewMessage) -> Appending<'_> {
        Box::pin(async move {
            let key = format!("{}:post:{}", self.keys.prefix, post_key());
            let mut tries = 0;
            let (id, run): (u64, String) = loop {
                let mut conn = self.conn.clone();
                let answer = self
                    .append
                    .key(&self.keys.stream)
                    .key(&self.keys.next_id)
                    .key(&self.keys.run)
                    .key(&key)
                    .arg(self.history)
                    .arg(&new.user)
                    .arg(&new.text)
                    .arg(Run::random().as_str())
                    .invoke_async(&mut conn)
                    .await;
                match answer {
                    Ok(answer) => break answer,
                    // A connection that Redis closed (it restarted) is
                    // found closed on its first use. The manager
                    // connects again; the same post, with the same key,
                    // goes once more.
                    Err(e) if tries == 0 && e.is_unrecoverable_error() => {
                        tracing::info!("the connection dropped ({e}); once more");
                        tries += 1;
                    }
                    Err(e) => {
                        // The details for the operator; for the client,
                        // the same words every time.
                        tracing::warn!("a post failed: {e}");
                        return Err(Unavailable("Redis does not answer".into()));
                    }
                }
            };
            tracing::debug!(id, run, "appended to the log");
            Ok(Message {
                id,
                user: new.user,
                text: new.text,
            })
        })
    }
}

/// A key for one post: 16 random letters and digits.
fn post_key() -> String {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..16)
        .map(|_| alphabet[rand::random_range(0..alphabet.len())] as char)
        .collect()
}
// ANCHOR_END: append
