//! The wire forms of a draft/multiline message ([`Event::Multiline`]):
//! for recipients with `draft/multiline` and `batch`, one `draft/multiline`
//! batch (the msgid and other tags on its BATCH line, the lines inside
//! with their `draft/multiline-concat` tags); for the rest, the non-blank
//! lines as plain PRIVMSG/NOTICE, the msgid on the first only. Like
//! [`Wire`], each form is built once and shared by every recipient of it.
//! A line too long for 512 bytes with the source recipients see is split,
//! its continuations marked concat, so the message arrives whole.
//! CHATHISTORY replays a kept multiline message through here too: the
//! batch then nests in the `chathistory` batch (the BATCH lines carry the
//! outer batch's tag, the lines inside only their own).

use std::sync::OnceLock;

use bytes::Bytes;

use super::{response::Response, wire::Wire};
use crate::{
    proto::{
        Line,
        caps::Cap,
        line::{MAX_LINE, add_tags},
        time,
    },
    state::{ClientRef, Delivery, Event, Multiline},
};

const CONCAT_TAG: &str = "draft/multiline-concat";

pub struct MultiWire<'a> {
    source: &'a str,
    verb: &'static str,
    target: &'a str,
    /// The lines as sent, each cut to fit one wire line: (concat, text).
    parts: Vec<(bool, &'a str)>,
    id: String,
    start: Wire,
    /// The lines inside the batch, without and with a `time` tag.
    inner: [OnceLock<Vec<Bytes>>; 2],
    end: Bytes,
    fallback: OnceLock<Vec<Wire>>,
    at: u64,
    msgid: &'a str,
    account: &'a Option<String>,
    bot: bool,
    client_tags: &'a Option<String>,
}

/// Splits each line of `body` into pieces of at most `room` bytes (on a
/// space where one is near the end, else on a character boundary); the
/// pieces after the first are concat.
pub fn fit(body: &Multiline, room: usize) -> Vec<(bool, &str)> {
    let room = room.max(16);
    let mut out = Vec::with_capacity(body.lines.len());
    for l in &body.lines {
        let mut rest = l.text.as_str();
        let mut concat = l.concat;
        while rest.len() > room {
            let mut cut = room;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            // Keep the space at the end of the line, as the spec suggests.
            if let Some(sp) = rest[..cut].rfind(' ')
                && sp + 1 > cut / 2
            {
                cut = sp + 1;
            }
            out.push((concat, &rest[..cut]));
            rest = &rest[cut..];
            concat = true;
        }
        out.push((concat, rest));
    }
    out
}

impl<'a> MultiWire<'a> {
    /// None for any event but [`Event::Multiline`].
    pub fn new(d: &'a Delivery) -> Option<Self> {
        Self::of(&d.event, d.time_ms)
    }

    /// The wire forms of a multiline event sent at `at` (unix ms): a live
    /// delivery, or an entry of history replayed.
    pub fn of(event: &'a Event, at: u64) -> Option<Self> {
        let Event::Multiline {
            verb,
            source,
            target,
            body,
            client_tags,
            msgid,
            account,
            bot,
        } = event
        else {
            return None;
        };
        let verb = verb.as_str();
        // ":source VERB target :" and CRLF around each text.
        let room = MAX_LINE.saturating_sub(source.len() + verb.len() + target.len() + 7);
        let id = super::response::batch_id();
        let start = Line::new(Some(source), "BATCH")
            .arg(&format!("+{id}"))
            .arg("draft/multiline")
            .arg(target)
            .build();
        let end = Line::new(Some(source), "BATCH")
            .arg(&format!("-{id}"))
            .build();
        Some(MultiWire {
            source,
            verb,
            target,
            parts: fit(body, room),
            start: Wire::new(start, at)
                .msgid(msgid.clone())
                .account(account.clone())
                .bot(*bot)
                .client_tags(client_tags.clone()),
            id,
            inner: Default::default(),
            end,
            fallback: OnceLock::new(),
            at,
            msgid,
            account,
            bot: *bot,
            client_tags,
        })
    }

