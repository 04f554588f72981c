//! A raw-socket HTTP/1.1 client for tests: it writes exactly the
//! bytes a test asks for, so the transcript shows no surprise header.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http1::{Dir, Http1, Piece};
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

/// One TCP connection through the tap.
pub struct Client {
    conn: usize,
    recording: Recording,
    /// Bytes written so far, to wait until the tap has them all.
    sent: usize,
    host: String,
    stream: TcpStream,
    decoder: Http1,
    pieces: VecDeque<Piece>,
    eof: bool,
}

/// How long a test waits for an answer before it fails. A bound for a
/// test that would hang, not a measure of speed.
pub const PATIENCE: Duration = Duration::from_secs(10);

impl Client {
    /// Connects to the tap; returns once the tap has the connection,
    /// so connections are numbered in the order a test opens them.
    pub async fn connect(tap: &Tap, host: &str) -> Client {
        let stream = TcpStream::connect(tap.addr())
            .await
            .expect("connect to the tap");
        stream.set_nodelay(true).expect("set TCP_NODELAY");
        let conn = tap.conn_of(stream.local_addr().unwrap()).await;
        Client {
            conn,
            recording: Recording::clone(tap),
            sent: 0,
            host: host.into(),
            stream,
            decoder: Http1::new(),
            pieces: VecDeque::new(),
            eof: false,
        }
    }

    /// The connection number in the transcript (`C1` is 1).
    pub fn conn(&self) -> usize {
        self.conn
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
        let mut ignored = Vec::new();
        // Our own decoder learns the method, to frame the response.
        self.decoder.feed(Dir::ToServer, bytes, &mut ignored);
        self.stream
            .write_all(bytes)
            .await
            .expect("write to the tap");
        self.sent += bytes.len();
        let (conn, sent) = (self.conn, self.sent);
        let what = format!("C{conn} to send {sent} bytes");
        let recorded = |events: &[Event]| bytes_in(events, conn, Dir::ToServer);
        let recording = &self.recording;
        recording
            .wait_until(&what, PATIENCE, |e| recorded(e) >= sent)
            .await;
    }

    /// Reads one whole response (skipping `1xx` interim ones).
    pub async fn response(&mut self) -> Response {
        loop {
            if let Some(end) =
                self.pieces.iter().position(|p| matches!(p, Piece::End(_)))
            {
                let pieces: Vec<Piece> = self.pieces.drain(..=end).collect();
                let response = Response::from_pieces(&pieces);
                if (100..200).contains(&response.status) && response.status != 101 {
                    continue;
                }
                return response;
            }
            if self.eof {
                panic!("C{}: the server closed before a whole response", self.conn);
            }
            self.read_more().await;
        }
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
                panic!("C{}: the server closed before a whole frame", self.conn);
            }
            self.read_more().await;
        }
    }

    async fn read_more(&mut self) {
        let mut buf = vec![0u8; 64 * 1024];
        let read = tokio::time::timeout(PATIENCE, self.stream.read(&mut buf));
        let n = read
            .await
            .unwrap_or_else(|_| panic!("C{}: no answer in {PATIENCE:?}", self.conn))
            .expect("read from the tap");
        let mut out = Vec::new();
        if n == 0 {
            self.eof = true;
            self.decoder.finish(Dir::ToClient, &mut out);
        } else {
            self.decoder.feed(Dir::ToClient, &buf[..n], &mut out);
        }
        self.pieces.extend(out);
    }

    /// Waits for the server to close the connection (after a response
    /// that said `connection: close`, for example).
    pub async fn expect_closed_by_server(&mut self) {
        while !self.eof {
            self.read_more().await;
        }
        self.wait_for_fin(Dir::ToClient).await;
    }

    /// Closes our side and waits until both FINs are in the recording,
    /// so what follows in a test is recorded after them.
    pub async fn close(mut self) {
        let _ = self.stream.shutdown().await;
        self.wait_for_fin(Dir::ToServer).await;
        while !self.eof {
            self.read_more().await;
        }
        self.wait_for_fin(Dir::ToClient).await;
    }

    async fn wait_for_fin(&self, dir: Dir) {
        let conn = self.conn;
        let what = format!("C{conn} to close {}", dir.arrow());
        self.recording
            .wait_until(&what, PATIENCE, |events| {
                let close = EventKind::Close { dir };
                events.iter().any(|e| e.conn == conn && e.kind == close)
            })
            .await;
    }
}
