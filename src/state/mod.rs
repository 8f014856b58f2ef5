//! Shared server state behind one interface: clients, the nick registry,
//! channels and their lifecycles, WHOWAS. Command handlers never touch a map
//! directly; every change goes through a method here, so that a distributed
//! backend can later stand behind the same calls.
//!
//! Lock order (acquire only strictly higher tiers while holding a lock; never
//! hold any across `.await`):
//!   0. `monitors`, `hosts` (each taken alone)   1. `nicks`
//!   2. `channels` (the registry map)   3. one `Channel`
//!   4. one client's `info`   5. one client's `SendQ`
//!
//! Lines for many recipients are queued after the channel lock is released,
//! except the few lines that must be ordered with a membership change.

pub mod channel;
pub mod client;
pub mod idle;
mod modes;
pub mod outgoing;
pub mod sendq;
mod users;

use std::{
    collections::{HashMap, HashSet, VecDeque},
    net::IpAddr,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use dashmap::DashMap;

pub use channel::{Channel, ChannelRef, Member, Who};
pub use client::{Client, ClientId, ClientRef};
pub use modes::{ModeChange, ModeError};
pub use outgoing::Event;

use crate::{config::Config, proto::Casemapping};

/// Removes `chan` from a client's list of channels (only that channel: a
/// newer one of the same name stays); returns the client's nick.
fn forget_channel(client: &ClientRef, folded: &str, chan: &ChannelRef) -> String {
    let mut info = client.info();
    if info
        .channels
        .get(folded)
        .is_some_and(|c| Arc::ptr_eq(c, chan))
    {
        info.channels.remove(folded);
        maybe_shrink(&mut info.channels);
    }
    info.nick.clone()
}

/// Gives memory back when a map has shrunk to a quarter of its capacity
/// (after thousands of channels self-destruct, say); amortized O(1).
pub(crate) fn maybe_shrink<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>) {
    if map.capacity() > 64 && map.len() * 4 < map.capacity() {
        let keep = map.len() * 2;
        map.shrink_to(keep);
    }
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A refusal with its numeric: handlers turn it into a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub text: &'static str,
}

const fn refusal(code: &'static str, text: &'static str) -> Refusal {
    Refusal { code, text }
}

#[derive(Debug, Clone)]
pub struct Whowas {
    pub nick: String,
    pub user: String,
    pub host: String,
    pub realname: String,
    pub time: u64,
}

pub struct State {
    /// Fixed for the life of the process: the maps are keyed by it.
    pub casemap: Casemapping,
    config: RwLock<Arc<Config>>,
    clients: DashMap<ClientId, ClientRef>,
    nicks: Mutex<HashMap<String, ClientRef>>,
    channels: Mutex<HashMap<String, ChannelRef>>,
    whowas: Mutex<VecDeque<Whowas>>,
    next_id: AtomicU64,
    /// Connections that have not completed registration (LUSERS 253).
    unregistered: AtomicUsize,
    opers: AtomicUsize,
    invisible: AtomicUsize,
    max_local: AtomicUsize,
    pub started: u64,
    /// The idle clock of every ephemeral channel.
    pub idle: idle::IdleTimers,
    next_msgid: AtomicU64,
    /// MONITOR: casefolded nick -> the clients watching it. Lock tier 0:
    /// taken alone, never while holding another lock but a SendQ's.
    monitors: Mutex<HashMap<String, HashSet<ClientId>>>,
    /// Per-address connection accounting. Lock tier 0 (taken alone).
    hosts: Mutex<HashMap<IpAddr, HostEntry>>,
}

struct HostEntry {
    open: usize,
    window_start: tokio::time::Instant,
    recent: usize,
}

/// The address a limit counts against: IPv4 as is (also when mapped into
/// IPv6), IPv6 by its network of `prefix` bits.
fn host_key(ip: IpAddr, prefix: u32) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mask = if prefix >= 128 {
                    u128::MAX
                } else {
                    !(u128::MAX >> prefix)
                };
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        },
        v4 => v4,
    }
}

/// What a JOIN did.
pub struct Joined {
    pub channel: ChannelRef,
    pub created: bool,
}

