//! `{{#include ...}}`: how the book shows real code.
//!
//! A page never holds a copy of code; it includes the lines from the file
//! that the tests compile and run. These functions read includes the way
//! mdBook 0.5 does (same pattern, same `PATH:ANCHOR` and `PATH:N:M` rules),
//! so what they check is what the reader sees.
//!
//! mdBook itself is lenient: an include of a missing file only logs an error,
//! a missing `ANCHOR_END` silently takes the rest of the file, and a line
//! range past the end is cut short. Each of those leaves a page that looks
//! fine and shows the wrong thing, so here they are errors.

use super::{shown, Page, MAX_WIDTH};
use regex::Regex;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// mdBook's own pattern for `{{#...}}` links (mdbook-driver 0.5.4,
/// `builtin_preprocessors/links.rs`), with the escaped form `\{{#...}}`
/// first so that it is skipped exactly as mdBook skips it.
static LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        \\\{\{\#.*\}\}          # escaped link: shown as text, not included
        |
        \{\{\s*\#([a-zA-Z0-9_]+)\s+([^}]+)\}\}",
    )
    .unwrap()
});

/// mdBook's anchor markers (`take_lines.rs`): the marker may sit anywhere in
/// a line, usually in a comment such as `// ANCHOR: handler`.
static ANCHOR_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"ANCHOR:\s*([\w_-]+)").unwrap());
static ANCHOR_END: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"ANCHOR_END:\s*([\w_-]+)").unwrap());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{{#include}}`: shows the selected lines.
    Include,
    /// `{{#rustdoc_include}}`: shows the selected lines and hides the rest
    /// of the file behind the "show hidden lines" button.
    RustdocInclude,
    /// `{{#playground}}`: shows the whole file in its own code block.
    Playground,
}

/// Which lines of the file an include takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// `PATH`: the whole file.
    Whole,
    /// `PATH:name`: the lines between `ANCHOR: name` and `ANCHOR_END: name`.
    Anchor(String),
    /// `PATH:N`, `PATH:N:M`, `PATH:N:`, `PATH::M`: lines `first..=last`,
    /// counted from 1 as an editor does; `last: None` means "to the end".
    Lines { first: usize, last: Option<usize> },
}

/// One include found in a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The line of the page it is on, counted from 1.
    pub line: usize,
    /// The include as written, e.g. `{{#include ../x.rs:4:}}`.
    pub written: String,
    pub kind: Kind,
    /// The path as written, relative to the page's folder.
    pub path: String,
    pub selection: Selection,
}

/// Every include in a page's text, in order.
pub fn find_includes(text: &str) -> Vec<Include> {
    let mut found = Vec::new();
    for cap in LINK.captures_iter(text) {
        let (Some(kind), Some(rest)) = (cap.get(1), cap.get(2)) else {
            continue; // an escaped `\{{#...}}`
        };
        let kind = match kind.as_str() {
            "include" => Kind::Include,
            "rustdoc_include" => Kind::RustdocInclude,
            "playground" => Kind::Playground,
            _ => continue, // `{{#title}}` and others read no file
        };
        // mdBook takes the first word as the path; the rest are properties.
        let Some(target) = rest.as_str().split_whitespace().next() else {
            continue;
        };
        let (path, selection) = match kind {
            Kind::Playground => (target, Selection::Whole),
            _ => match target.split_once(':') {
                Some((path, rest)) => (path, parse_selection(rest)),
                None => (target, Selection::Whole),
            },
        };
        let start = cap.get(0).map_or(0, |m| m.start());
        found.push(Include {
            line: text[..start].matches('\n').count() + 1,
            written: cap[0].to_string(),
            kind,
            path: path.to_string(),
            selection,
        });
    }
    found
}

/// What follows `PATH:` in an include, read as mdBook reads it
/// (`parse_range_or_anchor`): a number starts a line range, anything else
/// names an anchor, an end that is not a number means "to the end".
pub fn parse_selection(rest: &str) -> Selection {
    let mut parts = rest.splitn(3, ':');
    let start = parts.next().unwrap_or("");
    let first = match start.parse::<usize>() {
        Ok(n) => Some(n),
        Err(_) if start.is_empty() => None,
        Err(_) => return Selection::Anchor(start.to_string()),
    };
    let end = parts.next().map(str::parse::<usize>);
    match (first, end) {
        (Some(first), Some(Ok(last))) => Selection::Lines {
            first,
            last: Some(last),
        },
        (Some(first), Some(Err(_))) => Selection::Lines { first, last: None },
        (Some(first), None) => Selection::Lines {
            first,
            last: Some(first),
        },
        (None, Some(Ok(last))) => Selection::Lines {
            first: 1,
            last: Some(last),
        },
        (None, _) => Selection::Whole,
    }
}

