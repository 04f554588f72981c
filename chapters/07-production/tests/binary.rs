//! `cargo run -p ch07-production` as a reader runs it: a clear error
//! when no Redis answers, three `listening on` lines when one does,
//! the flags, and a clean stop on SIGTERM with a stream still open.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use tokio::process::Command;
use wire::process::Server;
use wire::services::Redis;
use wire::{sse, Client, Request, Tap};

const EXE: &str = env!("CARGO_BIN_EXE_ch07-production");

#[tokio::test]
async fn says_how_to_get_redis_when_none_answers() {
    // A port where nothing listens: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let output = Command::new(EXE)
        .args(["--redis", &url, "--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "no `listening on` line");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("no Redis answers at {url}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("sudo apt-get install redis-server"),
        "{stderr}"
    );
}

#[tokio::test]
async fn starts_three_servers_and_stops_on_sigterm() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let url = redis.url();
    let flags = ["--redis", &url, "--drain", "0", "--heartbeat", "60"];
    let mut server = Server::start(EXE, &flags).await;
    // The first line was `listening on …`; two more follow.
    let mut others = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        server.stdout.read_line(&mut line).await.unwrap();
        others.push(line);
    }
    assert!(others
        .iter()
        .all(|l| l.starts_with("listening on http://127.0.0.1:")));

    let tap = Tap::start(server.addr).await.unwrap();
    let mut c1 = Client::connect(&tap, "127.0.0.1:3007").await;
    let page = c1.send(Request::get("/")).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains(r#"<script src="/sse.js">"#));
    assert!(page
        .text()
        .contains(r#"page from server <b id="server">a</b>"#));
    let ws = c1.send(Request::get("/?via=ws")).await;
    assert!(ws.text().contains(r#"<script src="/ws.js">"#));
    for asset in ["/sse.js", "/ws.js", "/chat.js", "/chat.css"] {
        assert_eq!(c1.send(Request::get(asset)).await.status, 200, "{asset}");
    }

    let mut c2 = Client::connect(&tap, "127.0.0.1:3007").await;
    c2.write(Request::get("/events")).await;
    let conn = c2.conn();
    tap.wait_until("retry", Duration::from_secs(10), |events| {
        sse::outputs_in(events, conn).contains(&sse::Output::Retry(2000))
    })
    .await;
    let status = server.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "exit status {status}");
    assert_eq!(c2.response().await.status, 200);
}

#[tokio::test]
async fn refuses_bad_flags_with_a_clear_message() {
    let documented = [
        "--redis",
        "--key",
        "--addr",
        "--servers",
        "--name",
        "--history",
        "--heartbeat",
        "--ping",
        "--max-connections",
    ];
    wire::process::assert_flags(
        EXE,
        &["--name", "web-1"],
        "a name is one letter from a to z",
        &documented,
    )
    .await;
}
