//! Shared server state behind one interface, [`State`]: clients by stable
//! `ClientId`, the nick registry, channels and their lifecycles, MONITOR,
//! WHOWAS, per-address admission and the counters LUSERS reads.
//!
//! Every change to shared state is one method here that checks, applies and
//! returns what happened as [`Delivery`]s (typed [`Event`]s with their
//! audience), atomically under the locks it needs. The fields of channels and
//! clients are private to this module: handlers ask questions (snapshots,
//! views) and ask for changes; they never lock anything. State never writes
//! an IRC line: `commands::deliver` turns events into lines, in one place.
//! A cluster backend will stand behind the same operations.
//!
//! Lock order (acquire only strictly higher tiers while holding a lock; never
//! hold any across `.await`; all are `parking_lot` locks, which a panic does
//! not poison):
//!   0. `monitors`, `hosts`, `bans`, `whowas`, `markers`, `dms`, `oper_failures` (each
//!      taken alone)
//!   1. `nicks`   2. `channels` (the registry map)   3. one `Channel`
//!   4. one client's `info`   5. one client's `SendQ`
//!
//! The idle timer map is a leaf: taken under a `Channel` lock (so a channel
//! and its one timer entry change together), nothing taken under it.
//!
//! Beware `if let Some(x) = client.info().field.clone() { ... }`: the guard
//! lives through the block; bind the value first.

mod audience;
mod bans;
mod channel;
mod channels;
mod chathistory;
mod client;
pub mod events;
mod gateway;
pub mod history;
mod hosts;
mod idle;
mod markers;
mod modes;
mod monitor;
mod multiline;
mod oper_guard;
mod registered;
mod relay;
pub mod sendq;
mod service;
mod users;
mod views;
mod whowas;

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use dashmap::DashMap;
use parking_lot::{Mutex, RwLock};

pub use bans::{BanKind, ServerBan, ban_key, parse_dline_mask, parse_kline_mask};
pub use channel::{ChanModes, ListEntry, Topic};
pub use channels::{Invited, JoinView, Joined};
pub use chathistory::{HistoryError, RedactError};
pub use client::{Client, ClientId, ClientRef, ClientSnapshot, UserModes};
pub use events::{Delivery, Event, Multiline, MultilineLine, Verb};
pub use hosts::{Admission, network_of};
pub use markers::{MarkerMap, marker_param};
pub use modes::{ModeChange, ModeError, ModeOutcome};
pub use oper_guard::verify_oper_password;
pub use registered::KeptChannel;
pub use relay::{RELAY_IDENT, RelayRefusal};
pub use sendq::SENDQ_EXCEEDED;
pub use service::MemberStatus;
pub use views::{ChannelCursor, ListRow, NamesView, WhoRow};
pub use whowas::Whowas;

use crate::{
    config::Config,
    proto::{Casemapping, numerics::Numeric},
};

use channel::ChannelRef;

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

pub struct State {
    /// Fixed for the life of the process: the maps are keyed by it.
    pub casemap: Casemapping,
    config: RwLock<Arc<Config>>,
    clients: DashMap<ClientId, ClientRef>,
    nicks: Mutex<HashMap<String, ClientRef>>,
    channels: Mutex<HashMap<String, ChannelRef>>,
    whowas: Mutex<whowas::WhowasLog>,
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
    /// MONITOR: casefolded nick -> the clients watching it. Lock tier 0.
    monitors: Mutex<HashMap<String, HashSet<ClientId>>>,
    /// draft/read-marker: casefolded account -> its markers. Lock tier 0.
    markers: Mutex<HashMap<String, MarkerMap>>,
    /// The history of direct messages, per pair of casefolded accounts
    /// (chathistory.rs). Lock tier 0.
    dms: Mutex<HashMap<(String, String), history::Ring>>,
    /// What every history ring holds (entries, bytes).
    pub history_counters: history::Counters,
    /// History ages are counted from here, on tokio's clock.
    history_epoch: tokio::time::Instant,
    /// Per-address and per-class connection accounting. Lock tier 0.
    hosts: Mutex<hosts::Hosts>,
    /// Open sockets, against `[limits] max_connections`.
    open: AtomicUsize,
    /// K-lines and D-lines in force. Lock tier 0.
    bans: Mutex<bans::Bans>,
    /// Failed OPER attempts per address (oper_guard.rs). Lock tier 0.
    oper_failures: Mutex<oper_guard::OperFailures>,
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
            markers: Mutex::default(),
            dms: Mutex::default(),
            history_counters: Default::default(),
            history_epoch: tokio::time::Instant::now(),
            open: AtomicUsize::new(0),
            bans: Mutex::default(),
            oper_failures: Mutex::default(),
        }
    }

    /// A message id unique for the life of the process (and, thanks to
    /// the start time in it, across restarts).
    pub fn new_msgid(&self) -> String {
        let n = self.next_msgid.fetch_add(1, Ordering::Relaxed);
        format!("{:x}-{n:x}", self.started)
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.read().clone()
    }

    pub fn set_config(&self, config: Arc<Config>) {
        *self.config.write() = config;
    }

    pub fn fold(&self, s: &str) -> String {
        self.casemap.fold(s)
    }

    // -----------------------------------------------------------------------
    // Clients and counters
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

    pub fn find_client(&self, id: ClientId) -> Option<ClientRef> {
        self.clients.get(&id).map(|c| c.value().clone())
    }

    pub fn find_nick(&self, nick: &str) -> Option<ClientRef> {
        self.nicks.lock().get(&self.fold(nick)).cloned()
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

    fn count_invisible(&self, now_invisible: bool) {
        if now_invisible {
            self.invisible.fetch_add(1, Ordering::Relaxed);
        } else {
            self.invisible.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn channel_count(&self) -> usize {
        self.channels.lock().len()
    }

    /// Every client (shutdown, WHO *, cap-notify on rehash): work proportional
    /// to all clients, so it is only for those.
    pub fn all_clients(&self) -> Vec<ClientRef> {
        self.clients.iter().map(|c| c.value().clone()).collect()
    }

    /// Everyone who shares a channel with `client`, once each, not itself.
    fn peers(&self, client: &ClientRef) -> Vec<ClientRef> {
        let chans: Vec<ChannelRef> = client.info().channels.values().cloned().collect();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for ch in chans {
            let ch = ch.lock();
            for (id, m) in &ch.members {
                if *id != client.id
                    && seen.insert(*id)
                    && let Some(c) = m.upgrade()
                {
                    out.push(c);
                }
            }
        }
        out
    }

    /// Who hears about a change to `client` (AWAY, SETNAME, ...) under
    /// `cap`: channel peers, and (extended-monitor) those who monitor the
    /// client and have both; once each, never the client itself. The
    /// delivery keeps only those with `cap`.
    fn interested(&self, client: &ClientRef, cap: crate::proto::caps::Cap) -> Vec<ClientRef> {
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

    /// The registered channel entry for `name`, if any.
    fn channel(&self, name: &str) -> Option<ChannelRef> {
        self.channels.lock().get(&self.fold(name)).cloned()
    }

    pub fn channel_exists(&self, name: &str) -> bool {
        self.channel(name).is_some()
    }
}

/// A refusal: the numeric and the parameters before its text (after the
/// client's nick), e.g. the channel name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub numeric: Numeric,
    pub args: Vec<String>,
}

impl Refusal {
    pub fn new(numeric: Numeric, args: &[&str]) -> Self {
        Refusal {
            numeric,
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }
}