/// The lines of `text` that `selection` shows in the book, each with its
/// line number in the file (from 1), or why the selection is broken.
pub fn select_lines<'a>(
    text: &'a str,
    selection: &Selection,
) -> Result<Vec<(usize, &'a str)>, String> {
    let lines: Vec<(usize, &str)> =
        text.lines().enumerate().map(|(i, l)| (i + 1, l)).collect();
    let count = lines.len();
    match selection {
        Selection::Whole => Ok(lines),
        Selection::Lines { first, last } => {
            let first = *first;
            let last = last.unwrap_or(count);
            if first == 0 {
                return Err(
                    "line numbers start at 1, but the range starts at 0".to_string()
                );
            }
            if first > count {
                return Err(format!(
                    "the range starts at line {first}, but the file has only \
                     {count} lines"
                ));
            }
            if last < first {
                return Err(format!(
                    "the range ends at line {last}, before it starts at line {first}"
                ));
            }
            if last > count {
                return Err(format!(
                    "the range ends at line {last}, but the file has only \
                     {count} lines (mdBook would silently show fewer lines)"
                ));
            }
            Ok(lines[first - 1..last].to_vec())
        }
        Selection::Anchor(name) => anchored_lines(&lines, name),
    }
}

/// The lines between `ANCHOR: name` and `ANCHOR_END: name`, without any
/// anchor marker lines, as mdBook's `take_anchored_lines` shows them.
fn anchored_lines<'a>(
    lines: &[(usize, &'a str)],
    name: &str,
) -> Result<Vec<(usize, &'a str)>, String> {
    let names =
        |re: &Regex, line: &str| re.captures_iter(line).any(|c| &c[1] == name);
    let starts: Vec<usize> = lines
        .iter()
        .filter(|(_, l)| names(&ANCHOR_START, l))
        .map(|(n, _)| *n)
        .collect();
    let Some(&start) = starts.first() else {
        return Err(format!(
            "the file has no line with `ANCHOR: {name}`; mark the region with \
             a comment `// ANCHOR: {name}` before it and `// ANCHOR_END: {name}` \
             after it"
        ));
    };
    if starts.len() > 1 {
        return Err(format!(
            "`ANCHOR: {name}` is on lines {starts:?}; mdBook shows only the \
             first region, so give each region its own name"
        ));
    }
    let Some(&(end, _)) = lines
        .iter()
        .find(|(n, l)| *n > start && names(&ANCHOR_END, l))
    else {
        return Err(format!(
            "`ANCHOR: {name}` on line {start} has no `ANCHOR_END: {name}` after \
             it (mdBook would silently show the rest of the file)"
        ));
    };
    let region: Vec<(usize, &str)> = lines[start..end - 1]
        .iter()
        .filter(|(_, l)| !ANCHOR_START.is_match(l) && !ANCHOR_END.is_match(l))
        .copied()
        .collect();
    if region.is_empty() {
        return Err(format!(
            "the region `{name}` (lines {start} to {end}) has no lines to show"
        ));
    }
    Ok(region)
}

/// An include whose file was found and read.
pub struct Resolved {
    pub include: Include,
    /// The included file on disk (not canonicalised).
    pub target: PathBuf,
    /// The included file's text.
    pub text: String,
}

/// Reads the file of every include in `page`. Includes whose file is
/// missing or unreadable go to the second list, each with its problem.
pub fn resolve_page(
    root: &Path,
    page: &Page,
) -> (Vec<Resolved>, Vec<(Include, String)>) {
    let mut resolved = Vec::new();
    let mut problems = Vec::new();
    for include in find_includes(&page.text) {
        let target = page.dir().join(&include.path);
        let place =
            format!("{}:{}: `{}`", page.shown, include.line, include.written);
        if !target.is_file() {
            let problem = format!(
                "{place}: there is no file {} (the path is relative to the \
                 page's folder, {})",
                shown(root, &target),
                shown(root, page.dir()),
            );
            problems.push((include, problem));
            continue;
        }
        match fs::read_to_string(&target) {
            Ok(text) => resolved.push(Resolved {
                include,
                target,
                text,
            }),
            Err(e) => {
                let problem = format!(
                    "{place}: cannot read {} as UTF-8 text: {e}",
                    shown(root, &target)
                );
                problems.push((include, problem));
            }
        }
    }
    (resolved, problems)
}

/// Rule 2: every include in `page` names a file that exists, and an anchor
/// or a line range that is really in that file.
pub fn include_problems(root: &Path, page: &Page) -> Vec<String> {
    let (resolved, missing) = resolve_page(root, page);
    let mut problems: Vec<(usize, String)> = missing
        .into_iter()
        .map(|(include, problem)| (include.line, problem))
        .collect();
    for r in &resolved {
        if let Err(why) = select_lines(&r.text, &r.include.selection) {
            problems.push((
                r.include.line,
                format!(
                    "{}:{}: `{}` includes {}: {why}",
                    page.shown,
                    r.include.line,
                    r.include.written,
                    shown(root, &r.target),
                ),
            ));
        }
    }
    // In the order of the page, as a reader fixes them.
    problems.sort_by_key(|(line, _)| *line);
    problems.into_iter().map(|(_, problem)| problem).collect()
}

/// A line of an included file that is too wide for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongLine {
    /// The included file, as shown to a reader.
    pub file: String,
    /// The line in that file, from 1.
    pub line: usize,
    /// Its width in characters.
    pub width: usize,
    /// Where it is included: `page:line`.
    pub shown_at: String,
}

