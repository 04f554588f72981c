//! permessage-deflate (RFC 7692): what Chromium offers, what this
//! chapter's server answers, and the bytes of a compressed frame,
//! checked both ways against Python's `websockets`, which implements
//! the extension. Without Python and `websockets`, or Chromium, the
//! tests that need them say so and pass; on CI (`CI=true`) they fail.

use std::time::Duration;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use ch04_websocket::{serve, Config};
use wire::Scenario;

/// Bounds a failure, not a speed.
const PATIENCE: Duration = Duration::from_secs(20);

/// The four bytes a sync flush ends with (RFC 7692 §7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

// ANCHOR: deflate
/// One message, compressed as RFC 7692 §7.2.1 says: DEFLATE (RFC 1951,
/// no zlib header), flushed with a sync flush so that the message ends
/// on a byte boundary, and the sync flush's last four bytes `00 00 ff
/// ff` dropped. `compress` keeps its window between messages (context
/// takeover), or is new for every message (no context takeover).
fn deflate(compress: &mut Compress, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    compress
        .compress_vec(message, &mut out, FlushCompress::Sync)
        .expect("deflate");
    assert!(out.ends_with(&TAIL), "a sync flush ends with 00 00 ff ff");
    out.truncate(out.len() - TAIL.len());
    out
}

/// The receiver's side (§7.2.2): put the four bytes back, and inflate.
fn inflate(decompress: &mut Decompress, payload: &[u8]) -> Vec<u8> {
    let mut input = payload.to_vec();
    input.extend_from_slice(&TAIL);
    let mut out = Vec::with_capacity(input.len() * 10 + 256);
    decompress
        .decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .expect("inflate");
    out
}
// ANCHOR_END: deflate

/// A raw DEFLATE stream (no zlib header), with zlib's default level.
fn compressor() -> Compress {
    Compress::new(Compression::default(), false)
}

fn decompressor() -> Decompress {
    Decompress::new(false)
}

/// Bytes as hex pairs, 16 to a line.
fn hex(bytes: &[u8]) -> Vec<String> {
    bytes
        .chunks(16)
        .map(|line| {
            let pairs: Vec<String> =
                line.iter().map(|b| format!("{b:02x}")).collect();
            pairs.join(" ")
        })
        .collect()
}

/// Whether `python3 -c "import websockets"` works; if not, skip (or
/// fail under CI).
async fn python_websockets() -> bool {
    let probe = tokio::process::Command::new("python3")
        .args(["-c", "import websockets.asyncio.server"])
        .output()
        .await;
    if matches!(probe, Ok(out) if out.status.success()) {
        return true;
    }
    let why = "python3 with the `websockets` package (13 or newer) is \
               missing: pip install websockets";
    if std::env::var_os("CI").is_some_and(|v| v == "true") {
        panic!("{why}");
    }
    eprintln!("skipped: {why}");
    false
}

/// One frame as it came: its first two bytes, and its payload. The
/// peer's frames here are small and unmasked (a server's).
async fn read_frame(stream: &mut BufReader<TcpStream>) -> ([u8; 2], Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.expect("a frame header");
    let len = match head[1] & 0x7f {
        126 => {
            let mut n = [0u8; 2];
            stream.read_exact(&mut n).await.unwrap();
            u16::from_be_bytes(n) as usize
        }
        127 => panic!("a test frame is never that long"),
        n => n as usize,
    };
    assert_eq!(head[1] & 0x80, 0, "a server frame is not masked");
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.unwrap();
    (head, payload)
}

