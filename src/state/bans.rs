//! Server bans that last: K-lines (`user@host`, matched at registration)
//! and D-lines (an address or a network, matched as a connection is
//! accepted, before any TLS handshake). Each has a reason for the user and
//! one for operators, a setter and an optional expiry. The account store
//! keeps them across restarts (services load them at start and write each
//! change); here they are the in-memory list every check reads.
//!
//! An expiry is a wall-clock time in the store and a tokio deadline here,
//! so that a restart keeps the time left and a paused test clock drives it.
//! An expired ban is dropped when a check meets it, and its key is kept for
//! the store to purge ([`State::take_expired_bans`]).

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{ClientRef, Delivery, Event, State, unix_now};
use crate::proto::mask::{Cidr, glob_match};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BanKind {
    /// `user@host`, matched when a client registers.
    Kline,
    /// An address or network, matched when a connection is accepted.
    Dline,
}

impl BanKind {
    /// "K-line" / "D-line", for notices.
    pub fn name(self) -> &'static str {
        match self {
            BanKind::Kline => "K-line",
            BanKind::Dline => "D-line",
        }
    }

    /// The STATS letter: upper case for a permanent ban, lower for a
    /// temporary one (Solanum's `K`/`k`, `D`/`d`).
    pub fn letter(self, temporary: bool) -> char {
        match (self, temporary) {
            (BanKind::Kline, false) => 'K',
            (BanKind::Kline, true) => 'k',
            (BanKind::Dline, false) => 'D',
            (BanKind::Dline, true) => 'd',
        }
    }
}

/// One ban as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerBan {
    pub kind: BanKind,
    /// Canonical: `user@host` lowercased, or an address (`192.0.2.1`) or
    /// network (`192.0.2.0/24`) with its host bits cleared.
    pub mask: String,
    /// What the banned user is told.
    pub reason: String,
    /// What only operators see.
    #[serde(default)]
    pub oper_reason: Option<String>,
    /// The oper name (or nick) that set it.
    pub setter: String,
    /// Unix time it was set.
    pub set_at: u64,
    /// Unix time it expires; None: permanent.
    #[serde(default)]
    pub expires: Option<u64>,
}

impl ServerBan {
    /// The store key: the kind's letter and the mask ("K:bad@example.org").
    pub fn key(&self) -> String {
        ban_key(self.kind, &self.mask)
    }
}

pub fn ban_key(kind: BanKind, mask: &str) -> String {
    format!("{}:{mask}", kind.letter(false))
}

#[derive(Clone)]
enum Matcher {
    Dline(Cidr),
    Kline {
        user: String,
        host: String,
        /// The host part, when it is an address or a network.
        cidr: Option<Cidr>,
    },
}

struct Entry {
    ban: ServerBan,
    matcher: Matcher,
    deadline: Option<Instant>,
}

/// The in-memory list. Lock tier 0 (taken alone).
#[derive(Default)]
pub(super) struct Bans {
    entries: Vec<Entry>,
    /// Keys of bans dropped at expiry, for the store to purge.
    expired: Vec<String>,
}

impl Bans {
    /// Drops the bans whose time is up, noting their keys.
    fn expire(&mut self, now: Instant) {
        if !self
            .entries
            .iter()
            .any(|e| e.deadline.is_some_and(|d| d <= now))
        {
            return;
        }
        let mut kept = Vec::with_capacity(self.entries.len());
        for e in self.entries.drain(..) {
            if e.deadline.is_some_and(|d| d <= now) {
                self.expired.push(e.ban.key());
            } else {
                kept.push(e);
            }
        }
        self.entries = kept;
    }
}

/// The address a D-line or a K-line host matches: IPv4-mapped IPv6 as IPv4.
fn plain_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Parses a D-line mask (an address or a CIDR network) into its canonical
/// text; refuses networks wider than /8 (IPv4) or /16 (IPv6).
pub fn parse_dline_mask(s: &str) -> Result<(String, Cidr), &'static str> {
    let (ip, bits) = match s.split_once('/') {
        Some((ip, bits)) => (ip, Some(bits)),
        None => (s, None),
    };
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| "is not an address or a CIDR network (192.0.2.0/24, 2001:db8::/32)")?;
    let ip = plain_ip(ip);
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits: u32 = match bits {
        None => max,
        Some(b) => b
            .parse()
            .ok()
            .filter(|&b| b <= max)
            .ok_or("has a bad prefix length")?,
    };
    if bits < if ip.is_ipv4() { 8 } else { 16 } {
        return Err("is too wide (at least /8 for IPv4, /16 for IPv6)");
    }
    let net = match ip {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    };
    let text = if bits == max {
        net.to_string()
    } else {
        format!("{net}/{bits}")
    };
    let cidr = Cidr::parse(&format!("{net}/{bits}")).ok_or("is not a network")?;
    Ok((text, cidr))
}

