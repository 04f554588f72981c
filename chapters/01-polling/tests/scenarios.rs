//! Chapter 1's scenarios. Each test drives one story step by step
//! through the tap; its transcript is the one the book shows.

use ch01_polling::{serve, Config};
use wire::{assert_transcript, Request, Scenario};

/// The address of a reader's server. Clients write it in `host`, as
/// curl would, so the bytes match the book's commands.
const HOST: &str = "127.0.0.1:3001";

async fn start() -> Scenario {
    Scenario::start(HOST, |listener, shutdown| {
        serve(listener, Config::default(), shutdown)
    })
    .await
}

/// `POST /messages` with the JSON the page sends: `user`, then `text`.
fn post(user: &str, text: &str) -> Request {
    Request::post_message(user, text)
}

fn poll(after: u64) -> Request {
    Request::get(&format!("/messages?after={after}"))
}

// ANCHOR: empty_poll
#[tokio::test]
async fn empty_poll() {
    let s = start().await;
    let mut c1 = s.connect().await;
    let r = c1.send(poll(0)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "[]");
    c1.close().await;
    assert_transcript!("empty_poll", s.transcript().text());
}
// ANCHOR_END: empty_poll

#[tokio::test]
async fn post_then_poll() {
    let s = start().await;
    let mut c1 = s.connect().await;
    let r = c1.send(post("ana", "hello")).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.text(), r#"{"id":1,"user":"ana","text":"hello"}"#);
    // The cursor 0 asks for everything; the answer moves it to 1.
    let r = c1.send(poll(0)).await;
    assert_eq!(r.json()[0]["id"], 1);
    // Asked again with the new cursor, the server has nothing more.
    let r = c1.send(poll(1)).await;
    assert_eq!(r.text(), "[]");
    c1.close().await;
    assert_transcript!("post_then_poll", s.transcript().text());
}

/// Two browsers poll; one of them posts. Most polls come back empty:
/// the footer shows what the empty ones cost.
#[tokio::test]
async fn two_clients_poll_while_one_posts() {
    let s = start().await;
    let mut ana = s.connect().await;
    let mut ben = s.connect().await;
    // Both poll: nothing yet.
    assert_eq!(ana.send(poll(0)).await.text(), "[]");
    assert_eq!(ben.send(poll(0)).await.text(), "[]");
    // Ben posts. Ana learns of it only at her next poll.
    assert_eq!(ben.send(post("ben", "hi ana")).await.status, 201);
    assert_eq!(ana.send(poll(0)).await.json()[0]["text"], "hi ana");
    assert_eq!(ben.send(poll(0)).await.json()[0]["user"], "ben");
    // Both poll again: nothing new, and both pay for asking.
    assert_eq!(ana.send(poll(1)).await.text(), "[]");
    assert_eq!(ben.send(poll(1)).await.text(), "[]");
    ana.close().await;
    ben.close().await;
    let t = s.transcript();
    // 6 polls, 1 post; 4 of the 6 polls found nothing.
    assert_eq!(t.total(wire::Dir::ToServer).messages, 7);
    assert_transcript!("two_clients", t.text());
    assert_transcript!("two_clients_diagram", t.diagram());
}

