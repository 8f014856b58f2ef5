//! The one place where events become IRC lines: each [`Delivery`] from a
//! State operation is serialized once per wire variant and queued to every
//! recipient; the actor's own copy goes into its response buffer, so that
//! labeled-response wraps it. Handlers, the idle driver and teardown all
//! deliver through here.

use bytes::Bytes;

use super::{response::Response, wire::Wire};
use crate::{
    config::format_duration,
    proto::{Line, caps::Cap, line::add_tags, message::escape_tag_value, numerics::*},
    state::{ClientRef, Delivery, Event},
};

/// The shared wire form of a delivery's event.
fn wire(d: &Delivery, server: &str) -> Option<Wire> {
    event_wire(&d.event, d.time_ms, d.msgid.as_deref(), server)
}

/// The shared wire form of an event at `at` (unix ms), or None for events
/// whose line differs per recipient (it names the recipient). CHATHISTORY
/// replays kept events through here too, so a line in history is the line
/// that was sent.
pub fn event_wire(event: &Event, at: u64, msgid: Option<&str>, server: &str) -> Option<Wire> {
    let line = |source: &str, command: &str| Line::new(Some(source), command);
    let w = match event {
        Event::Joined {
            channel,
            source,
            account,
            realname,
        } => {
            let plain = line(source, "JOIN").arg(channel).build();
            let extended = line(source, "JOIN")
                .arg(channel)
                .arg(account.as_deref().unwrap_or("*"))
                .text(realname)
                .build();
            Wire::new(plain, at)
                .alt(Cap::ExtendedJoin, extended)
                .account(account.clone())
        }
        Event::Parted {
            channel,
            source,
            reason,
        } => {
            let mut l = line(source, "PART").arg(channel);
            if let Some(r) = reason {
                l = l.text(r);
            }
            Wire::new(l.build(), at)
        }
        Event::Kicked {
            channel,
            source,
            victim,
            reason,
        } => Wire::new(
            line(source, "KICK")
                .arg(channel)
                .arg(victim)
                .text(reason)
                .build(),
            at,
        ),
        Event::Quit { source, reason } => Wire::new(line(source, "QUIT").text(reason).build(), at),
        Event::NickChanged { source, nick } => {
            Wire::new(line(source, "NICK").text(nick).build(), at)
        }
        Event::ModeChanged {
            channel,
            source,
            modes,
            args,
        } => Wire::new(
            line(source, "MODE")
                .arg(channel)
                .arg(modes)
                .args(args.iter().map(String::as_str))
                .build(),
            at,
        ),
        Event::TopicSet {
            channel,
            source,
            text,
        } => Wire::new(line(source, "TOPIC").arg(channel).text(text).build(), at),
        Event::Invited {
            source,
            account,
            target,
            channel,
        } => Wire::new(line(source, "INVITE").arg(target).arg(channel).build(), at)
            .account(account.clone()),
        Event::AwayChanged { source, text } => {
            let mut l = line(source, "AWAY");
            if let Some(t) = text {
                l = l.text(t);
            }
            Wire::new(l.build(), at)
        }
        Event::RealnameChanged { source, realname } => {
            Wire::new(line(source, "SETNAME").text(realname).build(), at)
        }
        Event::AccountChanged { source, account } => Wire::new(
            line(source, "ACCOUNT")
                .arg(account.as_deref().unwrap_or("*"))
                .build(),
            at,
        ),
        Event::Message {
            verb,
            source,
            target,
            text,
            client_tags,
            msgid,
            account,
            bot,
            relay,
        } => {
            let mut l = line(source, verb.as_str()).arg(target);
            if let Some(t) = text {
                l = l.text(t);
            }
            let body = l.build();
            let w = match relay {
                // draft/relaymsg: the relayer's nick, for clients with the cap.
                Some(relayer) => {
                    let mut tag = String::from("draft/relaymsg=");
                    escape_tag_value(relayer, &mut tag);
                    let tagged = add_tags(&tag, &body);
                    Wire::new(body, at).alt(Cap::Relaymsg, tagged)
                }
                None => Wire::new(body, at),
            };
            w.msgid(msgid.clone())
                .account(account.clone())
                .bot(*bot)
                .client_tags(client_tags.clone())
        }
        Event::MarkRead { target, timestamp } => Wire::new(
            line(server, "MARKREAD").arg(target).arg(timestamp).build(),
            at,
        ),
        Event::Wallops { source, text } => {
            Wire::new(line(source, "WALLOPS").text(text).build(), at)
        }
        Event::Redacted {
            source,
            account,
            target,
            msgid,
            reason,
        } => {
            let mut l = line(source, "REDACT").arg(target).arg(msgid);
            if let Some(r) = reason {
                l = l.text(r);
            }
            Wire::new(l.build(), at).account(account.clone())
        }
        Event::Killed {
            source,
            victim,
            reason,
        } => Wire::new(line(source, "KILL").arg(victim).text(reason).build(), at),
        Event::IdleWarning { channel, left } => {
            let text = format!(
                "{channel} has been idle and self-destructs in {} unless someone speaks.",
                format_duration(std::time::Duration::from_secs(
                    left.as_secs_f64().ceil() as u64
                ))
            );
            Wire::new(line(server, "NOTICE").arg(channel).text(&text).build(), at)
        }
        Event::ChannelDestroyed { .. }
        | Event::Multiline { .. }
        | Event::NickOverruled { .. }
        | Event::Banned { .. }
        | Event::OperNotice { .. }
        | Event::MonitorOnline { .. }
        | Event::MonitorOffline { .. } => {
            return None;
        }
    };
    Some(match msgid {
        Some(id) => w.msgid(id.to_string()),
        None => w,
    })
}

