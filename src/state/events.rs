//! What a State operation did, as typed events, and who is to hear of it.
//!
//! State operations check, apply and return [`Delivery`]s; they never build
//! an IRC line. One place (`commands::deliver`) turns each event into the
//! wire forms its recipients need, serialized once per variant. A cluster
//! backend will publish the same events to other nodes and apply theirs.

use std::time::Duration;

use super::client::ClientRef;
use crate::proto::caps::Cap;

/// PRIVMSG, NOTICE or TAGMSG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Privmsg,
    Notice,
    Tagmsg,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Privmsg => "PRIVMSG",
            Verb::Notice => "NOTICE",
            Verb::Tagmsg => "TAGMSG",
        }
    }
}

/// The lines of a draft/multiline message as the sender composed them:
/// each line's text, and whether it continues the previous one with no
/// line feed (`draft/multiline-concat`). History keeps it as one value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Multiline {
    pub lines: Vec<MultilineLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultilineLine {
    pub concat: bool,
    pub text: String,
}

impl Multiline {
    /// The combined message: lines joined by line feeds, concat lines
    /// joined to the previous one directly.
    pub fn combined(&self) -> String {
        let mut out = String::new();
        for (i, l) in self.lines.iter().enumerate() {
            if i > 0 && !l.concat {
                out.push('\n');
            }
            out.push_str(&l.text);
        }
        out
    }

    /// Bytes of the combined message (what `max-bytes` counts).
    pub fn len_bytes(&self) -> usize {
        self.lines
            .iter()
            .enumerate()
            .map(|(i, l)| l.text.len() + usize::from(i > 0 && !l.concat))
            .sum()
    }
}

/// A change to shared state, or a message, as other clients learn of it.
/// `source` is the actor's `nick!user@host` at the time of the event.
#[derive(Debug, Clone)]
pub enum Event {
    Joined {
        channel: String,
        source: String,
        account: Option<String>,
        realname: String,
    },
    Parted {
        channel: String,
        source: String,
        reason: Option<String>,
    },
    Kicked {
        channel: String,
        source: String,
        victim: String,
        reason: String,
    },
    Quit {
        source: String,
        reason: String,
    },
    NickChanged {
        source: String,
        nick: String,
    },
    ModeChanged {
        channel: String,
        source: String,
        modes: String,
        args: Vec<String>,
    },
    TopicSet {
        channel: String,
        source: String,
        text: String,
    },
    Invited {
        source: String,
        /// The inviter's account (account-tag).
        account: Option<String>,
        target: String,
        channel: String,
    },
    AwayChanged {
        source: String,
        text: Option<String>,
    },
    RealnameChanged {
        source: String,
        realname: String,
    },
    /// Logged in to an account (Some) or out (None): account-notify.
    AccountChanged {
        source: String,
        account: Option<String>,
    },
    Message {
        verb: Verb,
        source: String,
        /// As the sender wrote it, STATUSMSG prefix included.
        target: String,
        /// None for TAGMSG.
        text: Option<String>,
        /// Client-only tags (`+key=value;...`), still escaped.
        client_tags: Option<String>,
        msgid: String,
        account: Option<String>,
        bot: bool,
        /// RELAYMSG: the nick of the client that relayed it under `source`
        /// (the `draft/relaymsg` tag).
        relay: Option<String>,
    },
    /// A draft/multiline message: one message (one msgid) made of lines.
    Multiline {
        verb: Verb,
        source: String,
        /// As the sender wrote it, STATUSMSG prefix included.
        target: String,
        body: Multiline,
        /// Client-only tags of the opening BATCH, still escaped.
        client_tags: Option<String>,
        msgid: String,
        account: Option<String>,
        bot: bool,
    },
    /// draft/read-marker: the account's last read time of `target` moved.
    MarkRead {
        target: String,
        /// `timestamp=...`.
        timestamp: String,
    },
    Wallops {
        source: String,
        text: String,
    },
    /// draft/message-redaction: `msgid` in `target` was deleted.
    Redacted {
        source: String,
        account: Option<String>,
        target: String,
        msgid: String,
        reason: Option<String>,
    },
    Killed {
        source: String,
        victim: String,
        reason: String,
    },
    /// An ephemeral channel is about to self-destruct (from the server).
    IdleWarning {
        channel: String,
        left: Duration,
    },
    /// A channel was destroyed: every member is kicked by the server.
    ChannelDestroyed {
        channel: String,
        reason: String,
    },
    /// A connection that had not registered lost its nick to one that
    /// claimed it (433 "Nickname overruled.").
    NickOverruled {
        nick: String,
    },
    /// A server ban (K-line, D-line) ends the recipient's connection: 465
    /// with the reason users see.
    Banned {
        reason: String,
    },
    /// A server NOTICE to operators (ban audit).
    OperNotice {
        text: String,
    },
    /// MONITOR: a watched nick came online (730) or went offline (731).
    MonitorOnline {
        prefix: String,
    },
    MonitorOffline {
        nick: String,
    },
}

/// An event with its audience, decided by State under the locks that made
/// the change.
#[derive(Debug)]
pub struct Delivery {
    pub event: Event,
    /// Unix milliseconds of the event (server-time).
    pub time_ms: u64,
    /// The other local clients that hear of it (never the actor).
    pub to: Vec<ClientRef>,
    /// Only recipients with this capability hear of it (away-notify...).
    pub only_with: Option<Cap>,
    /// The actor gets its own copy, in its response (so labeled-response
    /// wraps it).
    pub echo: bool,
    /// The msgid of an event other than a message (those carry their own),
    /// given when the history keeps it.
    pub msgid: Option<String>,
}

impl Delivery {
    pub fn new(event: Event, to: Vec<ClientRef>) -> Self {
        Delivery {
            event,
            time_ms: super::unix_ms(),
            to,
            only_with: None,
            echo: false,
            msgid: None,
        }
    }

    pub fn echo(mut self, echo: bool) -> Self {
        self.echo = echo;
        self
    }

    pub fn only_with(mut self, cap: Cap) -> Self {
        self.only_with = Some(cap);
        self
    }
}
