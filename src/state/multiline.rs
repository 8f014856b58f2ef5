//! draft/multiline: a whole message of several lines, checked like a
//! PRIVMSG or NOTICE to the same target (a channel through the one path of
//! channel messages, `State::speak`; +R for a nick) and delivered as one
//! event ([`Event::Multiline`]) with one msgid, which history keeps as one
//! entry (a channel's ring, or a conversation between logged-in users).

use super::{
    ClientRef, Delivery, Event, Refusal, State, Verb, audience::Speaker, events::Multiline,
};
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
        let event = |s: &Speaker, target: String| Event::Multiline {
            verb,
            source: s.prefix(),
            target,
            body,
            client_tags,
            msgid: self.new_msgid(),
            account: s.account.clone(),
            bot: s.bot,
        };
        if target.starts_with('#') {
            let d = self.speak(
                client,
                target,
                status,
                |_| Ok::<(), Refusal>(()),
                |a| Delivery::new(event(a.speaker, a.target), a.to).echo(echo),
            )?;
            return Ok((d, None));
        }
        let to = self
            .find_nick(target)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHNICK, &[target]))?;
        let speaker = Speaker::of(client);
        let (nick, away, registered_only, to_account) = {
            let t = to.info();
            (
                t.nick.clone(),
                t.away.clone(),
                t.modes.registered_only,
                t.account.clone(),
            )
        };
        // User mode +R: only logged-in users may message this user.
        if to.id != client.id && registered_only && speaker.account.is_none() {
            return Err(Refusal::new(ERR_NEEDREGGEDNICK, &[&nick]));
        }
        let d = Delivery::new(event(&speaker, nick), vec![to]).echo(echo);
        self.keep_dm(
            speaker.account.as_deref(),
            to_account.as_deref(),
            &d,
            client.id,
        );
        Ok((d, away))
    }
}