/// The line of a per-recipient event for `to`.
fn personal(d: &Delivery, server: &str, to: &ClientRef) -> Option<Bytes> {
    let nick = to.nick();
    Some(match &d.event {
        Event::ChannelDestroyed { channel, reason } => Line::new(Some(server), "KICK")
            .arg(channel)
            .arg(&nick)
            .text(reason)
            .build(),
        Event::NickOverruled { nick: lost } => Line::new(Some(server), ERR_NICKNAMEINUSE.code)
            .arg(&nick)
            .arg(lost)
            .text("Nickname overruled.")
            .build(),
        Event::MonitorOnline { prefix } => Line::new(Some(server), RPL_MONONLINE.code)
            .arg(&nick)
            .text(prefix)
            .build(),
        Event::MonitorOffline { nick: gone } => Line::new(Some(server), RPL_MONOFFLINE.code)
            .arg(&nick)
            .text(gone)
            .build(),
        Event::Banned { reason } => Line::new(Some(server), ERR_YOUREBANNEDCREEP.code)
            .arg(&nick)
            .text(&format!("You are banned from this server: {reason}"))
            .build(),
        Event::OperNotice { text } => Line::new(Some(server), "NOTICE")
            .arg(&nick)
            .text(&format!("*** {text}"))
            .build(),
        _ => return None,
    })
}

/// Queues `d` to its recipients; the actor's copy (when `d.echo`) goes into
/// `actor`'s response.
pub fn deliver(server: &str, d: &Delivery, actor: Option<(&ClientRef, &mut Response)>) {
    if let Event::Multiline { .. } = d.event {
        return super::multiwire::deliver(d, actor);
    }
    let wants = |c: &ClientRef| d.only_with.is_none_or(|cap| c.has_cap(cap.bit()));
    match wire(d, server) {
        Some(w) => {
            for r in d.to.iter().filter(|r| wants(r)) {
                r.sendq.push(w.for_caps(r.caps()));
            }
            if d.echo
                && let Some((me, out)) = actor
                && wants(me)
            {
                out.push(w.for_caps(me.caps()));
            }
        }
        None => {
            for r in d.to.iter().filter(|r| wants(r)) {
                if let Some(l) = personal(d, server, r) {
                    r.send(l);
                }
            }
        }
    }
}

/// The actor's own copy of `d`, for a line that must be queued at once (the
/// joiner's JOIN, under the channel lock).
pub fn echo_line(server: &str, d: &Delivery, me: &ClientRef) -> Option<Bytes> {
    wire(d, server).map(|w| w.for_caps(me.caps()))
}
