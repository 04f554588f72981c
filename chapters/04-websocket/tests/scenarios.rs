//! Chapter 4's scenarios. Each test drives one story step by step
//! through the tap, writing every frame by hand with `wire`'s codec
//! (fixed key, fixed masking keys), so the transcripts never change.

use std::time::Duration;

use ch04_websocket::{accept_key, serve, Config};
use wire::websocket::{Frame, OpCode};
use wire::{assert_transcript, Client, Dir, Request, Scenario, Transcript};

/// The address of a reader's server, as the clients write it in `host`.
const HOST: &str = "127.0.0.1:3004";
/// The key of RFC 6455 §1.3: its accept value is in the RFC.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The masking key of the examples in RFC 6455 §5.7.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Pings far apart, so that only the heartbeat tests see one.
fn quiet() -> Config {
    Config {
        ping: Duration::from_secs(3600),
        ..Config::default()
    }
}

/// A run with a fixed name, so that reset frames, which name the
/// run, are the same every time.
fn run_b2() -> Config {
    Config {
        run: Some(chat::Run::named("b2")),
        ..quiet()
    }
}

async fn start(config: Config) -> Scenario {
    Scenario::start(HOST, |listener, shutdown| serve(listener, config, shutdown))
        .await
}

// ANCHOR: upgrade_request
/// The handshake a browser sends (RFC 6455 §4.1), minus its extras.
fn upgrade(target: &str) -> Request {
    Request::get(target)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-key", KEY)
        .header("sec-websocket-version", "13")
}
// ANCHOR_END: upgrade_request

/// Connects and upgrades; checks the 101 and its accept value.
async fn open(s: &Scenario, target: &str) -> Client {
    let mut c = s.connect().await;
    let r = c.send(upgrade(target)).await;
    assert_eq!(r.status, 101, "{}", r.text());
    assert_eq!(
        r.header("sec-websocket-accept"),
        Some(accept_key(KEY).as_str())
    );
    c
}

/// Posts each text as `ana` over HTTP, on one connection (`C1`).
async fn post_over_http(s: &Scenario, texts: &[&str]) {
    let mut c1 = s.connect().await;
    for text in texts {
        let r = c1
            .send(Request::post_json("/messages", &post("ana", text)))
            .await;
        assert_eq!(r.status, 201);
    }
    c1.close().await;
}

/// A client's text frame: masked, as every client frame must be.
fn text(json: &str) -> Vec<u8> {
    Frame::text(json).masked(MASK).encode()
}

/// A post as the page sends it: `user`, then `text`.
fn post(user: &str, text: &str) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap();
    format!(r#"{{"user":{},"text":{}}}"#, quote(user), quote(text))
}

/// The client's side of a close: its close frame, masked.
fn close_frame(code: u16) -> Vec<u8> {
    Frame::close(code, "").masked(MASK).encode()
}

/// The code of a close frame.
fn code_of(frame: &Frame) -> u16 {
    assert_eq!(frame.opcode, OpCode::CLOSE, "{frame:?}");
    u16::from_be_bytes([frame.payload[0], frame.payload[1]])
}

/// The server's payload as JSON.
fn json_of(frame: &Frame) -> serde_json::Value {
    assert_eq!(frame.opcode, OpCode::TEXT, "{frame:?}");
    serde_json::from_slice(&frame.payload).unwrap()
}

/// A close handshake started by the client (§7.1.2): its close frame,
/// the server's answer with the same code, then the server ends TCP.
async fn client_closes(mut c: Client) {
    c.write_raw(&close_frame(1000)).await;
    assert_eq!(code_of(&c.frame().await), 1000);
    c.expect_closed_by_server().await;
    c.close().await;
}

/// Every frame a server sends is unmasked; every frame the test's
/// clients send is masked (§5.1), as the transcript's notes say.
fn assert_masking(t: &Transcript) {
    let text = t.text();
    let notes = text.lines().filter(|line| line.contains(" MASK="));
    let mut seen = 0;
    for line in notes {
        let to_server = line.contains(" → ");
        assert_eq!(line.contains(" MASK=1 "), to_server, "{line}");
        seen += 1;
    }
    assert!(seen > 0, "no frames in the transcript");
}

