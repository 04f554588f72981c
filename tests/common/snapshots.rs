//! Rule 3: every recorded snapshot is shown, and shown whole.
//!
//! The bytes on the wire that the book shows (requests, responses, frames)
//! are insta snapshots that the chapter tests record and compare on every
//! run. A snapshot that no page includes is evidence nobody reads, or a page
//! that shows an old copy. And a snapshot file starts with insta's header:
//! with `omit_expression` the header is exactly three lines, so `:4:` shows
//! the recorded body and nothing else.

use super::includes::{find_includes, Kind, Selection};
use super::{files_with_extension, pages, shown};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The only way to include a snapshot: from line 4, its first body line.
pub const SNAPSHOT_BODY: Selection = Selection::Lines {
    first: 4,
    last: None,
};

/// Every `.snap` file under `root/chapters/*/tests/snapshots`, sorted.
pub fn snapshot_files(root: &Path) -> Vec<PathBuf> {
    let mut snaps: Vec<PathBuf> = fs::read_dir(root.join("chapters"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|chapter| {
            files_with_extension(&chapter.path().join("tests/snapshots"), "snap")
        })
        .collect();
    snaps.sort();
    snaps
}

/// The header insta writes with `omit_expression`: `---`, `source: ...`,
/// `---`. Anything more (an `expression:`, `info:` or `description:`) would
/// push the body down, and `:4:` would show header lines in the book.
pub fn header_problems(shown: &str, text: &str) -> Vec<String> {
    let line = |number: usize| text.lines().nth(number - 1);
    let checks = [
        (1, "`---`", line(1) == Some("---")),
        (
            2,
            "`source: ...`",
            line(2).is_some_and(|l| l.starts_with("source:")),
        ),
        (3, "`---`", line(3) == Some("---")),
    ];
    let mut problems = Vec::new();
    if let Some((number, want, _)) = checks.into_iter().find(|(_, _, ok)| !ok) {
        problems.push(format!(
            "{shown}:{number}: the snapshot header should have {want} on \
             line {number}, but it has `{}`; record the snapshot with \
             insta's `omit_expression => true` and no `info` or \
             `description`, so the header is exactly 3 lines",
            line(number).unwrap_or("(end of file)"),
        ));
    }
    problems
}

/// Rule 3 for a book at `root`: snapshots with a wrong header, includes of
/// a snapshot that do not start at its body, and snapshots no page shows.
pub fn snapshot_problems(root: &Path) -> Vec<String> {
    let snaps = snapshot_files(root);
    let mut problems = Vec::new();
    for snap in &snaps {
        match fs::read_to_string(snap) {
            Ok(text) => problems.extend(header_problems(&shown(root, snap), &text)),
            Err(e) => {
                problems.push(format!("cannot read {}: {e}", shown(root, snap)))
            }
        }
    }

    let mut included = BTreeSet::new();
    for page in pages(root) {
        for include in find_includes(&page.text) {
            let target = page.dir().join(&include.path);
            if target.extension().is_none_or(|e| e != "snap") {
                continue;
            }
            if let Ok(canonical) = target.canonicalize() {
                included.insert(canonical);
            }
            if include.kind != Kind::Include || include.selection != SNAPSHOT_BODY {
                problems.push(format!(
                    "{}:{}: `{}` must show the snapshot's body only: write \
                     `{{{{#include {}:4:}}}}` (lines 1 to 3 are insta's header)",
                    page.shown, include.line, include.written, include.path,
                ));
            }
        }
    }

    for snap in &snaps {
        let shown_by_a_page = snap
            .canonicalize()
            .is_ok_and(|canonical| included.contains(&canonical));
        if !shown_by_a_page {
            let snap = shown(root, snap);
            problems.push(format!(
                "{snap} is recorded by a test but no page shows it: add \
                 `{{{{#include ../{snap}:4:}}}}` in a code block of the \
                 chapter's page, or delete the snapshot if its test is gone",
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "---\nsource: chapters/01-polling/tests/wire.rs\n---\n\
        GET /messages HTTP/1.1\n";

    /// A book at a temporary root with one chapter snapshot and one page.
    fn book(snap: &str, page: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let snaps = dir.path().join("chapters/01-polling/tests/snapshots");
        fs::create_dir_all(&snaps).unwrap();
        fs::create_dir_all(dir.path().join("src")).unwrap();
        fs::write(snaps.join("wire__get.snap"), snap).unwrap();
        fs::write(dir.path().join("src/01-polling.md"), page).unwrap();
        dir
    }

    const INCLUDED: &str = "```http\n{{#include \
        ../chapters/01-polling/tests/snapshots/wire__get.snap:4:}}\n```\n";

    #[test]
    fn a_book_without_snapshots_has_no_problems() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("chapters/01-polling/tests")).unwrap();
        fs::create_dir_all(dir.path().join("src")).unwrap();
        assert_eq!(snapshot_problems(dir.path()), Vec::<String>::new());
    }

    #[test]
    fn an_included_snapshot_is_accepted() {
        let dir = book(GOOD, INCLUDED);
        assert_eq!(snapshot_problems(dir.path()), Vec::<String>::new());
    }

    #[test]
    fn a_snapshot_no_page_shows_is_reported() {
        let dir = book(GOOD, "# Polling\n");
        let problems = snapshot_problems(dir.path());
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].starts_with(
            "chapters/01-polling/tests/snapshots/wire__get.snap is recorded"
        ));
    }

    #[test]
    fn an_include_that_shows_the_header_is_reported() {
        let page = INCLUDED.replace(":4:", "");
        let problems = snapshot_problems(book(GOOD, &page).path());
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].starts_with("src/01-polling.md:2:"),
            "{problems:#?}"
        );
    }

    #[test]
    fn a_header_with_the_expression_is_reported() {
        let snap = "---\nsource: tests/wire.rs\nexpression: response\n---\nbody\n";
        let problems = snapshot_problems(book(snap, INCLUDED).path());
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].starts_with(
                "chapters/01-polling/tests/snapshots/wire__get.snap:3:"
            ),
            "{problems:#?}"
        );
    }

    #[test]
    fn a_file_too_short_for_a_header_is_reported() {
        assert_eq!(header_problems("a.snap", "---\n").len(), 1);
        assert_eq!(header_problems("a.snap", GOOD), Vec::<String>::new());
    }
}
