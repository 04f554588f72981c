//! Chapter 7's failures, with a real Redis started by each test:
//! Redis stops and comes back, the log trims what a client still
//! wanted, the log loses its data, a server starts late. Each story
//! is driven step by step through a tap, and its transcript is the
//! one the book shows.

use std::time::Duration;

use ch07_production::{serve, Config, RedisLog};
use wire::services::Redis;
use wire::{assert_transcript, sse, Client, Dir, Request, Scenario};

/// The address of a reader's first server, as curl would write it.
const HOST: &str = "127.0.0.1:3007";

/// Bounds a failure, not a speed. It is longer than one `XREAD
/// BLOCK` (5 s): some steps wait for the reader's next round.
const PATIENCE: Duration = Duration::from_secs(20);

/// A Redis for one test, with the log's run named `p1`, so that event
/// ids are the same every run. `None`: not installed, test skipped.
async fn redis() -> Option<Redis> {
    let redis = Redis::start().await?;
    set_run(&redis, "p1").await;
    Some(redis)
}

async fn set_run(redis: &Redis, name: &str) {
    let ok = redis.command(&["SET", "chat:run", name]).await.unwrap();
    assert_eq!(ok, "+OK\r\n");
}

/// One server, `a`, keeping `history` messages, with no heartbeat
/// during a test (one at a random moment would change a transcript).
fn config(name: &str, history: usize) -> Config {
    let mut config = Config {
        name: name.into(),
        ..Config::default()
    };
    config.sse.history = history;
    config.sse.heartbeat = Duration::from_secs(3600);
    config
}

async fn start(redis: &Redis, config: Config) -> Scenario {
    let log = RedisLog::connect(&redis.url(), "chat", config.sse.history)
        .await
        .expect("connect to the test's Redis");
    Scenario::start(HOST, move |listener, shutdown| {
        serve(listener, log, config, shutdown)
    })
    .await
}

fn post(user: &str, text: &str) -> Request {
    Request::post_message(user, text)
}

fn open(target: &str, last_event_id: Option<&str>) -> Request {
    Request::event_stream(target, last_event_id)
}

/// Waits until the stream on `conn` has dispatched `n` events.
async fn wait_events(s: &Scenario, conn: usize, n: usize) -> Vec<sse::Event> {
    wire::scenario::wait_events(&s.tap, conn, n, PATIENCE).await
}

/// Waits until the stream on `conn` has sent its `retry:` line.
async fn wait_retry(s: &Scenario, conn: usize) {
    wire::scenario::wait_retry(&s.tap, conn, PATIENCE).await
}

/// Posts through `poster` while `stream` is open: the tap holds the
/// stream's bytes until the answer is recorded, so the transcript has
/// one order every run. Returns the status.
async fn post_while_streaming(
    s: &Scenario,
    poster: &mut Client,
    stream: usize,
    text: &str,
) -> u16 {
    let before = sse::events_in(&s.tap.events(), stream).len();
    s.tap.hold(stream, Dir::ToClient);
    let status = poster.send(post("ben", text)).await.status;
    s.tap.release(stream, Dir::ToClient);
    if status == 201 {
        wait_events(s, stream, before + 1).await;
    }
    status
}

// ANCHOR: redis_down
/// Redis stops while a page streams. A post gets 503 and stores
/// nothing; the open stream says why; Redis starts again, the stream
/// says so, and the next post arrives as usual. No server restarts.
#[tokio::test]
async fn redis_stops_and_comes_back() {
    let Some(mut redis) = redis().await else {
        return;
    };
    let s = start(&redis, config("a", 1000)).await;
    let mut c1 = s.connect().await;
    c1.write(open("/events?after=0", None)).await;
    wait_retry(&s, 1).await;
    let mut c2 = s.connect().await;
    assert_eq!(post_while_streaming(&s, &mut c2, 1, "before").await, 201);

    redis.stop().await;
    let down = wait_events(&s, 1, 2).await;
    assert_eq!(down[1].kind, "notice");
    let refused = c2.send(post("ben", "while down")).await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some("2"));

    redis.start_again().await;
    let back = wait_events(&s, 1, 3).await;
    assert_eq!(back[2].data, r#"{"notice":null}"#);
    assert_eq!(post_while_streaming(&s, &mut c2, 1, "after").await, 201);
    let events = wait_events(&s, 1, 4).await;
    // Ids go on from the log: the refused post took none.
    assert_eq!(events[3].last_id, "p1.2");
    assert_eq!(
        redis.command(&["XLEN", "chat:messages"]).await.unwrap(),
        ":2\r\n"
    );
    let t = s.transcript();
    assert_transcript!("redis_down", t.text());
    assert_transcript!("redis_down_diagram", t.diagram());
}
// ANCHOR_END: redis_down

