//! Connection registration (PASS, NICK, USER, then CAP END) and the welcome
//! burst (001-005, LUSERS, MOTD); PING, PONG and QUIT.

use crate::{
    config::Config,
    proto::{Line, Message, modes, numerics::*},
    state::unix_now,
};

use super::{Ctx, query};

pub const VERSION: &str = concat!("ircd-", env!("CARGO_PKG_VERSION"));

/// Nicks the server keeps for its own pseudo-clients.
const RESERVED_NICKS: &[&str] = &["NickServ", "ChanServ", "Global"];

/// A valid nick: a letter or one of `[]\`^{|}_` first, then those, digits
/// and '-'; at most NICKLEN bytes.
pub fn valid_nick(nick: &str, max: usize) -> bool {
    let special = |c: char| "[]\\`^{|}_".contains(c);
    let mut chars = nick.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || special(c) => {}
        _ => return false,
    }
    nick.len() <= max && chars.all(|c| c.is_ascii_alphanumeric() || special(c) || c == '-')
}

// PASS <password>
pub fn pass(ctx: &mut Ctx, msg: &Message) {
    if ctx.session.registered {
        ctx.reply(ERR_ALREADYREGISTERED, &[]);
        return;
    }
    ctx.session.pass = Some(zeroize::Zeroizing::new(msg.params()[0].to_string()));
}

// NICK <nickname>
pub fn nick(ctx: &mut Ctx, msg: &Message) {
    let Some(new) = msg.param(0).filter(|n| !n.is_empty()) else {
        ctx.reply(ERR_NONICKNAMEGIVEN, &[]);
        return;
    };
    let max = ctx.config.limits.nicklen;
    // Bridges send a whole display name before registration: it is cut to
    // NICKLEN (as Solanum does) rather than refused; a registered client's
    // too-long NICK still gets 432.
    let new = if ctx.session.registered {
        new
    } else {
        crate::proto::line::truncate(new, max)
    };
    // A relaymsg separator marks relayed nicks: no client may take one.
    let reserved = RESERVED_NICKS.iter().any(|r| ctx.state.casemap.eq(r, new))
        || ctx.config.relaymsg.is_relayed(new);
    if !valid_nick(new, max) || reserved {
        ctx.reply(ERR_ERRONEUSNICKNAME, &[new]);
        return;
    }
    let client = ctx.client().clone();
    if client.nick() == new {
        return;
    }
    // A nick NickServ holds for its owner after renaming an impostor.
    if let Some(acc) = ctx.control.accounts()
        && crate::services::nick_held(ctx.state, &acc, &client, new)
    {
        ctx.reply(ERR_NICKNAMEINUSE, &[new]);
        return;
    }
    match ctx.state.change_nick(&client, new) {
        Err(r) => ctx.refuse(&r),
        Ok(deliveries) => {
            // Before registration, only a holder whose nick was overruled.
            for d in deliveries {
                ctx.deliver(d);
            }
            if !ctx.session.registered {
                ctx.session.nick_claimed = true;
                try_complete(ctx);
            } else {
                crate::services::on_nick(ctx);
            }
        }
    }
}

// USER <username> <mode> <unused> <realname>
pub fn user(ctx: &mut Ctx, msg: &Message) {
    if ctx.session.registered || ctx.session.user.is_some() {
        ctx.reply(ERR_ALREADYREGISTERED, &[]);
        return;
    }
    if msg.params().iter().take(4).any(|p| p.is_empty()) {
        ctx.reply(ERR_NEEDMOREPARAMS, &["USER"]);
        return;
    }
    let max = ctx.config.limits.userlen;
    let mut user = clean_username(msg.params()[0], max);
    if user.is_empty() {
        // Nothing usable (e.g. all emoji): a placeholder, as other servers do.
        user = "~u".to_string();
    }
    let realname: String = {
        let r = msg.params()[3];
        let mut cut = r.len().min(ctx.config.limits.realnamelen);
        while !r.is_char_boundary(cut) {
            cut -= 1;
        }
        r[..cut].to_string()
    };
    let client = ctx.client().clone();
    ctx.state.set_ident(&client, &user, &realname);
    ctx.session.user = Some((user, realname));
    try_complete(ctx);
}

