//! Chapter 5's scenarios. Each test drives one story step by step
//! through the tap; its transcript is the one the book shows.
//!
//! HTTP/2 here is h2c, HTTP/2 by prior knowledge on plain TCP (RFC 9113
//! §3.3), so the tap can read every frame. The test writes the
//! client's frames itself, byte for byte, and waits for the server's
//! frames before its next step: the transcript has one order.

use std::time::Duration;

use ch05_http2::{serve, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use warp::http::HeaderValue;
use wire::http2::{self, setting, Frame, HeaderEncoder, Kind, PREFACE};
use wire::websocket as ws;
use wire::{assert_transcript, sse, Client, Dir, Request, Scenario};

/// The address of a reader's server, as curl would write it.
const HOST: &str = "127.0.0.1:3005";

/// Bounds a failure, not a speed: a passing test goes on at once.
const PATIENCE: Duration = Duration::from_secs(10);

/// No heartbeat during a test (it would come at a random moment), and
/// a fixed `date`: HPACK would compress the clock's date to a size
/// that changes with the time of day.
fn config() -> Config {
    let mut config = Config::default();
    config.sse.heartbeat = Duration::from_secs(3600);
    // No WebSocket ping either: it too would come at its own moment.
    config.websocket.ping = Duration::from_secs(3600);
    // A fixed run: event ids are `b2.1`, `b2.2`, … every run.
    config.sse.run = Some(chat::Run::named("b2"));
    let date = HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT");
    config.fixed_date = Some(date);
    config
}

async fn start() -> Scenario {
    Scenario::start(HOST, |listener, shutdown| {
        serve(listener, None, config(), shutdown)
    })
    .await
}

/// The JSON the page posts.
fn message(user: &str, text: &str) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap();
    format!(r#"{{"user":{},"text":{}}}"#, quote(user), quote(text))
}

// ANCHOR: client
/// One HTTP/2 connection through the tap, written frame by frame.
struct H2 {
    conn: usize,
    write: OwnedWriteHalf,
    /// Bytes written so far, to wait until the tap has them all.
    sent: usize,
    /// HPACK state of the client's side: it lives as long as the
    /// connection, and the server's decoder follows it.
    headers: HeaderEncoder,
}

impl H2 {
    /// Connects, then sends the preface and the client's SETTINGS.
    async fn connect(s: &Scenario) -> H2 {
        let stream = TcpStream::connect(s.tap.addr()).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let conn = s.tap.conn_of(stream.local_addr().unwrap()).await;
        let (mut read, write) = stream.into_split();
        // The tap records what the server sends; the test reads it
        // there. This task only keeps the socket drained.
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            while read.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        });
        let mut h2 = H2 {
            conn,
            write,
            sent: 0,
            headers: HeaderEncoder::new(),
        };
        // Browsers say they take no server push: SETTINGS_ENABLE_PUSH
        // = 0 (RFC 9113 §6.5.2). A server must then never send a
        // PUSH_PROMISE.
        let settings = Frame::settings(&[(setting::ENABLE_PUSH, 0)]);
        let mut bytes = PREFACE.to_vec();
        bytes.extend(settings.encode());
        h2.write_raw(s, &bytes).await;
        // The server's SETTINGS, and its ACK of ours.
        h2.wait(s, "the server's SETTINGS and ACK", |frames| {
            let settings = |ack: bool| {
                frames.iter().any(|f| {
                    f.kind == Kind::SETTINGS
                        && (f.flags & http2::flags::ACK != 0) == ack
                })
            };
            settings(false) && settings(true)
        })
        .await;
        // Every SETTINGS must be acknowledged (§6.5.3).
        h2.send(s, &[Frame::settings_ack()]).await;
        h2
    }

    /// Writes frames, and returns once the tap has recorded them.
    async fn send(&mut self, s: &Scenario, frames: &[Frame]) {
        let bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        self.write_raw(s, &bytes).await;
    }

    async fn write_raw(&mut self, s: &Scenario, bytes: &[u8]) {
        self.write.write_all(bytes).await.unwrap();
        self.sent += bytes.len();
        let (conn, sent) = (self.conn, self.sent);
        let what = format!("C{conn} to send {sent} bytes");
        s.tap
            .wait_until(&what, PATIENCE, |events| {
                wire::tap::bytes_in(events, conn, Dir::ToServer) >= sent
            })
            .await;
    }

    /// A request's HEADERS frame: the pseudo-header fields (§8.3.1),
    /// then ordinary ones, all in lower case.
    fn request(
        &mut self,
        stream: u32,
        method: &str,
        path: &str,
        more: &[(&str, &str)],
        end_stream: bool,
    ) -> Frame {
        let mut fields = vec![
            (":method", method),
            (":scheme", "http"),
            (":authority", HOST),
            (":path", path),
        ];
        fields.extend_from_slice(more);
        let block = self.headers.encode(&fields);
        Frame::headers(stream, block, end_stream)
    }

    /// What `new EventSource(path)` sends, on a stream of its own.
    fn open_events(&mut self, stream: u32, path: &str) -> Frame {
        let accept = [("accept", "text/event-stream")];
        self.request(stream, "GET", path, &accept, true)
    }

    /// A POST of `json`: HEADERS, then the body in one DATA frame that
    /// ends the stream.
    fn post(&mut self, stream: u32, path: &str, json: &str) -> [Frame; 2] {
        let length = json.len().to_string();
        let more = [
            ("content-type", "application/json"),
            ("content-length", length.as_str()),
        ];
        let headers = self.request(stream, "POST", path, &more, false);
        [headers, Frame::data(stream, json.as_bytes(), true)]
    }

    /// Waits until the frames the server sent so far satisfy `done`.
    async fn wait(&self, s: &Scenario, what: &str, done: impl Fn(&[Frame]) -> bool) {
        let conn = self.conn;
        s.tap
            .wait_until(what, PATIENCE, |events| {
                done(&http2::frames_in(events, conn, Dir::ToClient))
            })
            .await;
    }

    /// Waits until `stream` has sent `n` events (its DATA frames read
    /// as an event stream).
    async fn wait_events(&self, s: &Scenario, stream: u32, n: usize) {
        let what = format!("{n} events on stream {stream}");
        self.wait(s, &what, |frames| events_on(frames, stream).len() >= n)
            .await;
    }

    /// Waits for the stream's `retry:` line: the stream is open.
    async fn wait_open(&self, s: &Scenario, stream: u32) {
        let what = format!("stream {stream} open");
        self.wait(s, &what, |frames| {
            data_on(frames, stream).starts_with(b"retry: ")
        })
        .await;
    }

    /// Waits for the whole response on `stream` (END_STREAM).
    async fn wait_end(&self, s: &Scenario, stream: u32) {
        let what = format!("the end of stream {stream}");
        self.wait(s, &what, |frames| {
            frames.iter().any(|f| {
                f.stream == stream && f.flags & http2::flags::END_STREAM != 0
            })
        })
        .await;
    }
}
// ANCHOR_END: client

