//! MODE for channels (parsed by the mode table's parameter kinds) and for
//! users (i, w, B; o can only be dropped).

use crate::{
    proto::{
        Line, Message,
        modes::{Kind, kind},
        numerics::*,
    },
    state::ModeChange,
};

use super::Ctx;

/// Most parameter-taking changes in one command (ISUPPORT MODES).
pub const MAX_PARAM_MODES: usize = 4;

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
    let client = ctx.client().clone();
    let Some(modestr) = msg.param(1) else {
        match ctx.state.mode_view(&client, name) {
            Err(r) => ctx.refuse(&r),
            Ok((display, modes, params, created)) => {
                let mut args = vec![display.as_str(), modes.as_str()];
                args.extend(params.iter().map(String::as_str));
                ctx.reply_args(RPL_CHANNELMODEIS, &args);
                ctx.reply_args(RPL_CREATIONTIME, &[&display, &created.to_string()]);
            }
        }
        return;
    };
    if !ctx.state.channel_exists(name) {
        ctx.reply(ERR_NOSUCHCHANNEL, &[name]);
        return;
    }
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
                    ctx.reply(ERR_UNKNOWNMODE, &[&c.to_string()]);
                    continue;
                };
                let takes = match k {
                    Kind::List | Kind::Always | Kind::Prefix => true,
                    Kind::WhenSet => add,
                    Kind::Flag => false,
                };
                let arg = if takes {
                    args.next().map(|a| a.to_string())
                } else {
                    None
                };
                // An empty mask (`MODE #c +b :`) asks for the list, as no
                // mask: it must not become a ban on `*!*@*`.
                if k == Kind::List && arg.as_deref().is_none_or(str::is_empty) {
                    if !listed.contains(&c) {
                        listed.push(c);
                    }
                    continue;
                }
                // "-k" without the key is accepted, as most servers do.
                if takes && arg.is_none() && !(k == Kind::Always && !add) {
                    ctx.reply(ERR_NEEDMOREPARAMS, &["MODE"]);
                    continue;
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
                            ctx.reply(ERR_NOSUCHNICK, &[nick]);
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
        send_list(ctx, name, c);
    }
    if changes.is_empty() {
        return;
    }
    match ctx.state.apply_channel_modes(&client, name, changes) {
        Err(r) => ctx.refuse(&r),
        Ok(outcome) => {
            for e in &outcome.errors {
                ctx.refuse(e);
            }
            if let Some(d) = outcome.delivery {
                ctx.deliver(d);
                crate::services::persist_channel(ctx, name);
            }
        }
    }
}

/// 367/368, 348/349 or 346/347 for a list mode.
fn send_list(ctx: &mut Ctx, name: &str, mode: char) {
    let Some((display, entries)) = ctx.state.list_entries(name, mode) else {
        ctx.reply(ERR_NOSUCHCHANNEL, &[name]);
        return;
    };
    let (item, end) = match mode {
        'b' => (RPL_BANLIST, RPL_ENDOFBANLIST),
        'e' => (RPL_EXCEPTLIST, RPL_ENDOFEXCEPTLIST),
        _ => (RPL_INVITELIST, RPL_ENDOFINVITELIST),
    };
    for e in entries {
        ctx.reply_args(item, &[&display, &e.mask, &e.setter, &e.time.to_string()]);
    }
    ctx.reply(end, &[&display]);
}

fn user_mode(ctx: &mut Ctx, msg: &Message, target: &str) {
    let client = ctx.client().clone();
    if ctx.state.find_nick(target).is_none() {
        ctx.reply(ERR_NOSUCHNICK, &[target]);
        return;
    }
    if !ctx.state.casemap.eq(target, &client.nick()) {
        ctx.reply(ERR_USERSDONTMATCH, &[]);
        return;
    }
    let Some(modestr) = msg.param(1) else {
        let modes = client.modes().to_mode_string();
        ctx.reply_args(RPL_UMODEIS, &[&modes]);
        return;
    };
    let (out, unknown) = ctx.state.apply_user_modes(&client, modestr);
    if unknown {
        ctx.reply(ERR_UMODEUNKNOWNFLAG, &[]);
    }
    if !out.is_empty() {
        let nick = client.nick();
        let line = Line::new(Some(&nick), "MODE").arg(&nick).text(&out).build();
        ctx.push(line);
    }
}
