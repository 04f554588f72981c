//! The clients: one per technique, each doing what the chapter's page
//! does, over a real TCP connection.
//!
//! Every client reports each message it receives as a [`Receipt`],
//! stamped the moment it has parsed it. Browsers send more headers
//! than these clients (`user-agent`, `accept-language`, cookies…), so
//! the request bytes here are a lower bound for a browser.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::http::Request;
use crate::technique::Technique;

/// One message, received by one client at `at`.
#[derive(Clone, Copy, Debug)]
pub struct Receipt {
    pub client: usize,
    pub id: u64,
    pub at: Instant,
}

/// What a client needs to know.
#[derive(Clone)]
pub struct Plan {
    pub technique: Technique,
    pub addr: SocketAddr,
    /// This client's number, for its receipts.
    pub client: usize,
    /// The polling interval (chapter 1's `--interval`).
    pub interval: Duration,
    /// A polling client waits this long (less than one interval)
    /// after its first poll, so that the clients' polls spread over
    /// the interval.
    pub start_after: Duration,
    /// Idle run: a polling client polls once, then only holds its
    /// connection open. The other techniques are idle by nature.
    pub idle: bool,
}

/// Runs one client until its task is aborted or the server closes.
/// `ready` gets one `()` once the client can receive.
pub async fn run(
    plan: Plan,
    ready: UnboundedSender<()>,
    out: UnboundedSender<Receipt>,
) -> io::Result<()> {
    match plan.technique {
        Technique::Polling => polling(plan, ready, out).await,
        Technique::LongPolling => long_polling(plan, ready, out).await,
        Technique::Sse => sse(plan, ready, out).await,
        Technique::SseH2c => {
            let stream = TcpStream::connect(plan.addr).await?;
            stream.set_nodelay(true)?;
            sse_h2(stream, "http", plan, ready, out).await
        }
        Technique::SseH2Tls => {
            let stream = crate::tls::connect(plan.addr).await?;
            sse_h2(stream, "https", plan, ready, out).await
        }
        Technique::WebSocket | Technique::WebSocket4k | Technique::WebSocket128k => {
            websocket(plan, ready, out).await
        }
        Technique::Floor => floor(plan, ready, out).await,
    }
}

/// The `id` of a message in its JSON form.
fn id_of(message: &serde_json::Value) -> Option<u64> {
    message.get("id").and_then(|id| id.as_u64())
}

fn receipts_of(body: &[u8], client: usize, out: &UnboundedSender<Receipt>) -> u64 {
    let at = Instant::now();
    let list: Vec<serde_json::Value> =
        serde_json::from_slice(body).unwrap_or_default();
    let mut last = 0;
    for id in list.iter().filter_map(id_of) {
        let _ = out.send(Receipt { client, id, at });
        last = id;
    }
    last
}

/// One message in its JSON form, as an event's data, a frame's text
/// or the floor's line: a receipt stamped now, the moment it is parsed.
/// Anything else (a reset, a notice) is no message, and no receipt.
fn receipt_of(json: &str, client: usize, out: &UnboundedSender<Receipt>) {
    let at = Instant::now();
    let message: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    if let Some(id) = id_of(&message) {
        let _ = out.send(Receipt { client, id, at });
    }
}

/// Chapter 1's page: `GET /messages?after=ID` every interval, after the
/// answer (setTimeout, not setInterval). The browser's cache keeps the
/// ETag of the last answer for each URL and sends it back as
/// `If-None-Match`, so an unchanged answer is a 304 with no body
/// (RFC 9110 §13.1.2); this client does the same.
async fn polling(
    plan: Plan,
    ready: UnboundedSender<()>,
    out: UnboundedSender<Receipt>,
) -> io::Result<()> {
    let mut http = crate::http::connect(plan.addr).await?;
    let mut cursor = 0;
    let mut cached: Option<(u64, String)> = None;
    let mut first = true;
    loop {
        let mut request = Request::get(&format!("/messages?after={cursor}"));
        if let Some((after, etag)) = &cached {
            if *after == cursor {
                request = request.header("if-none-match", etag);
            }
        }
        let response = http.try_send(request).await?;
        if response.status == 200 {
            if let Some(etag) = response.header("etag") {
                cached = Some((cursor, etag.to_owned()));
            }
            let last = receipts_of(&response.body, plan.client, &out);
            cursor = cursor.max(last);
        }
        let mut pause = plan.interval;
        if first {
            let _ = ready.send(());
            first = false;
            if plan.idle {
                std::future::pending::<()>().await;
            }
            // Pages are opened at different times: after its first
            // poll, each client waits less than one interval, once, to
            // take its own place in the interval.
            pause = plan.start_after;
        }
        tokio::time::sleep(pause).await;
    }
}

/// Chapter 2's page: `GET /messages?after=ID&wait=25`, again at once
/// after each answer. `cache: "no-store"` in the page: no ETag.
async fn long_polling(
    plan: Plan,
    ready: UnboundedSender<()>,
    out: UnboundedSender<Receipt>,
) -> io::Result<()> {
    let mut http = crate::http::connect(plan.addr).await?;
    let mut cursor = 0;
    let mut first = true;
    loop {
        let target = format!("/messages?after={cursor}&wait=25");
        http.try_write(Request::get(&target)).await?;
        if first {
            // Written: the server parks it. The harness waits a moment
            // for every client before it starts to post.
            let _ = ready.send(());
            first = false;
        }
        let response = http.try_response().await?;
        if response.status == 200 {
            let last = receipts_of(&response.body, plan.client, &out);
            cursor = cursor.max(last);
        }
    }
}

