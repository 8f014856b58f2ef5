//! draft/relaymsg: `RELAYMSG <channel> <nick> :<text>` lets a relay bot
//! speak under a spoofed nick that carries a configured separator
//! (`alice/matrix`), which no real nick may have. Who may: operators and
//! listed accounts (`[relaymsg] opers`, `accounts`) wherever they may speak,
//! channel operators in their channels (`available_to_chanops`).

use super::{Ctx, message::client_tags, registration::valid_nick};
use crate::{
    config::Relaymsg,
    proto::{Message, caps::Cap},
    state::RelayRefusal,
};

/// A relayed nick: it carries a separator, and with each separator read
/// as `_` it is a valid nick of at most `max` bytes (so none of the
/// characters the spec reserves, `!+%@&#$:'"?*,.` and spaces, is in it).
pub fn valid_relay_nick(nick: &str, cfg: &Relaymsg, max: usize) -> bool {
    let plain: String = nick
        .chars()
        .map(|c| if cfg.separators.contains(c) { '_' } else { c })
        .collect();
    cfg.is_relayed(nick) && valid_nick(&plain, max)
}

fn fail(ctx: &mut Ctx, code: &str, text: &str) {
    ctx.fail("RELAYMSG", code, text);
}

// RELAYMSG <channel> <spoofed nick> :<message>
pub fn relaymsg(ctx: &mut Ctx, msg: &Message) {
    let cfg = ctx.config.clone();
    let relay = &cfg.relaymsg;
    if !relay.enabled {
        return fail(ctx, "NOT_ENABLED", "RELAYMSG has been disabled");
    }
    let p = msg.params();
    let (channel, nick, text) = (p[0], p[1], p[2]);
    if text.trim().is_empty() {
        return fail(ctx, "BLANK_MSG", "The message must not be blank");
    }
    if !valid_relay_nick(nick, relay, cfg.limits.nicklen) {
        let text = format!(
            "Invalid nickname: relayed nicks carry one of {:?} and are otherwise valid nicks",
            relay.separators
        );
        return fail(ctx, "INVALID_NICK", &text);
    }
    let client = ctx.client().clone();
    let account = client.snapshot().account;
    let privileged = (relay.opers && client.is_oper())
        || account
            .as_deref()
            .is_some_and(|a| relay.accounts.iter().any(|x| ctx.state.casemap.eq(x, a)));
    let echo = client.has_cap(Cap::EchoMessage.bit());
    let tags = client_tags(msg, &cfg.limits);
    ctx.state.touch_client(&client);
    match ctx.state.relay_message(
        &client,
        channel,
        nick,
        text,
        tags,
        echo,
        privileged,
        relay.available_to_chanops,
    ) {
        Ok(d) => ctx.deliver(d),
        Err(RelayRefusal::Numeric(r)) => ctx.refuse(&r),
        Err(RelayRefusal::PrivsNeeded) => fail(
            ctx,
            "PRIVS_NEEDED",
            "You cannot relay messages to this channel",
        ),
    }
}
