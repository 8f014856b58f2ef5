//! The channel-mode table: every channel mode the server knows, with how it
//! takes its parameter. ISUPPORT CHANMODES and PREFIX, the 004 mode lists,
//! MODE parsing, the mode string of 324 and the state code that applies a
//! change all read this one table, so a mode exists everywhere or nowhere.

/// The highest `+l` limit accepted: 2^31 - 1, what every client's int
/// holds; `+l 99999999999` is refused with 696 (ERR_INVALIDMODEPARAM).
pub const MAX_LIMIT: usize = i32::MAX as usize;

/// How a channel mode takes its parameter (the ISUPPORT CHANMODES types, and
/// the prefix modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A: a list; a parameter to change it, none to show it.
    List,
    /// B: always a parameter.
    Always,
    /// C: a parameter only when set.
    WhenSet,
    /// D: never a parameter (a flag).
    Flag,
    /// A membership prefix (o, v): always a nick.
    Prefix,
}

pub struct ChannelMode {
    pub letter: char,
    pub kind: Kind,
    /// What it does, for documentation and HELP.
    pub what: &'static str,
}

const fn m(letter: char, kind: Kind, what: &'static str) -> ChannelMode {
    ChannelMode { letter, kind, what }
}

/// Every channel mode, in the order 324 shows flags and parameters and
/// CHANMODES lists each type.
pub const CHANNEL_MODES: &[ChannelMode] = &[
    m('i', Kind::Flag, "invite only"),
    m('m', Kind::Flag, "moderated"),
    m('n', Kind::Flag, "no messages from outside"),
    m('s', Kind::Flag, "secret"),
    m('t', Kind::Flag, "only operators set the topic"),
    m(
        'M',
        Kind::Flag,
        "only logged-in users (or voiced) may speak",
    ),
    m('R', Kind::Flag, "only logged-in users may join"),
    m(
        'E',
        Kind::WhenSet,
        "ephemeral: self-destructs after this idle time",
    ),
    m('k', Kind::Always, "channel key"),
    m('l', Kind::WhenSet, "user limit"),
    m('b', Kind::List, "ban mask"),
    m('e', Kind::List, "ban exception mask"),
    m('I', Kind::List, "invite exception mask"),
    m('o', Kind::Prefix, "channel operator"),
    m('v', Kind::Prefix, "voice"),
];

pub fn kind(letter: char) -> Option<Kind> {
    CHANNEL_MODES
        .iter()
        .find(|c| c.letter == letter)
        .map(|c| c.kind)
}

/// The letters of the modes `pred` selects, in table order.
fn letters(pred: impl Fn(Kind) -> bool) -> String {
    CHANNEL_MODES
        .iter()
        .filter(|c| pred(c.kind))
        .map(|c| c.letter)
        .collect()
}

/// 004 lists letters in ASCII order.
fn sorted(s: String) -> String {
    let mut v: Vec<char> = s.chars().collect();
    v.sort_unstable();
    v.into_iter().collect()
}

/// ISUPPORT `CHANMODES=A,B,C,D`.
pub fn chanmodes() -> String {
    format!(
        "{},{},{},{}",
        letters(|k| k == Kind::List),
        letters(|k| k == Kind::Always),
        letters(|k| k == Kind::WhenSet),
        letters(|k| k == Kind::Flag)
    )
}

/// 004: every channel mode letter.
pub fn all_letters() -> String {
    sorted(letters(|_| true))
}

/// 004: the channel modes that take a parameter.
pub fn letters_with_param() -> String {
    sorted(letters(|k| k != Kind::Flag))
}

/// ISUPPORT `PREFIX=(ov)@+`.
pub const PREFIX: &str = "(ov)@+";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isupport_and_004_come_from_the_table() {
        assert_eq!(chanmodes(), "beI,k,El,imnstMR");
        assert_eq!(all_letters(), "EIMRbeiklmnostv");
        assert_eq!(letters_with_param(), "EIbeklov");
        assert_eq!(kind('k'), Some(Kind::Always));
        assert_eq!(kind('x'), None);
    }
}
