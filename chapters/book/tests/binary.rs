//! `cargo run -p book` as a reader runs it: one `listening on` line for
//! the book and one per chapter, the pages and `chapters.json` at those
//! addresses, the flags, and a clean stop on SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use wire::process::Server;
use wire::{Client, Request, Tap};

const EXE: &str = env!("CARGO_BIN_EXE_book");

/// `GET path` from `addr`, on a connection of its own.
async fn get(addr: SocketAddr, path: &str) -> wire::Response {
    let tap = Tap::start(addr).await.unwrap();
    let mut client = Client::connect(&tap, "127.0.0.1").await;
    client.send(Request::get(path)).await
}

/// Starts the book with `flags` and reads its `listening on` lines:
/// one per chapter in `chapters`. Returns the server and each
/// chapter's name and address.
async fn start(
    flags: &[&str],
    chapters: &[book::Chapter],
) -> (Server, Vec<(&'static str, SocketAddr)>) {
    // `--addr 127.0.0.1:0`: the book and every chapter on free ports.
    let mut server = Server::start(EXE, flags).await;
    let mut addrs = Vec::new();
    for chapter in chapters {
        let line = next_line(&mut server).await;
        let (number, title) = (chapter.number, chapter.title);
        let tail = format!(" (chapter {number}: {title})\n");
        let addr = line
            .strip_prefix("listening on http://")
            .and_then(|rest| rest.strip_suffix(&tail))
            .unwrap_or_else(|| panic!("unexpected line: {line:?}"));
        addrs.push((chapter.name, addr.parse::<SocketAddr>().unwrap()));
    }
    (server, addrs)
}

async fn next_line(server: &mut Server) -> String {
    let mut line = String::new();
    let read = server.stdout.read_line(&mut line);
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("a line in 10 s")
        .unwrap();
    line
}

/// The pages, `chapters.json`, and each chapter's own chat page.
async fn check(server: &Server, chapters: &[(&str, SocketAddr)]) {
    let page = get(server.addr, "/03-sse.html").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains(r#"class="live-panel""#));
    let listed = get(server.addr, "/live/chapters.json").await.json();
    assert_eq!(listed["chapters"].as_array().unwrap().len(), chapters.len());
    for (i, (name, addr)) in chapters.iter().enumerate() {
        let entry = &listed["chapters"][i];
        assert_eq!(entry["name"], *name);
        assert_eq!(entry["url"], format!("http://{addr}/"));
        // Each chapter serves its own chat page.
        let chat = get(*addr, "/").await;
        assert_eq!(chat.status, 200, "{name}");
        assert!(chat.text().contains("<form id=\"send\">"), "{name}");
    }
}

#[tokio::test]
async fn serves_the_book_and_every_chapter_and_stops_on_sigterm() {
    let Some(redis) = wire::services::Redis::start().await else {
        return;
    };
    let url = redis.url();
    let all = book::chapters::all();
    let (server, chapters) = start(&["--redis", &url], &all).await;
    check(&server, &chapters).await;
    let status = server.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn without_redis_it_serves_the_others_and_says_why_not() {
    // A port where nothing listens: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let mut others = book::chapters::all();
    others.retain(|chapter| chapter.number != 7);
    let (mut server, chapters) = start(&["--redis", &url], &others).await;
    let why = next_line(&mut server).await;
    assert!(
        why.starts_with(&format!(
            "chapter 7 is not served: no Redis answers at {url}"
        )),
        "{why}"
    );
    assert!(why.contains("redis-server"), "{why}");
    check(&server, &chapters).await;
    let status = server.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn refuses_bad_flags_with_a_clear_message() {
    let documented = ["--addr", "--redis"];
    wire::process::assert_flags(EXE, &["--addr", "nowhere"], "--addr", &documented)
        .await;
}
