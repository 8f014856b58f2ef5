//! One entry of history: what a recipient saw, packed in one shared
//! `Arc<str>` (msgid, source, account, client tags, target, param, text;
//! NUL between, which no IRC line may contain), so a query copies out
//! reference counts, never text. [`Entry::of`] packs an event and
//! [`Entry::event`] gives it back, to be made into its line again.
//!
//! A draft/multiline message is one entry: its lines in the text field,
//! each after a line feed (a new line) or a carriage return (a
//! `draft/multiline-concat` line), characters no line may carry. A
//! RELAYMSG keeps the relayer's nick in the param field, for the
//! `draft/relaymsg` tag on replay.

use std::sync::Arc;

use crate::state::{ClientId, Event, Multiline, MultilineLine, Verb};

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
/// A draft/multiline message: the text holds its lines.
const MULTILINE: u8 = 4;
/// Its first line carries `draft/multiline-concat`.
const FIRST_CONCAT: u8 = 8;

/// Separators of a multiline message's lines in the text field.
const NEW_LINE: char = '\n';
const CONCAT_LINE: char = '\r';

/// Fields of `data`, in order.
const MSGID: usize = 0;
const SOURCE: usize = 1;
const ACCOUNT: usize = 2;
const TAGS: usize = 3;
const TARGET: usize = 4;
const PARAM: usize = 5;
const TEXT: usize = 6;

/// One entry of history. Cloning it copies a reference count.
#[derive(Clone)]
pub struct Entry {
    /// Unix milliseconds: the line's server-time.
    pub time_ms: u64,
    /// The client that sent it (0 for a service): its own to redact.
    pub sender: ClientId,
    /// msgid, source, account, client tags, target, param, text; NUL between.
    data: Arc<str>,
    /// Seconds since the history epoch on tokio's clock (`max_age`).
    pub(super) at: u32,
    /// The lines it counts for against `[history] lines`: 1, or a
    /// multiline message's lines.
    lines: u16,
    pub kind: Kind,
    flags: u8,
}

impl std::fmt::Debug for Entry {
    /// Never the text: a debug print must not leak what was said.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("kind", &self.kind)
            .field("time_ms", &self.time_ms)
            .field("lines", &self.lines)
            .finish_non_exhaustive()
    }
}

/// The lines of a multiline message in one text field.
fn pack(body: &Multiline) -> String {
    let mut out = String::with_capacity(body.len_bytes() + 1);
    for (i, l) in body.lines.iter().enumerate() {
        if i > 0 {
            out.push(if l.concat { CONCAT_LINE } else { NEW_LINE });
        }
        // No line carries CR or LF (the codec ends lines there); be safe anyway.
        out.extend(l.text.chars().map(|c| match c {
            NEW_LINE | CONCAT_LINE => ' ',
            c => c,
        }));
    }
    out
}

/// The lines packed by [`pack`]; the first is concat per `first_concat`.
fn unpack(text: &str, first_concat: bool) -> Multiline {
    let mut lines = Vec::new();
    let mut concat = first_concat;
    let mut rest = text;
    loop {
        let (line, next) = match rest.find([NEW_LINE, CONCAT_LINE]) {
            Some(i) => (
                &rest[..i],
                Some((rest.as_bytes()[i] == b'\r', &rest[i + 1..])),
            ),
            None => (rest, None),
        };
        lines.push(MultilineLine {
            concat,
            text: line.to_string(),
        });
        let Some((c, r)) = next else {
            break;
        };
        concat = c;
        rest = r;
    }
    Multiline { lines }
}