/// Rule 6: the lines that the includes in `page` pull into the book and that
/// are wider than [`MAX_WIDTH`] characters. Broken includes are skipped
/// here; rule 2 reports them.
pub fn long_lines(root: &Path, page: &Page) -> Vec<LongLine> {
    let (resolved, _) = resolve_page(root, page);
    let mut long = Vec::new();
    for r in &resolved {
        let lines = match r.include.kind {
            // A rustdoc_include puts the whole file on the page; the lines
            // outside the selection are one click away.
            Kind::RustdocInclude | Kind::Playground => {
                select_lines(&r.text, &Selection::Whole)
            }
            Kind::Include => select_lines(&r.text, &r.include.selection),
        };
        for (line, text) in lines.unwrap_or_default() {
            let width = text.chars().count();
            if width > MAX_WIDTH {
                long.push(LongLine {
                    file: shown(root, &r.target),
                    line,
                    width,
                    shown_at: format!("{}:{}", page.shown, r.include.line),
                });
            }
        }
    }
    long
}

/// Rule 6 over many pages, each long source line reported once (a line
/// included by two pages is one thing to fix).
pub fn long_line_problems(long: Vec<LongLine>) -> Vec<String> {
    let mut by_place: BTreeMap<(String, usize), (usize, Vec<String>)> =
        BTreeMap::new();
    for l in long {
        let entry = by_place
            .entry((l.file, l.line))
            .or_insert((l.width, vec![]));
        if !entry.1.contains(&l.shown_at) {
            entry.1.push(l.shown_at);
        }
    }
    by_place
        .into_iter()
        .map(|((file, line), (width, pages))| {
            format!(
                "{file}:{line} is {width} characters wide (at most {MAX_WIDTH}); \
                 it is shown by {}",
                pages.join(", ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(dir: &Path, text: &str) -> Page {
        Page {
            path: dir.join("src/page.md"),
            shown: "src/page.md".to_string(),
            text: text.to_string(),
        }
    }

    fn lines(first: usize, last: Option<usize>) -> Selection {
        Selection::Lines { first, last }
    }

    #[test]
    fn every_include_form_is_read_as_mdbook_reads_it() {
        let text = "intro\n\
            {{#include a.rs}}\n\
            {{#include a.rs:handler}}\n\
            {{#include a.rs:3}}\n\
            {{#include a.rs:3:7}}\n\
            {{#include a.rs:4:}}\n\
            {{#include a.rs::7}}\n\
            {{ #rustdoc_include  b.rs:2:5 }}\n\
            \\{{#include escaped.rs}}\n\
            {{#title Not a file}}\n";
        let found: Vec<_> = find_includes(text)
            .into_iter()
            .map(|i| (i.line, i.kind, i.path, i.selection))
            .collect();
        let a = |line, sel| (line, Kind::Include, "a.rs".to_string(), sel);
        assert_eq!(
            found,
            vec![
                a(2, Selection::Whole),
                a(3, Selection::Anchor("handler".to_string())),
                a(4, lines(3, Some(3))),
                a(5, lines(3, Some(7))),
                a(6, lines(4, None)),
                a(7, lines(1, Some(7))),
                (
                    8,
                    Kind::RustdocInclude,
                    "b.rs".to_string(),
                    lines(2, Some(5))
                ),
            ]
        );
    }

    #[test]
    fn a_line_range_is_inclusive_and_counted_from_one() {
        let text = "one\ntwo\nthree\nfour\n";
        assert_eq!(
            select_lines(text, &lines(2, Some(3))),
            Ok(vec![(2, "two"), (3, "three")])
        );
        assert_eq!(
            select_lines(text, &lines(3, None)),
            Ok(vec![(3, "three"), (4, "four")])
        );
    }

    #[test]
    fn a_line_range_outside_the_file_is_reported() {
        let text = "one\ntwo\nthree\n";
        for bad in [
            lines(0, Some(2)),
            lines(4, None),
            lines(2, Some(9)),
            lines(3, Some(2)),
        ] {
            assert!(select_lines(text, &bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn an_anchor_shows_its_region_without_the_marker_lines() {
        let text = "fn a() {}\n\
            // ANCHOR: outer\n\
            fn b() {}\n\
            // ANCHOR: inner\n\
            fn c() {}\n\
            // ANCHOR_END: inner\n\
            // ANCHOR_END: outer\n";
        let outer = Selection::Anchor("outer".to_string());
        assert_eq!(
            select_lines(text, &outer),
            Ok(vec![(3, "fn b() {}"), (5, "fn c() {}")])
        );
    }

    #[test]
    fn a_missing_anchor_is_reported() {
        let text = "// ANCHOR: other\nfn a() {}\n// ANCHOR_END: other\n";
        let err = select_lines(text, &Selection::Anchor("handler".to_string()))
            .unwrap_err();
        assert!(err.contains("no line with `ANCHOR: handler`"), "{err}");
    }

    #[test]
    fn an_anchor_without_its_end_is_reported() {
        let text = "// ANCHOR: handler\nfn a() {}\n// ANCHOR_END: other\n";
        let err = select_lines(text, &Selection::Anchor("handler".to_string()))
            .unwrap_err();
        assert!(err.contains("no `ANCHOR_END: handler`"), "{err}");
    }

    #[test]
    fn an_include_of_a_missing_file_is_reported_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("src")).unwrap();
        fs::write(dir.path().join("src/here.rs"), "fn a() {}\n").unwrap();
        let page = page(
            dir.path(),
            "# Title\n\n```rust\n{{#include here.rs}}\n{{#include gone.rs}}\n```\n",
        );
        let problems = include_problems(dir.path(), &page);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].starts_with("src/page.md:5:"), "{}", problems[0]);
        assert!(
            problems[0].contains("no file src/gone.rs"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn a_line_wider_than_the_page_is_reported_where_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("src")).unwrap();
        // 85 characters fit, even when a character takes two bytes.
        let fits = "é".repeat(MAX_WIDTH);
        let too_wide = "x".repeat(MAX_WIDTH + 1);
        let code =
            format!("{fits}\n{too_wide}\n// ANCHOR: a\nshort\n// ANCHOR_END: a\n");
        fs::write(dir.path().join("code.rs"), code).unwrap();
        let page = page(
            dir.path(),
            "{{#include ../code.rs:a}}\n{{#include ../code.rs}}\n",
        );
        let long = long_lines(dir.path(), &page);
        assert_eq!(
            long,
            vec![LongLine {
                file: "code.rs".to_string(),
                line: 2,
                width: MAX_WIDTH + 1,
                shown_at: "src/page.md:2".to_string(),
            }]
        );
        let problems = long_line_problems(long);
        assert!(problems[0].starts_with("code.rs:2 is 86 characters"));
    }
}
