//! REDACT (IRCv3 draft/message-redaction): one's own message, or as a
//! channel operator anyone's in that channel, is removed from history and
//! the REDACT relayed, like a PRIVMSG, to the members (or the other end of
//! a conversation) that have the capability; echoed per echo-message. The
//! reason is relayed and never logged. While `[history] enabled = false`
//! the command does not exist (421): a message is known only from history.

use crate::{
    proto::{Message, caps::Cap, line::truncate, numerics::ERR_UNKNOWNCOMMAND},
    state::RedactError,
};

use super::{Ctx, chathistory::safe};

// REDACT <target> <msgid> [<reason>]
pub fn redact(ctx: &mut Ctx, msg: &Message) {
    if !ctx.config.history.enabled {
        ctx.reply(ERR_UNKNOWNCOMMAND, &["REDACT"]);
        return;
    }
    let (target, msgid) = (msg.params()[0], msg.params()[1]);
    let reason = msg.param(2).map(|r| truncate(r, ctx.config.limits.kicklen));
    let client = ctx.client().clone();
    let echo = client.has_cap(Cap::EchoMessage.bit());
    match ctx.state.redact(&client, target, msgid, reason, echo) {
        Ok(d) => ctx.deliver(d),
        Err(e) => {
            let (t, m) = (safe(target), safe(msgid));
            let (code, args, text) = match e {
                RedactError::InvalidTarget => (
                    "INVALID_TARGET",
                    vec![t],
                    format!("You cannot delete messages from {t}"),
                ),
                RedactError::Forbidden => (
                    "REDACT_FORBIDDEN",
                    vec![t, m],
                    "You are not authorised to delete this message".into(),
                ),
                RedactError::UnknownMsgid => (
                    "UNKNOWN_MSGID",
                    vec![t, m],
                    "This message does not exist or is too old".into(),
                ),
            };
            ctx.fail_with("REDACT", code, &args, &text);
        }
    }
}
