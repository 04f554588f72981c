//! The five things measured: the four chapters' servers, and the
//! floor they are compared with.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::http::Client;

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
    /// Chapter 4's server with a 4 KiB read buffer, the size that
    /// tungstenite's documentation suggests for many idle sockets.
    #[value(name = "websocket-4k")]
    WebSocket4k,
    /// Chapter 4's server with tungstenite's default read buffer,
    /// 128 KiB, instead of the chapter's 2 KiB: the buffer lesson.
    #[value(name = "websocket-128k")]
    WebSocket128k,
    /// No protocol: a bare TCP broadcaster writes each message's JSON
    /// and a line feed to every connection.
    Floor,
}

impl Technique {
    /// Every technique, in the book's order, the floor last.
    pub const ALL: [Technique; 8] = [
        Technique::Polling,
        Technique::LongPolling,
        Technique::Sse,
        Technique::SseH2c,
        Technique::WebSocket,
        Technique::WebSocket4k,
        Technique::WebSocket128k,
        Technique::Floor,
    ];

    /// Whether the wire, fan-out and burst runs measure it. The
    /// WebSockets with other read buffers run only where they differ
    /// from chapter 4's: the idle run. Their frames and their work per
    /// message are the same.
    pub fn delivers(self) -> bool {
        !matches!(self, Technique::WebSocket4k | Technique::WebSocket128k)
    }

    /// The name in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Technique::Polling => "polling",
            Technique::LongPolling => "long polling",
            Technique::Sse => "SSE",
            Technique::SseH2c => "SSE over h2c",
            Technique::WebSocket => "WebSocket",
            Technique::WebSocket4k => "WebSocket, 4 KiB buffer",
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
            Technique::WebSocket4k => "websocket-4k",
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
            Technique::WebSocket
            | Technique::WebSocket4k
            | Technique::WebSocket128k => {
                let defaults = ch04_websocket::Config::default();
                let read_buffer = match self {
                    Technique::WebSocket4k => 4 * 1024,
                    // tungstenite's default (`WebSocketConfig`).
                    Technique::WebSocket128k => 128 * 1024,
                    _ => defaults.read_buffer,
                };
                let config = ch04_websocket::Config {
                    max_connections: MAX_CONNECTIONS,
                    read_buffer,
                    ..defaults
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
    Http(Client),
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
        Ok(Poster::Http(crate::http::connect(addr).await?))
    }

    /// Sends `texts` back to back: every request (every line, for the
    /// floor) in one write, then the answers. HTTP/1.1 lets a client
    /// send requests before the answers came (pipelining, RFC 9112
    /// §9.3.2); the server answers them in order. Returns the ids.
    pub async fn post_burst(&mut self, texts: &[String]) -> io::Result<Vec<u64>> {
        match self {
            Poster::Http(client) => {
                let mut bytes = Vec::new();
                for text in texts {
                    bytes.extend(crate::http::post(text).to_bytes(client.host()));
                }
                client.try_write_raw(&bytes).await?;
                let mut ids = Vec::with_capacity(texts.len());
                for _ in texts {
                    let response = client.try_response().await?;
                    if response.status != 201 {
                        let why = format!("POST answered {}", response.status);
                        return Err(io::Error::other(why));
                    }
                    let stored: serde_json::Value =
                        serde_json::from_slice(&response.body)?;
                    ids.push(stored["id"].as_u64().unwrap_or(0));
                }
                Ok(ids)
            }
            Poster::Floor { stream, next_id } => {
                let mut bytes = Vec::new();
                let mut ids = Vec::with_capacity(texts.len());
                for text in texts {
                    let message = chat::Message {
                        id: *next_id,
                        user: "bench".to_owned(),
                        text: text.to_owned(),
                    };
                    *next_id += 1;
                    bytes.extend_from_slice(
                        serde_json::to_string(&message)?.as_bytes(),
                    );
                    bytes.push(b'\n');
                    ids.push(message.id);
                }
                stream.write_all(&bytes).await?;
                Ok(ids)
            }
        }
    }

    /// Sends one message; returns its id and the length of its JSON.
    pub async fn post(&mut self, text: &str) -> io::Result<(u64, usize)> {
        match self {
            Poster::Http(client) => {
                let response = client.try_send(crate::http::post(text)).await?;
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