impl State {
    pub fn new(config: Arc<Config>) -> Self {
        State {
            casemap: config.server.casemapping,
            config: RwLock::new(config),
            clients: DashMap::new(),
            nicks: Mutex::default(),
            channels: Mutex::default(),
            whowas: Mutex::default(),
            next_id: AtomicU64::new(1),
            unregistered: AtomicUsize::new(0),
            opers: AtomicUsize::new(0),
            invisible: AtomicUsize::new(0),
            max_local: AtomicUsize::new(0),
            started: unix_now(),
            idle: idle::IdleTimers::default(),
            next_msgid: AtomicU64::new(0),
            monitors: Mutex::default(),
            hosts: Mutex::default(),
        }
    }

    /// Admits a new connection from `ip` under `[connections]`, or says why
    /// not ("too many host connections", "throttled": words bridges match).
    /// Ok(Some(key)) means it was counted and [`State::release`] of that key
    /// must follow (the key, not the address: a rehash may change the prefix).
    pub fn admit(&self, ip: IpAddr) -> Result<Option<IpAddr>, &'static str> {
        let cfg = self.config();
        let c = &cfg.connections;
        if c.exempts(ip) {
            return Ok(None);
        }
        let now = tokio::time::Instant::now();
        let mut hosts = self.hosts.lock().unwrap();
        if hosts.len() > 4096 {
            hosts.retain(|_, e| {
                e.open > 0 || now.duration_since(e.window_start) < c.throttle_window
            });
        }
        let key = host_key(ip, c.ipv6_prefix);
        let e = hosts.entry(key).or_insert(HostEntry {
            open: 0,
            window_start: now,
            recent: 0,
        });
        if now.duration_since(e.window_start) >= c.throttle_window {
            e.window_start = now;
            e.recent = 0;
        }
        if e.open >= c.per_ip {
            return Err("too many host connections");
        }
        if e.recent >= c.throttle {
            return Err("throttled");
        }
        e.open += 1;
        e.recent += 1;
        Ok(Some(key))
    }

    /// The end of a connection [`State::admit`] counted, by its key.
    pub fn release(&self, key: IpAddr) {
        let mut hosts = self.hosts.lock().unwrap();
        if let Some(e) = hosts.get_mut(&key) {
            e.open = e.open.saturating_sub(1);
        }
    }

    /// A message id unique for the life of the process (and, thanks to
    /// the start time in it, across restarts).
    pub fn new_msgid(&self) -> String {
        let n = self.next_msgid.fetch_add(1, Ordering::Relaxed);
        format!("{:x}-{n:x}", self.started)
    }

    pub fn find_client(&self, id: ClientId) -> Option<ClientRef> {
        self.clients.get(&id).map(|c| c.value().clone())
    }

    // -----------------------------------------------------------------------
    // MONITOR
    // -----------------------------------------------------------------------

    /// Indexes `client` as a watcher of `nick`.
    fn watch(&self, client: ClientId, nick: &str) {
        self.monitors
            .lock()
            .unwrap()
            .entry(self.fold(nick))
            .or_default()
            .insert(client);
    }

    fn unwatch(&self, client: ClientId, nick: &str) {
        let mut m = self.monitors.lock().unwrap();
        let key = self.fold(nick);
        if let Some(set) = m.get_mut(&key) {
            set.remove(&client);
            if set.is_empty() {
                m.remove(&key);
            }
        }
    }

    /// The clients monitoring `nick`.
    pub fn watchers(&self, nick: &str) -> Vec<ClientRef> {
        let ids: Vec<ClientId> = self
            .monitors
            .lock()
            .unwrap()
            .get(&self.fold(nick))
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        ids.into_iter()
            .filter_map(|id| self.find_client(id))
            .collect()
    }

    /// Tells the watchers of `nick` that it came online (730) or went offline (731).
    pub fn notify_watchers(&self, nick: &str, online: Option<&str>) {
        use crate::proto::{Line, numerics::*};
        let watchers = self.watchers(nick);
        if watchers.is_empty() {
            return;
        }
        let server = self.config().server.name.clone();
        for w in watchers {
            let wn = w.nick();
            let line = match online {
                Some(prefix) => Line::new(Some(&server), RPL_MONONLINE)
                    .arg(&wn)
                    .text(prefix)
                    .build(),
                None => Line::new(Some(&server), RPL_MONOFFLINE)
                    .arg(&wn)
                    .text(nick)
                    .build(),
            };
            w.send(line);
        }
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.read().unwrap().clone()
    }

    pub fn set_config(&self, config: Arc<Config>) {
        *self.config.write().unwrap() = config;
    }

    pub fn fold(&self, s: &str) -> String {
        self.casemap.fold(s)
    }

    // -----------------------------------------------------------------------
    // Clients and nicks
    // -----------------------------------------------------------------------

    pub fn add_client(&self, ip: IpAddr, tls: bool) -> ClientRef {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let client = Arc::new(Client::new(
            id,
            ip,
            tls,
            self.config().limits.sendq,
            unix_now(),
        ));
        self.clients.insert(id, client.clone());
        self.unregistered.fetch_add(1, Ordering::Relaxed);
        client
    }

    pub fn find_nick(&self, nick: &str) -> Option<ClientRef> {
        self.nicks.lock().unwrap().get(&self.fold(nick)).cloned()
    }

    /// Claims `nick` for `client`, releasing its old one. Returns the old
    /// nick, or the refusal (433) when another client holds it.
    pub fn claim_nick(&self, client: &ClientRef, nick: &str) -> Result<String, Refusal> {
        let folded = self.fold(nick);
        let mut nicks = self.nicks.lock().unwrap();
        if let Some(holder) = nicks.get(&folded)
            && holder.id != client.id
        {
            return Err(refusal(
                crate::proto::numerics::ERR_NICKNAMEINUSE,
                "Nickname is already in use",
            ));
        }
        let mut info = client.info();
        let old = std::mem::replace(&mut info.nick, nick.to_string());
        let old_folded = self.fold(&old);
        if old != "*" && old_folded != folded {
            nicks.remove(&old_folded);
        }
        nicks.insert(folded, client.clone());
        Ok(old)
    }

    /// Marks the client registered (after 001 is due).
    pub fn set_registered(&self, client: &ClientRef) {
        let mut info = client.info();
        if !info.registered {
            info.registered = true;
            self.unregistered.fetch_sub(1, Ordering::Relaxed);
            drop(info);
            let n = self.local_users();
            self.max_local.fetch_max(n, Ordering::Relaxed);
        }
    }

    pub fn set_oper(&self, client: &ClientRef, name: Option<&str>) {
        let mut info = client.info();
        let was = info.modes.oper;
        info.modes.oper = name.is_some();
        info.oper_name = name.map(str::to_string);
        match (was, name.is_some()) {
            (false, true) => {
                self.opers.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {
                self.opers.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Registered clients (LUSERS).
    pub fn local_users(&self) -> usize {
        self.clients
            .len()
            .saturating_sub(self.unregistered.load(Ordering::Relaxed))
    }

    pub fn unregistered(&self) -> usize {
        self.unregistered.load(Ordering::Relaxed)
    }

    pub fn max_local_users(&self) -> usize {
        self.max_local.load(Ordering::Relaxed)
    }

    pub fn oper_count(&self) -> usize {
        self.opers.load(Ordering::Relaxed)
    }

    /// Registered clients with +i: a counter, so LUSERS (sent at every
    /// registration) costs nothing proportional to the number of clients.
    pub fn invisible_count(&self) -> usize {
        self.invisible.load(Ordering::Relaxed)
    }

    /// Keeps the +i counter: call when a client's +i changes.
    pub fn count_invisible(&self, now_invisible: bool) {
        if now_invisible {
            self.invisible.fetch_add(1, Ordering::Relaxed);
        } else {
            self.invisible.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn channel_count(&self) -> usize {
        self.channels.lock().unwrap().len()
    }

    /// Every client (shutdown, WALLOPS): work proportional to all clients,
    /// so it is only for those rare events.
    pub fn all_clients(&self) -> Vec<ClientRef> {
        self.clients.iter().map(|c| c.value().clone()).collect()
    }

    /// Everyone who shares a channel with `client`, once each, not itself.
    pub fn peers(&self, client: &ClientRef) -> Vec<ClientRef> {
        let chans: Vec<ChannelRef> = client.info().channels.values().cloned().collect();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for ch in chans {
            let ch = ch.lock().unwrap();
            for (id, m) in &ch.members {
                if *id != client.id && seen.insert(*id) {
                    out.push(m.client.clone());
                }
            }
        }
        out
    }

    /// Who hears about a change to `client` (AWAY, SETNAME, ...) under
    /// `cap`: channel peers that have it, and (extended-monitor) those who
    /// monitor the client and have both; once each, never the client itself.
    pub fn interested(&self, client: &ClientRef, cap: crate::proto::caps::Cap) -> Vec<ClientRef> {
        use crate::proto::caps::Cap;
        let mut out: Vec<ClientRef> = self
            .peers(client)
            .into_iter()
            .filter(|p| p.has_cap(cap.bit()))
            .collect();
        let both = cap.bit() | Cap::ExtendedMonitor.bit();
        for w in self.watchers(&client.nick()) {
            if w.id != client.id && w.caps() & both == both && !out.iter().any(|o| o.id == w.id) {
                out.push(w);
            }
        }
        out
    }

    /// Removes a client entirely: its nick, its memberships (empty channels
    /// are destroyed), and records it in WHOWAS. `quit_line` goes to every peer.
    pub fn remove_client(&self, client: &ClientRef, quit_line: Option<Bytes>) {
        if self.clients.remove(&client.id).is_none() {
            return;
        }
        if let Some(line) = quit_line {
            for p in self.peers(client) {
                p.send(line.clone());
            }
        }
        let (registered, nick, chans, oper, monitoring) = {
            let mut info = client.info();
            let monitoring = std::mem::take(&mut info.monitoring);
            if info.modes.invisible {
                self.count_invisible(false);
            }
            (
                info.registered,
                info.nick.clone(),
                info.channels.clone(),
                info.modes.oper,
                monitoring,
            )
        };
        for m in &monitoring {
            self.unwatch(client.id, m);
        }
        for (_, ch) in chans {
            self.remove_member(&ch, client.id);
        }
        {
            let mut nicks = self.nicks.lock().unwrap();
            let folded = self.fold(&nick);
            if nicks.get(&folded).is_some_and(|c| c.id == client.id) {
                nicks.remove(&folded);
            }
        }
        if oper {
            self.opers.fetch_sub(1, Ordering::Relaxed);
        }
        if registered {
            self.notify_watchers(&nick, None);
            self.record_whowas(client);
        } else {
            self.unregistered.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn record_whowas(&self, client: &ClientRef) {
        let max = self.config().limits.whowas_entries;
        if max == 0 {
            return;
        }
        let info = client.info();
        let entry = Whowas {
            nick: info.nick.clone(),
            user: info.user.clone(),
            host: info.host.clone(),
            realname: info.realname.clone(),
            time: unix_now(),
        };
        drop(info);
        let mut w = self.whowas.lock().unwrap();
        w.push_front(entry);
        w.truncate(max);
    }

    pub fn whowas(&self, nick: &str, count: usize) -> Vec<Whowas> {
        let w = self.whowas.lock().unwrap();
        w.iter()
            .filter(|e| self.casemap.eq(&e.nick, nick))
            .take(count)
            .cloned()
            .collect()
    }

    // -----------------------------------------------------------------------
    // Channels
    // -----------------------------------------------------------------------

    pub fn find_channel(&self, name: &str) -> Option<ChannelRef> {
        self.channels.lock().unwrap().get(&self.fold(name)).cloned()
    }

    /// A snapshot of every channel (LIST).
    pub fn all_channels(&self) -> Vec<ChannelRef> {
        self.channels.lock().unwrap().values().cloned().collect()
    }

    /// Joins `client` to `name`, creating the channel (with the joiner as
    /// operator) when it does not exist. Enforces bans (with exceptions),
    /// +i (with +I and invites), +k and +l; an invitation is used up.
    /// `on_joined` runs under the channel lock once the member is in, so the
    /// JOIN line it queues reaches the joiner before anything else said in
    /// the channel.
    /// Returns None when the client is already a member.
    pub fn join(
        &self,
        client: &ClientRef,
        name: &str,
        key: Option<&str>,
        setup: impl Fn(&mut Channel),
        on_joined: impl FnOnce(&Channel),
    ) -> Result<Option<Joined>, Refusal> {
        use crate::proto::numerics::*;
        let folded = self.fold(name);
        let max = self.config().limits.max_channels;
        if client.info().channels.len() >= max && !client.info().channels.contains_key(&folded) {
            return Err(refusal(
                ERR_TOOMANYCHANNELS,
                "You have joined too many channels",
            ));
        }
        loop {
            let (chan, created) = {
                let mut map = self.channels.lock().unwrap();
                match map.get(&folded) {
                    Some(c) => (c.clone(), false),
                    None => {
                        let mut ch = Channel::new(name, unix_now());
                        setup(&mut ch);
                        let c = Arc::new(Mutex::new(ch));
                        map.insert(folded.clone(), c.clone());
                        (c, true)
                    }
                }
            };
            let mut ch = chan.lock().unwrap();
            if ch.dead {
                continue;
            }
            if ch.members.contains_key(&client.id) {
                return Ok(None);
            }
            if !created {
                let info = client.info().clone();
                let who = Who::of(&info, client.ip);
                let invited = ch.invites.contains(&client.id);
                if !invited {
                    if ch.is_banned(&who, self.casemap) {
                        return Err(refusal(ERR_BANNEDFROMCHAN, "Cannot join channel (+b)"));
                    }
                    if ch.modes.invite_only && !ch.is_invex(&who, self.casemap) {
                        return Err(refusal(ERR_INVITEONLYCHAN, "Cannot join channel (+i)"));
                    }
                    if ch
                        .modes
                        .key
                        .as_deref()
                        .is_some_and(|k| key != Some(k.as_str()))
                    {
                        return Err(refusal(ERR_BADCHANNELKEY, "Cannot join channel (+k)"));
                    }
                    if ch.modes.limit.is_some_and(|l| ch.members.len() >= l) {
                        return Err(refusal(ERR_CHANNELISFULL, "Cannot join channel (+l)"));
                    }
                }
                ch.invites.retain(|x| *x != client.id);
            }
            ch.members.insert(
                client.id,
                Member {
                    client: client.clone(),
                    op: created,
                    voice: false,
                },
            );
            ch.last_activity = tokio::time::Instant::now();
            ch.warned = false;
            client.info().channels.insert(folded, chan.clone());
            on_joined(&ch);
            drop(ch);
            return Ok(Some(Joined {
                channel: chan,
                created,
            }));
        }
    }

    /// Takes `id` out of a channel (PART, KICK, QUIT); destroys the channel
    /// when it empties. Returns false when `id` was not a member.
    pub fn remove_member(&self, chan: &ChannelRef, id: ClientId) -> bool {
        let (empty, folded) = {
            let mut ch = chan.lock().unwrap();
            let Some(member) = ch.members.remove(&id) else {
                return false;
            };
            ch.invites.retain(|x| *x != id);
            let folded = self.fold(&ch.name);
            // Under the channel lock, and only this channel's entry: a JOIN of
            // a newer channel of the same name must not lose its membership.
            forget_channel(&member.client, &folded, chan);
            (ch.members.is_empty(), folded)
        };
        if empty {
            let mut map = self.channels.lock().unwrap();
            let mut ch = chan.lock().unwrap();
            if ch.members.is_empty() && !ch.dead {
                ch.dead = true;
                if map.get(&folded).is_some_and(|c| Arc::ptr_eq(c, chan)) {
                    map.remove(&folded);
                    maybe_shrink(&mut map);
                }
            }
        }
        true
    }

    /// Destroys a channel now, if `still(channel)` holds under the lock: every
    /// member gets `kick_line_for(nick)` (a KICK built per member), and
    /// everything about the channel is dropped. The one path for ephemeral
    /// self-destruct and ChanServ CLOSE.
    pub fn destroy_channel(
        &self,
        chan: &ChannelRef,
        still: impl Fn(&Channel) -> bool,
        kick_line_for: impl Fn(&str) -> Bytes,
    ) -> usize {
        let members: Vec<(ClientRef, String)> = {
            let mut map = self.channels.lock().unwrap();
            let mut ch = chan.lock().unwrap();
            if ch.dead || !still(&ch) {
                return 0;
            }
            ch.dead = true;
            let folded = self.fold(&ch.name);
            if map.get(&folded).is_some_and(|c| Arc::ptr_eq(c, chan)) {
                map.remove(&folded);
                maybe_shrink(&mut map);
            }
            drop(map);
            let members = ch
                .members
                .drain()
                .map(|(_, m)| {
                    let nick = forget_channel(&m.client, &folded, chan);
                    (m.client, nick)
                })
                .collect();
            ch.topic = None;
            ch.bans.clear();
            ch.excepts.clear();
            ch.invex.clear();
            ch.invites.clear();
            ch.modes = Default::default();
            members
        };
        for (m, nick) in &members {
            m.send(kick_line_for(nick));
        }
        members.len()
    }

    /// Queues `line` to every member of `chan` except `except`; the member
    /// list is copied under the lock and the lines are queued after it.
    pub fn broadcast(&self, chan: &ChannelRef, line: &Bytes, except: Option<ClientId>) {
        for c in self.members(chan, except) {
            c.send(line.clone());
        }
    }

    /// The member clients of a channel, except one.
    pub fn members(&self, chan: &ChannelRef, except: Option<ClientId>) -> Vec<ClientRef> {
        let ch = chan.lock().unwrap();
        ch.members
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .map(|(_, m)| m.client.clone())
            .collect()
    }

    /// The member clients of a channel already locked by the caller.
    pub fn members_of(&self, ch: &Channel, except: Option<ClientId>) -> Vec<ClientRef> {
        ch.members
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .map(|(_, m)| m.client.clone())
            .collect()
    }

    /// Sets (or with an empty text, clears) the topic; +t needs an operator.
    /// Returns the channel's display name.
    pub fn set_topic(
        &self,
        chan: &ChannelRef,
        client: &ClientRef,
        text: &str,
    ) -> Result<String, Refusal> {
        use crate::proto::numerics::*;
        let mut ch = chan.lock().unwrap();
        if !ch.members.contains_key(&client.id) {
            return Err(refusal(ERR_NOTONCHANNEL, "You're not on that channel"));
        }
        if ch.modes.topic_lock && !ch.is_op(client.id) {
            return Err(refusal(ERR_CHANOPRIVSNEEDED, "You're not channel operator"));
        }
        ch.topic = (!text.is_empty()).then(|| channel::Topic {
            text: text.to_string(),
            setter: client.prefix(),
            time: unix_now(),
        });
        Ok(ch.name.clone())
    }

    /// May `kicker` kick `victim` from `chan`? Returns the display name.
    pub fn check_kick(
        &self,
        chan: &ChannelRef,
        kicker: &ClientRef,
        victim: Option<&ClientRef>,
    ) -> Result<String, Refusal> {
        use crate::proto::numerics::*;
        let ch = chan.lock().unwrap();
        if !ch.members.contains_key(&kicker.id) {
            return Err(refusal(ERR_NOTONCHANNEL, "You're not on that channel"));
        }
        if !ch.is_op(kicker.id) {
            return Err(refusal(ERR_CHANOPRIVSNEEDED, "You're not channel operator"));
        }
        match victim {
            Some(v) if ch.members.contains_key(&v.id) => Ok(ch.name.clone()),
            _ => Err(refusal(ERR_USERNOTINCHANNEL, "They aren't on that channel")),
        }
    }

    /// Records a one-shot invitation of `target` by `inviter`.
    pub fn invite(
        &self,
        chan: &ChannelRef,
        inviter: &ClientRef,
        target: &ClientRef,
    ) -> Result<String, Refusal> {
        use crate::proto::numerics::*;
        let mut ch = chan.lock().unwrap();
        if !ch.members.contains_key(&inviter.id) {
            return Err(refusal(ERR_NOTONCHANNEL, "You're not on that channel"));
        }
        if ch.modes.invite_only && !ch.is_op(inviter.id) {
            return Err(refusal(ERR_CHANOPRIVSNEEDED, "You're not channel operator"));
        }
        if ch.members.contains_key(&target.id) {
            return Err(refusal(ERR_USERONCHANNEL, "is already on channel"));
        }
        // Bounded: the oldest invitation goes when there are too many.
        if !ch.invites.contains(&target.id) {
            if ch.invites.len() >= channel::MAX_INVITES {
                ch.invites.pop_front();
            }
            ch.invites.push_back(target.id);
        }
        Ok(ch.name.clone())
    }

    /// Notes activity in a channel (PRIVMSG, NOTICE, TAGMSG, JOIN): the idle
    /// deadline of an ephemeral channel moves; nothing else happens here.
    pub fn touch(&self, chan: &ChannelRef) {
        let mut ch = chan.lock().unwrap();
        ch.last_activity = tokio::time::Instant::now();
        ch.warned = false;
    }

    /// Arms the idle timer of an ephemeral channel (on creation or when its
    /// +E changes); older entries become stale.
    pub fn schedule_idle(&self, chan: &ChannelRef) {
        let entry = {
            let mut ch = chan.lock().unwrap();
            let Some(timeout) = ch.modes.ephemeral else {
                return;
            };
            ch.idle_generation += 1;
            ch.warned = false;
            let warn = self.config().channels.warn_before;
            let deadline = ch.last_activity + timeout;
            let at = if warn < timeout {
                deadline - warn
            } else {
                deadline
            };
            idle::Entry {
                at,
                generation: ch.idle_generation,
                channel: Arc::downgrade(chan),
            }
        };
        self.idle.arm(entry);
    }

    /// Runs the idle entries due at `now`: warns channels nearing their
    /// deadline and destroys those past it. Returns how many were destroyed.
    pub fn fire_idle(&self, now: tokio::time::Instant) -> usize {
        use crate::config::format_duration;
        let cfg = self.config();
        let server = cfg.server.name.clone();
        let mut destroyed = 0;
        for e in self.idle.pop_due(now) {
            let Some(chan) = e.channel.upgrade() else {
                continue;
            };
            enum Act {
                Nothing,
                Warn(String, Vec<ClientRef>, std::time::Duration),
                Destroy(String, std::time::Duration),
            }
            let (act, rearm) = {
                let mut ch = chan.lock().unwrap();
                let Some(timeout) = ch.modes.ephemeral else {
                    continue;
                };
                if ch.dead || ch.idle_generation != e.generation {
                    continue;
                }
                let deadline = ch.last_activity + timeout;
                let warn_at = if cfg.channels.warn_before < timeout {
                    Some(deadline - cfg.channels.warn_before)
                } else {
                    None
                };
                if now >= deadline {
                    (Act::Destroy(ch.name.clone(), timeout), None)
                } else if !ch.warned && warn_at.is_some_and(|w| now >= w) {
                    ch.warned = true;
                    (
                        Act::Warn(ch.name.clone(), self.members_of(&ch, None), deadline - now),
                        Some(deadline),
                    )
                } else {
                    let next = match warn_at {
                        Some(w) if !ch.warned && w > now => w,
                        _ => deadline,
                    };
                    (Act::Nothing, Some(next))
                }
            };
            if let Some(at) = rearm {
                self.idle.arm(idle::Entry {
                    at,
                    generation: e.generation,
                    channel: e.channel.clone(),
                });
            }
            match act {
                Act::Nothing => {}
                Act::Warn(name, members, left) => {
                    let text = format!(
                        "{name} has been idle and self-destructs in {} unless someone speaks.",
                        format_duration(std::time::Duration::from_secs(
                            left.as_secs_f64().ceil() as u64
                        ))
                    );
                    let line = crate::proto::Line::new(Some(&server), "NOTICE")
                        .arg(&name)
                        .text(&text)
                        .build();
                    for m in members {
                        m.send(line.clone());
                    }
                }
                Act::Destroy(name, timeout) => {
                    let reason = format!(
                        "Channel self-destructed after being idle for {}",
                        format_duration(timeout)
                    );
                    // Re-checked under the lock: a message since the decision saves it.
                    let still_idle = |ch: &Channel| {
                        ch.idle_generation == e.generation
                            && ch.modes.ephemeral == Some(timeout)
                            && now >= ch.last_activity + timeout
                    };
                    let n = self.destroy_channel(&chan, still_idle, |nick| {
                        crate::proto::Line::new(Some(&server), "KICK")
                            .arg(&name)
                            .arg(nick)
                            .text(&reason)
                            .build()
                    });
                    if n == 0 && !chan.lock().unwrap().dead {
                        // Saved at the last moment: look again at its new deadline.
                        self.schedule_idle(&chan);
                    }
                    destroyed += 1;
                }
            }
        }
        destroyed
    }
}
