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

// ANCHOR: limit
#[tokio::test]
async fn six_streams_over_http1_all_eight_over_h2() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
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
