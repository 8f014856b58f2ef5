//! MODE for channels (parsed by the server's own CHANMODES types) and for
//! users (i, w, B; o can only be dropped).

use crate::{
    proto::{Line, Message, numerics::*},
    state::ModeChange,
};

use super::{Ctx, query};

/// How a channel mode takes its parameter (ISUPPORT CHANMODES types + prefixes).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A: lists; a parameter to change, none to list.
    List,
    /// B: always a parameter.
    Always,
    /// C: a parameter only when set.
    WhenSet,
    /// D: never a parameter.
    Never,
    /// Prefix modes (o, v): always a nick.
    Prefix,
}

fn kind(mode: char) -> Option<Kind> {
    Some(match mode {
        'b' | 'e' | 'I' => Kind::List,
        'k' => Kind::Always,
        'l' | 'E' => Kind::WhenSet,
        'i' | 'm' | 'n' | 's' | 't' => Kind::Never,
        'o' | 'v' => Kind::Prefix,
        _ => return None,
    })
}

/// Most parameter-taking changes in one command (ISUPPORT MODES).
const MAX_PARAM_MODES: usize = 4;

// MODE <target> [<modestring> [<mode arguments>...]]
pub fn mode(ctx: &mut Ctx, msg: &Message) {
    let target = msg.params()[0];
    if target.starts_with('#') {
        channel_mode(ctx, msg, target);
    } else {
        user_mode(ctx, msg, target);
    }
}

fn channel_mode(ctx: &mut Ctx, msg: &Message, name: &str) {
    let Some(chan) = ctx.state.find_channel(name) else {
        ctx.reply(ERR_NOSUCHCHANNEL, &[name, "No such channel"]);
        return;
    };
    let client = ctx.client().clone();
    let Some(modestr) = msg.param(1) else {
        let (display, modes, params, created) = {
            let ch = chan.lock().unwrap();
            let member = ch.members.contains_key(&client.id);
            let (m, p) = ch.mode_string(member);
            (ch.name.clone(), m, p, ch.created)
        };
        let mut args = vec![display.as_str(), modes.as_str()];
        args.extend(params.iter().map(String::as_str));
        ctx.reply_args(RPL_CHANNELMODEIS, &args);
        ctx.reply_args(RPL_CREATIONTIME, &[&display, &query::ts(created)]);
        return;
    };
    let mut args = msg.params()[2..].iter();
    let mut add = true;
    let mut changes = Vec::new();
    let mut param_modes = 0;
    let mut listed = Vec::new();
    for c in modestr.chars() {
        match c {
            '+' => add = true,
            '-' => add = false,
            _ => {
                let Some(k) = kind(c) else {
                    ctx.reply(
                        ERR_UNKNOWNMODE,
                        &[&c.to_string(), "is unknown mode char to me"],
                    );
                    continue;
                };
                let takes = match k {
                    Kind::List | Kind::Always | Kind::Prefix => true,
                    Kind::WhenSet => add,
                    Kind::Never => false,
                };
                let arg = if takes {
                    args.next().map(|a| a.to_string())
                } else {
                    None
                };
                if k == Kind::List && arg.is_none() {
                    if !listed.contains(&c) {
                        listed.push(c);
                    }
                    continue;
                }
                if takes && arg.is_none() {
                    if k == Kind::Always && !add {
                        // "-k" without the key is accepted, as most servers do.
                    } else {
                        ctx.reply(ERR_NEEDMOREPARAMS, &["MODE", "Not enough parameters"]);
                        continue;
                    }
                }
                if takes {
                    param_modes += 1;
                    if param_modes > MAX_PARAM_MODES {
                        continue;
                    }
                }
                let mut target = None;
                if k == Kind::Prefix {
                    let nick = arg.as_deref().unwrap_or("");
                    match ctx.state.find_nick(nick) {
                        Some(t) => target = Some(t.id),
                        None => {
                            ctx.reply(ERR_NOSUCHNICK, &[nick, "No such nick/channel"]);
                            continue;
                        }
                    }
                }
                changes.push(ModeChange {
                    add,
                    mode: c,
                    arg,
                    target,
                });
            }
        }
    }
    for c in listed {
        send_list(ctx, &chan, c);
    }
    if changes.is_empty() {
        return;
    }
    let (display, applied, errors) = ctx.state.apply_channel_modes(&chan, &client, changes);
    for e in errors {
        let args: Vec<&str> = e.args.iter().map(String::as_str).collect();
        ctx.reply(e.code, &args);
    }
    if applied.is_empty() {
        return;
    }
    let mut modes = String::new();
    let mut margs: Vec<String> = Vec::new();
    let mut sign = None;
    for c in &applied {
        if sign != Some(c.add) {
            modes.push(if c.add { '+' } else { '-' });
            sign = Some(c.add);
        }
        modes.push(c.mode);
        if let Some(a) = &c.arg {
            margs.push(a.clone());
        }
    }
    let line = Line::new(Some(&client.prefix()), "MODE")
        .arg(&display)
        .arg(&modes)
        .args(margs.iter().map(String::as_str))
        .build();
    ctx.state.broadcast(&chan, &line, Some(client.id));
    ctx.push(line);
}

/// 367/368, 348/349 or 346/347 for a list mode.
fn send_list(ctx: &mut Ctx, chan: &crate::state::ChannelRef, mode: char) {
    let (display, entries) = {
        let ch = chan.lock().unwrap();
        (ch.name.clone(), ch.list(mode).cloned().unwrap_or_default())
    };
    let (item, end, text) = match mode {
        'b' => (RPL_BANLIST, RPL_ENDOFBANLIST, "End of channel ban list"),
        'e' => (
            RPL_EXCEPTLIST,
            RPL_ENDOFEXCEPTLIST,
            "End of channel exception list",
        ),
        _ => (
            RPL_INVITELIST,
            RPL_ENDOFINVITELIST,
            "End of channel invite list",
        ),
    };
    for e in entries {
        ctx.reply_args(item, &[&display, &e.mask, &e.setter, &e.time.to_string()]);
    }
    ctx.reply(end, &[&display, text]);
}

fn user_mode(ctx: &mut Ctx, msg: &Message, target: &str) {
    let client = ctx.client().clone();
    if ctx.state.find_nick(target).is_none() {
        ctx.reply(ERR_NOSUCHNICK, &[target, "No such nick/channel"]);
        return;
    }
    if !ctx.state.casemap.eq(target, &client.nick()) {
        ctx.reply(ERR_USERSDONTMATCH, &["Can't change mode for other users"]);
        return;
    }
    let Some(modestr) = msg.param(1) else {
        let modes = client.info().modes.to_mode_string();
        ctx.reply_args(RPL_UMODEIS, &[&modes]);
        return;
    };
    let (out, unknown) = ctx.state.apply_user_modes(&client, modestr);
    if unknown {
        ctx.reply(ERR_UMODEUNKNOWNFLAG, &["Unknown MODE flag"]);
    }
    if !out.is_empty() {
        let nick = client.nick();
        let line = Line::new(Some(&nick), "MODE").arg(&nick).text(&out).build();
        ctx.push(line);
    }
}
