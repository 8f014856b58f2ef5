//! ChanServ: channel registrations. REGISTER (by an operator of a channel
//! that is not ephemeral), INFO, DROP, OP/DEOP/VOICE/DEVOICE, CLOSE (an
//! operator destroys the room at once, through the same path as the idle
//! self-destruct), TOPIC, INVITE, SET, KICK, and the JOIN hook. FLAGS,
//! AKICK and BAN/UNBAN are in chanserv_lists.rs.

use super::{Caller, Command, Service, accounts::ago, chanserv_lists as lists};

pub(super) const CS: Service = Service::ChanServ;

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
        handler: lists::flags,
    },
    Command {
        name: "AKICK",
        syntax: "AKICK <#channel> ADD <mask|account> [<reason>] | DEL <mask> | LIST",
        help: "Keeps users out: a matching user who joins is kicked at once.",
        min_params: 2,
        needs_login: true,
        handler: lists::akick,
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
        handler: lists::ban,
    },
    Command {
        name: "UNBAN",
        syntax: "UNBAN <#channel> [<mask>]",
        help: "Removes a ban mask, or every ban that matches you.",
        min_params: 1,
        needs_login: true,
        handler: lists::unban,
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
        syntax: "SET <#channel> DESCRIPTION|ENTRYMSG [<text>] | SET <#channel> KEEPTOPIC|RESTRICTED|HISTORY ON|OFF",
        help: "Sets the description INFO shows, the entry message sent to whoever joins, \
               KEEPTOPIC (the topic is stored and survives a restart; off: no topic text is \
               stored), RESTRICTED (whoever is not on the access list is kicked on join) or \
               HISTORY (whether chat history is kept, in memory only).",
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
    let on = |b: bool| if b { "on" } else { "off" };
    c.notice(
        CS,
        &format!(
            "KEEPTOPIC: {}; RESTRICTED: {}",
            on(reg.keep_topic),
            on(reg.restricted)
        ),
    );
    c.notice(CS, "End of information.");
}

/// Is the caller the founder of registered channel `name`? Tells it why not.
pub(super) fn founder_only(c: &mut dyn Caller, name: &str) -> bool {
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
pub(super) fn has_flag(c: &mut dyn Caller, name: &str, flag: char) -> bool {
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

/// The nick named after the channel, or the caller; tells it when the nick
/// is not online.
fn target_or_self(c: &mut dyn Caller, args: &[&str]) -> Option<crate::state::ClientRef> {
    let Some(nick) = args.get(1) else {
        return Some(c.client());
    };
    let found = c.state().find_nick(nick);
    if found.is_none() {
        c.notice(CS, &format!("{nick} is not online."));
    }
    found
}

fn status(c: &mut dyn Caller, args: &[&str], mode: char, add: bool) {
    let name = args[0];
    if !has_flag(c, name, mode) {
        return;
    }
    let Some(target) = target_or_self(c, args) else {
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

/// After a JOIN: AKICK, then the auto-modes of the joiner's access.
pub fn on_join(c: &mut dyn Caller, name: &str) {
    let Some(acc) = c.accounts() else { return };
    if acc.channel(name).is_none() {
        return;
    }
    // Recreated after a CLOSE: it is kept again from now on.
    if !c.state().is_registered_channel(name) {
        c.state().set_channel_registered(name, true);
        if acc.channel(name).is_some_and(|r| r.history_off) {
            c.state().set_channel_history(name, false);
        }
    }
    let me = c.client();
    if lists::akick_one(c, name, &me) {
        return;
    }
    if acc.channel(name).is_some_and(|r| r.restricted) {
        let allowed = me.is_oper()
            || me
                .snapshot()
                .account
                .is_some_and(|a| !acc.flags(name, &a).is_empty());
        if !allowed {
            let reason = "This channel is restricted to its access list.";
            if let Ok(d) = c.state().service_kick(name, &me, reason, &CS.prefix()) {
                c.deliver(d);
            }
            return;
        }
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
    let Some(target) = target_or_self(c, args) else {
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
    let on = || match args.get(2).map(|v| v.to_ascii_uppercase()).as_deref() {
        Some("ON") => Some(true),
        Some("OFF") => Some(false),
        _ => None,
    };
    match what.as_str() {
        "DESCRIPTION" => reg.description = text,
        "ENTRYMSG" => reg.entry_message = text,
        "KEEPTOPIC" | "RESTRICTED" => {
            let Some(on) = on() else {
                c.notice(CS, &format!("Syntax: SET {name} {what} ON|OFF"));
                return;
            };
            if what == "RESTRICTED" {
                reg.restricted = on;
            } else {
                reg.keep_topic = on;
                if let Some(k) = reg.kept.as_mut().filter(|_| !on) {
                    k.topic = None;
                }
            }
        }
        // In memory only either way; OFF drops what the channel had.
        "HISTORY" => match text.as_deref().map(str::to_ascii_uppercase).as_deref() {
            Some(v @ ("ON" | "OFF")) => {
                reg.history_off = v == "OFF";
                c.state().set_channel_history(name, v == "ON");
            }
            _ => {
                c.notice(CS, "Syntax: SET <#channel> HISTORY ON|OFF");
                return;
            }
        },
        _ => {
            c.notice(
                CS,
                "Unknown setting: DESCRIPTION, ENTRYMSG, KEEPTOPIC, RESTRICTED or HISTORY.",
            );
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
