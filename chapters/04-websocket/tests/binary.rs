//! `cargo run -p ch04-websocket` as a reader runs it (the introduction,
//! "Run a chapter"): the `listening on` line, the page, the flags, and on
//! SIGTERM a close frame 1001 for every open socket.

use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use wire::process::Server;
use wire::{Client, Request, Tap};

const EXE: &str = env!("CARGO_BIN_EXE_ch04-websocket");

#[tokio::test]
async fn serves_the_page_and_closes_sockets_with_1001_on_sigterm() {
    let server = Server::start(EXE, &["--ping", "5", "--max-message", "2048"]).await;
    let tap = Tap::start(server.addr).await.unwrap();
    let mut c1 = Client::connect(&tap, "127.0.0.1:3004").await;
    let page = c1.send(Request::get("/")).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains(r#"<script src="/ws.js">"#));
    for asset in ["/ws.js", "/chat.js", "/chat.css"] {
        assert_eq!(c1.send(Request::get(asset)).await.status, 200, "{asset}");
    }
    c1.close().await;

    // tungstenite as a client here: a second implementation is in
    // independent_client.rs.
    let url = format!("ws://{}/ws", server.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    // Read while the server stops: reading is what answers its close.
    let reader = tokio::spawn(async move {
        let mut code = None;
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Close(Some(frame)) = message {
                code = Some(frame.code);
            }
        }
        code
    });
    let status = server.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "exit status {status}");
    let code = reader.await.unwrap();
    assert_eq!(code, Some(CloseCode::Away));
}

#[tokio::test]
async fn refuses_bad_flags_with_a_clear_message() {
    let documented = [
        "--addr",
        "--history",
        "--ping",
        "--max-message",
        "--max-buffer",
        "--read-buffer",
        "--max-connections",
        "--allow-origin",
    ];
    wire::process::assert_flags(
        EXE,
        &["--ping", "soon"],
        "expected seconds between 0 and 3600",
        &documented,
    )
    .await;
}
