//! Through the proxy: chapter 7's claims about nginx, each tested
//! with a real nginx in front of the chapter's servers.
//!
//! ```text
//! client ──▶ tap ──▶ nginx ──▶ tap ──▶ server a ─┐
//!                          ──▶ tap ──▶ server b ─┼──▶ Redis
//!                          ──▶ tap ──▶ server c ─┘
//! ```
//!
//! The transcripts are the first tap's: what the clients and nginx
//! said to each other. The taps behind nginx record what nginx said
//! to the servers: a test looks there to know that a server has
//! answered before it checks what nginx passed on.
//!
//! nginx runs with the book's own `nginx.conf`, with only its ports
//! changed. A test that shows a mistake changes the file in one
//! place, with one of the functions under `config` below.

mod common;

use std::time::Duration;

use ch07_production::{serve, Config, RedisLog};
use common::{replace_once, shipped};
use wire::scenario::at_chunk_end;
use wire::services::{Nginx, Redis};
use wire::tap::bytes_in;
use wire::transcript::{footer, render_row, Decoder, Normalizer, Row};
use wire::websocket::{Frame, OpCode};
use wire::{assert_transcript, sse, Client, Dir, Event, EventKind, Request};
use wire::{Tap, TestServer, Transcript};

/// Where the book's nginx listens, as the clients write it in `host`
/// and a browser writes it in `Origin`.
const HOST: &str = "127.0.0.1:8080";

/// Bounds a failure, not a speed: a passing test goes on at once.
const PATIENCE: Duration = Duration::from_secs(10);

/// nginx's default `proxy_read_timeout`, in seconds: the longest it
/// waits between two reads from a server.
const NGINX_READ_TIMEOUT: u64 = 60;

// Chapter 2's longest wait is shorter, checked when this compiles.
const _: () =
    assert!(ch02_long_polling::long_poll::MAX_WAIT_SECONDS < NGINX_READ_TIMEOUT);

/// No heartbeat during a test unless it asks for one: one at a random
/// moment would change a transcript.
const NO_HEARTBEAT: Duration = Duration::from_secs(3600);

/// The key of RFC 6455 §1.3: its accept value is in the RFC.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The masking key of the examples in RFC 6455 §5.7.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

// ANCHOR: config
/// Adds `proxy_ignore_headers X-Accel-Buffering;` to `location /`:
/// nginx then acts as if our servers had not sent `X-Accel-Buffering:
/// no`, and `proxy_buffering` (on by default) applies to the stream.
fn ignore_accel_buffering(conf: &str) -> String {
    let location = "location / {\n            proxy_pass http://chat;\n";
    let ignore = "            proxy_ignore_headers X-Accel-Buffering;\n";
    replace_once(conf, location, &format!("{location}{ignore}"))
}

/// Removes the `location = /ws { … }` block: `/ws` falls to
/// `location /`, a plain `proxy_pass`.
fn plain_proxy_pass_for_ws(conf: &str) -> String {
    let start = "        location = /ws {\n";
    assert_eq!(conf.matches(start).count(), 1, "one /ws block");
    let at = conf.find(start).unwrap();
    let end = "\n        }\n";
    let len = conf[at..].find(end).expect("the end of the /ws block");
    let mut conf = conf.to_owned();
    conf.replace_range(at..at + len + end.len(), "");
    conf
}

/// Adds `proxy_read_timeout 2s;` to `http`: nginx gives up on a
/// server that sends nothing for 2 s, instead of 60 s (the default),
/// so that a test can show it.
fn read_timeout_2s(conf: &str) -> String {
    replace_once(conf, "http {\n", "http {\n    proxy_read_timeout 2s;\n")
}
// ANCHOR_END: config

/// A Redis with the log's run named `p1`, so that event ids are the
/// same every run. `None`: not installed, the test is skipped.
async fn redis() -> Option<Redis> {
    let redis = Redis::start().await?;
    let ok = redis.command(&["SET", "chat:run", "p1"]).await.unwrap();
    assert_eq!(ok, "+OK\r\n");
    Some(redis)
}