/// Parses a K-line mask: `user@host` (a bare host means `*@host`), globs
/// allowed, no nick part, at least four characters that are not wildcards
/// or separators (Solanum's rule), so `*@*` cannot ban everyone.
pub fn parse_kline_mask(s: &str) -> Result<String, &'static str> {
    let (user, host) = s.split_once('@').unwrap_or(("*", s));
    if user.is_empty() || host.is_empty() || host.contains('@') {
        return Err("must be user@host");
    }
    let ok = |c: char| c.is_ascii_graphic() && !"!,".contains(c);
    if !user.chars().chain(host.chars()).all(ok) {
        return Err("holds a character a user@host cannot");
    }
    if user.len() > 32 || host.len() > 253 {
        return Err("is too long");
    }
    if host.contains('/') {
        parse_dline_mask(host).map_err(|_| "has a bad or too wide network")?;
    }
    let meaningful = user
        .chars()
        .chain(host.chars())
        .filter(|c| !"*?.:@/".contains(*c))
        .count();
    if meaningful < 4 {
        return Err("is too wide (at least four characters that are not wildcards)");
    }
    Ok(format!("{user}@{host}").to_ascii_lowercase())
}

fn matcher(kind: BanKind, mask: &str) -> Option<Matcher> {
    match kind {
        BanKind::Dline => parse_dline_mask(mask).ok().map(|(_, c)| Matcher::Dline(c)),
        BanKind::Kline => {
            let (user, host) = mask.split_once('@')?;
            let cidr = host
                .contains('/')
                .then(|| parse_dline_mask(host).ok().map(|(_, c)| c))
                .flatten();
            Some(Matcher::Kline {
                user: user.to_string(),
                host: host.to_string(),
                cidr,
            })
        }
    }
}

impl Matcher {
    /// Does a connection from `ip` (with `user@host`, for a K-line) match?
    fn hits(&self, ip: Option<IpAddr>, userhost: Option<(&str, &str)>, st: &State) -> bool {
        let ip = ip.map(plain_ip);
        match self {
            Matcher::Dline(c) => ip.is_some_and(|ip| c.contains(ip)),
            Matcher::Kline { user, host, cidr } => {
                let Some((u, h)) = userhost else {
                    return false;
                };
                glob_match(user, u, st.casemap)
                    && match cidr {
                        Some(c) => ip.is_some_and(|ip| c.contains(ip)),
                        None => {
                            glob_match(host, h, st.casemap)
                                || ip
                                    .is_some_and(|ip| glob_match(host, &ip.to_string(), st.casemap))
                        }
                    }
            }
        }
    }
}

impl State {
    /// The bans the store kept, at start; returns the keys of those that
    /// expired while the server was down (for the store to purge).
    pub fn load_bans(&self, bans: Vec<ServerBan>) -> Vec<String> {
        let now = unix_now();
        let mut list = self.bans.lock();
        let mut gone = Vec::new();
        for ban in bans {
            let left = match ban.expires {
                Some(at) if at <= now => {
                    gone.push(ban.key());
                    continue;
                }
                Some(at) => Some(Duration::from_secs(at - now)),
                None => None,
            };
            let Some(m) = matcher(ban.kind, &ban.mask) else {
                gone.push(ban.key());
                continue;
            };
            list.entries.push(Entry {
                ban,
                matcher: m,
                deadline: left.map(|d| Instant::now() + d),
            });
        }
        gone
    }

    /// Adds a ban (its mask already canonical) lasting `duration` (None:
    /// permanent) and ends every connected client it matches: each gets
    /// 465 with the user reason and its connection is closed with
    /// "Banned: <reason>". Refused with the ban already in place for the
    /// same mask. Returns the ban as stored (with its expiry).
    pub fn add_ban(
        &self,
        mut ban: ServerBan,
        duration: Option<Duration>,
    ) -> Result<(ServerBan, Vec<Delivery>), Box<ServerBan>> {
        let m = matcher(ban.kind, &ban.mask).ok_or_else(|| Box::new(ban.clone()))?;
        ban.expires = duration.map(|d| unix_now() + d.as_secs());
        {
            let mut list = self.bans.lock();
            list.expire(Instant::now());
            if let Some(e) = list
                .entries
                .iter()
                .find(|e| e.ban.kind == ban.kind && e.ban.mask == ban.mask)
            {
                return Err(Box::new(e.ban.clone()));
            }
            list.entries.push(Entry {
                ban: ban.clone(),
                matcher: m.clone(),
                deadline: duration.map(|d| Instant::now() + d),
            });
        }
        let mut out = Vec::new();
        for c in self.all_clients() {
            let hit = {
                let info = c.info();
                match ban.kind {
                    BanKind::Dline => m.hits(Some(c.ip), None, self),
                    // A K-line needs the username: clients that have not
                    // registered are checked when they do.
                    BanKind::Kline => {
                        info.registered && m.hits(Some(c.ip), Some((&info.user, &info.host)), self)
                    }
                }
            };
            if hit {
                out.push(self.ban_client(&c, &ban.reason));
            }
        }
        Ok((ban, out))
    }

