//! A channel: members with their prefixes, modes, the b/e/I lists, pending
//! invites, topic. Only [`super::State`] reads or changes a channel's fields
//! (they are private to `state/`); this file holds the data and the pure
//! rules (who matches a mask, who may speak).

use std::{
    collections::{HashMap, VecDeque},
    net::IpAddr,
    sync::{Arc, Weak},
    time::Duration,
};

use parking_lot::Mutex;

use tokio::time::Instant;

use super::client::{Client, ClientId, ClientRef};
use crate::proto::{
    Casemapping,
    mask::{cidr_match, glob_match, split_userhost},
};

/// A channel, shared by the registry and its members' channel lists.
pub(crate) type ChannelRef = Arc<Mutex<Channel>>;

#[derive(Debug)]
pub(crate) struct Channel {
    /// The name as the creator spelled it.
    pub(super) name: String,
    /// Unix time of creation (329).
    pub(super) created: u64,
    pub(super) topic: Option<Topic>,
    pub(super) members: HashMap<ClientId, Member>,
    pub(super) modes: ChanModes,
    pub(super) bans: Vec<ListEntry>,
    pub(super) excepts: Vec<ListEntry>,
    pub(super) invex: Vec<ListEntry>,
    /// One-shot invitations: they let the invitee past +i, +k, +l and bans
    /// once. At most `channels::MAX_INVITES`, oldest dropped first.
    pub(super) invites: VecDeque<ClientId>,
    /// Set when the channel is removed from the registry; a JOIN that raced
    /// with the removal sees it and looks the name up again.
    pub(super) dead: bool,
    /// Last PRIVMSG, NOTICE, TAGMSG or JOIN (ephemeral channels).
    pub(super) last_activity: Instant,
    /// When this channel's one entry in the idle timer (`idle.rs`) is due;
    /// None when it has none (not ephemeral, destroyed, or being fired).
    pub(super) idle_at: Option<Instant>,
    /// Whether the idle warning went out for the current deadline.
    pub(super) warned: bool,
    /// Registered with ChanServ: kept (modes, topic, lists) while empty.
    pub(super) registered: bool,
    /// What was said here (history.rs); allocates nothing while empty, and
    /// always empty for an ephemeral channel.
    pub(super) history: super::history::Ring,
    /// ChanServ SET HISTORY OFF: nothing is kept.
    pub(super) history_off: bool,
}

/// A membership. The member map is keyed by `ClientId`; `client` is a weak
/// handle for local delivery, so a channel never keeps a client alive.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub client: Weak<Client>,
    pub op: bool,
    pub voice: bool,
}

impl Member {
    pub fn new(client: &ClientRef, op: bool) -> Self {
        Member {
            client: Arc::downgrade(client),
            op,
            voice: false,
        }
    }

    pub fn upgrade(&self) -> Option<ClientRef> {
        self.client.upgrade()
    }