// ANCHOR: handshake
#[tokio::test]
async fn handshake_then_close() {
    let s = start(quiet()).await;
    let mut c1 = s.connect().await;
    let offer = upgrade("/ws")
        .header("origin", "http://127.0.0.1:3004")
        .header("sec-websocket-protocol", "chat.v2, chat.v1");
    let r = c1.send(offer).await;
    assert_eq!(r.status, 101);
    // The server answers with the accept_key of the book, and that is
    // what the RFC prints for this key.
    let accept = r.header("sec-websocket-accept").unwrap();
    assert_eq!(accept, accept_key(KEY));
    assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(r.header("sec-websocket-protocol"), Some("chat.v1"));
    client_closes(c1).await;
    let t = s.transcript();
    assert_masking(&t);
    assert_transcript!("handshake", t.text());
}
// ANCHOR_END: handshake

/// Offered only protocols the server does not know: it selects none.
#[tokio::test]
async fn no_subprotocol_selected() {
    let s = start(quiet()).await;
    let mut c1 = s.connect().await;
    let offer = upgrade("/ws").header("sec-websocket-protocol", "chat.v2");
    let r = c1.send(offer).await;
    assert_eq!(r.status, 101);
    assert_eq!(r.header("sec-websocket-protocol"), None);
    client_closes(c1).await;
    assert_transcript!("no_subprotocol", s.transcript().text());
}

/// Every way to get the handshake wrong: each gets its status and a
/// JSON error, before any upgrade.
#[tokio::test]
async fn handshake_failures() {
    let s = start(quiet()).await;
    let mut c1 = s.connect().await;
    let cases = [
        // A plain GET: this address needs the upgrade.
        (Request::get("/ws"), 426),
        // A page from another site.
        (upgrade("/ws").header("origin", "http://evil.example"), 403),
        // A version this server does not speak, or none.
        (
            Request::get("/ws")
                .header("upgrade", "websocket")
                .header("connection", "Upgrade")
                .header("sec-websocket-key", KEY)
                .header("sec-websocket-version", "8"),
            426,
        ),
        // No key.
        (
            Request::get("/ws")
                .header("upgrade", "websocket")
                .header("connection", "Upgrade")
                .header("sec-websocket-version", "13"),
            400,
        ),
        // A cursor that is not a number.
        (upgrade("/ws?after=last"), 400),
    ];
    for (request, status) in cases {
        let r = c1.send(request).await;
        assert_eq!(r.status, status, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.json()["error"].is_string(), "{}", r.text());
        match status {
            426 if r.text().contains("version") => {
                assert_eq!(r.header("sec-websocket-version"), Some("13"));
            }
            426 => assert_eq!(r.header("upgrade"), Some("websocket")),
            _ => {}
        }
    }
    c1.close().await;
    assert_transcript!("handshake_failures", s.transcript().text());
}

// ANCHOR: chat
/// Ana and Ben each open a socket. Ana sends a masked text frame; the
/// server stores the message and sends it, unmasked, to both.
#[tokio::test]
async fn two_clients_chat() {
    let s = start(quiet()).await;
    let mut ana = open(&s, "/ws").await;
    let mut ben = open(&s, "/ws").await;
    // One message goes out on two connections: hold Ben's copy so
    // the recording is in the same order every run.
    s.tap.hold(ben.conn(), Dir::ToClient);
    ana.write_raw(&text(&post("ana", "hi ben"))).await;
    assert_eq!(json_of(&ana.frame().await)["id"], 1);
    s.tap.release(ben.conn(), Dir::ToClient);
    assert_eq!(json_of(&ben.frame().await)["text"], "hi ben");
    // Ben answers; Ana gets it the same way.
    s.tap.hold(ana.conn(), Dir::ToClient);
    ben.write_raw(&text(&post("ben", "hi ana"))).await;
    assert_eq!(json_of(&ben.frame().await)["id"], 2);
    s.tap.release(ana.conn(), Dir::ToClient);
    assert_eq!(json_of(&ana.frame().await)["text"], "hi ana");
    client_closes(ana).await;
    client_closes(ben).await;
    let t = s.transcript();
    assert_masking(&t);
    assert_transcript!("two_clients", t.text());
    assert_transcript!("two_clients_diagram", t.diagram());
}
// ANCHOR_END: chat