    /// 465 for `client`, and its connection ends with "Banned: <reason>".
    pub fn ban_client(&self, client: &ClientRef, reason: &str) -> Delivery {
        let d = Delivery::new(
            Event::Banned {
                reason: reason.to_string(),
            },
            vec![client.clone()],
        );
        client.sendq.kill(&format!("Banned: {reason}"));
        d
    }

    /// Removes the ban of `kind` on `mask` (canonical); None when there is none.
    pub fn remove_ban(&self, kind: BanKind, mask: &str) -> Option<ServerBan> {
        let mut list = self.bans.lock();
        list.expire(Instant::now());
        let i = list
            .entries
            .iter()
            .position(|e| e.ban.kind == kind && e.ban.mask == mask)?;
        Some(list.entries.remove(i).ban)
    }

    /// The bans of `kind` in force, with the time each has left.
    pub fn list_bans(&self, kind: BanKind) -> Vec<(ServerBan, Option<Duration>)> {
        let now = Instant::now();
        let mut list = self.bans.lock();
        list.expire(now);
        list.entries
            .iter()
            .filter(|e| e.ban.kind == kind)
            .map(|e| (e.ban.clone(), e.deadline.map(|d| d - now)))
            .collect()
    }

    /// The D-line on `ip`, if any (checked as a connection is accepted).
    pub fn dline_for(&self, ip: IpAddr) -> Option<ServerBan> {
        self.find_ban(Some(ip), None, Some(BanKind::Dline))
    }

    /// The K-line on a registering client, if any.
    pub fn kline_for(&self, client: &ClientRef) -> Option<ServerBan> {
        let (user, host) = {
            let info = client.info();
            (info.user.clone(), info.host.clone())
        };
        self.find_ban(Some(client.ip), Some((&user, &host)), Some(BanKind::Kline))
    }

    /// TESTLINE: the first ban of any kind that `ip` (and `user@host`) meets.
    pub fn test_ban(
        &self,
        ip: Option<IpAddr>,
        userhost: Option<(&str, &str)>,
    ) -> Option<ServerBan> {
        self.find_ban(ip, userhost, None)
    }

    /// The first ban (of `kind`, or any) that matches, expired ones dropped.
    fn find_ban(
        &self,
        ip: Option<IpAddr>,
        userhost: Option<(&str, &str)>,
        kind: Option<BanKind>,
    ) -> Option<ServerBan> {
        let mut list = self.bans.lock();
        if list.entries.is_empty() {
            return None;
        }
        list.expire(Instant::now());
        list.entries
            .iter()
            .filter(|e| kind.is_none_or(|k| e.ban.kind == k))
            .find(|e| e.matcher.hits(ip, userhost, self))
            .map(|e| e.ban.clone())
    }

    /// The keys of the bans dropped at expiry since the last call.
    pub fn take_expired_bans(&self) -> Vec<String> {
        std::mem::take(&mut self.bans.lock().expired)
    }

    /// A server NOTICE to every operator but `except` (ban audit).
    pub fn oper_notice(&self, except: Option<&ClientRef>, text: &str) -> Delivery {
        let to = self
            .all_clients()
            .into_iter()
            .filter(|c| c.is_oper() && except.is_none_or(|e| e.id != c.id))
            .collect();
        Delivery::new(
            Event::OperNotice {
                text: text.to_string(),
            },
            to,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(parse_dline_mask("192.0.2.77/24").unwrap().0, "192.0.2.0/24");
        assert_eq!(parse_dline_mask("192.0.2.7").unwrap().0, "192.0.2.7");
        assert_eq!(
            parse_dline_mask("2001:db8::1/32").unwrap().0,
            "2001:db8::/32"
        );
        assert_eq!(parse_dline_mask("::ffff:10.1.2.3").unwrap().0, "10.1.2.3");
        for bad in ["10.0.0.0/4", "::/0", "x", "1.2.3.4/33", "1.2.3.4/x", ""] {
            assert!(parse_dline_mask(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_kline_mask("Bad@Host.Example").unwrap(),
            "bad@host.example"
        );
        assert_eq!(parse_kline_mask("evil.example").unwrap(), "*@evil.example");
        assert_eq!(parse_kline_mask("*@10.0.0.0/8").unwrap(), "*@10.0.0.0/8");
        for bad in [
            "*@*",
            "*@*.*",
            "a@b",
            "@host.example",
            "u@",
            "n!u@host.example",
            "u@10.0.0.0/2",
            "a b@host",
        ] {
            assert!(parse_kline_mask(bad).is_err(), "{bad}");
        }
    }
}
