//! Channel membership and channel-wide commands: JOIN, PART, TOPIC, KICK,
//! INVITE.

use bytes::Bytes;

use crate::{
    config::format_duration,
    proto::{Line, Message, caps::Cap, numerics::*},
    state::{ChannelRef, ClientRef},
};

use super::{Ctx, query};

/// A valid channel name: `#`, at most CHANNELLEN bytes, no space, comma,
/// BEL or colon.
pub fn valid_channel(name: &str, max: usize) -> bool {
    name.starts_with('#')
        && name.len() > 1
        && name.len() <= max
        && !name.contains([' ', ',', '\x07', ':'])
        && !name.chars().any(char::is_control)
}

/// The JOIN line in both forms: plain and extended-join.
fn join_lines(client: &ClientRef, channel: &str) -> (Bytes, Bytes) {
    let info = client.info().clone();
    let prefix = info.prefix();
    let plain = Line::new(Some(&prefix), "JOIN").arg(channel).build();
    let account = info.account.as_deref().unwrap_or("*");
    let extended = Line::new(Some(&prefix), "JOIN")
        .arg(channel)
        .arg(account)
        .text(&info.realname)
        .build();
    (plain, extended)
}

/// Queues a line to each member, choosing the variant by capability.
pub fn send_by_cap(members: &[ClientRef], cap: Cap, with: &Bytes, without: &Bytes) {
    for m in members {
        m.send(if m.has_cap(cap.bit()) {
            with.clone()
        } else {
            without.clone()
        });
    }
}

// JOIN <channel>{,<channel>} [<key>{,<key>}]
pub fn join(ctx: &mut Ctx, msg: &Message) {
    let targets = msg.params()[0];
    if targets == "0" {
        let chans: Vec<ChannelRef> = ctx.client().info().channels.values().cloned().collect();
        for ch in chans {
            let name = ch.lock().unwrap().name.clone();
            part_one(ctx, &ch, &name, None);
        }
        return;
    }
    let mut keys = msg.param(1).unwrap_or("").split(',');
    for name in targets.split(',') {
        let key = keys.next().filter(|k| !k.is_empty());
        if name.is_empty() {
            continue;
        }
        if !valid_channel(name, ctx.config.limits.channellen) {
            ctx.reply(ERR_NOSUCHCHANNEL, &[name, "No such channel"]);
            continue;
        }
        join_one(ctx, name, key);
    }
}

fn join_one(ctx: &mut Ctx, name: &str, key: Option<&str>) {
    let client = ctx.client().clone();
    let chcfg = ctx.config.channels.clone();
    let setup = |ch: &mut crate::state::Channel| {
        ch.modes.no_external = true;
        ch.modes.topic_lock = true;
        if chcfg.ephemeral_by_default || chcfg.enforce_ephemeral {
            ch.modes.ephemeral = Some(chcfg.idle_timeout);
        }
    };
    // The joiner's own JOIN is queued under the channel lock (after anything
    // this command already said), so nothing said in the channel can reach
    // it first. A labeled command keeps it in its batch instead.
    let direct = !ctx.labeled;
    let state = ctx.state;
    let out = &mut ctx.out;
    let on_joined = |ch: &crate::state::Channel| {
        if direct {
            let (plain, extended) = join_lines(&client, &ch.name);
            for l in out.drain(..) {
                client.send(l);
            }
            client.send(if client.has_cap(Cap::ExtendedJoin.bit()) {
                extended
            } else {
                plain
            });
        }
    };
    let joined = match state.join(&client, name, key, setup, on_joined) {
        Err(r) => {
            ctx.reply(r.code, &[name, r.text]);
            return;
        }
        Ok(None) => return,
        Ok(Some(j)) => j,
    };
    let chan = joined.channel;
    let (display, others, ephemeral) = {
        let ch = chan.lock().unwrap();
        (
            ch.name.clone(),
            ctx.state.members_of(&ch, Some(client.id)),
            ch.modes.ephemeral,
        )
    };
    let (plain, extended) = join_lines(&client, &display);
    if !direct {
        ctx.push(if client.has_cap(Cap::ExtendedJoin.bit()) {
            extended.clone()
        } else {
            plain.clone()
        });
    }
    send_by_cap(&others, Cap::ExtendedJoin, &extended, &plain);
    // away-notify: members learn at once that the joiner is away.
    let away = client.info().away.clone();
    if let Some(away) = away {
        let line = Line::new(Some(&client.prefix()), "AWAY")
            .text(&away)
            .build();
        for m in others.iter().filter(|m| m.has_cap(Cap::AwayNotify.bit())) {
            m.send(line.clone());
        }
    }
    if let Some(e) = ephemeral {
        // Armed once, at creation; activity moves the deadline lazily.
        if joined.created {
            ctx.state.schedule_idle(&chan);
        }
        let text = format!(
            "{display} is ephemeral: nothing said here is logged, and it self-destructs after {} without messages.",
            format_duration(e)
        );
        let line = Line::new(Some(ctx.server_name()), "NOTICE")
            .arg(&display)
            .text(&text)
            .build();
        ctx.push(line);
    }
    let ch = chan.lock().unwrap();
    if let Some(t) = &ch.topic {
        let (text, setter, time) = (t.text.clone(), t.setter.clone(), t.time);
        ctx.reply(RPL_TOPIC, &[&display, &text]);
        ctx.reply_args(RPL_TOPICWHOTIME, &[&display, &setter, &query::ts(time)]);
    }
    if !client.has_cap(Cap::NoImplicitNames.bit()) {
        query::send_names(ctx, &ch);
    }
}

