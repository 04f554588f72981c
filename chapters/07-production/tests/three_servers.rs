//! Three servers, each its own process, behind the chapter's own
//! nginx.conf, on one real Redis. One server is killed (SIGKILL, as a
//! crash or an out-of-memory kill would do) while clients stream
//! through nginx. Every client reconnects, lands on another server,
//! and ends with every message once, in order.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use wire::process::Server;
use wire::services::{Nginx, Redis};
use wire::sse::{Output, Parser};

/// Bounds a failure, not a speed.
const PATIENCE: Duration = Duration::from_secs(30);

/// What one client has seen: the ids of the messages, in the order
/// they came, and the server behind each of its connections.
#[derive(Default)]
struct Seen {
    ids: Vec<u64>,
    servers: Vec<String>,
}

// ANCHOR: client
/// A client that reads the event stream as `EventSource` does: when
/// the stream ends or breaks, it connects again with `Last-Event-ID`
/// set to the last id it got (WHATWG HTML §9.2.3, §9.2.4).
async fn stream_forever(nginx: SocketAddr, seen: Arc<Mutex<Seen>>) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut last_event_id: Option<String> = None;
    loop {
        let mut request =
            hyper::Request::get(format!("http://{nginx}/events?after=0"))
                .header("accept", "text/event-stream");
        if let Some(id) = &last_event_id {
            request = request.header("last-event-id", id.as_str());
        }
        let request = request.body(Empty::new()).unwrap();
        if let Ok(response) = client.request(request).await {
            if response.status() == 200 {
                let server = response.headers().get("x-served-by");
                let server = server.map_or("?", |v| v.to_str().unwrap_or("?"));
                seen.lock().unwrap().servers.push(server.to_owned());
                let mut body = response.into_body();
                let mut parser = Parser::new();
                while let Some(Ok(frame)) = body.frame().await {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let mut out = Vec::new();
                    parser.feed(&data, &mut out);
                    for (_, output) in out {
                        let Output::Dispatch(event) = output else {
                            continue;
                        };
                        last_event_id = Some(event.last_id.clone());
                        if event.kind == "message" {
                            let json: serde_json::Value =
                                serde_json::from_str(&event.data).unwrap();
                            let id = json["id"].as_u64().unwrap();
                            seen.lock().unwrap().ids.push(id);
                        }
                    }
                }
            }
        }
        // The stream ended or broke: the browser waits `retry`, then
        // connects again. A short wait keeps the test quick.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
// ANCHOR_END: client

async fn post(nginx: SocketAddr, text: &str) -> u16 {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let json = format!(r#"{{"user":"ana","text":"{text}"}}"#);
    let request = hyper::Request::post(format!("http://{nginx}/messages"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(json)))
        .unwrap();
    let response = client.request(request).await.expect("nginx answers");
    response.status().as_u16()
}

/// Waits until every client has seen `n` messages.
async fn wait_all(clients: &[Arc<Mutex<Seen>>], n: usize) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while clients.iter().any(|c| c.lock().unwrap().ids.len() < n) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every client has {n} messages in {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ANCHOR: kill_one
#[tokio::test]
async fn killing_one_of_three_servers_loses_nothing() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let url = redis.url();
    let exe = env!("CARGO_BIN_EXE_ch07-production");
    let mut servers = Vec::new();
    for name in ["a", "b", "c"] {
        let flags = ["--redis", &url, "--servers", "1", "--name", name];
        servers.push(Server::start(exe, &flags).await);
    }
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    let Some(nginx) = Nginx::start(|port| common::nginx_conf(port, &addrs)).await
    else {
        return;
    };
    let front = nginx.addr();

    // Six clients stream through nginx, which spreads them over the
    // three servers (round robin).
    let clients: Vec<Arc<Mutex<Seen>>> = (0..6).map(|_| Arc::default()).collect();
    let tasks: Vec<_> = clients
        .iter()
        .map(|seen| tokio::spawn(stream_forever(front, seen.clone())))
        .collect();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while clients.iter().any(|c| c.lock().unwrap().servers.is_empty()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "clients not connected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for n in 1..=10 {
        assert_eq!(post(front, &format!("m{n}")).await, 201);
    }
    wait_all(&clients, 10).await;

    // Kill the server of the first client: no goodbye, no drain.
    let victim = clients[0].lock().unwrap().servers[0].clone();
    let index = ["a", "b", "c"].iter().position(|n| *n == victim).unwrap();
    servers[index].child.kill().await.expect("kill the server");

    // Posts go on: nginx passes each one to a server that answers.
    for n in 11..=20 {
        assert_eq!(
            post(front, &format!("m{n}")).await,
            201,
            "{}",
            nginx.error_log()
        );
    }
    wait_all(&clients, 20).await;
    for task in tasks {
        task.abort();
    }

    let expected: Vec<u64> = (1..=20).collect();
    for (n, client) in clients.iter().enumerate() {
        let seen = client.lock().unwrap();
        assert_eq!(
            seen.ids, expected,
            "client {n}: every message once, in order"
        );
        let first = &seen.servers[0];
        if *first == victim {
            // It reconnected, and to a server that is alive.
            let later: HashSet<&String> = seen.servers[1..].iter().collect();
            assert!(!later.is_empty(), "client {n} never reconnected");
            assert!(!later.contains(&victim), "client {n}: {:?}", seen.servers);
        }
    }
}
// ANCHOR_END: kill_one
