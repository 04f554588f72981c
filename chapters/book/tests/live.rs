//! The book server with plain clients, no browser: where each chapter
//! is, the panel's event stream (its lines, footer and resume), and a
//! stop that ends every stream and closes every WebSocket with 1001.
//!
//! A tap of the test's own sits in front of the book, so the panel's
//! stream is read from the tap's recording, as a browser would read it
//! ([`wire::sse::events_in`]).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::LiveBook;
use wire::websocket::{Frame, OpCode};
use wire::{sse, Client, Request, Tap};

/// Bounds a failure, not a speed: a passing test goes on at once.
const PATIENCE: Duration = Duration::from_secs(15);

/// The panel stream's `line` events on `conn`: `(id, line)`.
fn lines(tap: &Tap, conn: usize) -> Vec<(String, String)> {
    let events = sse::events_in(&tap.events(), conn);
    let lines = events.into_iter().filter(|e| e.kind == "line");
    lines.map(|e| (e.last_id, e.data)).collect()
}

/// Waits until the panel on `conn` has a line that contains `needle`.
async fn wait_for_line(tap: &Tap, conn: usize, needle: &str) {
    let what = format!("a line with {needle:?} in the panel on C{conn}");
    tap.wait_until(&what, PATIENCE, |events| {
        let events = sse::events_in(events, conn);
        events
            .iter()
            .any(|e| e.kind == "line" && e.data.contains(needle))
    })
    .await;
}

/// Opens a panel's event stream for `chapter`, as `EventSource` does.
async fn panel(book: &Tap, chapter: &str, last_event_id: Option<&str>) -> Client {
    let mut panel = Client::connect(book, "127.0.0.1:3000").await;
    let mut request = Request::get(&format!("/live/{chapter}/wire"))
        .header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    panel.write(request).await;
    panel
}

