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
    /// Chapter 5: the same stream over HTTP/2 inside TLS, as browsers
    /// get HTTP/2 (ALPN `h2`, RFC 9113 §3.2).
    #[value(name = "sse-h2-tls")]
    SseH2Tls,
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
    pub const ALL: [Technique; 9] = [
        Technique::Polling,
        Technique::LongPolling,
        Technique::Sse,
        Technique::SseH2c,
        Technique::SseH2Tls,
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
            Technique::SseH2Tls => "SSE over h2 (TLS)",
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
            Technique::SseH2Tls => "sse-h2-tls",
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
            Technique::SseH2c | Technique::SseH2Tls => {
                let config = ch05_http2::Config {
                    sse: ch03_sse::Config {
                        drain: Duration::ZERO,
                        max_connections: MAX_CONNECTIONS,
                        ..Default::default()
                    },
                    ..Default::default()
                };
                if self == Technique::SseH2c {
                    return ch05_http2::serve(listener, None, config, shutdown)
                        .await;
                }
                // The listener given is the https one. Chapter 5 also
                // needs a plain one; here nobody connects to it.
                let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let tls = ch05_http2::Tls {
                    listener,
                    acceptor: crate::tls::acceptor(),
                };
                ch05_http2::serve(plain, Some(tls), config, shutdown).await
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
    /// For the TLS row: the server has only its https listener.
    H2(h2::client::SendRequest<bytes::Bytes>),
    Floor {
        stream: TcpStream,
        next_id: u64,
    },
}

impl Poster {
    pub async fn connect(
        technique: Technique,
        addr: SocketAddr,
    ) -> io::Result<Poster> {
        if technique == Technique::SseH2Tls {
            return Ok(Poster::H2(crate::tls::h2(addr).await?));
        }
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
            Poster::H2(send) => {
                // All requests first, each on its own stream, then the
                // answers: what pipelining does over HTTP/1.1.
                let mut answers = Vec::with_capacity(texts.len());
                for text in texts {
                    answers.push(h2_post(send, text).await?);
                }
                let mut ids = Vec::with_capacity(texts.len());
                for answer in answers {
                    ids.push(h2_answer(answer).await?.0);
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
            Poster::H2(send) => {
                let answer = h2_post(send, text).await?;
                h2_answer(answer).await
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

/// An answer that is on its way, over HTTP/2.
type H2Answer = h2::client::ResponseFuture;

/// Sends `POST /messages` for `text` on a new stream of `send`.
async fn h2_post(
    send: &mut h2::client::SendRequest<bytes::Bytes>,
    text: &str,
) -> io::Result<H2Answer> {
    let body = crate::http::post(text).body;
    let request = http::Request::post("https://127.0.0.1/messages")
        .header("content-type", "application/json")
        .header("content-length", body.len())
        .body(())
        .map_err(io::Error::other)?;
    let ready = send.clone().ready().await.map_err(io::Error::other)?;
    *send = ready;
    let (answer, mut stream) = send
        .send_request(request, false)
        .map_err(io::Error::other)?;
    stream
        .send_data(body.into(), true)
        .map_err(io::Error::other)?;
    Ok(answer)
}

/// Waits for a `201` and its body: the stored message's id, and the
/// length of its JSON.
async fn h2_answer(answer: H2Answer) -> io::Result<(u64, usize)> {
    let response = answer.await.map_err(io::Error::other)?;
    if response.status() != 201 {
        let why = format!("POST answered {}", response.status());
        return Err(io::Error::other(why));
    }
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(data) = body.data().await {
        let data = data.map_err(io::Error::other)?;
        let _ = body.flow_control().release_capacity(data.len());
        bytes.extend_from_slice(&data);
    }
    let stored: serde_json::Value = serde_json::from_slice(&bytes)?;
    Ok((stored["id"].as_u64().unwrap_or(0), bytes.len()))
}
