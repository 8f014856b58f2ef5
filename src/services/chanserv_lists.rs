//! ChanServ's lists: FLAGS (access), AKICK (enforced on join) and
//! BAN/UNBAN. Split from chanserv.rs, whose command table points here.

use super::{
    Caller,
    chanserv::{CS, founder_only, has_flag, persist},
    store::{AccessEntry, AkickEntry},
};
use crate::state::unix_now;

// FLAGS <#channel> [<account> [+|-]<flags>]
pub(super) fn flags(c: &mut dyn Caller, args: &[&str]) {
    let name = args[0];
    let acc = c.accounts().expect("services on");
    let Some(mut reg) = acc.channel(name) else {
        c.notice(CS, &format!("{name} is not registered."));
        return;
    };
    match args {
        [_] => {
            c.notice(CS, &format!("Access list of {}:", reg.name));
            c.notice(CS, &format!("  {} (founder)", reg.founder));
            for a in &reg.access {
                c.notice(CS, &format!("  {} +{}", a.account, a.flags));
            }
            c.notice(CS, "End of the access list.");
        }
        [_, target, change, ..] => {
            if !founder_only(c, name) {
                return;
            }
            let Some(target) = acc.account(target).map(|a| acc.fold(&a.name)) else {
                c.notice(CS, &format!("{target} is not a registered account."));
                return;
            };
            let mut add = true;
            let mut set: Vec<char> = reg
                .access
                .iter()
                .find(|a| a.account == target)
                .map(|a| a.flags.chars().collect())
                .unwrap_or_default();
            for ch in change.chars() {
                match ch {
                    '+' => add = true,
                    '-' => add = false,
                    'O' | 'V' | 'o' | 'v' | 't' => {
                        set.retain(|x| *x != ch);
                        if add {
                            set.push(ch);
                        }
                    }
                    other => {
                        c.notice(CS, &format!("Unknown flag {other}: use O, V, o, v, t."));
                        return;
                    }
                }
            }
            set.sort_unstable();
            let flags: String = set.into_iter().collect();
            reg.access.retain(|a| a.account != target);
            if !flags.is_empty() {
                reg.access.push(AccessEntry {
                    account: target.clone(),
                    flags: flags.clone(),
                });
            }
            super::job(
                c,
                move || acc.put_channel(&reg),
                move |c, ok| {
                    if ok {
                        c.notice(CS, &format!("Flags of {target} are now +{flags}."));
                    } else {
                        c.notice(CS, "The access list could not be stored.");
                    }
                },
            );
        }
        _ => c.notice(CS, "Syntax: FLAGS <#channel> [<account> [+|-]<flags>]"),
    }
}

// AKICK <#channel> ADD <mask|account> [<reason>] | DEL <mask> | LIST
pub(super) fn akick(c: &mut dyn Caller, args: &[&str]) {
    let name = args[0];
    if !founder_only(c, name) {
        return;
    }
    let acc = c.accounts().expect("services on");
    let Some(mut reg) = acc.channel(name) else {
        return;
    };
    match (args[1].to_ascii_uppercase().as_str(), args.get(2)) {
        ("LIST", _) => {
            c.notice(CS, &format!("AKICK list of {}:", reg.name));
            for (i, k) in reg.akick.iter().enumerate() {
                let why = k.reason.as_deref().unwrap_or("");
                c.notice(CS, &format!("  {}: {} ({}) {why}", i + 1, k.mask, k.setter));
            }
            c.notice(CS, "End of the AKICK list.");
        }
        ("ADD", Some(target)) => {
            // A bare account name means that account; otherwise a mask.
            let mask = if target.contains(['!', '@', '$', '*', '?']) {
                crate::proto::mask::normalize_mask(target)
            } else {
                format!("$a:{target}")
            };
            if mask.contains(' ') || reg.akick.iter().any(|k| k.mask == mask) {
                c.notice(CS, "That mask is already on the list, or not a mask.");
                return;
            }
            if reg.akick.len() >= 100 {
                c.notice(CS, "The AKICK list is full.");
                return;
            }
            reg.akick.push(AkickEntry {
                mask: mask.clone(),
                reason: (args.len() > 3).then(|| args[3..].join(" ")),
                setter: c.client().nick(),
                time: unix_now(),
            });
            let chan = reg.name.clone();
            super::job(
                c,
                move || acc.put_channel(&reg),
                move |c, ok| {
                    if ok {
                        c.notice(CS, &format!("{mask} is now on the AKICK list of {chan}."));
                        enforce_akick(c, &chan);
                    } else {
                        c.notice(CS, "The AKICK list could not be stored.");
                    }
                },
            );
        }
        ("DEL", Some(target)) => {
            let before = reg.akick.len();
            let account_form = format!("$a:{target}");
            reg.akick
                .retain(|k| k.mask != *target && k.mask != account_form);
            if reg.akick.len() == before {
                c.notice(CS, &format!("{target} is not on the AKICK list."));
                return;
            }
            super::job(
                c,
                move || acc.put_channel(&reg),
                |c, ok| {
                    c.notice(
                        CS,
                        if ok {
                            "Removed from the AKICK list."
                        } else {
                            "The AKICK list could not be stored."
                        },
                    )
                },
            );
        }
        _ => c.notice(
            CS,
            "Syntax: AKICK <#channel> ADD <mask|account> [<reason>] | DEL <mask> | LIST",
        ),
    }
}

