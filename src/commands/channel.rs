//! Channel membership and channel-wide commands: JOIN, PART, TOPIC, KICK,
//! INVITE.

use crate::{
    config::format_duration,
    proto::{Line, Message, caps::Cap, numerics::*},
};

use super::{Ctx, deliver, list};

/// A valid channel name: `#`, at most CHANNELLEN bytes, no space, comma,
/// BEL or colon.
pub fn valid_channel(name: &str, max: usize) -> bool {
    name.starts_with('#')
        && name.len() > 1
        && name.len() <= max
        && !name.contains([' ', ',', '\x07', ':'])
        && !name.chars().any(char::is_control)
}

// JOIN <channel>{,<channel>} [<key>{,<key>}]
pub fn join(ctx: &mut Ctx, msg: &Message) {
    let targets = msg.params()[0];
    if targets == "0" {
        let client = ctx.client().clone();
        for d in ctx.state.part_all(&client) {
            ctx.deliver(d);
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
            ctx.reply(ERR_NOSUCHCHANNEL, &[name]);
            continue;
        }
        join_one(ctx, name, key);
    }
}

fn join_one(ctx: &mut Ctx, name: &str, key: Option<&str>) {
    let client = ctx.client().clone();
    // The joiner's own JOIN is queued under the channel lock (after anything
    // this command already said), so nothing said in the channel can reach
    // it first. A labeled command keeps it in its batch instead.
    let direct = !ctx.labeled;
    let state = ctx.state;
    let server = ctx.config.server.name.clone();
    let out = &mut ctx.out;
    let on_joined = |d: &crate::state::Delivery| {
        if direct {
            let mut early = out.take().into_lines(&client, None, &server);
            while let Some(l) = early.next(state) {
                client.sendq.push(l);
            }
            if let Some(l) = deliver::echo_line(&server, d, &client) {
                client.send(l);
            }
        }
    };
    let joined = match state.join(&client, name, key, on_joined) {
        Err(r) => {
            ctx.refuse(&r);
            return;
        }
        Ok(None) => return,
        Ok(Some(j)) => j,
    };
    let mut delivery = joined.delivery;
    delivery.echo = !direct;
    ctx.deliver(delivery);
    if let Some(away) = joined.away {
        ctx.deliver(away);
    }
    let view = joined.view;

    if let Some(e) = view.ephemeral {
        let text = format!(
            "{} is ephemeral: nothing said here is logged, and it self-destructs after {} without messages.",
            view.name,
            format_duration(e)
        );
        let line = Line::new(Some(ctx.server_name()), "NOTICE")
            .arg(&view.name)
            .text(&text)
            .build();
        ctx.push(line);
    }
    if let Some(t) = &view.topic {
        ctx.reply(RPL_TOPIC, &[&view.name, &t.text]);
        ctx.reply_args(
            RPL_TOPICWHOTIME,
            &[&view.name, &t.setter, &t.time.to_string()],
        );
    }
    super::markread::after_join(ctx, &view.name);
    if !client.has_cap(Cap::NoImplicitNames.bit()) {
        list::send_names(ctx, &view.name);
    }
    // A registered channel: ChanServ enforces AKICK and gives auto-modes
    // (its founder gets ops).
    crate::services::on_join(ctx, &view.name);
}

// PART <channel>{,<channel>} [<reason>]
pub fn part(ctx: &mut Ctx, msg: &Message) {
    let reason = msg.param(1).filter(|r| !r.is_empty());
    let client = ctx.client().clone();
    for name in msg.params()[0].split(',').filter(|n| !n.is_empty()) {
        match ctx.state.part(&client, name, reason) {
            Ok(d) => ctx.deliver(d),
            Err(r) => ctx.refuse(&r),
        }
    }
}

// TOPIC <channel> [<topic>]
pub fn topic(ctx: &mut Ctx, msg: &Message) {
    let name = msg.params()[0];
    let client = ctx.client().clone();
    match msg.param(1) {
        None => match ctx.state.topic(&client, name) {
            Err(r) => ctx.refuse(&r),
            Ok((display, Some(t))) => {
                ctx.reply(RPL_TOPIC, &[&display, &t.text]);
                ctx.reply_args(
                    RPL_TOPICWHOTIME,
                    &[&display, &t.setter, &t.time.to_string()],
                );
            }
            Ok((display, None)) => ctx.reply(RPL_NOTOPIC, &[&display]),
        },
        Some(text) => {
            let text = truncate(text, ctx.config.limits.topiclen);
            match ctx.state.set_topic(&client, name, text) {
                Err(r) => ctx.refuse(&r),
                Ok(d) => {
                    ctx.deliver(d);
                    crate::services::persist_channel(ctx, name);
                }
            }
        }
    }
}

pub use crate::proto::line::truncate;

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
        ctx.reply(ERR_NEEDMOREPARAMS, &["KICK"]);
        return;
    };
    for (name, target) in pairs.into_iter().take(ctx.config.limits.max_targets) {
        match ctx.state.kick(&client, name, target, &reason) {
            Err(r) => ctx.refuse(&r),
            Ok(d) => ctx.deliver(d),
        }
    }
}

// INVITE <nick> <channel>
pub fn invite(ctx: &mut Ctx, msg: &Message) {
    let (nick, name) = (msg.params()[0], msg.params()[1]);
    let client = ctx.client().clone();
    match ctx.state.invite(&client, nick, name) {
        Err(r) => ctx.refuse(&r),
        Ok(inv) => {
            ctx.reply_args(RPL_INVITING, &[&inv.target_nick, &inv.channel]);
            if let Some(away) = &inv.target_away {
                ctx.reply(RPL_AWAY, &[&inv.target_nick, away]);
            }
            ctx.deliver(inv.to_target);
            ctx.deliver(inv.to_ops);
        }
    }
}
