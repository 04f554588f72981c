//! The five things measured: the four chapters' servers, and the
//! floor they are compared with.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::http::Http;

/// A way to get a message from the server to every reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Technique {
    /// Chapter 1: `GET /messages?after=ID` every interval.
    Polling,
    /// Chapter 2: `GET /messages?after=ID&wait=25`, held until news.
    LongPolling,
    /// Chapter 3: `GET /events`, one endless `text/event-stream`.
    Sse,
    /// Chapter 5: chapter 3's `GET /events` over HTTP/2 without TLS
    /// (h2c, prior knowledge, RFC 9113 §3.3).
    #[value(name = "sse-h2c")]
    SseH2c,
    /// Chapter 4: `GET /ws`, then one text frame per message.
    #[value(name = "websocket")]
    WebSocket,
    /// Chapter 4's server with tungstenite's default read buffer,
    /// 128 KiB, instead of the chapter's 4 KiB: the buffer lesson.
    #[value(name = "websocket-128k")]
    WebSocket128k,
    /// No protocol: a bare TCP broadcaster writes each message's JSON
    /// and a line feed to every connection.
    Floor,
}

impl Technique {
    /// Every technique, in the book's order, the floor last.
    pub const ALL: [Technique; 7] = [
        Technique::Polling,
        Technique::LongPolling,
        Technique::Sse,
        Technique::SseH2c,
        Technique::WebSocket,
        Technique::WebSocket128k,
        Technique::Floor,
    ];

    /// Whether the wire, fan-out and burst runs measure it. The
    /// 128 KiB WebSocket runs only where it differs from chapter 4's:
    /// the idle run. Its frames and its work per message are the same.
    pub fn delivers(self) -> bool {
        self != Technique::WebSocket128k
    }

    /// The name in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Technique::Polling => "polling",
            Technique::LongPolling => "long polling",
            Technique::Sse => "SSE",
            Technique::SseH2c => "SSE over h2c",
            Technique::WebSocket => "WebSocket",
            Technique::WebSocket128k => "WebSocket, 128 KiB buffer",
            Technique::Floor => "bare TCP",
        }
    }

    /// The name on the command line (`serve websocket`).
    pub fn arg(self) -> &'static str {
        match self {
            Technique::Polling => "polling",
            Technique::LongPolling => "long-polling",
            Technique::Sse => "sse",
            Technique::SseH2c => "sse-h2c",
            Technique::WebSocket => "websocket",
            Technique::WebSocket128k => "websocket-128k",
            Technique::Floor => "floor",
        }
    }

    /// Serves this technique on `listener` until `shutdown`: the
    /// chapter's own `serve` with the chapter's defaults, except where
    /// said.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        match self {
            Technique::Polling => {
                let config = ch01_polling::Config::default();
                ch01_polling::serve(listener, config, shutdown).await
            }
            Technique::LongPolling => {
                // The default bound, 10,000 parked requests, is exactly
                // the largest idle run; leave room above it.
                let config = ch02_long_polling::Config {
                    max_waiters: MAX_CONNECTIONS,
                    ..Default::default()
                };
                ch02_long_polling::serve(listener, config, shutdown).await
            }
            Technique::Sse => {
                // No drain after the stop: the harness does not
                // reconnect, so waiting for it only costs time.
                let config = ch03_sse::Config {
                    drain: Duration::ZERO,
                    max_connections: MAX_CONNECTIONS,
                    ..Default::default()
                };
                ch03_sse::serve(listener, config, shutdown).await
            }
            Technique::SseH2c => {
                let config = ch05_http2::Config {
                    sse: ch03_sse::Config {
                        drain: Duration::ZERO,
                        max_connections: MAX_CONNECTIONS,
                        ..Default::default()
                    },
                    ..Default::default()
                };
                ch05_http2::serve(listener, None, config, shutdown).await
            }
            Technique::WebSocket => {
                let config = ch04_websocket::Config {
                    max_connections: MAX_CONNECTIONS,
                    ..Default::default()
                };
                ch04_websocket::serve(listener, config, shutdown).await
            }
            Technique::WebSocket128k => {
                let config = ch04_websocket::Config {
                    max_connections: MAX_CONNECTIONS,
                    // tungstenite's default (`WebSocketConfig`).
                    read_buffer: 128 * 1024,
                    ..Default::default()
                };
                ch04_websocket::serve(listener, config, shutdown).await
            }
            Technique::Floor => crate::floor::serve(listener, shutdown).await,
        }
    }
}

/// The bound on open streams, sockets and parked requests: the
/// chapters' default is 10,000, exactly the largest idle run, and the
/// warm-up reader needs a place too.
const MAX_CONNECTIONS: usize = 20_000;

/// The interval of chapter 1's page (its `--interval` default).
pub fn poll_interval() -> Duration {
    ch01_polling::Config::default().interval
}

/// Sends messages: `POST /messages` to a chapter's server, a JSON line
/// to the floor.
pub enum Poster {
    Http(Http),
    Floor { stream: TcpStream, next_id: u64 },
}

impl Poster {
    pub async fn connect(
        technique: Technique,
        addr: SocketAddr,
    ) -> io::Result<Poster> {
        if technique == Technique::Floor {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            return Ok(Poster::Floor { stream, next_id: 1 });
        }
        Ok(Poster::Http(Http::connect(addr).await?))
    }

    /// Sends one message; returns its id and the length of its JSON.
    pub async fn post(&mut self, text: &str) -> io::Result<(u64, usize)> {
        match self {
            Poster::Http(http) => {
                let body = serde_json::json!({"user": "bench", "text": text});
                let response = http.post(&body.to_string()).await?;
                if response.status != 201 {
                    let why = format!("POST answered {}", response.status);
                    return Err(io::Error::other(why));
                }
                let stored: serde_json::Value =
                    serde_json::from_slice(&response.body)?;
                let id = stored["id"].as_u64().unwrap_or(0);
                Ok((id, response.body.len()))
            }
            Poster::Floor { stream, next_id } => {
                // The same JSON the chat sends, from the same type.
                let message = chat::Message {
                    id: *next_id,
                    user: "bench".to_owned(),
                    text: text.to_owned(),
                };
                *next_id += 1;
                let json = serde_json::to_string(&message)?;
                let mut line = json.clone().into_bytes();
                line.push(b'\n');
                stream.write_all(&line).await?;
                Ok((message.id, json.len()))
            }
        }
    }
}