/// Kicks every member of `name` who matches its AKICK list.
fn enforce_akick(c: &mut dyn Caller, name: &str) {
    let Some((_, rows)) = c.state().who_channel(&c.client(), name, false) else {
        return;
    };
    for r in rows {
        akick_one(c, name, &r.client);
    }
}

/// Kicks `who` from `name` if it matches the AKICK list; true if it did.
pub(super) fn akick_one(c: &mut dyn Caller, name: &str, who: &crate::state::ClientRef) -> bool {
    let Some(reg) = c.accounts().and_then(|a| a.channel(name)) else {
        return false;
    };
    let Some(hit) = reg
        .akick
        .iter()
        .find(|k| c.state().matches_mask(who, &k.mask))
    else {
        return false;
    };
    let reason = hit
        .reason
        .clone()
        .unwrap_or_else(|| "You are not welcome here".into());
    if let Ok(d) = c.state().service_kick(name, who, &reason, &CS.prefix()) {
        c.deliver(d);
    }
    true
}

// BAN <#channel> <nick|mask> [<reason>]
pub(super) fn ban(c: &mut dyn Caller, args: &[&str]) {
    let name = args[0];
    if !has_flag(c, name, 'o') {
        return;
    }
    let target = c.state().find_nick(args[1]);
    let mask = match &target {
        Some(t) => format!("*!*@{}", t.snapshot().host),
        None => crate::proto::mask::normalize_mask(args[1]),
    };
    if mask.contains(' ') || mask.starts_with(':') {
        c.notice(CS, "That is not a mask.");
        return;
    }
    let revoke = target.as_ref().map(|t| t.id);
    match c
        .state()
        .service_ban(name, &mask, true, revoke, &CS.prefix())
    {
        Err(_) => {
            c.notice(CS, &format!("{name} does not exist."));
            return;
        }
        Ok(Some(d)) => c.deliver(d),
        Ok(None) => {}
    }
    let reason = if args.len() > 2 {
        args[2..].join(" ")
    } else {
        format!("Banned by {}", c.client().nick())
    };
    // The named user goes; for a mask, every member it matches but the caller.
    let me = c.client();
    let victims: Vec<crate::state::ClientRef> = match target {
        Some(t) => vec![t],
        None => c
            .state()
            .who_channel(&me, name, false)
            .map(|(_, rows)| rows.into_iter().map(|r| r.client).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|v| v.id != me.id && c.state().matches_mask(v, &mask))
            .collect(),
    };
    for v in victims {
        if let Ok(d) = c.state().service_kick(name, &v, &reason, &CS.prefix()) {
            c.deliver(d);
        }
    }
    persist(c, name);
    c.notice(CS, &format!("{mask} is banned from {name}."));
}

// UNBAN <#channel> [<mask>]
pub(super) fn unban(c: &mut dyn Caller, args: &[&str]) {
    let name = args[0];
    if !has_flag(c, name, 'o') {
        return;
    }
    let masks = match args.get(1) {
        Some(m) => vec![crate::proto::mask::normalize_mask(m)],
        None => {
            let me = c.client();
            c.state().bans_matching(name, &me)
        }
    };
    let mut removed = 0;
    for m in &masks {
        if let Ok(Some(d)) = c.state().service_ban(name, m, false, None, &CS.prefix()) {
            c.deliver(d);
            removed += 1;
        }
    }
    persist(c, name);
    c.notice(CS, &format!("{removed} ban(s) removed from {name}."));
}