/// Posts `text` to a chapter's chat, on a connection of its own.
async fn post(chapter: SocketAddr, text: &str) {
    let tap = Tap::start(chapter).await.unwrap();
    let mut client = Client::connect(&tap, "127.0.0.1").await;
    let json = format!(r#"{{"user":"ana","text":"{text}"}}"#);
    let answer = client.send(Request::post_json("/messages", &json)).await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    client.close().await;
}

async fn start() -> (LiveBook, Tap, tempfile::TempDir) {
    // The pages are not read here: an empty folder will do.
    let site = tempfile::tempdir().unwrap();
    let book = LiveBook::start(site.path().to_path_buf()).await;
    let tap = Tap::start(book.addr).await.unwrap();
    (book, tap, site)
}

#[tokio::test]
async fn chapters_json_gives_each_chapter_its_real_address() {
    let (book, tap, _site) = start().await;
    let mut client = Client::connect(&tap, "127.0.0.1:3000").await;
    let answer = client.send(Request::get("/live/chapters.json")).await;
    assert_eq!(answer.status, 200);
    let json = answer.json();
    let listed = json["chapters"].as_array().expect("a list of chapters");
    assert_eq!(listed.len(), book::chapters::all().len());
    for (entry, chapter) in listed.iter().zip(book::chapters::all()) {
        assert_eq!(entry["name"], chapter.name);
        // Not 300N: the test's free port, which the page must learn.
        let url = format!("http://{}/", book.chapters[chapter.name]);
        assert_eq!(entry["url"], url.as_str());
        assert_eq!(entry["wire"], format!("/live/{}/wire", chapter.name));
    }
    let unknown = client.send(Request::get("/live/99-nothing/wire")).await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn a_panel_shows_the_bytes_of_its_own_chapter_only() {
    let (book, tap, _site) = start().await;
    let one_panel = panel(&tap, "01-polling", None).await;
    let one = one_panel.conn();
    let two_panel = panel(&tap, "02-long-polling", None).await;
    let two = two_panel.conn();

    post(book.chapters["01-polling"], "for one").await;
    // The request line, CR LF made visible, as in every transcript.
    wait_for_line(&tap, one, "C1 → POST /messages HTTP/1.1\\r\\n").await;
    wait_for_line(&tap, one, r#"C1 ← {"id":1,"user":"ana","text":"for one"}"#).await;
    post(book.chapters["02-long-polling"], "for two").await;
    wait_for_line(&tap, two, r#"C1 → {"user":"ana","text":"for two"}"#).await;
    post(book.chapters["01-polling"], "one again").await;
    wait_for_line(&tap, one, "one again").await;

    let texts = |conn| -> String {
        let lines = lines(&tap, conn).into_iter().map(|(_, line)| line);
        lines.collect::<Vec<_>>().join("\n")
    };
    assert!(!texts(one).contains("for two"), "{}", texts(one));
    assert!(!texts(two).contains("for one"), "{}", texts(two));

    // The footer counts the bytes, as under every transcript.
    let footers: Vec<String> = sse::events_in(&tap.events(), one)
        .into_iter()
        .filter(|e| e.kind == "footer")
        .map(|e| e.data)
        .collect();
    let last = footers.last().expect("a footer");
    assert!(last.starts_with("bytes on the wire (payload"), "{last}");
    assert!(last.contains(" C1 →   1 request "), "{last}");
    assert!(last.contains(" C2 →   1 request "), "{last}");
}

#[tokio::test]
async fn a_panel_that_comes_back_misses_nothing_and_a_new_run_resets_it() {
    let (book, tap, _site) = start().await;
    let first_panel = panel(&tap, "03-sse", None).await;
    let first = first_panel.conn();
    post(book.chapters["03-sse"], "hello").await;
    wait_for_line(&tap, first, "hello").await;
    let seen = lines(&tap, first);
    assert!(seen.len() > 3, "{seen:#?}");

    // Back with the id of its second line: the stream goes on at the
    // third, as chapter 3's does with Last-Event-ID.
    let (second_id, _) = &seen[1];
    let back_panel = panel(&tap, "03-sse", Some(second_id)).await;
    let back = back_panel.conn();
    let third = seen[2].1.clone();
    wait_for_line(&tap, back, &third).await;
    assert_eq!(lines(&tap, back)[0], seen[2]);

    // An id of another run of the book server: `reset` first, then
    // the kept lines from the start.
    let other_panel = panel(&tap, "03-sse", Some("zzzzzz.2")).await;
    let other = other_panel.conn();
    wait_for_line(&tap, other, &third).await;
    let events = sse::events_in(&tap.events(), other);
    assert_eq!(events[0].kind, "reset", "{events:#?}");
    let again = lines(&tap, other);
    let same = again.iter().zip(&seen).take_while(|(a, b)| a == b).count();
    assert!(same >= 3, "{again:#?}\n{seen:#?}");
}

/// Ctrl-C on the book: each chapter stops as its own binary does. An
/// event stream of chapter 3 ends; a WebSocket of chapter 4 gets close
/// 1001 ("going away"); the panel's own stream ends; everything stops.
#[tokio::test]
async fn stopping_ends_every_stream_and_closes_every_websocket_with_1001() {
    let (book, tap, _site) = start().await;
    let panel = panel(&tap, "04-websocket", None).await;

    let sse_tap = Tap::start(book.chapters["03-sse"]).await.unwrap();
    let mut stream = Client::connect(&sse_tap, "127.0.0.1").await;
    stream.write(Request::get("/events")).await;
    let conn = stream.conn();
    sse_tap
        .wait_until("retry:", PATIENCE, |events| {
            !sse::outputs_in(events, conn).is_empty()
        })
        .await;

    let ws_tap = Tap::start(book.chapters["04-websocket"]).await.unwrap();
    let mut socket = Client::connect(&ws_tap, "127.0.0.1").await;
    let upgrade = Request::get("/ws")
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13");
    assert_eq!(socket.send(upgrade).await.status, 101);
    wait_for_line(&tap, panel.conn(), "HTTP/1.1 101 Switching Protocols").await;

    let stopped = tokio::spawn(book.stop(PATIENCE));
    let close = socket.frame().await;
    assert_eq!(close.opcode, OpCode::CLOSE);
    assert_eq!(close.payload[..2], 1001u16.to_be_bytes());
    let answer = Frame::close(1001, "").masked([1, 2, 3, 4]);
    socket.write_raw(&answer.encode()).await;
    socket.expect_closed_by_server().await;
    // The stream's response ends: the last chunk, `0\r\n\r\n`.
    assert_eq!(stream.response().await.status, 200);
    assert!(stopped.await.unwrap(), "the book did not stop");
    // The panel showed the close frame before its own stream ended.
    let mut panel = panel;
    assert_eq!(panel.response().await.status, 200);
    let shown = lines(&tap, panel.conn());
    let close_shown = shown.iter().any(|(_, l)| l.contains("op=0x8 close"));
    assert!(close_shown, "{shown:#?}");
}