/// Servers `a`, `b` and `c` of chapter 7, on one Redis, with an event
/// stream heartbeat every `heartbeat`.
async fn chat_servers(redis: &Redis, heartbeat: Duration) -> Vec<TestServer> {
    let mut servers = Vec::new();
    for name in ["a", "b", "c"] {
        let mut config = Config {
            name: name.into(),
            ..Config::default()
        };
        config.sse.heartbeat = heartbeat;
        // On shutdown, end the streams and stop: no 204s to wait for.
        config.sse.drain = Duration::ZERO;
        let history = config.sse.history;
        let log = RedisLog::connect(&redis.url(), "chat", history)
            .await
            .expect("connect to the test's Redis");
        let server = TestServer::start(move |listener, shutdown| {
            serve(listener, log, config, shutdown)
        })
        .await;
        servers.push(server);
    }
    servers
}

/// Three of chapter 2's servers: long polling, no Redis.
async fn long_poll_servers() -> Vec<TestServer> {
    let mut servers = Vec::new();
    for _ in 0..3 {
        let config = ch02_long_polling::Config::default();
        let server = TestServer::start(move |listener, shutdown| {
            ch02_long_polling::serve(listener, config, shutdown)
        })
        .await;
        servers.push(server);
    }
    servers
}

/// The servers, a tap in front of each, nginx in front of those taps,
/// and the tap that the clients connect to.
struct Proxy {
    servers: Vec<TestServer>,
    /// The taps between nginx and each server, in `upstream` order.
    backs: Vec<Tap>,
    nginx: Nginx,
    tap: Tap,
    /// Every port of the test, replaced with `[PORT]` in transcripts.
    ports: Vec<u16>,
}

impl Proxy {
    /// nginx with the book's configuration, changed by `change`, in
    /// front of `servers`. `None` if nginx is not installed.
    async fn start(
        servers: Vec<TestServer>,
        change: impl FnOnce(&str) -> String,
    ) -> Option<Proxy> {
        let mut backs = Vec::new();
        for server in &servers {
            backs.push(Tap::start(server.addr()).await.expect("a tap"));
        }
        let upstreams = [0, 1, 2].map(|i| backs[i].addr().port());
        let nginx = Nginx::start(|port| change(&shipped(port, upstreams))).await?;
        let tap = Tap::start(nginx.addr()).await.expect("the clients' tap");
        let mut ports = vec![tap.addr().port(), nginx.addr().port()];
        ports.extend(backs.iter().map(|t| t.addr().port()));
        ports.extend(servers.iter().map(|s| s.addr().port()));
        Some(Proxy {
            servers,
            backs,
            nginx,
            tap,
            ports,
        })
    }

    /// A new connection to nginx through the tap: `C1`, then `C2`, …
    async fn connect(&self) -> Client {
        Client::connect(&self.tap, HOST).await
    }

    /// What crossed between the clients and nginx.
    fn transcript(&self) -> Transcript {
        Transcript::new(&self.tap.events(), &self.ports)
    }

    /// The same, with a line of the test's own before the event at
    /// each index in `marks`: what happened where the tap cannot see.
    fn transcript_marked(&self, marks: &[(usize, &str)]) -> String {
        render(&self.tap.events(), &self.ports, marks, |_| true)
    }

    /// What nginx said to each server. Who closes first, the server
    /// after its answer or nginx after reading it, is a race between
    /// two processes, so the FIN lines are left out (`wait_closed`
    /// checks that they came).
    fn servers_side(&self) -> String {
        let mut out = String::new();
        for (i, back) in self.backs.iter().enumerate() {
            let events = back.events();
            if events.is_empty() {
                out.push_str(&format!("── server {}: no connection ──\n", i + 1));
                continue;
            }
            out.push_str(&format!("── server {} ──\n", i + 1));
            let keep = |row: &Row| !matches!(row, Row::Close { .. });
            out.push_str(&render(&events, &self.ports, &[], keep));
        }
        out
    }

    /// Waits until every connection that nginx opened to a server has
    /// closed both ways.
    async fn wait_closed(&self) {
        for back in &self.backs {
            back.wait_until("nginx's connections to end", PATIENCE, |events| {
                let opened = events
                    .iter()
                    .filter(|e| matches!(e.kind, EventKind::Open { .. }));
                let closed = events
                    .iter()
                    .filter(|e| matches!(e.kind, EventKind::Close { .. }));
                2 * opened.count() == closed.count()
            })
            .await;
        }
    }

