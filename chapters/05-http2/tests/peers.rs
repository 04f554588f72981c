//! Real HTTP/2 clients that nobody here wrote: curl (with nghttp2
//! inside) streams events over h2c from `--addr` and over TLS + ALPN
//! `h2` from `--tls-addr`. Skipped (and says so) without curl; on CI
//! (`CI=true`) a missing curl fails instead (Debian package: `curl`).

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use ch05_http2::tls::Identity;
use ch05_http2::{serve, Config, Tls};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;
use wire::{Client, Request, Tap, TestServer};

/// Bounds a failure, not a speed: a passing test goes on at once.
const PATIENCE: Duration = Duration::from_secs(15);

/// True if curl runs and its HTTP/2 support is built in.
async fn curl_has_http2() -> bool {
    let version = Command::new("curl").arg("--version").output().await;
    let found = match version {
        Ok(out) => String::from_utf8_lossy(&out.stdout).contains("HTTP2"),
        Err(_) => false,
    };
    if found {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if ci {
        panic!("CI=true, so this test must run, but curl with HTTP/2 is missing");
    }
    let line = "skipped: curl with HTTP/2 support is not installed\n";
    let _ = std::io::stderr().write_all(line.as_bytes());
    false
}

/// Runs `curl args… url` and reads its output (response head with
/// `-i`, then the stream) until a line equals `until`; returns it all.
async fn curl_until(
    args: &[&str],
    url: &str,
    until: &str,
    post: impl AsyncFnOnce(),
) -> String {
    let mut child = Command::new("curl")
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("run curl");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let mut post = Some(post);
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let line = line.trim_end_matches('\r').to_owned();
            // Once the stream is open (its `retry:` line), post.
            if line.starts_with("retry: ") {
                if let Some(post) = post.take() {
                    post().await;
                }
            }
            let done = line == until;
            seen.push(line);
            if done {
                return;
            }
        }
        panic!("curl ended before {until:?}: {seen:?}");
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .unwrap_or_else(|_| panic!("no {until:?} from curl in {PATIENCE:?}"));
    let _ = child.kill().await;
    seen.join("\n")
}

// ANCHOR: peers
#[tokio::test]
async fn curl_streams_events_over_h2c_and_over_tls() {
    if !curl_has_http2().await {
        return;
    }
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
    // Posts go through a tap, as HTTP/1.1: one more transport at once.
    let tap = Tap::start(server.addr()).await.unwrap();
    let post = |text: &'static str| {
        let tap = &tap;
        async move || {
            let mut c = Client::connect(tap, "127.0.0.1:3005").await;
            let json = format!(r#"{{"user":"curl","text":"{text}"}}"#);
            let r = c.send(Request::post_json("/messages", &json)).await;
            assert_eq!(r.status, 201);
        }
    };

    // h2c: HTTP/2 from the first byte, no TLS, no upgrade.
    let h2c = format!("{}/events", server.url());
    let args = ["-sS", "-N", "-i", "--http2-prior-knowledge"];
    let out = curl_until(
        &args,
        &h2c,
        r#"data: {"id":1,"user":"curl","text":"h2c"}"#,
        post("h2c"),
    )
    .await;
    assert!(out.starts_with("HTTP/2 200"), "{out}");
    assert!(out.contains("content-type: text/event-stream"), "{out}");

    // TLS: ALPN picks h2. `-k`: the certificate is self-signed.
    let https = format!("https://{tls_addr}/events");
    let args = ["-sS", "-N", "-i", "--http2", "-k"];
    let out = curl_until(
        &args,
        &https,
        r#"data: {"id":2,"user":"curl","text":"tls"}"#,
        post("tls"),
    )
    .await;
    assert!(out.starts_with("HTTP/2 200"), "{out}");
    assert!(server.stop(PATIENCE).await, "the server did not stop");
}
// ANCHOR_END: peers
