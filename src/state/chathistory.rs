//! The history State keeps, and the operations on it: recording what a
//! channel (or a conversation between two logged-in users) heard, the
//! CHATHISTORY selections and TARGETS, REDACT, ChanServ SET HISTORY, and
//! expiry by age.
//!
//! The promise kept here: history is memory only, bounded by
//! `[history] lines` and `max_age`, never kept for an ephemeral channel
//! (and dropped when a channel turns ephemeral), dropped with its channel,
//! and absent when `[history] enabled = false`. A channel's ring lives in
//! the channel, under its lock, so a message is recorded in the order it
//! was relayed and with the checks that let it through; direct messages
//! live in `State::dms` (lock tier 0), keyed by the pair of accounts.

use std::collections::HashSet;

use super::{
    ClientId, ClientRef, Delivery, Event, State,
    channel::Channel,
    history::{Entry, Query, Ring},
    maybe_shrink,
};
use crate::{config::History, proto::caps::Cap};

/// Why a CHATHISTORY request gets no batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryError {
    /// No such channel, or the asker is not on it.
    InvalidTarget,
    /// Direct messages are not kept (config), or the asker is not logged in.
    NotKept,
}

/// Why a REDACT is refused (draft/message-redaction's FAIL codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedactError {
    InvalidTarget,
    UnknownMsgid,
    Forbidden,
}

/// Which entries a client sees: PRIVMSG and NOTICE, and with
/// draft/event-playback everything kept.
pub fn visible_to(client: &ClientRef) -> impl Fn(&Entry) -> bool + use<> {
    let playback = client.has_cap(Cap::EventPlayback.bit());
    move |e: &Entry| playback || e.kind.is_message()
}

impl State {
    fn history_config(&self) -> History {
        self.config.read().history
    }