    /// Asks every server to stop (chapter 3's drain ends each event
    /// stream) and waits until they have.
    async fn stop_servers(&mut self) {
        for server in std::mem::take(&mut self.servers) {
            assert!(server.stop(PATIENCE).await, "a server did not stop");
        }
    }
}

/// `events` rendered as [`Transcript::text`] renders them, with a
/// line `── mark ──` before the event at each index in `marks`, and
/// only the rows that `keep` keeps.
fn render(
    events: &[Event],
    ports: &[u16],
    marks: &[(usize, &str)],
    keep: impl Fn(&Row) -> bool,
) -> String {
    let normalizer = Normalizer::new(ports);
    let mut decoder = Decoder::new();
    let mut out = String::new();
    let lines = |out: &mut String, rows: Vec<Row>| {
        for row in rows.iter().filter(|row| keep(row)) {
            for line in render_row(row, &normalizer) {
                out.push_str(&line);
                out.push('\n');
            }
        }
    };
    for i in 0..=events.len() {
        for (_, mark) in marks.iter().filter(|(at, _)| *at == i) {
            out.push_str(&format!("── {mark} ──\n"));
        }
        if let Some(event) = events.get(i) {
            lines(&mut out, decoder.push(event));
        }
    }
    lines(&mut out, decoder.finish());
    out.push('\n');
    out.push_str(&footer(decoder.counts()));
    out
}