/// The DATA payload the server sent on `stream`.
fn data_on(frames: &[Frame], stream: u32) -> Vec<u8> {
    let data = frames
        .iter()
        .filter(|f| f.kind == Kind::DATA && f.stream == stream);
    data.flat_map(|f| f.payload.clone()).collect()
}

fn events_on(frames: &[Frame], stream: u32) -> Vec<sse::Event> {
    sse::parse(&data_on(frames, stream))
}

/// `poster` (HTTP/1.1, its own connection) posts to `room`; the event
/// goes out on the HTTP/2 connection `h2`. The tap holds that one until
/// the 201 is recorded, so the transcript has one order every run.
async fn post_from_elsewhere(
    s: &Scenario,
    poster: &mut Client,
    h2: &H2,
    room: u32,
    stream: u32,
    text: &str,
) {
    let before = events_on(
        &http2::frames_in(&s.tap.events(), h2.conn, Dir::ToClient),
        stream,
    )
    .len();
    s.tap.hold(h2.conn, Dir::ToClient);
    let path = format!("/rooms/{room}/messages");
    let request = Request::post_json(&path, &message("ben", text));
    assert_eq!(poster.send(request).await.status, 201);
    s.tap.release(h2.conn, Dir::ToClient);
    h2.wait_events(s, stream, before + 1).await;
}

