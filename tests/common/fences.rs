//! Rule 5: no hand-typed code in the book.
//!
//! Code typed into a page is never compiled, run or compared with what the
//! server really sends, so it drifts from the truth without anyone noticing.
//! A code block may therefore hold only `{{#include ...}}` lines, which pull
//! in files that the tests do check. Two things are exempt: `sh` and
//! `console` blocks, which show commands for the reader to type, and a line
//! that is only a URL, which a reader copies into a browser.

use regex::Regex;
use std::sync::LazyLock;

/// A line that only includes a file.
static INCLUDE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*\{\{\s*#(include|rustdoc_include)\s+[^}]+\}\}\s*$").unwrap()
});

/// A line that is only a URL.
static URL_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^https?://\S+$").unwrap());

/// Info-string languages whose blocks show what a reader types at a prompt.
const TYPED_BY_THE_READER: [&str; 2] = ["sh", "console"];

/// A fenced code block of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The line of the opening fence, from 1.
    pub line: usize,
    /// The opening fence as written, e.g. "```rust".
    pub fence: String,
    /// The info string after the fence, e.g. "rust,ignore".
    pub info: String,
    /// The lines between the fences, each with its line number.
    pub body: Vec<(usize, String)>,
    /// False when the page ends before the closing fence.
    pub closed: bool,
}

/// The fence that opens a block: three or more backticks or tildes, then an
/// info string (which, after backticks, may not hold a backtick).
fn opening_fence(line: &str) -> Option<(char, usize, &str)> {
    let rest = line.trim_start();
    let ch = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = rest.chars().take_while(|c| *c == ch).count();
    let info = rest[len..].trim();
    if len < 3 || (ch == '`' && info.contains('`')) {
        return None;
    }
    Some((ch, len, info))
}

/// Whether `line` closes a block opened by `len` times `ch`: at least as
/// many of the same character, and nothing after them.
fn closes(line: &str, ch: char, len: usize) -> bool {
    let rest = line.trim();
    let run = rest.chars().take_while(|c| *c == ch).count();
    run >= len && run == rest.chars().count()
}

/// Every fenced code block of a page, in order. Like CommonMark, a fence
/// that is never closed runs to the end of the page.
pub fn code_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    while let Some((number, line)) = lines.next() {
        let Some((ch, len, info)) = opening_fence(line) else {
            continue;
        };
        let mut block = Block {
            line: number,
            fence: line.trim().to_string(),
            info: info.to_string(),
            body: Vec::new(),
            closed: false,
        };
        for (number, line) in lines.by_ref() {
            if closes(line, ch, len) {
                block.closed = true;
                break;
            }
            block.body.push((number, line.to_string()));
        }
        blocks.push(block);
    }
    blocks
}

/// The first word of an info string: "rust" in "rust,ignore" or "rust x".
fn language(info: &str) -> &str {
    info.split(|c: char| c.is_whitespace() || c == ',' || c == '{')
        .next()
        .unwrap_or("")
}

/// Rule 5 for one page: every code block whose lines are not all includes,
/// blank lines or URLs, unless it shows commands the reader types.
pub fn hand_typed_code(shown: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for block in code_blocks(text) {
        if !block.closed {
            problems.push(format!(
                "{shown}:{}: the code block opened by {} is never closed, so \
                 the rest of the page is shown as code; add the closing fence",
                block.line, block.fence
            ));
            continue;
        }
        if TYPED_BY_THE_READER.contains(&language(&block.info)) {
            continue;
        }
        let typed: Vec<&(usize, String)> = block
            .body
            .iter()
            .filter(|(_, l)| {
                let l = l.trim();
                !l.is_empty() && !INCLUDE_LINE.is_match(l) && !URL_LINE.is_match(l)
            })
            .collect();
        if let Some((_, example)) = typed.first() {
            let numbers: Vec<String> =
                typed.iter().map(|(n, _)| n.to_string()).collect();
            let lines = match numbers.len() {
                1 => format!("line {}", numbers[0]),
                _ => format!("lines {}", numbers.join(", ")),
            };
            problems.push(format!(
                "{shown}:{}: the {} block holds hand-typed text on {lines} \
                 (the first is `{}`)",
                block.line,
                block.fence,
                example.trim(),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_typed_rust_block_is_reported() {
        let page = "# Title\n\n```rust\nfn main() {}\n```\n";
        let problems = hand_typed_code("src/p.md", page);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].starts_with("src/p.md:3: the ```rust block"));
        assert!(problems[0].contains("on line 4 (the first is `fn main() {}`)"));
    }

    #[test]
    fn a_block_of_includes_blank_lines_and_urls_is_accepted() {
        let page = "```rust,ignore\n\
            {{#include ../chapters/01-polling/src/lib.rs:handler}}\n\
            \n\
            {{#rustdoc_include ../x.rs:2:5}}\n\
            ```\n\
            ~~~text\n\
            http://localhost:3000/\n\
            ~~~\n";
        assert_eq!(hand_typed_code("p.md", page), Vec::<String>::new());
    }

    #[test]
    fn sh_and_console_blocks_may_hold_typed_commands() {
        let page = "```sh\ncargo run -p ch01-polling\n```\n\
            ```console\n$ curl -i http://localhost:3000/messages\n```\n";
        assert_eq!(hand_typed_code("p.md", page), Vec::<String>::new());
    }

    #[test]
    fn a_typed_line_beside_an_include_is_reported() {
        let page = "```http\n{{#include ../a.snap:4:}}\nHTTP/1.1 200 OK\n```\n";
        let problems = hand_typed_code("p.md", page);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].contains("on line 3 "), "{}", problems[0]);
    }

    #[test]
    fn tilde_fences_and_long_fences_are_blocks_too() {
        let page = "~~~\nlet x = 1;\n~~~\n\
            ````md\n```rust\n{{#include a.rs}}\n```\n````\n";
        let problems = hand_typed_code("p.md", page);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].starts_with("p.md:1:"), "{}", problems[0]);
        assert!(problems[1].contains("on lines 5, 7 "), "{}", problems[1]);
    }

    #[test]
    fn an_unclosed_block_is_reported() {
        let problems = hand_typed_code("p.md", "text\n```rust\n{{#include a.rs}}\n");
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].contains("never closed"), "{}", problems[0]);
    }

    #[test]
    fn inline_code_is_not_a_block() {
        let page = "```cargo test``` runs the tests.\n";
        assert_eq!(code_blocks(page), Vec::<Block>::new());
    }
}
