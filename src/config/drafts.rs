//! The config of the IRCv3 drafts that bridges and modern clients use:
//! `[read_markers]` (draft/read-marker). Kept apart from the rest of
//! validation so that the keys of one feature live together.

use serde::Deserialize;

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
pub struct ReadMarkers {
    pub enabled: bool,
    pub max_targets: usize,
}

pub(super) fn validate(k: &RawReadMarkers, errs: &mut Vec<String>) -> ReadMarkers {
    if !(1..=10_000).contains(&k.max_targets) {
        errs.push(format!(
            "read_markers.max_targets: {} is outside 1..=10000",
            k.max_targets
        ));
    }
    ReadMarkers {
        enabled: k.enabled,
        max_targets: k.max_targets,
    }
}
