//! ChanServ: channel registrations. REGISTER (by an operator of a channel
//! that is not ephemeral), INFO, DROP, OP/DEOP/VOICE/DEVOICE, CLOSE (an
//! operator destroys the room at once, through the same path as the idle
//! self-destruct).

use super::{
    Caller, Command, Service,
    accounts::ago,
    store::{AccessEntry, AkickEntry},
};
use crate::state::unix_now;

const CS: Service = Service::ChanServ;

pub static COMMANDS: &[Command] = &[
    Command {
        name: "REGISTER",
        syntax: "REGISTER <#channel>",
        help: "Registers a channel you are an operator of; you become its founder.",
        min_params: 1,
        needs_login: true,
        handler: register,
    },
    Command {
        name: "INFO",
        syntax: "INFO <#channel>",
        help: "Shows a channel's registration.",
        min_params: 1,
        needs_login: false,
        handler: info,
    },
    Command {
        name: "DROP",
        syntax: "DROP <#channel>",
        help: "Drops the registration of a channel you founded.",
        min_params: 1,
        needs_login: true,
        handler: drop_channel,
    },
    Command {
        name: "OP",
        syntax: "OP <#channel> [<nick>]",
        help: "Gives channel operator status (founder only).",
        min_params: 1,
        needs_login: true,
        handler: op,
    },
    Command {
        name: "DEOP",
        syntax: "DEOP <#channel> [<nick>]",
        help: "Takes channel operator status (founder only).",
        min_params: 1,
        needs_login: true,
        handler: deop,
    },
    Command {
        name: "VOICE",
        syntax: "VOICE <#channel> [<nick>]",
        help: "Gives voice (founder only).",
        min_params: 1,
        needs_login: true,
        handler: voice,
    },
    Command {
        name: "DEVOICE",
        syntax: "DEVOICE <#channel> [<nick>]",
        help: "Takes voice (founder only).",
        min_params: 1,
        needs_login: true,
        handler: devoice,
    },
    Command {
        name: "FLAGS",
        syntax: "FLAGS <#channel> [<account> [+|-]<flags>]",
        help: "Lists or changes access: O auto-op, V auto-voice, o may OP, v may VOICE.",
        min_params: 1,
        needs_login: true,
        handler: flags,
    },
    Command {
        name: "AKICK",
        syntax: "AKICK <#channel> ADD <mask|account> [<reason>] | DEL <mask> | LIST",
        help: "Keeps users out: a matching user who joins is kicked at once.",
        min_params: 2,
        needs_login: true,
        handler: akick,
    },
    Command {
        name: "KICK",
        syntax: "KICK <#channel> <nick> [<reason>]",
        help: "Kicks a user (founder, or access o).",
        min_params: 2,
        needs_login: true,
        handler: kick,
    },
    Command {
        name: "BAN",
        syntax: "BAN <#channel> <nick|mask> [<reason>]",
        help: "Bans a user (their host) or a mask, kicks them and revokes their invitation.",
        min_params: 2,
        needs_login: true,
        handler: ban,
    },
    Command {
        name: "UNBAN",
        syntax: "UNBAN <#channel> [<mask>]",
        help: "Removes a ban mask, or every ban that matches you.",
        min_params: 1,
        needs_login: true,
        handler: unban,
    },
    Command {
        name: "TOPIC",
        syntax: "TOPIC <#channel> <topic>",
        help: "Sets the topic (founder, or access t).",
        min_params: 2,
        needs_login: true,
        handler: topic,
    },
    Command {
        name: "INVITE",
        syntax: "INVITE <#channel> [<nick>]",
        help: "Invites you (or a nick) past +i, +k and +l once (founder, or access o).",
        min_params: 1,
        needs_login: true,
        handler: invite,
    },
    Command {
        name: "SET",
        syntax: "SET <#channel> DESCRIPTION|ENTRYMSG [<text>]",
        help: "Sets the description INFO shows, or the entry message sent to whoever joins.",
        min_params: 2,
        needs_login: true,
        handler: set,
    },
    Command {
        name: "CLOSE",
        syntax: "CLOSE <#channel> [<reason>]",
        help: "Destroys the channel now: everyone is kicked with the reason, nothing is left.",
        min_params: 1,
        needs_login: false,
        handler: close,
    },
];