/// No PUSH_PROMISE from the server, ever: the client said no.
fn assert_no_push(s: &Scenario, conn: usize) {
    let frames = http2::frames_in(&s.tap.events(), conn, Dir::ToClient);
    assert!(frames.iter().all(|f| f.kind != Kind::PUSH_PROMISE));
}

// ANCHOR: preface
/// The preface, both SETTINGS frames and their ACKs, then one plain
/// request on stream 1: `GET /rooms/1/messages`, answered `[]`.
#[tokio::test]
async fn preface_and_settings() {
    let s = start().await;
    let mut c1 = H2::connect(&s).await;
    let get = c1.request(1, "GET", "/rooms/1/messages", &[], true);
    c1.send(&s, &[get]).await;
    c1.wait_end(&s, 1).await;
    let up = http2::frames_in(&s.tap.events(), 1, Dir::ToServer);
    // The client's SETTINGS: push off.
    assert_eq!(up[0].payload, [0, 2, 0, 0, 0, 0]);
    assert_no_push(&s, 1);
    assert_transcript!("preface", s.transcript().text());
}
// ANCHOR_END: preface

// ANCHOR: hpack
/// The same request three times on one connection. The first HEADERS
/// frame spells out `:authority` and `:path`; HPACK adds them to the
/// table, and the next two send 4 one-byte indexes instead.
#[tokio::test]
async fn hpack_shrinks_repeated_headers() {
    let s = start().await;
    let mut c1 = H2::connect(&s).await;
    for stream in [1, 3, 5] {
        let get = c1.request(stream, "GET", "/rooms/1/messages", &[], true);
        c1.send(&s, &[get]).await;
        c1.wait_end(&s, stream).await;
    }
    let events = s.tap.events();
    let sizes = |dir: Dir| -> Vec<usize> {
        let frames = http2::frames_in(&events, 1, dir);
        let headers = frames.iter().filter(|f| f.kind == Kind::HEADERS);
        headers.map(|f| f.payload.len()).collect()
    };
    // The requests: 37 bytes, then 4, then 4.
    assert_eq!(sizes(Dir::ToServer), [37, 4, 4]);
    // The responses shrink too: the server's encoder has a table of
    // its own, for the other direction.
    let down = sizes(Dir::ToClient);
    assert!(down[1] < down[0] / 2 && down[1] == down[2], "{down:?}");
    assert_transcript!("hpack", s.transcript().text());
}
// ANCHOR_END: hpack

// ANCHOR: three_streams
/// Three event streams on ONE connection: streams 1, 3 and 5, rooms 1
/// to 3. Ben posts from a second connection; each event is a DATA
/// frame on its own stream. Then C1 posts on stream 7 of the same
/// connection, while its three streams stay open.
#[tokio::test]
async fn three_streams_on_one_connection() {
    let s = start().await;
    let mut c1 = H2::connect(&s).await;
    for (stream, room) in [(1, 1), (3, 2), (5, 3)] {
        let open = c1.open_events(stream, &format!("/rooms/{room}/events"));
        c1.send(&s, &[open]).await;
        c1.wait_open(&s, stream).await;
    }
    let mut c2 = s.connect().await;
    for (room, stream) in [(1, 1), (2, 3), (3, 5)] {
        let text = format!("hello room {room}");
        post_from_elsewhere(&s, &mut c2, &c1, room, stream, &text).await;
    }
    // A POST on stream 7, between the open streams.
    let post = c1.post(7, "/rooms/2/messages", &message("ana", "me too"));
    c1.send(&s, &post).await;
    c1.wait_end(&s, 7).await;
    c1.wait_events(&s, 3, 2).await;
    post_from_elsewhere(&s, &mut c2, &c1, 1, 1, "bye").await;

    let t = s.transcript();
    // Two TCP connections: C1 carries all four streams.
    assert_eq!(t.counts().len(), 2);
    assert_no_push(&s, 1);
    let frames = http2::frames_in(&s.tap.events(), 1, Dir::ToClient);
    let ids: Vec<(u32, usize)> = [1, 3, 5]
        .map(|stream| (stream, events_on(&frames, stream).len()))
        .to_vec();
    assert_eq!(ids, [(1, 2), (3, 2), (5, 1)]);
    // ANCHOR: per_event
    // One event costs its DATA frame header: 9 bytes. Over HTTP/1.1
    // the same 75-byte event costs its chunk framing, `4B\r\n` and
    // `\r\n`: 6 bytes. HTTP/2 saves connections and heads, not bytes
    // per event.
    let event = events_on(&frames, 1)[0].clone();
    let json = r#"{"id":1,"user":"ben","text":"hello room 1"}"#;
    assert_eq!(event.data, json);
    let wire = format!("id: b2.1\nevent: message\ndata: {json}\n\n");
    let sent = |f: &&Frame| f.stream == 1 && f.payload == wire.as_bytes();
    assert!(
        frames.iter().any(|f| sent(&f)),
        "the server sent this frame"
    );
    let frame = Frame::data(1, wire.as_bytes(), false).encode();
    let chunk = format!("{:X}\r\n{wire}\r\n", wire.len());
    assert_eq!((wire.len(), frame.len(), chunk.len()), (75, 84, 81));
    // ANCHOR_END: per_event
    assert_transcript!("three_streams", t.text());
    assert_transcript!("three_streams_diagram", t.diagram());
}
// ANCHOR_END: three_streams

