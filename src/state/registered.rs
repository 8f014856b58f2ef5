//! Channels registered with ChanServ: kept while empty, and their modes,
//! topic and lists saved in the store (by services) and restored at start.

use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{
    State,
    channel::{Channel, ListEntry, Topic},
    unix_now,
};

/// What a registered channel keeps across restarts and while empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeptChannel {
    pub topic: Option<Topic>,
    /// The flag modes (i, m, n, s, t, M, R) that are set.
    pub flags: String,
    pub key: Option<String>,
    pub limit: Option<usize>,
    pub bans: Vec<ListEntry>,
    pub excepts: Vec<ListEntry>,
    pub invex: Vec<ListEntry>,
}

impl State {
    /// Marks channel `name` registered (kept while empty) or not; an empty
    /// channel that is no longer registered goes. False: no such channel.
    pub fn set_channel_registered(&self, name: &str, on: bool) -> bool {
        let Some(chan) = self.channel(name) else {
            return false;
        };
        let empty = {
            let mut ch = chan.lock();
            ch.registered = on;
            // A dropped registration takes its SET HISTORY OFF with it.
            ch.history_off &= on;
            ch.members.is_empty()
        };
        if empty && !on {
            self.drop_if_empty(&chan);
        }
        true
    }

    pub fn is_registered_channel(&self, name: &str) -> bool {
        self.channel(name).is_some_and(|c| c.lock().registered)
    }

    /// What a registered channel keeps, now.
    pub fn kept(&self, name: &str) -> Option<KeptChannel> {
        let chan = self.channel(name)?;
        let ch = chan.lock();
        let flags = "imnstMR".chars().filter(|&c| ch.flag(c)).collect();
        Some(KeptChannel {
            topic: ch.topic.clone(),
            flags,
            key: ch.modes.key.as_ref().map(|k| k.to_string()),
            limit: ch.modes.limit,
            bans: ch.bans.clone(),
            excepts: ch.excepts.clone(),
            invex: ch.invex.clone(),
        })
    }

    /// Creates registered channel `name` at start (empty, as it was kept).
    pub fn restore_channel(&self, name: &str, kept: &KeptChannel) {
        let folded = self.fold(name);
        let mut map = self.channels.lock();
        if map.contains_key(&folded) {
            return;
        }
        let mut ch = Channel::new(name, unix_now());
        ch.registered = true;
        for c in kept.flags.chars() {
            if let Some(f) = ch.flag_mut(c) {
                *f = true;
            }
        }
        ch.modes.key = kept.key.clone().map(zeroize::Zeroizing::new);
        ch.modes.limit = kept.limit;
        ch.topic = kept.topic.clone();
        ch.bans = kept.bans.clone();
        ch.excepts = kept.excepts.clone();
        ch.invex = kept.invex.clone();
        map.insert(folded, Arc::new(Mutex::new(ch)));
    }
}