// PART <channel>{,<channel>} [<reason>]
pub fn part(ctx: &mut Ctx, msg: &Message) {
    let reason = msg.param(1).filter(|r| !r.is_empty());
    for name in msg.params()[0].split(',').filter(|n| !n.is_empty()) {
        let Some(chan) = ctx.state.find_channel(name) else {
            ctx.reply(ERR_NOSUCHCHANNEL, &[name, "No such channel"]);
            continue;
        };
        if !chan.lock().unwrap().members.contains_key(&ctx.client().id) {
            ctx.reply(ERR_NOTONCHANNEL, &[name, "You're not on that channel"]);
            continue;
        }
        let display = chan.lock().unwrap().name.clone();
        part_one(ctx, &chan, &display, reason);
    }
}

fn part_one(ctx: &mut Ctx, chan: &ChannelRef, display: &str, reason: Option<&str>) {
    let client = ctx.client().clone();
    let mut line = Line::new(Some(&client.prefix()), "PART").arg(display);
    if let Some(r) = reason {
        line = line.text(r);
    }
    let line = line.build();
    ctx.state.broadcast(chan, &line, Some(client.id));
    ctx.push(line);
    ctx.state.remove_member(chan, client.id);
}

// TOPIC <channel> [<topic>]
pub fn topic(ctx: &mut Ctx, msg: &Message) {
    let name = msg.params()[0];
    let Some(chan) = ctx.state.find_channel(name) else {
        ctx.reply(ERR_NOSUCHCHANNEL, &[name, "No such channel"]);
        return;
    };
    let client = ctx.client().clone();
    match msg.param(1) {
        None => {
            let (display, topic, member, secret) = {
                let ch = chan.lock().unwrap();
                (
                    ch.name.clone(),
                    ch.topic.clone(),
                    ch.members.contains_key(&client.id),
                    ch.modes.secret,
                )
            };
            if secret && !member {
                ctx.reply(ERR_NOTONCHANNEL, &[&display, "You're not on that channel"]);
                return;
            }
            match topic {
                Some(t) => {
                    ctx.reply(RPL_TOPIC, &[&display, &t.text]);
                    ctx.reply_args(RPL_TOPICWHOTIME, &[&display, &t.setter, &query::ts(t.time)]);
                }
                None => ctx.reply(RPL_NOTOPIC, &[&display, "No topic is set"]),
            }
        }
        Some(text) => {
            let text = truncate(text, ctx.config.limits.topiclen);
            match ctx.state.set_topic(&chan, &client, text) {
                Err(r) => {
                    let display = chan.lock().unwrap().name.clone();
                    ctx.reply(r.code, &[&display, r.text]);
                }
                Ok(display) => {
                    let line = Line::new(Some(&client.prefix()), "TOPIC")
                        .arg(&display)
                        .text(text)
                        .build();
                    ctx.state.broadcast(&chan, &line, Some(client.id));
                    ctx.push(line);
                }
            }
        }
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

// KICK <channel>{,<channel>} <user>{,<user>} [<comment>]
//
// One channel and several users kicks each from it; as many channels as
// users pairs them (RFC 2812 3.2.8). Past TARGMAX, targets are dropped.
// Every KICK sent out names one channel and one user.
pub fn kick(ctx: &mut Ctx, msg: &Message) {
    let client = ctx.client().clone();
    let reason = msg
        .param(2)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| client.nick());
    let reason = truncate(&reason, ctx.config.limits.kicklen).to_string();
    let chans: Vec<&str> = msg.params()[0]
        .split(',')
        .filter(|t| !t.is_empty())
        .collect();
    let users: Vec<&str> = msg.params()[1]
        .split(',')
        .filter(|t| !t.is_empty())
        .collect();
    let pairs: Vec<(&str, &str)> = if chans.len() == users.len() {
        chans.iter().copied().zip(users.iter().copied()).collect()
    } else if chans.len() == 1 {
        users.iter().map(|u| (chans[0], *u)).collect()
    } else {
        ctx.need_more_params("KICK");
        return;
    };
    for (name, target) in pairs.into_iter().take(ctx.config.limits.max_targets) {
        let Some(chan) = ctx.state.find_channel(name) else {
            ctx.reply(ERR_NOSUCHCHANNEL, &[name, "No such channel"]);
            continue;
        };
        let victim = ctx.state.find_nick(target);
        match ctx.state.check_kick(&chan, &client, victim.as_ref()) {
            Err(r) => {
                let display = chan.lock().unwrap().name.clone();
                if r.code == ERR_USERNOTINCHANNEL {
                    ctx.reply(r.code, &[target, &display, r.text]);
                } else {
                    ctx.reply(r.code, &[&display, r.text]);
                }
            }
            Ok(display) => {
                let victim = victim.expect("checked");
                let line = Line::new(Some(&client.prefix()), "KICK")
                    .arg(&display)
                    .arg(&victim.nick())
                    .text(&reason)
                    .build();
                ctx.state.broadcast(&chan, &line, Some(client.id));
                ctx.push(line);
                ctx.state.remove_member(&chan, victim.id);
            }
        }
    }
}

// INVITE <nick> <channel>
pub fn invite(ctx: &mut Ctx, msg: &Message) {
    let (nick, name) = (msg.params()[0], msg.params()[1]);
    let Some(target) = ctx.state.find_nick(nick) else {
        ctx.reply(ERR_NOSUCHNICK, &[nick, "No such nick/channel"]);
        return;
    };
    let Some(chan) = ctx.state.find_channel(name) else {
        ctx.reply(ERR_NOSUCHCHANNEL, &[name, "No such channel"]);
        return;
    };
    let client = ctx.client().clone();
    match ctx.state.invite(&chan, &client, &target) {
        Err(r) if r.code == ERR_USERONCHANNEL => ctx.reply(r.code, &[&target.nick(), name, r.text]),
        Err(r) => ctx.reply(r.code, &[name, r.text]),
        Ok(display) => {
            let tnick = target.nick();
            ctx.reply_args(RPL_INVITING, &[&tnick, &display]);
            let away = target.info().away.clone();
            if let Some(away) = away {
                ctx.reply(RPL_AWAY, &[&tnick, &away]);
            }
            let line = Line::new(Some(&client.prefix()), "INVITE")
                .arg(&tnick)
                .arg(&display)
                .build();
            target.send(line.clone());
            // invite-notify: the channel's operators who asked for it.
            let ops: Vec<ClientRef> = {
                let ch = chan.lock().unwrap();
                ch.members
                    .values()
                    .filter(|m| m.op && m.client.id != client.id && m.client.id != target.id)
                    .filter(|m| m.client.has_cap(Cap::InviteNotify.bit()))
                    .map(|m| m.client.clone())
                    .collect()
            };
            for op in ops {
                op.send(line.clone());
            }
        }
    }
}