/// Every byte that went to the client in `events` on `conn`, in order.
fn down(events: &[Event], conn: usize) -> Vec<u8> {
    let bytes = events.iter().filter(|e| e.conn == conn);
    let bytes = bytes.filter_map(|e| match &e.kind {
        EventKind::Data {
            dir: Dir::ToClient,
            bytes,
        } => Some(bytes.as_slice()),
        _ => None,
    });
    bytes.flatten().copied().collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `POST /messages` with the JSON the page sends: `user`, then `text`.
fn post(user: &str, text: &str) -> Request {
    Request::post_message(user, text)
}

/// What `new EventSource("/events")` sends.
fn open_stream() -> Request {
    Request::get("/events").header("accept", "text/event-stream")
}

/// The handshake a browser sends (RFC 6455 §4.1), from a page that
/// nginx served: its `Origin` is nginx's address, which is also the
/// `Host` that nginx passes on (`proxy_set_header Host $http_host`).
fn upgrade() -> Request {
    Request::get("/ws")
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-key", KEY)
        .header("sec-websocket-version", "13")
        .header("origin", &format!("http://{HOST}"))
}

/// Waits until the stream on `conn` has sent its `retry:` line.
async fn wait_retry(tap: &Tap, conn: usize) {
    wire::scenario::wait_retry(tap, conn, PATIENCE).await
}

// ANCHOR: unbuffered
/// The shipped configuration leaves `proxy_buffering` on, nginx's
/// default. Our stream's `X-Accel-Buffering: no` turns it off for the
/// stream alone: the head, the `retry` and then the event come at
/// once. nginx keeps that header to itself (by default it passes no
/// `X-Accel-*` header on, and writes its own `Date` and `Server`).
/// It also chunks the body itself: it speaks HTTP/1.0 to the server,
/// whose body has no chunks and ends when it closes (RFC 9112 §6.3).
#[tokio::test]
async fn sse_through_nginx_arrives_at_once() {
    let Some(redis) = redis().await else { return };
    let servers = chat_servers(&redis, NO_HEARTBEAT).await;
    let Some(p) = Proxy::start(servers, str::to_owned).await else {
        return;
    };
    let mut c1 = p.connect().await;
    c1.write(open_stream()).await;
    wait_retry(&p.tap, 1).await;
    // Server b stores the post; server a, which serves the stream,
    // reads it from the log. Hold the stream while the post is
    // answered, so the transcript has one order every run.
    let mut c2 = p.connect().await;
    p.tap.hold(1, Dir::ToClient);
    assert_eq!(c2.send(post("ben", "hello ana")).await.status, 201);
    p.tap.release(1, Dir::ToClient);
    p.tap
        .wait_until("the event on C1", PATIENCE, |events| {
            sse::events_in(events, 1).len() == 1 && at_chunk_end(events, 1)
        })
        .await;
    let events = sse::events_in(&p.tap.events(), 1);
    assert_eq!(events[0].last_id, "p1.1");
    let text = p.transcript().text();
    assert!(!text.to_ascii_lowercase().contains("x-accel-buffering"));
    assert_transcript!("nginx_sse_unbuffered", text);
}
// ANCHOR_END: unbuffered

// ANCHOR: buffered
/// The same stream, with nginx told to ignore `X-Accel-Buffering`.
/// nginx buffers the response: it reads the server's bytes into its
/// buffers and passes a buffer on only when it is full or when the
/// response ends. Not even the status line and headers reach the
/// client, nor `retry:`. The event waits with them, until the servers
/// shut down and end the stream: then all of it comes at once.
#[tokio::test]
async fn sse_waits_in_nginx_buffer_without_x_accel_buffering() {
    let Some(redis) = redis().await else { return };
    let servers = chat_servers(&redis, NO_HEARTBEAT).await;
    let Some(mut p) = Proxy::start(servers, ignore_accel_buffering).await else {
        return;
    };
    let mut c1 = p.connect().await;
    c1.write(open_stream()).await;
    // The stream is open at server a once it has sent its retry; the
    // tap behind nginx records it before passing it on.
    p.backs[0]
        .wait_until("the retry from server a", PATIENCE, |events| {
            contains(&down(events, 1), b"retry: 2000\n\n")
        })
        .await;
    let mut c2 = p.connect().await;
    assert_eq!(c2.send(post("ben", "hello ana")).await.status, 201);
    // Server a has sent nginx its head, the retry and the event.
    let event = b"id: p1.1\nevent: message\ndata: {\"id\":1,\"user\":\"ben\",\
        \"text\":\"hello ana\"}\n\n";
    p.backs[0]
        .wait_until("the event from server a", PATIENCE, |events| {
            let bytes = down(events, 1);
            contains(&bytes, b"retry: 2000\n\n") && contains(&bytes, event)
        })
        .await;
    // nginx has no timer that flushes a proxy buffer: what it has not
    // sent within 1 s, it holds until a buffer fills or the response
    // ends. So 1 s of nothing means nothing, not "slow".
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(p.tap.bytes(1, Dir::ToClient), 0, "nginx held the stream");
    let mark = p.tap.events().len();
    p.stop_servers().await;
    let r = c1.response().await;
    assert_eq!(r.status, 200);
    let parsed = sse::parse(&r.body);
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].last_id, "p1.1");
    let held = "nginx has server a's head, retry and event; 1 s on, C1 has none";
    let end = "the servers shut down; server a ends the stream";
    let text = p.transcript_marked(&[(mark, held), (mark, end)]);
    assert_transcript!("nginx_sse_buffered", text);
}
// ANCHOR_END: buffered

