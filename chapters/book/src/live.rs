//! One chapter's wire, live: the tap's events, decoded as they happen,
//! and the event stream that carries the lines to the page's panel.
//!
//! The book uses its own chapter 3 here. A panel is an `EventSource`
//! on `GET /live/NN-name/wire`; each decoded line is one event, with an
//! `id:` (`RUN.N`), so a panel that lost its connection resumes with
//! `Last-Event-ID` and misses nothing that is still kept. The events
//! are written with chapter 3's own helpers ([`ch03_sse::format`]).
//!
//! - `event: line`, `data: C1 → GET / HTTP/1.1\r\n`: one line, exactly
//!   as a transcript in the book shows it ([`render_row`]).
//! - `event: footer`: the transcript's footer, the byte counts so far.
//! - `event: skipped`: how many older lines were not kept (a panel that
//!   was away too long, or opened late).
//! - `event: reset`: the panel's `Last-Event-ID` is from another run of
//!   the book server: it drops its lines, and the lines start again.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ch03_sse::format;
use chat::server::Shutdown;
use chat::{Cursor, Run};
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};
use wire::transcript::{footer, render_row, Decoder, Normalizer};
use wire::Event;

use crate::Chapter;

/// How many lines the book keeps per chapter, for panels that open
/// late or come back. The panel keeps as many (see `panel.js`).
pub const KEPT: usize = 500;

/// How long a panel waits before it reconnects (`retry:`).
const RETRY: Duration = Duration::from_secs(1);

/// One chapter's decoded wire. Cloning it is cheap: the decoder task
/// and every panel's stream share one.
#[derive(Clone)]
pub struct Wire {
    chapter: Chapter,
    /// Where a browser reaches the chapter: its tap.
    tap: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    /// This run of the book server: the first part of every line's id.
    run: Run,
    lines: Mutex<Lines>,
    /// The id of the newest line; panels wait for it to change.
    newest: watch::Sender<u64>,
}

#[derive(Default)]
struct Lines {
    /// The newest [`KEPT`] lines, oldest first, each with its id.
    kept: VecDeque<(u64, String)>,
    /// The id of the newest line; the first line has id 1.
    newest: u64,
    /// The footer after the newest line.
    footer: String,
}

/// What a panel has not seen yet.
#[derive(Debug, PartialEq, Eq)]
pub struct News {
    /// Lines after the panel's cursor that are no longer kept.
    pub skipped: u64,
    /// The kept lines after the panel's cursor, with their ids.
    pub lines: Vec<(u64, String)>,
    pub footer: String,
}

impl Wire {
    pub fn new(chapter: Chapter, tap: SocketAddr) -> Self {
        let shared = Shared {
            run: Run::random(),
            lines: Mutex::new(Lines::default()),
            newest: watch::Sender::new(0),
        };
        Wire {
            chapter,
            tap,
            shared: Arc::new(shared),
        }
    }

    /// Decodes the tap's events into lines as they come, until the tap
    /// is gone. The decoder and [`render_row`] are the ones that write
    /// the book's transcripts; only the normaliser differs: the panel
    /// shows the real dates and ports, as nothing is compared.
    pub async fn decode(self, mut events: mpsc::UnboundedReceiver<Event>) {
        let mut decoder = Decoder::new();
        let real = Normalizer::none();
        while let Some(event) = events.recv().await {
            let lines: Vec<String> = decoder
                .push(&event)
                .iter()
                .flat_map(|row| render_row(row, &real))
                .collect();
            self.add(lines, footer(decoder.counts()));
        }
    }

    /// Keeps `lines` (the oldest go past [`KEPT`]) and tells the panels.
    pub fn add(&self, lines: Vec<String>, footer: String) {
        let newest = {
            let mut kept = self.shared.lines.lock().unwrap();
            for line in lines {
                kept.newest += 1;
                let id = kept.newest;
                kept.kept.push_back((id, line));
                if kept.kept.len() > KEPT {
                    kept.kept.pop_front();
                }
            }
            kept.footer = footer;
            kept.newest
        };
        // Sent even when no line was added: the footer has changed.
        self.shared.newest.send_replace(newest);
    }

    /// What a panel that has seen the lines up to `after` has not seen.
    pub fn news(&self, after: u64) -> News {
        let kept = self.shared.lines.lock().unwrap();
        let oldest = kept.kept.front().map_or(kept.newest + 1, |(id, _)| *id);
        let lines = kept
            .kept
            .iter()
            .filter(|(id, _)| *id > after)
            .cloned()
            .collect();
        News {
            skipped: oldest.saturating_sub(after + 1),
            lines,
            footer: kept.footer.clone(),
        }
    }

    /// The chapter's URL, for the panel's frame: its tap.
    pub fn url(&self) -> String {
        format!("http://{}/", self.tap)
    }
}

/// `GET /live/chapters.json` and `GET /live/NN-name/wire`.
pub fn routes(
    wires: BTreeMap<&'static str, Wire>,
    stopping: Shutdown,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let wires = Arc::new(wires);
    let list = wires.clone();
    // GET /live/chapters.json
    let chapters = warp::path!("live" / "chapters.json")
        .and(warp::get())
        .map(move || chapters_json(&list));
    // GET /live/NN-name/wire
    let wire = warp::path!("live" / String / "wire")
        .and(warp::get())
        .and(warp::header::optional::<String>("last-event-id"))
        .map(move |name: String, last: Option<String>| {
            match wires.get(name.as_str()) {
                Some(wire) => open(wire.clone(), last, stopping.clone()),
                None => chat::reply::error(
                    StatusCode::NOT_FOUND,
                    format!("the book runs no chapter {name:?}"),
                ),
            }
        });
    chapters.or(wire).unify()
}

