//! `cargo run -p ch02-long-polling` as a reader runs it (the introduction,
//! "Run a chapter"): the `listening on` line, the page, the flags, and a
//! stop on SIGTERM that does not wait for the parked requests to time out.

use std::time::Duration;

use wire::process::Server;
use wire::{Client, Request, Tap};

const EXE: &str = env!("CARGO_BIN_EXE_ch02-long-polling");

#[tokio::test]
async fn serves_the_page_and_stops_on_sigterm_with_a_request_parked() {
    let server = Server::start(EXE, &["--max-waiters", "1"]).await;
    let tap = Tap::start(server.addr).await.unwrap();
    let mut c1 = Client::connect(&tap, "127.0.0.1:3002").await;
    let page = c1.send(Request::get("/")).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text().contains(r#"<script src="/long-poll.js">"#));
    for asset in ["/long-poll.js", "/chat.js", "/chat.css"] {
        assert_eq!(c1.send(Request::get(asset)).await.status, 200, "{asset}");
    }

    // One request parked for 50 s; --max-waiters 1 refuses a second.
    let mut c2 = Client::connect(&tap, "127.0.0.1:3002").await;
    c2.write(Request::get("/messages?after=0&wait=50")).await;
    let parked = async {
        while c1.send(Request::get("/stats")).await.json()["parked"] != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let limit = Duration::from_secs(10);
    let parked = tokio::time::timeout(limit, parked).await;
    parked.expect("the request was not parked within 10 s");
    let r = c1.send(Request::get("/messages?after=0&wait=50")).await;
    assert_eq!(r.status, 503);

    // SIGTERM: the parked request is answered at once, and the
    // process exits well before the 50 s are over.
    let stopped = tokio::spawn(server.terminate(Duration::from_secs(10)));
    let r = c2.response().await;
    assert_eq!(r.status, 503);
    assert_eq!(r.header("connection"), Some("close"));
    let status = stopped.await.unwrap();
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn refuses_bad_flags_with_a_clear_message() {
    let documented = ["--addr", "--history", "--max-waiters"];
    wire::process::assert_flags(
        EXE,
        &["--max-waiters", "0"],
        "at least 1",
        &documented,
    )
    .await;
}