    /// The highest prefix ("@", "+" or ""), or all of them with multi-prefix.
    pub fn prefix(&self, multi: bool) -> &'static str {
        match (self.op, self.voice, multi) {
            (true, true, true) => "@+",
            (true, _, _) => "@",
            (false, true, _) => "+",
            _ => "",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Topic {
    pub text: String,
    pub setter: String,
    pub time: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChanModes {
    pub invite_only: bool,
    pub moderated: bool,
    pub no_external: bool,
    pub secret: bool,
    pub topic_lock: bool,
    /// +M: only logged-in users (or those with voice or op) may speak.
    pub registered_speak: bool,
    /// +R: only logged-in users may join (an invitation still lets one in).
    pub registered_join: bool,
    /// Zeroed when dropped (key change, -k, channel destroyed).
    pub key: Option<zeroize::Zeroizing<String>>,
    pub limit: Option<usize>,
    /// +E: the idle timeout of an ephemeral channel.
    pub ephemeral: Option<Duration>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ListEntry {
    pub mask: String,
    pub setter: String,
    pub time: u64,
}

/// Who is being matched against a ban, exception or invite-exception mask.
pub struct Who<'a> {
    pub nick: &'a str,
    pub user: &'a str,
    pub host: &'a str,
    pub ip: IpAddr,
    pub account: Option<&'a str>,
}

impl<'a> Who<'a> {
    /// The mask-matching view of a client, from a copy of its info.
    pub(super) fn of(info: &'a super::client::ClientInfo, ip: IpAddr) -> Self {
        Who {
            nick: &info.nick,
            user: &info.user,
            host: &info.host,
            ip,
            account: info.account.as_deref(),
        }
    }

    /// Does this user match `mask` (`n!u@h` glob, CIDR host, or `$a:account`)?
    pub fn matches(&self, mask: &str, cm: Casemapping) -> bool {
        if let Some(ext) = mask.strip_prefix('$') {
            return match ext.split_once(':') {
                Some(("a", acct)) => self.account.is_some_and(|a| glob_match(acct, a, cm)),
                None if ext == "a" => self.account.is_some(),
                _ => false,
            };
        }
        let full = format!("{}!{}@{}", self.nick, self.user, self.host);
        if glob_match(mask, &full, cm) {
            return true;
        }
        let (n, u, h) = split_userhost(mask);
        h.contains('/')
            && cidr_match(h, self.ip)
            && glob_match(n, self.nick, cm)
            && glob_match(u, self.user, cm)
    }
}

impl Channel {
    pub fn new(name: &str, created: u64) -> Self {
        Channel {
            name: name.to_string(),
            created,
            topic: None,
            members: HashMap::new(),
            modes: ChanModes::default(),
            bans: Vec::new(),
            excepts: Vec::new(),
            invex: Vec::new(),
            invites: VecDeque::new(),
            dead: false,
            last_activity: Instant::now(),
            idle_at: None,
            registered: false,
            warned: false,
            history: Default::default(),
            history_off: false,
        }
    }

    pub fn is_op(&self, id: ClientId) -> bool {
        self.members.get(&id).is_some_and(|m| m.op)
    }

    pub fn is_banned(&self, who: &Who, cm: Casemapping) -> bool {
        self.bans.iter().any(|b| who.matches(&b.mask, cm))
            && !self.excepts.iter().any(|e| who.matches(&e.mask, cm))
    }

    pub fn is_invex(&self, who: &Who, cm: Casemapping) -> bool {
        self.invex.iter().any(|e| who.matches(&e.mask, cm))
    }

    /// May `id` speak here? (+n, +m, +M, bans)
    pub fn can_speak(&self, id: ClientId, who: &Who, cm: Casemapping) -> bool {
        let anonymous = self.modes.registered_speak && who.account.is_none();
        match self.members.get(&id) {
            None => {
                !self.modes.no_external
                    && !self.modes.moderated
                    && !anonymous
                    && !self.is_banned(who, cm)
            }
            Some(m) if m.op || m.voice => true,
            Some(_) => !self.modes.moderated && !anonymous && !self.is_banned(who, cm),
        }
    }

    /// "+Ekl 30m key 5" as 324 shows it, in the order of the mode table; the
    /// key only to members.
    pub fn mode_string(&self, show_key: bool) -> (String, Vec<String>) {
        use crate::proto::modes::{CHANNEL_MODES, Kind};
        let m = &self.modes;
        let mut s = String::from("+");
        let mut params = Vec::new();
        for mode in CHANNEL_MODES {
            let param = match (mode.kind, mode.letter) {
                (Kind::Flag, c) => {
                    if !self.flag(c) {
                        continue;
                    }
                    None
                }
                (_, 'E') => match m.ephemeral {
                    Some(d) => Some(crate::config::format_duration(d)),
                    None => continue,
                },
                (_, 'k') => match &m.key {
                    Some(k) if show_key => Some(k.to_string()),
                    Some(_) => Some("*".into()),
                    None => continue,
                },
                (_, 'l') => match m.limit {
                    Some(l) => Some(l.to_string()),
                    None => continue,
                },
                _ => continue,
            };
            s.push(mode.letter);
            params.extend(param);
        }
        (s, params)
    }

    /// The value of a flag mode (type D in the mode table).
    pub fn flag(&self, c: char) -> bool {
        let m = &self.modes;
        match c {
            'i' => m.invite_only,
            'm' => m.moderated,
            'n' => m.no_external,
            's' => m.secret,
            't' => m.topic_lock,
            'M' => m.registered_speak,
            'R' => m.registered_join,
            _ => false,
        }
    }

    pub fn flag_mut(&mut self, c: char) -> Option<&mut bool> {
        let m = &mut self.modes;
        Some(match c {
            'i' => &mut m.invite_only,
            'M' => &mut m.registered_speak,
            'R' => &mut m.registered_join,
            'm' => &mut m.moderated,
            'n' => &mut m.no_external,
            's' => &mut m.secret,
            't' => &mut m.topic_lock,
            _ => return None,
        })
    }

    /// The member clients still connected, except one.
    pub fn member_clients(&self, except: Option<ClientId>) -> Vec<ClientRef> {
        self.members
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .filter_map(|(_, m)| m.upgrade())
            .collect()
    }

    pub fn list(&self, mode: char) -> Option<&Vec<ListEntry>> {
        match mode {
            'b' => Some(&self.bans),
            'e' => Some(&self.excepts),
            'I' => Some(&self.invex),
            _ => None,
        }
    }

    pub fn list_mut(&mut self, mode: char) -> Option<&mut Vec<ListEntry>> {
        match mode {
            'b' => Some(&mut self.bans),
            'e' => Some(&mut self.excepts),
            'I' => Some(&mut self.invex),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(account: Option<&'static str>) -> Who<'static> {
        Who {
            nick: "Alice",
            user: "al",
            host: "10.1.2.3",
            ip: "10.1.2.3".parse().unwrap(),
            account,
        }
    }

    #[test]
    fn masks() {
        let cm = Casemapping::Rfc1459;
        assert!(who(None).matches("alice!*@*", cm));
        assert!(who(None).matches("*!*@10.0.0.0/8", cm));
        assert!(!who(None).matches("bob!*@10.0.0.0/8", cm));
        assert!(!who(None).matches("*!*@11.0.0.0/8", cm));
        assert!(!who(None).matches("$a:alice", cm));
        assert!(who(Some("Alice")).matches("$a:alice", cm));
        assert!(who(Some("x")).matches("$a", cm));
        assert!(!who(Some("x")).matches("$z:x", cm));
    }

    #[test]
    fn exceptions_override_bans() {
        let cm = Casemapping::Rfc1459;
        let mut c = Channel::new("#c", 0);
        c.bans.push(ListEntry {
            mask: "*!*@*".into(),
            setter: "x".into(),
            time: 0,
        });
        assert!(c.is_banned(&who(None), cm));
        c.excepts.push(ListEntry {
            mask: "alice!*@*".into(),
            setter: "x".into(),
            time: 0,
        });
        assert!(!c.is_banned(&who(None), cm));
    }
}