fn account(c: &dyn Caller) -> Option<String> {
    c.client().snapshot().account
}

// REGISTER <#channel>
fn register(c: &mut dyn Caller, args: &[&str]) {
    let name = args[0];
    let client = c.client();
    let Some(status) = c.state().member_status(&client, name) else {
        c.notice(CS, &format!("{name} does not exist; join it first."));
        return;
    };
    if !status.op {
        c.notice(
            CS,
            &format!("You must be an operator of {} to register it.", status.name),
        );
        return;
    }
    if status.ephemeral {
        c.notice(
            CS,
            &format!(
                "{} is ephemeral: nothing about it may be kept, so it cannot be registered.",
                status.name
            ),
        );
        return;
    }
    let Some(founder) = account(c) else { return };
    let acc = c.accounts().expect("services on");
    let display = status.name.clone();
    super::job(
        c,
        move || acc.register_channel(&display, &founder).map(|_| display),
        |c, r| match r {
            Ok(name) => {
                c.state().set_channel_registered(&name, true);
                persist(c, &name);
                c.notice(CS, &format!("{name} is now registered to you."));
            }
            Err(super::store::StoreError::Exists) => {
                c.notice(CS, "That channel is already registered.")
            }
            Err(_) => c.notice(CS, "The registration could not be stored; try again later."),
        },
    );
}

// INFO <#channel>
fn info(c: &mut dyn Caller, args: &[&str]) {
    let acc = c.accounts().expect("services on");
    let Some(reg) = acc.channel(args[0]) else {
        c.notice(CS, &format!("{} is not registered.", args[0]));
        return;
    };
    let founder = acc
        .account(&reg.founder)
        .map(|a| a.name)
        .unwrap_or(reg.founder.clone());
    c.notice(CS, &format!("Information on {}:", reg.name));
    c.notice(CS, &format!("Founder: {founder}"));
    c.notice(
        CS,
        &format!(
            "Registered {} ago ({}).",
            ago(reg.registered),
            crate::proto::time::human(reg.registered)
        ),
    );
    if let Some(d) = &reg.description {
        c.notice(CS, &format!("Description: {d}"));
    }
    c.notice(CS, "End of information.");
}

/// Is the caller the founder of registered channel `name`? Tells it why not.
fn founder_only(c: &mut dyn Caller, name: &str) -> bool {
    let acc = c.accounts().expect("services on");
    let Some(reg) = acc.channel(name) else {
        c.notice(CS, &format!("{name} is not registered."));
        return false;
    };
    if account(c).is_some_and(|a| acc.fold(&a) == reg.founder) {
        return true;
    }
    c.notice(CS, &format!("You are not the founder of {}.", reg.name));
    false
}

// DROP <#channel>
fn drop_channel(c: &mut dyn Caller, args: &[&str]) {
    if !founder_only(c, args[0]) {
        return;
    }
    let acc = c.accounts().expect("services on");
    let name = args[0].to_string();
    super::job(
        c,
        move || acc.drop_channel(&name).then_some(name),
        |c, dropped| match dropped {
            Some(name) => {
                c.state().set_channel_registered(&name, false);
                c.notice(CS, "The registration is dropped.");
            }
            None => c.notice(CS, "Nothing to drop."),
        },
    );
}

/// Does the caller have access flag `flag` on `name`? Tells it why not.
fn has_flag(c: &mut dyn Caller, name: &str, flag: char) -> bool {
    let acc = c.accounts().expect("services on");
    if acc.channel(name).is_none() {
        c.notice(CS, &format!("{name} is not registered."));
        return false;
    }
    if account(c).is_some_and(|a| acc.flags(name, &a).contains(flag)) {
        return true;
    }
    c.notice(CS, &format!("You do not have access to that on {name}."));
    false
}