// ANCHOR: three_on_http1
/// The same story over HTTP/1.1: each stream holds a connection of its
/// own for as long as it is open, so three streams take C1 to C3, and
/// the POSTs need a fourth; C1 cannot send one while its stream is on.
#[tokio::test]
async fn three_streams_over_http1_take_three_connections() {
    let s = start().await;
    let mut streams = Vec::new();
    for room in 1..=3 {
        let mut c = s.connect().await;
        let open = Request::get(&format!("/rooms/{room}/events"))
            .header("accept", "text/event-stream");
        c.write(open).await;
        wait_http1_events(&s, c.conn(), 0).await;
        streams.push(c);
    }
    let mut c4 = s.connect().await;
    let posts = [
        (1, "hello room 1"),
        (2, "hello room 2"),
        (3, "hello room 3"),
    ];
    let posts = posts.into_iter().chain([(2, "me too"), (1, "bye")]);
    for (i, (room, text)) in posts.enumerate() {
        let conn = room;
        let before = sse::events_in(&s.tap.events(), conn).len();
        s.tap.hold(conn, Dir::ToClient);
        let user = if i == 3 { "ana" } else { "ben" };
        let path = format!("/rooms/{room}/messages");
        let request = Request::post_json(&path, &message(user, text));
        assert_eq!(c4.send(request).await.status, 201);
        s.tap.release(conn, Dir::ToClient);
        wait_http1_events(&s, conn, before + 1).await;
    }
    let t = s.transcript();
    assert_eq!(t.counts().len(), 4);
    assert_transcript!("three_streams_http1", t.text());
}
// ANCHOR_END: three_on_http1

/// Waits until `conn` has sent `n` events and its retry line, and
/// ends on a whole chunk.
async fn wait_http1_events(s: &Scenario, conn: usize, n: usize) {
    let what = format!("{n} events on C{conn}");
    s.tap
        .wait_until(&what, PATIENCE, |events| {
            let outputs = sse::outputs_in(events, conn);
            let retry = outputs.iter().any(|o| matches!(o, sse::Output::Retry(_)));
            let down = wire::tap::bytes_in(events, conn, Dir::ToClient);
            let mut tail = Vec::new();
            for e in events.iter().filter(|e| e.conn == conn) {
                if let wire::EventKind::Data {
                    dir: Dir::ToClient,
                    bytes,
                } = &e.kind
                {
                    tail.extend_from_slice(bytes);
                }
            }
            retry
                && down > 0
                && tail.ends_with(b"\n\r\n")
                && sse::events_in(events, conn).len() >= n
        })
        .await;
}

