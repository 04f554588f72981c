//! Parsers for the flags that every chapter binary shares, so that
//! `--history 0` or `--interval soon` get the same clear message in
//! every chapter.

use std::time::Duration;

/// A whole number of at least 1 (`--history`, `--max-waiters`, …).
pub fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "expected a whole number of at least 1, not {text:?}"
        )),
    }
}

/// Seconds, more than 0 and at most an hour; `0.5` is allowed.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let parsed = text
        .parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0 && *s <= 3600.0);
    let why = || format!("expected seconds between 0 and 3600, not {text:?}");
    parsed.map(Duration::from_secs_f64).ok_or_else(why)
}

/// Like [`seconds`], but `0` is allowed too ("not at all").
pub fn seconds_or_zero(text: &str) -> Result<Duration, String> {
    if text.parse::<f64>() == Ok(0.0) {
        return Ok(Duration::ZERO);
    }
    seconds(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_with_a_reason() {
        assert_eq!(at_least_one("3"), Ok(3));
        assert!(at_least_one("0").unwrap_err().contains("at least 1"));
        assert_eq!(seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(seconds("0").is_err());
        assert!(seconds("soon").unwrap_err().contains("\"soon\""));
        assert_eq!(seconds_or_zero("0"), Ok(Duration::ZERO));
    }
}
