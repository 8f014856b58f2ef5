//! Operations on clients: nick claims, registration, quit, away, realname,
//! user modes, operator status, KILL and WALLOPS. Like channel changes, each
//! checks, applies and says who hears of it, so counters (LUSERS) and
//! indexes (MONITOR) stay in step with the fields.

use std::sync::atomic::Ordering;

use super::{ClientRef, Delivery, Event, Refusal, State, Whowas, channel::Who};
use crate::proto::{caps::Cap, numerics::*};

impl State {
    /// Claims `nick` for `client`, releasing its old one. Before registration
    /// nobody hears of it; after, the client's peers get NICK (and the client
    /// its own copy) and MONITOR watchers of both nicks learn of the change.
    /// Refused with 433 when a registered client holds it, and with 435 when
    /// a registered client is banned (without voice) in one of its channels:
    /// a nick change would dodge the ban.
    ///
    /// A nick held by a connection that has not completed registration is
    /// taken from it (InspIRCd's "Nickname overruled", also Solanum's): the
    /// holder's nick goes back to `*`, it gets 433 and must send NICK again
    /// before it can register. Otherwise a connection that sends only NICK
    /// would hold the nick until its registration timeout, and forever by
    /// reconnecting. The holder's `registered` flag is read under its info
    /// lock, which `register` also takes, so a holder either registered first
    /// (and keeps the nick) or finds its nick gone when it tries.
    pub fn change_nick(&self, client: &ClientRef, nick: &str) -> Result<Vec<Delivery>, Refusal> {
        let registered = client.is_registered();
        if registered && let Some(chan) = self.banned_somewhere(client) {
            return Err(Refusal::new(ERR_BANNICKCHANGE, &[nick, &chan]));
        }
        let folded = self.fold(nick);
        let mut overruled = None;
        let mut was = None;
        let (old_prefix, old) = {
            let mut nicks = self.nicks.lock();
            if let Some(holder) = nicks.get(&folded)
                && holder.id != client.id
            {
                let mut theirs = holder.info();
                if theirs.registered {
                    return Err(Refusal::new(ERR_NICKNAMEINUSE, &[nick]));
                }
                theirs.nick = "*".to_string();
                drop(theirs);
                overruled = Some(Delivery::new(
                    Event::NickOverruled {
                        nick: nick.to_string(),
                    },
                    vec![holder.clone()],
                ));
            }
            let mut info = client.info();
            let old_prefix = info.prefix();
            let old_folded = self.fold(&info.nick);
            if registered && old_folded != folded {
                was = Some(Whowas::of(&info));
            }
            let old = std::mem::replace(&mut info.nick, nick.to_string());
            if old != "*" && old_folded != folded {
                nicks.remove(&old_folded);
            }
            nicks.insert(folded.clone(), client.clone());
            (old_prefix, old)
        };
        // WHOWAS keeps the nick changed away from (RFC 2812 3.6.3); a change
        // of case only is the same nick.
        if let Some(entry) = was {
            self.record_whowas_entry(entry);
        }
        let mut out: Vec<Delivery> = overruled.into_iter().collect();
        if !registered {
            return Ok(out);
        }
        let mut d = Delivery::new(
            Event::NickChanged {
                source: old_prefix,
                nick: nick.to_string(),
            },
            self.peers(client),
        )
        .echo(true);
        let chans: Vec<_> = client.info().channels.values().cloned().collect();
        self.keep_in(&chans, &mut d, client.id);
        out.push(d);
        // A change of case only is the same nick to MONITOR.
        if self.fold(&old) != folded {
            out.extend(self.monitor_event(&old, None));
            out.extend(self.monitor_event(nick, Some(client.prefix())));
        }
        Ok(out)
    }

    /// The first channel where `client` is banned and has neither op nor voice.
    fn banned_somewhere(&self, client: &ClientRef) -> Option<String> {
        let info = client.info().clone();
        let who = Who::of(&info, client.ip);
        for ch in info.channels.values() {
            let ch = ch.lock();
            let m = ch.members.get(&client.id);
            if m.is_some_and(|m| !m.op && !m.voice) && ch.is_banned(&who, self.casemap) {
                return Some(ch.name.clone());
            }
        }
        None
    }

