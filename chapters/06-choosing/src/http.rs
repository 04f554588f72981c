//! The harness's HTTP/1.1 client: the book's one raw-socket client,
//! [`wire::client`], which the chapters' tests use too.
//!
//! It writes exactly the request it is given, so the bytes the tap
//! counts are the bytes these requests are, and nothing hidden. The
//! harness uses its `try_` methods: they return errors rather than
//! panic, and wait as long as the server takes, as a long poll must.

use std::io;
use std::net::SocketAddr;

pub use wire::client::{Client, Request, Response};

/// One keep-alive connection to `addr`, which is also the `Host` of
/// every request (RFC 9112 §3.2).
pub async fn connect(addr: SocketAddr) -> io::Result<Client> {
    wire::client::connect(addr, &addr.to_string()).await
}

/// `POST /messages` with the chat's JSON for `text`, as the bench
/// user: the request a page's form sends.
pub fn post(text: &str) -> Request {
    let body = serde_json::json!({"user": "bench", "text": text});
    Request::post_json("/messages", &body.to_string())
}