fn status(c: &mut dyn Caller, args: &[&str], mode: char, add: bool) {
    let name = args[0];
    if !has_flag(c, name, mode) {
        return;
    }
    let target = match args.get(1) {
        Some(n) => c.state().find_nick(n),
        None => Some(c.client()),
    };
    let Some(target) = target else {
        c.notice(CS, &format!("{} is not online.", args[1]));
        return;
    };
    match c
        .state()
        .service_mode(name, &target, mode, add, &CS.prefix())
    {
        Ok(Some(d)) => c.deliver(d),
        Ok(None) => {}
        Err(_) => c.notice(CS, &format!("{} is not on {name}.", target.nick())),
    }
}

fn op(c: &mut dyn Caller, args: &[&str]) {
    status(c, args, 'o', true)
}
fn deop(c: &mut dyn Caller, args: &[&str]) {
    status(c, args, 'o', false)
}
fn voice(c: &mut dyn Caller, args: &[&str]) {
    status(c, args, 'v', true)
}
fn devoice(c: &mut dyn Caller, args: &[&str]) {
    status(c, args, 'v', false)
}

// CLOSE <#channel> [<reason>]
fn close(c: &mut dyn Caller, args: &[&str]) {
    let name = args[0];
    let client = c.client();
    let Some(status) = c.state().member_status(&client, name) else {
        c.notice(CS, &format!("{name} does not exist."));
        return;
    };
    let founder =
        account(c).is_some_and(|a| c.accounts().is_some_and(|acc| acc.is_founder(name, &a)));
    if !status.op && !founder {
        c.notice(
            CS,
            &format!("You must be an operator of {} to close it.", status.name),
        );
        return;
    }
    let reason = if args.len() > 1 {
        format!(
            "Channel closed by {}: {}",
            client.nick(),
            args[1..].join(" ")
        )
    } else {
        format!("Channel closed by {}", client.nick())
    };
    if let Some(d) = c.state().close_channel(name, &reason) {
        c.deliver(d);
    }
    // A registered channel keeps its registration; what it kept is cleared.
    if let Some(acc) = c.accounts()
        && acc.channel(name).is_some()
    {
        let name = name.to_string();
        super::job(c, move || acc.save_kept(&name, None), |_, _| {});
    }
    c.notice(CS, &format!("{} is closed.", status.name));
}