// ANCHOR: cancel
/// C1 cancels stream 3 with RST_STREAM; streams 1 and 5 go on. A PING
/// and its answer show the server has read the RST_STREAM: it handles
/// frames in order. A message to room 2 then goes nowhere.
#[tokio::test]
async fn a_cancelled_stream_leaves_the_others_open() {
    let s = start().await;
    let mut c1 = H2::connect(&s).await;
    for (stream, room) in [(1, 1), (3, 2), (5, 3)] {
        let open = c1.open_events(stream, &format!("/rooms/{room}/events"));
        c1.send(&s, &[open]).await;
        c1.wait_open(&s, stream).await;
    }
    // What `source.close()` on the page does over HTTP/2.
    let cancel = Frame::rst_stream(3, 0x8);
    let ping = Frame::ping(false, *b"in order");
    c1.send(&s, &[cancel, ping]).await;
    c1.wait(&s, "the PING's answer", |frames| {
        frames.iter().any(|f| f.kind == Kind::PING)
    })
    .await;
    let mut c2 = s.connect().await;
    post_from_elsewhere(&s, &mut c2, &c1, 1, 1, "still here?").await;
    let request =
        Request::post_json("/rooms/2/messages", &message("ben", "anyone?"));
    assert_eq!(c2.send(request).await.status, 201);
    post_from_elsewhere(&s, &mut c2, &c1, 3, 5, "yes").await;
    let frames = http2::frames_in(&s.tap.events(), 1, Dir::ToClient);
    assert_eq!(events_on(&frames, 1).len(), 1);
    assert_eq!(events_on(&frames, 3).len(), 0);
    assert_eq!(events_on(&frames, 5).len(), 1);
    assert_transcript!("cancel", s.transcript().text());
}
// ANCHOR_END: cancel

/// What the ledger shows, in the order the tap saw it: C1's frames,
/// both ways, and the request lines that C2 sent.
enum Seen {
    Frame(Dir, Frame),
    Request(String),
}

fn seen_in_order(events: &[wire::Event]) -> Vec<Seen> {
    let mut up: Vec<u8> = Vec::new();
    let mut down: Vec<u8> = Vec::new();
    let mut seen = Vec::new();
    for event in events {
        let wire::EventKind::Data { dir, bytes } = &event.kind else {
            continue;
        };
        if event.conn == 2 && *dir == Dir::ToServer {
            let text = String::from_utf8_lossy(bytes);
            for line in text.lines().filter(|l| l.starts_with("POST ")) {
                let line = line.trim_end_matches(" HTTP/1.1");
                seen.push(Seen::Request(line.to_string()));
            }
        }
        if event.conn != 1 {
            continue;
        }
        let buf = if *dir == Dir::ToServer {
            &mut up
        } else {
            &mut down
        };
        buf.extend_from_slice(bytes);
        if *dir == Dir::ToServer && buf.starts_with(PREFACE) {
            buf.drain(..PREFACE.len());
        }
        while let Some((frame, used)) = http2::parse(buf) {
            buf.drain(..used);
            seen.push(Seen::Frame(*dir, frame));
        }
    }
    seen
}

// ANCHOR: windows
/// What the server may still send on C1, by the rules of RFC 9113
/// §6.9: every DATA frame uses up its stream's window and the
/// connection's; the client's WINDOW_UPDATE gives bytes back to one of
/// them (stream 0: the connection). Both start at 65,535 bytes, since
/// the client's SETTINGS leaves INITIAL_WINDOW_SIZE as it is (§6.5.2).
#[derive(Clone)]
struct Windows {
    connection: i64,
    streams: std::collections::BTreeMap<u32, i64>,
}

impl Windows {
    const INITIAL: i64 = 65_535;

    fn apply(&mut self, dir: Dir, frame: &Frame) {
        let stream = frame.stream;
        match (dir, frame.kind) {
            (Dir::ToClient, Kind::DATA) => {
                let used = frame.payload.len() as i64;
                self.connection -= used;
                *self.streams.entry(stream).or_insert(Self::INITIAL) -= used;
            }
            (Dir::ToServer, Kind::WINDOW_UPDATE) if stream == 0 => {
                self.connection += increment(frame) as i64;
            }
            (Dir::ToServer, Kind::WINDOW_UPDATE) => {
                let window = self.streams.entry(stream).or_insert(Self::INITIAL);
                *window += increment(frame) as i64;
            }
            (Dir::ToServer, Kind::HEADERS) => {
                self.streams.entry(stream).or_insert(Self::INITIAL);
            }
            _ => {}
        }
    }
}
// ANCHOR_END: windows

