//! Command handlers and the one dispatch table that runs the shared checks.
//!
//! Each command declares its minimum parameters, whether it may run before
//! registration and whether it needs oper; "not registered" (451), "not
//! enough parameters" (461 for a missing parameter), "no privileges" (481)
//! and "unknown command" (421) are answered here for every command.
//! Handlers are synchronous: they ask [`State`] questions and ask it for
//! changes, hand the resulting deliveries to [`Ctx::deliver`] and put their
//! own replies in the response buffer [`Ctx::out`]; they never touch a
//! socket or a lock. Work that must wait (bcrypt, a file, later a store
//! write) is a [`Job`]: a future the connection awaits, whose continuation
//! runs back here with a fresh `Ctx`.

mod bans;
pub mod cap;
mod channel;
mod chathistory;
pub mod deliver;
mod help;
mod list;
mod markread;
mod message;
mod mode;
mod monitor;
pub mod multiline;
mod multiwire;
pub mod oper;
mod query;
mod redact;
mod register;
pub mod registration;
mod relaymsg;
pub mod response;
mod sasl;
mod services;
mod who;
pub mod wire;

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, LazyLock},
};

use bytes::Bytes;

pub use response::Response;

use crate::{
    config::Config,
    proto::{Line, Message, line::middle, numerics::*},
    state::{ClientRef, Delivery, Refusal, State},
};

/// What the server offers commands beyond State: the operations that
/// belong to the network layer (REHASH reloads listeners' certificates).
pub trait Control: Send + Sync {
    /// Reloads the config file, MOTD and certificates, or says why not.
    fn rehash(&self) -> Result<(), String>;
    /// The account store and its rules, when services are on.
    fn accounts(&self) -> Option<Arc<crate::services::Accounts>>;
    /// Runs `work` after `delay` (not at all if the server shuts down
    /// first) and delivers what it returns: services' timers (SET ENFORCE).
    fn after(self: Arc<Self>, delay: std::time::Duration, work: crate::services::Later);
    /// Deletes from the store the bans that State dropped at expiry.
    fn purge_bans(&self);
}

/// The continuation of a [`Job`], run with a fresh `Ctx` once it is done.
pub type Then = Box<dyn for<'a> FnOnce(&mut Ctx<'a>) + Send>;

/// Work a handler started that the connection awaits before the next line.
pub type Job = Pin<Box<dyn Future<Output = Then> + Send>>;

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
    /// Jobs the connection must finish, in order, before reading on.
    pub jobs: std::collections::VecDeque<Job>,
    /// A SASL exchange in progress (boxed: an idle session carries none).
    pub sasl: Option<Box<sasl::Exchange>>,
    pub oper_failures: u32,
    /// A draft/multiline batch being received (boxed: most sessions never
    /// open one).
    pub batch: Option<Box<multiline::ClientBatch>>,
    /// Read markers of a connection without an account (draft/read-marker).
    pub markers: Option<Box<crate::state::MarkerMap>>,
    /// What the last line costs flood control, when not one line: nothing
    /// for the lines of a multiline batch, its size when it ends.
    pub flood_cost: Option<u32>,
    /// The connection's class and what admission counted for it; an
    /// account class may take it at registration (`State::reclass`).
    pub admission: crate::state::Admission,
    /// The RFC 1413 answer on its way, when ident is on: applied before 001.
    pub ident: Option<tokio::sync::oneshot::Receiver<Option<String>>>,
}

impl Session {
    pub fn new(client: ClientRef, admission: crate::state::Admission) -> Self {
        Session {
            admission,
            ident: None,
            client,
            registered: false,
            pass: None,
            user: None,
            nick_claimed: false,
            cap_negotiating: false,
            cap_version: 0,
            quit: None,
            jobs: Default::default(),
            sasl: None,
            oper_failures: 0,
            batch: None,
            markers: None,
            flood_cost: None,
        }
    }

    /// Is a multiline batch open (its lines are not fakelagged one by one)?
    pub fn in_client_batch(&self) -> bool {
        self.batch
            .as_deref()
            .is_some_and(multiline::ClientBatch::is_open)
    }
}

