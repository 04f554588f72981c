//! The connection limit, in a real browser. A page opens eight event
//! streams. Over `http://` (HTTP/1.1) Chromium opens at most six
//! connections to one host, and each open stream holds one: two
//! streams wait. Over `https://` (HTTP/2 by ALPN) all eight are
//! streams on one connection. Skipped (and says so) where Chromium is
//! not installed; on CI (`CI=true`) a missing Chromium fails instead.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ch05_http2::tls::Identity;
use ch05_http2::{serve, Config, Tls};
use serde_json::json;
use tokio::net::TcpListener;
use wire::{Dir, EventKind, Tap, TestServer};

/// Bounds a failure, not a speed: a passing test goes on at once.
const PATIENCE: Duration = Duration::from_secs(20);

/// The tapped connections that carried a request for an event stream.
fn stream_conns(events: &[wire::Event]) -> BTreeSet<usize> {
    let mut conns = BTreeSet::new();
    for event in events {
        if let EventKind::Data {
            dir: Dir::ToServer,
            bytes,
        } = &event.kind
        {
            let text = String::from_utf8_lossy(bytes);
            if text.contains("/events HTTP/1.1") {
                conns.insert(event.conn);
            }
        }
    }
    conns
}

/// The TLS connections on which the client sent more than its
/// handshake: the ClientHello (the first read) and the Finished
/// message (64 bytes in TLS 1.3 here). An HTTP/2 request adds the
/// preface and a HEADERS frame, more than 128 bytes once encrypted.
fn carried_requests(events: &[wire::Event]) -> usize {
    let mut up: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for event in events {
        if let EventKind::Data {
            dir: Dir::ToServer,
            bytes,
        } = &event.kind
        {
            up.entry(event.conn).or_default().push(bytes.len());
        }
    }
    let after_hello = |reads: &Vec<usize>| reads[1..].iter().sum::<usize>();
    up.values().filter(|reads| after_hello(reads) > 128).count()
}

/// The chapter's server on both listeners: plain (the test server's
/// address) and TLS, with a self-signed certificate (returned address).
async fn start_with_tls() -> (TestServer, std::net::SocketAddr) {
    let tls_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_addr = tls_listener.local_addr().unwrap();
    let tls = Tls {
        listener: tls_listener,
        acceptor: Identity::self_signed().acceptor().unwrap(),
    };
    let mut config = Config::default();
    config.sse.drain = Duration::ZERO;
    let server = TestServer::start(|listener, shutdown| {
        serve(listener, Some(tls), config, shutdown)
    })
    .await;
    (server, tls_addr)
}

// ANCHOR: limit
#[tokio::test]
async fn six_streams_over_http1_all_eight_over_h2() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let (server, tls_addr) = start_with_tls().await;

    // http:// — HTTP/1.1, through a tap that counts the connections.
    let tap = Tap::start(server.addr()).await.unwrap();
    let page = browser.page().await;
    page.goto(&format!("http://{}/limit.html", tap.addr()))
        .await;
    page.wait_for_text("#status", "6 of 8 streams open", PATIENCE)
        .await;
    // Rooms 7 and 8 wait: CONNECTING (0), not OPEN (1).
    let states = page.eval("limit.states()").await;
    assert_eq!(states, json!([1, 1, 1, 1, 1, 1, 0, 0]));
    // Six connections carry the six streams, one each.
    assert_eq!(stream_conns(&tap.events()).len(), 6);
    // Closing one frees its connection's slot: room 7 opens at once.
    // It was waiting in the browser's queue, not failed.
    page.eval("limit.close(1)").await;
    page.wait_for_text("#status", "7 of 8 streams open", PATIENCE)
        .await;
    let protocol = page.text("#protocol").await;
    assert_eq!(protocol, "this page came over http/1.1");
    page.close().await;

    // https:// — HTTP/2, also through a tap: it cannot read the bytes
    // (TLS), but it counts the TCP connections.
    let tls_tap = Tap::start(tls_addr).await.unwrap();
    let page = browser
        .page_with_flags(&["--ignore-certificate-errors"])
        .await;
    page.goto(&format!("https://{}/limit.html", tls_tap.addr()))
        .await;
    page.wait_for_text("#status", "8 of 8 streams open", PATIENCE)
        .await;
    let protocol = page.text("#protocol").await;
    assert_eq!(protocol, "this page came over h2");
    // The page, its scripts and all eight streams: one connection.
    // Chromium may open a spare connection while it does not yet know
    // that the server speaks HTTP/2; it ends the TLS handshake on it
    // and then sends nothing more. The tap cannot read TLS, but it
    // can count: only one connection carried requests.
    assert_eq!(carried_requests(&tls_tap.events()), 1);
    page.close().await;
    assert!(server.stop(PATIENCE).await, "the server did not stop");
}
// ANCHOR_END: limit

