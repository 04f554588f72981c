//! `cargo run -p ch05-http2` as a reader runs it (the introduction, "Run a
//! chapter"): both `listening on` lines, the fingerprint, the page on both
//! listeners, the flags, and a clean stop on SIGTERM with a stream still
//! open.

use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use wire::process::Server;
use wire::{Client, Request, Tap};

const EXE: &str = env!("CARGO_BIN_EXE_ch05-http2");

#[tokio::test]
async fn prints_both_addresses_serves_and_stops_on_sigterm() {
    let flags = ["--tls-addr", "127.0.0.1:0", "--drain", "0"];
    let mut server = Server::start(EXE, &flags).await;
    let mut line = String::new();
    server.stdout.read_line(&mut line).await.unwrap();
    let tls = line
        .trim_end()
        .strip_prefix("listening on https://")
        .unwrap_or_else(|| panic!("second line: {line:?}"))
        .to_owned();
    assert!(tls.starts_with("127.0.0.1:"), "{tls}");
    line.clear();
    server.stdout.read_line(&mut line).await.unwrap();
    let fingerprint = line
        .trim_end()
        .strip_prefix("certificate SHA-256 fingerprint ")
        .unwrap_or_else(|| panic!("third line: {line:?}"));
    // 32 bytes in hex, separated by colons.
    assert_eq!(fingerprint.len(), 32 * 3 - 1, "{fingerprint}");

    let tap = Tap::start(server.addr).await.unwrap();
    let mut c1 = Client::connect(&tap, "127.0.0.1:3005").await;
    let page = c1.send(Request::get("/")).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("chapter 5"));
    for asset in ["/sse.js", "/protocol.js", "/limit.html", "/limit.js"] {
        assert_eq!(c1.send(Request::get(asset)).await.status, 200, "{asset}");
    }
    // A stream stays open while the server is told to stop: the stop
    // must end it, or the process would never exit.
    let mut c2 = Client::connect(&tap, "127.0.0.1:3005").await;
    c2.write(Request::get("/rooms/8/events")).await;
    let conn = c2.conn();
    let what = "the stream's retry line";
    tap.wait_until(what, Duration::from_secs(10), |events| {
        wire::sse::outputs_in(events, conn).len() == 1
    })
    .await;
    let status = server.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn refuses_bad_flags_with_a_clear_message() {
    let documented = [
        "--addr",
        "--tls-addr",
        "--cert",
        "--key",
        "--history",
        "--heartbeat",
        "--retry",
        "--drain",
    ];
    wire::process::assert_flags(
        EXE,
        &["--cert", "only-a-cert.pem"],
        "--key",
        &documented,
    )
    .await;
}
