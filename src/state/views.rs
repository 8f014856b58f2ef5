//! Questions handlers ask about channels: copies taken under the channel
//! lock, so nothing outside `state/` ever holds one.

use super::{
    ClientId, ClientRef, Refusal, State,
    channel::{ChannelRef, ListEntry, Topic},
};
use crate::proto::numerics::*;

/// 353 for one channel: its name, `=` or `@` (secret), and the entries
/// (prefix and nick, or nick!user@host with userhost-in-names).
pub struct NamesView {
    pub name: String,
    pub symbol: &'static str,
    pub entries: Vec<String>,
}

/// One member for WHO: the client and its prefix in the channel.
pub struct WhoRow {
    pub client: ClientRef,
    pub prefix: &'static str,
}

/// One channel for LIST.
pub struct ListRow {
    pub name: String,
    pub users: usize,
    pub created: u64,
    pub topic: Option<Topic>,
}

/// A snapshot of channel handles, walked one channel at a time (LIST), so a
/// reply over thousands of channels is produced as the asker reads it.
pub struct ChannelCursor {
    chans: std::vec::IntoIter<ChannelRef>,
    viewer: ClientId,
    oper: bool,
}

impl ChannelCursor {
    /// The next channel the viewer may see (not secret, or it is a member or
    /// an operator); destroyed channels are skipped.
    pub fn next_row(&mut self) -> Option<ListRow> {
        for chan in self.chans.by_ref() {
            let ch = chan.lock();
            if ch.dead || (ch.modes.secret && !self.oper && !ch.members.contains_key(&self.viewer))
            {
                continue;
            }
            return Some(ListRow {
                name: ch.name.clone(),
                users: ch.members.len(),
                created: ch.created,
                topic: ch.topic.clone(),
            });
        }
        None
    }
}

impl State {
    /// Every channel, for LIST (handles only; each is read when reached).
    pub fn list_channels(&self, viewer: &ClientRef, names: &[&str]) -> ChannelCursor {
        let chans: Vec<ChannelRef> = if names.is_empty() {
            self.channels.lock().values().cloned().collect()
        } else {
            names.iter().filter_map(|n| self.channel(n)).collect()
        };
        ChannelCursor {
            chans: chans.into_iter(),
            viewer: viewer.id,
            oper: viewer.is_oper(),
        }
    }

    /// 324/329: the display name, the mode string and its parameters (the key
    /// only to members), and the creation time.
    pub fn mode_view(
        &self,
        viewer: &ClientRef,
        name: &str,
    ) -> Result<(String, String, Vec<String>, u64), Refusal> {
        let chan = self
            .channel(name)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHCHANNEL, &[name]))?;
        let ch = chan.lock();
        let (m, p) = ch.mode_string(ch.members.contains_key(&viewer.id));
        Ok((ch.name.clone(), m, p, ch.created))
    }

    /// A list mode's entries (b, e, I) with the display name.
    pub fn list_entries(&self, name: &str, mode: char) -> Option<(String, Vec<ListEntry>)> {
        let chan = self.channel(name)?;
        let ch = chan.lock();
        Some((ch.name.clone(), ch.list(mode).cloned().unwrap_or_default()))
    }

    /// The display name of a channel.
    pub fn channel_name(&self, name: &str) -> Option<String> {
        self.channel(name).map(|c| c.lock().name.clone())
    }

    /// NAMES as `viewer` sees it: nothing of a secret channel it is not on;
    /// invisible users only to members and operators.
    pub fn names(
        &self,
        viewer: &ClientRef,
        name: &str,
        multi: bool,
        uhnames: bool,
    ) -> Option<NamesView> {
        let chan = self.channel(name)?;
        let oper = viewer.is_oper();
        let ch = chan.lock();
        let member = ch.members.contains_key(&viewer.id);
        let mut entries = Vec::new();
        if !ch.modes.secret || member || oper {
            for m in ch.members.values() {
                let Some(c) = m.upgrade() else { continue };
                let i = c.info();
                if !member && !oper && i.modes.invisible {
                    continue;
                }
                entries.push(if uhnames {
                    format!("{}{}!{}@{}", m.prefix(multi), i.nick, i.user, i.host)
                } else {
                    format!("{}{}", m.prefix(multi), i.nick)
                });
            }
        }
        Some(NamesView {
            name: ch.name.clone(),
            symbol: if ch.modes.secret { "@" } else { "=" },
            entries,
        })
    }

    /// WHO #channel as `viewer` sees it (same visibility as NAMES).
    pub fn who_channel(
        &self,
        viewer: &ClientRef,
        name: &str,
        multi: bool,
    ) -> Option<(String, Vec<WhoRow>)> {
        let chan = self.channel(name)?;
        let oper = viewer.is_oper();
        let ch = chan.lock();
        let member = ch.members.contains_key(&viewer.id);
        if ch.modes.secret && !member && !oper {
            return Some((ch.name.clone(), Vec::new()));
        }
        let rows = ch
            .members
            .values()
            .filter_map(|m| m.upgrade().map(|c| (c, m.prefix(multi))))
            .filter(|(c, _)| member || oper || !c.info().modes.invisible)
            .map(|(client, prefix)| WhoRow { client, prefix })
            .collect();
        Some((ch.name.clone(), rows))
    }

    /// WHOIS 319: the target's channels with its prefix, hiding secret
    /// channels the viewer is not on (unless an operator).
    pub fn whois_channels(
        &self,
        viewer: &ClientRef,
        target: &ClientRef,
        multi: bool,
    ) -> Vec<String> {
        let oper = viewer.is_oper();
        let chans: Vec<ChannelRef> = target.info().channels.values().cloned().collect();
        let mut out = Vec::new();
        for ch in chans {
            let ch = ch.lock();
            if ch.modes.secret && !ch.members.contains_key(&viewer.id) && !oper {
                continue;
            }
            let p = ch
                .members
                .get(&target.id)
                .map(|m| m.prefix(multi))
                .unwrap_or("");
            out.push(format!("{p}{}", ch.name));
        }
        out
    }

    /// Does `client` match a ban-style mask (`n!u@h` glob, CIDR, `$a:account`)?
    pub fn matches_mask(&self, client: &ClientRef, mask: &str) -> bool {
        let info = client.info().clone();
        super::channel::Who::of(&info, client.ip).matches(mask, self.casemap)
    }

    /// Does `a` share a channel with `b`?
    pub fn shares_channel(&self, a: &ClientRef, b: &ClientRef) -> bool {
        if a.id == b.id {
            return true;
        }
        let mine: Vec<String> = a.info().channels.keys().cloned().collect();
        let theirs = b.info();
        mine.iter().any(|k| theirs.channels.contains_key(k))
    }
}
