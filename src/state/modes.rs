//! Applying channel mode changes: permission checks, list limits, +k/+l/+E
//! parameter rules, all under one channel lock so that a change is atomic;
//! the change that took effect is announced as one MODE event.

use super::{ClientId, ClientRef, Delivery, Event, Refusal, State, channel::ListEntry, unix_now};
use crate::{
    config::{format_duration, parse_duration},
    proto::{mask::normalize_mask, numerics::*},
};

/// One parsed mode change. For `o`/`v` the caller resolves the nick first
/// (the registry is locked before channels, never after).
#[derive(Debug, Clone)]
pub struct ModeChange {
    pub add: bool,
    pub mode: char,
    pub arg: Option<String>,
    pub target: Option<ClientId>,
}

/// A refused change: its numeric, parameters, and the text when the
/// numeric has none of its own.
pub type ModeError = Refusal;

/// What a MODE did: the refusals, and the announcement of what took effect.
pub struct ModeOutcome {
    pub errors: Vec<ModeError>,
    pub delivery: Option<Delivery>,
}

impl State {
    /// Applies `changes` to channel `name` as `client`, atomically under the
    /// channel lock.
    pub fn apply_channel_modes(
        &self,
        client: &ClientRef,
        name: &str,
        changes: Vec<ModeChange>,
    ) -> Result<ModeOutcome, Refusal> {
        let chan = self
            .channel(name)
            .ok_or_else(|| Refusal::new(ERR_NOSUCHCHANNEL, &[name]))?;
        let cfg = self.config();
        let cm = self.casemap;
        let mut applied: Vec<ModeChange> = Vec::new();
        let mut errors = Vec::new();
        let mut rearm = false;
        let display;
        let others;
        {
            let mut ch = chan.lock();
            display = ch.name.clone();
            let err = |numeric, args: &[&str]| Refusal::new(numeric, args);
            if !ch.members.contains_key(&client.id) {
                return Err(err(ERR_NOTONCHANNEL, &[&display]));
            }
            if !ch.is_op(client.id) {
                return Err(err(ERR_CHANOPRIVSNEEDED, &[&display]));
            }
            others = ch.member_clients(Some(client.id));
            for mut c in changes {
                let changed = match c.mode {
                    'o' | 'v' => {
                        let Some(id) = c.target else { continue };
                        match ch.members.get_mut(&id) {
                            None => {
                                errors.push(err(
                                    ERR_USERNOTINCHANNEL,
                                    &[c.arg.as_deref().unwrap_or("*"), &display],
                                ));
                                false
                            }
                            Some(m) => {
                                let flag = if c.mode == 'o' {
                                    &mut m.op
                                } else {
                                    &mut m.voice
                                };
                                let was = std::mem::replace(flag, c.add);
                                c.arg = m.upgrade().map(|c| c.nick()).or(c.arg.take());
                                was != c.add
                            }
                        }
                    }
                    'b' | 'e' | 'I' => {
                        let Some(arg) = c.arg.clone() else { continue };
                        let mask = normalize_mask(&arg);
                        // A mask must be one parameter when listed back (367).
                        if mask.contains(' ') || mask.starts_with(':') {
                            let shown = mask.replace(' ', "_");
                            errors.push(err(
                                ERR_INVALIDMODEPARAM,
                                &[&display, &c.mode.to_string(), &shown, "Invalid mask"],
                            ));
                            continue;
                        }
                        let max = cfg.limits.max_list_entries;
                        let Some(list) = ch.list_mut(c.mode) else {
                            continue;
                        };
                        let pos = list.iter().position(|e| cm.eq(&e.mask, &mask));
                        c.arg = Some(mask.clone());
                        match (c.add, pos) {
                            (true, Some(_)) | (false, None) => false,
                            (true, None) if list.len() >= max => {
                                errors.push(err(ERR_BANLISTFULL, &[&display, &c.mode.to_string()]));
                                false
                            }
                            (true, None) => {
                                list.push(ListEntry {
                                    mask,
                                    setter: client.prefix(),
                                    time: unix_now(),
                                });
                                true
                            }
                            (false, Some(i)) => {
                                let e = list.remove(i);
                                c.arg = Some(e.mask);
                                true
                            }
                        }
                    }
                    'k' => {
                        if c.add {
                            let key = c.arg.clone().unwrap_or_default();
                            if key.is_empty()
                                || key.contains([' ', ','])
                                || key.starts_with(':')
                                || key.len() > 32
                            {
                                errors.push(err(ERR_INVALIDKEY, &[&display]));
                                false
                            } else {
                                ch.modes.key = Some(zeroize::Zeroizing::new(key));
                                true
                            }
                        } else {
                            c.arg = Some("*".into());
                            ch.modes.key.take().is_some()
                        }
                    }
                    'l' => {
                        if c.add {
                            match c
                                .arg
                                .as_deref()
                                .and_then(|a| a.parse::<usize>().ok())
                                .filter(|&n| n > 0 && n <= crate::proto::modes::MAX_LIMIT)
                            {
                                Some(n) => {
                                    c.arg = Some(n.to_string());
                                    ch.modes.limit.replace(n) != Some(n)
                                }
                                None => {
                                    errors.push(err(
                                        ERR_INVALIDMODEPARAM,
                                        &[
                                            &display,
                                            "l",
                                            c.arg.as_deref().unwrap_or("*"),
                                            "Invalid limit",
                                        ],
                                    ));
                                    false
                                }
                            }
                        } else {
                            c.arg = None;
                            ch.modes.limit.take().is_some()
                        }
                    }
                    'E' => {
                        let ccfg = &cfg.channels;
                        if c.add && ch.registered {
                            errors.push(err(
                                ERR_INVALIDMODEPARAM,
                                &[
                                    &display,
                                    "E",
                                    "*",
                                    "A registered channel is kept: it cannot be ephemeral",
                                ],
                            ));
                            false
                        } else if c.add {
                            let raw = c
                                .arg
                                .clone()
                                .filter(|a| !a.is_empty())
                                .unwrap_or_else(|| "*".into());
                            match parse_duration(&raw) {
                                Ok(d)
                                    if d >= ccfg.min_idle_timeout && d <= ccfg.max_idle_timeout =>
                                {
                                    c.arg = Some(format_duration(d));
                                    let changed = ch.modes.ephemeral.replace(d) != Some(d);
                                    // Nothing is kept for an ephemeral channel: what was, goes.
                                    self.forget_history(&mut ch);
                                    if changed {
                                        // Setting +E counts as activity: the clock
                                        // starts now, not at the last message.
                                        ch.last_activity = tokio::time::Instant::now();
                                        ch.warned = false;
                                        rearm = true;
                                    }
                                    changed
                                }
                                Ok(_) => {
                                    let why = format!(
                                        "Idle timeout must be between {} and {}",
                                        format_duration(ccfg.min_idle_timeout),
                                        format_duration(ccfg.max_idle_timeout)
                                    );
                                    errors.push(err(
                                        ERR_INVALIDMODEPARAM,
                                        &[&display, "E", &raw, &why],
                                    ));
                                    false
                                }
                                Err(_) => {
                                    errors.push(err(ERR_INVALIDMODEPARAM, &[&display, "E", &raw, "Idle timeout must be a duration like 30s, 30m, 2h or 7d"]));
                                    false
                                }
                            }
                        } else if ccfg.enforce_ephemeral {
                            errors.push(err(
                                ERR_INVALIDMODEPARAM,
                                &[
                                    &display,
                                    "E",
                                    "*",
                                    "This server makes every channel ephemeral; -E is not allowed",
                                ],
                            ));
                            false
                        } else {
                            c.arg = None;
                            let was = ch.modes.ephemeral.take().is_some();
                            // Its idle timer entry goes too.
                            rearm |= was;
                            was
                        }
                    }
                    flag => match ch.flag_mut(flag) {
                        Some(f) => std::mem::replace(f, c.add) != c.add,
                        None => false,
                    },
                };
                if changed {
                    applied.push(c);
                }
            }
        }
        if rearm {
            self.schedule_idle(&chan);
        }
        let delivery = (!applied.is_empty()).then(|| {
            let mut modes = String::new();
            let mut args = Vec::new();
            let mut sign = None;
            for c in &applied {
                if sign != Some(c.add) {
                    modes.push(if c.add { '+' } else { '-' });
                    sign = Some(c.add);
                }
                modes.push(c.mode);
                args.extend(c.arg.clone());
            }
            Delivery::new(
                Event::ModeChanged {
                    channel: display.clone(),
                    source: client.prefix(),
                    modes,
                    args,
                },
                others,
            )
            .echo(true)
        });
        Ok(ModeOutcome { errors, delivery })
    }
}