/// A page open over HTTPS and HTTP/2 while the server restarts. The
/// helper's listener is the TLS one (the page's address); the plain
/// listener is on a free port of its own, unused here.
#[tokio::test]
async fn the_page_survives_a_restart_over_h2() {
    let flags = ["--ignore-certificate-errors"];
    wire::restart::over("https", &flags, |listener, shutdown, run| {
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        plain.set_nonblocking(true).unwrap();
        let plain = TcpListener::from_std(plain).unwrap();
        let tls = Tls {
            listener,
            acceptor: Identity::self_signed().acceptor().unwrap(),
        };
        let mut config = Config::default();
        config.sse.run = Some(chat::Run::named(run));
        config.sse.retry = Duration::from_millis(300);
        config.sse.drain = Duration::ZERO;
        serve(plain, Some(tls), config, shutdown)
    })
    .await;
}

/// Polls `js` in the page until it is true: a bound on a failure.
async fn wait_until(page: &wire::browser::Page, what: &str, js: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while page.eval(js).await != json!(true) {
        let log = page.eval("window.seen").await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {PATIENCE:?}; the socket saw {log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ANCHOR: websocket_h2
/// Over https:// and h2, Chromium opens the chat's socket as a stream
/// of the connection it already has (RFC 8441): its NetLog shows the
/// extended CONNECT it sent, and the tap sees no second connection.
#[tokio::test]
async fn chromium_opens_the_socket_as_a_stream_of_its_h2_connection() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    let (server, tls_addr) = start_with_tls().await;
    let tls_tap = Tap::start(tls_addr).await.unwrap();
    // Chromium's NetLog: every HTTP/2 frame it sends, headers included.
    let dir = tempfile::tempdir().unwrap();
    let netlog = dir.path().join("netlog.json");
    let log_flag = format!("--log-net-log={}", netlog.display());
    let flags = [
        "--ignore-certificate-errors",
        log_flag.as_str(),
        "--net-log-capture-mode=Everything",
    ];
    let page = browser.page_with_flags(&flags).await;
    page.goto(&format!("https://{}/limit.html", tls_tap.addr()))
        .await;
    page.wait_for_text("#status", "8 of 8 streams open", PATIENCE)
        .await;
    // The page's own code would do the same: `new WebSocket(url)`.
    page.eval(
        "(() => {
            window.seen = [];
            const url = 'wss://' + location.host + '/ws?after=0';
            window.ws = new WebSocket(url, ['chat.v1']);
            ws.onopen = () => seen.push('open ' + ws.protocol);
            ws.onmessage = (e) => seen.push(e.data);
            ws.onclose = (e) => seen.push('close ' + e.code);
            return true;
        })()",
    )
    .await;
    wait_until(&page, "the socket opens", "seen.includes('open chat.v1')").await;
    // A message from curl's side of the chat, over plain HTTP/1.1.
    let mut poster = wire::client::connect(server.addr(), "127.0.0.1")
        .await
        .unwrap();
    let json = r#"{"user":"ben","text":"from http/1.1"}"#;
    let post = wire::Request::post_json("/messages", json);
    assert_eq!(poster.send(post).await.status, 201);
    let got = "seen.some((m) => m.includes('from http/1.1'))";
    wait_until(&page, "ben's message on the socket", got).await;
    // And one sent up the socket by the page.
    page.eval("ws.send(JSON.stringify({user: 'ana', text: 'over h2'}))")
        .await;
    let got = "seen.some((m) => m.includes('over h2'))";
    wait_until(&page, "ana's message back", got).await;
    // The page, its eight streams and the socket: one connection.
    assert_eq!(carried_requests(&tls_tap.events()), 1);
    // Chromium writes the end of its NetLog as it quits.
    page.close().await;
    let log = std::fs::read_to_string(&netlog).unwrap();
    assert!(log.contains(":method: CONNECT"), "no CONNECT in the NetLog");
    assert!(log.contains(":protocol: websocket"), "no :protocol");
    // No HTTP/1.1 handshake was sent anywhere.
    assert!(!log.to_ascii_lowercase().contains("upgrade: websocket"));
    assert!(server.stop(PATIENCE).await, "the server did not stop");
}
// ANCHOR_END: websocket_h2
