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
    sync::{Mutex, Weak},
};

use tokio::{sync::Notify, time::Instant};

use super::channel::Channel;

pub struct Entry {
    pub at: Instant,
    pub generation: u64,
    pub channel: Weak<Mutex<Channel>>,
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
    pub fn arm(&self, entry: Entry) {
        let mut heap = self.heap.lock().unwrap();
        let earlier = heap.peek().is_none_or(|Reverse(e)| entry.at < e.at);
        heap.push(Reverse(entry));
        drop(heap);
        if earlier {
            self.changed.notify_one();
        }
    }

    /// The earliest deadline, if any.
    pub fn next(&self) -> Option<Instant> {
        self.heap.lock().unwrap().peek().map(|Reverse(e)| e.at)
    }

    /// Removes and returns every entry due at `now`.
    pub fn pop_due(&self, now: Instant) -> Vec<Entry> {
        let mut heap = self.heap.lock().unwrap();
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
        self.heap.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
