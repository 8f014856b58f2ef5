//! Casemapping: how nicks and channel names compare, as ISUPPORT CASEMAPPING says.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Casemapping {
    /// Only A-Z fold to a-z.
    Ascii,
    /// A-Z and `[]\~` fold to a-z and `{}|^` (RFC 1459).
    #[default]
    Rfc1459,
}

impl Casemapping {
    pub fn name(self) -> &'static str {
        match self {
            Casemapping::Ascii => "ascii",
            Casemapping::Rfc1459 => "rfc1459",
        }
    }

    pub fn fold_char(self, c: char) -> char {
        match (self, c) {
            (_, 'A'..='Z') => c.to_ascii_lowercase(),
            (Casemapping::Rfc1459, '[') => '{',
            (Casemapping::Rfc1459, ']') => '}',
            (Casemapping::Rfc1459, '\\') => '|',
            (Casemapping::Rfc1459, '~') => '^',
            _ => c,
        }
    }

    pub fn fold(self, s: &str) -> String {
        s.chars().map(|c| self.fold_char(c)).collect()
    }

    pub fn eq(self, a: &str, b: &str) -> bool {
        a.len() == b.len()
            && a.chars()
                .zip(b.chars())
                .all(|(x, y)| self.fold_char(x) == self.fold_char(y))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        assert_eq!(Casemapping::Rfc1459.fold("Nick[a]\\~"), "nick{a}|^");
        assert_eq!(Casemapping::Ascii.fold("Nick[a]\\~"), "nick[a]\\~");
        assert!(Casemapping::Rfc1459.eq("FOO[", "foo{"));
        assert!(!Casemapping::Ascii.eq("FOO[", "foo{"));
        assert_eq!(Casemapping::Ascii.fold("ÉA"), "Éa");
    }
}