// ANCHOR: trimmed
/// The log keeps about `history` entries (`MAXLEN ~`). A cursor older
/// than what is kept gets the delivery core's reset, from any server,
/// and then what is kept.
#[tokio::test]
async fn a_trimmed_cursor_gets_a_reset() {
    let Some(redis) = redis().await else { return };
    let s = start(&redis, config("a", 3)).await;
    // The posts go through a tap of their own: the transcript shows
    // only the two streams.
    let quiet = wire::Tap::start(s.server.addr()).await.unwrap();
    let mut poster = Client::connect(&quiet, HOST).await;
    for n in 1..=12 {
        let r = poster.send(post("ana", &format!("m{n}"))).await;
        assert_eq!(r.status, 201);
    }
    // Redis itself no longer has entry 1: MAXLEN trimmed it.
    let first = redis
        .command(&["XRANGE", "chat:messages", "-", "+", "COUNT", "1"])
        .await
        .unwrap();
    assert!(
        !first.contains("\r\n1-0\r\n"),
        "entry 1 is still kept: {first}"
    );
    // A stream at the newest cursor: it waits until this server's
    // copy of the log has message 12 (the reader may be a moment
    // behind the post), then gets it.
    let mut c1 = s.connect().await;
    c1.write(open("/events", Some("p1.11"))).await;
    assert_eq!(wait_events(&s, 1, 1).await[0].last_id, "p1.12");
    let mut c2 = s.connect().await;
    c2.write(open("/events", Some("p1.1"))).await;
    let events = wait_events(&s, 2, 4).await;
    assert_eq!(events[0].kind, "reset");
    assert_eq!(events[3].last_id, "p1.12");
    assert_transcript!("trimmed", s.transcript().text());
}
// ANCHOR_END: trimmed

// ANCHOR: log_lost
/// Redis loses its data (here: `FLUSHALL`; in production, a restart
/// without persistence). The log begins again with a new run and ids
/// from 1. An open stream gets a reset in band, then the new run's
/// messages: nothing is hidden behind the old ids.
#[tokio::test]
async fn the_log_begins_again() {
    let Some(redis) = redis().await else { return };
    let s = start(&redis, config("a", 1000)).await;
    let mut c1 = s.connect().await;
    c1.write(open("/events?after=0", None)).await;
    wait_retry(&s, 1).await;
    let mut c2 = s.connect().await;
    for text in ["one", "two"] {
        assert_eq!(post_while_streaming(&s, &mut c2, 1, text).await, 201);
    }
    assert_eq!(redis.command(&["FLUSHALL"]).await.unwrap(), "+OK\r\n");
    set_run(&redis, "p2").await;
    // The server's reader learns of the new run at its next round
    // (at most one XREAD BLOCK later); the reset comes before any
    // message of the new run.
    let reset = wait_events(&s, 1, 3).await;
    assert_eq!(reset[2].kind, "reset");
    assert_eq!(post_while_streaming(&s, &mut c2, 1, "three").await, 201);
    let events = wait_events(&s, 1, 4).await;
    assert_eq!(events[3].last_id, "p2.1");
    assert_transcript!("log_lost", s.transcript().text());
}
// ANCHOR_END: log_lost

/// A server that starts after the posts copies the newest messages
/// from the log (`XREVRANGE`), so its first answer has them all.
#[tokio::test]
async fn a_server_started_later_has_the_history() {
    let Some(redis) = redis().await else { return };
    let a = start(&redis, config("a", 1000)).await;
    let mut c1 = a.connect().await;
    for text in ["one", "two", "three"] {
        assert_eq!(c1.send(post("ana", text)).await.status, 201);
    }
    let b = start(&redis, config("b", 1000)).await;
    let mut c2 = b.connect().await;
    c2.write(open("/events?after=0&run=p1", None)).await;
    let events = wait_events(&b, 1, 3).await;
    let ids: Vec<&str> = events.iter().map(|e| e.last_id.as_str()).collect();
    assert_eq!(ids, ["p1.1", "p1.2", "p1.3"]);
}

// ANCHOR: once
/// The post script with the same post key twice, as after a dropped
/// answer: the second run gives the first id and stores nothing.
#[tokio::test]
async fn a_post_sent_twice_is_stored_once() {
    let Some(redis) = redis().await else { return };
    let script = ch07_production::log::APPEND;
    let keys = ["chat:messages", "chat:next-id", "chat:run", "chat:post:k1"];
    let mut eval = vec!["EVAL", script, "4"];
    eval.extend(keys);
    eval.extend(["1000", "ana", "hello", "new1"]);
    let first = redis.command(&eval).await.unwrap();
    let again = redis.command(&eval).await.unwrap();
    // RESP: an array of the id (an integer) and the run (a string).
    assert_eq!(first, "*2\r\n:1\r\n$2\r\np1\r\n");
    assert_eq!(again, first);
    assert_eq!(
        redis.command(&["XLEN", "chat:messages"]).await.unwrap(),
        ":1\r\n"
    );
}
// ANCHOR_END: once

/// Redis closes every client's connection (as a restart or a network
/// break does). The next post finds its connection closed, and the
/// server connects again and stores it: 201, once.
#[tokio::test]
async fn a_dropped_connection_is_made_again() {
    let Some(redis) = redis().await else { return };
    let s = start(&redis, config("a", 1000)).await;
    let mut c1 = s.connect().await;
    assert_eq!(c1.send(post("ana", "one")).await.status, 201);
    let killed = redis.command(&["CLIENT", "KILL", "TYPE", "normal"]).await;
    assert!(
        killed.unwrap().starts_with(':'),
        "CLIENT KILL answers a count"
    );
    let r = c1.send(post("ana", "two")).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["id"], 2);
    assert_eq!(
        redis.command(&["XLEN", "chat:messages"]).await.unwrap(),
        ":2\r\n"
    );
}
