//! The live book as the tests start it: built into a temporary folder,
//! every listener on 127.0.0.1 port 0 (never 3000–3005, which a reader
//! may be using), stopped when the test ends.

#![allow(dead_code)] // each test file uses a part

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Builds the book into `out`, as `cargo run -p book` does, and returns
/// the folder of its HTML pages.
pub async fn build(out: &Path) -> PathBuf {
    let out = out.to_path_buf();
    let built = tokio::task::spawn_blocking(move || {
        book::site::build(&book::site::root(), &out)
    });
    built.await.unwrap().expect("the book builds")
}

/// A running book server. Dropping it asks it to stop.
pub struct LiveBook {
    pub addr: SocketAddr,
    /// Each chapter's address (its tap), by name.
    pub chapters: BTreeMap<&'static str, SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl LiveBook {
    /// Serves `site` and runs every chapter, all on free ports.
    pub async fn start(site: PathBuf) -> LiveBook {
        let any = "127.0.0.1:0".parse().unwrap();
        let listeners = book::Listeners::bind(any, book::chapters::all())
            .await
            .unwrap();
        let addr = listeners.book.local_addr().unwrap();
        let chapters = listeners
            .chapters
            .iter()
            .map(|(c, l)| (c.name, l.local_addr().unwrap()))
            .collect();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(async move {
            book::serve(listeners, site, shutdown).await.unwrap();
        });
        LiveBook {
            addr,
            chapters,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// Sends the stop signal and waits (at most `limit`) for the book
    /// and all its chapters to finish. Returns whether they did.
    pub async fn stop(mut self, limit: Duration) -> bool {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().unwrap();
        tokio::time::timeout(limit, task).await.is_ok()
    }
}

impl Drop for LiveBook {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
