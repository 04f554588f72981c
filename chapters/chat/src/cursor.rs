//! Cursors, runs, and the reset that says "start again".
//!
//! A client resumes from a cursor: "I have seen every message up to
//! id 5". That sentence is true only for the server that sent id 5.
//! A restarted server starts again at id 1, and its id 5 is another
//! message. So every server run has a name, the *run*, made at start,
//! and a client names it with its cursor: `?after=5&run=k3x9qa`, or
//! `Last-Event-ID: k3x9qa.5` for an event stream.
//!
//! A cursor that this run never issued gets a [`Reset`] at once,
//! never silence: one from another run, one from the future (an id
//! larger than the newest), or one older than the history still kept.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

// ANCHOR: run
/// The name of one run of the server: six random characters from
/// `a`–`z` and `0`–`9`, made when the store is made. Two runs get
/// the same name with a chance of one in two billion.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Run(Arc<str>);

impl Run {
    /// A new random name, for a new run.
    pub fn random() -> Run {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let name: String = (0..6)
            .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
            .collect();
        Run(name.into())
    }

    /// A fixed name: tests use one, so that transcripts do not change.
    /// It must be a cursor's first part, so it has no `.` in it.
    pub fn named(name: &str) -> Run {
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()),
            "a run name is letters and digits, not {name:?}"
        );
        Run(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
// ANCHOR_END: run

// ANCHOR: cursor
/// Where a client says it stopped: after message `after` of `run`.
/// A client that does not name the run (curl with `?after=5`) is
/// trusted as far as the server can check it: the id must exist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub run: Option<String>,
    pub after: u64,
}

impl Cursor {
    /// The start: no message seen yet. It never needs a reset.
    pub fn start() -> Cursor {
        Cursor::default()
    }

    /// A cursor as an event stream writes it in `id:` and a browser
    /// sends it back in `Last-Event-ID`: `RUN.ID` (`k3x9qa.5`), or a
    /// bare `ID` from a client that does not know the run.
    pub fn parse(token: &str) -> Result<Cursor, String> {
        let token = token.trim();
        let (run, id) = match token.split_once('.') {
            Some((run, id)) => (Some(run.to_owned()), id),
            None => (None, token),
        };
        let after = id.parse::<u64>().map_err(|_| {
            format!("a cursor is RUN.ID or ID (a whole number), not {token:?}")
        })?;
        Ok(Cursor { run, after })
    }

    /// The token form, `RUN.ID`, for `id:` lines.
    pub fn token(run: &Run, after: u64) -> String {
        format!("{run}.{after}")
    }
}
// ANCHOR_END: cursor

// ANCHOR: reset
/// The answer to a cursor this run cannot continue: why, in words,
/// the run's name, and the cursor to continue from. The page drops its
/// own cursor, takes `after` and `run` from here, and says that the
/// history was reset.
///
/// As JSON (a WebSocket frame, an SSE event's data, a 409's body):
/// `{"reset":"the server restarted: …","run":"b2","after":0}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reset {
    pub reset: String,
    pub run: String,
    pub after: u64,
}

impl Reset {
    /// The reset as one line of JSON.
    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a reset serializes")
    }
}
// ANCHOR_END: reset

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_refuses_the_rest() {
        let with_run = Cursor::parse("k3x9qa.5").unwrap();
        assert_eq!(with_run.run.as_deref(), Some("k3x9qa"));
        assert_eq!(with_run.after, 5);
        assert_eq!(Cursor::parse(" 7 ").unwrap().run, None);
        for bad in ["", "x", "a.b", "a.-1", "1.5.3"] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn random_runs_are_six_characters_and_differ() {
        let (a, b) = (Run::random(), Run::random());
        assert_eq!(a.as_str().len(), 6);
        assert_ne!(a, b);
        assert_eq!(Cursor::token(&Run::named("b2"), 9), "b2.9");
    }
}