fn increment(frame: &Frame) -> u32 {
    let p = &frame.payload;
    u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff
}

/// A frame as the ledger's left column shows it. `requests` names
/// the requests the test sent, by stream.
fn describe(dir: Dir, frame: &Frame, requests: &[(u32, &str)]) -> Vec<String> {
    let ack = frame.flags & http2::flags::ACK != 0;
    match frame.kind {
        Kind::SETTINGS if ack => vec!["SETTINGS ACK".into()],
        Kind::SETTINGS => {
            // One row per setting, so that the rows stay narrow.
            let values = frame.payload.chunks(6).map(|c| {
                let id = u16::from_be_bytes([c[0], c[1]]);
                let value = u32::from_be_bytes([c[2], c[3], c[4], c[5]]);
                format!("  {}={value}", setting::name(id))
            });
            std::iter::once("SETTINGS".to_string())
                .chain(values)
                .collect()
        }
        Kind::WINDOW_UPDATE => vec![format!("WINDOW_UPDATE +{}", increment(frame))],
        Kind::PING if ack => vec!["PING ACK".into()],
        Kind::HEADERS if dir == Dir::ToServer => {
            let (_, request) =
                requests.iter().find(|(s, _)| *s == frame.stream).unwrap();
            vec![format!("HEADERS {request}")]
        }
        Kind::HEADERS => vec!["HEADERS (the response head)".into()],
        kind => vec![kind.name().to_string()],
    }
}

/// C1's frames as rows, each with the windows after it; runs of DATA
/// frames on one stream, and of equal requests on C2, are one row.
fn window_ledger(events: &[wire::Event], requests: &[(u32, &str)]) -> String {
    let mut windows = Windows {
        connection: Windows::INITIAL,
        streams: Default::default(),
    };
    let mut rows: Vec<(String, Option<Windows>)> = Vec::new();
    let seen = seen_in_order(events);
    let mut i = 0;
    while i < seen.len() {
        match &seen[i] {
            Seen::Request(line) => {
                let n = seen[i..]
                    .iter()
                    .take_while(|s| matches!(s, Seen::Request(l) if l == line))
                    .count();
                i += n;
                rows.push((format!("C2 → {line} ×{n}"), None));
            }
            Seen::Frame(dir, frame) => {
                let arrow = if *dir == Dir::ToServer { "→" } else { "←" };
                let head = format!("C1 {arrow} {:>2} ", frame.stream);
                let mut bytes = 0;
                let mut count = 0;
                while let Some(Seen::Frame(d, f)) = seen.get(i) {
                    let run = f.kind == Kind::DATA
                        && frame.kind == Kind::DATA
                        && d == dir
                        && f.stream == frame.stream;
                    if count > 0 && !run {
                        break;
                    }
                    windows.apply(*d, f);
                    bytes += f.payload.len();
                    count += 1;
                    i += 1;
                }
                let lines = match frame.kind {
                    Kind::DATA => vec![format!("DATA ×{count}, {bytes} bytes")],
                    _ => describe(*dir, frame, requests),
                };
                for (n, line) in lines.iter().enumerate() {
                    let last = n + 1 == lines.len();
                    let prefix = if n == 0 { head.clone() } else { " ".repeat(8) };
                    rows.push((prefix + line, last.then(|| windows.clone())));
                }
            }
        }
    }
    let streams: Vec<u32> = windows.streams.keys().copied().collect();
    let mut out = format!("{:<44}│ the server may still send\n", "");
    let mut names = format!("{:>10}", "connection");
    for stream in &streams {
        names += &format!(" {:>8}", format!("stream {stream}"));
    }
    out += &format!("{:<44}│ {names}\n", "");
    for (left, after) in rows {
        let mut right = String::new();
        if let Some(w) = after {
            right = format!("{:>10}", w.connection);
            for stream in &streams {
                let window = w.streams.get(stream);
                let cell = window.map_or("".into(), |n| n.to_string());
                right += &format!(" {cell:>8}");
            }
        }
        out += format!("{left:<44}│ {right}").trim_end();
        out += "\n";
    }
    out
}

