//! WHOWAS: who used a nick, kept in memory: the nick a user quit with or
//! changed away from (RFC 2812 3.6.3), newest first, at most
//! `whowas_entries` in all and `whowas_per_nick` for one nick (InspIRCd
//! keeps 10), so one nick reconnecting in a loop cannot push everyone else's
//! history out.

use super::{ClientRef, State, client::ClientInfo, unix_now};

#[derive(Debug, Clone)]
pub struct Whowas {
    pub nick: String,
    pub user: String,
    pub host: String,
    pub realname: String,
    pub time: u64,
}

impl Whowas {
    /// The entry for the nick `info` has now.
    pub(super) fn of(info: &ClientInfo) -> Self {
        Whowas {
            nick: info.nick.clone(),
            user: info.user.clone(),
            host: info.host.clone(),
            realname: info.realname.clone(),
            time: unix_now(),
        }
    }
}

impl State {
    /// Records the client as it is now (it is quitting).
    pub(super) fn record_whowas(&self, client: &ClientRef) {
        let entry = Whowas::of(&client.info());
        self.record_whowas_entry(entry);
    }

    /// Adds `entry` as the newest; drops the oldest entry of the same nick
    /// past `whowas_per_nick`, and the oldest of all past `whowas_entries`.
    pub(super) fn record_whowas_entry(&self, entry: Whowas) {
        let limits = &self.config().limits;
        let (max, per_nick) = (limits.whowas_entries, limits.whowas_per_nick.max(1));
        if max == 0 {
            return;
        }
        let mut w = self.whowas.lock();
        let mut same = 0;
        let mut oldest = None;
        for (i, e) in w.iter().enumerate() {
            if self.casemap.eq(&e.nick, &entry.nick) {
                same += 1;
                oldest = Some(i);
            }
        }
        if same >= per_nick
            && let Some(i) = oldest
        {
            w.remove(i);
        }
        w.push_front(entry);
        w.truncate(max);
    }

    /// The most recent `count` entries for `nick`, newest first.
    pub fn whowas(&self, nick: &str, count: usize) -> Vec<Whowas> {
        let w = self.whowas.lock();
        w.iter()
            .filter(|e| self.casemap.eq(&e.nick, nick))
            .take(count)
            .cloned()
            .collect()
    }
}
