//! `[history]`: the in-memory chat history (draft/chathistory). Kept apart
//! from the rest of validation so that the keys of one feature live
//! together. History is never written anywhere; these keys only bound it.

use std::time::Duration;

use super::{RawHistory, parse_duration};

/// What the history keeps: per channel (and per conversation between two
/// logged-in users, where `direct_messages` allows) at most `lines`
/// messages, none older than `max_age`. Never for ephemeral channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct History {
    pub enabled: bool,
    pub lines: usize,
    pub max_age: Duration,
    pub direct_messages: bool,
}

/// The most lines a ring may be configured to hold.
pub const MAX_LINES: usize = 100_000;

impl History {
    /// The most messages one CHATHISTORY request returns (ISUPPORT
    /// `CHATHISTORY`): the whole ring, up to 1000.
    pub fn request_limit(&self) -> usize {
        self.lines.min(1000)
    }
}

pub(super) fn validate(raw: &RawHistory, errs: &mut Vec<String>) -> History {
    if !(1..=MAX_LINES).contains(&raw.lines) {
        errs.push(format!(
            "history.lines: {} is outside 1..={MAX_LINES}",
            raw.lines
        ));
    }
    let max_age = match parse_duration(&raw.max_age) {
        Ok(d) if !d.is_zero() => d,
        Ok(_) => {
            errs.push("history.max_age: must be at least 1s".into());
            Duration::from_secs(1)
        }
        Err(e) => {
            errs.push(format!("history.max_age: {e}"));
            Duration::from_secs(1)
        }
    };
    History {
        enabled: raw.enabled,
        lines: raw.lines.clamp(1, MAX_LINES),
        max_age,
        direct_messages: raw.direct_messages,
    }
}
