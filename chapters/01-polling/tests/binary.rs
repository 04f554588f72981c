//! `cargo run -p ch01-polling` as a reader runs it (the introduction, "Run
//! a chapter"): the `listening on` line, the page, the flags, a clean stop
//! on SIGTERM.

use std::time::Duration;

use wire::process::Server;
use wire::{Client, Request, Tap};

const EXE: &str = env!("CARGO_BIN_EXE_ch01-polling");

#[tokio::test]
async fn serves_the_page_with_its_interval_and_stops_on_sigterm() {
    let server = Server::start(EXE, &["--interval", "0.5", "--history", "2"]).await;
    let tap = Tap::start(server.addr).await.unwrap();
    let mut c1 = Client::connect(&tap, "127.0.0.1:3001").await;

    let page = c1.send(Request::get("/")).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text().contains(r#"data-interval-ms="500""#));
    for asset in ["/poll.js", "/chat.js", "/chat.css"] {
        assert_eq!(c1.send(Request::get(asset)).await.status, 200, "{asset}");
    }

    // --history 2: the third message pushes out the first.
    for text in ["one", "two", "three"] {
        let json = format!(r#"{{"user":"ana","text":"{text}"}}"#);
        let r = c1.send(Request::post_json("/messages", &json)).await;
        assert_eq!(r.status, 201);
    }
    let all = c1.send(Request::get("/messages")).await.json();
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["text"], "two");
    c1.close().await;

    let status = server.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn refuses_bad_flags_with_a_clear_message() {
    let documented = ["--addr", "--history", "--interval"];
    wire::process::assert_flags(
        EXE,
        &["--interval", "soon"],
        "expected seconds between 0 and 3600",
        &documented,
    )
    .await;
}
