//! A text sequence diagram: clients and the server side by side,
//! one arrow per HTTP message, time going down.
//!
//! ```text
//!  C1                     server
//!   │ GET /messages?after=0  │
//!   │───────────────────────▶│
//!   │ 200 OK, 2-byte body    │
//!   │◀───────────────────────│
//! ```

use crate::record::Dir;

/// Draws `messages` (connection, direction, summary) in order, in
/// lines at most `page_width` characters wide (the transcript's).
pub fn draw(messages: &[(usize, Dir, String)], page_width: usize) -> String {
    let mut conns: Vec<usize> = messages.iter().map(|m| m.0).collect();
    conns.sort_unstable();
    conns.dedup();
    // Columns: the first client left of the server, the others right.
    let mut names: Vec<String> = Vec::new();
    let mut column_of = std::collections::HashMap::new();
    for (i, conn) in conns.iter().enumerate() {
        if i == 1 {
            names.push("server".into());
        }
        column_of.insert(*conn, names.len());
        names.push(format!("C{conn}"));
    }
    if conns.len() <= 1 {
        names.push("server".into());
    }
    let server = names.iter().position(|n| n == "server").unwrap();
    let longest = messages
        .iter()
        .map(|m| m.2.chars().count())
        .max()
        .unwrap_or(0);
    let columns = names.len();
    let max_gap = (page_width - 4) / (columns - 1).max(1);
    let gap = (longest + 4).clamp(12, max_gap.max(12));
    let x = |col: usize| 3 + col * gap;
    let width = x(columns - 1) + 4;

    let mut out = String::new();
    let mut header = vec![' '; width];
    for (col, name) in names.iter().enumerate() {
        let start = x(col).saturating_sub(name.chars().count() / 2);
        for (i, c) in name.chars().enumerate() {
            if start + i < width {
                header[start + i] = c;
            }
        }
    }
    push_line(&mut out, &header);

    let lifelines = || {
        let mut line = vec![' '; width];
        for col in 0..columns {
            line[x(col)] = '│';
        }
        line
    };
    for (conn, dir, summary) in messages {
        let client = column_of[conn];
        let (from, to) = match dir {
            Dir::ToServer => (client, server),
            Dir::ToClient => (server, client),
        };
        let (left, right) = (x(from.min(to)), x(from.max(to)));
        // The label, cut to fit between the two lifelines.
        let room = right - left - 2;
        let mut label: Vec<char> = summary.chars().collect();
        if label.len() > room {
            label.truncate(room - 1);
            label.push('…');
        }
        let mut line = lifelines();
        for (i, c) in label.into_iter().enumerate() {
            line[left + 2 + i] = c;
        }
        push_line(&mut out, &line);
        let mut line = lifelines();
        for cell in line.iter_mut().take(right).skip(left + 1) {
            *cell = '─';
        }
        if to > from {
            line[right - 1] = '▶';
        } else {
            line[left + 1] = '◀';
        }
        push_line(&mut out, &line);
    }
    push_line(&mut out, &lifelines());
    out
}

fn push_line(out: &mut String, line: &[char]) {
    let text: String = line.iter().collect();
    out.push_str(text.trim_end());
    out.push('\n');
}