/// Every way a request can be wrong, on one connection: each gets its
/// status and a JSON error, and nothing is stored.
#[tokio::test]
async fn every_error_case() {
    let s = start().await;
    let mut c1 = s.connect().await;
    let cases = [
        // A content type that is not JSON: 415.
        (
            Request::new("POST", "/messages")
                .header("content-type", "text/plain")
                .body("hello"),
            415,
        ),
        // Broken JSON: 400.
        (Request::post_json("/messages", r#"{"user":"ana","#), 400),
        // A field missing: 400.
        (Request::post_json("/messages", r#"{"user":"ana"}"#), 400),
        // A field of the wrong type: 400.
        (
            Request::post_json("/messages", r#"{"user":"ana","text":5}"#),
            400,
        ),
        // Valid JSON that breaks a rule: 422.
        (post("ana", "   "), 422),
        (post(&"a".repeat(33), "hi"), 422),
        // A cursor that is not a number: 400.
        (Request::get("/messages?after=last"), 400),
        // A path the chat does not have, a method it does not take.
        (Request::get("/nothing-here"), 404),
        (Request::new("DELETE", "/messages"), 405),
    ];
    for (request, status) in cases {
        let r = c1.send(request).await;
        assert_eq!(r.status, status, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.json()["error"].is_string(), "{}", r.text());
    }
    // Nothing was stored.
    assert_eq!(c1.send(poll(0)).await.text(), "[]");
    c1.close().await;
    // A body over 16 KiB: refused by its declared length, before the
    // server reads a byte of it.
    let mut c2 = s.connect().await;
    let too_big = Request::new("POST", "/messages")
        .header("content-type", "application/json")
        .header("content-length", "16385");
    let r = c2.send(too_big).await;
    assert_eq!(r.status, 413);
    // The unread body would be taken for the next request, so the
    // server closes the connection after its answer.
    c2.expect_closed_by_server().await;
    c2.close().await;
    assert_transcript!("every_error_case", s.transcript().text());
}

/// A chunked body has no length up front: the server counts while it
/// reads and stops at 16 KiB. (Too long to show in the book.)
#[tokio::test]
async fn a_chunked_body_over_16_kib_is_refused() {
    let s = start().await;
    let mut c1 = s.connect().await;
    let mut body = Vec::new();
    for _ in 0..17 {
        body.extend_from_slice(format!("{:x}\r\n", 1000).as_bytes());
        body.extend_from_slice(&[b' '; 1000]);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let request = Request::new("POST", "/messages")
        .header("content-type", "application/json")
        .header("transfer-encoding", "chunked")
        .body(body);
    assert_eq!(c1.send(request).await.status, 413);
    // Exactly 16 KiB is still fine (it is valid JSON with spaces).
    let mut c2 = s.connect().await;
    let json = r#"{"user":"ana","text":"edge"}"#;
    let body = format!("{json}{}", " ".repeat(16 * 1024 - json.len()));
    let r = c2.send(Request::post_json("/messages", &body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
}

/// `ETag` and `If-None-Match`: the server answers 304 with no body when
/// the client already has the bytes. Each request has its own
/// connection, so the footer prices each answer on its own line.
#[tokio::test]
async fn conditional_poll_answered_304() {
    let s = start().await;
    let mut writer = s.connect().await;
    for text in ["one", "two"] {
        assert_eq!(writer.send(post("ana", text)).await.status, 201);
    }
    writer.close().await;

    // C2: the whole history, with its ETag.
    let mut c = s.connect().await;
    let full = c.send(poll(0)).await;
    let etag = full.header("etag").expect("an ETag").to_owned();
    c.close().await;
    // C3: the same question with If-None-Match: 304, no body.
    let mut c = s.connect().await;
    let again = poll(0).header("if-none-match", &etag);
    let r = c.send(again).await;
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert!(r.body.is_empty());
    c.close().await;
    // C4 and C5: the same for an empty poll with a cursor.
    let mut c = s.connect().await;
    let empty = c.send(poll(2)).await;
    let etag = empty.header("etag").unwrap().to_owned();
    c.close().await;
    let mut c = s.connect().await;
    let conditional = poll(2).header("if-none-match", &etag);
    let r = c.send(conditional).await;
    assert_eq!(r.status, 304);
    c.close().await;

    let t = s.transcript();
    let down = |conn: usize| t.counts()[&conn][1].total();
    let up = |conn: usize| t.counts()[&conn][0].total();
    // With no cursor, 304 saves the whole body...
    assert!(down(3) < down(2));
    // ...but for a poll with a cursor, the empty answer `[]` was
    // already small: the 304 saves 2 bytes of body, and the request
    // grows by its If-None-Match line.
    // ANCHOR: saving
    // 32 + 19 + 2 bytes fewer (content-type, content-length, `[]`),
    // but "304 Not Modified" is 10 bytes longer than "200 OK".
    let type_line = "content-type: application/json\r\n".len();
    let length_line = "content-length: 2\r\n".len();
    let status_growth = "304 Not Modified".len() - "200 OK".len();
    let saved = type_line + length_line + "[]".len() - status_growth;
    assert_eq!(down(4) - down(5), saved);
    let asked = format!("if-none-match: {etag}\r\n").len();
    assert_eq!(up(5) - up(4), asked);
    // ANCHOR_END: saving
    assert!(up(5) > up(4));
    assert_transcript!("conditional_poll", t.text());
}

// ANCHOR: reset
/// A page was open while the server restarted. Its cursor, "after 5
/// of run a1", means nothing to run b2: 409, with the cursor to use.
/// A cursor from the future (no run named) gets the same answer.
#[tokio::test]
async fn a_cursor_from_another_run_gets_a_reset() {
    let s = Scenario::start(HOST, |listener, shutdown| {
        let config = Config {
            run: Some(chat::Run::named("b2")),
            ..Config::default()
        };
        serve(listener, config, shutdown)
    })
    .await;
    let mut c1 = s.connect().await;
    assert_eq!(c1.send(post("ben", "six")).await.status, 201);
    assert_eq!(c1.send(post("ben", "seven")).await.status, 201);
    // The old page's cursor. Run b2 has ids 1 and 2: the id alone
    // cannot tell that this cursor is from another run; the run can.
    let r = c1.send(Request::get("/messages?after=5&run=a1")).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["run"], "b2");
    assert_eq!(r.json()["after"], 0);
    // The page takes the new cursor and asks again at once.
    let r = c1.send(Request::get("/messages?after=0&run=b2")).await;
    assert_eq!(r.json()[1]["text"], "seven");
    // curl with a cursor from the future, no run: the same answer.
    let r = c1.send(poll(9)).await;
    assert_eq!(r.status, 409);
    c1.close().await;
    assert_transcript!("reset", s.transcript().text());
}
// ANCHOR_END: reset
