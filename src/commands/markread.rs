//! draft/read-marker: `MARKREAD <target> [timestamp=...]` gets or moves
//! forward the time of the last message the user read in a buffer. A
//! logged-in user's markers belong to the account, in memory only, and a
//! change reaches the account's other connections that have the cap; a
//! connection without an account keeps its own for as long as it lasts.
//! After a JOIN, a client with the cap is told the channel's marker.

use super::{Ctx, channel::valid_channel, registration::valid_nick};
use crate::{
    proto::{Line, Message, caps::Cap, numerics::*, time::parse_server_time},
    state::{MarkerMap, marker_param, unix_ms},
};

fn fail(ctx: &mut Ctx, code: &str, params: &[&str], text: &str) {
    let line = Line::new(Some(&ctx.config.server.name), "FAIL")
        .arg("MARKREAD")
        .arg(code)
        .args(params.iter().map(|p| crate::proto::line::middle(p)))
        .text(text)
        .build();
    ctx.push(line);
}

fn send(ctx: &mut Ctx, target: &str, ms: Option<u64>) {
    let line = Line::new(Some(&ctx.config.server.name), "MARKREAD")
        .arg(crate::proto::line::middle(target))
        .arg(&marker_param(ms))
        .build();
    ctx.push(line);
}

/// The marker of `target` for this connection's user.
fn get(ctx: &mut Ctx, account: Option<&str>, target: &str) -> Option<u64> {
    match account {
        Some(a) => ctx.state.read_marker(a, target),
        None => ctx
            .session
            .markers
            .as_ref()
            .and_then(|m| m.get(&ctx.state.fold(target))),
    }
}

// MARKREAD <target> [timestamp=<YYYY-MM-DDThh:mm:ss.sssZ>]
pub fn markread(ctx: &mut Ctx, msg: &Message) {
    if !ctx.config.read_markers.enabled {
        ctx.reply(ERR_UNKNOWNCOMMAND, &["MARKREAD"]);
        return;
    }
    let Some(target) = msg.param(0).filter(|t| !t.is_empty()) else {
        return fail(ctx, "NEED_MORE_PARAMS", &[], "Missing parameters");
    };
    let limits = &ctx.config.limits;
    if !valid_channel(target, limits.channellen) && !valid_nick(target, limits.nicklen) {
        return fail(ctx, "INVALID_PARAMS", &[target], "Invalid target");
    }
    let shown = ctx.state.marker_target_name(target);
    let client = ctx.client().clone();
    let account = client.snapshot().account;
    let Some(param) = msg.param(1) else {
        let ms = get(ctx, account.as_deref(), &shown);
        return send(ctx, &shown, ms);
    };
    let Some(at) = param.strip_prefix("timestamp=").and_then(parse_server_time) else {
        return fail(ctx, "INVALID_PARAMS", &[param], "Invalid timestamp");
    };
    // A marker never runs ahead of the server's clock.
    let at = at.min(unix_ms());
    let max = ctx.config.read_markers.max_targets;
    let stored = match account {
        Some(a) => {
            let (stored, others) = ctx.state.set_read_marker(&client, &a, &shown, at, max);
            if let Some(d) = others {
                ctx.deliver(d);
            }
            stored
        }
        None => {
            let folded = ctx.state.fold(&shown);
            ctx.session
                .markers
                .get_or_insert_with(Box::<MarkerMap>::default)
                .advance(&folded, at, max)
                .0
        }
    };
    send(ctx, &shown, Some(stored));
}

/// After this client's JOIN of `channel`: its marker, for a client with the
/// cap (before RPL_ENDOFNAMES, as the spec asks).
pub fn after_join(ctx: &mut Ctx, channel: &str) {
    if !ctx.config.read_markers.enabled || !ctx.client().has_cap(Cap::ReadMarker.bit()) {
        return;
    }
    let account = ctx.client().snapshot().account;
    let ms = get(ctx, account.as_deref(), channel);
    send(ctx, channel, ms);
}
