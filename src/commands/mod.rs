//! Command handlers and the one dispatch table that runs the shared checks.
//!
//! Each command declares its minimum parameters, whether it may run before
//! registration and whether it needs oper; "not registered" (451), "not
//! enough parameters" (461), "no privileges" (481) and "unknown command"
//! (421) are answered here, never in a handler. Handlers are synchronous:
//! they read and change state through [`State`] and put their replies in the
//! response buffer [`Ctx::out`]; they never touch a socket. Work that must
//! not run on the async threads (bcrypt) is handed back as a [`Pending`].

pub mod cap;
mod channel;
mod message;
mod mode;
pub mod oper;
mod query;
pub mod registration;

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock},
};

use bytes::Bytes;

use crate::{
    config::Config,
    proto::{Line, Message, numerics::*},
    state::{ClientRef, State},
};

/// Per-connection state that only the connection's own task touches.
pub struct Session {
    pub client: ClientRef,
    pub registered: bool,
    /// The PASS given before registration; cleared once checked.
    pub pass: Option<zeroize::Zeroizing<String>>,
    pub user: Option<(String, String)>,
    pub nick_claimed: bool,
    /// True between `CAP LS/REQ` and `CAP END` before registration.
    pub cap_negotiating: bool,
    pub cap_version: u32,
    /// Set by QUIT (or a failed registration): the connection ends with it.
    pub quit: Option<String>,
    pub pending: Option<Pending>,
    pub oper_failures: u32,
}

impl Session {
    pub fn new(client: ClientRef) -> Self {
        Session {
            client,
            registered: false,
            pass: None,
            user: None,
            nick_claimed: false,
            cap_negotiating: false,
            cap_version: 0,
            quit: None,
            pending: None,
            oper_failures: 0,
        }
    }
}

/// Work a handler asks the connection to finish off the async threads.
pub enum Pending {
    /// Verify an oper password (bcrypt), then call [`oper::finish`].
    Oper {
        name: String,
        password: zeroize::Zeroizing<String>,
    },
    /// Check the server password (bcrypt or plain), then call
    /// [`registration::password_checked`].
    ServerPassword {
        given: zeroize::Zeroizing<String>,
        expected: zeroize::Zeroizing<String>,
    },
    /// Reload the config, MOTD and certificates.
    Rehash,
}

/// What a handler works with.
pub struct Ctx<'a> {
    pub state: &'a State,
    /// The config this command runs under (a rehash swaps it between commands).
    pub config: Arc<Config>,
    pub session: &'a mut Session,
    /// The response buffer: lines for this client, queued after the command.
    pub out: Vec<Bytes>,
    /// The command carries a labeled-response label: every reply must stay
    /// in `out` to be wrapped.
    pub labeled: bool,
}

impl<'a> Ctx<'a> {
    pub fn new(state: &'a State, session: &'a mut Session) -> Self {
        Ctx {
            state,
            config: state.config(),
            session,
            out: Vec::new(),
            labeled: false,
        }
    }

    pub fn client(&self) -> &ClientRef {
        &self.session.client
    }

    pub fn nick(&self) -> String {
        self.session.client.nick()
    }

    pub fn server_name(&self) -> &str {
        &self.config.server.name
    }

    /// `:server <code> <nick> <args...>`, the last argument as free text.
    pub fn reply(&mut self, code: &str, args: &[&str]) {
        let nick = self.nick();
        let mut line = Line::new(Some(&self.config.server.name), code).arg(&nick);
        if let Some((last, rest)) = args.split_last() {
            line = line.args(rest.iter().copied()).text(last);
        }
        self.out.push(line.build());
    }

    /// Like [`Ctx::reply`] but the last argument is not forced to be trailing.
    pub fn reply_args(&mut self, code: &str, args: &[&str]) {
        let nick = self.nick();
        let line = Line::new(Some(&self.config.server.name), code)
            .arg(&nick)
            .args(args.iter().copied());
        self.out.push(line.build());
    }

    /// Bytes left for the trailing parameter of a numeric to this client,
    /// after `used` bytes of middle parameters (and a margin for tags-free
    /// framing: ":server 123 nick ... :" and CRLF).
    pub fn room(&self, used: usize) -> usize {
        510usize
            .saturating_sub(self.config.server.name.len() + self.nick().len() + used + 12)
            .max(64)
    }

    pub fn push(&mut self, line: Bytes) {
        self.out.push(line);
    }

    /// A NOTICE from the server to this client.
    pub fn server_notice(&mut self, text: &str) {
        let nick = self.nick();
        self.out.push(
            Line::new(Some(&self.config.server.name), "NOTICE")
                .arg(&nick)
                .text(text)
                .build(),
        );
    }

