//! Chapter 3's scenarios. Each test drives one story step by step
//! through the tap; its transcript is the one the book shows.
//!
//! A stream never ends by itself, so most transcripts end while it is
//! still open: the test waits until the tap has recorded every event
//! it expects, then takes the transcript.

use std::time::Duration;

use ch03_sse::{serve, Config};
use wire::{assert_transcript, sse, Client, Dir, Request, Scenario, Transcript};

/// The address of a reader's server, as curl would write it.
const HOST: &str = "127.0.0.1:3003";

/// Bounds a failure, not a speed: a passing test goes on at once.
const PATIENCE: Duration = Duration::from_secs(10);

/// The default settings, but no heartbeat during a test unless it asks
/// for one: a heartbeat at a random moment would change the transcript.
///
/// The run is named `b2`, so that every event id is the same every run.
fn config() -> Config {
    Config {
        heartbeat: Duration::from_secs(3600),
        run: Some(chat::Run::named("b2")),
        ..Config::default()
    }
}

async fn start(config: Config) -> Scenario {
    Scenario::start(HOST, |listener, shutdown| serve(listener, config, shutdown))
        .await
}

/// `POST /messages` with the JSON the page sends: `user`, then `text`.
fn post(user: &str, text: &str) -> Request {
    Request::post_message(user, text)
}

/// What `new EventSource(target)` sends (see `Request::event_stream`).
fn open(target: &str, last_event_id: Option<&str>) -> Request {
    Request::event_stream(target, last_event_id)
}

/// Waits until the tap has recorded `n` events on `conn`.
async fn wait_events(s: &Scenario, conn: usize, n: usize) -> Vec<sse::Event> {
    wire::scenario::wait_events(&s.tap, conn, n, PATIENCE).await
}

/// Waits until the stream on `conn` has sent its `retry:` line.
async fn wait_retry(s: &Scenario, conn: usize) {
    wire::scenario::wait_retry(&s.tap, conn, PATIENCE).await
}

// ANCHOR: post_while_streaming
/// `poster` posts; the server answers it AND writes the event to the
/// stream on `stream`. The tap holds the stream's bytes until the
/// answer is recorded, so the transcript has one order every run.
async fn post_while_streaming(
    s: &Scenario,
    poster: &mut Client,
    stream: usize,
    text: &str,
) {
    let before = sse::events_in(&s.tap.events(), stream).len();
    s.tap.hold(stream, Dir::ToClient);
    assert_eq!(poster.send(post("ben", text)).await.status, 201);
    s.tap.release(stream, Dir::ToClient);
    wait_events(s, stream, before + 1).await;
}
// ANCHOR_END: post_while_streaming

/// C1 opens the stream: `retry` first. C2 posts: the message arrives
/// on C1 as an event, while C1's request is still open.
#[tokio::test]
async fn first_connect_then_live() {
    let s = start(config()).await;
    let mut c1 = s.connect().await;
    c1.write(open("/events", None)).await;
    wait_retry(&s, 1).await;
    let mut c2 = s.connect().await;
    post_while_streaming(&s, &mut c2, 1, "hello ana").await;
    post_while_streaming(&s, &mut c2, 1, "are you there?").await;
    let events = wait_events(&s, 1, 2).await;
    assert_eq!(events[1].last_id, "b2.2");
    assert_eq!(events[1].kind, "message");
    let t = s.transcript();
    // ANCHOR: cost
    // Message 1 travels as one chunk: a size line, the event, CR LF.
    // The message JSON is 40 bytes; the event adds 32 (`id` with the
    // run, `event`, `data:` and line ends), the chunk framing 6 more.
    let json = r#"{"id":1,"user":"ben","text":"hello ana"}"#;
    let event = format!("id: b2.1\nevent: message\ndata: {json}\n\n");
    let chunk = format!("{:X}\r\n{event}\r\n", event.len());
    assert_eq!((json.len(), event.len(), chunk.len()), (40, 72, 78));
    let down = s.tap.events().into_iter().filter_map(|e| match e.kind {
        wire::EventKind::Data {
            dir: Dir::ToClient,
            bytes,
        } if e.conn == 1 => Some(bytes),
        _ => None,
    });
    let down: Vec<u8> = down.flatten().collect();
    let at = down
        .windows(chunk.len())
        .position(|w| w == chunk.as_bytes());
    assert!(at.is_some(), "the chunk is on the wire, byte for byte");
    // ANCHOR_END: cost
    assert_transcript!("live", t.text());
    assert_transcript!("live_diagram", t.diagram());
}

