//! What several test files of this chapter share: connections that
//! talk to the server directly (not through a tap), with the book's
//! one raw client, and a look at the server's count of parked requests.

// Each test file uses a part of this module; the rest is unused there.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use wire::{Client, Request};

/// Bounds a wait that would otherwise hang; not a measure of speed.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// One keep-alive connection, straight to the server. Its bytes are
/// not recorded: use it for what a transcript should not show.
pub async fn connect(addr: SocketAddr) -> Client {
    wire::client::connect(addr, "test").await.expect("connect")
}

/// `GET /stats` on a connection of its own: the parked requests now.
pub async fn parked(addr: SocketAddr) -> u64 {
    let mut http = connect(addr).await;
    let response = http.send(Request::get("/stats")).await;
    assert_eq!(response.status, 200);
    let stats = response.json();
    stats["parked"].as_u64().expect("a count")
}

/// Waits until exactly `n` requests are parked on the server. Panics
/// after `PATIENCE`, saying how many there were.
pub async fn wait_parked(addr: SocketAddr, n: u64) {
    let waiting = async {
        loop {
            let now = parked(addr).await;
            if now == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    if tokio::time::timeout(PATIENCE, waiting).await.is_err() {
        let now = parked(addr).await;
        panic!("expected {n} parked requests within {PATIENCE:?}, not {now}");
    }
}
