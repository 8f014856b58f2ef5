//! The one path of every message to a channel (PRIVMSG, NOTICE, TAGMSG,
//! RELAYMSG, draft/multiline): the can-speak checks (+n, +m, +M, bans with
//! their exceptions), the members who hear it (all, or a STATUSMSG rank),
//! the activity stamp of the idle clock, and the record in history, all
//! under the channel's lock, so a message is kept in the order it was
//! relayed and only when it was let through.

use std::net::IpAddr;

use super::{
    ClientRef, Delivery, Refusal, State,
    channel::{Channel, Who},
};
use crate::proto::numerics::*;

/// The sender of a message as it was when it spoke: what the event and
/// the ban checks need, copied out of its info before the channel lock
/// (lock order: a channel before a client's info).
pub(super) struct Speaker {
    pub nick: String,
    pub user: String,
    pub host: String,
    pub account: Option<String>,
    pub bot: bool,
    ip: IpAddr,
}

impl Speaker {
    pub fn of(client: &ClientRef) -> Self {
        let i = client.info();
        Speaker {
            nick: i.nick.clone(),
            user: i.user.clone(),
            host: i.host.clone(),
            account: i.account.clone(),
            bot: i.modes.bot,
            ip: client.ip,
        }
    }

    pub fn prefix(&self) -> String {
        format!("{}!{}@{}", self.nick, self.user, self.host)
    }

    fn who(&self) -> Who<'_> {
        Who {
            nick: &self.nick,
            user: &self.user,
            host: &self.host,
            ip: self.ip,
            account: self.account.as_deref(),
        }
    }
}

/// Who hears a message to a channel, decided under its lock.
pub(super) struct Audience<'a> {
    pub speaker: &'a Speaker,
    pub to: Vec<ClientRef>,
    /// The target as recipients see it (STATUSMSG prefix, channel's spelling).
    pub target: String,
}

impl State {
    /// `client` speaks in channel `name` (to its operators, or operators
    /// and voices, with a STATUSMSG `status`): `check` sees the channel
    /// under its lock first (RELAYMSG's privilege), then the can-speak
    /// checks; `make` builds the delivery for the audience, which is
    /// recorded in the channel's history (when it keeps one) before the
    /// lock is released. Stamps the channel's activity (ephemeral channels).
    pub(super) fn speak<E: From<Refusal>>(
        &self,
        client: &ClientRef,
        name: &str,
        status: Option<&str>,
        check: impl FnOnce(&Channel) -> Result<(), E>,
        make: impl FnOnce(Audience<'_>) -> Delivery,
    ) -> Result<Delivery, E> {
        let chan = self
            .channel(name)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHCHANNEL, &[name]))?;
        let speaker = Speaker::of(client);
        let mut ch = chan.lock();
        check(&ch)?;
        if !ch.can_speak(client.id, &speaker.who(), self.casemap) {
            return Err(Refusal::new(ERR_CANNOTSENDTOCHAN, &[&ch.name]).into());
        }
        let min_op = status.is_some_and(|s| s.contains('@'));
        let to = ch
            .members
            .iter()
            .filter(|(id, _)| **id != client.id)
            .filter(|(_, m)| match status {
                None => true,
                Some(_) if min_op => m.op,
                Some(_) => m.op || m.voice,
            })
            .filter_map(|(_, m)| m.upgrade())
            .collect();
        ch.last_activity = tokio::time::Instant::now();
        ch.warned = false;
        let target = format!("{}{}", status.unwrap_or(""), ch.name);
        let mut d = make(Audience {
            speaker: &speaker,
            to,
            target,
        });
        self.keep(&mut ch, &mut d, client.id);
        Ok(d)
    }
}
