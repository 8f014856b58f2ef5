//! Who hears a message to a channel: the can-speak checks and the members
//! (all, or a STATUSMSG rank), under the channel's lock, shared by the
//! messages that are not plain PRIVMSG/NOTICE (RELAYMSG, multiline).

use super::{
    ClientRef, Refusal, State,
    channel::{Channel, Who},
};
use crate::proto::numerics::*;

/// Who hears a message to a channel, checked under its lock.
pub(super) struct Audience {
    pub to: Vec<ClientRef>,
    /// The target as recipients see it (STATUSMSG prefix, channel's spelling).
    pub target: String,
}

impl State {
    /// The members who hear `client` speak in channel `name` (only ops, or
    /// ops and voices, with a STATUSMSG `status`), after the can-speak
    /// checks and `check`, which sees the channel under its lock. Stamps
    /// the channel's activity (ephemeral channels).
    pub(super) fn channel_audience<E: From<Refusal>>(
        &self,
        client: &ClientRef,
        name: &str,
        status: Option<&str>,
        check: impl FnOnce(&Channel) -> Result<(), E>,
    ) -> Result<Audience, E> {
        let chan = self
            .channel(name)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHCHANNEL, &[name]))?;
        let info = client.info().clone();
        let mut ch = chan.lock();
        check(&ch)?;
        let who = Who::of(&info, client.ip);
        if !ch.can_speak(client.id, &who, self.casemap) {
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
        Ok(Audience { to, target })
    }
}
