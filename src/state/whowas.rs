//! WHOWAS: who used a nick, kept in memory, bounded by `whowas_entries`.

use super::{ClientRef, State, unix_now};

#[derive(Debug, Clone)]
pub struct Whowas {
    pub nick: String,
    pub user: String,
    pub host: String,
    pub realname: String,
    pub time: u64,
}

impl State {
    pub(super) fn record_whowas(&self, client: &ClientRef) {
        let max = self.config().limits.whowas_entries;
        if max == 0 {
            return;
        }
        let entry = {
            let info = client.info();
            Whowas {
                nick: info.nick.clone(),
                user: info.user.clone(),
                host: info.host.clone(),
                realname: info.realname.clone(),
                time: unix_now(),
            }
        };
        let mut w = self.whowas.lock();
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
