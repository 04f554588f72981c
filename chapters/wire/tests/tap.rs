//! The tap records every byte, each way, per connection, in order, and
//! the `wire` binary shows the same conversation live.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use wire::{Dir, EventKind, Tap};

/// A server that answers every chunk it reads with "ok:" + the chunk,
/// and closes when the client does.
async fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let mut answer = b"ok:".to_vec();
                    answer.extend_from_slice(&buf[..n]);
                    if stream.write_all(&answer).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

async fn exchange(stream: &mut TcpStream, text: &str) -> String {
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 3 + text.len()];
    stream.read_exact(&mut buf).await.unwrap();
    String::from_utf8(buf).unwrap()
}

#[tokio::test]
async fn records_each_connection_in_the_order_things_happened() {
    let tap = Tap::start(echo_server().await).await.unwrap();
    let mut a = TcpStream::connect(tap.addr()).await.unwrap();
    assert_eq!(tap.conn_of(a.local_addr().unwrap()).await, 1);
    let mut b = TcpStream::connect(tap.addr()).await.unwrap();
    assert_eq!(tap.conn_of(b.local_addr().unwrap()).await, 2);
    assert_eq!(exchange(&mut a, "one").await, "ok:one");
    assert_eq!(exchange(&mut b, "two").await, "ok:two");
    assert_eq!(exchange(&mut a, "three").await, "ok:three");

    let data: Vec<(usize, Dir, Vec<u8>)> = tap
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Data { dir, bytes } => Some((e.conn, dir, bytes)),
            _ => None,
        })
        .collect();
    let expected: Vec<(usize, Dir, Vec<u8>)> = vec![
        (1, Dir::ToServer, b"one".to_vec()),
        (1, Dir::ToClient, b"ok:one".to_vec()),
        (2, Dir::ToServer, b"two".to_vec()),
        (2, Dir::ToClient, b"ok:two".to_vec()),
        (1, Dir::ToServer, b"three".to_vec()),
        (1, Dir::ToClient, b"ok:three".to_vec()),
    ];
    assert_eq!(data, expected);

    // Closing: the client's FIN, then the server's, both recorded.
    a.shutdown().await.unwrap();
    let mut rest = Vec::new();
    a.read_to_end(&mut rest).await.unwrap();
    let closes = |events: &[wire::Event]| {
        events
            .iter()
            .filter(|e| e.conn == 1 && matches!(e.kind, EventKind::Close { .. }))
            .count()
    };
    tap.wait_until("both FINs of C1", Duration::from_secs(10), |events| {
        closes(events) == 2
    })
    .await;
}

#[tokio::test]
async fn the_wire_binary_prints_the_conversation_live() {
    let server = echo_server().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_wire"))
        .args(["--listen", "127.0.0.1:0", "--to", &server.to_string()])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    // "tapping http://127.0.0.1:PORT → SERVER"
    let addr = first
        .strip_prefix("tapping http://")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    let mut client = TcpStream::connect(&addr).await.unwrap();
    let request = "GET /x HTTP/1.1\r\nhost: a\r\n\r\n";
    client.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let wanted = r"C1 → GET /x HTTP/1.1\r\n";
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let done = line == wanted;
            seen.push(line);
            if done {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "the tap printed: {seen:#?}");
}

#[tokio::test]
async fn a_held_direction_waits_until_released() {
    let tap = Tap::start(echo_server().await).await.unwrap();
    let mut a = TcpStream::connect(tap.addr()).await.unwrap();
    let conn_a = tap.conn_of(a.local_addr().unwrap()).await;
    let mut b = TcpStream::connect(tap.addr()).await.unwrap();
    tap.conn_of(b.local_addr().unwrap()).await;

    // The server answers A at once, but the tap holds that answer.
    tap.hold(conn_a, Dir::ToClient);
    a.write_all(b"first").await.unwrap();
    let what = "the tap to pass on `first`";
    tap.wait_until(what, Duration::from_secs(10), |events| {
        wire::tap::bytes_in(events, conn_a, Dir::ToServer) == 5
    })
    .await;
    assert_eq!(exchange(&mut b, "second").await, "ok:second");
    tap.release(conn_a, Dir::ToClient);
    let mut answer = [0u8; 8];
    a.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"ok:first");

    let order: Vec<(usize, Dir)> = tap
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Data { dir, .. } => Some((e.conn, dir)),
            _ => None,
        })
        .collect();
    let expected = [
        (1, Dir::ToServer),
        (2, Dir::ToServer),
        (2, Dir::ToClient),
        (1, Dir::ToClient),
    ];
    assert_eq!(order, expected);
}
