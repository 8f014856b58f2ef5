//! MONITOR (IRCv3): get told when nicks come online and go offline.

use crate::proto::{Message, numerics::*};

use super::{Ctx, who::pack};

// MONITOR <+|-> <target>{,<target>} / MONITOR <C|L|S>
pub fn monitor(ctx: &mut Ctx, msg: &Message) {
    let client = ctx.client().clone();
    let sub = msg.params()[0];
    let targets: Vec<&str> = msg
        .param(1)
        .unwrap_or("")
        .split(',')
        .filter(|t| !t.is_empty())
        .collect();
    match sub {
        "+" => {
            let limit = ctx.config.limits.monitor;
            let (added, full_at) = ctx.state.monitor_add(&client, &targets, limit);
            if let Some(i) = full_at {
                let rest = targets[i..].join(",");
                ctx.reply(ERR_MONLISTFULL, &[&limit.to_string(), &rest]);
            }
            send_status(ctx, &added);
        }
        "-" => ctx.state.monitor_remove(&client, &targets),
        "C" | "c" => ctx.state.monitor_clear(&client),
        "L" | "l" => {
            let all = client.monitoring();
            for chunk in pack(&all, ',', ctx.room(0)) {
                ctx.reply(RPL_MONLIST, &[&chunk]);
            }
            ctx.reply(RPL_ENDOFMONLIST, &[]);
        }
        "S" | "s" => {
            let all = client.monitoring();
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            send_status(ctx, &refs);
        }
        _ => ctx.reply_text(
            ERR_UNKNOWNCOMMAND,
            &["MONITOR"],
            "Unknown MONITOR subcommand",
        ),
    }
}

/// 730 for the online ones (nick!user@host), 731 for the offline ones.
fn send_status(ctx: &mut Ctx, targets: &[&str]) {
    let (online, offline) = ctx.state.monitor_status(targets);
    for chunk in pack(&online, ',', ctx.room(0)) {
        ctx.reply(RPL_MONONLINE, &[&chunk]);
    }
    for chunk in pack(&offline, ',', ctx.room(0)) {
        ctx.reply(RPL_MONOFFLINE, &[&chunk]);
    }
}