    /// Records USER's username and realname before registration completes
    /// (a SASL login's 900 shows them).
    pub fn set_ident(&self, client: &ClientRef, user: &str, realname: &str) {
        let mut info = client.info();
        if !info.registered {
            info.user = user.to_string();
            info.realname = realname.to_string();
        }
    }

    /// Completes registration: sets user and realname, counts the client and
    /// tells MONITOR watchers it is online. None when the client holds no
    /// nick (another connection overruled it since NICK): it stays
    /// unregistered and must send NICK again.
    pub fn register(
        &self,
        client: &ClientRef,
        user: String,
        realname: String,
    ) -> Option<Vec<Delivery>> {
        let (nick, prefix) = {
            let mut info = client.info();
            info.user = user;
            info.realname = realname;
            if info.registered {
                return Some(Vec::new());
            }
            if info.nick == "*" {
                return None;
            }
            info.registered = true;
            (info.nick.clone(), info.prefix())
        };
        self.unregistered.fetch_sub(1, Ordering::Relaxed);
        let n = self.local_users();
        self.max_local.fetch_max(n, Ordering::Relaxed);
        Some(
            self.monitor_event(&nick, Some(prefix))
                .into_iter()
                .collect(),
        )
    }

    /// Removes a client entirely: its nick, its memberships (empty channels
    /// are destroyed), its MONITOR entries, its admission counters, and
    /// records it in WHOWAS. Peers of a registered client hear QUIT with
    /// `reason`. Safe to call twice (the second call does nothing).
    pub fn remove_client(&self, client: &ClientRef, reason: &str) -> Vec<Delivery> {
        if self.clients.remove(&client.id).is_none() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let (registered, nick, prefix, oper, invisible) = {
            let info = client.info();
            (
                info.registered,
                info.nick.clone(),
                info.prefix(),
                info.modes.oper,
                info.modes.invisible,
            )
        };
        let chans: Vec<_> = client.info().channels.values().cloned().collect();
        if registered {
            let mut d = Delivery::new(
                Event::Quit {
                    source: prefix,
                    reason: reason.to_string(),
                },
                self.peers(client),
            );
            self.keep_in(&chans, &mut d, client.id);
            out.push(d);
        }
        if invisible {
            self.count_invisible(false);
        }
        self.unwatch_all(client);
        for ch in chans {
            self.remove_member(&ch, client.id);
        }
        {
            let mut nicks = self.nicks.lock();
            let folded = self.fold(&nick);
            if nicks.get(&folded).is_some_and(|c| c.id == client.id) {
                nicks.remove(&folded);
            }
        }
        if oper {
            self.opers.fetch_sub(1, Ordering::Relaxed);
        }
        if registered {
            out.extend(self.monitor_event(&nick, None));
            self.record_whowas(client);
        } else {
            self.unregistered.fetch_sub(1, Ordering::Relaxed);
        }
        out
    }

