//! Book-level tests: the book builds, and it shows only real, tested code
//! and bytes.
//!
//! Each chapter crate under `chapters/` tests its own code and records the
//! bytes its server sends as insta snapshots. These tests check the other
//! half of the promise: that the pages under `src/` show exactly those files,
//! never a hand-typed copy that could drift from them, and that the result
//! reads well (it builds cleanly and no code line scrolls sideways).
//!
//! The checks live in `tests/common/`, each with unit tests that prove it
//! can fail; the tests here run them on the real book.

mod common;

use common::{assert_no_problems, build, fences, includes, snapshots, summary};
use std::path::Path;

/// The book's root: `book.toml`, `src/` and `chapters/` are here.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn book_builds_without_warnings() {
    let out = tempfile::tempdir().expect("cannot create a temporary folder");
    let build = build::build_book(root(), out.path());
    let html_dir = build.html_dir.clone();
    let mut problems = Vec::new();
    if let Some(error) = build.error {
        problems.push(format!("the build failed: {error}"));
    }
    problems.extend(build.logged.iter().map(|l| format!("mdBook logged: {l}")));
    assert_no_problems(
        "book_builds_without_warnings",
        "mdBook builds on after many mistakes (a missing include is only \
         logged, and the raw `{{#include}}` text is left on the page), so a \
         warning is as bad as an error.",
        "read each message above; most name the page and the include or \
         setting at fault. Check book.toml keys against the mdBook 0.5 \
         documentation. To see the same output, run `mdbook build` in the \
         book's root (it writes to book/, which git ignores).",
        &problems,
    );
    // The HTML went to the temporary folder, not into the source tree.
    let html_dir = html_dir.expect("the book was loaded");
    assert!(html_dir.starts_with(out.path()), "built into {html_dir:?}");
    assert!(
        html_dir.join("index.html").is_file(),
        "no index.html was built"
    );
}

#[test]
fn every_include_resolves() {
    let problems: Vec<String> = common::pages(root())
        .iter()
        .flat_map(|page| includes::include_problems(root(), page))
        .collect();
    assert_no_problems(
        "every_include_resolves",
        "a page shows code only through `{{#include PATH}}`, \
         `{{#include PATH:anchor}}` or `{{#include PATH:N:M}}`. mdBook does not \
         stop on a wrong path, anchor or line range: it shows the raw include, \
         the rest of the file, or fewer lines, and the page quietly lies.",
        "PATH is relative to the page's folder, so code in a chapter crate is \
         `../chapters/NN-name/...`. For an anchor, put `// ANCHOR: name` on the \
         line before the region and `// ANCHOR_END: name` on the line after it. \
         Prefer anchors to line numbers: they move with the code.",
        &problems,
    );
}

#[test]
fn every_snapshot_is_shown() {
    assert_no_problems(
        "every_snapshot_is_shown",
        "the bytes the book shows are insta snapshots that the chapter tests \
         compare on every run. A snapshot no page includes is unread evidence \
         (or the page shows an outdated copy), and an include that starts \
         before line 4 shows insta's header to the reader.",
        "include each snapshot from its body with \
         `{{#include ../chapters/NN-name/tests/snapshots/FILE.snap:4:}}`, and \
         record snapshots with insta's `omit_expression => true` so the header \
         is exactly `---`, `source: ...`, `---`.",
        &snapshots::snapshot_problems(root()),
    );
}

#[test]
fn every_chapter_is_in_the_summary() {
    let summary_path = root().join("src/SUMMARY.md");
    let summary = std::fs::read_to_string(&summary_path)
        .unwrap_or_else(|e| panic!("cannot read src/SUMMARY.md: {e}"));
    let chapters = summary::chapter_dirs(root());
    assert_no_problems(
        "every_chapter_is_in_the_summary",
        "each chapters/NN-name crate holds the code of one chapter; a crate \
         that SUMMARY.md does not link is code no reader can reach.",
        "link the chapter's page from src/SUMMARY.md, e.g. \
         `- [Polling](01-polling.md)`. Chapters not written yet stay draft \
         entries, `- [Title]()`, and have no crate.",
        &summary::chapters_missing_from_summary(&chapters, &summary),
    );
}

#[test]
fn no_hand_typed_code_in_the_book() {
    let problems: Vec<String> = common::pages(root())
        .iter()
        .flat_map(|page| fences::hand_typed_code(&page.shown, &page.text))
        .collect();
    assert_no_problems(
        "no_hand_typed_code_in_the_book",
        "code typed into a page is never compiled, run or compared with what \
         the server sends, so it drifts from the truth unnoticed. A code block \
         may hold only `{{#include ...}}` lines (and blank lines, and lines \
         that are only a URL).",
        "move the code into the chapter crate, where a test compiles and runs \
         it, mark it with `// ANCHOR: name` and `// ANCHOR_END: name`, and \
         include it with `{{#include ../chapters/NN-name/src/FILE.rs:name}}`. \
         For bytes on the wire, include the test's snapshot from line 4. A \
         command for the reader to type goes in a ```sh or ```console block.",
        &problems,
    );
}

#[test]
fn included_lines_fit_the_page() {
    let long: Vec<includes::LongLine> = common::pages(root())
        .iter()
        .flat_map(|page| includes::long_lines(root(), page))
        .collect();
    assert_no_problems(
        "included_lines_fit_the_page",
        &format!(
            "a code line wider than {} characters makes the reader scroll \
             sideways, and the end of the line is easy to miss.",
            common::MAX_WIDTH
        ),
        "shorten the line where it is written (the file and line are given): \
         rustfmt already wraps Rust at 85 columns (rustfmt.toml), so look for \
         long string literals and comments. For a snapshot, change what the \
         test records or how it formats it, then re-record. Or include a \
         narrower region with an anchor.",
        &includes::long_line_problems(long),
    );
}