    pub fn need_more_params(&mut self, command: &str) {
        self.reply(ERR_NEEDMOREPARAMS, &[command, "Not enough parameters"]);
    }

    pub fn is_oper(&self) -> bool {
        self.session.client.info().modes.oper
    }
}

type Handler = fn(&mut Ctx, &Message);

struct Spec {
    name: &'static str,
    min_params: usize,
    before_registration: bool,
    oper: bool,
    handler: Handler,
}

const fn cmd(name: &'static str, min_params: usize, handler: Handler) -> Spec {
    Spec {
        name,
        min_params,
        before_registration: false,
        oper: false,
        handler,
    }
}

const fn pre(name: &'static str, min_params: usize, handler: Handler) -> Spec {
    Spec {
        name,
        min_params,
        before_registration: true,
        oper: false,
        handler,
    }
}

const fn op(name: &'static str, min_params: usize, handler: Handler) -> Spec {
    Spec {
        name,
        min_params,
        before_registration: false,
        oper: true,
        handler,
    }
}

static TABLE: &[Spec] = &[
    // registration.rs
    pre("PASS", 1, registration::pass),
    pre("NICK", 0, registration::nick),
    pre("USER", 4, registration::user),
    pre("CAP", 1, cap::cap),
    pre("PING", 1, registration::ping),
    pre("PONG", 0, registration::pong),
    pre("QUIT", 0, registration::quit),
    // query.rs
    cmd("LUSERS", 0, query::lusers),
    cmd("MOTD", 0, query::motd),
    cmd("TIME", 0, query::time),
    cmd("VERSION", 0, query::version),
    cmd("ADMIN", 0, query::admin),
    cmd("INFO", 0, query::info),
    cmd("USERHOST", 1, query::userhost),
    cmd("ISON", 1, query::ison),
    cmd("WHOIS", 1, query::whois),
    cmd("WHOWAS", 1, query::whowas),
    cmd("WHO", 0, query::who),
    cmd("LIST", 0, query::list),
    cmd("NAMES", 0, query::names),
    cmd("HELP", 0, query::help),
    // channel.rs
    cmd("JOIN", 1, channel::join),
    cmd("PART", 1, channel::part),
    cmd("TOPIC", 1, channel::topic),
    cmd("KICK", 2, channel::kick),
    cmd("INVITE", 2, channel::invite),
    // mode.rs
    cmd("MODE", 1, mode::mode),
    // message.rs
    cmd("PRIVMSG", 0, message::privmsg),
    cmd("NOTICE", 0, message::notice),
    cmd("TAGMSG", 0, message::tagmsg),
    cmd("AWAY", 0, message::away),
    cmd("SETNAME", 1, query::setname),
    cmd("MONITOR", 1, query::monitor),
    // oper.rs
    cmd("OPER", 2, oper::oper),
    op("KILL", 2, oper::kill),
    op("WALLOPS", 1, oper::wallops),
    op("REHASH", 0, oper::rehash),
];

static BY_NAME: LazyLock<HashMap<&'static str, &'static Spec>> =
    LazyLock::new(|| TABLE.iter().map(|s| (s.name, s)).collect());

/// The commands a registered client may use (HELP).
pub fn command_names() -> Vec<&'static str> {
    let mut v: Vec<_> = TABLE.iter().map(|s| s.name).collect();
    v.sort_unstable();
    v
}

/// Runs one parsed message through the shared checks and its handler.
pub fn dispatch(ctx: &mut Ctx, msg: &Message) {
    let name = msg.command.to_ascii_uppercase();
    let Some(spec) = BY_NAME.get(name.as_str()) else {
        if ctx.session.registered {
            ctx.reply(ERR_UNKNOWNCOMMAND, &[&name, "Unknown command"]);
        } else {
            ctx.reply(ERR_NOTREGISTERED, &["You have not registered"]);
        }
        return;
    };
    if !spec.before_registration && !ctx.session.registered {
        ctx.reply(ERR_NOTREGISTERED, &["You have not registered"]);
        return;
    }
    if msg.params().len() < spec.min_params || (spec.min_params > 0 && msg.params()[0].is_empty()) {
        ctx.need_more_params(spec.name);
        return;
    }
    if spec.oper && !ctx.is_oper() {
        ctx.reply(
            ERR_NOPRIVILEGES,
            &["Permission Denied- You're not an IRC operator"],
        );
        return;
    }
    tracing::debug!(
        client = ctx.session.client.id,
        command = spec.name,
        "command"
    );
    (spec.handler)(ctx, msg);
}
