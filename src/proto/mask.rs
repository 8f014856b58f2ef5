//! Mask matching: `nick!user@host` globs with `*` and `?`, compared under the
//! casemapping, plus CIDR host masks (`*!*@192.0.2.0/24`).

use std::net::IpAddr;

use super::casemap::Casemapping;

/// Glob match of `text` against `mask` (`*` any run, `?` one character),
/// iterative with one backtrack point, so it is linear-ish and never recurses.
pub fn glob_match(mask: &str, text: &str, cm: Casemapping) -> bool {
    let m: Vec<char> = mask.chars().map(|c| cm.fold_char(c)).collect();
    let t: Vec<char> = text.chars().map(|c| cm.fold_char(c)).collect();
    let (mut mi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if mi < m.len() && (m[mi] == '?' || m[mi] == t[ti]) && m[mi] != '*' {
            mi += 1;
            ti += 1;
        } else if mi < m.len() && m[mi] == '*' {
            star = Some((mi, ti));
            mi += 1;
        } else if let Some((smi, sti)) = star {
            mi = smi + 1;
            ti = sti + 1;
            star = Some((smi, sti + 1));
        } else {
            return false;
        }
    }
    while mi < m.len() && m[mi] == '*' {
        mi += 1;
    }
    mi == m.len()
}

/// Splits `nick!user@host` into its three parts (missing parts are empty).
pub fn split_userhost(s: &str) -> (&str, &str, &str) {
    let (nick, rest) = match s.find('!') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => match s.find('@') {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        },
    };
    match rest.find('@') {
        Some(i) => (nick, &rest[..i], &rest[i + 1..]),
        None => (nick, rest, ""),
    }
}

/// Makes a full `nick!user@host` mask out of a partial one, the way servers
/// do for `MODE +b nick` or `+b *@host`.
pub fn normalize_mask(mask: &str) -> String {
    if mask.starts_with('$') {
        return mask.to_string();
    }
    let (nick, user, host) = if !mask.contains('!') && !mask.contains('@') {
        (mask, "*", "*")
    } else if !mask.contains('!') {
        let (u, h) = mask.split_once('@').unwrap_or((mask, "*"));
        ("*", u, h)
    } else {
        split_userhost(mask)
    };
    let or_star = |s: &str| {
        if s.is_empty() {
            "*".to_string()
        } else {
            s.to_string()
        }
    };
    format!("{}!{}@{}", or_star(nick), or_star(user), or_star(host))
}

/// A network in CIDR notation ("10.0.0.0/8", "::1/128"), parsed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u32,
}

impl Cidr {
    /// Parses `net/bits`; None when it is not a CIDR of its address family.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (net, bits) = s.split_once('/')?;
        let net = net.parse::<IpAddr>().ok()?;
        let bits = bits.parse::<u32>().ok()?;
        (bits <= if net.is_ipv4() { 32 } else { 128 }).then_some(Cidr { net, bits })
    }

    /// Is `ip` in this network? An IPv4-mapped IPv6 address counts as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let bits = self.bits;
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                u32::from(n) & m == u32::from(a) & m
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let m = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                u128::from(n) & m == u128::from(a) & m
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.bits)
    }
}

/// Does `host_mask` (the part after '@') match the client's address by CIDR?
pub fn cidr_match(host_mask: &str, ip: IpAddr) -> bool {
    Cidr::parse(host_mask).is_some_and(|c| c.contains(ip))
}

/// A hostname is valid when it is dot-separated labels of letters, digits and
/// inner hyphens, at most 253 bytes (the ircdocs validate-hostname rules).
pub fn valid_hostname(host: &str) -> bool {
    // A trailing dot (a fully qualified name) is allowed.
    let labels = host.strip_suffix('.').unwrap_or(host);
    !labels.is_empty()
        && host.len() <= 253
        && host.contains('.')
        && labels.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let cm = Casemapping::Rfc1459;
        assert!(glob_match("*", "", cm));
        assert!(glob_match("a*b?c", "aXXbYc", cm));
        assert!(!glob_match("a*b?c", "aXXbc", cm));
        assert!(glob_match("NICK[x]!*@*", "nick{x}!u@h", cm));
        assert!(!glob_match(
            "NICK[x]!*@*",
            "nick{x}!u@h",
            Casemapping::Ascii
        ));
        assert!(!glob_match(&"*a".repeat(30), &"a".repeat(29), cm));
    }

    #[test]
    fn normalize() {
        assert_eq!(normalize_mask("nick"), "nick!*@*");
        assert_eq!(normalize_mask("*@host"), "*!*@host");
        assert_eq!(normalize_mask("n!u@h"), "n!u@h");
        assert_eq!(normalize_mask("n!@"), "n!*@*");
        assert_eq!(normalize_mask("$a:acct"), "$a:acct");
    }

    #[test]
    fn cidr() {
        assert!(cidr_match("10.0.0.0/8", "10.1.2.3".parse().unwrap()));
        assert!(!cidr_match("10.0.0.0/8", "11.1.2.3".parse().unwrap()));
        assert!(cidr_match("2001:db8::/32", "2001:db8::1".parse().unwrap()));
        assert!(!cidr_match("garbage/8", "10.1.2.3".parse().unwrap()));
        assert!(cidr_match(
            "127.0.0.0/8",
            "::ffff:127.0.0.1".parse().unwrap()
        ));
    }
}