// ANCHOR: flow_control
/// One stream that is never read stalls the whole connection when its
/// window is as large as the connection's (65,535 bytes each, the
/// defaults). C1 reads stream 3 (room 2) and gives its bytes back on
/// stream 3 and stream 0; it never reads stream 1 (room 1). Ben posts
/// to room 1 until stream 1 has used its whole window. That used up
/// the connection's window too, so Ben's post to room 2 cannot go out
/// on stream 3, although stream 3's own window is open. A WINDOW_UPDATE
/// on stream 0 lets it go; stream 1 stays stalled.
#[tokio::test]
async fn a_stalled_stream_stalls_the_connection_through_its_window() {
    let s = start().await;
    let mut c1 = H2::connect(&s).await;
    let requests = [(1, "GET /rooms/1/events"), (3, "GET /rooms/2/events")];
    for (stream, request) in requests {
        let path = request.trim_start_matches("GET ");
        let open = c1.open_events(stream, path);
        c1.send(&s, &[open]).await;
        c1.wait_open(&s, stream).await;
    }
    let down = |s: &Scenario| http2::frames_in(&s.tap.events(), 1, Dir::ToClient);
    // C1 reads stream 3: it gives back what stream 3 used, to the
    // stream and to the connection.
    let give_back = |used: usize| {
        let n = used as u32;
        [Frame::window_update(3, n), Frame::window_update(0, n)]
    };
    let read3 = data_on(&down(&s), 3).len();
    c1.send(&s, &give_back(read3)).await;

    // Ben's 70 events of about 1 KB are more than stream 1's window.
    // The tap holds C1's bytes until the posts are recorded.
    let mut c2 = s.connect().await;
    let text = "x".repeat(1000);
    s.tap.hold(1, Dir::ToClient);
    for _ in 0..70 {
        let post = Request::post_json("/rooms/1/messages", &message("ben", &text));
        assert_eq!(c2.send(post).await.status, 201);
    }
    s.tap.release(1, Dir::ToClient);
    c1.wait(&s, "stream 1 to use its whole window", |frames| {
        data_on(frames, 1).len() == 65_535
    })
    .await;

    let post = Request::post_json("/rooms/2/messages", &message("ben", "room 2"));
    assert_eq!(c2.send(post).await.status, 201);
    // A PING is answered at once. By its ACK, the event would have
    // gone out on stream 3 if the windows let it.
    c1.send(&s, &[Frame::ping(false, *b"stalled?")]).await;
    c1.wait(&s, "the PING ACK", |frames| {
        frames.iter().any(|f| f.kind == Kind::PING)
    })
    .await;
    assert!(events_on(&down(&s), 3).is_empty(), "stream 3 is stalled");

    // The connection's window opens: stream 3's event goes out, and
    // stream 1 still has no window of its own.
    c1.send(&s, &[Frame::window_update(0, 65_535)]).await;
    c1.wait_events(&s, 3, 1).await;
    let now = data_on(&down(&s), 3).len();
    c1.send(&s, &give_back(now - read3)).await;
    assert_eq!(data_on(&down(&s), 1).len(), 65_535, "stream 1 is stalled");
    let ledger = window_ledger(&s.tap.events(), &requests);
    assert_transcript!("flow_control", ledger);
}
// ANCHOR_END: flow_control

