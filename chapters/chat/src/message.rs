//! What a chat message is, and the rules a new one must follow.
//!
//! These rules are the same in every chapter (chapter 1, "The chat"),
//! so every delivery technique in the book carries exactly the same
//! messages.

use serde::{Deserialize, Serialize};

// ANCHOR: message
/// A stored message, as every chapter sends it:
/// `{"id":1,"user":"ana","text":"hello"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Assigned by the server: 1, 2, 3, … with no gaps.
    pub id: u64,
    pub user: String,
    pub text: String,
}

/// What a client sends to post a message: `{"user":"ana","text":"hello"}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct NewMessage {
    pub user: String,
    pub text: String,
}
// ANCHOR_END: message

/// The longest user name, in characters (not bytes).
pub const MAX_USER_CHARS: usize = 32;
/// The longest text, in characters (not bytes).
pub const MAX_TEXT_CHARS: usize = 1000;

// ANCHOR: validate
impl NewMessage {
    /// Checks the length and blank rules. The error says, in words,
    /// which rule is broken; the route answers it with 422.
    pub fn validate(&self) -> Result<(), String> {
        check("user", &self.user, MAX_USER_CHARS)?;
        check("text", &self.text, MAX_TEXT_CHARS)
    }
}

fn check(field: &str, value: &str, max: usize) -> Result<(), String> {
    // Count characters, not bytes: "é" is one character but two
    // bytes in UTF-8, and a reader counts characters.
    let chars = value.chars().count();
    if value.trim().is_empty() {
        return Err(format!("{field} must not be blank"));
    }
    if chars > max {
        return Err(format!(
            "{field} must be at most {max} characters, not {chars}"
        ));
    }
    Ok(())
}
// ANCHOR_END: validate

#[cfg(test)]
mod tests {
    use super::*;

    fn new(user: &str, text: &str) -> NewMessage {
        NewMessage {
            user: user.into(),
            text: text.into(),
        }
    }

    #[test]
    fn lengths_are_counted_in_characters() {
        assert!(new(&"é".repeat(32), "hi").validate().is_ok());
        let err = new(&"é".repeat(33), "hi").validate().unwrap_err();
        assert_eq!(err, "user must be at most 32 characters, not 33");
        assert!(new("ana", &"x".repeat(1000)).validate().is_ok());
        assert!(new("ana", &"x".repeat(1001)).validate().is_err());
    }

    #[test]
    fn blank_and_empty_are_refused() {
        assert_eq!(
            new("", "hi").validate().unwrap_err(),
            "user must not be blank"
        );
        let err = new("ana", " \n\t").validate().unwrap_err();
        assert_eq!(err, "text must not be blank");
    }
}
