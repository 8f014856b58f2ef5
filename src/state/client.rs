//! A connected client as the rest of the server sees it: a stable id, the
//! outbound queue, and the fields other clients may read (nick, user, host,
//! modes, away, channels) behind one mutex that only `state/` takes.
//! Everyone else reads a [`ClientSnapshot`] or one of the small accessors.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
};

use parking_lot::{Mutex, MutexGuard};
use tokio::time::Instant;

use super::{channel::ChannelRef, sendq::SendQ};

/// A client's stable internal id: never reused while the process runs, and
/// unlike a nick it does not change. The high 16 bits are left for a node
/// number, so that ids stay unique once several nodes share a network.
pub type ClientId = u64;

pub struct Client {
    pub id: ClientId,
    pub sendq: SendQ,
    pub ip: IpAddr,
    pub tls: bool,
    /// Unix time of the connection, for WHOIS 317.
    pub signon: u64,
    /// Negotiated capabilities, a bit set over `caps::Cap`.
    caps: AtomicU32,
    info: Mutex<ClientInfo>,
}

/// The shared fields of a client; private to `state/`.
#[derive(Debug, Clone)]
pub(crate) struct ClientInfo {
    /// "*" until a nick is claimed.
    pub nick: String,
    pub user: String,
    pub host: String,
    pub realname: String,
    pub registered: bool,
    pub modes: UserModes,
    pub away: Option<String>,
    pub oper_name: Option<String>,
    pub account: Option<String>,
    /// Last PRIVMSG/NOTICE sent, for WHOIS idle time.
    pub last_message: Instant,
    /// Joined channels by casefolded name. The channel side keys its members
    /// by `ClientId` and holds no strong reference back: no `Arc` cycle.
    pub channels: HashMap<String, ChannelRef>,
    /// MONITOR list, nicks as given.
    pub monitoring: Vec<String>,
    /// SHA-256 of the TLS client certificate, lowercase hex.
    pub certfp: Option<Box<str>>,
}

/// What a handler may read about a client: a copy, taken under its lock.
#[derive(Debug, Clone)]
pub struct ClientSnapshot {
    pub id: ClientId,
    pub nick: String,
    pub user: String,
    pub host: String,
    pub realname: String,
    pub registered: bool,
    pub modes: UserModes,
    pub away: Option<String>,
    pub account: Option<String>,
    pub last_message: Instant,
    pub ip: IpAddr,
    pub tls: bool,
    pub signon: u64,
}

impl ClientSnapshot {
    pub fn prefix(&self) -> String {
        format!("{}!{}@{}", self.nick, self.user, self.host)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserModes {
    pub invisible: bool,
    pub wallops: bool,
    pub oper: bool,
    pub bot: bool,
    /// +R: only logged-in users may message this user.
    pub registered_only: bool,
}

impl UserModes {
    /// "+iw" style; "+" when none are set.
    pub fn to_mode_string(self) -> String {
        let mut s = String::from("+");
        for (on, c) in [
            (self.bot, 'B'),
            (self.registered_only, 'R'),
            (self.invisible, 'i'),
            (self.oper, 'o'),
            (self.wallops, 'w'),
        ] {
            if on {
                s.push(c);
            }
        }
        s
    }
}

impl Client {
    pub fn new(id: ClientId, ip: IpAddr, tls: bool, sendq_limit: usize, signon: u64) -> Self {
        let host = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => v6.to_string(),
            },
            IpAddr::V4(v4) => v4.to_string(),
        };
        // A host starting with ':' (as "::1" does) would break the line format.
        let host = if host.starts_with(':') {
            format!("0{host}")
        } else {
            host
        };
        Client {
            id,
            sendq: SendQ::new(sendq_limit),
            ip,
            tls,
            signon,
            caps: AtomicU32::new(0),
            info: Mutex::new(ClientInfo {
                nick: "*".into(),
                user: String::new(),
                host,
                realname: String::new(),
                registered: false,
                modes: UserModes::default(),
                away: None,
                oper_name: None,
                account: None,
                last_message: Instant::now(),
                channels: HashMap::new(),
                monitoring: Vec::new(),
                certfp: None,
            }),
        }
    }

    /// Locks this client's shared fields. Lock tier 4: never take a channel or
    /// the registry while holding it.
    pub(super) fn info(&self) -> MutexGuard<'_, ClientInfo> {
        self.info.lock()
    }

    pub fn snapshot(&self) -> ClientSnapshot {
        let i = self.info();
        ClientSnapshot {
            id: self.id,
            nick: i.nick.clone(),
            user: i.user.clone(),
            host: i.host.clone(),
            realname: i.realname.clone(),
            registered: i.registered,
            modes: i.modes,
            away: i.away.clone(),
            account: i.account.clone(),
            last_message: i.last_message,
            ip: self.ip,
            tls: self.tls,
            signon: self.signon,
        }
    }

    pub fn nick(&self) -> String {
        self.info().nick.clone()
    }

    /// `nick!user@host`.
    pub fn prefix(&self) -> String {
        self.info().prefix()
    }

    pub fn modes(&self) -> UserModes {
        self.info().modes
    }

    pub fn is_oper(&self) -> bool {
        self.info().modes.oper
    }

    pub fn is_registered(&self) -> bool {
        self.info().registered
    }

    pub fn away(&self) -> Option<String> {
        self.info().away.clone()
    }

    /// The MONITOR list, nicks as given.
    pub fn monitoring(&self) -> Vec<String> {
        self.info().monitoring.clone()
    }

    /// The fingerprint of the TLS client certificate, if one was shown.
    pub fn certfp(&self) -> Option<String> {
        self.info().certfp.as_deref().map(str::to_string)
    }

    pub fn channel_count(&self) -> usize {
        self.info().channels.len()
    }

    pub fn caps(&self) -> u32 {
        self.caps.load(Ordering::Relaxed)
    }

    pub fn set_caps(&self, caps: u32) {
        self.caps.store(caps, Ordering::Relaxed)
    }

    pub fn has_cap(&self, bit: u32) -> bool {
        self.caps() & bit != 0
    }

    /// Queues a line; see [`SendQ::push`]. With server-time, the line gets
    /// a `time` tag unless it has one.
    pub fn send(&self, line: bytes::Bytes) -> bool {
        let line = self.stamp(line);
        self.sendq.push(line)
    }

    /// Adds the server-time tag when this client asked for it.
    pub fn stamp(&self, line: bytes::Bytes) -> bytes::Bytes {
        use crate::proto::{
            caps::Cap,
            line::{add_tags, has_tag},
            time::server_time,
        };
        if !self.has_cap(Cap::ServerTime.bit()) || has_tag(&line, "time") {
            return line;
        }
        add_tags(&format!("time={}", server_time(super::unix_ms())), &line)
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl ClientInfo {
    pub fn prefix(&self) -> String {
        format!("{}!{}@{}", self.nick, self.user, self.host)
    }
}

pub type ClientRef = Arc<Client>;