// ANCHOR: websocket_h2
/// WebSocket over HTTP/2 (RFC 8441), on the connection of an event
/// stream. The server's SETTINGS say it takes the extended CONNECT
/// (ENABLE_CONNECT_PROTOCOL = 1); C1 opens room 1's event stream on
/// stream 1, then the chat's socket on stream 3: CONNECT with
/// `:protocol: websocket`, answered 200. Ben posts from C2; the
/// message comes down stream 3 as a WebSocket text frame inside a
/// DATA frame. Ana sends a masked frame up; it comes back. She closes
/// the socket: stream 3 ends, and stream 1 goes on.
#[tokio::test]
async fn websocket_is_a_stream_of_the_connection() {
    let s = start().await;
    let mut c1 = H2::connect(&s).await;
    let open = c1.open_events(1, "/rooms/1/events");
    c1.send(&s, &[open]).await;
    c1.wait_open(&s, 1).await;
    // RFC 8441 §4: `:protocol` names the protocol the stream will
    // carry. `:scheme` and `:path` are sent, as for a request; there is
    // no `upgrade`, no `connection` (RFC 9113 §8.2.2 forbids them) and
    // no key. `origin` and the version remain (RFC 8441 §5).
    let fields = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":authority", HOST),
        (":path", "/ws?after=0"),
        ("origin", "http://127.0.0.1:3005"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "chat.v1"),
    ];
    let block = c1.headers.encode(&fields);
    // No END_STREAM: the stream stays open both ways.
    c1.send(&s, &[Frame::headers(3, block, false)]).await;
    c1.wait(&s, "the 200 on stream 3", |frames| {
        frames
            .iter()
            .any(|f| f.stream == 3 && f.kind == Kind::HEADERS)
    })
    .await;
    // From C2, over HTTP/1.1: one WebSocket frame on stream 3.
    let mut c2 = s.connect().await;
    s.tap.hold(c1.conn, Dir::ToClient);
    let request = Request::post_json("/messages", &message("ben", "over h1"));
    assert_eq!(c2.send(request).await.status, 201);
    s.tap.release(c1.conn, Dir::ToClient);
    c1.wait(&s, "a text frame on stream 3", |f| {
        socket_frames(f).len() == 1
    })
    .await;
    // Up stream 3: a masked text frame (RFC 6455 §5.3), in one DATA.
    let json = message("ana", "over h2");
    let key = [0x3b, 0x5e, 0xa1, 0x07];
    let up = ws::Frame::text(&json).masked(key).encode();
    c1.send(&s, &[Frame::data(3, &up, false)]).await;
    c1.wait(&s, "ana's message back", |f| socket_frames(f).len() == 2)
        .await;
    // Ana closes the socket: close 1000, answered, then END_STREAM.
    let close = ws::Frame::close(1000, "").masked(key).encode();
    c1.send(&s, &[Frame::data(3, &close, false)]).await;
    c1.wait_end(&s, 3).await;
    // C1 never ended its half of stream 3. The server's answer is
    // whole, so it asks C1 to stop sending, with no error (RFC 9113
    // §8.1): RST_STREAM with NO_ERROR.
    c1.wait(&s, "RST_STREAM on stream 3", |frames| {
        frames
            .iter()
            .any(|f| f.stream == 3 && f.kind == Kind::RST_STREAM)
    })
    .await;
    // Stream 1 is still open: room 1's next message comes down it.
    post_from_elsewhere(&s, &mut c2, &c1, 1, 1, "still here").await;

    let frames = http2::frames_in(&s.tap.events(), c1.conn, Dir::ToClient);
    let settings = &frames[0];
    assert_eq!(settings.kind, Kind::SETTINGS);
    let enable = [0x00, 0x08, 0x00, 0x00, 0x00, 0x01];
    assert!(settings.payload.chunks(6).any(|p| p == enable));
    let down: Vec<ws::Frame> = socket_frames(&frames);
    let texts: Vec<String> = down
        .iter()
        .map(|f| String::from_utf8_lossy(&f.payload).into_owned())
        .collect();
    assert!(texts[0].contains("over h1") && texts[1].contains("over h2"));
    // The server's frames are not masked (RFC 6455 §5.1).
    assert!(down.iter().all(|f| f.mask.is_none()));
    assert_eq!(down[2].opcode, ws::OpCode::CLOSE);
    assert_eq!(events_on(&frames, 1).len(), 1);
    assert_eq!(s.transcript().counts().len(), 2);
    assert_transcript!("websocket_h2", s.transcript().text());
}
// ANCHOR_END: websocket_h2

/// The WebSocket frames that the DATA of stream 3 holds.
fn socket_frames(frames: &[Frame]) -> Vec<ws::Frame> {
    let mut bytes = data_on(frames, 3);
    let mut out = Vec::new();
    while let Ok(Some(decoded)) = ws::decode(&bytes, 1 << 20) {
        bytes.drain(..decoded.wire_len());
        out.push(decoded.frame);
    }
    out
}