/// The page loads with `?after=0` and gets the history first. One
/// message has a line break: JSON writes it as `\n`, so the event
/// still has a single `data:` line.
#[tokio::test]
async fn after_query_replays_the_history() {
    let s = start(config()).await;
    let mut c1 = s.connect().await;
    for text in ["first", "two\nlines", "third"] {
        assert_eq!(c1.send(post("ana", text)).await.status, 201);
    }
    let mut c2 = s.connect().await;
    c2.write(open("/events?after=1", None)).await;
    let events = wait_events(&s, 2, 2).await;
    let message: serde_json::Value = serde_json::from_str(&events[0].data).unwrap();
    assert_eq!(message["text"], "two\nlines");
    assert_eq!(events[1].last_id, "b2.3");
    assert_transcript!("after_query", s.transcript().text());
}

// ANCHOR: cut_and_resume
/// The connection breaks after message 2. Messages 3 and 4 are posted
/// meanwhile. The reconnect says `Last-Event-ID: 2` and gets 3 and 4,
/// then 5 live: each once, in order, with no gap at the seam.
#[tokio::test]
async fn a_cut_connection_resumes_with_last_event_id() {
    let s = start(config()).await;
    let mut c1 = s.connect().await;
    c1.write(open("/events?after=0&run=b2", None)).await;
    wait_retry(&s, 1).await;
    let mut c2 = s.connect().await;
    post_while_streaming(&s, &mut c2, 1, "one").await;
    post_while_streaming(&s, &mut c2, 1, "two").await;
    s.tap.cut(c1.conn());
    for text in ["three", "four"] {
        assert_eq!(c2.send(post("ben", text)).await.status, 201);
    }
    // The browser reconnects to the same URL and adds the header.
    let mut c3 = s.connect().await;
    c3.write(open("/events?after=0&run=b2", Some("b2.2"))).await;
    let replayed = wait_events(&s, 3, 2).await;
    post_while_streaming(&s, &mut c2, 3, "five").await;
    let recorded = s.tap.events();
    let ids: Vec<String> = [1, 3]
        .into_iter()
        .flat_map(|conn| sse::events_in(&recorded, conn))
        .map(|e| e.last_id)
        .collect();
    assert_eq!(replayed.len(), 2);
    assert_eq!(ids, ["b2.1", "b2.2", "b2.3", "b2.4", "b2.5"]);
    assert_transcript!("cut_and_resume", s.transcript().text());
}
// ANCHOR_END: cut_and_resume

/// The history keeps 3 messages; 6 were posted. A client back from
/// id 1 missed 2 and 3 for good: a `reset` event says so, before the
/// 3 messages that are kept.
#[tokio::test]
async fn an_id_older_than_the_history_gets_a_reset() {
    let s = start(Config {
        history: 3,
        ..config()
    })
    .await;
    let mut c1 = s.connect().await;
    for i in 1..=6 {
        let text = format!("message {i}");
        assert_eq!(c1.send(post("ana", &text)).await.status, 201);
    }
    let mut c2 = s.connect().await;
    c2.write(open("/events", Some("b2.1"))).await;
    let events = wait_events(&s, 2, 4).await;
    assert_eq!(events[0].kind, "reset");
    let reset: serde_json::Value = serde_json::from_str(&events[0].data).unwrap();
    let why = "messages 2 to 3 are no longer kept: the server keeps the newest 3";
    assert_eq!(reset["reset"], why);
    let ids: Vec<&str> = events.iter().map(|e| e.last_id.as_str()).collect();
    assert_eq!(ids, ["b2.3", "b2.4", "b2.5", "b2.6"]);
    assert_transcript!("reset", s.transcript().text());
}

