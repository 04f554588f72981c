//! Nothing lost, nothing twice: 1000 messages are posted while the tap
//! cuts the listener's connection 100 times, at points a seeded random
//! generator picks. The listener is a small SSE client that does what
//! `EventSource` does: it reconnects and sends `Last-Event-ID`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use ch03_sse::{serve, Config};
use wire::http1::{Http1, Piece};
use wire::sse::{Output, Parser};
use wire::tap::Recording;
use wire::{Dir, EventKind, Request, Scenario};

const MESSAGES: u64 = 1000;
const CUTS: usize = 100;
/// Bounds a hang, not a speed.
const PATIENCE: Duration = Duration::from_secs(120);

/// What the listener has seen: message ids in the order they came.
#[derive(Default)]
struct Seen {
    ids: Vec<u64>,
    connects: usize,
}

// ANCHOR: listener
/// Reads the stream like a browser: on each drop it reconnects after
/// the `retry` time, with `Last-Event-ID` set to the last id it got.
async fn listen(
    tap: std::net::SocketAddr,
    recording: Recording,
    seen: Arc<Mutex<Seen>>,
    conn_now: watch::Sender<usize>,
) {
    let mut last_id = String::new();
    let mut retry = Duration::from_millis(0);
    loop {
        let mut socket = TcpStream::connect(tap).await.unwrap();
        let conn = recording.conn_of(socket.local_addr().unwrap()).await;
        seen.lock().unwrap().connects += 1;
        conn_now.send_replace(conn);
        let mut request = Request::get("/events?after=0");
        if !last_id.is_empty() {
            request = request.header("last-event-id", &last_id);
        }
        let bytes = request.to_bytes("127.0.0.1:3003");
        let mut http = Http1::new();
        http.feed(Dir::ToServer, &bytes, &mut Vec::new());
        if socket.write_all(&bytes).await.is_err() {
            continue;
        }
        // A new connection starts a new parse: an event cut in half
        // by the drop is never dispatched (WHATWG HTML §9.2.6).
        let mut parser = Parser::new();
        let mut buf = vec![0; 16 * 1024];
        loop {
            let n = match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut pieces = Vec::new();
            http.feed(Dir::ToClient, &buf[..n], &mut pieces);
            let mut outputs = Vec::new();
            for piece in pieces {
                if let Piece::Bytes {
                    bytes,
                    payload: true,
                } = piece
                {
                    parser.feed(&bytes, &mut outputs);
                }
            }
            for (_, output) in outputs {
                match output {
                    Output::Retry(ms) => retry = Duration::from_millis(ms),
                    Output::Dispatch(event) => {
                        assert_eq!(event.kind, "message", "{event:?}");
                        let message: serde_json::Value =
                            serde_json::from_str(&event.data).unwrap();
                        let id = message["id"].as_u64().unwrap();
                        // The event id is the cursor: `RUN.ID`.
                        let (_run, last) = event.last_id.split_once('.').unwrap();
                        assert_eq!(last, id.to_string());
                        last_id = event.last_id;
                        let mut seen = seen.lock().unwrap();
                        // Each id once, in order: the next one, always.
                        let expected = seen.ids.last().map_or(1, |last| last + 1);
                        assert_eq!(id, expected, "a gap or a repeat");
                        seen.ids.push(id);
                        if id == MESSAGES {
                            return;
                        }
                    }
                    _ => {}
                }
            }
        }
        tokio::time::sleep(retry).await;
    }
}
// ANCHOR_END: listener

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_once_in_order_through_100_cuts() {
    let config = Config {
        retry: Duration::from_millis(5),
        heartbeat: Duration::from_secs(3600),
        ..Config::default()
    };
    let s = Scenario::start("127.0.0.1:3003", |listener, shutdown| {
        serve(listener, config, shutdown)
    })
    .await;
    let mut poster = s.connect().await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (conn_tx, mut conn_now) = watch::channel(0);
    let recording = Recording::clone(&s.tap);
    let listener =
        tokio::spawn(listen(s.tap.addr(), recording, seen.clone(), conn_tx));

    // Where to cut: 100 distinct points among the first 999 posts, and a
    // short random pause before each, so cuts land anywhere in the
    // bytes: between events, inside a chunk, before the head.
    let mut rng = StdRng::seed_from_u64(3);
    let mut points: Vec<u64> = Vec::new();
    while points.len() < CUTS {
        let point = rng.random_range(1..MESSAGES);
        if !points.contains(&point) {
            points.push(point);
        }
    }
    let run = async {
        let mut last_cut = 0;
        for id in 1..=MESSAGES {
            let json = format!(r#"{{"user":"ana","text":"message {id}"}}"#);
            let r = poster.send(Request::post_json("/messages", &json)).await;
            assert_eq!(r.status, 201);
            if points.contains(&id) {
                // Cut the connection the listener has now, once it
                // has one that was not cut yet.
                let conn = *conn_now.wait_for(|c| *c > last_cut).await.unwrap();
                let pause = rng.random_range(0..3);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                s.tap.cut(conn);
                last_cut = conn;
            }
        }
        listener.await.unwrap();
    };
    tokio::time::timeout(PATIENCE, run)
        .await
        .expect("the listener got every message in time");

    let seen = seen.lock().unwrap();
    let expected: Vec<u64> = (1..=MESSAGES).collect();
    assert_eq!(seen.ids, expected);
    let cuts = s.tap.events();
    let cuts = cuts.iter().filter(|e| e.kind == EventKind::Cut).count();
    assert_eq!(cuts, CUTS);
    // One connection to start, one more after each cut.
    assert_eq!(seen.connects, CUTS + 1);
}
