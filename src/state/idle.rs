//! Ephemeral channels' idle clock: one timer structure for all of them.
//!
//! Activity (PRIVMSG, NOTICE, TAGMSG, JOIN) only stamps the channel's
//! `last_activity`; nothing is pushed here per message. An entry is armed when
//! a channel becomes ephemeral and re-armed when it fires early (activity
//! moved the deadline), so each channel has one entry whatever its traffic,
//! and thousands of idle channels cost an entry each, no task and no timer of
//! their own.
//!
//! Each live ephemeral channel has exactly one entry, and the channel knows
//! it (`Channel::idle_at`): re-arming replaces it, and a channel that is
//! destroyed, or loses +E, takes its entry out with it. (Entries used to be
//! left stale in a heap until their deadline: a destroyed `+E 7d` channel's
//! memory was kept for a week, and every +E change added an entry.) The map
//! is keyed by (deadline, the channel's address); the `Weak` in the entry
//! keeps that allocation, so the address is not reused while the entry lives.
//!
//! Lock order: the map is a leaf, taken under a `Channel` lock (so the
//! channel's `idle_at` and its entry change together) and never holding
//! another lock.

use std::{
    collections::BTreeMap,
    sync::{Arc, Weak},
};

use parking_lot::Mutex;
use tokio::{sync::Notify, time::Instant};

use super::{
    Delivery, Event, State,
    channel::{Channel, ChannelRef},
};
use crate::config::format_duration;

type Key = (Instant, usize);

#[derive(Default)]
pub struct IdleTimers {
    map: Mutex<BTreeMap<Key, Weak<Mutex<Channel>>>>,
    /// Wakes the driver when an entry earlier than its current sleep arrives.
    pub changed: Notify,
}

fn key(at: Instant, chan: &ChannelRef) -> Key {
    (at, Arc::as_ptr(chan) as usize)
}

impl IdleTimers {
    /// Sets the one entry of `chan` (whose lock the caller holds as `ch`)
    /// to `at`, replacing the one it had.
    fn arm(&self, chan: &ChannelRef, ch: &mut Channel, at: Instant) {
        let earlier = {
            let mut map = self.map.lock();
            if let Some(old) = ch.idle_at.take() {
                map.remove(&key(old, chan));
            }
            let earlier = map
                .first_key_value()
                .is_none_or(|((first, _), _)| at < *first);
            map.insert(key(at, chan), Arc::downgrade(chan));
            earlier
        };
        ch.idle_at = Some(at);
        if earlier {
            self.changed.notify_one();
        }
    }

    /// Takes the entry of `chan` (locked by the caller as `ch`) out, if any:
    /// the channel is destroyed or no longer ephemeral.
    pub(super) fn disarm(&self, chan: &ChannelRef, ch: &mut Channel) {
        if let Some(at) = ch.idle_at.take() {
            self.map.lock().remove(&key(at, chan));
        }
    }

    /// The earliest deadline, if any.
    pub fn next(&self) -> Option<Instant> {
        self.map.lock().first_key_value().map(|((at, _), _)| *at)
    }

    /// Removes and returns every entry due at `now`.
    fn pop_due(&self, now: Instant) -> Vec<(Instant, Weak<Mutex<Channel>>)> {
        let mut map = self.map.lock();
        let mut out = Vec::new();
        while map.first_key_value().is_some_and(|((at, _), _)| *at <= now) {
            let ((at, _), chan) = map.pop_first().expect("checked above");
            out.push((at, chan));
        }
        out
    }

    /// How many entries there are: one per live ephemeral channel.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What firing one entry decided, under the channel lock.
enum Act {
    Nothing,
    Warn(Delivery),
    Destroy(std::time::Duration),
}

impl State {
    /// Arms the idle timer of an ephemeral channel (on creation or when its
    /// +E changes), replacing the entry it had; a channel that is no longer
    /// ephemeral (or is dead) loses its entry.
    pub(super) fn schedule_idle(&self, chan: &ChannelRef) {
        let mut ch = chan.lock();
        let timeout = match ch.modes.ephemeral {
            Some(t) if !ch.dead => t,
            _ => return self.idle.disarm(chan, &mut ch),
        };
        ch.warned = false;
        let warn = self.config().channels.warn_before;
        let deadline = ch.last_activity + timeout;
        let at = if warn < timeout {
            deadline - warn
        } else {
            deadline
        };
        self.idle.arm(chan, &mut ch, at);
    }

    /// Runs the idle entries due at `now`: warns channels nearing their
    /// deadline and destroys those past it. Returns the deliveries (warnings
    /// and the kicks of destroyed channels) and how many were destroyed.
    pub fn fire_idle(&self, now: Instant) -> (Vec<Delivery>, usize) {
        let warn_before = self.config().channels.warn_before;
        let mut out = Vec::new();
        let mut destroyed = 0;
        for (at, weak) in self.idle.pop_due(now) {
            let Some(chan) = weak.upgrade() else {
                continue;
            };
            let act = {
                let mut ch = chan.lock();
                // Not this channel's entry any more: re-armed since it was
                // taken out of the map (the new one stands).
                if ch.idle_at != Some(at) {
                    continue;
                }
                ch.idle_at = None;
                let Some(timeout) = ch.modes.ephemeral else {
                    continue;
                };
                if ch.dead {
                    continue;
                }
                let deadline = ch.last_activity + timeout;
                let warn_at = (warn_before < timeout).then(|| deadline - warn_before);
                if now >= deadline {
                    Act::Destroy(timeout)
                } else if !ch.warned && warn_at.is_some_and(|w| now >= w) {
                    ch.warned = true;
                    let d = Delivery::new(
                        Event::IdleWarning {
                            channel: ch.name.clone(),
                            left: deadline - now,
                        },
                        ch.member_clients(None),
                    );
                    self.idle.arm(&chan, &mut ch, deadline);
                    Act::Warn(d)
                } else {
                    let next = match warn_at {
                        Some(w) if !ch.warned && w > now => w,
                        _ => deadline,
                    };
                    self.idle.arm(&chan, &mut ch, next);
                    Act::Nothing
                }
            };
            match act {
                Act::Nothing => {}
                Act::Warn(d) => out.push(d),
                Act::Destroy(timeout) => {
                    let reason = format!(
                        "Channel self-destructed after being idle for {}",
                        format_duration(timeout)
                    );
                    // Re-checked under the lock: a message (or a new +E) since
                    // the decision saves it.
                    let still_idle = |ch: &Channel| {
                        ch.idle_at.is_none()
                            && ch.modes.ephemeral == Some(timeout)
                            && now >= ch.last_activity + timeout
                    };
                    match self.destroy_channel(&chan, still_idle, &reason) {
                        Some(d) => {
                            out.push(d);
                            destroyed += 1;
                        }
                        None if !chan.lock().dead => {
                            // Saved at the last moment: look again at its new deadline.
                            self.schedule_idle(&chan);
                        }
                        None => {}
                    }
                }
            }
        }
        (out, destroyed)
    }
}
