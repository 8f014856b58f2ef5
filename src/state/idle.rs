//! Ephemeral channels' idle clock: one timer structure for all of them.
//!
//! Activity (PRIVMSG, NOTICE, TAGMSG, JOIN) only stamps the channel's
//! `last_activity`; nothing is pushed here per message. An entry is armed when
//! a channel becomes ephemeral and re-armed when it fires early (activity
//! moved the deadline), so each channel has one live entry whatever its
//! traffic, and thousands of idle channels cost a heap entry each, no task
//! and no timer of their own. Entries carry a generation; a stale one (the
//! channel was destroyed or its timeout changed) is dropped when it pops.

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    sync::{Arc, Weak},
};

use parking_lot::Mutex;
use tokio::{sync::Notify, time::Instant};

use super::{
    Delivery, Event, State,
    channel::{Channel, ChannelRef},
};
use crate::config::format_duration;

pub(super) struct Entry {
    at: Instant,
    generation: u64,
    channel: Weak<Mutex<Channel>>,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.at == o.at && self.generation == o.generation
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.generation).cmp(&(o.at, o.generation))
    }
}

#[derive(Default)]
pub struct IdleTimers {
    heap: Mutex<BinaryHeap<Reverse<Entry>>>,
    /// Wakes the driver when an entry earlier than its current sleep arrives.
    pub changed: Notify,
}

impl IdleTimers {
    fn arm(&self, entry: Entry) {
        let mut heap = self.heap.lock();
        let earlier = heap.peek().is_none_or(|Reverse(e)| entry.at < e.at);
        heap.push(Reverse(entry));
        drop(heap);
        if earlier {
            self.changed.notify_one();
        }
    }

    /// The earliest deadline, if any.
    pub fn next(&self) -> Option<Instant> {
        self.heap.lock().peek().map(|Reverse(e)| e.at)
    }

    /// Removes and returns every entry due at `now`.
    fn pop_due(&self, now: Instant) -> Vec<Entry> {
        let mut heap = self.heap.lock();
        let mut out = Vec::new();
        while heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
            out.push(heap.pop().unwrap().0);
        }
        if heap.capacity() > 64 && heap.len() * 4 < heap.capacity() {
            let keep = heap.len() * 2;
            heap.shrink_to(keep);
        }
        out
    }

    pub fn len(&self) -> usize {
        self.heap.lock().len()
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
    /// +E changes); older entries become stale.
    pub(super) fn schedule_idle(&self, chan: &ChannelRef) {
        let entry = {
            let mut ch = chan.lock();
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
            Entry {
                at,
                generation: ch.idle_generation,
                channel: Arc::downgrade(chan),
            }
        };
        self.idle.arm(entry);
    }

    /// Runs the idle entries due at `now`: warns channels nearing their
    /// deadline and destroys those past it. Returns the deliveries (warnings
    /// and the kicks of destroyed channels) and how many were destroyed.
    pub fn fire_idle(&self, now: Instant) -> (Vec<Delivery>, usize) {
        let warn_before = self.config().channels.warn_before;
        let mut out = Vec::new();
        let mut destroyed = 0;
        for e in self.idle.pop_due(now) {
            let Some(chan) = e.channel.upgrade() else {
                continue;
            };
            let (act, rearm) = {
                let mut ch = chan.lock();
                let Some(timeout) = ch.modes.ephemeral else {
                    continue;
                };
                if ch.dead || ch.idle_generation != e.generation {
                    continue;
                }
                let deadline = ch.last_activity + timeout;
                let warn_at = (warn_before < timeout).then(|| deadline - warn_before);
                if now >= deadline {
                    (Act::Destroy(timeout), None)
                } else if !ch.warned && warn_at.is_some_and(|w| now >= w) {
                    ch.warned = true;
                    let d = Delivery::new(
                        Event::IdleWarning {
                            channel: ch.name.clone(),
                            left: deadline - now,
                        },
                        ch.member_clients(None),
                    );
                    (Act::Warn(d), Some(deadline))
                } else {
                    let next = match warn_at {
                        Some(w) if !ch.warned && w > now => w,
                        _ => deadline,
                    };
                    (Act::Nothing, Some(next))
                }
            };
            if let Some(at) = rearm {
                self.idle.arm(Entry {
                    at,
                    generation: e.generation,
                    channel: e.channel.clone(),
                });
            }
            match act {
                Act::Nothing => {}
                Act::Warn(d) => out.push(d),
                Act::Destroy(timeout) => {
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
