//! The in-memory history of one channel or one conversation: a ring of
//! entries bounded by lines and by age, and the selections CHATHISTORY
//! makes from it (LATEST, BEFORE, AFTER, AROUND, BETWEEN).
//!
//! An entry is what a recipient saw: the msgid and time of the line, its
//! source, account and client-only tags, and its parameters. Its text lives
//! in one shared `Arc<str>` (fields separated by NUL, which no IRC line may
//! contain), so a query copies out reference counts, never text, and builds
//! its lines after the channel lock is released. Nothing here is written
//! anywhere: the ring is memory only, and it goes with its channel.

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use super::{ClientId, Event, Verb};

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Privmsg,
    Notice,
    Tagmsg,
    Join,
    Part,
    Kick,
    Topic,
    Quit,
    Nick,
}

impl Kind {
    /// PRIVMSG and NOTICE: what a client without draft/event-playback sees.
    pub fn is_message(self) -> bool {
        matches!(self, Kind::Privmsg | Kind::Notice)
    }

    /// What REDACT may remove.
    pub fn is_redactable(self) -> bool {
        matches!(self, Kind::Privmsg | Kind::Notice | Kind::Tagmsg)
    }
}

const BOT: u8 = 1;
const HAS_TEXT: u8 = 2;

/// Fields of `data`, in order.
const MSGID: usize = 0;
const SOURCE: usize = 1;
const ACCOUNT: usize = 2;
const TAGS: usize = 3;
const TARGET: usize = 4;
const PARAM: usize = 5;
const TEXT: usize = 6;

/// One line of history. Cloning it copies a reference count.
#[derive(Clone)]
pub struct Entry {
    /// Unix milliseconds: the line's server-time.
    pub time_ms: u64,
    /// The client that sent it (0 for a service): its own to redact.
    pub sender: ClientId,
    /// msgid, source, account, client tags, target, param, text; NUL between.
    data: Arc<str>,
    /// Seconds since the history epoch on tokio's clock (`max_age`).
    at: u32,
    pub kind: Kind,
    flags: u8,
}

impl std::fmt::Debug for Entry {
    /// Never the text: a debug print must not leak what was said.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("kind", &self.kind)
            .field("time_ms", &self.time_ms)
            .finish_non_exhaustive()
    }
}

