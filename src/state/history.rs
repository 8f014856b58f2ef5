//! The in-memory history of one channel or one conversation: a ring of
//! entries ([`entry`]) bounded by lines and by age, and the selections
//! CHATHISTORY makes from it (LATEST, BEFORE, AFTER, AROUND, BETWEEN).
//!
//! An entry is what a recipient saw: the msgid and time of the line, its
//! source, account and client-only tags, and its parameters, in one shared
//! allocation, so a query copies out reference counts, never text, and
//! builds its lines after the channel lock is released. A draft/multiline
//! message is one entry that counts for its lines against `lines`, so the
//! bound on memory is the same as for that many single lines. Nothing here
//! is written anywhere: the ring is memory only, and it goes with its
//! channel.

use std::{
    collections::VecDeque,
    sync::atomic::{AtomicUsize, Ordering},
};

mod entry;

pub use entry::{Entry, Kind};

/// What every ring holds in total, for the memory figures and the tests.
#[derive(Debug, Default)]
pub struct Counters {
    entries: AtomicUsize,
    bytes: AtomicUsize,
}

impl Counters {
    fn add(&self, e: &Entry) {
        self.entries.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(e.weight(), Ordering::Relaxed);
    }

    fn sub(&self, e: &Entry) {
        self.entries.fetch_sub(1, Ordering::Relaxed);
        self.bytes.fetch_sub(e.weight(), Ordering::Relaxed);
    }

    /// (entries, bytes) held by every ring now.
    pub fn get(&self) -> (usize, usize) {
        (
            self.entries.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// Where a selection starts or ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Msgid(String),
    /// Unix milliseconds.
    Time(u64),
}

/// A CHATHISTORY selection (TARGETS is not one: it lists rings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// The most recent, after the selector if any.
    Latest(Option<Selector>),
    Before(Selector),
    After(Selector),
    Around(Selector),
    Between(Selector, Selector),
}

/// A ring of entries, oldest first, bounded by the lines they count for
/// (the newest entry stays even when it alone is over). Callers keep
/// [`Counters`] true by passing them to every change, and [`Ring::clear`]
/// one before it goes (a channel's ring goes with the channel:
/// `drop_if_empty`, `destroy_channel`).
#[derive(Debug, Default)]
pub struct Ring {
    entries: VecDeque<Entry>,
    /// The lines the entries count for ([`Entry::lines`]).
    lines: usize,
}

impl Ring {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn pop_front(&mut self, counters: &Counters) {
        if let Some(old) = self.entries.pop_front() {
            self.forget(&old, counters);
        }
    }

    fn forget(&mut self, e: &Entry, counters: &Counters) {
        self.lines -= e.lines();
        counters.sub(e);
    }

    /// Appends `e`, dropping the oldest beyond `lines`.
    pub fn push(&mut self, e: Entry, lines: usize, counters: &Counters) {
        if self.entries.capacity() == 0 {
            // Most channels say little: no room for four to begin with.
            self.entries.reserve_exact(1);
        }
        counters.add(&e);
        self.lines += e.lines();
        self.entries.push_back(e);
        self.trim(lines, counters);
    }

    /// Drops the oldest beyond `lines` (after a rehash lowered it).
    pub fn trim(&mut self, lines: usize, counters: &Counters) {
        while self.lines > lines.max(1) && self.entries.len() > 1 {
            self.pop_front(counters);
        }
    }

    /// Drops the entries older than `max_age` seconds at `now` (seconds
    /// since the epoch), and gives back memory once mostly empty.
    pub fn expire(&mut self, now: u32, max_age: u32, counters: &Counters) {
        while let Some(e) = self.entries.front() {
            if now.saturating_sub(e.at) < max_age {
                break;
            }
            self.pop_front(counters);
        }
        if self.entries.capacity() > 16 && self.entries.len() * 4 < self.entries.capacity() {
            self.entries.shrink_to(self.entries.len() * 2);
        }
    }

    /// Empties the ring and frees its memory.
    pub fn clear(&mut self, counters: &Counters) {
        for e in self.entries.drain(..) {
            counters.sub(&e);
        }
        self.entries = VecDeque::new();
        self.lines = 0;
    }

    pub fn find(&self, msgid: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.msgid() == msgid)
    }

    pub fn remove(&mut self, msgid: &str, counters: &Counters) -> Option<Entry> {
        let pos = self.entries.iter().rposition(|e| e.msgid() == msgid)?;
        let e = self.entries.remove(pos)?;
        self.forget(&e, counters);
        Some(e)
    }