/// One chapter in `chapters.json`.
#[derive(Serialize)]
struct Entry {
    name: &'static str,
    number: u16,
    title: &'static str,
    /// The chapter's page, for the panel's frame.
    url: String,
    /// The panel's event stream.
    wire: String,
}

/// Where each chapter really is. The page asks instead of assuming
/// port 300N: the tests run the book on free ports.
fn chapters_json(wires: &BTreeMap<&'static str, Wire>) -> Response {
    let chapters: Vec<Entry> = wires
        .values()
        .map(|wire| Entry {
            name: wire.chapter.name,
            number: wire.chapter.number,
            title: wire.chapter.title,
            url: wire.url(),
            wire: format!("/live/{}/wire", wire.chapter.name),
        })
        .collect();
    let body = serde_json::json!({ "chapters": chapters });
    chat::reply::json(StatusCode::OK, &body)
}

/// Opens a panel's stream: the lines after its `Last-Event-ID`, or all
/// the kept lines when it has none, then the new lines as they come.
fn open(wire: Wire, last: Option<String>, stopping: Shutdown) -> Response {
    let run = wire.shared.run.as_str().to_owned();
    let (after, reset) = match last.as_deref().map(Cursor::parse) {
        Some(Ok(Cursor {
            run: Some(r),
            after,
        })) if r == run => (after, false),
        // A cursor of another run means nothing here, as in chapter 3
        // ("A restarted server"): start again, and say so.
        Some(_) => (0, true),
        None => (0, false),
    };
    let panel = Panel {
        newest: wire.shared.newest.subscribe(),
        wire,
        after,
        first: Some((format::retry(RETRY), reset)),
        footer: String::new(),
        stopping,
    };
    let body = futures_util::stream::unfold(panel, |mut panel| async move {
        let chunk = panel.next_chunk().await?;
        Some((Ok::<_, Infallible>(chunk), panel))
    });
    let mut response = warp::reply::stream(body).into_response();
    let headers = response.headers_mut();
    let event_stream = HeaderValue::from_static("text/event-stream");
    headers.insert(header::CONTENT_TYPE, event_stream);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// One panel's stream: where it is, and what it was sent last.
struct Panel {
    wire: Wire,
    /// The id of the last line sent.
    after: u64,
    newest: watch::Receiver<u64>,
    /// `retry:`, and whether a `reset` goes first.
    first: Option<(String, bool)>,
    /// The footer sent last: a new one goes only when it changed.
    footer: String,
    stopping: Shutdown,
}

impl Panel {
    /// The next chunk of the stream: every event that is due, in one
    /// write; `None` ends the stream (the book server is stopping).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if self.stopping.is_stopping() {
                return None;
            }
            self.newest.borrow_and_update();
            let mut chunk = String::new();
            if let Some((retry, reset)) = self.first.take() {
                chunk.push_str(&retry);
                if reset {
                    let why = "the book server started again";
                    chunk.push_str(&format::event("reset", None, why));
                }
            }
            let news = self.wire.news(self.after);
            if news.skipped > 0 {
                let skipped = news.skipped.to_string();
                chunk.push_str(&format::event("skipped", None, &skipped));
            }
            let run = &self.wire.shared.run;
            for (id, line) in news.lines {
                let token = Cursor::token(run, id);
                chunk.push_str(&format::event("line", Some(&token), &line));
                self.after = id;
            }
            if news.footer != self.footer {
                chunk.push_str(&format::event("footer", None, &news.footer));
                self.footer = news.footer;
            }
            if !chunk.is_empty() {
                return Some(chunk.into());
            }
            // No heartbeat: the book server and the browser are on one
            // computer, with no proxy between them to close a quiet
            // connection (chapter 3, "Heartbeat").
            tokio::select! {
                changed = self.newest.changed() => {
                    if changed.is_err() {
                        return None; // the chapter is gone
                    }
                }
                () = self.stopping.stopped() => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire() -> Wire {
        let chapter = crate::chapters::all()[0];
        Wire::new(chapter, "127.0.0.1:1".parse().unwrap())
    }

    fn lines(range: std::ops::RangeInclusive<u64>) -> Vec<String> {
        range.map(|n| format!("line {n}")).collect()
    }

    #[test]
    fn a_panel_gets_what_it_has_not_seen() {
        let wire = wire();
        wire.add(lines(1..=3), "footer".into());
        let news = wire.news(1);
        assert_eq!(news.skipped, 0);
        let ids: Vec<u64> = news.lines.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [2, 3]);
        assert_eq!(news.footer, "footer");
        assert_eq!(wire.news(3).lines, Vec::new());
    }

    #[test]
    fn only_the_newest_lines_are_kept_and_the_rest_is_counted() {
        let wire = wire();
        wire.add(lines(1..=(KEPT as u64 + 10)), String::new());
        let news = wire.news(0);
        assert_eq!(news.skipped, 10);
        assert_eq!(news.lines.len(), KEPT);
        assert_eq!(news.lines[0], (11, "line 11".to_owned()));
        // A panel that saw line 5 missed 6 to 10.
        assert_eq!(wire.news(5).skipped, 5);
        assert_eq!(wire.news(10).skipped, 0);
    }
}