/// What a handler works with.
pub struct Ctx<'a> {
    pub state: &'a State,
    /// The config this command runs under (a rehash swaps it between commands).
    pub config: Arc<Config>,
    pub session: &'a mut Session,
    /// The response buffer: what this command says to its client.
    pub out: Response,
    /// The command carries a labeled-response label: every reply must stay
    /// in `out` to be wrapped.
    pub labeled: bool,
    /// That label (a client batch answers under its opening line's label).
    pub label: Option<String>,
    /// Set by a handler that answers for another line than its own (a
    /// client batch): the label to answer with instead of the line's, None
    /// for no label (and no ACK).
    pub relabel: Option<Option<String>>,
    pub control: Arc<dyn Control>,
}

impl<'a> Ctx<'a> {
    pub fn new(state: &'a State, session: &'a mut Session, control: Arc<dyn Control>) -> Self {
        Ctx {
            state,
            config: state.config(),
            session,
            out: Response::new(),
            labeled: false,
            label: None,
            relabel: None,
            control,
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

    /// `:server <code> <nick> <args...> :<text>`: the numeric's own text
    /// as the trailing parameter, or, for a numeric without one, the last
    /// argument.
    pub fn reply(&mut self, n: Numeric, args: &[&str]) {
        let line = numeric_line(&self.config.server.name, &self.nick(), n, args);
        self.out.push(line);
    }

    /// A numeric with a text of its own instead of the table's.
    pub fn reply_text(&mut self, n: Numeric, args: &[&str], text: &str) {
        let nick = self.nick();
        let line = Line::new(Some(&self.config.server.name), n.code)
            .arg(&nick)
            .args(args.iter().map(|a| middle(a)))
            .text(text)
            .build();
        self.out.push(line);
    }

    /// Like [`Ctx::reply`] but no argument is forced to be trailing (and the
    /// numeric's text is not added).
    pub fn reply_args(&mut self, n: Numeric, args: &[&str]) {
        let nick = self.nick();
        let mut line = Line::new(Some(&self.config.server.name), n.code).arg(&nick);
        if let Some((last, rest)) = args.split_last() {
            line = line.args(rest.iter().map(|a| middle(a))).arg(last);
        }
        self.out.push(line.build());
    }

    /// Answers a refusal from State with its numeric.
    pub fn refuse(&mut self, r: &Refusal) {
        let args: Vec<&str> = r.args.iter().map(String::as_str).collect();
        self.reply(r.numeric, &args);
    }

    /// Delivers what a State operation did: to the other recipients at once,
    /// and the client's own copy into the response.
    pub fn deliver(&mut self, d: Delivery) {
        let client = self.session.client.clone();
        deliver::deliver(&self.config.server.name, &d, Some((&client, &mut self.out)));
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

    /// `FAIL <command> <code> :<text>` (standard-replies).
    pub fn fail(&mut self, command: &str, code: &str, text: &str) {
        self.fail_with(command, code, &[], text);
    }

    /// `FAIL <command> <code> <context...> :<text>`.
    pub fn fail_with(&mut self, command: &str, code: &str, context: &[&str], text: &str) {
        let line = Line::new(Some(&self.config.server.name), "FAIL")
            .arg(command)
            .arg(code)
            .args(context.iter().map(|p| crate::proto::line::middle(p)))
            .text(text)
            .build();
        self.out.push(line);
    }

    pub fn is_oper(&self) -> bool {
        self.session.client.is_oper()
    }

    /// Runs `work` off the async threads (bcrypt, files), then `then` with
    /// its result and a fresh `Ctx`; the connection reads no further line
    /// until both are done. A password hash inside it goes through
    /// [`crate::hashing::run`] (a low CPU priority).
    pub fn blocking<T: Send + 'static>(
        &mut self,
        work: impl FnOnce() -> T + Send + 'static,
        then: impl for<'b> FnOnce(&mut Ctx<'b>, T) + Send + 'static,
    ) {
        self.session.jobs.push_back(Box::pin(async move {
            let result = tokio::task::spawn_blocking(work).await;
            Box::new(move |ctx: &mut Ctx<'_>| match result {
                Ok(v) => then(ctx, v),
                Err(_) => ctx.reply(ERR_UNKNOWNERROR, &["*", "Internal error"]),
            }) as Then
        }));
    }
}