impl Entry {
    /// The entry for an event, or None for events history does not keep
    /// (STATUSMSG, typing notifications, anything but the kinds above).
    pub fn of(event: &Event, time_ms: u64, sender: ClientId, at: u32, msgid: &str) -> Option<Self> {
        let none = "";
        let packed = match event {
            Event::Multiline { body, .. } => pack(body),
            _ => String::new(),
        };
        let mut flags = 0;
        let mut lines = 1;
        let (kind, account, tags, target, param, text, bot) = match event {
            Event::Message {
                verb,
                target,
                text,
                client_tags,
                account,
                bot,
                relay,
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
                    relay.as_deref().unwrap_or(none),
                    text.as_deref(),
                    *bot,
                )
            }
            Event::Multiline {
                verb,
                target,
                body,
                client_tags,
                account,
                bot,
                ..
            } => {
                let kind = match verb {
                    Verb::Privmsg => Kind::Privmsg,
                    Verb::Notice => Kind::Notice,
                    Verb::Tagmsg => return None,
                };
                if target.starts_with(['@', '+']) || body.lines.is_empty() {
                    return None;
                }
                flags |= MULTILINE;
                if body.lines[0].concat {
                    flags |= FIRST_CONCAT;
                }
                lines = u16::try_from(body.lines.len()).unwrap_or(u16::MAX);
                (
                    kind,
                    account.as_deref(),
                    client_tags.as_deref().unwrap_or(none),
                    target.as_str(),
                    none,
                    Some(packed.as_str()),
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
            | Event::Multiline { source, .. }
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
        flags |= if bot { BOT } else { 0 } | if text.is_some() { HAS_TEXT } else { 0 };
        Some(Entry {
            time_ms,
            sender,
            data: Arc::from(data),
            at,
            lines,
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

    /// The lines this entry counts for against the ring's bound.
    pub fn lines(&self) -> usize {
        usize::from(self.lines.max(1))
    }

    /// The event as it was announced, to be made into its line again.
    pub fn event(&self) -> Event {
        let s = |i| self.field(i).to_string();
        let text = (self.flags & HAS_TEXT != 0).then(|| s(TEXT));
        let source = s(SOURCE);
        let verb = match self.kind {
            Kind::Privmsg => Verb::Privmsg,
            Kind::Notice => Verb::Notice,
            _ => Verb::Tagmsg,
        };
        let client_tags = Some(s(TAGS)).filter(|t| !t.is_empty());
        match self.kind {
            Kind::Privmsg | Kind::Notice if self.flags & MULTILINE != 0 => Event::Multiline {
                verb,
                source,
                target: s(TARGET),
                body: unpack(self.field(TEXT), self.flags & FIRST_CONCAT != 0),
                client_tags,
                msgid: s(MSGID),
                account: self.account().map(str::to_string),
                bot: self.flags & BOT != 0,
            },
            Kind::Privmsg | Kind::Notice | Kind::Tagmsg => Event::Message {
                verb,
                source,
                target: s(TARGET),
                text,
                client_tags,
                msgid: s(MSGID),
                account: self.account().map(str::to_string),
                bot: self.flags & BOT != 0,
                relay: Some(s(PARAM)).filter(|r| !r.is_empty()),
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
    pub(super) fn weight(&self) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn message(verb: Verb, tags: Option<&str>, relay: Option<&str>) -> Event {
        Event::Message {
            verb,
            source: "a!u@h".into(),
            target: "#c".into(),
            text: (verb != Verb::Tagmsg).then(|| "text".to_string()),
            client_tags: tags.map(str::to_string),
            msgid: "id".into(),
            account: None,
            bot: false,
            relay: relay.map(str::to_string),
        }
    }

    /// The slot of an entry stays small: its text is one shared allocation.
    #[test]
    fn an_entry_slot_is_forty_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 40);
    }

    #[test]
    fn entries_give_back_their_event() {
        let e = Entry::of(
            &message(Verb::Tagmsg, Some("+draft/react=x"), None),
            0,
            1,
            0,
            "id",
        )
        .unwrap();
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
        let typing = message(Verb::Tagmsg, Some("+typing=active"), None);
        assert!(Entry::of(&typing, 0, 1, 0, "t").is_none());
        let mut status = message(Verb::Privmsg, None, None);
        if let Event::Message { target, .. } = &mut status {
            *target = "@#c".into();
        }
        assert!(Entry::of(&status, 0, 1, 0, "s").is_none());
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

    #[test]
    fn a_relayed_message_keeps_its_relayer() {
        let e = Entry::of(&message(Verb::Privmsg, None, Some("bot")), 0, 1, 0, "r").unwrap();
        assert_eq!(e.lines(), 1);
        assert!(matches!(e.event(), Event::Message { relay: Some(r), .. } if r == "bot"));
        let plain = Entry::of(&message(Verb::Privmsg, None, None), 0, 1, 0, "p").unwrap();
        assert!(matches!(plain.event(), Event::Message { relay: None, .. }));
    }

    #[test]
    fn a_multiline_message_is_one_entry_with_its_lines() {
        let line = |concat, text: &str| MultilineLine {
            concat,
            text: text.into(),
        };
        for lines in [
            vec![
                line(false, "one"),
                line(false, ""),
                line(true, "two"),
                line(false, "three"),
            ],
            vec![line(true, "first concat"), line(true, " more")],
            vec![line(false, "")],
        ] {
            let body = Multiline { lines };
            let event = Event::Multiline {
                verb: Verb::Notice,
                source: "a!u@h".into(),
                target: "#c".into(),
                body: body.clone(),
                client_tags: Some("+draft/reply=x".into()),
                msgid: "m".into(),
                account: Some("acc".into()),
                bot: true,
            };
            let e = Entry::of(&event, 9, 1, 0, "m").unwrap();
            assert_eq!(
                (e.kind, e.lines(), e.msgid()),
                (Kind::Notice, body.lines.len(), "m")
            );
            assert!(e.kind.is_message() && e.kind.is_redactable());
            match e.event() {
                Event::Multiline {
                    verb,
                    body: back,
                    client_tags,
                    account,
                    bot,
                    ..
                } => {
                    assert_eq!(back, body);
                    assert_eq!(verb, Verb::Notice);
                    assert_eq!(client_tags.as_deref(), Some("+draft/reply=x"));
                    assert_eq!((account.as_deref(), bot), (Some("acc"), true));
                }
                other => panic!("{other:?}"),
            }
        }
        // To a STATUSMSG target: not kept, as a line would not be.
        let status = Event::Multiline {
            verb: Verb::Privmsg,
            source: "a!u@h".into(),
            target: "+#c".into(),
            body: Multiline {
                lines: vec![line(false, "x")],
            },
            client_tags: None,
            msgid: "s".into(),
            account: None,
            bot: false,
        };
        assert!(Entry::of(&status, 0, 1, 0, "s").is_none());
    }
}
