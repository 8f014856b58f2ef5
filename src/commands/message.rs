//! PRIVMSG and NOTICE to channels (with STATUSMSG) and to nicks, and AWAY.
//! Bodies are relayed byte-exact (CTCP included) and never logged.

use crate::{
    proto::{Line, Message, caps::Cap, numerics::*},
    state::{Event, Who, unix_ms},
};

use super::{Ctx, channel::truncate};

// PRIVMSG <target>{,<target>} <text>
pub fn privmsg(ctx: &mut Ctx, msg: &Message) {
    relay(ctx, msg, "PRIVMSG");
}

// NOTICE <target>{,<target>} <text>
pub fn notice(ctx: &mut Ctx, msg: &Message) {
    relay(ctx, msg, "NOTICE");
}

// TAGMSG <target>{,<target>}
pub fn tagmsg(ctx: &mut Ctx, msg: &Message) {
    relay(ctx, msg, "TAGMSG");
}

/// The client-only tags (`+key[=value]`) of a message that CLIENTTAGDENY
/// lets through, still escaped.
fn client_tags(msg: &Message, limits: &crate::config::Limits) -> Option<String> {
    let tags: Vec<&str> = msg
        .tags?
        .split(';')
        .filter(|t| t.starts_with('+') && t.len() > 1)
        .filter(|t| limits.client_tag_allowed(t[1..].split('=').next().unwrap_or("")))
        .collect();
    (!tags.is_empty()).then(|| tags.join(";"))
}

fn relay(ctx: &mut Ctx, msg: &Message, verb: &str) {
    // NOTICE never draws an automatic error reply (RFC 2812 3.3.2).
    let errors = verb != "NOTICE";
    let tagmsg = verb == "TAGMSG";
    let Some(targets) = msg.param(0).filter(|t| !t.is_empty()) else {
        if errors {
            ctx.reply(ERR_NORECIPIENT, &[&format!("No recipient given ({verb})")]);
        }
        return;
    };
    let text = msg.param(1).unwrap_or("");
    if text.is_empty() && !tagmsg {
        if errors {
            ctx.reply(ERR_NOTEXTTOSEND, &["No text to send"]);
        }
        return;
    }
    let client = ctx.client().clone();
    let (prefix, account, bot) = {
        let i = client.info();
        (i.prefix(), i.account.clone(), i.modes.bot)
    };
    let tags = client_tags(msg, &ctx.config.limits);
    let echo = client.has_cap(Cap::EchoMessage.bit());
    if !tagmsg {
        ctx.state.touch_client(&client);
    }
    let max = ctx.config.limits.max_targets;
    let event = |target: &str| {
        let mut line = Line::new(Some(&prefix), verb).arg(target);
        if !tagmsg {
            line = line.text(text);
        }
        Event::new(line.build(), unix_ms())
            .msgid(ctx.state.new_msgid())
            .account(account.clone())
            .bot(bot)
            .client_tags(tags.clone())
    };
    // TAGMSG reaches only those who can see tags.
    let wants = |c: &crate::state::ClientRef| !tagmsg || c.has_cap(Cap::MessageTags.bit());
    for (i, target) in targets.split(',').filter(|t| !t.is_empty()).enumerate() {
        if i >= max {
            if errors {
                ctx.reply(ERR_TOOMANYTARGETS, &[target, "Too many targets"]);
            }
            continue;
        }
        let (status, chan_name) = match target.find('#') {
            Some(p) if p > 0 && target[..p].chars().all(|c| c == '@' || c == '+') => {
                (Some(&target[..p]), &target[p..])
            }
            _ => (None, target),
        };
        if chan_name.starts_with('#') {
            let Some(chan) = ctx.state.find_channel(chan_name) else {
                if errors {
                    ctx.reply(ERR_NOSUCHCHANNEL, &[chan_name, "No such channel"]);
                }
                continue;
            };
            let recipients = {
                let ch = chan.lock().unwrap();
                let info = client.info().clone();
                let who = Who::of(&info, client.ip);
                if !ch.can_speak(client.id, &who, ctx.state.casemap) {
                    Err(ch.name.clone())
                } else {
                    let min_op = status.is_some_and(|s| s.contains('@'));
                    let recipients: Vec<_> = ch
                        .members
                        .iter()
                        .filter(|(id, _)| **id != client.id)
                        .filter(|(_, m)| match status {
                            None => true,
                            Some(_) if min_op => m.op,
                            Some(_) => m.op || m.voice,
                        })
                        .map(|(_, m)| m.client.clone())
                        .collect();
                    Ok((ch.name.clone(), recipients))
                }
            };
            match recipients {
                Err(name) => {
                    if errors {
                        ctx.reply(ERR_CANNOTSENDTOCHAN, &[&name, "Cannot send to channel"]);
                    }
                }
                Ok((name, recipients)) => {
                    let shown = format!("{}{name}", status.unwrap_or(""));
                    let ev = event(&shown);
                    for r in recipients.iter().filter(|r| wants(r)) {
                        r.send_event(&ev);
                    }
                    if echo && wants(&client) {
                        ctx.push(ev.for_caps(client.caps()));
                    }
                    ctx.state.touch(&chan);
                }
            }
        } else {
            let Some(to) = ctx.state.find_nick(target) else {
                if errors {
                    ctx.reply(ERR_NOSUCHNICK, &[target, "No such nick/channel"]);
                }
                continue;
            };
            let (nick, away) = {
                let i = to.info();
                (i.nick.clone(), i.away.clone())
            };
            let ev = event(&nick);
            if wants(&to) {
                to.send_event(&ev);
            }
            if echo && wants(&client) {
                ctx.push(ev.for_caps(client.caps()));
            }
            if let (true, false, Some(away)) = (errors, tagmsg, away) {
                ctx.reply(RPL_AWAY, &[&nick, &away]);
            }
        }
    }
}

// AWAY [<text>]
pub fn away(ctx: &mut Ctx, msg: &Message) {
    let client = ctx.client().clone();
    let text = msg
        .param(0)
        .filter(|t| !t.is_empty())
        .map(|t| truncate(t, ctx.config.limits.awaylen).to_string());
    ctx.state.set_away(&client, text.clone());
    match &text {
        Some(_) => ctx.reply(RPL_NOWAWAY, &["You have been marked as being away"]),
        None => ctx.reply(RPL_UNAWAY, &["You are no longer marked as being away"]),
    }
    let mut line = Line::new(Some(&client.prefix()), "AWAY");
    if let Some(t) = &text {
        line = line.text(t);
    }
    let line = line.build();
    for p in ctx.state.interested(&client, Cap::AwayNotify) {
        p.send(line.clone());
    }
}
