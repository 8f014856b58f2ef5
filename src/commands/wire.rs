//! A line for many recipients, serialized once per distinct variant.
//!
//! Which form a recipient gets depends on four of its capabilities:
//! server-time, message-tags and account-tag for the tags, and one that
//! picks an alternative body (extended-join's JOIN). So a line has at most
//! sixteen wire forms; [`Wire::for_caps`] builds each on first use and hands
//! out the same `Bytes` to every recipient that needs it: a message to a
//! thousand members costs a handful of serializations, not a thousand.

use std::sync::OnceLock;

use bytes::Bytes;

use crate::proto::{caps::Cap, line::add_tags, message::escape_tag_value, time};

pub struct Wire {
    /// The line without tags, CRLF included.
    body: Bytes,
    /// A body for recipients with this capability bit instead.
    alt: Option<(u32, Bytes)>,
    time: String,
    msgid: Option<String>,
    account: Option<String>,
    bot: bool,
    /// Client-only tags (`+key=value;...`), still escaped as received.
    client_tags: Option<String>,
    forms: [OnceLock<Bytes>; 16],
}

impl Wire {
    pub fn new(body: Bytes, unix_ms: u64) -> Self {
        Wire {
            body,
            alt: None,
            time: time::server_time(unix_ms),
            msgid: None,
            account: None,
            bot: false,
            client_tags: None,
            forms: Default::default(),
        }
    }

    /// Recipients with `cap` get `body` instead.
    pub fn alt(mut self, cap: Cap, body: Bytes) -> Self {
        self.alt = Some((cap.bit(), body));
        self
    }

    pub fn msgid(mut self, id: String) -> Self {
        self.msgid = Some(id);
        self
    }

    pub fn account(mut self, account: Option<String>) -> Self {
        self.account = account;
        self
    }

    pub fn bot(mut self, bot: bool) -> Self {
        self.bot = bot;
        self
    }

    pub fn client_tags(mut self, tags: Option<String>) -> Self {
        self.client_tags = tags.filter(|t| !t.is_empty());
        self
    }

    /// The wire form for a client with capability set `caps`.
    pub fn for_caps(&self, caps: u32) -> Bytes {
        let alt = self.alt.as_ref().is_some_and(|(bit, _)| caps & bit != 0);
        let idx = usize::from(caps & Cap::ServerTime.bit() != 0)
            | usize::from(caps & Cap::MessageTags.bit() != 0) << 1
            | usize::from(caps & Cap::AccountTag.bit() != 0) << 2
            | usize::from(alt) << 3;
        self.forms[idx].get_or_init(|| self.build(idx)).clone()
    }

    fn build(&self, idx: usize) -> Bytes {
        let mut tags = String::new();
        let mut add = |t: &str| {
            if !tags.is_empty() {
                tags.push(';');
            }
            tags.push_str(t);
        };
        if idx & 1 != 0 {
            add(&format!("time={}", self.time));
        }
        if idx & 2 != 0 {
            if let Some(id) = &self.msgid {
                add(&format!("msgid={id}"));
            }
            if self.bot {
                add("bot");
            }
            if let Some(ct) = &self.client_tags {
                add(ct);
            }
        }
        if idx & 4 != 0
            && let Some(a) = &self.account
        {
            let mut v = String::from("account=");
            escape_tag_value(a, &mut v);
            add(&v);
        }
        let body = match (&self.alt, idx & 8 != 0) {
            (Some((_, alt)), true) => alt,
            _ => &self.body,
        };
        add_tags(&tags, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_serialization_per_variant() {
        let e = Wire::new(Bytes::from_static(b":a!b@c PRIVMSG #x :hi\r\n"), 0)
            .msgid("m1".into())
            .client_tags(Some("+draft/react=x".into()))
            .account(Some("acc".into()));
        let plain = e.for_caps(0);
        assert_eq!(&plain[..], b":a!b@c PRIVMSG #x :hi\r\n");
        let tagged = e.for_caps(Cap::MessageTags.bit() | Cap::ServerTime.bit());
        assert_eq!(
            &tagged[..],
            b"@time=1970-01-01T00:00:00.000Z;msgid=m1;+draft/react=x :a!b@c PRIVMSG #x :hi\r\n"
        );
        // The same buffer is shared between recipients of a variant.
        let again =
            e.for_caps(Cap::MessageTags.bit() | Cap::ServerTime.bit() | Cap::EchoMessage.bit());
        assert_eq!(tagged.as_ptr(), again.as_ptr());
        assert!(
            e.for_caps(Cap::AccountTag.bit())
                .starts_with(b"@account=acc ")
        );
    }

    #[test]
    fn alternative_body_by_capability() {
        let e = Wire::new(Bytes::from_static(b":a JOIN #x\r\n"), 0).alt(
            Cap::ExtendedJoin,
            Bytes::from_static(b":a JOIN #x * :real\r\n"),
        );
        assert_eq!(&e.for_caps(0)[..], b":a JOIN #x\r\n");
        assert_eq!(
            &e.for_caps(Cap::ExtendedJoin.bit())[..],
            b":a JOIN #x * :real\r\n"
        );
    }
}
