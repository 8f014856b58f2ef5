//! WHOWAS: who used a nick, kept in memory: the nick a user quit with or
//! changed away from (RFC 2812 3.6.3), newest first, at most
//! `whowas_entries` in all and `whowas_per_nick` for one nick (InspIRCd
//! keeps 10), so one nick reconnecting in a loop cannot push everyone else's
//! history out.
//!
//! Recording and looking up cost O(1) in the number of entries kept (the
//! folded nick is the key): a QUIT or a nick change must not walk the whole
//! log under its lock.

use std::collections::{HashMap, VecDeque};

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

/// The entries, by folded nick, plus the order they came in across nicks.
///
/// Invariant: every entry in `by_nick` has its `(seq, key)` in `order`;
/// `order` may also hold entries already dropped by the per-nick bound
/// (stale), which eviction skips and [`WhowasLog::compact`] removes once
/// `order` holds more than twice the live entries (plus 16), so it stays
/// within twice the bound.
#[derive(Debug, Default)]
pub(super) struct WhowasLog {
    /// Newest first, each with its sequence number.
    by_nick: HashMap<String, VecDeque<(u64, Whowas)>>,
    /// Oldest first.
    order: VecDeque<(u64, String)>,
    live: usize,
    next: u64,
}

impl WhowasLog {
    /// Adds `entry` (its nick folded to `key`) as the newest.
    fn push(&mut self, key: String, entry: Whowas, max: usize, per_nick: usize) {
        let seq = self.next;
        self.next += 1;
        let list = self.by_nick.entry(key.clone()).or_default();
        list.push_front((seq, entry));
        self.live += 1;
        // (A loop: `whowas_per_nick` may have shrunk on a rehash.)
        while list.len() > per_nick {
            list.pop_back();
            self.live -= 1;
        }
        self.order.push_back((seq, key));
        while self.live > max {
            let Some((seq, key)) = self.order.pop_front() else {
                break;
            };
            if let Some(list) = self.by_nick.get_mut(&key)
                && list.back().is_some_and(|(s, _)| *s == seq)
            {
                list.pop_back();
                self.live -= 1;
                if list.is_empty() {
                    self.by_nick.remove(&key);
                }
            }
        }
        if self.order.len() > 2 * self.live + 16 {
            self.compact();
        }
    }

    /// Drops from `order` what the per-nick bound already dropped.
    fn compact(&mut self) {
        let by_nick = &self.by_nick;
        self.order.retain(|(seq, key)| {
            by_nick
                .get(key)
                .and_then(|l| l.back())
                .is_some_and(|(oldest, _)| oldest <= seq)
        });
    }

    fn get(&self, key: &str, count: usize) -> Vec<Whowas> {
        self.by_nick
            .get(key)
            .map(|l| l.iter().take(count).map(|(_, e)| e.clone()).collect())
            .unwrap_or_default()
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
        let key = self.casemap.fold(&entry.nick);
        self.whowas.lock().push(key, entry, max, per_nick);
    }

    /// The most recent `count` entries for `nick`, newest first.
    pub fn whowas(&self, nick: &str, count: usize) -> Vec<Whowas> {
        self.whowas.lock().get(&self.casemap.fold(nick), count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(nick: &str, n: u64) -> Whowas {
        Whowas {
            nick: nick.into(),
            user: "u".into(),
            host: "h".into(),
            realname: "r".into(),
            time: n,
        }
    }

    fn times(log: &WhowasLog, key: &str) -> Vec<u64> {
        log.get(key, usize::MAX).iter().map(|e| e.time).collect()
    }

    #[test]
    fn bounds_per_nick_and_in_all_newest_kept() {
        let mut log = WhowasLog::default();
        for n in 0..5 {
            log.push("a".into(), entry("a", n), 6, 3);
        }
        assert_eq!(times(&log, "a"), [4, 3, 2]);
        for n in 10..14 {
            log.push(format!("b{n}"), entry("b", n), 6, 3);
        }
        // Six in all: the oldest of everything ("a" 2) went first.
        assert_eq!(times(&log, "a"), [4, 3]);
        assert_eq!(log.live, 6);
        assert_eq!(times(&log, "b10"), [10]);
        log.push("c".into(), entry("c", 20), 6, 3);
        log.push("c".into(), entry("c", 21), 6, 3);
        assert_eq!(times(&log, "a"), Vec::<u64>::new());
        assert!(!log.by_nick.contains_key("a"));
        assert_eq!(times(&log, "c"), [21, 20]);
        assert_eq!(log.get("c", 1).len(), 1);
    }

    #[test]
    fn one_nick_in_a_loop_keeps_the_order_bounded() {
        let mut log = WhowasLog::default();
        log.push("other".into(), entry("other", 0), 1000, 10);
        for n in 1..100_000 {
            log.push("ghost".into(), entry("ghost", n), 1000, 10);
        }
        assert_eq!(log.live, 11);
        assert!(log.order.len() <= 2 * 11 + 16, "{}", log.order.len());
        assert_eq!(times(&log, "other"), [0]);
        assert_eq!(times(&log, "ghost")[0], 99_999);
        // The compacted order still evicts in age order.
        for n in 0..1000 {
            log.push(format!("n{n}"), entry("n", n), 1000, 10);
        }
        assert_eq!(log.live, 1000);
        assert_eq!(times(&log, "other"), Vec::<u64>::new());
        assert_eq!(times(&log, "ghost"), Vec::<u64>::new());
    }
}