/// Chapter 3's page: `new EventSource("/events?after=0")`. The
/// browser sends `Accept: text/event-stream` and `Cache-Control:
/// no-cache` (WHATWG HTML §9.2.2); the answer is one chunked body.
async fn sse(
    plan: Plan,
    ready: UnboundedSender<()>,
    out: UnboundedSender<Receipt>,
) -> io::Result<()> {
    let mut http = crate::http::connect(plan.addr).await?;
    let request = Request::get("/events?after=0")
        .header("accept", "text/event-stream")
        .header("cache-control", "no-cache");
    http.try_write(request).await?;
    let response = http.try_head().await?;
    if response.status != 200 {
        return Err(io::Error::other(format!("status {}", response.status)));
    }
    let _ = ready.send(());
    let mut stream = EventStream::default();
    // The body's bytes as they arrive, without the chunk framing: the
    // event parser takes them in pieces of any size.
    while let Some(part) = http.try_body_part().await? {
        for data in stream.feed(&part) {
            receipt_of(&data, plan.client, &out);
        }
    }
    Ok(())
}

/// Chapter 5's page in a browser that speaks HTTP/2: the same
/// `EventSource`, one stream of an HTTP/2 connection. Over plain TCP,
/// the client starts with the connection preface at once: "prior
/// knowledge" (RFC 9113 §3.3). Over TLS, ALPN chose h2 first.
async fn sse_h2<T>(
    io: T,
    scheme: &str,
    plan: Plan,
    ready: UnboundedSender<()>,
    out: UnboundedSender<Receipt>,
) -> io::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut h2, connection) =
        h2::client::handshake(io).await.map_err(io::Error::other)?;
    tokio::spawn(connection);
    let url = format!("{scheme}://{}/events?after=0", plan.addr);
    let request = http::Request::get(url)
        .header("accept", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(())
        .map_err(io::Error::other)?;
    let (response, _) = h2.send_request(request, true).map_err(io::Error::other)?;
    let response = response.await.map_err(io::Error::other)?;
    if response.status() != 200 {
        return Err(io::Error::other(format!("status {}", response.status())));
    }
    let _ = ready.send(());
    let mut body = response.into_body();
    let mut stream = EventStream::default();
    while let Some(data) = body.data().await {
        let data = data.map_err(io::Error::other)?;
        // HTTP/2 flow control (RFC 9113 §5.2): give the window back,
        // or the server stops sending after 64 KiB.
        let _ = body.flow_control().release_capacity(data.len());
        for text in stream.feed(&data) {
            receipt_of(&text, plan.client, &out);
        }
    }
    Ok(())
}

/// What the page's `onmessage` sees: the data of each `message` event
/// in the body bytes so far. The parsing is the WHATWG one of
/// [`wire::sse::Parser`] (HTML §9.2.6), the same that reads the book's
/// transcripts; `onmessage` hears only the events of type `message`.
#[derive(Default)]
pub struct EventStream {
    parser: wire::sse::Parser,
    outputs: Vec<(usize, wire::sse::Output)>,
}

impl EventStream {
    /// Feeds body bytes; returns the data of each `message` event.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.parser.feed(bytes, &mut self.outputs);
        let outputs = self.outputs.drain(..).map(|(_, output)| output);
        outputs
            .filter_map(|output| match output {
                wire::sse::Output::Dispatch(event) if event.kind == "message" => {
                    Some(event.data)
                }
                _ => None,
            })
            .collect()
    }
}

/// Chapter 4's page: `new WebSocket(url, ["chat.v1"])`, one text frame
/// per message. tokio-tungstenite answers the server's pings.
async fn websocket(
    plan: Plan,
    ready: UnboundedSender<()>,
    out: UnboundedSender<Receipt>,
) -> io::Result<()> {
    let url = format!("ws://{}/ws?after=0", plan.addr);
    let mut request = url.into_client_request().map_err(io::Error::other)?;
    let protocol = HeaderValue::from_static("chat.v1");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol);
    let stream = TcpStream::connect(plan.addr).await?;
    stream.set_nodelay(true)?;
    // tungstenite zero-fills its whole read buffer (128 KiB by default)
    // before every read. For a thousand clients on the cores the
    // server uses, that would be the harness's cost, not the
    // server's: a browser has no such buffer. 4 KiB holds any frame of
    // this chat's size.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (mut socket, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .map_err(io::Error::other)?;
    let _ = ready.send(());
    while let Some(frame) = socket.next().await {
        match frame.map_err(io::Error::other)? {
            Frame::Text(text) => {
                receipt_of(text.as_str(), plan.client, &out);
            }
            Frame::Close(_) => break,
            _ => {}
        }
    }
    Ok(())
}

/// The floor: a bare TCP connection that receives one JSON line per
/// message, with no protocol around it.
async fn floor(
    plan: Plan,
    ready: UnboundedSender<()>,
    out: UnboundedSender<Receipt>,
) -> io::Result<()> {
    let stream = TcpStream::connect(plan.addr).await?;
    stream.set_nodelay(true)?;
    let _ = ready.send(());
    let mut lines = BufReader::new(stream).lines();
    while let Some(line) = lines.next_line().await? {
        receipt_of(&line, plan.client, &out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::EventStream;

    #[test]
    fn the_event_stream_parser_keeps_message_events() {
        let mut stream = EventStream::default();
        let body = "retry: 2000\n\n: heartbeat\nid: 1\nevent: message\n\
                    data: {\"id\":1}\n\nevent: reset\ndata: x\n\nid: 2\ndata: a\n";
        assert_eq!(stream.feed(body.as_bytes()), vec!["{\"id\":1}"]);
        assert_eq!(stream.feed(b"data: b\n\n"), vec!["a\nb"]);
    }
}
