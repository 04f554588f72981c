//! Chapter 2's scenarios. Each test drives one story step by step
//! through the tap; its transcript is the one the book shows.
//!
//! A parked request makes a transcript harder to keep stable: one POST
//! makes the server write to two connections, in an order that is up
//! to the scheduler. The tests hold the parked connection's answer in
//! the tap (`hold`), read the POST's answer, then let the other one
//! through (`release`): the recording is then the same every run.

mod common;

use std::time::Duration;

use ch02_long_polling::{serve, Config};
use common::wait_parked;
use wire::{assert_transcript, Dir, Request, Scenario, Transcript};

/// The address of a reader's server. Clients write it in `host`, as
/// curl would, so the bytes match the book's commands.
const HOST: &str = "127.0.0.1:3002";

async fn start_with(config: Config) -> Scenario {
    Scenario::start(HOST, |listener, shutdown| serve(listener, config, shutdown))
        .await
}

async fn start() -> Scenario {
    start_with(Config::default()).await
}

/// `POST /messages` with the JSON the page sends: `user`, then `text`.
fn post(user: &str, text: &str) -> Request {
    Request::post_message(user, text)
}

/// The long poll: "anything after `after`? I can wait `wait` s."
fn long_poll(after: u64, wait: u64) -> Request {
    Request::get(&format!("/messages?after={after}&wait={wait}"))
}

/// Messages exist after the cursor: the answer comes at once, exactly
/// as in chapter 1.
#[tokio::test]
async fn immediate_answer() {
    let s = start().await;
    let mut c1 = s.connect().await;
    assert_eq!(c1.send(post("ana", "hello")).await.status, 201);
    let r = c1.send(long_poll(0, 25)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()[0]["text"], "hello");
    c1.close().await;
    assert_transcript!("immediate_answer", s.transcript().text());
}

// ANCHOR: parked
/// Ana's request waits at the server until Ben posts; Ben's POST is
/// what answers it.
#[tokio::test]
async fn parked_request_answered_by_a_post() {
    let s = start().await;
    let mut ana = s.connect().await;
    let mut ben = s.connect().await;
    // Ana asks and gets no answer: her request is parked.
    ana.write(long_poll(0, 25)).await;
    wait_parked(s.server.addr(), 1).await;
    // Ben posts. The server answers Ben (201) and Ana (200) at once;
    // the tap holds Ana's answer so the recording shows Ben's first.
    s.tap.hold(ana.conn(), Dir::ToClient);
    assert_eq!(ben.send(post("ben", "hi ana")).await.status, 201);
    s.tap.release(ana.conn(), Dir::ToClient);
    let r = ana.response().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()[0]["text"], "hi ana");
    wait_parked(s.server.addr(), 0).await;
    ana.close().await;
    ben.close().await;
    let t = s.transcript();
    assert_transcript!("parked_answered", t.text());
    assert_transcript!("parked_answered_diagram", t.diagram());
}
// ANCHOR_END: parked

/// Nothing happens for `wait` seconds: 204 No Content, and the client
/// asks again at once with the same cursor.
#[tokio::test]
async fn timeout_then_repoll() {
    let s = start().await;
    let mut c1 = s.connect().await;
    for _ in 0..2 {
        let r = c1.send(long_poll(0, 1)).await;
        assert_eq!(r.status, 204);
        assert!(r.body.is_empty());
        assert_eq!(r.header("content-length"), None);
    }
    c1.close().await;
    assert_transcript!("timeout_then_repoll", s.transcript().text());
}

/// Ben posts while Ana is between two polls (her answer is on its
/// way, her next request not sent yet). Her cursor brings it in.
#[tokio::test]
async fn message_posted_between_polls() {
    let s = start().await;
    let mut ana = s.connect().await;
    let mut ben = s.connect().await;
    ana.write(long_poll(0, 25)).await;
    wait_parked(s.server.addr(), 1).await;
    s.tap.hold(ana.conn(), Dir::ToClient);
    assert_eq!(ben.send(post("ben", "one")).await.status, 201);
    // Ana's answer (message 1) is held in the tap; at the server
    // nobody waits now. Message 2 arrives with nobody to tell.
    wait_parked(s.server.addr(), 0).await;
    assert_eq!(ben.send(post("ben", "two")).await.status, 201);
    s.tap.release(ana.conn(), Dir::ToClient);
    let first = ana.response().await;
    assert_eq!(first.json().as_array().unwrap().len(), 1);
    assert_eq!(first.json()[0]["id"], 1);
    // Ana's next poll starts from her cursor, 1: message 2 comes back
    // at once, without a wait.
    let next = ana.send(long_poll(1, 25)).await;
    assert_eq!(next.status, 200);
    assert_eq!(next.json()[0]["id"], 2);
    ana.close().await;
    ben.close().await;
    assert_transcript!("posted_between_polls", s.transcript().text());
}