/// After `--heartbeat` seconds without an event, a comment line. The
/// transcript stops at the first one: later ones come on a clock.
#[tokio::test]
async fn a_quiet_stream_gets_a_heartbeat() {
    let s = start(Config {
        heartbeat: Duration::from_millis(500),
        ..config()
    })
    .await;
    let mut c1 = s.connect().await;
    c1.write(open("/events", None)).await;
    // The first moment the recording holds one whole heartbeat chunk.
    let first_heartbeat = |events: &[wire::Event]| {
        (1..=events.len()).find(|&n| {
            let prefix = &events[..n];
            let down: Vec<u8> = prefix
                .iter()
                .filter_map(|e| match &e.kind {
                    wire::EventKind::Data {
                        dir: Dir::ToClient,
                        bytes,
                    } => Some(bytes.clone()),
                    _ => None,
                })
                .flatten()
                .collect();
            sse::comments_in(prefix, 1) >= 1 && down.ends_with(b"\n\r\n")
        })
    };
    s.tap
        .wait_until("a heartbeat", PATIENCE, |e| first_heartbeat(e).is_some())
        .await;
    let events = s.tap.events();
    let n = first_heartbeat(&events).unwrap();
    let ports = [s.tap.addr().port(), s.server.addr().port()];
    let t = Transcript::new(&events[..n], &ports);
    // The heartbeat chunk: 12 bytes of comment, 5 of chunk framing.
    let heartbeat = b"C\r\n: heartbeat\n\r\n";
    assert_eq!(heartbeat.len(), 17);
    let down: Vec<u8> = events[..n]
        .iter()
        .filter_map(|e| match &e.kind {
            wire::EventKind::Data {
                dir: Dir::ToClient,
                bytes,
            } => Some(bytes.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        down.ends_with(heartbeat),
        "{}",
        String::from_utf8_lossy(&down)
    );
    assert_transcript!("heartbeat", t.text());
}

/// On shutdown, the server ends every stream (the last chunk). The
/// browser reconnects; while the server drains, it answers 204, and an
/// `EventSource` does not reconnect after a 204.
#[tokio::test]
async fn draining_ends_the_stream_and_answers_204() {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = Config {
        drain: Duration::from_secs(30),
        ..config()
    };
    let s = Scenario::start(HOST, |listener, _| {
        serve(listener, config, async move {
            let _ = stopped.await;
        })
    })
    .await;
    let mut c1 = s.connect().await;
    c1.write(open("/events", None)).await;
    wait_retry(&s, 1).await;
    stop.send(()).unwrap();
    // The stream ends with the last chunk: a whole response.
    let r = c1.response().await;
    assert_eq!(r.status, 200);
    // The reconnect, on the same kept-alive connection: 204.
    let r = c1.send(open("/events", None)).await;
    assert_eq!(r.status, 204);
    c1.close().await;
    assert_transcript!("drain_204", s.transcript().text());
}

/// Plain HTTP streaming: each message is one chunk of an endless
/// response. The chunks carry bytes, not messages: nothing in the body
/// says where one message ends.
#[tokio::test]
async fn a_plain_http_stream() {
    let s = start(config()).await;
    let mut c1 = s.connect().await;
    c1.write(Request::get("/stream")).await;
    s.tap
        .wait_until("the whole head of C1's response", PATIENCE, |events| {
            let head = events.iter().filter_map(|e| match &e.kind {
                wire::EventKind::Data {
                    dir: Dir::ToClient,
                    bytes,
                } => Some(bytes.as_slice()),
                _ => None,
            });
            let head: Vec<u8> = head.flatten().copied().collect();
            head.windows(4).any(|w| w == b"\r\n\r\n")
        })
        .await;
    let mut c2 = s.connect().await;
    for (i, text) in ["one", "two"].into_iter().enumerate() {
        let before = s.tap.bytes(1, Dir::ToClient);
        s.tap.hold(1, Dir::ToClient);
        assert_eq!(c2.send(post("ben", text)).await.status, 201);
        s.tap.release(1, Dir::ToClient);
        let what = format!("message {} on C1", i + 1);
        s.tap
            .wait_until(&what, PATIENCE, |events| {
                let down = wire::tap::bytes_in(events, 1, Dir::ToClient);
                let json =
                    format!(r#"{{"id":{},"user":"ben","text":"{text}"}}"#, i + 1);
                // size line, the JSON, CR LF
                down >= before + json.len() + 6
            })
            .await;
    }
    assert_transcript!("plain_stream", s.transcript().text());
}

/// A `Last-Event-ID` that is not a cursor at all is ignored (and
/// logged): the stream starts where `?after` or "now" says.
#[tokio::test]
async fn a_bogus_last_event_id_counts_as_absent() {
    let s = start(config()).await;
    let mut c1 = s.connect().await;
    assert_eq!(c1.send(post("ana", "kept")).await.status, 201);
    for bogus in ["last", "-1", "b2.x"] {
        let mut c = s.connect().await;
        c.write(open("/events?after=0", Some(bogus))).await;
        let events = wait_events(&s, c.conn(), 1).await;
        assert_eq!(events[0].last_id, "b2.1", "Last-Event-ID: {bogus}");
    }
    // `?after` that is not a number: 400, as for `GET /messages`.
    let mut c = s.connect().await;
    let r = c.send(open("/events?after=x", None)).await;
    assert_eq!(r.status, 400);
}

/// Graceful shutdown does not wait for a stream that never ends.
#[tokio::test]
async fn graceful_shutdown_ends_every_stream() {
    let config = Config {
        drain: Duration::ZERO,
        ..config()
    };
    let s = start(config).await;
    let mut c1 = s.connect().await;
    c1.write(open("/events", None)).await;
    wait_retry(&s, 1).await;
    let Scenario {
        server, tap: _tap, ..
    } = s;
    assert!(server.stop(PATIENCE).await, "the server did not stop");
    // The stream ended as a whole response: its last chunk came.
    assert_eq!(c1.response().await.status, 200);
}

// ANCHOR: restart
/// The page was open while the server restarted. The browser
/// reconnects by itself and names the old run in `Last-Event-ID`.
/// Run b2 has ids 1 and 2, so the id alone would look fine; the run
/// says it is not. A `reset` comes first, then b2's history, then
/// live messages: each once, in order, on the same stream.
#[tokio::test]
async fn a_cursor_from_another_run_gets_a_reset() {
    let s = start(config()).await;
    let mut c1 = s.connect().await;
    for text in ["six", "seven"] {
        assert_eq!(c1.send(post("ben", text)).await.status, 201);
    }
    let mut c2 = s.connect().await;
    c2.write(open("/events?after=0&run=a1", Some("a1.5"))).await;
    let events = wait_events(&s, 2, 3).await;
    assert_eq!(events[0].kind, "reset");
    assert_eq!(events[0].last_id, "b2.0");
    post_while_streaming(&s, &mut c1, 2, "eight").await;
    let events = sse::events_in(&s.tap.events(), 2);
    let ids: Vec<&str> = events.iter().map(|e| e.last_id.as_str()).collect();
    assert_eq!(ids, ["b2.0", "b2.1", "b2.2", "b2.3"]);
    // A cursor from the future (curl, no run): a reset too, at once.
    let mut c3 = s.connect().await;
    c3.write(open("/events?after=9", None)).await;
    let events = wait_events(&s, 3, 4).await;
    assert_eq!(events[0].kind, "reset");
    assert_transcript!("restart", s.transcript().text());
}
// ANCHOR_END: restart

/// Past `--max-connections`, a new stream gets 503 with Retry-After
/// before it opens; when one closes, the next one is let in.
#[tokio::test]
async fn streams_past_the_limit_get_503() {
    let s = start(Config {
        max_connections: 1,
        ..config()
    })
    .await;
    let mut c1 = s.connect().await;
    c1.write(open("/events", None)).await;
    wait_retry(&s, 1).await;
    let mut c2 = s.connect().await;
    let r = c2.send(open("/events", None)).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("5"));
    assert!(r.json()["error"].as_str().unwrap().contains("too many"));
    assert_transcript!("limit", s.transcript().text());
    // When the first stream closes, its place is free again. The
    // server learns of the close a moment later: ask until a stream
    // opens (directly, not through the tap: the transcript is taken).
    c1.close().await;
    let mut status = String::new();
    for _ in 0..250 {
        status = first_line(s.server.addr(), "/events").await;
        if status.starts_with("HTTP/1.1 200") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        status.starts_with("HTTP/1.1 200"),
        "still refused: {status}"
    );
}

/// The status line of `GET target`, on a new connection to `addr`.
async fn first_line(addr: std::net::SocketAddr, target: &str) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = open(target, None).to_bytes(HOST);
    tcp.write_all(&request).await.unwrap();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(tcp);
    reader.read_line(&mut line).await.unwrap();
    line
}
