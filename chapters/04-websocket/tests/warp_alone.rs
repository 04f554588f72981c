//! What `warp::ws()`, warp's ready-made WebSocket filter, does by
//! itself: why the chapter checks the handshake itself, and why its
//! `serve` closes the sockets when the server stops.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use warp::Filter;
use wire::{Request, Scenario};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

// ANCHOR: warp_alone
#[tokio::test]
async fn warp_ws_alone_answers_failures_with_unclear_statuses() {
    // Only warp::ws(), behind the same error handler as the chapter.
    let s = Scenario::start("127.0.0.1:3004", |listener, shutdown| async move {
        let routes = warp::path!("ws")
            .and(warp::ws())
            .map(|ws: warp::ws::Ws| ws.on_upgrade(|_socket| async {}))
            .recover(chat::errors::recover);
        warp::serve(routes)
            .incoming(listener)
            .graceful(shutdown)
            .run()
            .await;
    })
    .await;
    let mut c1 = s.connect().await;
    let upgrade = |version: &str| {
        Request::get("/ws")
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-key", KEY)
            .header("sec-websocket-version", version)
    };
    let plain = c1.send(Request::get("/ws")).await;
    let version_8 = c1.send(upgrade("8")).await;
    let other_site = c1.send(upgrade("13").header("origin", "http://evil.example"));
    let other_site = other_site.await;
    // A plain GET: 400, "invalid header connection", not 426.
    assert_eq!(plain.status, 400);
    // Version 8: 400 again, without the `sec-websocket-version: 13`
    // that RFC 6455 §4.4 asks for, so a client cannot learn what
    // would work.
    assert_eq!(version_8.status, 400);
    assert_eq!(version_8.header("sec-websocket-version"), None);
    // A page from another site: upgraded. warp does not look at
    // `Origin` at all.
    assert_eq!(other_site.status, 101);
}
// ANCHOR_END: warp_alone

// ANCHOR: graceful_alone
/// warp's graceful shutdown ends the server while an upgraded socket
/// is still open, and the socket goes on: nobody told it.
#[tokio::test]
async fn warp_graceful_shutdown_neither_waits_for_nor_closes_sockets() {
    let server = wire::TestServer::start(|listener, shutdown| async move {
        let routes = warp::path!("ws").and(warp::ws()).map(|ws: warp::ws::Ws| {
            // The socket answers pings for as long as it is read.
            ws.on_upgrade(|mut socket| async move {
                while let Some(Ok(_)) = socket.next().await {}
            })
        });
        warp::serve(routes)
            .incoming(listener)
            .graceful(shutdown)
            .run()
            .await;
    })
    .await;
    let url = format!("ws://{}/ws", server.addr());
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    // `serve` returns at once, though a socket is open...
    assert!(server.stop(Duration::from_secs(5)).await);
    // ...and the socket still answers: no close frame came.
    socket
        .send(Message::Ping("still there?".into()))
        .await
        .unwrap();
    let answer = socket.next().await.unwrap().unwrap();
    assert_eq!(answer, Message::Pong("still there?".into()));
}
// ANCHOR_END: graceful_alone
