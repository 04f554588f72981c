//! The book's pages, built with mdBook in this process.
//!
//! The root package's tests build the book the same way, with the same
//! mdBook version, so what `cargo run -p book` serves is what they
//! check. The HTML goes to a folder the caller gives (a temporary one):
//! the book's sources are never written to.

use std::path::{Path, PathBuf};

use mdbook_driver::config::Config;
use mdbook_driver::MDBook;

/// The book's root folder, where `book.toml` is: two levels up from
/// this crate. It is fixed when the crate is compiled, so `cargo run -p
/// book` works from any working directory.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the book at `root` into `out`, and returns the folder of the
/// HTML pages (`out` itself, as the book has one output).
///
/// `create-missing` is off: a page missing from `src/` is an error, not
/// a new empty file in the sources. This is slow work for a processor:
/// call it from `spawn_blocking` in async code.
pub fn build(root: &Path, out: &Path) -> Result<PathBuf, String> {
    let failed = |e: mdbook_driver::errors::Error| format!("{e:#}");
    let mut config = Config::from_disk(root.join("book.toml")).map_err(failed)?;
    config.set("build.build-dir", out).map_err(failed)?;
    config.set("build.create-missing", false).map_err(failed)?;
    let book = MDBook::load_with_config(root, config).map_err(failed)?;
    let html = book.build_dir_for("html");
    book.build().map_err(failed)?;
    Ok(html)
}
