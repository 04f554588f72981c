//! An `EventSource` to another origin, in a real Chromium. The page
//! comes from one chapter-3 server, the stream from another: two ports
//! on 127.0.0.1 are two origins (the same site, though). The test
//! records what Chromium sends, what the server answers, and what the
//! page gets, for each CORS answer (`--allow-origin`). Skipped (and
//! says so) where Chromium is not installed; on CI (`CI=true`) a
//! missing Chromium fails instead.

use std::net::SocketAddr;
use std::time::Duration;

use ch03_sse::cors::AllowOrigins;
use ch03_sse::{serve, serve_allowing, Config};
use serde_json::Value;
use wire::{Client, Dir, EventKind, Request, Tap, TestServer};

/// Bounds a failure, not a speed: a passing test goes on at once.
const PATIENCE: Duration = Duration::from_secs(15);

/// A stream server that allows `allow`, behind a tap, with one message.
async fn stream_server(allow: &[&str]) -> (TestServer, Tap) {
    let allow = AllowOrigins::new(allow.iter().map(|s| s.to_string()).collect());
    let config = Config {
        retry: Duration::from_millis(300),
        heartbeat: Duration::from_secs(3600),
        drain: Duration::ZERO,
        run: Some(chat::Run::named("b2")),
        ..Config::default()
    };
    let server = TestServer::start(|listener, shutdown| {
        serve_allowing(listener, config, allow, shutdown)
    })
    .await;
    let tap = Tap::start(server.addr()).await.unwrap();
    let mut ben = Client::connect(&tap, &tap.addr().to_string()).await;
    let json = r#"{"user":"ben","text":"hello"}"#;
    let posted = ben.send(Request::post_json("/messages", json)).await;
    assert_eq!(posted.status, 201);
    (server, tap)
}

/// Opens an EventSource to `url` in the page, and says what the page
/// got first: a message, or an error (with `readyState`).
async fn open(page: &wire::browser::Page, url: &str, credentials: bool) -> Value {
    let js = format!(
        r#"new Promise(done => {{
            if (window.es) window.es.close();
            const es = new EventSource("{url}", {{withCredentials: {credentials}}});
            window.es = es;
            es.addEventListener("message",
                e => done({{got: "message", data: JSON.parse(e.data).text}}));
            es.onerror = () => done({{got: "error", readyState: es.readyState}});
            setTimeout(() => done({{got: "nothing", readyState: es.readyState}}),
                5000);
        }})"#
    );
    page.eval(&js).await
}

/// The request heads Chromium sent to `/events` (GET or OPTIONS).
fn heads(events: &[wire::Event]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for event in events {
        if let EventKind::Data {
            dir: Dir::ToServer,
            bytes,
        } = &event.kind
        {
            let text = String::from_utf8_lossy(bytes).to_string();
            let line = text.lines().next().unwrap_or_default().to_owned();
            if line.contains(" /events") {
                found.push((event.conn, text));
            }
        }
    }
    found
}

/// What the server answered on `conn`: the status line and any CORS
/// header, in order.
fn answer(events: &[wire::Event], conn: usize) -> String {
    let mut bytes = Vec::new();
    for event in events {
        if event.conn != conn {
            continue;
        }
        if let EventKind::Data {
            dir: Dir::ToClient,
            bytes: b,
        } = &event.kind
        {
            bytes.extend_from_slice(b);
        }
    }
    let text = String::from_utf8_lossy(&bytes).to_string();
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = Vec::new();
    for (i, line) in head.split("\r\n").enumerate() {
        let lower = line.to_ascii_lowercase();
        if i == 0
            || lower.starts_with("access-control-")
            || lower.starts_with("vary")
        {
            lines.push(format!("    {line}"));
        }
    }
    lines.join("\n")
}

/// A request head as the book shows it: each line as sent, ports as
/// `[PORT]` / `[PAGE]`, and values that change with the Chromium build
/// or the machine as `[…]`.
fn show(head: &str, page: SocketAddr, stream: SocketAddr) -> String {
    let keep = [
        "host",
        "connection",
        "accept",
        "cache-control",
        "last-event-id",
        "origin",
        "sec-fetch-site",
        "sec-fetch-mode",
        "sec-fetch-dest",
        "referer",
        "cookie",
        "pragma",
        "access-control-request-method",
        "access-control-request-headers",
    ];
    let mut lines = Vec::new();
    for (i, line) in head.split("\r\n").enumerate() {
        if line.is_empty() {
            break;
        }
        let line = line
            .replace(&page.port().to_string(), "[PAGE]")
            .replace(&stream.port().to_string(), "[PORT]");
        let name = line.split(':').next().unwrap_or_default();
        let shown = if i == 0 || keep.contains(&name.to_ascii_lowercase().as_str()) {
            line.clone()
        } else {
            format!("{name}: […]")
        };
        lines.push(format!("    {shown}"));
    }
    lines.join("\n")
}

