//! Operator commands: OPER (bcrypt, checked off the async threads), KILL,
//! WALLOPS, REHASH. The dispatch table answers 481 for non-opers.

use crate::proto::{Line, Message, mask::glob_match, numerics::*};

use super::Ctx;

/// Failed OPER attempts a connection gets before it is closed.
const MAX_OPER_FAILURES: u32 = 3;

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
    // Each attempt costs a bcrypt check: an address that failed too often
    // lately is refused at once, whatever connection it comes on.
    if ctx.state.oper_throttled(client.ip) {
        ctx.reply_text(
            ERR_NOOPERHOST,
            &[],
            "Too many failed OPER attempts from your address; try again later",
        );
        count_failure(ctx);
        return;
    }
    // Checked in a blocking job, an unknown name against a dummy hash
    // (state/oper_guard.rs).
    let password = zeroize::Zeroizing::new(password.to_string());
    let hash = oper.map(|o| o.hash);
    ctx.blocking(
        move || crate::state::verify_oper_password(hash.as_deref(), &password),
        move |ctx, ok| finish(ctx, &name, ok),
    );
}

/// A failed attempt on this connection, which ends it after a few.
fn count_failure(ctx: &mut Ctx) {
    ctx.session.oper_failures += 1;
    if ctx.session.oper_failures >= MAX_OPER_FAILURES {
        ctx.session.quit = Some("Too many failed OPER attempts".into());
    }
}

fn finish(ctx: &mut Ctx, name: &str, ok: bool) {
    if !ok {
        ctx.reply(ERR_PASSWDMISMATCH, &[]);
        let ip = ctx.client().ip;
        ctx.state.note_oper_failure(ip);
        count_failure(ctx);
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
