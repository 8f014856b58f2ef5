//! Operator commands: OPER (bcrypt, checked off the async threads), KILL,
//! WALLOPS, REHASH. The dispatch table answers 481 for non-opers.

use std::sync::LazyLock;

use crate::proto::{Line, Message, mask::glob_match, numerics::*};

use super::Ctx;

/// Failed OPER attempts a connection gets before it is closed.
const MAX_OPER_FAILURES: u32 = 3;

/// A bcrypt hash nobody knows the password of, for unknown oper names.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| bcrypt::hash("no such oper", bcrypt::DEFAULT_COST).unwrap_or_default());

// OPER <name> <password>
pub fn oper(ctx: &mut Ctx, msg: &Message) {
    let (name, password) = (msg.params()[0].to_string(), msg.params()[1]);
    let client = ctx.client().clone();
    let oper = ctx.config.opers.iter().find(|o| o.name == name).cloned();
    if let Some(host) = oper.as_ref().and_then(|o| o.host.as_ref()) {
        let s = client.snapshot();
        let full = s.prefix();
        let ip = format!("{}!{}@{}", s.nick, s.user, s.ip);
        if !glob_match(host, &full, ctx.state.casemap) && !glob_match(host, &ip, ctx.state.casemap)
        {
            ctx.reply(ERR_NOOPERHOST, &[]);
            return;
        }
    }
    // An unknown name is checked against a dummy hash, so that the answer
    // takes as long as for a real one (no enumerating oper names by timing).
    let password = zeroize::Zeroizing::new(password.to_string());
    let known = oper.is_some();
    let hash = oper.map(|o| o.hash).unwrap_or_else(|| DUMMY_HASH.clone());
    ctx.blocking(
        move || bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false) && known,
        move |ctx, ok| finish(ctx, &name, ok),
    );
}

fn finish(ctx: &mut Ctx, name: &str, ok: bool) {
    if !ok {
        ctx.reply(ERR_PASSWDMISMATCH, &[]);
        ctx.session.oper_failures += 1;
        if ctx.session.oper_failures >= MAX_OPER_FAILURES {
            ctx.session.quit = Some("Too many failed OPER attempts".into());
        }
        return;
    }
    let client = ctx.client().clone();
    ctx.state.set_oper(&client, Some(name));
    ctx.reply(RPL_YOUREOPER, &[]);
    let nick = client.nick();
    let line = Line::new(Some(&nick), "MODE").arg(&nick).text("+o").build();
    ctx.push(line);
}

// KILL <nick> <reason>
pub fn kill(ctx: &mut Ctx, msg: &Message) {
    let nick = msg.params()[0];
    let Some(victim) = ctx.state.find_nick(nick) else {
        ctx.reply(ERR_NOSUCHNICK, &[nick]);
        return;
    };
    let me = ctx.client().clone();
    let reason = format!("Killed ({} ({}))", me.nick(), msg.params()[1]);
    let d = ctx.state.kill(&me, &victim, &reason);
    ctx.deliver(d);
}

// WALLOPS <text>
pub fn wallops(ctx: &mut Ctx, msg: &Message) {
    let me = ctx.client().clone();
    let d = ctx.state.wallops(&me, msg.params()[0]);
    ctx.deliver(d);
}

// REHASH
pub fn rehash(ctx: &mut Ctx, _msg: &Message) {
    let control = ctx.control.clone();
    ctx.blocking(
        move || control.rehash(),
        |ctx, result| match result {
            Ok(()) => {
                let file = ctx
                    .config
                    .path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "defaults".into());
                ctx.reply(RPL_REHASHING, &[&file]);
            }
            Err(e) => {
                for l in e.lines() {
                    ctx.server_notice(&format!(
                        "REHASH refused, the running configuration stays: {l}"
                    ));
                }
            }
        },
    );
}
