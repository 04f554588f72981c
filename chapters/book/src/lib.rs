//! The live book: one process serves the book, runs every chapter's
//! chat, and shows in each chapter's page the bytes that the reader's
//! own browser exchanges with that chapter's server.
//!
//! ```text
//! browser ──▶ 127.0.0.1:3000  the book: pages, /live/… (this crate)
//!         ──▶ 127.0.0.1:3003  tap ──▶ chapter 3's serve (any port)
//!                              │
//!                              ╰─▶ decoder ──▶ /live/03-sse/wire
//! ```
//!
//! - [`chapters`]: the chapters the book runs, and how each starts.
//! - [`site`]: builds the book with mdBook, in this process.
//! - [`live`]: one chapter's wire, decoded as it happens, and the
//!   event stream that carries it to the page's panel.
//!
//! The book composes; it teaches nothing new. Each chapter runs its own
//! `serve`, unchanged, behind [`wire::Tap`], the same relay that records
//! the transcripts of the chapters' tests; the panel's lines come from
//! the same decoder ([`wire::transcript::Decoder`]). No chapter knows
//! that it runs inside the book.

pub mod chapters;
pub mod live;
pub mod site;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use chat::server::Stop;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use warp::Filter;

pub use chapters::Chapter;

/// Where the book and its chapters listen: the book's listener, and
/// each chapter's (its tap's) beside it.
pub struct Listeners {
    pub book: TcpListener,
    pub chapters: Vec<(Chapter, TcpListener)>,
}

impl Listeners {
    /// Binds the book at `addr`, and each of `chapters` at the same
    /// host and the book's port + the chapter's number (see
    /// [`Chapter::addr`]); with port 0, every one gets a free port.
    pub async fn bind(
        addr: SocketAddr,
        chapters: Vec<Chapter>,
    ) -> Result<Self, String> {
        let book = bind(addr).await?;
        let mut bound = Vec::new();
        for chapter in chapters {
            let addr = chapter.addr(addr)?;
            bound.push((chapter, bind(addr).await?));
        }
        Ok(Listeners {
            book,
            chapters: bound,
        })
    }

    /// The `listening on` lines, with the real ports: the book's first,
    /// exactly as every chapter binary's, then one per chapter.
    pub fn lines(&self) -> std::io::Result<Vec<String>> {
        let mut lines =
            vec![format!("listening on http://{}", self.book.local_addr()?)];
        for (chapter, listener) in &self.chapters {
            let (number, title) = (chapter.number, chapter.title);
            let addr = listener.local_addr()?;
            lines.push(format!(
                "listening on http://{addr} (chapter {number}: {title})"
            ));
        }
        Ok(lines)
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|e| {
        format!(
            "cannot listen on {addr}: {e}\n\
             hint: is another server (a chapter?) using this port? \
             Try --addr 127.0.0.1:0 for free ports."
        )
    })
}

/// Serves the built book from `site` on the book's listener, and runs
/// every chapter behind a tap on the listener given with it, until
/// `shutdown` completes.
///
/// Each chapter's own server listens on `127.0.0.1:0`; the tap, on the
/// chapter's listener, passes every byte on to it and to the chapter's
/// [`live::Wire`]. On `shutdown`, every chapter gets its own stop
/// signal, as its binary would get Ctrl-C: its streams end and its
/// WebSockets close with 1001. Only when all of them have finished do
/// the taps go, so the last bytes reach the browser (and the panel),
/// and then the book's own streams end and the book stops.
pub async fn serve(
    listeners: Listeners,
    site: PathBuf,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Listeners { book, chapters } = listeners;
    let stop_chapters = Stop::new();
    let mut running = Vec::new();
    let mut taps = Vec::new();
    let mut wires = BTreeMap::new();
    for (chapter, tap_listener) in chapters {
        let server = TcpListener::bind("127.0.0.1:0").await?;
        let (events, decoding) = mpsc::unbounded_channel();
        let tap = wire::Tap::live(tap_listener, server.local_addr()?, events)?;
        let wire = live::Wire::new(chapter, tap.addr());
        tokio::spawn(wire.clone().decode(decoding));
        let stop = stop_chapters.shutdown().stopped();
        running.push(tokio::spawn((chapter.serve)(server, Box::pin(stop))));
        wires.insert(chapter.name, wire);
        taps.push(tap);
    }

    let stop_book = Stop::new();
    let routes = live::routes(wires, stop_book.shutdown())
        .or(warp::fs::dir(site))
        .with(warp::trace::request());
    let book = chat::server::serve(book, routes, stop_book.shutdown().stopped());
    let stopping = async move {
        shutdown.await;
        stop_chapters.now();
        for chapter in running {
            let _ = chapter.await;
        }
        drop(taps);
        stop_book.now();
    };
    tokio::join!(book, stopping);
    Ok(())
}
