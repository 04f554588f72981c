//! What several test files of this chapter share: a plain HTTP/1.1
//! client that talks to the server directly (not through a tap), and
//! a look at the server's count of parked requests.

// Each test file uses a part of this module; the rest is unused there.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Bounds a wait that would otherwise hang; not a measure of speed.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// One keep-alive connection, straight to the server. Its bytes are
/// not recorded: use it for what a transcript should not show.
pub struct Http {
    stream: BufReader<TcpStream>,
}

impl Http {
    pub async fn connect(addr: SocketAddr) -> Http {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        Http {
            stream: BufReader::new(stream),
        }
    }

    /// Writes a request without reading its answer.
    pub async fn write(&mut self, method: &str, target: &str, json: Option<&str>) {
        let mut bytes = format!("{method} {target} HTTP/1.1\r\nhost: test\r\n");
        if let Some(json) = json {
            bytes.push_str("content-type: application/json\r\n");
            bytes.push_str(&format!("content-length: {}\r\n", json.len()));
        }
        bytes.push_str("\r\n");
        bytes.push_str(json.unwrap_or(""));
        let stream = self.stream.get_mut();
        stream.write_all(bytes.as_bytes()).await.expect("write");
    }

    /// Reads one response: its status and body. The chapter's server
    /// frames every body with `content-length` (none on a 204).
    pub async fn read(&mut self) -> (u16, Vec<u8>) {
        let mut line = String::new();
        self.stream.read_line(&mut line).await.expect("read");
        let status = line.split(' ').nth(1).and_then(|s| s.parse().ok());
        let status = status.unwrap_or_else(|| panic!("no status in {line:?}"));
        let mut length = 0;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.expect("read");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().expect("a length");
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await.expect("a body");
        (status, body)
    }

    pub async fn request(
        &mut self,
        method: &str,
        target: &str,
        json: Option<&str>,
    ) -> (u16, Vec<u8>) {
        self.write(method, target, json).await;
        self.read().await
    }
}

/// `GET /stats` on a connection of its own: the parked requests now.
pub async fn parked(addr: SocketAddr) -> u64 {
    let mut http = Http::connect(addr).await;
    let (status, body) = http.request("GET", "/stats", None).await;
    assert_eq!(status, 200);
    let stats: serde_json::Value = serde_json::from_slice(&body).unwrap();
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