    /// The newest entry `visible` lets through (TARGETS).
    pub fn latest(&self, visible: impl Fn(&Entry) -> bool) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| visible(e))
    }

    /// The entries of `q` that `visible` lets through, at most `limit`,
    /// oldest first. An unknown msgid selects nothing.
    pub fn select(&self, q: &Query, limit: usize, visible: impl Fn(&Entry) -> bool) -> Vec<Entry> {
        // Positions (in the ring) of the visible entries, in order.
        let idx: Vec<usize> = (0..self.entries.len())
            .filter(|&i| visible(&self.entries[i]))
            .collect();
        let n = idx.len();
        // How many visible entries come strictly before `s` / are not after it.
        let before = |s: &Selector| -> Option<usize> {
            Some(match s {
                Selector::Msgid(id) => {
                    let p = self.entries.iter().rposition(|e| e.msgid() == id)?;
                    idx.partition_point(|&i| i < p)
                }
                Selector::Time(t) => idx.partition_point(|&i| self.entries[i].time_ms < *t),
            })
        };
        let not_after = |s: &Selector| -> Option<usize> {
            Some(match s {
                Selector::Msgid(id) => {
                    let p = self.entries.iter().rposition(|e| e.msgid() == id)?;
                    idx.partition_point(|&i| i <= p)
                }
                Selector::Time(t) => idx.partition_point(|&i| self.entries[i].time_ms <= *t),
            })
        };
        let first = |lo: usize, hi: usize| (lo, hi.min(lo.saturating_add(limit)).max(lo));
        let last = |lo: usize, hi: usize| (hi.saturating_sub(limit).max(lo), hi.max(lo));
        let range = match q {
            Query::Latest(None) => Some(last(0, n)),
            Query::Latest(Some(s)) => not_after(s).map(|lo| last(lo, n)),
            Query::Before(s) => before(s).map(|hi| last(0, hi)),
            Query::After(s) => not_after(s).map(|lo| first(lo, n)),
            Query::Around(s) => before(s).map(|c| {
                let start = c.saturating_sub(limit.div_ceil(2).saturating_sub(1));
                let end = n.min(start.saturating_add(limit));
                (end.saturating_sub(limit).min(start), end)
            }),
            Query::Between(a, b) => match (before(a), not_after(a), before(b), not_after(b)) {
                (Some(a_lo), Some(a_hi), Some(b_lo), Some(b_hi)) => Some(if a_lo <= b_lo {
                    first(a_hi, b_lo)
                } else {
                    last(b_hi, a_lo)
                }),
                _ => None,
            },
        };
        let Some((lo, hi)) = range else {
            return Vec::new();
        };
        idx[lo.min(n)..hi.min(n)]
            .iter()
            .map(|&i| self.entries[i].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Event, Multiline, MultilineLine, Verb};

    fn msg(i: u64, verb: Verb, tags: Option<&str>) -> Entry {
        let e = Event::Message {
            verb,
            source: "a!u@h".into(),
            target: "#c".into(),
            text: (verb != Verb::Tagmsg).then(|| format!("m{i}")),
            client_tags: tags.map(str::to_string),
            msgid: format!("id{i}"),
            account: None,
            bot: false,
            relay: None,
        };
        Entry::of(&e, 1000 + i * 10, 7, 0, &format!("id{i}")).unwrap()
    }

    fn ring(n: u64) -> (Ring, Counters) {
        let c = Counters::default();
        let mut r = Ring::default();
        for i in 0..n {
            r.push(msg(i, Verb::Privmsg, None), 100, &c);
        }
        (r, c)
    }

    fn ids(v: &[Entry]) -> Vec<String> {
        v.iter().map(|e| e.msgid().to_string()).collect()
    }

    fn sel(r: &Ring, q: Query, limit: usize) -> Vec<String> {
        ids(&r.select(&q, limit, |_| true))
    }

    fn id(i: u64) -> Selector {
        Selector::Msgid(format!("id{i}"))
    }

    fn at(i: u64) -> Selector {
        Selector::Time(1000 + i * 10)
    }

    fn range(a: u64, b: u64) -> Vec<String> {
        (a..b).map(|i| format!("id{i}")).collect()
    }

    #[test]
    fn selections_follow_the_spec() {
        let (r, _) = ring(10);
        assert_eq!(sel(&r, Query::Latest(None), 20), range(0, 10));
        assert_eq!(sel(&r, Query::Latest(None), 5), range(5, 10));
        assert_eq!(sel(&r, Query::Latest(Some(id(4))), 20), range(5, 10));
        assert_eq!(sel(&r, Query::Latest(Some(at(4))), 2), range(8, 10));
        assert_eq!(sel(&r, Query::Before(id(6)), 20), range(0, 6));
        assert_eq!(sel(&r, Query::Before(at(6)), 2), range(4, 6));
        assert_eq!(sel(&r, Query::After(id(3)), 20), range(4, 10));
        assert_eq!(sel(&r, Query::After(at(3)), 3), range(4, 7));
        assert_eq!(sel(&r, Query::Between(id(0), id(9)), 20), range(1, 9));
        assert_eq!(sel(&r, Query::Between(id(9), id(0)), 20), range(1, 9));
        assert_eq!(sel(&r, Query::Between(id(0), id(9)), 3), range(1, 4));
        assert_eq!(sel(&r, Query::Between(at(9), at(0)), 3), range(6, 9));
        assert_eq!(sel(&r, Query::Between(at(0), id(9)), 3), range(1, 4));
        assert_eq!(sel(&r, Query::Around(id(7)), 1), range(7, 8));
        assert_eq!(sel(&r, Query::Around(id(7)), 3), range(6, 9));
        assert_eq!(sel(&r, Query::Around(at(7)), 3), range(6, 9));
        assert_eq!(sel(&r, Query::Around(id(0)), 3), range(0, 3));
        assert_eq!(sel(&r, Query::Around(id(9)), 4), range(6, 10));
        // Times between entries, and outside the ring.
        assert_eq!(sel(&r, Query::After(Selector::Time(1015)), 2), range(2, 4));
        assert_eq!(sel(&r, Query::Before(Selector::Time(0)), 5), range(0, 0));
        assert_eq!(
            sel(&r, Query::After(Selector::Time(u64::MAX)), 5),
            range(0, 0)
        );
        // An unknown msgid selects nothing; so does a zero limit.
        assert!(sel(&r, Query::Before(Selector::Msgid("nope".into())), 5).is_empty());
        assert!(sel(&r, Query::Between(id(1), Selector::Msgid("x".into())), 5).is_empty());
        assert!(sel(&r, Query::Latest(None), 0).is_empty());
        assert!(sel(&r, Query::Between(id(3), id(3)), 5).is_empty());
    }

    #[test]
    fn invisible_entries_are_not_counted() {
        let c = Counters::default();
        let mut r = Ring::default();
        for i in 0..6 {
            let verb = if i % 2 == 0 {
                Verb::Privmsg
            } else {
                Verb::Notice
            };
            r.push(msg(i, verb, None), 100, &c);
        }
        let only_privmsg = |e: &Entry| e.kind == Kind::Privmsg;
        assert_eq!(
            ids(&r.select(&Query::Latest(None), 2, only_privmsg)),
            ["id2", "id4"]
        );
        // A msgid of an invisible entry still anchors the selection.
        assert_eq!(
            ids(&r.select(&Query::After(id(1)), 5, only_privmsg)),
            ["id2", "id4"]
        );
        assert_eq!(r.latest(only_privmsg).map(Entry::msgid), Some("id4"));
    }

    #[test]
    fn bounded_by_lines_and_age_and_counted() {
        let c = Counters::default();
        let mut r = Ring::default();
        for i in 0..50 {
            let mut e = msg(i, Verb::Privmsg, None);
            e.at = i as u32;
            r.push(e, 10, &c);
        }
        assert_eq!(c.get().0, 10);
        assert_eq!(sel(&r, Query::Latest(None), 100), range(40, 50));
        r.trim(8, &c);
        assert_eq!(sel(&r, Query::Latest(None), 100), range(42, 50));
        r.expire(55, 10, &c);
        assert_eq!(sel(&r, Query::Latest(None), 100), range(46, 50));
        assert!(r.remove("id47", &c).is_some() && r.remove("id47", &c).is_none());
        assert_eq!(c.get().0, 3);
        r.clear(&c);
        assert_eq!(c.get(), (0, 0));
    }

    /// A multiline message counts for its lines: the ring holds no more
    /// lines than plain messages would, and its newest entry always stays.
    #[test]
    fn a_multiline_entry_counts_for_its_lines() {
        let multi = |id: &str, n: usize| {
            let e = Event::Multiline {
                verb: Verb::Privmsg,
                source: "a!u@h".into(),
                target: "#c".into(),
                body: Multiline {
                    lines: (0..n)
                        .map(|i| MultilineLine {
                            concat: false,
                            text: format!("line {i}"),
                        })
                        .collect(),
                },
                client_tags: None,
                msgid: id.into(),
                account: None,
                bot: false,
            };
            Entry::of(&e, 0, 7, 0, id).unwrap()
        };
        let c = Counters::default();
        let mut r = Ring::default();
        for i in 0..6 {
            r.push(msg(i, Verb::Privmsg, None), 10, &c);
        }
        r.push(multi("big", 7), 10, &c);
        // 7 + 3 plain lines are 10: the three oldest went.
        assert_eq!(
            sel(&r, Query::Latest(None), 100),
            ["id3", "id4", "id5", "big"]
        );
        let bytes = c.get().1;
        assert!(bytes > 7 * "line 0".len(), "its text is counted: {bytes}");
        r.push(multi("huge", 30), 10, &c);
        assert_eq!(sel(&r, Query::Latest(None), 100), ["huge"], "kept alone");
        r.push(msg(9, Verb::Privmsg, None), 10, &c);
        assert_eq!(sel(&r, Query::Latest(None), 100), ["id9"]);
        assert!(r.remove("id9", &c).is_some());
        assert_eq!((r.lines, c.get()), (0, (0, 0)));
    }
}