// ANCHOR: buffer_full
/// The other way out of nginx's buffer: it fills. The first buffer of
/// a response, `proxy_buffer_size`, is one memory page by default (4
/// KiB on most systems) and holds the head and the start of the body.
/// Long messages fill it: nginx passes it on whole, as one chunk, and
/// the 4 KiB end in the middle of an event. A browser keeps that half
/// event until the rest comes, in the next full buffer.
#[tokio::test]
async fn sse_leaves_nginx_buffer_when_it_is_full() {
    let Some(redis) = redis().await else { return };
    let servers = chat_servers(&redis, NO_HEARTBEAT).await;
    let Some(p) = Proxy::start(servers, ignore_accel_buffering).await else {
        return;
    };
    let mut c1 = p.connect().await;
    c1.write(open_stream()).await;
    p.backs[0]
        .wait_until("the retry from server a", PATIENCE, |events| {
            contains(&down(events, 1), b"retry: 2000\n\n")
        })
        .await;
    // Post until server a has sent nginx more than 4 KiB.
    const PAGE: usize = 4096;
    let mut c2 = p.connect().await;
    let mut posted = 0;
    while down(&p.backs[0].events(), 1).len() <= PAGE {
        posted += 1;
        let text = format!("{posted} {}", "x".repeat(998));
        assert_eq!(c2.send(post("ben", &text)).await.status, 201);
        let id = format!("id: p1.{posted}\n");
        p.backs[0]
            .wait_until("the event from server a", PATIENCE, |events| {
                contains(&down(events, 1), id.as_bytes())
            })
            .await;
    }
    assert_eq!(posted, 4);
    // nginx passes on its first buffer: the head, and one chunk.
    p.tap
        .wait_until("a whole chunk on C1", PATIENCE, |events| {
            chunked_body_len(&down(events, 1)).is_some()
        })
        .await;
    let received = chunked_body_len(&down(&p.tap.events(), 1)).unwrap();
    let head = head_len(&down(&p.backs[0].events(), 1)).unwrap();
    assert_eq!(received, PAGE - head, "the first 4 KiB, less the head");
    let events = sse::events_in(&p.tap.events(), 1);
    assert!(events.len() < posted, "the last event is cut: {events:?}");
    let stream = p.tap.events().into_iter().filter(|e| e.conn == 1);
    let stream: Vec<Event> = stream.collect();
    let text = Transcript::new(&stream, &p.ports).text();
    assert_transcript!("nginx_sse_buffer_full", fold_xs(&text));
}
// ANCHOR_END: buffer_full

// ANCHOR: ws_plain
/// Without the `location = /ws` block, the handshake goes through a
/// plain `proxy_pass`. Upgrade and Connection are hop-by-hop (RFC
/// 9110 §7.6.1, §7.8): nginx does not pass them on, and it speaks
/// HTTP/1.0 to the server, which has no upgrade at all. The server
/// sees a plain GET and answers chapter 4's 426; nginx passes that
/// on, on a connection that stays open for plain HTTP.
#[tokio::test]
async fn websocket_through_a_plain_proxy_pass_is_not_upgraded() {
    let Some(redis) = redis().await else { return };
    let servers = chat_servers(&redis, NO_HEARTBEAT).await;
    let Some(p) = Proxy::start(servers, plain_proxy_pass_for_ws).await else {
        return;
    };
    let mut c1 = p.connect().await;
    let r = c1.send(upgrade()).await;
    assert_eq!(r.status, 426);
    assert_eq!(r.header("connection"), Some("keep-alive"));
    c1.close().await;
    p.wait_closed().await;
    // What server a got: HTTP/1.0, `Connection: close`, no `Upgrade`.
    let servers = p.servers_side();
    assert!(
        servers.contains("C1 → GET /ws HTTP/1.0\\r\\n\n"),
        "{servers}"
    );
    let asked_to_upgrade = servers.lines().any(|line| {
        line.starts_with("C1 → ") && line.to_ascii_lowercase().contains("upgrade")
    });
    assert!(!asked_to_upgrade, "{servers}");
    assert_transcript!("nginx_ws_plain_proxy_pass", p.transcript().text());
    assert_transcript!("nginx_ws_plain_proxy_pass_servers", servers);
}
// ANCHOR_END: ws_plain