    fn line(&self, text: &str) -> Bytes {
        Line::new(Some(self.source), self.verb)
            .arg(self.target)
            .text(text)
            .build()
    }

    /// Whether a client with `caps` gets the batch (else the plain lines).
    pub fn batched(caps: u32) -> bool {
        let both = Cap::Multiline.bit() | Cap::Batch.bit();
        caps & both == both
    }

    /// Every line a client with `caps` gets, in order.
    pub fn lines_for(&self, caps: u32) -> Vec<Bytes> {
        if Self::batched(caps) {
            let timed = caps & Cap::ServerTime.bit() != 0;
            let inner = self.inner[usize::from(timed)].get_or_init(|| {
                let time = time::server_time(self.at);
                self.parts
                    .iter()
                    .map(|(concat, text)| {
                        let mut tags = format!("batch={}", self.id);
                        if *concat {
                            tags.push(';');
                            tags.push_str(CONCAT_TAG);
                        }
                        if timed {
                            tags.push_str(";time=");
                            tags.push_str(&time);
                        }
                        add_tags(&tags, &self.line(text))
                    })
                    .collect()
            });
            let mut out = Vec::with_capacity(inner.len() + 2);
            out.push(self.start.for_caps(caps));
            out.extend(inner.iter().cloned());
            out.push(self.end.clone());
            out
        } else {
            let fallback = self.fallback.get_or_init(|| {
                // Blank lines are never sent to clients without the cap.
                let mut first = true;
                self.parts
                    .iter()
                    .filter(|(_, t)| !t.is_empty())
                    .map(|(_, text)| {
                        let mut w = Wire::new(self.line(text), self.at)
                            .account(self.account.clone())
                            .bot(self.bot)
                            .client_tags(self.client_tags.clone());
                        if std::mem::take(&mut first) {
                            w = w.msgid(self.msgid.to_string());
                        }
                        w
                    })
                    .collect()
            });
            fallback.iter().map(|w| w.for_caps(caps)).collect()
        }
    }
}

/// Queues a multiline delivery to its recipients; the actor's copy (when
/// echoed) goes into its response, labeled on the opening BATCH alone.
pub fn deliver(d: &Delivery, actor: Option<(&ClientRef, &mut Response)>) {
    let Some(w) = MultiWire::new(d) else {
        return;
    };
    for r in &d.to {
        for l in w.lines_for(r.caps()) {
            if !r.sendq.push(l) {
                break;
            }
        }
    }
    if d.echo
        && let Some((me, out)) = actor
    {
        let caps = me.caps();
        if MultiWire::batched(caps) {
            out.label_first_line();
        }
        for l in w.lines_for(caps) {
            out.push(l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MultilineLine;

    fn body(lines: &[(bool, &str)]) -> Multiline {
        Multiline {
            lines: lines
                .iter()
                .map(|(c, t)| MultilineLine {
                    concat: *c,
                    text: t.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn long_lines_are_split_into_concat_pieces() {
        let b = body(&[(false, "short"), (false, "aaaa bbbb cccc"), (true, "ééééé")]);
        let parts = fit(&b, 16);
        assert_eq!(parts[0], (false, "short"));
        assert_eq!(parts[1], (false, "aaaa bbbb cccc"));
        assert_eq!(parts[2], (true, "ééééé"));
        let long = body(&[(false, &"word ".repeat(10)), (false, &"é".repeat(20))]);
        let parts = fit(&long, 16);
        assert_eq!(parts[0], (false, "word word word "));
        assert!(parts[1].0 && parts[1].1.starts_with("word"));
        let joined: String = parts.iter().map(|p| p.1).collect();
        assert_eq!(joined, long.lines[0].text.clone() + &long.lines[1].text);
        assert!(parts.iter().all(|p| p.1.len() <= 16));
        // The second line's first piece keeps its own (non-concat) flag.
        let i = parts.iter().position(|p| p.1.starts_with('é')).unwrap();
        assert!(!parts[i].0 && parts[i + 1].0);
    }
}
