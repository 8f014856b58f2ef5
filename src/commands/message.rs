//! PRIVMSG, NOTICE and TAGMSG to channels (with STATUSMSG) and to nicks,
//! AWAY and SETNAME. Bodies are relayed byte-exact (CTCP included) and never
//! logged.

use crate::{
    proto::{Message, caps::Cap, numerics::*},
    state::Verb,
};

use super::{Ctx, channel::truncate};

// PRIVMSG <target>{,<target>} <text>
pub fn privmsg(ctx: &mut Ctx, msg: &Message) {
    relay(ctx, msg, Verb::Privmsg);
}

// NOTICE <target>{,<target>} <text>
pub fn notice(ctx: &mut Ctx, msg: &Message) {
    relay(ctx, msg, Verb::Notice);
}

// TAGMSG <target>{,<target>}
pub fn tagmsg(ctx: &mut Ctx, msg: &Message) {
    // Only a client that negotiated message-tags has TAGMSG (InspIRCd drops
    // it silently; 421 says why nothing happened).
    if !ctx.client().has_cap(Cap::MessageTags.bit()) {
        ctx.reply(ERR_UNKNOWNCOMMAND, &["TAGMSG"]);
        return;
    }
    relay(ctx, msg, Verb::Tagmsg);
}

/// The client-only tags (`+key[=value]`) of a message that CLIENTTAGDENY
/// lets through, still escaped: valid keys only, the last of a duplicate.
pub(super) fn client_tags(msg: &Message, limits: &crate::config::Limits) -> Option<String> {
    crate::proto::message::relayable_client_tags(msg.tags?, |k| limits.client_tag_allowed(k))
}

fn relay(ctx: &mut Ctx, msg: &Message, verb: Verb) {
    // NOTICE never draws an automatic error reply (RFC 2812 3.3.2).
    let errors = verb != Verb::Notice;
    let tagmsg = verb == Verb::Tagmsg;
    let Some(targets) = msg.param(0).filter(|t| !t.is_empty()) else {
        if errors {
            ctx.reply(
                ERR_NORECIPIENT,
                &[&format!("No recipient given ({})", verb.as_str())],
            );
        }
        return;
    };
    let text = msg.param(1).unwrap_or("");
    if text.is_empty() && !tagmsg {
        if errors {
            ctx.reply(ERR_NOTEXTTOSEND, &[]);
        }
        return;
    }
    let text = (!tagmsg).then_some(text);
    let client = ctx.client().clone();
    // Client-only tags only from a client that negotiated message-tags.
    let tags = client
        .has_cap(Cap::MessageTags.bit())
        .then(|| client_tags(msg, &ctx.config.limits))
        .flatten();
    if tagmsg && tags.is_none() {
        // Nothing to carry (every tag invalid or denied): nothing to do, as
        // in Ergo.
        return;
    }
    let echo = client.has_cap(Cap::EchoMessage.bit());
    if !tagmsg {
        ctx.state.touch_client(&client);
    }
    let max = ctx.config.limits.max_targets;
    for (i, target) in targets.split(',').filter(|t| !t.is_empty()).enumerate() {
        if i >= max {
            if errors {
                ctx.reply(ERR_TOOMANYTARGETS, &[target]);
            }
            continue;
        }
        if let Some(service) = crate::services::Service::by_nick(target) {
            // Services answer PRIVMSG; a NOTICE or TAGMSG to them is dropped.
            if verb == Verb::Privmsg
                && let Some(text) = text
            {
                crate::services::route(ctx, service, text);
            }
            continue;
        }
        let (status, chan_name) = match target.find('#') {
            Some(p) if p > 0 && target[..p].chars().all(|c| c == '@' || c == '+') => {
                (Some(&target[..p]), &target[p..])
            }
            _ => (None, target),
        };
        let sent = if chan_name.starts_with('#') {
            ctx.state
                .message_channel(&client, chan_name, status, verb, text, tags.clone(), echo)
                .map(|d| (d, None))
        } else {
            ctx.state
                .message_user(&client, target, verb, text, tags.clone(), echo)
        };
        match sent {
            Err(r) => {
                if errors {
                    ctx.refuse(&r);
                }
            }
            Ok((d, away)) => {
                let to = d.to.first().map(|c| c.nick());
                ctx.deliver(d);
                if let (Verb::Privmsg, Some(away), Some(nick)) = (verb, away, to) {
                    ctx.reply(RPL_AWAY, &[&nick, &away]);
                }
            }
        }
    }
}

// AWAY [<text>]
pub fn away(ctx: &mut Ctx, msg: &Message) {
    let client = ctx.client().clone();
    let text = msg
        .param(0)
        .filter(|t| !t.is_empty())
        .map(|t| truncate(t, ctx.config.limits.awaylen).to_string());
    let back = text.is_none();
    let d = ctx.state.set_away(&client, text);
    if back {
        ctx.reply(RPL_UNAWAY, &[]);
    } else {
        ctx.reply(RPL_NOWAWAY, &[]);
    }
    ctx.deliver(d);
}

// SETNAME <realname>
pub fn setname(ctx: &mut Ctx, msg: &Message) {
    let name = msg.params()[0];
    if name.is_empty() || name.len() > ctx.config.limits.realnamelen {
        ctx.fail("SETNAME", "INVALID_REALNAME", "Realname is not valid");
        return;
    }
    let client = ctx.client().clone();
    let d = ctx.state.set_realname(&client, name);
    ctx.deliver(d);
}
