//! A small HTTP/1.1 client on a raw socket: the harness's polling,
//! long-polling and event-stream clients, and its poster.
//!
//! It writes exactly the request head it is given, so the bytes the
//! tap counts are the bytes this file writes, and nothing hidden.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One response: status, headers (names in lower case), whole body.
#[derive(Debug, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.as_str())
    }
}

/// One keep-alive connection.
pub struct Http {
    stream: TcpStream,
    /// Bytes read but not used yet (the next response's start).
    buf: Vec<u8>,
    /// `host:port`, for the `Host` header every HTTP/1.1 request
    /// must carry (RFC 9112 §3.2).
    pub host: String,
}

fn broken(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_owned())
}

impl Http {
    pub async fn connect(addr: SocketAddr) -> io::Result<Http> {
        let stream = TcpStream::connect(addr).await?;
        // A request is one small write; send it at once, as browsers do.
        stream.set_nodelay(true)?;
        Ok(Http {
            stream,
            buf: Vec::new(),
            host: addr.to_string(),
        })
    }

    /// Writes a request: `head` holds the request line and any headers
    /// after `Host`, each ending in CR LF, without the empty line.
    pub async fn write(&mut self, head: &str, body: &[u8]) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(head.len() + body.len() + 64);
        let mut lines = head.splitn(2, "\r\n");
        let start = lines.next().unwrap_or("");
        let rest = lines.next().unwrap_or("");
        bytes.extend_from_slice(start.as_bytes());
        bytes.extend_from_slice(b"\r\nhost: ");
        bytes.extend_from_slice(self.host.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(rest.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body);
        self.stream.write_all(&bytes).await
    }

    /// Writes `bytes` as they are: requests the caller framed itself.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Writes a request and reads its whole response.
    pub async fn request(
        &mut self,
        head: &str,
        body: &[u8],
    ) -> io::Result<Response> {
        self.write(head, body).await?;
        self.response().await
    }

    /// `POST /messages` with a JSON body; returns the stored message.
    pub async fn post(&mut self, json: &str) -> io::Result<Response> {
        let head = format!(
            "POST /messages HTTP/1.1\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n",
            json.len()
        );
        self.request(&head, json.as_bytes()).await
    }

    /// Reads one response head, then a body framed by
    /// `content-length` (RFC 9112 §6.3). 204 and 304 have no body.
    pub async fn response(&mut self) -> io::Result<Response> {
        let mut response = self.head().await?;
        if response.status == 204 || response.status == 304 {
            return Ok(response);
        }
        if response.header("transfer-encoding").is_some() {
            return Err(broken("a chunked body where a whole one was expected"));
        }
        let length = response
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .ok_or_else(|| broken("no content-length"))?;
        response.body = self.exactly(length).await?;
        Ok(response)
    }

    /// Reads the status line and headers, up to the empty line.
    pub async fn head(&mut self) -> io::Result<Response> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return parse_head(&head);
            }
            self.fill().await?;
        }
    }

    /// One chunk of a chunked body (RFC 9112 §7.1): its data, or
    /// `None` for the last, empty chunk.
    pub async fn chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        let line = loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..end + 2).collect();
                break line;
            }
            self.fill().await?;
        };
        let text = std::str::from_utf8(&line[..line.len() - 2])
            .map_err(|_| broken("chunk size"))?;
        let hex = text.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(hex, 16).map_err(|_| broken("chunk size"))?;
        let data = self.exactly(size + 2).await?;
        if size == 0 {
            return Ok(None);
        }
        Ok(Some(data[..size].to_vec()))
    }

    async fn exactly(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            self.fill().await?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    async fn fill(&mut self) -> io::Result<()> {
        let mut more = [0u8; 16 * 1024];
        let n = self.stream.read(&mut more).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&more[..n]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(head: &[u8]) -> io::Result<Response> {
    let text = std::str::from_utf8(head).map_err(|_| broken("head not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| broken("status line"))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: Vec::new(),
    })
}
