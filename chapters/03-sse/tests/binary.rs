//! `cargo run -p ch03-sse` as a reader runs it (the introduction, "Run a
//! chapter"): the `listening on` line, the page, the flags, a clean stop on
//! SIGTERM with a stream still open.

use std::time::Duration;

use wire::process::Server;
use wire::{sse, Client, Request, Tap};

const EXE: &str = env!("CARGO_BIN_EXE_ch03-sse");

#[tokio::test]
async fn serves_the_page_streams_and_stops_on_sigterm() {
    let flags = ["--retry", "0.5", "--heartbeat", "60", "--drain", "0"];
    let server = Server::start(EXE, &flags).await;
    let tap = Tap::start(server.addr).await.unwrap();
    let mut c1 = Client::connect(&tap, "127.0.0.1:3003").await;
    let page = c1.send(Request::get("/")).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains(r#"<script src="/sse.js">"#));
    for asset in ["/sse.js", "/chat.js", "/chat.css"] {
        assert_eq!(c1.send(Request::get(asset)).await.status, 200, "{asset}");
    }

    // A stream stays open: `--retry 0.5` is its first line.
    let mut c2 = Client::connect(&tap, "127.0.0.1:3003").await;
    c2.write(Request::get("/events")).await;
    let conn = c2.conn();
    tap.wait_until("retry: 500", Duration::from_secs(10), |events| {
        sse::outputs_in(events, conn).contains(&sse::Output::Retry(500))
    })
    .await;

    // SIGTERM ends the stream, and the process exits cleanly.
    let status = server.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "exit status {status}");
    assert_eq!(c2.response().await.status, 200);
}

#[tokio::test]
async fn refuses_bad_flags_with_a_clear_message() {
    let documented = [
        "--addr",
        "--history",
        "--heartbeat",
        "--retry",
        "--drain",
        "--write-timeout",
        "--allow-origin",
    ];
    wire::process::assert_flags(
        EXE,
        &["--heartbeat", "never"],
        "expected seconds between 0 and 3600",
        &documented,
    )
    .await;
}