/// A masked client frame with first byte `b0` (FIN, RSV, opcode).
fn client_frame(b0: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    assert!(payload.len() < 126, "a short frame, 7-bit length");
    let mut frame = vec![b0, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

// ANCHOR: python
/// Our bytes against an implementation of RFC 7692: Python's
/// `websockets` inflates the frame we deflated, and we inflate the
/// frame it deflated. Both sides agree on no context takeover, so
/// every message is compressed on its own, and the bytes are the same
/// every run.
#[tokio::test]
async fn a_compressed_frame_both_ways_with_python_websockets() {
    if !python_websockets().await {
        return;
    }
    let script =
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/deflate_server.py");
    let mut python = tokio::process::Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start python3");
    let mut out = BufReader::new(python.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(PATIENCE, out.read_line(&mut line))
        .await
        .expect("the Python server printed its port")
        .unwrap();
    let port: u16 = line.trim().strip_prefix("port ").unwrap().parse().unwrap();

    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut stream = BufReader::new(stream);
    let offer = "permessage-deflate; client_no_context_takeover; \
                 server_no_context_takeover";
    let handshake = format!(
        "GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\n\
         connection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         sec-websocket-version: 13\r\nsec-websocket-extensions: {offer}\r\n\r\n"
    );
    stream.write_all(handshake.as_bytes()).await.unwrap();
    let mut head = String::new();
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let accepted = head
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Extensions: "))
        .unwrap_or_else(|| panic!("no extension accepted: {head}"))
        .to_owned();

    // Our frame: RSV1 set, the payload deflated.
    let message = br#"{"user":"ana","text":"hello, hello, hello from ana"}"#;
    let deflated = deflate(&mut compressor(), message);
    let key = [0x37, 0xfa, 0x21, 0x3d];
    // 0xc1: FIN, RSV1 (this message is compressed), opcode 1 (text).
    let sent = client_frame(0xc1, &deflated, key);
    stream.write_all(&sent).await.unwrap();

    // Its answer: RSV1 set, deflated by Python; we inflate it.
    let (their_head, their_payload) = read_frame(&mut stream).await;
    assert_eq!(their_head[0], 0xc1, "FIN, RSV1, text");
    let answer = inflate(&mut decompressor(), &their_payload);
    let echoed: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(echoed["got"].as_str().unwrap().as_bytes(), message);
    // Close: 1000, masked, then the peer's close back.
    // A close frame is a control frame: never compressed, no RSV1.
    let close = client_frame(0x88, &1000u16.to_be_bytes(), key);
    stream.write_all(&close).await.unwrap();
    let (close, _) = read_frame(&mut stream).await;
    assert_eq!(close[0], 0x88);
    drop(python.stdin.take());

    // One parameter a line: `permessage-deflate; a; b` as a list.
    let listed = |what: &str, value: &str| -> Vec<String> {
        let mut lines = vec![format!("{what}:")];
        lines.extend(value.split("; ").map(|p| format!("    {p}")));
        lines
    };
    let mut shown = listed("offered", offer);
    shown.extend(listed("accepted", &accepted));
    shown.extend([
        String::new(),
        format!("→ message: {} bytes", message.len()),
        format!("→   {}", String::from_utf8_lossy(message)),
        format!("→ deflated: {} bytes", deflated.len()),
        format!(
            "→ header {:02x} {:02x}: FIN=1 RSV1=1 (compressed) \
             opcode=1 MASK=1 length={}",
            sent[0],
            sent[1],
            deflated.len()
        ),
    ]);
    shown.extend(hex(&deflated).into_iter().map(|l| format!("→   {l}")));
    shown.push(String::new());
    shown.push(format!(
        "← header {:02x} {:02x}: FIN=1 RSV1=1 (compressed) \
         opcode=1 MASK=0 length={}",
        their_head[0],
        their_head[1],
        their_payload.len()
    ));
    shown.extend(hex(&their_payload).into_iter().map(|l| format!("←   {l}")));
    shown.push(format!("← inflated: {} bytes", answer.len()));
    shown.push(format!("←   {}", String::from_utf8_lossy(&answer)));
    wire::assert_transcript!("deflate_python", shown.join("\n"));
}
// ANCHOR_END: python

// ANCHOR: chromium
/// What a real browser offers, and what this chapter's server says:
/// nothing. tungstenite does not implement the extension, so the
/// server leaves `Sec-WebSocket-Extensions` out of its 101, and by
/// RFC 6455 §9.1 no extension is in use: every frame goes as it is.
#[tokio::test]
async fn chromium_offers_deflate_and_the_server_declines() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    // The server behind a tap, which records the handshake.
    let s = Scenario::start("127.0.0.1:3004", |listener, shutdown| {
        serve(listener, Config::default(), shutdown)
    })
    .await;
    let page = browser.page().await;
    page.goto(&format!("http://{}/", s.tap.addr())).await;
    page.wait_for_text("#frames", "open (subprotocol chat.v1)", PATIENCE)
        .await;
    page.close().await;

    let mut request = String::new();
    let mut response = String::new();
    for event in s.tap.events() {
        if let wire::EventKind::Data { bytes, .. } = &event.kind {
            let text = String::from_utf8_lossy(bytes);
            if text.starts_with("GET /ws") {
                request = text.into_owned();
            } else if text.starts_with("HTTP/1.1 101") {
                response = text.into_owned();
            }
        }
    }
    let offer = request
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(": ")?;
            name.eq_ignore_ascii_case("sec-websocket-extensions")
                .then_some(value)
        })
        .unwrap_or_else(|| panic!("no offer in {request}"));
    assert_eq!(offer, "permessage-deflate; client_max_window_bits");
    let answered = response.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("sec-websocket-extensions")
    });
    assert!(!answered, "the server accepted an extension: {response}");
    let shown = format!(
        "Chromium offers:\n    sec-websocket-extensions: {offer}\n\
         the server answers:\n    no sec-websocket-extensions line in its 101"
    );
    wire::assert_transcript!("deflate_chromium_offer", shown);
}
// ANCHOR_END: chromium

