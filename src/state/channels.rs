//! Channel operations: JOIN, PART, KICK, TOPIC, INVITE, a message to a
//! channel, and the one path that destroys a channel. Each runs its checks,
//! its change and the choice of recipients under one channel lock, so a KICK
//! cannot race a PART and a TOPIC is announced as it was set.

use std::{sync::Arc, time::Duration};

use parking_lot::Mutex;

use super::{
    ClientId, ClientRef, Delivery, Event, Refusal, State, Verb,
    channel::{Channel, ChannelRef, Member, Topic, Who},
    maybe_shrink, unix_now,
};
use crate::proto::{caps::Cap, numerics::*};

/// Pending invitations kept per channel.
pub const MAX_INVITES: usize = 64;

/// What a JOIN did.
pub struct Joined {
    /// JOIN to the other members; the joiner's own copy is `echo`.
    pub delivery: Delivery,
    /// away-notify members learn that the joiner is away.
    pub away: Option<Delivery>,
    pub created: bool,
    pub view: JoinView,
}

/// What the joiner is told after its JOIN.
pub struct JoinView {
    pub name: String,
    pub topic: Option<Topic>,
    pub ephemeral: Option<Duration>,
}

/// What an INVITE did.
pub struct Invited {
    /// INVITE to the target.
    pub to_target: Delivery,
    /// invite-notify: the channel's operators who asked for it.
    pub to_ops: Delivery,
    pub target_nick: String,
    pub channel: String,
    pub target_away: Option<String>,
}

/// Removes `chan` from a client's list of channels (only that channel: a
/// newer one of the same name stays).
fn forget_channel(client: &ClientRef, folded: &str, chan: &ChannelRef) {
    let mut info = client.info();
    if info
        .channels
        .get(folded)
        .is_some_and(|c| Arc::ptr_eq(c, chan))
    {
        info.channels.remove(folded);
        maybe_shrink(&mut info.channels);
    }
}

impl State {
    /// Joins `client` to `name`, creating the channel (with the joiner as
    /// operator, +nt, and +E when the config makes channels ephemeral) when
    /// it does not exist. Enforces bans (with exceptions), +i (with +I and
    /// invites), +k and +l; an invitation is used up. `on_joined` runs under
    /// the channel lock once the member is in, so that the JOIN it queues to
    /// the joiner comes before anything said in the channel.
    /// Ok(None): the client is already a member.
    pub fn join(
        &self,
        client: &ClientRef,
        name: &str,
        key: Option<&str>,
        on_joined: impl FnOnce(&Delivery),
    ) -> Result<Option<Joined>, Refusal> {
        let folded = self.fold(name);
        let cfg = self.config();
        {
            let info = client.info();
            if info.channels.len() >= cfg.limits.max_channels
                && !info.channels.contains_key(&folded)
            {
                return Err(Refusal::new(ERR_TOOMANYCHANNELS, &[name]));
            }
        }
        loop {
            let (chan, created) = {
                let mut map = self.channels.lock();
                match map.get(&folded) {
                    Some(c) => (c.clone(), false),
                    None => {
                        let mut ch = Channel::new(name, unix_now());
                        ch.modes.no_external = true;
                        ch.modes.topic_lock = true;
                        let c = &cfg.channels;
                        if c.ephemeral_by_default || c.enforce_ephemeral {
                            ch.modes.ephemeral = Some(c.idle_timeout);
                        }
                        let c = Arc::new(Mutex::new(ch));
                        map.insert(folded.clone(), c.clone());
                        (c, true)
                    }
                }
            };
            let mut ch = chan.lock();
            if ch.dead {
                continue;
            }
            if ch.members.contains_key(&client.id) {
                return Ok(None);
            }
            let info = client.info().clone();
            if !created {
                let who = Who::of(&info, client.ip);
                let display = ch.name.clone();
                let refuse = |n| Err(Refusal::new(n, &[&display]));
                if !ch.invites.contains(&client.id) {
                    if ch.is_banned(&who, self.casemap) {
                        return refuse(ERR_BANNEDFROMCHAN);
                    }
                    if ch.modes.invite_only && !ch.is_invex(&who, self.casemap) {
                        return refuse(ERR_INVITEONLYCHAN);
                    }
                    if ch
                        .modes
                        .key
                        .as_deref()
                        .is_some_and(|k| key != Some(k.as_str()))
                    {
                        return refuse(ERR_BADCHANNELKEY);
                    }
                    if ch.modes.limit.is_some_and(|l| ch.members.len() >= l) {
                        return refuse(ERR_CHANNELISFULL);
                    }
                    if ch.modes.registered_join && info.account.is_none() {
                        return refuse(ERR_NEEDREGGEDNICK);
                    }
                }
                ch.invites.retain(|x| *x != client.id);
            }
            let others = ch.member_clients(None);
            ch.members.insert(client.id, Member::new(client, created));
            ch.last_activity = tokio::time::Instant::now();
            ch.warned = false;
            client.info().channels.insert(folded, chan.clone());
            let mut delivery = Delivery::new(
                Event::Joined {
                    channel: ch.name.clone(),
                    source: info.prefix(),
                    account: info.account.clone(),
                    realname: info.realname.clone(),
                },
                others,
            )
            .echo(true);
            self.keep(&mut ch, &mut delivery, client.id);
            on_joined(&delivery);
            let away = info.away.clone().map(|text| {
                Delivery::new(
                    Event::AwayChanged {
                        source: info.prefix(),
                        text: Some(text),
                    },
                    delivery.to.clone(),
                )
                .only_with(Cap::AwayNotify)
            });
            let view = JoinView {
                name: ch.name.clone(),
                topic: ch.topic.clone(),
                ephemeral: ch.modes.ephemeral,
            };
            drop(ch);
            if created && view.ephemeral.is_some() {
                // Armed once, at creation; activity moves the deadline lazily.
                self.schedule_idle(&chan);
            }
            return Ok(Some(Joined {
                delivery,
                away,
                created,
                view,
            }));
        }
    }

