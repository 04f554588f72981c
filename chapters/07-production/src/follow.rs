//! The one reader of the log in each server. It copies every new
//! entry into the server's store, and the chapters' own streams (SSE
//! from chapter 3, WebSocket from chapter 4) deliver them from there.
//!
//! ```text
//! Redis ──XREAD BLOCK──▶ follow ──Store::insert──▶ store ──▶ 1000 streams
//! ```
//!
//! One blocking read per server, not one per client: a thousand
//! open pages on three servers are three readers for Redis.

use std::time::Duration;

use redis::aio::ConnectionManager;

use chat::Store;

use crate::log::{run_named, RedisLog};

/// What every page is told while the log does not answer.
pub const LOG_DOWN: &str = "the chat's log (Redis) does not answer; \
    new messages will come when it is back";

/// The longest pause between two tries while Redis does not answer.
const MAX_PAUSE: Duration = Duration::from_secs(2);

// ANCHOR: follow
/// Copies the log into `store` until the task is dropped. While Redis
/// does not answer, the store carries a notice that every open stream
/// sends to its page; once Redis answers again, the reader reads on
/// from its last id, so nothing posted meanwhile is missed.
pub async fn follow(log: RedisLog, store: Store) {
    let mut pause = Duration::from_millis(100);
    let mut conn: Option<ConnectionManager> = None;
    let mut filled = false;
    loop {
        let result = async {
            let conn = match &mut conn {
                Some(conn) => conn,
                None => conn.insert(log.reader().await?),
            };
            if !filled {
                fill(&log, conn, &store).await?;
                filled = true;
            }
            read_once(&log, conn, &store).await
        }
        .await;
        match result {
            Ok(()) => {
                store.set_notice(None);
                pause = Duration::from_millis(100);
            }
            Err(e) => {
                tracing::warn!("the log does not answer: {e}");
                // A fresh connection next time, not one that failed.
                conn = None;
                // The same words every time: the page shows them, and
                // a notice goes out only when its words change.
                store.set_notice(Some(LOG_DOWN.into()));
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
    }
}
// ANCHOR_END: follow

/// At start, and when the log began again: the newest messages.
async fn fill(
    log: &RedisLog,
    conn: &mut ConnectionManager,
    store: &Store,
) -> redis::RedisResult<()> {
    let messages = log.newest(conn).await?;
    for message in &messages {
        store.insert(message);
    }
    tracing::info!(
        messages = messages.len(),
        newest = store.newest_id(),
        "copied the log"
    );
    Ok(())
}

// ANCHOR: read_once
/// One round trip: the run's name, and the entries after the newest
/// one this server has (or none, after [`crate::log::BLOCK`]).
async fn read_once(
    log: &RedisLog,
    conn: &mut ConnectionManager,
    store: &Store,
) -> redis::RedisResult<()> {
    let (run, messages) = log.wait(conn, store.newest_id()).await?;
    let ours = store.run();
    let theirs = match run {
        Some(name) => run_named(&name),
        // No name: Redis lost its data and nobody has posted since.
        None => log.run().await?,
    };
    if theirs != ours {
        // The log began again: its ids start at 1 once more. Forget
        // the old run (each reader gets a reset) and copy the new one.
        store.restart(theirs);
        return fill(log, conn, store).await;
    }
    for message in &messages {
        store.insert(message);
    }
    Ok(())
}
// ANCHOR_END: read_once