impl Entry {
    /// The entry for an event, or None for events history does not keep
    /// (STATUSMSG, typing notifications, anything but the kinds above).
    pub fn of(event: &Event, time_ms: u64, sender: ClientId, at: u32, msgid: &str) -> Option<Self> {
        let none = "";
        let (kind, account, tags, target, param, text, bot) = match event {
            Event::Message {
                verb,
                target,
                text,
                client_tags,
                account,
                bot,
                ..
            } => {
                let kind = match verb {
                    Verb::Privmsg => Kind::Privmsg,
                    Verb::Notice => Kind::Notice,
                    // A TAGMSG is kept when it says something lasting (a
                    // reaction, a reply), not when it only says "typing".
                    Verb::Tagmsg if client_tags.as_deref().is_some_and(lasting_tags) => {
                        Kind::Tagmsg
                    }
                    Verb::Tagmsg => return None,
                };
                if target.starts_with(['@', '+']) {
                    return None;
                }
                let tags = client_tags.as_deref().unwrap_or(none);
                (
                    kind,
                    account.as_deref(),
                    tags,
                    target.as_str(),
                    none,
                    text.as_deref(),
                    *bot,
                )
            }
            Event::Joined {
                channel,
                account,
                realname,
                ..
            } => (
                Kind::Join,
                account.as_deref(),
                none,
                channel.as_str(),
                none,
                Some(realname.as_str()),
                false,
            ),
            Event::Parted {
                channel, reason, ..
            } => (
                Kind::Part,
                None,
                none,
                channel.as_str(),
                none,
                reason.as_deref(),
                false,
            ),
            Event::Kicked {
                channel,
                victim,
                reason,
                ..
            } => (
                Kind::Kick,
                None,
                none,
                channel.as_str(),
                victim.as_str(),
                Some(reason.as_str()),
                false,
            ),
            Event::TopicSet { channel, text, .. } => (
                Kind::Topic,
                None,
                none,
                channel.as_str(),
                none,
                Some(text.as_str()),
                false,
            ),
            Event::Quit { reason, .. } => (
                Kind::Quit,
                None,
                none,
                none,
                none,
                Some(reason.as_str()),
                false,
            ),
            Event::NickChanged { nick, .. } => {
                (Kind::Nick, None, none, none, nick.as_str(), None, false)
            }
            _ => return None,
        };
        let source = match event {
            Event::Message { source, .. }
            | Event::Joined { source, .. }
            | Event::Parted { source, .. }
            | Event::Kicked { source, .. }
            | Event::TopicSet { source, .. }
            | Event::Quit { source, .. }
            | Event::NickChanged { source, .. } => source.as_str(),
            _ => return None,
        };
        let fields = [
            msgid,
            source,
            account.unwrap_or(""),
            tags,
            target,
            param,
            text.unwrap_or(""),
        ];
        let mut data = String::with_capacity(fields.iter().map(|f| f.len() + 1).sum());
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                data.push('\0');
            }
            // No IRC line carries a NUL (the session refuses them); be safe anyway.
            data.extend(f.chars().map(|c| if c == '\0' { ' ' } else { c }));
        }
        let flags = if bot { BOT } else { 0 } | if text.is_some() { HAS_TEXT } else { 0 };
        Some(Entry {
            time_ms,
            sender,
            data: Arc::from(data),
            at,
            kind,
            flags,
        })
    }

    fn field(&self, i: usize) -> &str {
        self.data.split('\0').nth(i).unwrap_or("")
    }

    pub fn msgid(&self) -> &str {
        self.field(MSGID)
    }

    pub fn source(&self) -> &str {
        self.field(SOURCE)
    }

    /// The sender's nick, from its `nick!user@host`.
    pub fn source_nick(&self) -> &str {
        self.source().split('!').next().unwrap_or("")
    }

    pub fn account(&self) -> Option<&str> {
        Some(self.field(ACCOUNT)).filter(|a| !a.is_empty())
    }

    pub fn target(&self) -> &str {
        self.field(TARGET)
    }

    /// The event as it was announced, to be made into its line again.
    pub fn event(&self) -> Event {
        let s = |i| self.field(i).to_string();
        let text = (self.flags & HAS_TEXT != 0).then(|| s(TEXT));
        let source = s(SOURCE);
        match self.kind {
            Kind::Privmsg | Kind::Notice | Kind::Tagmsg => Event::Message {
                verb: match self.kind {
                    Kind::Privmsg => Verb::Privmsg,
                    Kind::Notice => Verb::Notice,
                    _ => Verb::Tagmsg,
                },
                source,
                target: s(TARGET),
                text,
                client_tags: Some(s(TAGS)).filter(|t| !t.is_empty()),
                msgid: s(MSGID),
                account: self.account().map(str::to_string),
                bot: self.flags & BOT != 0,
                relay: None,
            },
            Kind::Join => Event::Joined {
                channel: s(TARGET),
                source,
                account: self.account().map(str::to_string),
                realname: text.unwrap_or_default(),
            },
            Kind::Part => Event::Parted {
                channel: s(TARGET),
                source,
                reason: text,
            },
            Kind::Kick => Event::Kicked {
                channel: s(TARGET),
                source,
                victim: s(PARAM),
                reason: text.unwrap_or_default(),
            },
            Kind::Topic => Event::TopicSet {
                channel: s(TARGET),
                source,
                text: text.unwrap_or_default(),
            },
            Kind::Quit => Event::Quit {
                source,
                reason: text.unwrap_or_default(),
            },
            Kind::Nick => Event::NickChanged {
                source,
                nick: s(PARAM),
            },
        }
    }

    /// The memory this entry holds: its slot and its shared text.
    fn weight(&self) -> usize {
        std::mem::size_of::<Entry>() + 2 * std::mem::size_of::<usize>() + self.data.len()
    }
}