// ANCHOR: ws_shipped
/// The shipped `location = /ws`, with its three lines: nginx asks
/// server a for the upgrade itself (HTTP/1.1, `Upgrade: websocket`,
/// `Connection: upgrade`) and passes on its 101. From then on it
/// relays bytes both ways: a text frame goes out, the message comes
/// back as a text frame, and the close handshake ends the socket.
#[tokio::test]
async fn websocket_through_the_shipped_config_is_upgraded() {
    let Some(redis) = redis().await else { return };
    let servers = chat_servers(&redis, NO_HEARTBEAT).await;
    let Some(p) = Proxy::start(servers, str::to_owned).await else {
        return;
    };
    let mut c1 = p.connect().await;
    let r = c1.send(upgrade()).await;
    assert_eq!(r.status, 101, "{}", r.text());
    let accept = ch04_websocket::accept_key(KEY);
    assert_eq!(r.header("sec-websocket-accept"), Some(accept.as_str()));
    let hi = Frame::text(r#"{"user":"ana","text":"hi"}"#).masked(MASK);
    c1.write_raw(&hi.encode()).await;
    let frame = c1.frame().await;
    assert_eq!(frame.opcode, OpCode::TEXT);
    let message: serde_json::Value = serde_json::from_slice(&frame.payload).unwrap();
    assert_eq!(message["id"], 1);
    c1.write_raw(&Frame::close(1000, "").masked(MASK).encode())
        .await;
    assert_eq!(c1.frame().await.opcode, OpCode::CLOSE);
    c1.expect_closed_by_server().await;
    c1.close().await;
    assert_transcript!("nginx_ws_upgrade", p.transcript().text());
}
// ANCHOR_END: ws_shipped

// ANCHOR: read_timeout
/// `proxy_read_timeout` is the longest nginx waits between two reads
/// from a server. A stream with nothing to say for that long is cut:
/// nginx closes the client's connection in the middle of the chunked
/// body, with no last chunk. The browser's `EventSource` reconnects
/// after `retry` and resumes with `Last-Event-ID`, so no message is
/// lost; but the stream is cut and opened again every 2 s here, every
/// 60 s with nginx's default.
#[tokio::test]
async fn an_idle_stream_is_cut_by_proxy_read_timeout() {
    let Some(redis) = redis().await else { return };
    let servers = chat_servers(&redis, NO_HEARTBEAT).await;
    let Some(p) = Proxy::start(servers, read_timeout_2s).await else {
        return;
    };
    let mut c1 = p.connect().await;
    c1.write(open_stream()).await;
    wait_retry(&p.tap, 1).await;
    // No answer in 2 s: nginx ends it. PATIENCE bounds a test where
    // nginx never would.
    c1.expect_closed_by_server().await;
    assert!(nginx_log_says(&p, "upstream timed out"));
    assert_transcript!("nginx_sse_read_timeout", p.transcript().text());
}

/// A heartbeat shorter than `proxy_read_timeout` keeps the stream:
/// each comment is a read, and nginx waits anew after each one. Three
/// heartbeats, 1 s apart, carry the stream past nginx's 2 s, and it
/// is still open. The book's defaults keep the same order: a 15 s
/// heartbeat (and a 30 s WebSocket ping) under nginx's 60 s.
#[tokio::test]
async fn a_heartbeat_shorter_than_proxy_read_timeout_keeps_the_stream() {
    let nginx = Duration::from_secs(NGINX_READ_TIMEOUT);
    assert!(ch03_sse::Config::default().heartbeat < nginx);
    assert!(ch04_websocket::Config::default().ping < nginx);
    let Some(redis) = redis().await else { return };
    let servers = chat_servers(&redis, Duration::from_secs(1)).await;
    let Some(p) = Proxy::start(servers, read_timeout_2s).await else {
        return;
    };
    let mut c1 = p.connect().await;
    c1.write(open_stream()).await;
    // The first moment the recording holds three whole heartbeats.
    let third = |events: &[Event]| {
        (1..=events.len()).find(|&n| {
            sse::comments_in(&events[..n], 1) == 3 && at_chunk_end(&events[..n], 1)
        })
    };
    p.tap
        .wait_until("3 heartbeats", PATIENCE, |e| third(e).is_some())
        .await;
    let events = p.tap.events();
    let n = third(&events).unwrap();
    let closed = |e: &Event| matches!(e.kind, EventKind::Close { .. });
    assert!(!events[..n].iter().any(closed), "the stream is still open");
    assert!(!nginx_log_says(&p, "upstream timed out"));
    let text = Transcript::new(&events[..n], &p.ports).text();
    assert_transcript!("nginx_sse_heartbeat", text);
}
// ANCHOR_END: read_timeout

// ANCHOR: long_poll
/// A long poll must wait less than the proxy. Chapter 2's servers,
/// behind nginx with `proxy_read_timeout 2s`:
///
/// - `wait=1`: the server's own 204 comes first.
/// - `wait=3`: nginx gives up after 2 s. By default it then tries the
///   same GET on the next server (`proxy_next_upstream error
///   timeout`), and the next: 3 × 2 s, then its own 504.
/// - Each of those timeouts counted as a failed server (`max_fails=1
///   fail_timeout=10s`, the defaults of `server`): for 10 s nginx has
///   no server left, and the next poll, `wait=1`, gets 502 without
///   reaching one.
///
/// With nginx's default of 60 s, chapter 2's longest wait is 50 s.
#[tokio::test]
async fn a_long_poll_must_wait_less_than_the_proxy() {
    let servers = long_poll_servers().await;
    let Some(p) = Proxy::start(servers, read_timeout_2s).await else {
        return;
    };
    let mut c1 = p.connect().await;
    let r = c1.send(Request::get("/messages?after=0&wait=1")).await;
    assert_eq!(r.status, 204, "the server's answer");
    let r = c1.send(Request::get("/messages?after=0&wait=3")).await;
    assert_eq!(r.status, 504, "nginx's answer");
    // How many requests each server got: `wait=1` went to server 1,
    // `wait=3` to servers 2, 3 and 1, in round-robin order.
    let asked = |p: &Proxy| -> Vec<usize> {
        let opened = |e: &&Event| matches!(e.kind, EventKind::Open { .. });
        let count = |t: &Tap| t.events().iter().filter(opened).count();
        p.backs.iter().map(count).collect()
    };
    assert_eq!(asked(&p), [2, 1, 1]);
    // At once, well within the 10 s of `fail_timeout`: nginx answers
    // alone, and no server hears of the request.
    let r = c1.send(Request::get("/messages?after=0&wait=1")).await;
    assert_eq!(r.status, 502, "no server left for nginx");
    assert_eq!(asked(&p), [2, 1, 1]);
    // The servers answered nothing to `wait=3`: every byte they sent
    // was server 1's 204.
    let sent: Vec<usize> = p.backs.iter().map(sent_by_server).collect();
    assert_eq!(sent[1..], [0, 0]);
    assert!(nginx_log_says(&p, "no live upstreams"));
    c1.close().await;
    p.wait_closed().await;
    assert_transcript!("nginx_long_poll_race", p.transcript().text());
    assert_transcript!("nginx_long_poll_race_servers", p.servers_side());
}
// ANCHOR_END: long_poll

/// The bytes that the server behind `back` sent nginx.
fn sent_by_server(back: &Tap) -> usize {
    let events = back.events();
    let conns = events.iter().map(|e| e.conn).max().unwrap_or(0);
    (1..=conns)
        .map(|c| bytes_in(&events, c, Dir::ToClient))
        .sum()
}

/// True when nginx's error log has `what` in it.
fn nginx_log_says(p: &Proxy, what: &str) -> bool {
    p.nginx.error_log().contains(what)
}

/// The data bytes of a chunked body, if `bytes` (a response, head
/// first) end exactly where a chunk ends (RFC 9112 §7.1).
fn chunked_body_len(bytes: &[u8]) -> Option<usize> {
    let mut rest = &bytes[head_len(bytes)?..];
    let mut data = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let line = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&rest[..line]).ok()?;
        let size = usize::from_str_radix(size, 16).ok()?;
        let chunk = line + 2 + size + 2;
        if rest.len() < chunk {
            return None;
        }
        data += size;
        rest = &rest[chunk..];
    }
    Some(data)
}

/// The length of the response head at the start of `bytes`, its
/// blank line included, once it is whole.
fn head_len(bytes: &[u8]) -> Option<usize> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some(end + 4)
}

/// The transcript with each run of wrapped lines that hold only `x`
/// folded into one line that counts them: the messages' filler, which
/// says nothing but its length.
fn fold_xs(text: &str) -> String {
    let filler = |line: &str| {
        let rest = line.strip_prefix("C1 ← ").unwrap_or("");
        let rest = rest.strip_prefix("╰─ ").unwrap_or(rest);
        let xs = rest.strip_suffix('↩').unwrap_or("");
        !xs.is_empty() && xs.bytes().all(|b| b == b'x')
    };
    let mut out = String::new();
    let mut run = 0;
    for line in text.lines() {
        if filler(line) {
            run += 1;
            continue;
        }
        if run > 0 {
            out.push_str(&format!("C1 ← ⋮ {run} more lines of x\n"));
            run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
