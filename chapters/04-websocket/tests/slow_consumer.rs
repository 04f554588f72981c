//! A client that stops reading is never buffered without limit: its
//! socket waits, the history moves on, and the server closes it with
//! 1013 ("try again later") and a reason, once it reads again.

use std::time::Duration;

use ch04_websocket::{serve, Config};
use futures_util::StreamExt;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use wire::{Client, Request, Tap, TestServer};

#[tokio::test]
async fn a_reader_that_falls_behind_the_history_gets_1013() {
    let config = Config {
        history: 5,
        ping: Duration::from_secs(3600),
        ..Config::default()
    };
    let server =
        TestServer::start(|listener, shutdown| serve(listener, config, shutdown))
            .await;
    // A small receive window: the client's side holds little unread.
    let tcp = TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(4096).unwrap();
    let stream = tcp.connect(server.addr()).await.unwrap();
    let url = format!("ws://{}/ws", server.addr());
    let (mut slow, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();

    // Another client posts while the slow one reads nothing. The
    // kernel's buffers fill first; then the server's socket task
    // waits, and the history of 5 moves past it.
    let tap = Tap::start(server.addr()).await.unwrap();
    let mut poster = Client::connect(&tap, "127.0.0.1:3004").await;
    let text = "x".repeat(1000);
    let json = format!(r#"{{"user":"ana","text":"{text}"}}"#);
    // Enough to fill the kernel's largest send buffer three times
    // over (Linux: the last number of tcp_wmem), and at least 8000.
    let wmem = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem");
    let max_send_buffer = wmem
        .ok()
        .and_then(|text| text.split_whitespace().last()?.parse::<usize>().ok())
        .unwrap_or(0);
    let posts = (3 * max_send_buffer / json.len()).max(8000);
    for _ in 0..posts {
        let r = poster.send(Request::post_json("/messages", &json)).await;
        assert_eq!(r.status, 201);
    }
    poster.close().await;

    // Now it reads: some messages, then close 1013 with the reason.
    let mut received = 0;
    let mut close = None;
    let read_all = async {
        while let Some(Ok(message)) = slow.next().await {
            match message {
                Message::Text(_) => received += 1,
                Message::Close(frame) => close = frame,
                _ => {}
            }
        }
    };
    // A bound on a hang, not a speed.
    tokio::time::timeout(Duration::from_secs(30), read_all)
        .await
        .expect("the server never closed the slow socket");
    let close = close.expect("a close frame");
    assert_eq!(close.code, CloseCode::Again);
    assert!(close.reason.starts_with("too slow"), "{}", close.reason);
    assert!(received < posts, "{received} of {posts}");
    eprintln!("the slow reader got {received} of {posts} messages");
}
