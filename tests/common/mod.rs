//! Checks on the book as a whole, shared by the tests in `tests/book.rs`.
//!
//! The book's promise is that every piece of code and every byte on the wire
//! that a reader sees was compiled, run or recorded by a test. mdBook cannot
//! promise that by itself: a page can hold hand-typed code, an include can
//! point at a file that moved, a snapshot can be recorded and never shown.
//! Each module here checks one way the promise can break. The checkers are
//! plain functions from text and paths to a list of problems, so each can be
//! tried on small hand-made inputs, and each problem says what is wrong,
//! where, and how to fix it.

pub mod build;
pub mod fences;
pub mod includes;
pub mod snapshots;
pub mod summary;

use std::fs;
use std::path::{Component, Path, PathBuf};

/// The widest line of code the book shows; `rustfmt.toml` uses the same.
pub const MAX_WIDTH: usize = 85;

/// A Markdown page of the book.
pub struct Page {
    /// Where the page is on disk.
    pub path: PathBuf,
    /// The path to show a reader, relative to the book's root.
    pub shown: String,
    pub text: String,
}

impl Page {
    /// The folder that an include's path is relative to.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// Every `.md` file under `root/src`, in a stable order.
pub fn pages(root: &Path) -> Vec<Page> {
    files_with_extension(&root.join("src"), "md")
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("cannot read {}: {e}", shown(root, &path))
            });
            Page {
                shown: shown(root, &path),
                path,
                text,
            }
        })
        .collect()
}

/// Every file under `dir` (recursively) whose name ends in `.{ext}`, sorted.
/// A missing `dir` has no files.
pub fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == ext) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `path` as a reader of a failure message wants to see it: relative to the
/// book's root, with `..` steps resolved (`src/../chapters/x` is shown as
/// `chapters/x`). Paths outside the root are shown as they are.
pub fn shown(root: &Path, path: &Path) -> String {
    let path = normalize(path);
    let root = normalize(root);
    match path.strip_prefix(&root) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// Resolves `.` and `..` without asking the file system, so that it also
/// works for files that do not exist (the ones a broken include names).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Fails the test when `problems` is not empty, with a message that a reader
/// who did not write this test can act on: what the rule is for, every
/// problem with its place, and how to fix it.
#[track_caller]
pub fn assert_no_problems(rule: &str, why: &str, fix: &str, problems: &[String]) {
    if problems.is_empty() {
        return;
    }
    let count = problems.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    let list: String = problems.iter().map(|p| format!("\n  - {p}")).collect();
    panic!(
        "\n{rule}: {count} {noun}:\n{list}\n\n\
         Why this rule: {why}\n\n\
         How to fix: {fix}\n"
    );
}