// FLAGS <#channel> [<account> [+|-]<flags>]
fn flags(c: &mut dyn Caller, args: &[&str]) {
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
fn akick(c: &mut dyn Caller, args: &[&str]) {
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
fn akick_one(c: &mut dyn Caller, name: &str, who: &crate::state::ClientRef) -> bool {
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

/// After a JOIN: AKICK, then the auto-modes of the joiner's access.
pub fn on_join(c: &mut dyn Caller, name: &str) {
    let Some(acc) = c.accounts() else { return };
    if acc.channel(name).is_none() {
        return;
    }
    // Recreated after a CLOSE: it is kept again from now on.
    if !c.state().is_registered_channel(name) {
        c.state().set_channel_registered(name, true);
    }
    let me = c.client();
    if akick_one(c, name, &me) {
        return;
    }
    if let Some(msg) = acc.channel(name).and_then(|r| r.entry_message) {
        c.notice(CS, &format!("[{name}] {msg}"));
    }
    let Some(account) = me.snapshot().account else {
        return;
    };
    let flags = acc.flags(name, &account);
    for (flag, mode) in [('O', 'o'), ('V', 'v')] {
        if flags.contains(flag)
            && let Ok(Some(d)) = c.state().service_mode(name, &me, mode, true, &CS.prefix())
        {
            c.deliver(d);
        }
    }
}

// KICK <#channel> <nick> [<reason>]
fn kick(c: &mut dyn Caller, args: &[&str]) {
    let name = args[0];
    if !has_flag(c, name, 'o') {
        return;
    }
    let Some(victim) = c.state().find_nick(args[1]) else {
        c.notice(CS, &format!("{} is not online.", args[1]));
        return;
    };
    let reason = if args.len() > 2 {
        args[2..].join(" ")
    } else {
        format!("Kicked by {}", c.client().nick())
    };
    match c.state().service_kick(name, &victim, &reason, &CS.prefix()) {
        Ok(d) => c.deliver(d),
        Err(_) => c.notice(CS, &format!("{} is not on {name}.", victim.nick())),
    }
}

/// Saves what registered channel `name` keeps (after a MODE or TOPIC).
pub fn persist(c: &mut dyn Caller, name: &str) {
    let (Some(acc), Some(kept)) = (c.accounts(), c.state().kept(name)) else {
        return;
    };
    if !c.state().is_registered_channel(name) {
        return;
    }
    let name = name.to_string();
    super::job(c, move || acc.save_kept(&name, Some(kept)), |_, _| {});
}

// BAN <#channel> <nick|mask> [<reason>]
fn ban(c: &mut dyn Caller, args: &[&str]) {
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
fn unban(c: &mut dyn Caller, args: &[&str]) {
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

// TOPIC <#channel> <topic>
fn topic(c: &mut dyn Caller, args: &[&str]) {
    let name = args[0];
    if !has_flag(c, name, 't') {
        return;
    }
    let text = args[1..].join(" ");
    let max = c.config().limits.topiclen;
    let text = crate::proto::line::truncate(&text, max).to_string();
    match c.state().service_topic(name, &text, &CS.prefix()) {
        Ok(d) => {
            c.deliver(d);
            persist(c, name);
        }
        Err(_) => c.notice(CS, &format!("{name} does not exist.")),
    }
}

// INVITE <#channel> [<nick>]
fn invite(c: &mut dyn Caller, args: &[&str]) {
    let name = args[0];
    if !has_flag(c, name, 'o') {
        return;
    }
    let target = match args.get(1) {
        Some(n) => c.state().find_nick(n),
        None => Some(c.client()),
    };
    let Some(target) = target else {
        c.notice(CS, &format!("{} is not online.", args[1]));
        return;
    };
    match c.state().service_invite(name, &target, &CS.prefix()) {
        Ok(d) => {
            c.deliver(d);
            c.notice(CS, &format!("{} is invited to {name}.", target.nick()));
        }
        Err(r) if r.numeric == crate::proto::numerics::ERR_USERONCHANNEL => {
            c.notice(CS, &format!("{} is already on {name}.", target.nick()))
        }
        Err(_) => c.notice(CS, &format!("{name} does not exist.")),
    }
}

// SET <#channel> DESCRIPTION|ENTRYMSG [<text>]
fn set(c: &mut dyn Caller, args: &[&str]) {
    let name = args[0];
    if !founder_only(c, name) {
        return;
    }
    let acc = c.accounts().expect("services on");
    let Some(mut reg) = acc.channel(name) else {
        return;
    };
    let text = (args.len() > 2)
        .then(|| crate::proto::line::truncate(&args[2..].join(" "), 300).to_string());
    let what = args[1].to_ascii_uppercase();
    match what.as_str() {
        "DESCRIPTION" => reg.description = text,
        "ENTRYMSG" => reg.entry_message = text,
        _ => {
            c.notice(CS, "Unknown setting: DESCRIPTION or ENTRYMSG.");
            return;
        }
    }
    super::job(
        c,
        move || acc.put_channel(&reg),
        move |c, ok| {
            if ok {
                c.notice(CS, &format!("{what} is set."));
            } else {
                c.notice(CS, "The setting could not be stored.");
            }
        },
    );
}
