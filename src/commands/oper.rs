//! Operator commands: OPER (bcrypt, checked off the async threads), KILL,
//! WALLOPS, REHASH. The dispatch table answers 481 for non-opers.

use crate::proto::{Line, Message, mask::glob_match, numerics::*};

use super::{Ctx, Pending};

// OPER <name> <password>
pub fn oper(ctx: &mut Ctx, msg: &Message) {
    let (name, password) = (msg.params()[0], msg.params()[1]);
    let client = ctx.client().clone();
    // An unknown name is checked against a dummy hash, so that the answer
    // takes as long as for a real one (no enumerating oper names by timing).
    let Some(o) = ctx.config.opers.iter().find(|o| o.name == name) else {
        ctx.session.pending = Some(Pending::Oper {
            name: name.to_string(),
            password: zeroize::Zeroizing::new(password.to_string()),
        });
        return;
    };
    if let Some(host) = &o.host {
        let full = client.prefix();
        let ip = format!("{}!{}@{}", client.nick(), client.info().user, client.ip);
        if !glob_match(host, &full, ctx.state.casemap) && !glob_match(host, &ip, ctx.state.casemap)
        {
            ctx.reply(ERR_NOOPERHOST, &["No O-lines for your host"]);
            return;
        }
    }
    ctx.session.pending = Some(Pending::Oper {
        name: name.to_string(),
        password: zeroize::Zeroizing::new(password.to_string()),
    });
}

/// Called by the connection once the oper password has been checked.
/// Failed OPER attempts a connection gets before it is closed.
const MAX_OPER_FAILURES: u32 = 3;

pub fn finish(ctx: &mut Ctx, name: &str, ok: bool) {
    if !ok {
        ctx.reply(ERR_PASSWDMISMATCH, &["Password incorrect"]);
        ctx.session.oper_failures += 1;
        if ctx.session.oper_failures >= MAX_OPER_FAILURES {
            ctx.session.quit = Some("Too many failed OPER attempts".into());
        }
        return;
    }
    let client = ctx.client().clone();
    ctx.state.set_oper(&client, Some(name));
    ctx.reply(RPL_YOUREOPER, &["You are now an IRC operator"]);
    let nick = client.nick();
    let line = Line::new(Some(&nick), "MODE").arg(&nick).text("+o").build();
    ctx.push(line);
}

// KILL <nick> <reason>
pub fn kill(ctx: &mut Ctx, msg: &Message) {
    let nick = msg.params()[0];
    let Some(victim) = ctx.state.find_nick(nick) else {
        ctx.reply(ERR_NOSUCHNICK, &[nick, "No such nick/channel"]);
        return;
    };
    let me = ctx.client().clone();
    let reason = format!("Killed ({} ({}))", me.nick(), msg.params()[1]);
    let line = Line::new(Some(&me.prefix()), "KILL")
        .arg(&victim.nick())
        .text(&reason)
        .build();
    victim.send(line);
    victim.sendq.kill(&reason);
}

// WALLOPS <text>
pub fn wallops(ctx: &mut Ctx, msg: &Message) {
    let me = ctx.client().clone();
    let line = Line::new(Some(&me.prefix()), "WALLOPS")
        .text(msg.params()[0])
        .build();
    for c in ctx.state.all_clients() {
        let wants = c.info().modes.wallops;
        if wants {
            c.send(line.clone());
        }
    }
}

// REHASH
pub fn rehash(ctx: &mut Ctx, _msg: &Message) {
    ctx.session.pending = Some(Pending::Rehash);
}