// ANCHOR: sizes
/// What compression saves on the chat's own messages: each message
/// alone (no context takeover), and each message with the window of
/// the ones before it (context takeover), against the bytes of the
/// plain payload.
#[test]
fn what_deflate_saves_on_chat_messages() {
    let texts = [
        "hello",
        "hello ana",
        "are you there?",
        "yes, I am here. What is new?",
        "the build is green again, and the book has a new chapter",
        "see you tomorrow",
        "hello ben",
        "hello ana, are you there?",
    ];
    let messages: Vec<String> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let user = if i % 2 == 0 { "ana" } else { "ben" };
            let id = i + 1;
            format!(r#"{{"id":{id},"user":"{user}","text":"{text}"}}"#)
        })
        .collect();
    let mut taking = compressor();
    let mut rows = vec![format!(
        "{:>3} {:>6} {:>10} {:>10}",
        "id", "plain", "alone", "with ctx"
    )];
    let (mut plain, mut alone, mut context) = (0, 0, 0);
    let mut checking = decompressor();
    for (i, message) in messages.iter().enumerate() {
        let own = deflate(&mut compressor(), message.as_bytes()).len();
        let taken = deflate(&mut taking, message.as_bytes());
        // The receiver keeps its window too, and gets the message back.
        assert_eq!(inflate(&mut checking, &taken), message.as_bytes());
        rows.push(format!(
            "{:>3} {:>6} {:>10} {:>10}",
            i + 1,
            message.len(),
            own,
            taken.len()
        ));
        plain += message.len();
        alone += own;
        context += taken.len();
    }
    rows.push(format!("all {plain:>6} {alone:>10} {context:>10}"));
    wire::assert_transcript!("deflate_sizes", rows.join("\n"));
    // Alone, these small messages grow: a DEFLATE block's header and
    // its codes cost more than the repeats found in 40 bytes.
    assert!(alone > plain);
    // With the window of earlier messages, the repeated JSON keys and
    // names cost almost nothing.
    assert!(context < plain);
}
// ANCHOR_END: sizes
