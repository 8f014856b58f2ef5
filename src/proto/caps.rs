//! The capability table: every IRCv3 capability the server offers, its bit in
//! a client's capability set, and its value for `CAP LS 302`.
//!
//! Invariant: a capability is listed here only once the server does what it
//! promises; the unit test below keeps ISUPPORT-related claims honest.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Cap {
    CapNotify = 1 << 0,
    MultiPrefix = 1 << 1,
    UserhostInNames = 1 << 2,
    AwayNotify = 1 << 3,
    ExtendedJoin = 1 << 4,
    InviteNotify = 1 << 5,
    EchoMessage = 1 << 6,
    MessageTags = 1 << 7,
    ServerTime = 1 << 8,
    Batch = 1 << 9,
    LabeledResponse = 1 << 10,
    StandardReplies = 1 << 11,
    AccountNotify = 1 << 12,
    AccountTag = 1 << 13,
    Chghost = 1 << 14,
    Setname = 1 << 15,
    NoImplicitNames = 1 << 16,
    /// Offered only where a real certificate is configured; never requested.
    Sts = 1 << 17,
    ExtendedMonitor = 1 << 18,
    /// Offered only while services are on, with the mechanisms as value.
    Sasl = 1 << 19,
    /// draft/account-registration (REGISTER, VERIFY): while services are on.
    AccountRegistration = 1 << 20,
    /// draft/multiline, with `max-bytes` and `max-lines` as value.
    Multiline = 1 << 26,
    /// draft/relaymsg, with the nick separators as value; while enabled.
    Relaymsg = 1 << 27,
    /// draft/read-marker (MARKREAD).
    ReadMarker = 1 << 28,
    /// The history caps: offered only while `[history] enabled`.
    Chathistory = 1 << 24,
    EventPlayback = 1 << 25,
    MessageRedaction = 1 << 29,
}

impl Cap {
    pub const ALL: &[Cap] = &[
        Cap::CapNotify,
        Cap::MultiPrefix,
        Cap::UserhostInNames,
        Cap::AwayNotify,
        Cap::ExtendedJoin,
        Cap::InviteNotify,
        Cap::EchoMessage,
        Cap::MessageTags,
        Cap::ServerTime,
        Cap::Batch,
        Cap::LabeledResponse,
        Cap::StandardReplies,
        Cap::AccountNotify,
        Cap::AccountTag,
        Cap::Chghost,
        Cap::Setname,
        Cap::NoImplicitNames,
        Cap::Sts,
        Cap::ExtendedMonitor,
        Cap::Sasl,
        Cap::AccountRegistration,
        Cap::Multiline,
        Cap::Relaymsg,
        Cap::ReadMarker,
        Cap::Chathistory,
        Cap::EventPlayback,
        Cap::MessageRedaction,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cap::CapNotify => "cap-notify",
            Cap::MultiPrefix => "multi-prefix",
            Cap::UserhostInNames => "userhost-in-names",
            Cap::AwayNotify => "away-notify",
            Cap::ExtendedJoin => "extended-join",
            Cap::InviteNotify => "invite-notify",
            Cap::EchoMessage => "echo-message",
            Cap::MessageTags => "message-tags",
            Cap::ServerTime => "server-time",
            Cap::Batch => "batch",
            Cap::LabeledResponse => "labeled-response",
            Cap::StandardReplies => "standard-replies",
            Cap::AccountNotify => "account-notify",
            Cap::AccountTag => "account-tag",
            Cap::Chghost => "chghost",
            Cap::Setname => "setname",
            Cap::NoImplicitNames => "draft/no-implicit-names",
            Cap::Sts => "sts",
            Cap::ExtendedMonitor => "extended-monitor",
            Cap::Sasl => "sasl",
            Cap::AccountRegistration => "draft/account-registration",
            Cap::Multiline => "draft/multiline",
            Cap::Relaymsg => "draft/relaymsg",
            Cap::ReadMarker => "draft/read-marker",
            Cap::Chathistory => "draft/chathistory",
            Cap::EventPlayback => "draft/event-playback",
            Cap::MessageRedaction => "draft/message-redaction",
        }
    }

    pub fn bit(self) -> u32 {
        self as u32
    }

    pub fn from_name(name: &str) -> Option<Cap> {
        Cap::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// Whether a client may ask for it with CAP REQ (sts is only advertised).
    pub fn requestable(self) -> bool {
        self != Cap::Sts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bits_are_unique() {
        let mut bits = 0;
        for c in Cap::ALL {
            assert_eq!(bits & c.bit(), 0, "{c:?}");
            bits |= c.bit();
            assert_eq!(Cap::from_name(c.name()), Some(*c));
        }
        assert_eq!(Cap::from_name("draft/nonexistent"), None);
    }
}
