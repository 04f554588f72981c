//! Rule 1: the book builds, and mdBook has nothing to warn about.
//!
//! mdBook keeps going after many mistakes: an include of a missing file is
//! logged as an error and the raw `{{#include ...}}` text is left on the
//! page, and the build still succeeds. So a clean build means both: no
//! error returned, and no WARN or ERROR event logged. mdBook logs through
//! `tracing`, so the build runs under a subscriber that records them.

use mdbook_driver::config::Config;
use mdbook_driver::MDBook;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

/// What happened when the book was built.
#[derive(Debug)]
pub struct Build {
    /// The error that stopped the build, with its causes.
    pub error: Option<String>,
    /// Every WARN and ERROR event mdBook logged, as `LEVEL target: message`.
    pub logged: Vec<String>,
    /// Where mdBook wrote the HTML.
    pub html_dir: Option<PathBuf>,
}

/// A tracing layer that keeps the events it sees.
struct Recorder(Arc<Mutex<Vec<String>>>);

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        let mut text = format!("{} {}:", meta.level(), meta.target());
        event.record(&mut Fields(&mut text));
        self.0.lock().unwrap().push(text);
    }
}

/// Writes an event's message and other fields as text.
struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = match field.name() {
            "message" => write!(self.0, " {value:?}"),
            name => write!(self.0, " {name}={value:?}"),
        };
    }
}

/// Builds the book at `root` into `out`, recording what mdBook logs.
///
/// The configuration is read from `root/book.toml` and changed before the
/// book is loaded, so that nothing is written into the source tree: the
/// HTML goes to `out` (a temporary folder), and `create-missing` is off so
/// that a page missing from `src/` is an error instead of a new empty file.
pub fn build_book(root: &Path, out: &Path) -> Build {
    let events = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry()
        .with(LevelFilter::from_level(Level::WARN))
        .with(Recorder(Arc::clone(&events)));
    let mut html_dir = None;
    let result = tracing::subscriber::with_default(
        subscriber,
        || -> mdbook_driver::errors::Result<()> {
            let mut config = Config::from_disk(root.join("book.toml"))?;
            config.set("build.build-dir", out)?;
            config.set("build.create-missing", false)?;
            let book = MDBook::load_with_config(root, config)?;
            html_dir = Some(book.build_dir_for("html"));
            book.build()
        },
    );
    let logged = events.lock().unwrap().clone();
    Build {
        error: result.err().map(|e| format!("{e:#}")),
        logged,
        html_dir,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A one-page book at a temporary root.
    fn book(page: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("src")).unwrap();
        fs::write(
            dir.path().join("book.toml"),
            "[book]\ntitle = \"Fixture\"\n",
        )
        .unwrap();
        fs::write(dir.path().join("src/SUMMARY.md"), "[Page](page.md)\n").unwrap();
        fs::write(dir.path().join("src/page.md"), page).unwrap();
        dir
    }

    #[test]
    fn a_good_book_builds_quietly_into_the_given_folder() {
        let dir = book("# Page\n\nHello.\n");
        let out = tempfile::tempdir().unwrap();
        let build = build_book(dir.path(), out.path());
        assert_eq!(build.error, None);
        assert_eq!(build.logged, Vec::<String>::new());
        assert!(out.path().join("page.html").is_file());
        assert!(!dir.path().join("book").exists());
    }

    /// mdBook only logs a broken include and builds on; the recorder must
    /// see that log, or `book_builds_without_warnings` would pass anyway.
    #[test]
    fn a_broken_include_is_caught_though_mdbook_builds_on() {
        let dir = book("# Page\n\n```rust\n{{#include missing.rs}}\n```\n");
        let out = tempfile::tempdir().unwrap();
        let build = build_book(dir.path(), out.path());
        assert_eq!(build.error, None, "mdBook now fails on this itself");
        assert!(
            build.logged.iter().any(|l| l.contains("missing.rs")),
            "the missing include was not recorded: {:#?}",
            build.logged
        );
    }

    #[test]
    fn an_unknown_setting_fails_the_build() {
        let dir = book("# Page\n");
        let toml = "[book]\ntitle = \"Fixture\"\n[output.html]\nno-such-key = 1\n";
        fs::write(dir.path().join("book.toml"), toml).unwrap();
        let out = tempfile::tempdir().unwrap();
        let build = build_book(dir.path(), out.path());
        assert!(
            build.error.is_some() || !build.logged.is_empty(),
            "{build:?}"
        );
    }

    #[test]
    fn a_page_missing_from_src_is_an_error_not_a_new_file() {
        let dir = book("# Page\n");
        fs::remove_file(dir.path().join("src/page.md")).unwrap();
        let out = tempfile::tempdir().unwrap();
        let build = build_book(dir.path(), out.path());
        assert!(build.error.is_some(), "{build:?}");
        assert!(!dir.path().join("src/page.md").exists());
    }
}
