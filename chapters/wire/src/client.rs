//! A raw-socket HTTP/1.1 client: it writes exactly the bytes it is
//! asked to, so a transcript (or a byte count) shows no surprise
//! header, and it reads responses one by one, or a streaming body
//! piece by piece, with the same decoder the transcripts use.
//!
//! Two ways to connect. [`Client::connect`] goes through a [`Tap`], for
//! a test whose transcript is the point: each write returns once the
//! tap has recorded it. [`connect`] goes straight to a server, for a
//! test's side traffic or for chapter 6's harness.
//!
//! Two kinds of method. The short names (`send`, `response`, ...) are
//! for tests: they panic with a clear message, and wait at most
//! [`PATIENCE`] for an answer. The `try_` names return an
//! [`io::Error`] instead and wait as long as the server takes: a long
//! poll or an event stream may rightly stay quiet for minutes.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// The connection decoder, which follows a 101 to WebSocket frames.
use crate::connection::{Connection as Http1, Piece};
use crate::record::Dir;
use crate::tap::{bytes_in, Event, EventKind, Recording, Tap};

/// A request as a test writes it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, target: &str) -> Self {
        Request {
            method: method.into(),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `GET target`.
    pub fn get(target: &str) -> Self {
        Request::new("GET", target)
    }

    /// `POST target` with a JSON body, as `fetch` sends one.
    pub fn post_json(target: &str, json: &str) -> Self {
        Request::new("POST", target)
            .header("content-type", "application/json")
            .body(json)
    }

    /// `POST /messages` with the JSON the chat's page sends: `user`,
    /// then `text` (chapter 1).
    pub fn post_message(user: &str, text: &str) -> Self {
        let quote = |s: &str| serde_json::to_string(s).expect("a string");
        let json = format!(r#"{{"user":{},"text":{}}}"#, quote(user), quote(text));
        Request::post_json("/messages", &json)
    }

    // ANCHOR: event_stream
    /// What `new EventSource(target)` sends: the browser asks for an
    /// event stream, and on a reconnect it adds `Last-Event-ID`.
    pub fn event_stream(target: &str, last_event_id: Option<&str>) -> Self {
        let request = Request::get(target).header("accept", "text/event-stream");
        match last_event_id {
            Some(id) => request.header("last-event-id", id),
            None => request,
        }
    }
    // ANCHOR_END: event_stream

    /// Adds a header line.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body; `content-length` is added when it is written.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The bytes on the wire: request line, `host`, the headers, a
    /// `content-length` when there is a body and none was given.
    pub fn to_bytes(&self, host: &str) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        head.push_str(&format!("host: {host}\r\n"));
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let framed = self.headers.iter().any(|(n, _)| {
            n.eq_ignore_ascii_case("content-length")
                || n.eq_ignore_ascii_case("transfer-encoding")
        });
        if !framed && (!self.body.is_empty() || self.method == "POST") {
            head.push_str(&format!("content-length: {}\r\n", self.body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// A response as the client read it.
#[derive(Clone, Debug)]
pub struct Response {
    /// `HTTP/1.1 200 OK`
    pub start: String,
    pub status: u16,
    /// In order, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body without its framing (chunks joined).
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        let found = self.headers.iter().find(|(n, _)| *n == name);
        found.map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    fn from_pieces(pieces: &[Piece]) -> Response {
        let mut head = Vec::new();
        let mut body = Vec::new();
        for piece in pieces {
            if let Piece::Bytes { bytes, payload } = piece {
                if *payload {
                    body.extend_from_slice(bytes);
                } else if !head.ends_with(b"\r\n\r\n") {
                    head.extend_from_slice(bytes);
                }
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let mut lines = head.lines();
        let start = lines.next().unwrap_or("").to_owned();
        let status = start.split(' ').nth(1).and_then(|s| s.parse().ok());
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Response {
            start,
            status: status.unwrap_or(0),
            headers,
            body,
        }
    }
}

/// One TCP connection, through a tap or straight to a server.
pub struct Client {
    /// The connection number in the transcript, and the recording to
    /// wait on; `None` for a connection that no tap sees.
    tapped: Option<(usize, Recording)>,
    /// Bytes written so far, to wait until the tap has them all.
    sent: usize,
    host: String,
    stream: TcpStream,
    decoder: Http1,
    pieces: VecDeque<Piece>,
    /// The head of the response being read piece by piece, so far.
    head: Vec<u8>,
    eof: bool,
}

/// How long a test waits for an answer before it fails. A bound for a
/// test that would hang, not a measure of speed.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Connects straight to `addr`; `host` goes into every request's
/// `Host` header, which HTTP/1.1 requires (RFC 9112 §3.2).
pub async fn connect(addr: SocketAddr, host: &str) -> io::Result<Client> {
    let stream = TcpStream::connect(addr).await?;
    // A request is one small write: send it at once, as browsers do.
    stream.set_nodelay(true)?;
    Ok(Client::over(stream, host, None))
}

impl Client {
    /// Connects to the tap; returns once the tap has the connection,
    /// so connections are numbered in the order a test opens them.
    pub async fn connect(tap: &Tap, host: &str) -> Client {
        let stream = TcpStream::connect(tap.addr())
            .await
            .expect("connect to the tap");
        stream.set_nodelay(true).expect("set TCP_NODELAY");
        let conn = tap.conn_of(stream.local_addr().unwrap()).await;
        Client::over(stream, host, Some((conn, Recording::clone(tap))))
    }

    fn over(
        stream: TcpStream,
        host: &str,
        tapped: Option<(usize, Recording)>,
    ) -> Self {
        Client {
            tapped,
            sent: 0,
            host: host.into(),
            stream,
            decoder: Http1::new(),
            pieces: VecDeque::new(),
            head: Vec::new(),
            eof: false,
        }
    }

    /// The connection number in the transcript (`C1` is 1); 0 for a
    /// connection that no tap records.
    pub fn conn(&self) -> usize {
        self.tapped.as_ref().map_or(0, |(conn, _)| *conn)
    }

    /// The `Host` this client puts in its requests, for a caller that
    /// writes its own bytes with [`Request::to_bytes`].
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Sends `request` and reads the whole response.
    pub async fn send(&mut self, request: Request) -> Response {
        self.write(request).await;
        self.response().await
    }

    /// Sends `request` without waiting for the response.
    pub async fn write(&mut self, request: Request) {
        let bytes = request.to_bytes(&self.host);
        self.write_raw(&bytes).await;
    }

    /// Sends bytes exactly as given, and returns once the tap has
    /// recorded them: what the test does next is recorded after them.
    pub async fn write_raw(&mut self, bytes: &[u8]) {
        let conn = self.conn();
        if let Err(e) = self.try_write_raw(bytes).await {
            panic!("C{conn}: cannot write: {e}");
        }
        let Some((conn, recording)) = &self.tapped else {
            return;
        };
        let (conn, sent) = (*conn, self.sent);
        let what = format!("C{conn} to send {sent} bytes");
        let recorded = |events: &[Event]| bytes_in(events, conn, Dir::ToServer);
        recording
            .wait_until(&what, PATIENCE, |e| recorded(e) >= sent)
            .await;
    }

    /// Reads one whole response (skipping `1xx` interim ones).
    pub async fn response(&mut self) -> Response {
        let read = self.read_response(Some(PATIENCE)).await;
        read.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Reads the next WebSocket frame from the server (after a `101`
    /// to `websocket`, which [`Client::response`] reads), decoded with
    /// the codec of [`crate::websocket`].
    pub async fn frame(&mut self) -> crate::websocket::Frame {
        loop {
            let at = self
                .pieces
                .iter()
                .position(|p| matches!(p, Piece::Frame(_)));
            if let Some(at) = at {
                // Notes before the frame say nothing the test needs.
                if let Some(Piece::Frame(decoded)) =
                    self.pieces.drain(..=at).next_back()
                {
                    return decoded.frame;
                }
            }
            if self.eof {
                panic!("C{}: the server closed before a whole frame", self.conn());
            }
            self.read_patiently().await;
        }
    }

    /// Sends `request` and reads the whole response.
    pub async fn try_send(&mut self, request: Request) -> io::Result<Response> {
        self.try_write(request).await?;
        self.try_response().await
    }

    /// Sends `request` without waiting for the response.
    pub async fn try_write(&mut self, request: Request) -> io::Result<()> {
        let bytes = request.to_bytes(&self.host);
        self.try_write_raw(&bytes).await
    }

    /// Sends bytes exactly as given: a request framed by the caller,
    /// or several at once (pipelining, RFC 9112 §9.3.2).
    pub async fn try_write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut ignored = Vec::new();
        // Our own decoder learns the method, to frame the response.
        self.decoder.feed(Dir::ToServer, bytes, &mut ignored);
        self.stream.write_all(bytes).await?;
        self.sent += bytes.len();
        Ok(())
    }

    /// Reads one whole response (skipping `1xx` interim ones).
    pub async fn try_response(&mut self) -> io::Result<Response> {
        self.read_response(None).await
    }

    /// One whole response, each read waiting at most `limit`.
    async fn read_response(
        &mut self,
        limit: Option<Duration>,
    ) -> io::Result<Response> {
        loop {
            if let Some(end) =
                self.pieces.iter().position(|p| matches!(p, Piece::End(_)))
            {
                let pieces: Vec<Piece> = self.pieces.drain(..=end).collect();
                let response = Response::from_pieces(&pieces);
                if (100..200).contains(&response.status) && response.status != 101 {
                    continue;
                }
                return Ok(response);
            }
            if self.eof {
                return Err(closed(self.conn(), "a whole response"));
            }
            self.read_more(limit).await?;
        }
    }

    /// Reads the head of the next response (skipping `1xx` interim
    /// ones): its status and headers, with an empty body. The body
    /// follows from [`Client::try_body_part`], as it arrives: the way
    /// to read an endless `text/event-stream`.
    pub async fn try_head(&mut self) -> io::Result<Response> {
        loop {
            while let Some(piece) = self.pieces.pop_front() {
                // The decoder cuts a head into its lines; the rest before
                // the empty line is notes, or the end of an earlier
                // message nobody read to its end.
                let Piece::Bytes {
                    bytes,
                    payload: false,
                } = piece
                else {
                    continue;
                };
                self.head.extend_from_slice(&bytes);
                if !self.head.ends_with(b"\r\n\r\n") {
                    continue;
                }
                let head = Piece::Bytes {
                    bytes: std::mem::take(&mut self.head),
                    payload: false,
                };
                let response = Response::from_pieces(&[head]);
                let interim = (100..200).contains(&response.status);
                if !interim || response.status == 101 {
                    return Ok(response);
                }
            }
            if self.eof {
                return Err(closed(self.conn(), "a response head"));
            }
            self.read_more(None).await?;
        }
    }

    /// The next bytes of the body whose head [`Client::try_head`] read,
    /// without their framing (chunk sizes); `None` once the body ended.
    /// A part is whatever one read brought: not a whole chunk, nor an
    /// event.
    pub async fn try_body_part(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            while let Some(piece) = self.pieces.pop_front() {
                match piece {
                    Piece::Bytes {
                        bytes,
                        payload: true,
                    } => return Ok(Some(bytes)),
                    Piece::End(_) => return Ok(None),
                    // Chunk-size lines and the decoder's notes.
                    _ => {}
                }
            }
            if self.eof {
                return Err(closed(self.conn(), "the end of a body"));
            }
            self.read_more(None).await?;
        }
    }

    /// Reads what the server sent next, waiting at most `limit`, and
    /// cuts it into pieces.
    async fn read_more(&mut self, limit: Option<Duration>) -> io::Result<()> {
        let mut buf = [0u8; 16 * 1024];
        let read = self.stream.read(&mut buf);
        let n = match limit {
            None => read.await?,
            Some(limit) => {
                tokio::time::timeout(limit, read).await.map_err(|_| {
                    let why = format!("C{}: no answer in {limit:?}", self.conn());
                    io::Error::new(io::ErrorKind::TimedOut, why)
                })??
            }
        };
        let mut out = Vec::new();
        if n == 0 {
            self.eof = true;
            self.decoder.finish(Dir::ToClient, &mut out);
        } else {
            self.decoder.feed(Dir::ToClient, &buf[..n], &mut out);
        }
        self.pieces.extend(out);
        Ok(())
    }

    /// A test's read: at most [`PATIENCE`], and a panic on any error.
    async fn read_patiently(&mut self) {
        if let Err(e) = self.read_more(Some(PATIENCE)).await {
            panic!("{e}");
        }
    }

    /// Waits for the server to close the connection (after a response
    /// that said `connection: close`, for example).
    pub async fn expect_closed_by_server(&mut self) {
        while !self.eof {
            self.read_patiently().await;
        }
        self.wait_for_fin(Dir::ToClient).await;
    }

    /// Closes our side and waits until both FINs are in the recording,
    /// so what follows in a test is recorded after them.
    pub async fn close(mut self) {
        let _ = self.stream.shutdown().await;
        self.wait_for_fin(Dir::ToServer).await;
        while !self.eof {
            self.read_patiently().await;
        }
        self.wait_for_fin(Dir::ToClient).await;
    }

    async fn wait_for_fin(&self, dir: Dir) {
        let Some((conn, recording)) = &self.tapped else {
            return;
        };
        let conn = *conn;
        let what = format!("C{conn} to close {}", dir.arrow());
        recording
            .wait_until(&what, PATIENCE, |events| {
                let close = EventKind::Close { dir };
                events.iter().any(|e| e.conn == conn && e.kind == close)
            })
            .await;
    }
}

/// The error for a connection the server closed too early.
fn closed(conn: usize, before: &str) -> io::Error {
    let why = format!("C{conn}: the server closed before {before}");
    io::Error::new(io::ErrorKind::UnexpectedEof, why)
}
