//! Nothing lost, nothing twice: 100 parked clients while 1000
//! messages are posted from 10 connections at once. Every client must
//! receive every message exactly once, in id order.
//!
//! The clients talk to the server directly, not through a tap: this
//! test is about what arrives, not about showing the bytes.

mod common;

use std::time::Duration;

use ch02_long_polling::{serve, Config};
use common::wait_parked;
use tokio::task::JoinSet;
use wire::{Client, Request, Response, TestServer};

const CLIENTS: u64 = 100;
const MESSAGES: u64 = 1000;
const POSTERS: u64 = 10;

/// Bounds a hang, not a speed: a passing run takes a few seconds.
const LIMIT: Duration = Duration::from_secs(120);

/// One client, as the page does it: poll from the cursor, move the
/// cursor to the newest id received, poll again at once.
async fn client(http: &mut Client) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut cursor = 0;
    while cursor < MESSAGES {
        let target = format!("/messages?after={cursor}&wait=10");
        // No time limit on one poll: the server holds it up to `wait`,
        // and `LIMIT` bounds the whole run.
        let answer = http.try_send(Request::get(&target)).await;
        let Response { status, body, .. } = answer.expect("an answer");
        match status {
            200 => {
                let messages: Vec<serde_json::Value> =
                    serde_json::from_slice(&body).unwrap();
                assert!(!messages.is_empty(), "a 200 with no message");
                ids.extend(messages.iter().map(|m| m["id"].as_u64().unwrap()));
                cursor = *ids.last().unwrap();
            }
            204 => {} // no news within `wait`: ask again
            other => panic!("status {other}: {}", String::from_utf8_lossy(&body)),
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_gets_every_message_once_in_order() {
    let server = TestServer::start(|listener, shutdown| {
        serve(listener, Config::default(), shutdown)
    })
    .await;
    let addr = server.addr();
    let run = async {
        let mut clients = JoinSet::new();
        for _ in 0..CLIENTS {
            let mut http = common::connect(addr).await;
            clients.spawn(async move { client(&mut http).await });
        }
        // Start posting only once every client is parked.
        wait_parked(addr, CLIENTS).await;
        let mut posters = JoinSet::new();
        for poster in 0..POSTERS {
            let mut http = common::connect(addr).await;
            posters.spawn(async move {
                for n in 0..MESSAGES / POSTERS {
                    let json = format!(r#"{{"user":"p{poster}","text":"{n}"}}"#);
                    let post = Request::post_json("/messages", &json);
                    assert_eq!(http.send(post).await.status, 201);
                }
            });
        }
        while let Some(posted) = posters.join_next().await {
            posted.unwrap();
        }
        let every_id: Vec<u64> = (1..=MESSAGES).collect();
        while let Some(received) = clients.join_next().await {
            // Equal to 1, 2, …, 1000: none missing, none twice, in order.
            assert_eq!(received.unwrap(), every_id);
        }
        // Every client is gone: nobody is parked any more.
        wait_parked(addr, 0).await;
    };
    let finished = tokio::time::timeout(LIMIT, run).await;
    finished.unwrap_or_else(|_| panic!("not finished within {LIMIT:?}"));
    assert!(server.stop(Duration::from_secs(10)).await);
}
