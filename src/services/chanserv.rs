//! ChanServ: channel registrations. REGISTER (by an operator of a channel
//! that is not ephemeral), INFO, DROP, OP/DEOP/VOICE/DEVOICE, CLOSE (an
//! operator destroys the room at once, through the same path as the idle
//! self-destruct).

use super::{Caller, Command, Service, accounts::ago};

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
        c.notice(CS, &format!("You must be an operator of {} to register it.", status.name));
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
            Ok(name) => c.notice(CS, &format!("{name} is now registered to you.")),
            Err(super::store::StoreError::Exists) => c.notice(CS, "That channel is already registered."),
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
    let founder = acc.account(&reg.founder).map(|a| a.name).unwrap_or(reg.founder.clone());
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
    super::job(c, move || acc.drop_channel(&name), |c, ok| {
        c.notice(CS, if ok { "The registration is dropped." } else { "Nothing to drop." })
    });
}

fn status(c: &mut dyn Caller, args: &[&str], mode: char, add: bool) {
    let name = args[0];
    if !founder_only(c, name) {
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
    match c.state().service_mode(name, &target, mode, add, &CS.prefix()) {
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
    let founder = account(c).is_some_and(|a| {
        c.accounts()
            .is_some_and(|acc| acc.is_founder(name, &a))
    });
    if !status.op && !founder {
        c.notice(CS, &format!("You must be an operator of {} to close it.", status.name));
        return;
    }
    let reason = if args.len() > 1 {
        format!("Channel closed by {}: {}", client.nick(), args[1..].join(" "))
    } else {
        format!("Channel closed by {}", client.nick())
    };
    if let Some(d) = c.state().close_channel(name, &reason) {
        c.deliver(d);
    }
    c.notice(CS, &format!("{} is closed.", status.name));
}