    /// Seconds since the history epoch, on tokio's clock.
    fn history_now(&self) -> u32 {
        u32::try_from(self.history_epoch.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    fn max_age_secs(h: &History) -> u32 {
        u32::try_from(h.max_age.as_secs()).unwrap_or(u32::MAX)
    }

    /// Records what `d` announces in a locked channel's history, when the
    /// channel keeps one; an event other than a message gets its msgid
    /// here, so the line sent now and the line in history are the same.
    pub(super) fn keep(&self, ch: &mut Channel, d: &mut Delivery, sender: ClientId) {
        let h = self.history_config();
        if !h.enabled || ch.history_off || ch.modes.ephemeral.is_some() {
            return;
        }
        let msgid = match message_id(&d.event) {
            Some(id) => id.to_string(),
            None => d.msgid.get_or_insert_with(|| self.new_msgid()).clone(),
        };
        let now = self.history_now();
        let Some(entry) = Entry::of(&d.event, d.time_ms, sender, now, &msgid) else {
            return;
        };
        let ring = &mut ch.history;
        ring.expire(now, Self::max_age_secs(&h), &self.history_counters);
        ring.push(entry, h.lines, &self.history_counters);
    }

    /// Records a QUIT or NICK in each of `chans` (one msgid for all).
    pub(super) fn keep_in(
        &self,
        chans: &[super::channel::ChannelRef],
        d: &mut Delivery,
        sender: ClientId,
    ) {
        for chan in chans {
            self.keep(&mut chan.lock(), d, sender);
        }
    }

    /// Drops a locked channel's history (it turned ephemeral, history was
    /// turned off, or the channel goes).
    pub(super) fn forget_history(&self, ch: &mut Channel) {
        ch.history.clear(&self.history_counters);
    }

    /// The key of the conversation between two accounts.
    fn pair(&self, a: &str, b: &str) -> (String, String) {
        let (a, b) = (self.fold(a), self.fold(b));
        if a <= b { (a, b) } else { (b, a) }
    }

    /// Records a direct message (a line or a multiline message) when both
    /// ends are logged in and `[history] direct_messages` is on.
    pub(super) fn keep_dm(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        d: &Delivery,
        sender: ClientId,
    ) {
        let h = self.history_config();
        let (Some(from), Some(to)) = (from, to) else {
            return;
        };
        let Some(msgid) = message_id(&d.event) else {
            return;
        };
        if !h.enabled || !h.direct_messages {
            return;
        }
        let now = self.history_now();
        let Some(entry) = Entry::of(&d.event, d.time_ms, sender, now, msgid) else {
            return;
        };
        let key = self.pair(from, to);
        let mut dms = self.dms.lock();
        let ring = dms.entry(key).or_default();
        ring.expire(now, Self::max_age_secs(&h), &self.history_counters);
        ring.push(entry, h.lines, &self.history_counters);
    }

    /// The account a DM target stands for: an online nick's account (None
    /// if it is not logged in), or else the name itself (accounts are
    /// nicks here).
    fn peer_account(&self, target: &str) -> Option<String> {
        match self.find_nick(target) {
            Some(c) => c.info().account.clone(),
            None => Some(target.to_string()),
        }
    }

    /// The account of `client` when DM history applies to it.
    fn dm_account(&self, client: &ClientRef) -> Option<String> {
        let h = self.history_config();
        if !h.enabled || !h.direct_messages {
            return None;
        }
        client.info().account.clone()
    }

    /// CHATHISTORY on one target: the canonical name for the batch and the
    /// entries `q` selects that `client` may see, oldest first. A channel
    /// must exist and have `client` on it; an ephemeral channel answers
    /// with nothing, ever.
    pub fn history(
        &self,
        client: &ClientRef,
        target: &str,
        q: &Query,
        limit: usize,
    ) -> Result<(String, Vec<Entry>), HistoryError> {
        let h = self.history_config();
        let visible = visible_to(client);
        let now = self.history_now();
        let max_age = Self::max_age_secs(&h);
        if target.starts_with('#') {
            let chan = self.channel(target).ok_or(HistoryError::InvalidTarget)?;
            let mut ch = chan.lock();
            if !ch.members.contains_key(&client.id) {
                return Err(HistoryError::InvalidTarget);
            }
            ch.history.expire(now, max_age, &self.history_counters);
            let entries = ch.history.select(q, limit, visible);
            return Ok((ch.name.clone(), entries));
        }
        let me = self.dm_account(client).ok_or(HistoryError::NotKept)?;
        let Some(peer) = self.peer_account(target) else {
            return Ok((target.to_string(), Vec::new()));
        };
        let key = self.pair(&me, &peer);
        let mut dms = self.dms.lock();
        let entries = match dms.get_mut(&key) {
            Some(ring) => {
                ring.expire(now, max_age, &self.history_counters);
                ring.select(q, limit, visible)
            }
            None => Vec::new(),
        };
        Ok((target.to_string(), entries))
    }

    /// CHATHISTORY TARGETS: the channels `client` is on and the people it
    /// exchanged direct messages with, each with the time of its latest
    /// entry `client` may see, strictly between `a` and `b` (unix ms, in
    /// either order); at most `limit`, oldest first.
    pub fn history_targets(
        &self,
        client: &ClientRef,
        a: u64,
        b: u64,
        limit: usize,
    ) -> Vec<(String, u64)> {
        let visible = visible_to(client);
        let mut found: Vec<(String, u64)> = Vec::new();
        let chans: Vec<_> = client.info().channels.values().cloned().collect();
        for chan in chans {
            let ch = chan.lock();
            if let Some(e) = ch.history.latest(&visible) {
                found.push((ch.name.clone(), e.time_ms));
            }
        }
        if let Some(me) = self.dm_account(client) {
            let me = self.fold(&me);
            let dms = self.dms.lock();
            for ((x, y), ring) in dms.iter() {
                if *x != me && *y != me {
                    continue;
                }
                if let Some(e) = ring.latest(&visible) {
                    // The other end, by the nick the latest line used.
                    let mine = e.account().is_some_and(|acc| self.fold(acc) == me);
                    let name = if mine { e.target() } else { e.source_nick() };
                    found.push((name.to_string(), e.time_ms));
                }
            }
        }
        let (lo, hi, forward) = if a <= b { (a, b, true) } else { (b, a, false) };
        found.retain(|(_, t)| *t > lo && *t < hi);
        found.sort_by_key(|(_, t)| *t);
        if forward {
            found.truncate(limit);
        } else {
            let cut = found.len().saturating_sub(limit);
            found.drain(..cut);
        }
        found
    }

    /// REDACT: removes one's own message (or, for a channel operator, anyone's
    /// in that channel) from history, and announces it to those with
    /// draft/message-redaction. Only a message history still holds can be
    /// redacted: its sender is known only from there.
    pub fn redact(
        &self,
        client: &ClientRef,
        target: &str,
        msgid: &str,
        reason: Option<&str>,
        echo: bool,
    ) -> Result<Delivery, RedactError> {
        let info = client.info().clone();
        let own = |e: &Entry| {
            e.sender == client.id
                || e.account()
                    .zip(info.account.as_deref())
                    .is_some_and(|(a, b)| self.casemap.eq(a, b))
        };
        let event = |target: String| Event::Redacted {
            source: info.prefix(),
            account: info.account.clone(),
            target,
            msgid: msgid.to_string(),
            reason: reason.map(str::to_string),
        };
        let mut d = if target.starts_with('#') {
            let chan = self.channel(target).ok_or(RedactError::InvalidTarget)?;
            let mut guard = chan.lock();
            let ch = &mut *guard;
            if !ch.members.contains_key(&client.id) {
                return Err(RedactError::InvalidTarget);
            }
            let op = ch.is_op(client.id);
            let ring = &mut ch.history;
            check(ring, msgid, |e| op || own(e))?;
            ring.remove(msgid, &self.history_counters);
            if ring.is_empty() {
                self.forget_history(ch);
            }
            Delivery::new(event(ch.name.clone()), ch.member_clients(Some(client.id)))
        } else {
            let me = self.dm_account(client).ok_or(RedactError::InvalidTarget)?;
            let peer_client = self.find_nick(target);
            let peer = self
                .peer_account(target)
                .ok_or(RedactError::InvalidTarget)?;
            let key = self.pair(&me, &peer);
            {
                let mut dms = self.dms.lock();
                let ring = dms.get_mut(&key).ok_or(RedactError::UnknownMsgid)?;
                check(ring, msgid, own)?;
                ring.remove(msgid, &self.history_counters);
                if ring.is_empty() {
                    dms.remove(&key);
                    maybe_shrink(&mut dms);
                }
            }
            let to = peer_client
                .filter(|p| p.id != client.id)
                .into_iter()
                .collect();
            Delivery::new(event(target.to_string()), to)
        };
        d.msgid = Some(self.new_msgid());
        Ok(d.echo(echo).only_with(Cap::MessageRedaction))
    }

    /// ChanServ SET HISTORY ON|OFF on channel `name`; off drops what it had.
    /// False: no such channel.
    pub fn set_channel_history(&self, name: &str, on: bool) -> bool {
        let Some(chan) = self.channel(name) else {
            return false;
        };
        let mut ch = chan.lock();
        ch.history_off = !on;
        if !on {
            self.forget_history(&mut ch);
        }
        true
    }

    /// Drops what has grown older than `max_age` everywhere (run every
    /// minute, and after a rehash), what is beyond `lines`, and the
    /// direct-message history when it is no longer kept.
    pub fn expire_history(&self) {
        let h = self.history_config();
        let now = self.history_now();
        let max_age = Self::max_age_secs(&h);
        let chans: Vec<_> = self.channels.lock().values().cloned().collect();
        for chan in chans {
            let mut ch = chan.lock();
            let ring = &mut ch.history;
            ring.expire(now, max_age, &self.history_counters);
            ring.trim(h.lines, &self.history_counters);
            if ring.is_empty() {
                self.forget_history(&mut ch);
            }
        }
        let mut dms = self.dms.lock();
        let keep = h.enabled && h.direct_messages;
        dms.retain(|_, ring| {
            ring.expire(now, max_age, &self.history_counters);
            ring.trim(h.lines, &self.history_counters);
            if !keep {
                ring.clear(&self.history_counters);
            }
            !ring.is_empty()
        });
        maybe_shrink(&mut dms);
    }

    /// (entries, bytes) held by all history now (tests, memory figures).
    pub fn history_stats(&self) -> (usize, usize) {
        self.history_counters.get()
    }

    /// How many direct-message conversations are kept.
    pub fn history_conversations(&self) -> usize {
        self.dms.lock().len()
    }

    /// The accounts `account` has a kept conversation with (for tests of
    /// the DM rules; never their content).
    pub fn history_peers(&self, account: &str) -> HashSet<String> {
        let me = self.fold(account);
        self.dms
            .lock()
            .keys()
            .filter_map(|(a, b)| match (a == &me, b == &me) {
                (true, _) => Some(b.clone()),
                (_, true) => Some(a.clone()),
                _ => None,
            })
            .collect()
    }
}

/// The msgid a message carries (PRIVMSG, NOTICE, TAGMSG, a multiline
/// message); other events get theirs when history keeps them.
fn message_id(e: &Event) -> Option<&str> {
    match e {
        Event::Message { msgid, .. } | Event::Multiline { msgid, .. } => Some(msgid),
        _ => None,
    }
}

/// The message `msgid` in `ring` may be redacted by whoever `allowed` says.
fn check(ring: &Ring, msgid: &str, allowed: impl Fn(&Entry) -> bool) -> Result<(), RedactError> {
    match ring.find(msgid) {
        Some(e) if !e.kind.is_redactable() => Err(RedactError::UnknownMsgid),
        Some(e) if allowed(e) => Ok(()),
        Some(_) => Err(RedactError::Forbidden),
        None => Err(RedactError::UnknownMsgid),
    }
}
