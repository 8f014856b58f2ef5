//! Channel operations a service performs (ChanServ OP, KICK, BAN, TOPIC,
//! INVITE, CLOSE, auto-modes on join): like the users' own, each checks and
//! applies under the channel lock and returns what happened; the source of
//! the events is the service.

use super::{
    ClientId, ClientRef, Delivery, Event, Refusal, State,
    channel::{ListEntry, Topic, Who},
    channels::MAX_INVITES,
    unix_now,
};
use crate::proto::numerics::*;

/// A client's standing in a channel (ChanServ's checks).
pub struct MemberStatus {
    pub name: String,
    pub member: bool,
    pub op: bool,
    pub ephemeral: bool,
}

impl State {
    /// The caller's standing in channel `name`, if it exists.
    pub fn member_status(&self, client: &ClientRef, name: &str) -> Option<MemberStatus> {
        let chan = self.channel(name)?;
        let ch = chan.lock();
        Some(MemberStatus {
            name: ch.name.clone(),
            member: ch.members.contains_key(&client.id),
            op: ch.is_op(client.id),
            ephemeral: ch.modes.ephemeral.is_some(),
        })
    }

    /// A service sets +o/-o/+v/-v on a member (ChanServ OP, auto-op on join).
    /// Ok(None) when nothing changed; Err when the target is not a member.
    pub fn service_mode(
        &self,
        name: &str,
        target: &ClientRef,
        mode: char,
        add: bool,
        source: &str,
    ) -> Result<Option<Delivery>, Refusal> {
        let chan = self
            .channel(name)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHCHANNEL, &[name]))?;
        let mut ch = chan.lock();
        let display = ch.name.clone();
        let Some(m) = ch.members.get_mut(&target.id) else {
            return Err(Refusal::new(
                ERR_USERNOTINCHANNEL,
                &[&target.nick(), &display],
            ));
        };
        let flag = if mode == 'o' { &mut m.op } else { &mut m.voice };
        if std::mem::replace(flag, add) == add {
            return Ok(None);
        }
        let sign = if add { "+" } else { "-" };
        Ok(Some(Delivery::new(
            Event::ModeChanged {
                channel: display,
                source: source.to_string(),
                modes: format!("{sign}{mode}"),
                args: vec![target.nick()],
            },
            ch.member_clients(None),
        )))
    }

    /// A service kicks a member (ChanServ AKICK, KICK).
    pub fn service_kick(
        &self,
        name: &str,
        victim: &ClientRef,
        reason: &str,
        source: &str,
    ) -> Result<Delivery, Refusal> {
        let chan = self
            .channel(name)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHCHANNEL, &[name]))?;
        let (delivery, empty) = {
            let mut ch = chan.lock();
            let display = ch.name.clone();
            if !ch.members.contains_key(&victim.id) {
                return Err(Refusal::new(
                    ERR_USERNOTINCHANNEL,
                    &[&victim.nick(), &display],
                ));
            }
            let mut d = Delivery::new(
                Event::Kicked {
                    channel: display,
                    source: source.to_string(),
                    victim: victim.nick(),
                    reason: reason.to_string(),
                },
                ch.member_clients(None),
            );
            self.keep(&mut ch, &mut d, 0);
            (d, self.take_member(&mut ch, &chan, victim.id))
        };
        if empty {
            self.drop_if_empty(&chan);
        }
        Ok(delivery)
    }

    /// A service sets the topic (ChanServ TOPIC).
    pub fn service_topic(&self, name: &str, text: &str, source: &str) -> Result<Delivery, Refusal> {
        let chan = self
            .channel(name)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHCHANNEL, &[name]))?;
        let mut ch = chan.lock();
        ch.topic = (!text.is_empty()).then(|| Topic {
            text: text.to_string(),
            setter: source.to_string(),
            time: unix_now(),
        });
        let mut d = Delivery::new(
            Event::TopicSet {
                channel: ch.name.clone(),
                source: source.to_string(),
                text: text.to_string(),
            },
            ch.member_clients(None),
        );
        self.keep(&mut ch, &mut d, 0);
        Ok(d)
    }

    /// A service invites `target` (ChanServ INVITE): a one-shot invitation
    /// past +i, +k, +l and bans, and the INVITE line to the target.
    pub fn service_invite(
        &self,
        name: &str,
        target: &ClientRef,
        source: &str,
    ) -> Result<Delivery, Refusal> {
        let chan = self
            .channel(name)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHCHANNEL, &[name]))?;
        let mut ch = chan.lock();
        if ch.members.contains_key(&target.id) {
            return Err(Refusal::new(ERR_USERONCHANNEL, &[&target.nick(), &ch.name]));
        }
        if !ch.invites.contains(&target.id) {
            if ch.invites.len() >= MAX_INVITES {
                ch.invites.pop_front();
            }
            ch.invites.push_back(target.id);
        }
        Ok(Delivery::new(
            Event::Invited {
                source: source.to_string(),
                account: None,
                target: target.nick(),
                channel: ch.name.clone(),
            },
            vec![target.clone()],
        ))
    }

    /// A service adds (or removes) a ban mask (ChanServ BAN/UNBAN); adding
    /// also revokes `revoke`'s pending invitation. None when nothing changed.
    pub fn service_ban(
        &self,
        name: &str,
        mask: &str,
        add: bool,
        revoke: Option<ClientId>,
        source: &str,
    ) -> Result<Option<Delivery>, Refusal> {
        let chan = self
            .channel(name)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHCHANNEL, &[name]))?;
        let mut ch = chan.lock();
        if let Some(id) = revoke {
            ch.invites.retain(|x| *x != id);
        }
        let cm = self.casemap;
        let pos = ch.bans.iter().position(|b| cm.eq(&b.mask, mask));
        let changed = match (add, pos) {
            (true, None) => {
                ch.bans.push(ListEntry {
                    mask: mask.to_string(),
                    setter: source.to_string(),
                    time: unix_now(),
                });
                true
            }
            (false, Some(i)) => {
                ch.bans.remove(i);
                true
            }
            _ => false,
        };
        Ok(changed.then(|| {
            Delivery::new(
                Event::ModeChanged {
                    channel: ch.name.clone(),
                    source: source.to_string(),
                    modes: if add { "+b" } else { "-b" }.into(),
                    args: vec![mask.to_string()],
                },
                ch.member_clients(None),
            )
        }))
    }

    /// The ban masks of `name` that match `client` (ChanServ UNBAN).
    pub fn bans_matching(&self, name: &str, client: &ClientRef) -> Vec<String> {
        let Some(chan) = self.channel(name) else {
            return Vec::new();
        };
        let info = client.info().clone();
        let who = Who::of(&info, client.ip);
        let ch = chan.lock();
        ch.bans
            .iter()
            .filter(|b| who.matches(&b.mask, self.casemap))
            .map(|b| b.mask.clone())
            .collect()
    }

    /// ChanServ CLOSE: destroys the channel now, like the idle self-destruct.
    pub fn close_channel(&self, name: &str, reason: &str) -> Option<Delivery> {
        let chan = self.channel(name)?;
        self.destroy_channel(&chan, |_| true, reason)
    }
}
