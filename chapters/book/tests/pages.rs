//! The book's pages and the book server agree: every "Try it" section
//! has a live panel, every panel names chapters that `cargo run -p
//! book` runs, every chapter it runs has a panel on its own page, and
//! every panel holds a recorded transcript for readers without the
//! book server.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

/// A panel's opening tag, as the pages write it.
/// The tag may go on over several lines (a long list of chapters).
static PANEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^<div class="live-panel"\s+data-chapter="([^"]*)">\s*$"#).unwrap()
});

/// How a panel's opening tag starts.
const PANEL_START: &str = "<div class=\"live-panel\"";

/// The include of a snapshot's body: the fallback transcript.
static SNAPSHOT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\{\{#include [^}]+\.snap:4:\}\}$").unwrap());

/// One panel in a page.
#[derive(Debug)]
struct Panel {
    /// The line of its opening tag, from 1.
    line: usize,
    /// The chapters it names.
    chapters: Vec<String>,
    /// Whether it is in the page's "Try it" section.
    in_try_it: bool,
    /// Whether it includes a snapshot before its `</div>`.
    has_transcript: bool,
}

/// A page: whether it has a "Try it" section, and its panels.
#[derive(Debug)]
struct Page {
    name: String,
    try_it: bool,
    panels: Vec<Panel>,
}

fn read_page(name: &str, text: &str) -> Page {
    let mut page = Page {
        name: name.to_owned(),
        try_it: false,
        panels: Vec::new(),
    };
    let mut section = String::new();
    let mut open: Option<Panel> = None;
    // The opening tag so far, and its first line.
    let mut tag: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(heading) = line.strip_prefix("## ") {
            section = heading.trim().to_owned();
            page.try_it |= section == "Try it";
        }
        if line.starts_with(PANEL_START) {
            tag = Some((i + 1, String::new()));
        }
        if let Some((first, mut written)) = tag.take() {
            written.push_str(line);
            written.push(' ');
            if !line.contains('>') {
                tag = Some((first, written));
                continue;
            }
            let found = PANEL.captures(written.trim_end());
            let chapters = found.map_or("", |f| f.get(1).unwrap().as_str());
            open = Some(Panel {
                line: first,
                chapters: chapters.split_whitespace().map(str::to_owned).collect(),
                in_try_it: section == "Try it",
                has_transcript: false,
            });
        } else if let Some(panel) = open.as_mut() {
            panel.has_transcript |= SNAPSHOT.is_match(line.trim());
            if line.trim() == "</div>" {
                page.panels.extend(open.take());
            }
        }
    }
    // A panel that is never closed still counts.
    page.panels.extend(open);
    page
}

/// What is wrong with the pages, for a book server that runs `served`.
fn problems(pages: &[Page], served: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut shown = BTreeSet::new();
    for page in pages {
        let name = &page.name;
        if page.try_it && !page.panels.iter().any(|p| p.in_try_it) {
            problems.push(format!("{name} has a \"Try it\" section with no panel"));
        }
        for panel in &page.panels {
            let line = panel.line;
            if panel.chapters.is_empty() {
                problems.push(format!("{name}:{line}: the panel names no chapter"));
            }
            for chapter in &panel.chapters {
                if !served.contains(&chapter.as_str()) {
                    problems.push(format!(
                        "{name}:{line}: the panel names {chapter:?}, which \
                         `cargo run -p book` does not run (see \
                         chapters/book/src/chapters.rs)"
                    ));
                }
            }
            if !panel.has_transcript {
                problems.push(format!(
                    "{name}:{line}: the panel shows no recorded transcript \
                     (`{{{{#include ….snap:4:}}}}` before its `</div>`)"
                ));
            }
            if page.name.strip_suffix(".md") == panel.chapters.first().map(|c| &**c)
            {
                shown.insert(page.name.trim_end_matches(".md").to_owned());
            }
        }
    }
    for chapter in served {
        if !shown.contains(*chapter) {
            problems.push(format!(
                "the book runs {chapter}, but src/{chapter}.md has no panel \
                 that names it first"
            ));
        }
    }
    problems
}

fn book_pages(root: &Path) -> Vec<Page> {
    let mut pages = Vec::new();
    for entry in fs::read_dir(root.join("src")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = fs::read_to_string(&path).unwrap();
            pages.push(read_page(&name, &text));
        }
    }
    pages.sort_by(|a, b| a.name.cmp(&b.name));
    pages
}

#[test]
fn the_pages_and_the_book_server_agree() {
    let served: Vec<&str> = book::chapters::all().iter().map(|c| c.name).collect();
    let pages = book_pages(&book::site::root());
    assert!(
        pages.iter().any(|p| p.try_it),
        "no page has a \"Try it\" section"
    );
    let problems = problems(&pages, &served);
    assert!(
        problems.is_empty(),
        "the live panels and the book server disagree:\n  - {}\n\
         A panel is `<div class=\"live-panel\" data-chapter=\"NN-name\">`, then \
         a one-line note, a code block that includes a snapshot from line 4, \
         and `</div>`; copy the one in src/03-sse.md.",
        problems.join("\n  - ")
    );
}

const PANEL_MARKUP: &str = "## Try it\n\n\
    <div class=\"live-panel\" data-chapter=\"03-sse\">\n\
    <p class=\"live-note\">Run the book.</p>\n\n\
    ```text\n{{#include ../chapters/03-sse/tests/snapshots/live.snap:4:}}\n```\n\n\
    </div>\n";

#[test]
fn a_good_panel_passes() {
    let pages = [read_page("03-sse.md", PANEL_MARKUP)];
    assert_eq!(problems(&pages, &["03-sse"]), Vec::<String>::new());
}

#[test]
fn a_tag_over_two_lines_names_its_chapters() {
    let text = PANEL_MARKUP.replace(" data-chapter", "\n  data-chapter");
    let page = read_page("03-sse.md", &text);
    assert_eq!(page.panels[0].chapters, ["03-sse"]);
    assert_eq!(problems(&[page], &["03-sse"]), Vec::<String>::new());
}

#[test]
fn a_try_it_section_without_a_panel_fails() {
    let pages = [
        read_page("03-sse.md", PANEL_MARKUP),
        read_page("06-choosing.md", "# Choosing\n\n## Try it\n\nRun it.\n"),
    ];
    let problems = problems(&pages, &["03-sse"]);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].starts_with("06-choosing.md has a \"Try it\""));
}

#[test]
fn a_panel_of_a_chapter_the_book_does_not_run_fails() {
    let text = PANEL_MARKUP.replace("\"03-sse\"", "\"03-sse 07-production\"");
    let problems = problems(&[read_page("03-sse.md", &text)], &["03-sse"]);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].contains("\"07-production\""), "{problems:#?}");
}

#[test]
fn a_panel_without_a_transcript_or_a_chapter_without_a_panel_fails() {
    let text = PANEL_MARKUP.replace(".snap:4:", ".snap");
    let problems = problems(&[read_page("03-sse.md", &text)], &["03-sse", "04-x"]);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].contains("no recorded transcript"),
        "{problems:#?}"
    );
    assert!(
        problems[1].contains("src/04-x.md has no panel"),
        "{problems:#?}"
    );
}
