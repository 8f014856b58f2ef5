//! draft/multiline: a whole message of several lines, checked like a
//! PRIVMSG or NOTICE to the same target (can-speak, +R) and delivered as one
//! event ([`Event::Multiline`]) with one msgid.

use super::{ClientRef, Delivery, Event, Refusal, State, Verb, events::Multiline};
use crate::proto::numerics::*;

impl State {
    /// A draft/multiline PRIVMSG or NOTICE to a channel (`status`: a
    /// STATUSMSG prefix) or to a nick. Returns the delivery and, for a
    /// nick, its away text (RPL_AWAY).
    #[allow(clippy::too_many_arguments)]
    pub fn message_multiline(
        &self,
        client: &ClientRef,
        target: &str,
        status: Option<&str>,
        verb: Verb,
        body: Multiline,
        client_tags: Option<String>,
        echo: bool,
    ) -> Result<(Delivery, Option<String>), Refusal> {
        let (to, target, away) = if target.starts_with('#') {
            let a = self.channel_audience(client, target, status, |_| Ok::<(), Refusal>(()))?;
            (a.to, a.target, None)
        } else {
            let to = self
                .find_nick(target)
                .ok_or_else(|| Refusal::new(ERR_NOSUCHNICK, &[target]))?;
            let logged_in = client.info().account.is_some();
            let (nick, away, registered_only) = {
                let t = to.info();
                (t.nick.clone(), t.away.clone(), t.modes.registered_only)
            };
            // User mode +R: only logged-in users may message this user.
            if to.id != client.id && registered_only && !logged_in {
                return Err(Refusal::new(ERR_NEEDREGGEDNICK, &[&nick]));
            }
            (vec![to], nick, away)
        };
        let (source, account, bot) = {
            let i = client.info();
            (i.prefix(), i.account.clone(), i.modes.bot)
        };
        let d = Delivery::new(
            Event::Multiline {
                verb,
                source,
                target,
                body,
                client_tags,
                msgid: self.new_msgid(),
                account,
                bot,
            },
            to,
        )
        .echo(echo);
        Ok((d, away))
    }
}
