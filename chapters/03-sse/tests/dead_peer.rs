//! A client that stops reading and never closes: what finds it gone?
//!
//! The peer opens `GET /events`, reads the response head, and then
//! reads nothing more, with its socket still open. Another client
//! posts messages, so the server has plenty to write into the stream.
//! The server allows one stream at a time (`max_connections: 1`): a
//! second `GET /events` gets 503 while the dead stream holds its slot,
//! and 200 once the server has closed it. That is how the test sees,
//! from outside, when the server found the peer gone.
//!
//! Six servers run side by side: four ways to notice (one of them is
//! none), and for two of them a case with fewer messages. The table
//! they make is in chapter 3, "A client that is gone".

use std::net::SocketAddr;
use std::time::Duration;

use ch03_sse::{serve, Config};
use socket2::{SockRef, Socket, TcpKeepalive};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use wire::{Request, TestServer};

/// How long the test watches each server. A case that has not found
/// the peer gone by then is reported as "not found".
const WATCH: Duration = Duration::from_secs(6);

/// The one limit that each detecting case sets.
const LIMIT: Duration = Duration::from_secs(1);

// ANCHOR: cases
/// What a server does to notice a peer that reads nothing.
#[derive(Clone, Copy, Debug)]
enum Way {
    /// Nothing: the defaults of Linux and of the server.
    Nothing,
    /// TCP keepalive: a probe after 1 s idle, then every 1 s, 3 tries.
    Keepalive,
    /// `TCP_USER_TIMEOUT` = 1 s: the kernel aborts the connection when
    /// sent bytes stay unacknowledged that long (RFC 5482; tcp(7)).
    UserTimeout,
    /// `--write-timeout 1`: a write that waits 1 s closes it.
    WriteDeadline,
}
// ANCHOR_END: cases

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::Nothing => "nothing",
            Way::Keepalive => "TCP keepalive (1 s idle, 1 s, 3 probes)",
            Way::UserTimeout => "TCP_USER_TIMEOUT = 1 s",
            Way::WriteDeadline => "--write-timeout 1",
        }
    }
}

/// Starts chapter 3's server with `way`. Socket options set on the
/// listening socket are copied by Linux to each accepted socket.
async fn server(way: Way) -> TestServer {
    let config = Config {
        heartbeat: Duration::from_millis(200),
        drain: Duration::ZERO,
        max_connections: 1,
        write_timeout: match way {
            Way::WriteDeadline => Some(LIMIT),
            _ => None,
        },
        run: Some(chat::Run::named("d1")),
        ..Config::default()
    };
    TestServer::start(move |listener, shutdown| {
        let socket = SockRef::from(&listener);
        match way {
            Way::Keepalive => {
                let probes = TcpKeepalive::new()
                    .with_time(LIMIT)
                    .with_interval(LIMIT)
                    .with_retries(3);
                socket.set_tcp_keepalive(&probes).unwrap();
            }
            Way::UserTimeout => socket.set_tcp_user_timeout(Some(LIMIT)).unwrap(),
            Way::Nothing | Way::WriteDeadline => {}
        }
        serve(listener, config, shutdown)
    })
    .await
}

/// The dead peer: a small receive buffer (so that the server's writes
/// fill it soon), the request, the response head, then nothing.
async fn dead_peer(addr: SocketAddr) -> TcpStream {
    let socket =
        Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.set_nonblocking(true).unwrap();
    let socket = tokio::net::TcpSocket::from_std_stream(socket.into());
    let mut peer = socket.connect(addr).await.unwrap();
    let request = Request::event_stream("/events", None);
    peer.write_all(&request.to_bytes(&addr.to_string()))
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(peer.read_u8().await.unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"));
    peer
}

/// Posts `messages` messages of 1000 characters: each is an event of
/// about 1 KB. Linux grows a socket's send buffer up to 4 MiB (the
/// third number of `net.ipv4.tcp_wmem`), and hyper buffers some more;
/// a write waits only once all of that is full.
async fn post(addr: SocketAddr, messages: usize) {
    let mut poster = wire::client::connect(addr, &addr.to_string())
        .await
        .unwrap();
    let text = "x".repeat(1000);
    for _ in 0..messages {
        let posted = poster.send(Request::post_message("ben", &text)).await;
        assert_eq!(posted.status, 201);
    }
}

/// Whether a new stream is refused (503: the dead one holds the slot).
async fn slot_taken(addr: SocketAddr) -> bool {
    let mut probe = wire::client::connect(addr, &addr.to_string())
        .await
        .unwrap();
    probe.write(Request::event_stream("/events", None)).await;
    let head = probe.try_head().await.unwrap();
    match head.status {
        503 => true,
        200 => false,
        other => panic!("GET /events: {other}"),
    }
}

/// Runs one case: the time from the last post until the server closed
/// the dead peer's stream, or `None` if it did not within [`WATCH`].
async fn found_gone_after(way: Way, messages: usize) -> Option<Duration> {
    let server = server(way).await;
    let addr = server.addr();
    let _peer = dead_peer(addr).await;
    assert!(slot_taken(addr).await, "{way:?}: the stream holds its slot");
    post(addr, messages).await;
    let posted = Instant::now();
    while posted.elapsed() < WATCH {
        if !slot_taken(addr).await {
            return Some(posted.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// The table's words for a time: bounds, not the time itself, so
/// that the snapshot is the same every run.
fn outcome(way: Way, after: Option<Duration>) -> String {
    match after {
        None => format!("not found in {} s", WATCH.as_secs()),
        Some(t) => {
            assert!(t < WATCH, "{way:?}");
            format!("found within {} s", WATCH.as_secs())
        }
    }
}

// ANCHOR: test
/// Each way, and how many messages the other client posts meanwhile.
const CASES: [(Way, usize); 6] = [
    (Way::Nothing, 6000),
    (Way::Keepalive, 6000),
    (Way::UserTimeout, 1000),
    (Way::UserTimeout, 6000),
    (Way::WriteDeadline, 1000),
    (Way::WriteDeadline, 6000),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_limit_on_unsent_data_finds_a_peer_that_reads_nothing() {
    let runs = CASES.map(|(way, n)| tokio::spawn(found_gone_after(way, n)));
    let mut table = format!("{:<40} {:>5}  {}\n", "way", "posts", "the peer");
    for ((way, messages), run) in CASES.into_iter().zip(runs) {
        let after = run.await.unwrap();
        // The real times, for a reader who runs this with --nocapture.
        println!("{:<40} {messages:>5} {after:?}", way.name());
        let outcome = outcome(way, after);
        table += &format!("{:<40} {messages:>5}  {outcome}\n", way.name());
    }
    wire::assert_transcript!("dead_peer", table);
}
// ANCHOR_END: test