/// Client-only tags worth keeping: anything but typing notifications.
fn lasting_tags(tags: &str) -> bool {
    tags.split(';').any(|t| {
        let name = t.split('=').next().unwrap_or("");
        !matches!(name, "+typing" | "+draft/typing" | "")
    })
}

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

/// A ring of entries, oldest first. Callers keep [`Counters`] true by
/// passing them to every change, and [`Ring::clear`] one before it goes
/// (a channel's ring goes with the channel: `drop_if_empty`,
/// `destroy_channel`).
#[derive(Debug, Default)]
pub struct Ring {
    entries: VecDeque<Entry>,
}

impl Ring {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends `e`, dropping the oldest beyond `lines`.
    pub fn push(&mut self, e: Entry, lines: usize, counters: &Counters) {
        if self.entries.capacity() == 0 {
            // Most channels say little: no room for four to begin with.
            self.entries.reserve_exact(1);
        }
        counters.add(&e);
        self.entries.push_back(e);
        self.trim(lines, counters);
    }

    /// Drops the oldest beyond `lines` (after a rehash lowered it).
    pub fn trim(&mut self, lines: usize, counters: &Counters) {
        while self.entries.len() > lines.max(1) {
            if let Some(old) = self.entries.pop_front() {
                counters.sub(&old);
            }
        }
    }

    /// Drops the entries older than `max_age` seconds at `now` (seconds
    /// since the epoch), and gives back memory once mostly empty.
    pub fn expire(&mut self, now: u32, max_age: u32, counters: &Counters) {
        while let Some(e) = self.entries.front() {
            if now.saturating_sub(e.at) < max_age {
                break;
            }
            if let Some(old) = self.entries.pop_front() {
                counters.sub(&old);
            }
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
    }

    pub fn find(&self, msgid: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.msgid() == msgid)
    }

    pub fn remove(&mut self, msgid: &str, counters: &Counters) -> Option<Entry> {
        let pos = self.entries.iter().rposition(|e| e.msgid() == msgid)?;
        let e = self.entries.remove(pos)?;
        counters.sub(&e);
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

    /// The slot of an entry stays small: its text is one shared allocation.
    #[test]
    fn an_entry_slot_is_forty_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 40);
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

    #[test]
    fn entries_give_back_their_event() {
        let e = msg(1, Verb::Tagmsg, Some("+draft/react=x"));
        assert_eq!(e.kind, Kind::Tagmsg);
        match e.event() {
            Event::Message {
                client_tags, text, ..
            } => {
                assert_eq!(client_tags.as_deref(), Some("+draft/react=x"));
                assert_eq!(text, None);
            }
            other => panic!("{other:?}"),
        }
        // Typing notifications and STATUSMSG are not kept.
        let typing = Event::Message {
            verb: Verb::Tagmsg,
            source: "a!u@h".into(),
            target: "#c".into(),
            text: None,
            client_tags: Some("+typing=active".into()),
            msgid: "t".into(),
            account: None,
            bot: false,
            relay: None,
        };
        assert!(Entry::of(&typing, 0, 1, 0, "t").is_none());
        let part = Event::Parted {
            channel: "#c".into(),
            source: "a!u@h".into(),
            reason: None,
        };
        let e = Entry::of(&part, 5, 1, 0, "p").unwrap();
        assert!(matches!(e.event(), Event::Parted { reason: None, .. }));
        assert_eq!((e.msgid(), e.source_nick()), ("p", "a"));
        assert!(!format!("{e:?}").contains("a!u@h"));
    }
}
