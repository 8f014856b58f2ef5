//! draft/relaymsg: a relay bot speaks in a channel under a spoofed nick
//! (`alice/matrix`), delivered as a PRIVMSG from `nick!relay@<bot's host>`
//! with the bot's nick in the `draft/relaymsg` tag. The nick carries a
//! separator that no real nick may have, so it can never pass for a user.
//! It takes the path of every channel message (`State::speak`), so history
//! keeps it under the relayed nick, with the relayer for the tag on replay.

use super::{ClientRef, Delivery, Event, Refusal, State, Verb};

/// Why a RELAYMSG was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayRefusal {
    /// A standard numeric (403, 404).
    Numeric(Refusal),
    /// Neither a privileged relayer nor (where allowed) a channel operator.
    PrivsNeeded,
}

impl From<Refusal> for RelayRefusal {
    fn from(r: Refusal) -> Self {
        RelayRefusal::Numeric(r)
    }
}

/// The ident of relayed sources.
pub const RELAY_IDENT: &str = "relay";

impl State {
    /// RELAYMSG: `client` speaks in `channel` as `nick`. `privileged`: it
    /// may relay wherever it may speak (an oper or an allowed account);
    /// else `chanops` lets a channel operator relay in that channel.
    #[allow(clippy::too_many_arguments)]
    pub fn relay_message(
        &self,
        client: &ClientRef,
        channel: &str,
        nick: &str,
        text: &str,
        client_tags: Option<String>,
        echo: bool,
        privileged: bool,
        chanops: bool,
    ) -> Result<Delivery, RelayRefusal> {
        let id = client.id;
        let check = |ch: &super::channel::Channel| {
            if privileged || (chanops && ch.is_op(id)) {
                Ok(())
            } else {
                Err(RelayRefusal::PrivsNeeded)
            }
        };
        self.speak(client, channel, None, check, |a| {
            Delivery::new(
                Event::Message {
                    verb: Verb::Privmsg,
                    source: format!("{nick}!{RELAY_IDENT}@{}", a.speaker.host),
                    target: a.target,
                    text: Some(text.to_string()),
                    client_tags,
                    msgid: self.new_msgid(),
                    account: None,
                    bot: false,
                    relay: Some(a.speaker.nick.clone()),
                },
                a.to,
            )
            .echo(echo)
        })
    }
}