/// One numeric line (see [`Ctx::reply`]).
/// A numeric to `nick`. Its middle parameters often echo what the client
/// sent (the channel or nick asked for), so each goes through `middle`: a
/// value with a space or a leading ':' is written `*`, as Ergo does.
pub fn numeric_line(server: &str, nick: &str, n: Numeric, args: &[&str]) -> Bytes {
    let mut line = Line::new(Some(server), n.code).arg(nick);
    if n.text.is_empty() {
        if let Some((last, rest)) = args.split_last() {
            line = line.args(rest.iter().map(|a| middle(a))).text(last);
        }
    } else {
        line = line.args(args.iter().map(|a| middle(a))).text(n.text);
    }
    line.build()
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

/// A command that panics, to prove the panic boundary; only in test builds.
#[cfg(feature = "test-hooks")]
fn test_panic(_ctx: &mut Ctx, msg: &Message) {
    panic!("test hook panicked with {}", msg.param(0).unwrap_or(""));
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
    cmd("HELP", 0, help::help),
    // who.rs
    cmd("USERHOST", 1, who::userhost),
    cmd("ISON", 1, who::ison),
    cmd("WHOIS", 1, who::whois),
    cmd("WHOWAS", 1, who::whowas),
    cmd("WHO", 0, who::who),
    // list.rs
    cmd("LIST", 0, list::list),
    cmd("NAMES", 0, list::names),
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
    cmd("SETNAME", 1, message::setname),
    // multiline.rs, relaymsg.rs, markread.rs
    cmd("BATCH", 1, multiline::batch),
    cmd("RELAYMSG", 3, relaymsg::relaymsg),
    cmd("MARKREAD", 0, markread::markread),
    // monitor.rs
    cmd("MONITOR", 1, monitor::monitor),
    // chathistory.rs, redact.rs (421 while [history] is off)
    cmd("CHATHISTORY", 1, chathistory::chathistory),
    cmd("REDACT", 2, redact::redact),
    // services.rs, sasl.rs
    cmd("NICKSERV", 1, services::nickserv),
    cmd("NS", 1, services::nickserv),
    cmd("CHANSERV", 1, services::chanserv),
    cmd("CS", 1, services::chanserv),
    pre("AUTHENTICATE", 1, sasl::authenticate),
    pre("REGISTER", 3, register::register),
    pre("VERIFY", 2, register::verify),
    // oper.rs
    cmd("OPER", 2, oper::oper),
    op("KILL", 2, oper::kill),
    op("WALLOPS", 1, oper::wallops),
    op("REHASH", 0, oper::rehash),
    // bans.rs
    op("KLINE", 1, bans::kline),
    op("DLINE", 1, bans::dline),
    op("UNKLINE", 1, bans::unkline),
    op("UNDLINE", 1, bans::undline),
    op("TESTLINE", 1, bans::testline),
    cmd("STATS", 1, bans::stats),
    #[cfg(feature = "test-hooks")]
    pre("__PANIC", 0, test_panic),
];

static BY_NAME: LazyLock<HashMap<&'static str, &'static Spec>> =
    LazyLock::new(|| TABLE.iter().map(|s| (s.name, s)).collect());

/// The commands a registered client may use (HELP, and the hostile-input
/// test that drives every one of them).
pub fn command_names() -> Vec<&'static str> {
    let mut v: Vec<_> = TABLE
        .iter()
        .map(|s| s.name)
        .filter(|n| !n.starts_with("__"))
        .collect();
    v.sort_unstable();
    v
}

/// Runs one parsed message through the shared checks and its handler.
pub fn dispatch(ctx: &mut Ctx, msg: &Message) {
    let name = msg.command.to_ascii_uppercase();
    // The lines of a draft/multiline batch (and anything that breaks one).
    if (msg.tags.is_some() || ctx.session.batch.is_some())
        && ctx.session.registered
        && multiline::intercept(ctx, msg, &name)
    {
        return;
    }
    let Some(spec) = BY_NAME.get(name.as_str()) else {
        if ctx.session.registered {
            ctx.reply(ERR_UNKNOWNCOMMAND, &[&name]);
        } else {
            ctx.reply(ERR_NOTREGISTERED, &[]);
        }
        return;
    };
    if !spec.before_registration && !ctx.session.registered {
        ctx.reply(ERR_NOTREGISTERED, &[]);
        return;
    }
    if msg.params().len() < spec.min_params || (spec.min_params > 0 && msg.params()[0].is_empty()) {
        ctx.reply(ERR_NEEDMOREPARAMS, &[spec.name]);
        return;
    }
    if spec.oper && !ctx.is_oper() {
        ctx.reply(ERR_NOPRIVILEGES, &[]);
        return;
    }
    tracing::debug!(
        client = ctx.session.client.id,
        command = spec.name,
        "command"
    );
    (spec.handler)(ctx, msg);
}