/// The first head in full; later ones as the lines that differ from it.
fn sent_text(shown: &str, first: &mut Option<String>) -> String {
    let Some(before) = first.as_deref() else {
        *first = Some(shown.to_owned());
        return format!("  Chromium sent:\n{shown}");
    };
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = shown.lines().filter(|l| !old.contains(l)).collect();
    let gone: Vec<&str> = old
        .iter()
        .copied()
        .filter(|l| !shown.lines().any(|s| s == *l))
        .collect();
    let mut text = String::from("  Chromium sent the same head as in 1");
    if !gone.is_empty() {
        text.push_str(&format!(", without:\n{}", gone.join("\n")));
    }
    if new.is_empty() {
        return text;
    }
    text.push_str(&format!(", and also:\n{}", new.join("\n")));
    text
}

#[tokio::test]
async fn chromium_reads_another_origin_only_when_cors_allows_it() {
    let Some(browser) = wire::browser::chromium().await else {
        return;
    };
    // The page's origin: a plain chapter-3 server.
    let home = TestServer::start(|listener, shutdown| {
        serve(listener, Config::default(), shutdown)
    })
    .await;
    let page_addr = home.addr();
    let origin = format!("http://127.0.0.1:{}", page_addr.port());
    let page = browser.page().await;
    page.goto(&format!("{origin}/")).await;
    // A cookie for the host 127.0.0.1. Cookies do not look at ports
    // (RFC 6265 §8.5), so the stream's origin gets it too, when the
    // request may carry credentials. SameSite=Lax: the two origins are
    // the same site, so SameSite does not stop it.
    page.eval(r#"document.cookie = "session=ana; SameSite=Lax; path=/""#)
        .await;

    let mut text = String::new();
    let mut first = None;
    let cases: [(&str, &[&str], bool); 5] = [
        ("no --allow-origin", &[], false),
        ("--allow-origin PAGE", &[origin.as_str()], false),
        ("--allow-origin PAGE", &[origin.as_str()], true),
        ("--allow-origin '*'", &["*"], false),
        ("--allow-origin '*'", &["*"], true),
    ];
    for (n, (flag, allow, credentials)) in cases.iter().enumerate() {
        let (server, tap) = stream_server(allow).await;
        let url = format!("http://{}/events?after=0", tap.addr());
        let got = open(&page, &url, *credentials).await;
        let stream_addr = tap.addr();
        text.push_str(&format!(
            "{}. server: {flag}; page: withCredentials: {credentials}\n",
            n + 1
        ));
        let sent = heads(&tap.events());
        assert_eq!(sent.len(), 1, "one request: {sent:?}");
        let (conn, head) = &sent[0];
        let shown = show(head, page_addr, stream_addr);
        text.push_str(&sent_text(&shown, &mut first));
        text.push_str("\n  the server answered:\n");
        text.push_str(
            &answer(&tap.events(), *conn)
                .replace(&origin, "http://127.0.0.1:[PAGE]"),
        );
        text.push_str(&format!("\n  the page got: {got}\n"));

        // Every request went out with the page's origin in `Origin`.
        let lower = head.to_ascii_lowercase();
        assert!(
            lower.contains(&format!("\r\norigin: {origin}\r\n")),
            "{head}"
        );
        // Refused: no allow-origin, or `*` with credentials.
        let refused = matches!((*allow, *credentials), ([], _) | (["*"], true));
        let allowed = !refused;
        if allowed {
            assert_eq!(got["got"], "message", "case {}: {got}", n + 1);
        } else {
            assert_eq!(got["got"], "error", "case {}: {got}", n + 1);
            // Refused by CORS: the browser fails the connection for good.
            assert_eq!(got["readyState"], 2, "EventSource.CLOSED");
        }
        // The cookie goes only with `withCredentials: true`.
        assert_eq!(
            lower.contains("cookie: session=ana"),
            *credentials,
            "{head}"
        );

        if n == 2 {
            // Cut the stream: Chromium reconnects by itself with
            // `Last-Event-ID`, a header that is not CORS-safelisted.
            tap.cut(*conn);
            tap.wait_until("a reconnect", PATIENCE, |events| {
                heads(events).len() >= 2
            })
            .await;
            let sent = heads(&tap.events());
            let (conn, head) = &sent[1];
            // No preflight (OPTIONS) came before it: Chromium sends
            // Last-Event-ID without asking first.
            assert!(head.starts_with("GET /events?after=0 "), "{head}");
            tap.wait_until("the reconnect's answer", PATIENCE, |events| {
                answer(events, *conn).contains("HTTP/1.1")
            })
            .await;
            let cut =
                "  the tap cut the stream; Chromium reconnected, no OPTIONS first:";
            text.push_str(cut);
            text.push('\n');
            let shown = show(head, page_addr, stream_addr);
            text.push_str(&sent_text(&shown, &mut first));
            text.push_str("\n  the server answered:\n");
            let answered = answer(&tap.events(), *conn);
            text.push_str(&answered.replace(&origin, "http://127.0.0.1:[PAGE]"));
            text.push('\n');
        }
        drop(server);
    }
    page.close().await;
    drop(home);
    wire::assert_transcript!("cross_origin", text);
}