/// `?after=ID`: a socket that comes back gets what it missed first,
/// then the live messages, each once and in order.
#[tokio::test]
async fn replay_after_a_cursor() {
    let s = start(quiet()).await;
    let mut c1 = s.connect().await;
    for text in ["one", "two", "three"] {
        let r = c1
            .send(Request::post_json("/messages", &post("ana", text)))
            .await;
        assert_eq!(r.status, 201);
    }
    c1.close().await;
    // The page saw message 1 before its socket broke.
    let mut c2 = open(&s, "/ws?after=1").await;
    assert_eq!(json_of(&c2.frame().await)["id"], 2);
    assert_eq!(json_of(&c2.frame().await)["id"], 3);
    c2.write_raw(&text(&post("ben", "four"))).await;
    assert_eq!(json_of(&c2.frame().await)["id"], 4);
    client_closes(c2).await;
    assert_transcript!("replay", s.transcript().text());
}

/// What is wrong with a post comes back as an error text frame, and
/// the socket stays open.
#[tokio::test]
async fn invalid_posts_get_error_frames() {
    let s = start(quiet()).await;
    let mut c1 = open(&s, "/ws").await;
    let binary = Frame::new(OpCode::BINARY, vec![1, 2, 3]).masked(MASK);
    let bad = [
        text(r#"{"user":"ana","#),
        text(r#"{"user":"ana"}"#),
        text(&post("ana", "   ")),
        binary.encode(),
    ];
    for frame in bad {
        c1.write_raw(&frame).await;
        let error = json_of(&c1.frame().await);
        assert!(error["error"].is_string(), "{error}");
    }
    // Still open, and nothing was stored: the next message is id 1.
    c1.write_raw(&text(&post("ana", "still here"))).await;
    assert_eq!(json_of(&c1.frame().await)["id"], 1);
    client_closes(c1).await;
    assert_transcript!("error_frames", s.transcript().text());
}

// ANCHOR: lengths
/// Client frames of 125, 126, 65535 and 65536 bytes: the 7-, 16- and
/// 64-bit length forms. Each is a valid post (JSON ends with spaces),
/// so each comes back as a short server frame.
#[tokio::test]
async fn length_forms() {
    let config = Config {
        max_message: 1 << 20,
        ..quiet()
    };
    let s = start(config).await;
    let mut c1 = open(&s, "/ws").await;
    for len in [125, 126, 65535, 65536] {
        let json = post("ana", &len.to_string());
        let padded = json.clone() + &" ".repeat(len - json.len());
        let frame = Frame::text(&padded).masked(MASK);
        let header = match len {
            125 => 2 + 4,
            126 | 65535 => 4 + 4,
            _ => 10 + 4,
        };
        assert_eq!(frame.header_len(), header);
        c1.write_raw(&frame.encode()).await;
        let echo = c1.frame().await;
        assert_eq!(json_of(&echo)["text"], len.to_string());
    }
    client_closes(c1).await;
    let t = s.transcript();
    assert_masking(&t);
    assert_transcript!("length_forms", t.text());
}
// ANCHOR_END: lengths

// ANCHOR: fragments
/// One message in three fragments, and a ping between the second and
/// the third: a control frame may come between fragments (§5.4), and
/// the pong comes back before the message is complete.
#[tokio::test]
async fn fragments_with_a_ping_between() {
    let s = start(quiet()).await;
    let mut c1 = open(&s, "/ws").await;
    let parts = [r#"{"user":"ana","#, r#""text":"in three"#, r#" parts"}"#];
    let first = Frame::text(parts[0]).with_fin(false).masked(MASK);
    let second = Frame::new(OpCode::CONTINUATION, parts[1]).with_fin(false);
    let third = Frame::new(OpCode::CONTINUATION, parts[2]);
    c1.write_raw(&first.encode()).await;
    c1.write_raw(&second.masked(MASK).encode()).await;
    let ping = Frame::new(OpCode::PING, "still there?").masked(MASK);
    c1.write_raw(&ping.encode()).await;
    let pong = c1.frame().await;
    assert_eq!(pong.opcode, OpCode::PONG);
    assert_eq!(pong.payload, b"still there?");
    c1.write_raw(&third.masked(MASK).encode()).await;
    let message = json_of(&c1.frame().await);
    assert_eq!(message["text"], "in three parts");
    client_closes(c1).await;
    assert_transcript!("fragments", s.transcript().text());
}
// ANCHOR_END: fragments

// ANCHOR: heartbeat
/// The server pings after `--ping`; the client answers with a pong.
/// A pong nobody asked for is ignored: the socket goes on.
#[tokio::test]
async fn heartbeat_ping_and_pong() {
    let config = Config {
        ping: Duration::from_secs(2),
        ..Config::default()
    };
    let s = start(config).await;
    let mut c1 = open(&s, "/ws").await;
    let ping = c1.frame().await;
    assert_eq!(ping.opcode, OpCode::PING);
    let pong = Frame::new(OpCode::PONG, ping.payload).masked(MASK);
    c1.write_raw(&pong.encode()).await;
    let unsolicited = Frame::new(OpCode::PONG, "unasked").masked(MASK);
    c1.write_raw(&unsolicited.encode()).await;
    c1.write_raw(&text(&post("ana", "after the pongs"))).await;
    assert_eq!(json_of(&c1.frame().await)["id"], 1);
    client_closes(c1).await;
    assert_transcript!("heartbeat", s.transcript().text());
}
// ANCHOR_END: heartbeat

/// A peer that does not answer a ping is dropped at the next one.
#[tokio::test]
async fn no_pong_no_connection() {
    let config = Config {
        ping: Duration::from_millis(300),
        ..Config::default()
    };
    let s = start(config).await;
    let mut c1 = open(&s, "/ws").await;
    assert_eq!(c1.frame().await.opcode, OpCode::PING);
    // No pong. One period later the server ends the connection.
    c1.expect_closed_by_server().await;
    c1.close().await;
    assert_transcript!("no_pong", s.transcript().text());
}

// ANCHOR: shutdown
/// Ctrl-C on the server: every socket gets close 1001, "going away".
#[tokio::test]
async fn shutdown_sends_1001() {
    let s = start(quiet()).await;
    let mut c1 = open(&s, "/ws").await;
    let ports = [s.tap.addr().port(), s.server.addr().port()];
    let stopped = tokio::spawn(s.server.stop(Duration::from_secs(10)));
    let close = c1.frame().await;
    assert_eq!(code_of(&close), 1001);
    // The client answers the close with its own (§5.5.1); then the
    // server ends the TCP connection.
    c1.write_raw(&close_frame(1001)).await;
    c1.expect_closed_by_server().await;
    c1.close().await;
    assert!(stopped.await.unwrap(), "the server did not stop");
    let t = Transcript::new(&s.tap.events(), &ports);
    assert_transcript!("shutdown", t.text());
}
// ANCHOR_END: shutdown

// ANCHOR: protocol_errors
/// Frames that break RFC 6455, each on its own connection, and the
/// close code the server answers with (§7.4.1).
#[tokio::test]
async fn protocol_errors_and_their_close_codes() {
    let config = Config {
        max_message: 1024,
        ..quiet()
    };
    let s = start(config).await;
    let hi = post("ana", "hi");
    let mut rsv = Frame::text(&hi).masked(MASK);
    rsv.rsv[0] = true;
    // Two fragments of 600 bytes: each frame is small enough, the
    // message is not.
    let first = Frame::text(&"x".repeat(600)).with_fin(false);
    let mut too_long = first.masked(MASK).encode();
    let rest = Frame::new(OpCode::CONTINUATION, "y".repeat(600)).masked(MASK);
    too_long.extend(rest.encode());
    let cases: [(&str, Vec<u8>, u16); 7] = [
        ("a client frame not masked", Frame::text(&hi).encode(), 1002),
        ("RSV1 set, no extension agreed", rsv.encode(), 1002),
        (
            "opcode 0x3 (reserved)",
            Frame::new(OpCode(0x3), "?").masked(MASK).encode(),
            1002,
        ),
        (
            "a fragmented ping",
            Frame::new(OpCode::PING, "a")
                .with_fin(false)
                .masked(MASK)
                .encode(),
            1002,
        ),
        (
            "a ping of 126 bytes",
            Frame::new(OpCode::PING, vec![b'p'; 126])
                .masked(MASK)
                .encode(),
            1002,
        ),
        (
            "text that is not UTF-8",
            Frame::new(OpCode::TEXT, vec![0xff, 0xfe])
                .masked(MASK)
                .encode(),
            1007,
        ),
        ("a message of 1200 bytes, limit 1024", too_long, 1009),
    ];
    for (what, bytes, code) in cases {
        let mut c = open(&s, "/ws").await;
        c.write_raw(&bytes).await;
        assert_eq!(code_of(&c.frame().await), code, "{what}");
        // After a protocol error the server closes TCP at once.
        c.expect_closed_by_server().await;
        c.close().await;
    }
    assert_transcript!("protocol_errors", s.transcript().text());
}
// ANCHOR_END: protocol_errors

// ANCHOR: reset_restart
/// A page was open before a restart: its cursor is message 5 of run
/// `a1`. The new run, `b2`, has 2 messages. The socket gets a reset
/// frame at once, then messages 1 and 2 of `b2`, then a live one.
#[tokio::test]
async fn a_cursor_from_another_run_gets_a_reset() {
    let s = start(run_b2()).await;
    post_over_http(&s, &["one", "two"]).await;
    let mut c2 = open(&s, "/ws?after=5&run=a1").await;
    let reset = json_of(&c2.frame().await);
    assert_eq!(reset["run"], "b2");
    assert_eq!(reset["after"], 0);
    let why = reset["reset"].as_str().unwrap();
    assert!(why.contains("run a1 is over"), "{why}");
    assert_eq!(json_of(&c2.frame().await)["id"], 1);
    assert_eq!(json_of(&c2.frame().await)["id"], 2);
    // Live, on the same socket.
    c2.write_raw(&text(&post("ben", "three"))).await;
    assert_eq!(json_of(&c2.frame().await)["id"], 3);
    client_closes(c2).await;
    assert_transcript!("reset_other_run", s.transcript().text());
}
// ANCHOR_END: reset_restart

// ANCHOR: reset_future
/// `?after=9` without a run, and the newest message is 2: this run
/// never sent a message 9. The reset comes at once, not after ids 3
/// to 9 have been used; then messages 1 and 2.
#[tokio::test]
async fn a_cursor_from_the_future_gets_a_reset() {
    let s = start(run_b2()).await;
    post_over_http(&s, &["one", "two"]).await;
    let mut c2 = open(&s, "/ws?after=9").await;
    let reset = json_of(&c2.frame().await);
    assert_eq!(reset["after"], 0);
    let why = reset["reset"].as_str().unwrap();
    assert!(why.contains("no message 9"), "{why}");
    assert_eq!(json_of(&c2.frame().await)["id"], 1);
    assert_eq!(json_of(&c2.frame().await)["id"], 2);
    client_closes(c2).await;
    assert_transcript!("reset_future", s.transcript().text());
}
// ANCHOR_END: reset_future

// ANCHOR: limit
/// `--max-connections 1`: a second handshake gets 503 and
/// `Retry-After`, before any upgrade. Once the first socket has
/// closed, a new one is accepted.
#[tokio::test]
async fn past_the_limit_a_handshake_gets_503() {
    let config = Config {
        max_connections: 1,
        ..quiet()
    };
    let s = start(config).await;
    let c1 = open(&s, "/ws").await;
    let mut c2 = s.connect().await;
    let r = c2.send(upgrade("/ws")).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("5"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.json()["error"].is_string(), "{}", r.text());
    c2.close().await;
    // The first socket closes, and frees its place before its TCP
    // connection ends: the next handshake is accepted.
    client_closes(c1).await;
    let c3 = open(&s, "/ws").await;
    client_closes(c3).await;
    assert_transcript!("limit", s.transcript().text());
}
// ANCHOR_END: limit
