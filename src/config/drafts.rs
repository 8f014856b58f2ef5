//! The config of the IRCv3 drafts that bridges and modern clients use:
//! `[multiline]` (draft/multiline limits), `[relaymsg]` (who may relay
//! messages under spoofed nicks, and the separators such nicks carry) and
//! `[read_markers]` (draft/read-marker). Kept apart from the rest of
//! validation so that the keys of one feature live together.

use std::time::Duration;

use serde::Deserialize;

use super::parse_duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMultiline {
    pub enabled: bool,
    /// `max-bytes`: the combined message, line feeds included.
    pub max_bytes: usize,
    /// `max-lines`: PRIVMSG or NOTICE lines in one batch.
    pub max_lines: usize,
    /// A batch still open this long after `BATCH +` is dropped.
    pub timeout: String,
}

impl Default for RawMultiline {
    fn default() -> Self {
        RawMultiline {
            enabled: true,
            max_bytes: 4096,
            max_lines: 100,
            timeout: "30s".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRelaymsg {
    pub enabled: bool,
    /// Characters a relayed nick must carry (and a real nick may not).
    pub separators: String,
    /// Channel operators may relay in their channels.
    pub available_to_chanops: bool,
    /// IRC operators may relay in any channel they may speak in.
    pub opers: bool,
    /// Accounts (relay bots) that may relay in any channel they may speak in.
    pub accounts: Vec<String>,
}

impl Default for RawRelaymsg {
    fn default() -> Self {
        RawRelaymsg {
            enabled: true,
            separators: "/".into(),
            available_to_chanops: true,
            opers: true,
            accounts: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawReadMarkers {
    pub enabled: bool,
    /// Targets remembered per account (or per connection without one); the
    /// oldest marker goes first.
    pub max_targets: usize,
}

impl Default for RawReadMarkers {
    fn default() -> Self {
        RawReadMarkers {
            enabled: true,
            max_targets: 256,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Multiline {
    pub enabled: bool,
    pub max_bytes: usize,
    pub max_lines: usize,
    pub timeout: Duration,
}

impl Multiline {
    /// The `draft/multiline` capability value.
    pub fn cap_value(&self) -> String {
        format!("max-bytes={},max-lines={}", self.max_bytes, self.max_lines)
    }
}

#[derive(Debug, Clone)]
pub struct Relaymsg {
    pub enabled: bool,
    pub separators: String,
    pub available_to_chanops: bool,
    pub opers: bool,
    pub accounts: Vec<String>,
}

impl Relaymsg {
    /// Does `nick` carry a separator (so it is a relayed nick, which no
    /// client may take with NICK)?
    pub fn is_relayed(&self, nick: &str) -> bool {
        self.enabled && nick.contains(|c| self.separators.contains(c))
    }
}

#[derive(Debug, Clone)]
pub struct ReadMarkers {
    pub enabled: bool,
    pub max_targets: usize,
}

/// Characters no separator may be: they break the nick!user@host source or
/// a target list, or the relaymsg spec reserves them.
const RESERVED: &str = "!+%@&#$:'\"?*,.;= ";

pub(super) fn validate(
    m: &RawMultiline,
    r: &RawRelaymsg,
    k: &RawReadMarkers,
    errs: &mut Vec<String>,
) -> (Multiline, Relaymsg, ReadMarkers) {
    if !(512..=65536).contains(&m.max_bytes) {
        errs.push(format!(
            "multiline.max_bytes: {} is outside 512..=65536",
            m.max_bytes
        ));
    }
    if !(1..=1000).contains(&m.max_lines) {
        errs.push(format!(
            "multiline.max_lines: {} is outside 1..=1000",
            m.max_lines
        ));
    }
    let timeout = match parse_duration(&m.timeout) {
        Ok(d) if !d.is_zero() => d,
        Ok(_) => {
            errs.push("multiline.timeout: must be at least 1s".into());
            Duration::from_secs(1)
        }
        Err(e) => {
            errs.push(format!("multiline.timeout: {e}"));
            Duration::from_secs(1)
        }
    };
    if r.separators.is_empty() || r.separators.chars().count() > 8 {
        errs.push(format!(
            "relaymsg.separators: {:?} must be 1 to 8 characters",
            r.separators
        ));
    }
    if let Some(bad) = r
        .separators
        .chars()
        .find(|c| !c.is_ascii_graphic() || c.is_ascii_alphanumeric() || RESERVED.contains(*c))
    {
        errs.push(format!(
            "relaymsg.separators: {bad:?} cannot be a separator (letters, digits, spaces and {RESERVED:?} are not allowed)"
        ));
    }
    for (i, a) in r.accounts.iter().enumerate() {
        if a.is_empty() || a.contains(' ') {
            errs.push(format!("relaymsg.accounts[{i}]: {a:?} must be one word"));
        }
    }
    if !(1..=10_000).contains(&k.max_targets) {
        errs.push(format!(
            "read_markers.max_targets: {} is outside 1..=10000",
            k.max_targets
        ));
    }
    (
        Multiline {
            enabled: m.enabled,
            max_bytes: m.max_bytes,
            max_lines: m.max_lines,
            timeout,
        },
        Relaymsg {
            enabled: r.enabled,
            separators: r.separators.clone(),
            available_to_chanops: r.available_to_chanops,
            opers: r.opers,
            accounts: r.accounts.clone(),
        },
        ReadMarkers {
            enabled: k.enabled,
            max_targets: k.max_targets,
        },
    )
}