/// The characters of a username we keep, at most `max` of them.
fn clean_username(given: &str, max: usize) -> String {
    given
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.~[]{}|^`\\".contains(*c))
        .take(max)
        .collect()
}

/// With ident on: the identd's answer is the username (no `~`); without
/// one, the given username gets a `~` in front (USERLEN still holds).
fn apply_ident(ctx: &mut Ctx, answer: Option<String>) {
    let Some((given, realname)) = ctx.session.user.clone() else {
        return;
    };
    let max = ctx.config.limits.userlen;
    let answered = answer
        .map(|a| clean_username(&a.replace('~', ""), max))
        .filter(|u| !u.is_empty());
    let user = answered.unwrap_or_else(|| match given.strip_prefix('~') {
        Some(_) => given.clone(),
        None => format!("~{given}").chars().take(max.max(2)).collect(),
    });
    let client = ctx.client().clone();
    ctx.state.set_ident(&client, &user, &realname);
    ctx.session.user = Some((user, realname));
}

/// Completes registration once NICK and USER are in and CAP negotiation (if
/// any) has ended; waits for the ident answer (when ident is on) and checks
/// the server password first when one is configured.
pub fn try_complete(ctx: &mut Ctx) {
    let s = &ctx.session;
    if s.registered
        || !s.nick_claimed
        || ctx.client().nick() == "*"
        || s.user.is_none()
        || s.cap_negotiating
        || !s.jobs.is_empty()
    {
        return;
    }
    if let Some(pending) = ctx.session.ident.take() {
        ctx.session.jobs.push_back(Box::pin(async move {
            let answer = pending.await.ok().flatten();
            Box::new(move |ctx: &mut Ctx<'_>| {
                apply_ident(ctx, answer);
                try_complete(ctx);
            }) as super::Then
        }));
        return;
    }
    if let Some(expected) = ctx
        .config
        .server
        .password
        .as_ref()
        .map(|p| zeroize::Zeroizing::new(p.expose().to_string()))
    {
        match ctx.session.pass.take() {
            Some(given) => ctx.blocking(
                move || {
                    if crate::config::is_bcrypt_hash(&expected) {
                        crate::hashing::run(|| bcrypt::verify(given.as_bytes(), &expected))
                            .unwrap_or(false)
                    } else {
                        constant_time_eq(given.as_bytes(), expected.as_bytes())
                    }
                },
                password_checked,
            ),
            None => password_checked(ctx, false),
        }
        return;
    }
    // Without a server password, `PASS account:password` logs in (before 001).
    if let Some(pass) = ctx.session.pass.take()
        && let Some(accounts) = ctx.control.accounts()
        && let Some((account, password)) = pass.split_once(':')
    {
        let (account, password) = (
            account.to_string(),
            zeroize::Zeroizing::new(password.to_string()),
        );
        let ip = ctx.client().ip;
        let cfg = ctx.config.clone();
        if accounts.throttled(&cfg, &account, ip) {
            return password_checked(ctx, false);
        }
        ctx.blocking(
            move || {
                let r = accounts.verify(&account, &password, cfg.tokens.as_ref());
                if r.is_err() {
                    accounts.note_failure(&cfg, &account, ip);
                }
                r
            },
            |ctx, result| match result {
                Ok(name) => {
                    crate::services::log_in(ctx, &name);
                    welcome(ctx);
                }
                Err(_) => password_checked(ctx, false),
            },
        );
        return;
    }
    welcome(ctx);
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Called once the server password has been checked.
fn password_checked(ctx: &mut Ctx, ok: bool) {
    if ok {
        welcome(ctx);
    } else {
        ctx.reply(ERR_PASSWDMISMATCH, &[]);
        ctx.session.quit = Some("Bad password".into());
    }
}

fn welcome(ctx: &mut Ctx) {
    let (user, realname) = ctx.session.user.clone().unwrap_or_default();
    let client = ctx.client().clone();
    // K-lines are matched here, once user@host is known.
    let banned = ctx.state.kline_for(&client);
    ctx.control.purge_bans();
    if let Some(ban) = banned {
        ctx.reply(
            ERR_YOUREBANNEDCREEP,
            &[&format!("You are banned from this server: {}", ban.reason)],
        );
        ctx.session.quit = Some(format!("Banned: {}", ban.reason));
        return;
    }
    // Logged in by now (SASL, PASS): an account class may take the client.
    if let Some(account) = client.snapshot().account
        && let Err(why) = ctx
            .state
            .reclass(&mut ctx.session.admission, client.tls, &account)
    {
        ctx.session.quit = Some(why);
        return;
    }
    let Some(online) = ctx.state.register(&client, user, realname) else {
        // Overruled since NICK (it got 433): registration waits for a new one.
        ctx.session.nick_claimed = false;
        return;
    };
    ctx.session.registered = true;
    ctx.session.pass = None;
    let cfg = ctx.config.clone();
    let prefix = client.prefix();
    ctx.reply(
        RPL_WELCOME,
        &[&format!(
            "Welcome to the {} IRC Network {prefix}",
            cfg.server.network
        )],
    );
    ctx.reply(
        RPL_YOURHOST,
        &[&format!(
            "Your host is {}, running version {VERSION}",
            cfg.server.name
        )],
    );
    let created = format_time(ctx.state.started);
    ctx.reply(
        RPL_CREATED,
        &[&format!("This server was created {created}")],
    );
    ctx.reply_args(
        RPL_MYINFO,
        &[
            &cfg.server.name,
            VERSION,
            USER_MODES,
            &modes::all_letters(),
            &modes::letters_with_param(),
        ],
    );
    send_isupport(ctx);
    query::send_lusers(ctx);
    query::send_motd(ctx);
    for d in online {
        ctx.deliver(d);
    }
    crate::services::on_nick(ctx);
}

pub const USER_MODES: &str = "BRiow";

/// The 005 lines (13 tokens each), at registration and for VERSION.
pub fn send_isupport(ctx: &mut Ctx) {
    let cfg = ctx.config.clone();
    for chunk in isupport(&cfg).chunks(13) {
        let args: Vec<&str> = chunk.iter().map(String::as_str).collect();
        ctx.reply(RPL_ISUPPORT, &args);
    }
}

/// The ISUPPORT (005) tokens: every one of them true of this server.
pub fn isupport(cfg: &Config) -> Vec<String> {
    let l = &cfg.limits;
    // Account extbans (`$a:account` in +b/+e/+I), IRCv3 account-extban:
    // accounts exist only with services.
    let extban = cfg.services.enabled;
    extban
        .then(|| "ACCOUNTEXTBAN=a".to_string())
        .into_iter()
        .chain([
            format!("AWAYLEN={}", l.awaylen),
            format!("CASEMAPPING={}", cfg.server.casemapping.name()),
            format!("CHANLIMIT=#:{}", l.max_channels),
            format!("CHANMODES={}", modes::chanmodes()),
            format!("CHANNELLEN={}", l.channellen),
            "BOT=B".to_string(),
            "CHANTYPES=#".to_string(),
        ])
        .chain(
            cfg.history
                .enabled
                .then(|| format!("CHATHISTORY={}", cfg.history.request_limit())),
        )
        .chain(
            (!l.client_tag_deny.is_empty())
                .then(|| format!("CLIENTTAGDENY={}", l.client_tag_deny.join(","))),
        )
        .chain(["ELIST=CMNTU".to_string(), "EXCEPTS=e".to_string()])
        .chain(extban.then(|| "EXTBAN=$,a".to_string()))
        .chain([
            "INVEX=I".to_string(),
            format!("KICKLEN={}", l.kicklen),
            "LINELEN=512".to_string(),
            format!("MAXLIST=beI:{}", l.max_list_entries),
            format!("MAXTARGETS={}", l.max_targets),
            "MODES=4".to_string(),
            format!("MONITOR={}", l.monitor),
        ])
        .chain(
            cfg.history
                .enabled
                .then(|| "MSGREFTYPES=msgid,timestamp".to_string()),
        )
        .chain([
            format!("NAMELEN={}", l.realnamelen),
            format!("NETWORK={}", cfg.server.network),
            format!("NICKLEN={}", l.nicklen),
            format!("PREFIX={}", modes::PREFIX),
            "SAFELIST".to_string(),
            "STATUSMSG=@+".to_string(),
            format!(
                "TARGMAX=JOIN:,KICK:{0},LIST:1,NAMES:{0},NOTICE:{0},PART:,PRIVMSG:{0},WHOIS:1",
                l.max_targets
            ),
            format!("TOPICLEN={}", l.topiclen),
            format!("USERLEN={}", l.userlen),
            "UTF8ONLY".to_string(),
            "WHOX".to_string(),
        ])
        .collect()
}

// PING <token>
pub fn ping(ctx: &mut Ctx, msg: &Message) {
    let line = Line::new(Some(ctx.server_name()), "PONG")
        .arg(ctx.server_name())
        .text(msg.params()[0])
        .build();
    ctx.push(line);
}

// PONG [<server>] <token>: the connection notes the activity; nothing to answer.
pub fn pong(_ctx: &mut Ctx, _msg: &Message) {}

// QUIT [<reason>]
pub fn quit(ctx: &mut Ctx, msg: &Message) {
    let reason = msg.param(0).unwrap_or("");
    let reason = if reason.is_empty() {
        "Client Quit".to_string()
    } else {
        format!("Quit: {reason}")
    };
    ctx.session.quit = Some(reason);
}

pub fn format_time(unix: u64) -> String {
    crate::proto::time::human(unix)
}

pub fn now_string() -> String {
    format_time(unix_now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicks() {
        for ok in ["a", "Name[m]", "x-y", "`^{|}_", "abc123"] {
            assert!(valid_nick(ok, 30), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "-x",
            "a b",
            "a!b",
            "a@b",
            "#chan",
            "a:b",
            "*",
            &"a".repeat(31),
        ] {
            assert!(!valid_nick(bad, 30), "{bad}");
        }
    }
}
