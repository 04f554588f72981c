//! Rule 4: every chapter crate has its page in `src/SUMMARY.md`.
//!
//! A chapter crate holds the code and the recorded bytes that a chapter
//! shows. A crate whose page is missing from the table of contents is code
//! that no reader can find, or a page that was dropped by mistake. Chapters
//! not written yet are draft entries, `- [Title]()`, and need no crate.

use regex::Regex;
use std::fs;
use std::path::Path;
use std::sync::LazyLock;

/// A chapter crate's folder name: two digits, a dash, a name.
static CHAPTER_DIR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9]{2}-.+$").unwrap());

/// The target of a Markdown link: `(target)` in `[Title](target)`.
static LINK_TARGET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\]\(\s*([^)\s]*)[^)]*\)").unwrap());

/// The names of the chapter crates under `root/chapters`, sorted; the
/// support crates (`wire`, `chat`) have no number and are left out.
pub fn chapter_dirs(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root.join("chapters"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| CHAPTER_DIR.is_match(name))
        .collect();
    names.sort();
    names
}

/// Whether a link target names the chapter: `01-polling.md`,
/// `01-polling/index.md` or `01-polling.md#section` all name `01-polling`.
fn names_chapter(target: &str, chapter: &str) -> bool {
    let target = target.split('#').next().unwrap_or("");
    target
        .split('/')
        .any(|part| part == chapter || part.strip_suffix(".md") == Some(chapter))
}

/// Rule 4: the chapters that no link in `summary` points at.
pub fn chapters_missing_from_summary(
    chapters: &[String],
    summary: &str,
) -> Vec<String> {
    let targets: Vec<&str> = LINK_TARGET
        .captures_iter(summary)
        .filter_map(|c| c.get(1))
        .map(|m| m.as_str())
        .collect();
    chapters
        .iter()
        .filter(|chapter| !targets.iter().any(|t| names_chapter(t, chapter)))
        .map(|chapter| {
            format!(
                "chapters/{chapter} has no page in src/SUMMARY.md: add a line \
                 such as `- [Title]({chapter}.md)` (or turn its draft entry \
                 `- [Title]()` into that link) and write src/{chapter}.md"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = "# Summary\n\n\
        [Introduction](introduction.md)\n\n\
        - [Polling](01-polling.md)\n\
        - [Long polling](02-long-polling/index.md#start)\n\
        - [Server-Sent Events]()\n";

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn linked_chapters_are_accepted() {
        let chapters = names(&["01-polling", "02-long-polling"]);
        let missing = chapters_missing_from_summary(&chapters, SUMMARY);
        assert_eq!(missing, Vec::<String>::new());
    }

    #[test]
    fn a_chapter_without_a_link_is_reported() {
        let chapters = names(&["01-polling", "03-sse"]);
        let missing = chapters_missing_from_summary(&chapters, SUMMARY);
        assert_eq!(missing.len(), 1, "{missing:#?}");
        assert!(missing[0].starts_with("chapters/03-sse has no page"));
    }

    #[test]
    fn a_similar_name_is_not_a_link_to_the_chapter() {
        let chapters = names(&["01-poll"]);
        assert_eq!(chapters_missing_from_summary(&chapters, SUMMARY).len(), 1);
    }

    #[test]
    fn only_numbered_folders_are_chapters() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["01-polling", "chat", "wire", "10-http2"] {
            fs::create_dir_all(dir.path().join("chapters").join(name)).unwrap();
        }
        fs::write(dir.path().join("chapters/02-notes.txt"), "").unwrap();
        assert_eq!(chapter_dirs(dir.path()), names(&["01-polling", "10-http2"]));
    }
}