    pub fn set_oper(&self, client: &ClientRef, name: Option<&str>) {
        let was = {
            let mut info = client.info();
            let was = info.modes.oper;
            info.modes.oper = name.is_some();
            info.oper_name = name.map(str::to_string);
            was
        };
        match (was, name.is_some()) {
            (false, true) => {
                self.opers.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {
                self.opers.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Sets or clears AWAY; away-notify peers (and extended-monitor
    /// watchers) hear of it.
    pub fn set_away(&self, client: &ClientRef, away: Option<String>) -> Delivery {
        client.info().away = away.clone();
        Delivery::new(
            Event::AwayChanged {
                source: client.prefix(),
                text: away,
            },
            self.interested(client, Cap::AwayNotify),
        )
        .only_with(Cap::AwayNotify)
    }

    /// SETNAME: setname peers and watchers hear of it, and the client itself
    /// when it has the capability.
    pub fn set_realname(&self, client: &ClientRef, realname: &str) -> Delivery {
        client.info().realname = realname.to_string();
        Delivery::new(
            Event::RealnameChanged {
                source: client.prefix(),
                realname: realname.to_string(),
            },
            self.interested(client, Cap::Setname),
        )
        .only_with(Cap::Setname)
        .echo(client.has_cap(Cap::Setname.bit()))
    }

    /// Logs the client in to `account` (or out, with None): the one place an
    /// account is set, so account-notify peers (and extended-monitor
    /// watchers) always hear of it.
    pub fn set_account(&self, client: &ClientRef, account: Option<String>) -> Delivery {
        client.info().account = account.clone();
        Delivery::new(
            Event::AccountChanged {
                source: client.prefix(),
                account,
            },
            self.interested(client, Cap::AccountNotify),
        )
        .only_with(Cap::AccountNotify)
    }

    /// The clients logged in to `account` (DROP logs them all out).
    pub fn logged_in(&self, account: &str) -> Vec<ClientRef> {
        self.all_clients()
            .into_iter()
            .filter(|c| {
                c.info()
                    .account
                    .as_deref()
                    .is_some_and(|a| self.casemap.eq(a, account))
            })
            .collect()
    }

    /// Notes that the client spoke (WHOIS idle time).
    pub fn touch_client(&self, client: &ClientRef) {
        client.info().last_message = tokio::time::Instant::now();
    }

    /// KILL: the victim gets the KILL line and its connection is asked to end.
    pub fn kill(&self, killer: &ClientRef, victim: &ClientRef, reason: &str) -> Delivery {
        let d = Delivery::new(
            Event::Killed {
                source: killer.prefix(),
                victim: victim.nick(),
                reason: reason.to_string(),
            },
            vec![victim.clone()],
        );
        victim.sendq.kill(reason);
        d
    }

    /// WALLOPS to every client with +w (work proportional to all clients,
    /// for a rare operator command).
    pub fn wallops(&self, source: &ClientRef, text: &str) -> Delivery {
        let to = self
            .all_clients()
            .into_iter()
            .filter(|c| c.modes().wallops)
            .collect();
        Delivery::new(
            Event::Wallops {
                source: source.prefix(),
                text: text.to_string(),
            },
            to,
        )
    }

    /// Applies a user mode string (i, w, B, R; -o drops operator status, +o is
    /// only for OPER). Returns the change that took effect ("+iw") and
    /// whether an unknown flag was seen.
    pub fn apply_user_modes(&self, client: &ClientRef, modestr: &str) -> (String, bool) {
        let mut add = true;
        let mut out = String::new();
        let mut sign = None;
        let mut unknown = false;
        let mut deoper = false;
        let (was_invisible, now_invisible) = {
            let mut info = client.info();
            let was = info.modes.invisible;
            for c in modestr.chars() {
                let flag = match c {
                    '+' => {
                        add = true;
                        continue;
                    }
                    '-' => {
                        add = false;
                        continue;
                    }
                    'i' => &mut info.modes.invisible,
                    'w' => &mut info.modes.wallops,
                    'B' => &mut info.modes.bot,
                    'R' => &mut info.modes.registered_only,
                    'o' if !add && info.modes.oper && !deoper => {
                        deoper = true;
                        if sign != Some(false) {
                            out.push('-');
                            sign = Some(false);
                        }
                        out.push('o');
                        continue;
                    }
                    'o' => continue,
                    _ => {
                        unknown = true;
                        continue;
                    }
                };
                if *flag != add {
                    *flag = add;
                    if sign != Some(add) {
                        out.push(if add { '+' } else { '-' });
                        sign = Some(add);
                    }
                    out.push(c);
                }
            }
            (was, info.modes.invisible)
        };
        // Only registered clients are counted (remove_client uncounts them).
        if was_invisible != now_invisible {
            self.count_invisible(now_invisible);
        }
        if deoper {
            self.set_oper(client, None);
        }
        (out, unknown)
    }
}
