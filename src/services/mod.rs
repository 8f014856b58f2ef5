//! Built-in services: NickServ and ChanServ as command tables (each command
//! with its syntax, help text, minimum parameters and whether it needs a
//! login), one router for `/NS`, `/NICKSERV`, `/MSG NickServ` and the same
//! for ChanServ, and the account store (`store.rs`) behind `Accounts`.
//! Command names follow Atheme/Anope. Services reply through a [`Caller`]
//! (the command context implements it), so they never see a socket, and
//! their bcrypt and store writes run as blocking jobs.

pub mod accounts;
mod chanserv;
mod chanserv_lists;
mod enforce;
mod nickserv;
pub mod scram;
pub mod store;
pub mod tokens;

use std::{any::Any, sync::Arc};

pub use accounts::Accounts;
pub use chanserv::{on_join, persist as persist_channel};
pub use enforce::{held as nick_held, on_nick};
pub use nickserv::log_in;

use crate::{
    config::Config,
    state::{ClientRef, Delivery, State},
};

/// The two pseudo-clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    NickServ,
    ChanServ,
}

impl Service {
    pub fn nick(self) -> &'static str {
        match self {
            Service::NickServ => "NickServ",
            Service::ChanServ => "ChanServ",
        }
    }

    /// `NickServ!NickServ@services.` as the source of its lines.
    pub fn prefix(self) -> String {
        format!("{0}!{0}@services.", self.nick())
    }

    /// The service a message target names (its nick, any case).
    pub fn by_nick(nick: &str) -> Option<Service> {
        [Service::NickServ, Service::ChanServ]
            .into_iter()
            .find(|s| s.nick().eq_ignore_ascii_case(nick))
    }

    /// The service a message target or a command name means.
    pub fn named(name: &str) -> Option<Service> {
        match name.to_ascii_uppercase().as_str() {
            "NICKSERV" | "NS" => Some(Service::NickServ),
            "CHANSERV" | "CS" => Some(Service::ChanServ),
            _ => None,
        }
    }
}

/// The result of a blocking job, handed to its continuation.
pub type Done = Box<dyn Any + Send>;

/// Work a service schedules for later ([`Caller::after`]): it reads and
/// changes State and returns what to deliver. Whoever it concerns must be
/// among each delivery's recipients: there is no actor then.
pub type Later = Box<dyn FnOnce(&State) -> Vec<Delivery> + Send>;

/// What a service command works with; implemented by the command context.
pub trait Caller {
    fn state(&self) -> &State;
    fn config(&self) -> &Config;
    fn client(&self) -> ClientRef;
    fn accounts(&self) -> Option<Arc<Accounts>>;
    /// A NOTICE from `service` to the caller.
    fn notice(&mut self, service: Service, text: &str);
    /// A numeric to the caller (900-908 for logins).
    fn numeric(&mut self, n: crate::proto::numerics::Numeric, args: &[&str]);
    fn deliver(&mut self, d: Delivery);
    /// A line from the server to the caller: `words` then the trailing
    /// `text` (`REGISTER SUCCESS <account> :...`, `FAIL ...`).
    fn raw_line(&mut self, words: &[&str], text: &str);
    /// Runs `work` after `delay` and delivers what it returns.
    fn after(&mut self, delay: std::time::Duration, work: Later);
    /// Runs `work` off the async threads, then `then` with its result.
    fn blocking(
        &mut self,
        work: Box<dyn FnOnce() -> Done + Send>,
        then: Box<dyn for<'a> FnOnce(&mut (dyn Caller + 'a), Done) + Send>,
    );
}

/// A typed [`Caller::blocking`].
pub fn job<T: Send + 'static>(
    c: &mut dyn Caller,
    work: impl FnOnce() -> T + Send + 'static,
    then: impl FnOnce(&mut dyn Caller, T) + Send + 'static,
) {
    c.blocking(
        Box::new(move || Box::new(work()) as Done),
        Box::new(move |c, done| {
            if let Ok(v) = done.downcast::<T>() {
                then(c, *v);
            }
        }),
    );
}

type Handler = fn(&mut dyn Caller, &[&str]);

/// One service command.
pub struct Command {
    pub name: &'static str,
    pub syntax: &'static str,
    pub help: &'static str,
    pub min_params: usize,
    pub needs_login: bool,
    pub handler: Handler,
}

fn table(service: Service) -> &'static [Command] {
    match service {
        Service::NickServ => nickserv::COMMANDS,
        Service::ChanServ => chanserv::COMMANDS,
    }
}

/// Runs one line said to a service (`REGISTER hunter2`).
pub fn route(c: &mut dyn Caller, service: Service, text: &str) {
    if c.accounts().is_none() {
        c.notice(service, "Services are disabled on this server.");
        return;
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some((first, args)) = words.split_first() else {
        c.notice(service, &format!("Try /msg {} HELP", service.nick()));
        return;
    };
    let name = first.to_ascii_uppercase();
    if name == "HELP" {
        return help(c, service, args.first().copied());
    }
    let Some(cmd) = table(service).iter().find(|cmd| cmd.name == name) else {
        c.notice(
            service,
            &format!(
                "Unknown command {name}. /msg {} HELP lists the commands.",
                service.nick()
            ),
        );
        return;
    };
    if args.len() < cmd.min_params {
        c.notice(
            service,
            &format!("Not enough parameters. Syntax: {}", cmd.syntax),
        );
        return;
    }
    if cmd.needs_login && c.client().snapshot().account.is_none() {
        c.notice(
            service,
            "You need to be logged in: /msg NickServ IDENTIFY <password>",
        );
        return;
    }
    tracing::debug!(
        client = c.client().id,
        service = service.nick(),
        command = cmd.name,
        "service command"
    );
    (cmd.handler)(c, args);
}

fn help(c: &mut dyn Caller, service: Service, topic: Option<&str>) {
    let cmds = table(service);
    match topic {
        None => {
            c.notice(
                service,
                &format!("{} commands (HELP <command> for one):", service.nick()),
            );
            for cmd in cmds {
                c.notice(service, &format!("  {:<10} {}", cmd.name, cmd.help));
            }
            c.notice(
                service,
                "  HELP       This list, or the help of one command.",
            );
        }
        Some(t) => match cmds.iter().find(|cmd| cmd.name.eq_ignore_ascii_case(t)) {
            Some(cmd) => {
                c.notice(service, &format!("Syntax: {}", cmd.syntax));
                c.notice(service, cmd.help);
            }
            None => c.notice(service, &format!("No help for {t}.")),
        },
    }
}