/// Ana closes the connection while her request is parked. The server
/// drops the request at once: the count of parked requests is 0
/// again, long before her `wait` of 25 s is over.
#[tokio::test]
async fn client_leaves_while_parked() {
    let s = start().await;
    let mut ana = s.connect().await;
    let mut ben = s.connect().await;
    ana.write(long_poll(0, 25)).await;
    wait_parked(s.server.addr(), 1).await;
    let stats = Request::get("/stats");
    assert_eq!(ben.send(stats.clone()).await.text(), r#"{"parked":1}"#);
    ana.close().await;
    // Checked off the record first, so the recorded answer is stable;
    // this fails (after 10 s) if the slot is never freed.
    wait_parked(s.server.addr(), 0).await;
    assert_eq!(ben.send(stats).await.text(), r#"{"parked":0}"#);
    ben.close().await;
    assert_transcript!("client_leaves_while_parked", s.transcript().text());
}

/// `--max-waiters 1`: a second waiting request is refused with 503
/// and `Retry-After`. A request that need not wait is still served.
#[tokio::test]
async fn too_many_waiters() {
    let config = Config {
        max_waiters: 1,
        ..Config::default()
    };
    let s = start_with(config).await;
    let mut ana = s.connect().await;
    let mut ben = s.connect().await;
    ana.write(long_poll(0, 25)).await;
    wait_parked(s.server.addr(), 1).await;
    let r = ben.send(long_poll(0, 25)).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("5"));
    assert!(r.json()["error"].is_string());
    s.tap.hold(ana.conn(), Dir::ToClient);
    assert_eq!(ben.send(post("ben", "hi")).await.status, 201);
    s.tap.release(ana.conn(), Dir::ToClient);
    assert_eq!(ana.response().await.json()[0]["text"], "hi");
    ana.close().await;
    ben.close().await;
    assert_transcript!("too_many_waiters", s.transcript().text());
}

/// Every way a long poll can be wrong, on one connection, and the
/// plain poll `wait=0`.
#[tokio::test]
async fn long_poll_errors() {
    let s = start().await;
    let mut c1 = s.connect().await;
    for target in [
        "/messages?after=0&wait=51",
        "/messages?after=0&wait=soon",
        "/messages?after=last&wait=5",
    ] {
        let r = c1.send(Request::get(target)).await;
        assert_eq!(r.status, 400, "{target}: {}", r.text());
        assert!(r.json()["error"].is_string());
    }
    // `wait=0`: answer now, even if the answer is "nothing".
    assert_eq!(c1.send(long_poll(0, 0)).await.status, 204);
    c1.close().await;
    assert_transcript!("long_poll_errors", s.transcript().text());
}

// ANCHOR: shutdown
/// Ctrl-C with a request parked for 50 s: the server answers it at
/// once with 503, `Retry-After` and `connection: close`, and stops.
#[tokio::test]
async fn shutdown_answers_parked_requests() {
    let s = start().await;
    let ports = [s.tap.addr().port(), s.server.addr().port()];
    let mut ana = s.connect().await;
    ana.write(long_poll(0, 50)).await;
    wait_parked(s.server.addr(), 1).await;
    // The bound is far below the 50 s wait: a server that waited for
    // the parked request to time out would fail here.
    let stopped = tokio::spawn(s.server.stop(Duration::from_secs(10)));
    let r = ana.response().await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(r.header("connection"), Some("close"));
    ana.expect_closed_by_server().await;
    assert!(stopped.await.unwrap(), "the server did not stop");
    ana.close().await;
    let t = Transcript::new(&s.tap.events(), &ports);
    assert_transcript!("shutdown_while_parked", t.text());
}
// ANCHOR_END: shutdown

// ANCHOR: reset
/// A long poll from a page that was open across a restart. A 204
/// after 25 s would be wrong twice: the page would wait for nothing,
/// then ask again with the same cursor. The 409 comes at once.
#[tokio::test]
async fn a_cursor_from_another_run_is_answered_at_once() {
    let s = start_with(Config {
        run: Some(chat::Run::named("b2")),
        ..Config::default()
    })
    .await;
    let mut c1 = s.connect().await;
    assert_eq!(c1.send(post("ben", "six")).await.status, 201);
    let old = Request::get("/messages?after=5&run=a1&wait=25");
    let r = c1.send(old).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["after"], 0);
    // The page asks again, from the cursor the 409 gave it.
    let r = c1
        .send(Request::get("/messages?after=0&run=b2&wait=25"))
        .await;
    assert_eq!(r.json()[0]["text"], "six");
    c1.close().await;
    assert_transcript!("reset", s.transcript().text());
}
// ANCHOR_END: reset
