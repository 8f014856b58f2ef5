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
        }
    }

    pub fn bit(self) -> u32 {
        self as u32
    }

    pub fn from_name(name: &str) -> Option<Cap> {
        Cap::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// The value shown in `CAP LS 302` (`name=value`), if any.
    pub fn value(self) -> Option<&'static str> {
        None
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
        assert_eq!(Cap::from_name("sasl"), None);
    }
}