    /// PART: the members (and the client itself) hear of it.
    pub fn part(
        &self,
        client: &ClientRef,
        name: &str,
        reason: Option<&str>,
    ) -> Result<Delivery, Refusal> {
        let chan = self
            .channel(name)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHCHANNEL, &[name]))?;
        self.part_channel(client, &chan, reason)
            .ok_or_else(|| Refusal::new(ERR_NOTONCHANNEL, &[name]))
    }

    /// JOIN 0: parts every channel.
    pub fn part_all(&self, client: &ClientRef) -> Vec<Delivery> {
        let chans: Vec<ChannelRef> = client.info().channels.values().cloned().collect();
        chans
            .iter()
            .filter_map(|ch| self.part_channel(client, ch, None))
            .collect()
    }

    fn part_channel(
        &self,
        client: &ClientRef,
        chan: &ChannelRef,
        reason: Option<&str>,
    ) -> Option<Delivery> {
        let (delivery, empty) = {
            let mut ch = chan.lock();
            if !ch.members.contains_key(&client.id) {
                return None;
            }
            let mut d = Delivery::new(
                Event::Parted {
                    channel: ch.name.clone(),
                    source: client.prefix(),
                    reason: reason.map(str::to_string),
                },
                ch.member_clients(Some(client.id)),
            )
            .echo(true);
            self.keep(&mut ch, &mut d, client.id);
            (d, self.take_member(&mut ch, chan, client.id))
        };
        if empty {
            self.drop_if_empty(chan);
        }
        Some(delivery)
    }

    /// Takes `id` out of a locked channel; returns whether it is now empty.
    pub(super) fn take_member(&self, ch: &mut Channel, chan: &ChannelRef, id: ClientId) -> bool {
        if let Some(member) = ch.members.remove(&id) {
            ch.invites.retain(|x| *x != id);
            // Under the channel lock, and only this channel's entry: a JOIN of
            // a newer channel of the same name must not lose its membership.
            if let Some(c) = member.upgrade() {
                forget_channel(&c, &self.fold(&ch.name), chan);
            }
        }
        ch.members.is_empty()
    }

    /// Removes an empty channel from the registry (registry, then channel);
    /// a registered channel stays.
    pub(super) fn drop_if_empty(&self, chan: &ChannelRef) {
        let mut map = self.channels.lock();
        let mut ch = chan.lock();
        if ch.members.is_empty() && !ch.dead && !ch.registered {
            ch.dead = true;
            self.forget_history(&mut ch);
            self.idle.disarm(chan, &mut ch);
            let folded = self.fold(&ch.name);
            if map.get(&folded).is_some_and(|c| Arc::ptr_eq(c, chan)) {
                map.remove(&folded);
                maybe_shrink(&mut map);
            }
        }
    }

    /// Takes `id` out of a channel (QUIT); destroys the channel when it
    /// empties. Nobody is told here: the caller announces the QUIT.
    pub(super) fn remove_member(&self, chan: &ChannelRef, id: ClientId) {
        let empty = {
            let mut ch = chan.lock();
            if !ch.members.contains_key(&id) {
                return;
            }
            self.take_member(&mut ch, chan, id)
        };
        if empty {
            self.drop_if_empty(chan);
        }
    }

    /// KICK: checked (kicker on the channel and an operator, victim on it),
    /// announced and applied under one lock.
    pub fn kick(
        &self,
        kicker: &ClientRef,
        name: &str,
        victim_nick: &str,
        reason: &str,
    ) -> Result<Delivery, Refusal> {
        let chan = self
            .channel(name)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHCHANNEL, &[name]))?;
        let victim = self.find_nick(victim_nick);
        let (delivery, empty) = {
            let mut ch = chan.lock();
            let display = ch.name.clone();
            if !ch.members.contains_key(&kicker.id) {
                return Err(Refusal::new(ERR_NOTONCHANNEL, &[&display]));
            }
            if !ch.is_op(kicker.id) {
                return Err(Refusal::new(ERR_CHANOPRIVSNEEDED, &[&display]));
            }
            let Some(victim) = victim.filter(|v| ch.members.contains_key(&v.id)) else {
                return Err(Refusal::new(ERR_USERNOTINCHANNEL, &[victim_nick, &display]));
            };
            let mut d = Delivery::new(
                Event::Kicked {
                    channel: display,
                    source: kicker.prefix(),
                    victim: victim.nick(),
                    reason: reason.to_string(),
                },
                ch.member_clients(Some(kicker.id)),
            )
            .echo(true);
            self.keep(&mut ch, &mut d, kicker.id);
            (d, self.take_member(&mut ch, &chan, victim.id))
        };
        if empty {
            self.drop_if_empty(&chan);
        }
        Ok(delivery)
    }

    /// The topic of a channel, for a viewer: Err(442) for a secret channel
    /// the viewer is not on. Returns the display name and the topic.
    pub fn topic(
        &self,
        viewer: &ClientRef,
        name: &str,
    ) -> Result<(String, Option<Topic>), Refusal> {
        let chan = self
            .channel(name)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHCHANNEL, &[name]))?;
        let ch = chan.lock();
        if ch.modes.secret && !ch.members.contains_key(&viewer.id) {
            return Err(Refusal::new(ERR_NOTONCHANNEL, &[&ch.name]));
        }
        Ok((ch.name.clone(), ch.topic.clone()))
    }

    /// Sets (or with an empty text, clears) the topic; +t needs an operator.
    pub fn set_topic(
        &self,
        client: &ClientRef,
        name: &str,
        text: &str,
    ) -> Result<Delivery, Refusal> {
        let chan = self
            .channel(name)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHCHANNEL, &[name]))?;
        let mut ch = chan.lock();
        if !ch.members.contains_key(&client.id) {
            return Err(Refusal::new(ERR_NOTONCHANNEL, &[&ch.name]));
        }
        if ch.modes.topic_lock && !ch.is_op(client.id) {
            return Err(Refusal::new(ERR_CHANOPRIVSNEEDED, &[&ch.name]));
        }
        let source = client.prefix();
        ch.topic = (!text.is_empty()).then(|| Topic {
            text: text.to_string(),
            setter: source.clone(),
            time: unix_now(),
        });
        let mut d = Delivery::new(
            Event::TopicSet {
                channel: ch.name.clone(),
                source,
                text: text.to_string(),
            },
            ch.member_clients(Some(client.id)),
        )
        .echo(true);
        self.keep(&mut ch, &mut d, client.id);
        Ok(d)
    }

    /// Records a one-shot invitation of `target` by `inviter`.
    pub fn invite(
        &self,
        inviter: &ClientRef,
        target_nick: &str,
        name: &str,
    ) -> Result<Invited, Refusal> {
        let target = self
            .find_nick(target_nick)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHNICK, &[target_nick]))?;
        let chan = self
            .channel(name)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHCHANNEL, &[name]))?;
        let mut ch = chan.lock();
        if !ch.members.contains_key(&inviter.id) {
            return Err(Refusal::new(ERR_NOTONCHANNEL, &[name]));
        }
        if ch.modes.invite_only && !ch.is_op(inviter.id) {
            return Err(Refusal::new(ERR_CHANOPRIVSNEEDED, &[name]));
        }
        let tnick = target.nick();
        if ch.members.contains_key(&target.id) {
            return Err(Refusal::new(ERR_USERONCHANNEL, &[&tnick, name]));
        }
        // Bounded: the oldest invitation goes when there are too many.
        if !ch.invites.contains(&target.id) {
            if ch.invites.len() >= MAX_INVITES {
                ch.invites.pop_front();
            }
            ch.invites.push_back(target.id);
        }
        let event = Event::Invited {
            source: inviter.prefix(),
            account: inviter.info().account.clone(),
            target: tnick.clone(),
            channel: ch.name.clone(),
        };
        let ops = ch
            .members
            .iter()
            .filter(|(id, m)| m.op && **id != inviter.id && **id != target.id)
            .filter_map(|(_, m)| m.upgrade())
            .collect();
        Ok(Invited {
            to_target: Delivery::new(event.clone(), vec![target.clone()]),
            to_ops: Delivery::new(event, ops).only_with(Cap::InviteNotify),
            target_nick: tnick,
            channel: ch.name.clone(),
            target_away: target.away(),
        })
    }

    /// PRIVMSG, NOTICE or TAGMSG to a channel (`status`: the STATUSMSG
    /// prefix, "@" or "+", limiting it to operators or voiced members),
    /// through the one path of messages to channels ([`State::speak`]: +n,
    /// +m, bans, the idle clock, history).
    #[allow(clippy::too_many_arguments)]
    pub fn message_channel(
        &self,
        client: &ClientRef,
        name: &str,
        status: Option<&str>,
        verb: Verb,
        text: Option<&str>,
        client_tags: Option<String>,
        echo: bool,
    ) -> Result<Delivery, Refusal> {
        self.speak(
            client,
            name,
            status,
            |_| Ok::<(), Refusal>(()),
            |a| {
                let d = Delivery::new(
                    Event::Message {
                        verb,
                        source: a.speaker.prefix(),
                        target: a.target,
                        text: text.map(str::to_string),
                        client_tags,
                        msgid: self.new_msgid(),
                        account: a.speaker.account.clone(),
                        bot: a.speaker.bot,
                        relay: None,
                    },
                    a.to,
                )
                .echo(echo);
                if verb == Verb::Tagmsg {
                    d.only_with(Cap::MessageTags)
                } else {
                    d
                }
            },
        )
    }

    /// A PRIVMSG, NOTICE or TAGMSG to one user. Returns the delivery and the
    /// target's away text (RPL_AWAY).
    pub fn message_user(
        &self,
        client: &ClientRef,
        nick: &str,
        verb: Verb,
        text: Option<&str>,
        client_tags: Option<String>,
        echo: bool,
    ) -> Result<(Delivery, Option<String>), Refusal> {
        let to = self
            .find_nick(nick)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHNICK, &[nick]))?;
        let info = client.info().clone();
        // User mode +R: only logged-in users may message me (NOTICE too).
        if to.id != client.id && to.info().modes.registered_only && info.account.is_none() {
            return Err(Refusal::new(ERR_NEEDREGGEDNICK, &[&to.nick()]));
        }
        let (tnick, away, to_account) = {
            let t = to.info();
            (t.nick.clone(), t.away.clone(), t.account.clone())
        };
        let mut d = Delivery::new(
            Event::Message {
                verb,
                source: info.prefix(),
                target: tnick,
                text: text.map(str::to_string),
                client_tags,
                msgid: self.new_msgid(),
                account: info.account.clone(),
                bot: info.modes.bot,
                relay: None,
            },
            vec![to],
        )
        .echo(echo);
        if verb == Verb::Tagmsg {
            d = d.only_with(Cap::MessageTags);
        }
        self.keep_dm(
            info.account.as_deref(),
            to_account.as_deref(),
            &d,
            client.id,
        );
        Ok((d, away))
    }

    /// Destroys a channel now, if `still(channel)` holds under the lock:
    /// every member is kicked by the server with `reason`, and everything
    /// about the channel is dropped. The one path for ephemeral
    /// self-destruct and (later) ChanServ CLOSE.
    pub(super) fn destroy_channel(
        &self,
        chan: &ChannelRef,
        still: impl Fn(&Channel) -> bool,
        reason: &str,
    ) -> Option<Delivery> {
        let mut map = self.channels.lock();
        let mut ch = chan.lock();
        if ch.dead || !still(&ch) {
            return None;
        }
        ch.dead = true;
        self.idle.disarm(chan, &mut ch);
        let folded = self.fold(&ch.name);
        if map.get(&folded).is_some_and(|c| Arc::ptr_eq(c, chan)) {
            map.remove(&folded);
            maybe_shrink(&mut map);
        }
        drop(map);
        let members: Vec<ClientRef> = ch
            .members
            .drain()
            .filter_map(|(_, m)| m.upgrade())
            .collect();
        for m in &members {
            forget_channel(m, &folded, chan);
        }
        ch.topic = None;
        self.forget_history(&mut ch);
        ch.bans.clear();
        ch.excepts.clear();
        ch.invex.clear();
        ch.invites.clear();
        ch.modes = Default::default();
        Some(Delivery::new(
            Event::ChannelDestroyed {
                channel: ch.name.clone(),
                reason: reason.to_string(),
            },
            members,
        ))
    }
}
