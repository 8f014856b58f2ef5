//! Queries: LUSERS, MOTD, TIME, VERSION, ADMIN, INFO, HELP, USERHOST, ISON,
//! WHOIS, WHOWAS, WHO/WHOX, NAMES, LIST. They read state and change nothing.

use crate::{
    proto::{Line, Message, caps::Cap, mask::glob_match, numerics::*},
    state::{Channel, ClientRef, unix_now},
};

use super::{Ctx, registration};

// LUSERS
pub fn lusers(ctx: &mut Ctx, _msg: &Message) {
    send_lusers(ctx);
}

pub fn send_lusers(ctx: &mut Ctx) {
    let st = ctx.state;
    let users = st.local_users();
    let invisible = st.invisible_count();
    let max = st.max_local_users().max(users);
    ctx.reply(
        RPL_LUSERCLIENT,
        &[&format!(
            "There are {} users and {invisible} invisible on 1 servers",
            users - invisible.min(users)
        )],
    );
    ctx.reply(
        RPL_LUSEROP,
        &[&st.oper_count().to_string(), "operator(s) online"],
    );
    ctx.reply(
        RPL_LUSERUNKNOWN,
        &[&st.unregistered().to_string(), "unknown connection(s)"],
    );
    ctx.reply(
        RPL_LUSERCHANNELS,
        &[&st.channel_count().to_string(), "channels formed"],
    );
    ctx.reply(
        RPL_LUSERME,
        &[&format!("I have {users} clients and 0 servers")],
    );
    ctx.reply(
        RPL_LOCALUSERS,
        &[
            &users.to_string(),
            &max.to_string(),
            &format!("Current local users {users}, max {max}"),
        ],
    );
    ctx.reply(
        RPL_GLOBALUSERS,
        &[
            &users.to_string(),
            &max.to_string(),
            &format!("Current global users {users}, max {max}"),
        ],
    );
}

// MOTD [<server>]
pub fn motd(ctx: &mut Ctx, _msg: &Message) {
    send_motd(ctx);
}

pub fn send_motd(ctx: &mut Ctx) {
    let cfg = ctx.config.clone();
    match &cfg.server.motd {
        None => ctx.reply(ERR_NOMOTD, &["MOTD File is missing"]),
        Some(lines) => {
            ctx.reply(
                RPL_MOTDSTART,
                &[&format!("- {} Message of the day - ", cfg.server.name)],
            );
            for l in lines {
                ctx.reply(RPL_MOTD, &[&format!("- {l}")]);
            }
            ctx.reply(RPL_ENDOFMOTD, &["End of /MOTD command."]);
        }
    }
}

// TIME [<server>]
pub fn time(ctx: &mut Ctx, _msg: &Message) {
    let name = ctx.config.server.name.clone();
    ctx.reply(
        RPL_TIME,
        &[
            &name,
            &unix_now().to_string(),
            "0",
            &registration::now_string(),
        ],
    );
}

// VERSION [<server>]
pub fn version(ctx: &mut Ctx, _msg: &Message) {
    let name = ctx.config.server.name.clone();
    ctx.reply(
        RPL_VERSION,
        &[
            registration::VERSION,
            &name,
            "IRCv3 server with ephemeral, no-log channels",
        ],
    );
    registration::send_isupport(ctx);
}

// ADMIN [<server>]
pub fn admin(ctx: &mut Ctx, _msg: &Message) {
    let cfg = ctx.config.clone();
    ctx.reply(RPL_ADMINME, &[&cfg.server.name, "Administrative info"]);
    ctx.reply(RPL_ADMINLOC1, &[&cfg.server.description]);
    ctx.reply(RPL_ADMINLOC2, &[&cfg.server.admin_location]);
    ctx.reply(RPL_ADMINEMAIL, &[&cfg.server.admin_email]);
}

// INFO [<server>]
pub fn info(ctx: &mut Ctx, _msg: &Message) {
    for l in [
        registration::VERSION,
        "A single-binary IRCv3 server for a home box or a small community,",
        "with built-in services and ephemeral, no-log channels.",
        "Nothing said here is written to disk or to logs.",
    ] {
        ctx.reply(RPL_INFO, &[l]);
    }
    ctx.reply(RPL_ENDOFINFO, &["End of INFO list"]);
}

/// HELP topics: a line of syntax and one of meaning each.
const HELP: &[(&str, &str)] = &[
    ("ADMIN", "ADMIN: shows who runs this server."),
    (
        "AWAY",
        "AWAY [<message>]: marks you away; without a message, back.",
    ),
    ("CAP", "CAP LS|REQ|LIST|END: IRCv3 capability negotiation."),
    ("HELP", "HELP [<command>]: lists commands, or explains one."),
    ("INFO", "INFO: shows information about this server."),
    (
        "INVITE",
        "INVITE <nick> <#channel>: invites a user past +i, +k and +l once.",
    ),
    (
        "ISON",
        "ISON <nick>...: tells which of the nicks are online.",
    ),
    (
        "JOIN",
        "JOIN <#channel>[,...] [<key>[,...]]: joins (or creates) channels; JOIN 0 parts all.",
    ),
    (
        "KICK",
        "KICK <#channel> <nick> [<reason>]: removes a user from a channel.",
    ),
    ("KILL", "KILL <nick> <reason>: (opers) disconnects a user."),
    (
        "LIST",
        "LIST [<#channel>[,...]] [>n|<n]: lists channels (secret ones hidden).",
    ),
    ("LUSERS", "LUSERS: counts users, operators and channels."),
    (
        "MODE",
        "MODE <target> [<modes> [<params>]]: shows or changes user or channel modes.",
    ),
    (
        "MONITOR",
        "MONITOR +|- <nick>[,...] | C | L | S: get notified when nicks come and go.",
    ),
    ("MOTD", "MOTD: shows the message of the day."),
    ("NAMES", "NAMES <#channel>: lists who is in a channel."),
    ("NICK", "NICK <nick>: sets or changes your nickname."),
    (
        "NOTICE",
        "NOTICE <target>[,...] <text>: like PRIVMSG, never answered automatically.",
    ),
    ("OPER", "OPER <name> <password>: become an IRC operator."),
    ("PART", "PART <#channel>[,...] [<reason>]: leaves channels."),
    (
        "PASS",
        "PASS <password>: the server password, before NICK and USER.",
    ),
    (
        "PING",
        "PING <token>: the server answers PONG with the token.",
    ),
    ("PONG", "PONG <token>: answers a PING from the server."),
    (
        "PRIVMSG",
        "PRIVMSG <target>[,...] <text>: sends a message to channels or users.",
    ),
    ("QUIT", "QUIT [<reason>]: disconnects."),
    (
        "REHASH",
        "REHASH: (opers) reloads the configuration, MOTD and certificates.",
    ),
    ("SETNAME", "SETNAME <realname>: changes your realname."),
    (
        "TAGMSG",
        "TAGMSG <target>[,...]: a message with only tags (IRCv3 message-tags).",
    ),
    ("TIME", "TIME: shows the server's time."),
    (
        "TOPIC",
        "TOPIC <#channel> [<topic>]: shows or sets a channel topic.",
    ),
    ("USER", "USER <username> 0 * <realname>: registration."),
    ("USERHOST", "USERHOST <nick>...: shows user@host of nicks."),
    ("VERSION", "VERSION: shows the server version and ISUPPORT."),
    (
        "WALLOPS",
        "WALLOPS <text>: (opers) a message to users with +w.",
    ),
    (
        "WHO",
        "WHO <mask|#channel> [%fields]: lists users (WHOX fields supported).",
    ),
    ("WHOIS", "WHOIS <nick>: shows information about a user."),
    (
        "WHOWAS",
        "WHOWAS <nick> [<count>]: shows who used a nick recently.",
    ),
];

// HELP [<subject>]
pub fn help(ctx: &mut Ctx, msg: &Message) {
    let subject = msg.param(0).map(str::to_ascii_uppercase);
    match subject {
        None => {
            ctx.reply(
                RPL_HELPSTART,
                &["*", "Commands of this server (HELP <command> for one):"],
            );
            for chunk in super::command_names().chunks(8) {
                ctx.reply(RPL_HELPTXT, &["*", &chunk.join(" ")]);
            }
            ctx.reply(RPL_ENDOFHELP, &["*", "End of /HELP"]);
        }
        Some(s) => match HELP.iter().find(|(n, _)| *n == s) {
            Some((name, text)) => {
                let lower = name.to_ascii_lowercase();
                ctx.reply(RPL_HELPSTART, &[&lower, text]);
                ctx.reply(RPL_ENDOFHELP, &[&lower, "End of /HELP"]);
            }
            None => ctx.reply(ERR_HELPNOTFOUND, &[&s, "No help available on this topic"]),
        },
    }
}

// USERHOST <nick>{ <nick>}
pub fn userhost(ctx: &mut Ctx, msg: &Message) {
    let mut out = Vec::new();
    for nick in msg.params().iter().take(5) {
        if let Some(c) = ctx.state.find_nick(nick) {
            let i = c.info();
            let oper = if i.modes.oper { "*" } else { "" };
            let away = if i.away.is_some() { '-' } else { '+' };
            out.push(format!("{}{oper}={away}{}@{}", i.nick, i.user, i.host));
        }
    }
    ctx.reply(RPL_USERHOST, &[&out.join(" ")]);
}

// ISON <nick>{ <nick>}
pub fn ison(ctx: &mut Ctx, msg: &Message) {
    let on: Vec<String> = msg
        .params()
        .iter()
        .flat_map(|p| p.split(' '))
        .filter_map(|n| ctx.state.find_nick(n).map(|c| c.nick()))
        .collect();
    ctx.reply(RPL_ISON, &[&on.join(" ")]);
}

/// Does `viewer` share a channel with `other`?
fn shares_channel(viewer: &ClientRef, other: &ClientRef) -> bool {
    if viewer.id == other.id {
        return true;
    }
    let mine: Vec<String> = viewer.info().channels.keys().cloned().collect();
    let theirs = other.info();
    mine.iter().any(|k| theirs.channels.contains_key(k))
}

// WHOIS [<server>] <nick>
pub fn whois(ctx: &mut Ctx, msg: &Message) {
    let target = msg.params()[msg.params().len().min(2) - 1];
    let Some(c) = ctx.state.find_nick(target) else {
        ctx.reply(ERR_NOSUCHNICK, &[target, "No such nick/channel"]);
        ctx.reply(RPL_ENDOFWHOIS, &[target, "End of /WHOIS list"]);
        return;
    };
    let me = ctx.client().clone();
    let multi = me.has_cap(Cap::MultiPrefix.bit());
    let info = c.info().clone();
    let nick = info.nick.clone();
    ctx.reply(
        RPL_WHOISUSER,
        &[&nick, &info.user, &info.host, "*", &info.realname],
    );
    let mut chans = Vec::new();
    for ch in info.channels.values() {
        let ch = ch.lock().unwrap();
        if ch.modes.secret && !ch.members.contains_key(&me.id) && !ctx.is_oper() {
            continue;
        }
        let p = ch.members.get(&c.id).map(|m| m.prefix(multi)).unwrap_or("");
        chans.push(format!("{p}{}", ch.name));
    }
    let room = ctx.room(nick.len());
    for chunk in pack(&chans, ' ', room) {
        ctx.reply(RPL_WHOISCHANNELS, &[&nick, &chunk]);
    }
    let server = ctx.config.server.name.clone();
    let desc = ctx.config.server.description.clone();
    ctx.reply(RPL_WHOISSERVER, &[&nick, &server, &desc]);
    if info.modes.oper {
        ctx.reply(RPL_WHOISOPERATOR, &[&nick, "is an IRC operator"]);
    }
    if let Some(acct) = &info.account {
        ctx.reply(RPL_WHOISACCOUNT, &[&nick, acct, "is logged in as"]);
    }
    if info.modes.bot {
        ctx.reply(RPL_WHOISBOT, &[&nick, "is a bot"]);
    }
    if let Some(away) = &info.away {
        ctx.reply(RPL_AWAY, &[&nick, away]);
    }
    if c.tls {
        ctx.reply(RPL_WHOISSECURE, &[&nick, "is using a secure connection"]);
    }
    if me.id == c.id || ctx.is_oper() {
        ctx.reply(RPL_WHOISACTUALLY, &[&nick, &c.ip.to_string(), "Actual IP"]);
    }
    let idle = info.last_message.elapsed().as_secs().to_string();
    ctx.reply(
        RPL_WHOISIDLE,
        &[
            &nick,
            &idle,
            &c.signon.to_string(),
            "seconds idle, signon time",
        ],
    );
    ctx.reply(RPL_ENDOFWHOIS, &[&nick, "End of /WHOIS list"]);
}

// WHOWAS <nick> [<count>]
pub fn whowas(ctx: &mut Ctx, msg: &Message) {
    let nick = msg.params()[0];
    let count = msg
        .param(1)
        .and_then(|c| c.parse::<i64>().ok())
        .filter(|&c| c > 0)
        .unwrap_or(i64::MAX);
    let entries = ctx.state.whowas(nick, count.min(1000) as usize);
    if entries.is_empty() {
        ctx.reply(ERR_WASNOSUCHNICK, &[nick, "There was no such nickname"]);
    }
    let server = ctx.config.server.name.clone();
    for e in entries {
        ctx.reply(
            RPL_WHOWASUSER,
            &[&e.nick, &e.user, &e.host, "*", &e.realname],
        );
        ctx.reply(
            RPL_WHOISSERVER,
            &[&e.nick, &server, &registration::format_time(e.time)],
        );
    }
    ctx.reply(RPL_ENDOFWHOWAS, &[nick, "End of WHOWAS"]);
}

/// One WHO reply, plain (352) or WHOX (354) with the requested fields.
fn who_reply(ctx: &mut Ctx, c: &ClientRef, chan: Option<(&str, &str)>, whox: Option<(&str, &str)>) {
    let info = c.info().clone();
    let (chan_name, prefix) = chan.unwrap_or(("*", ""));
    let mut flags = String::from(if info.away.is_some() { "G" } else { "H" });
    if info.modes.oper {
        flags.push('*');
    }
    if info.modes.bot {
        flags.push('B');
    }
    flags.push_str(prefix);
    let server = ctx.config.server.name.clone();
    match whox {
        None => ctx.reply(
            RPL_WHOREPLY,
            &[
                chan_name,
                &info.user,
                &info.host,
                &server,
                &info.nick,
                &flags,
                &format!("0 {}", info.realname),
            ],
        ),
        Some((fields, token)) => {
            let idle = info.last_message.elapsed().as_secs().to_string();
            let mut args: Vec<String> = Vec::new();
            for f in "tcuihsnfdlaor".chars().filter(|f| fields.contains(*f)) {
                args.push(match f {
                    't' => token.to_string(),
                    'c' => chan_name.to_string(),
                    'u' => info.user.clone(),
                    'i' => c.ip.to_string(),
                    'h' => info.host.clone(),
                    's' => server.clone(),
                    'n' => info.nick.clone(),
                    'f' => flags.clone(),
                    'd' => "0".into(),
                    'l' => idle.clone(),
                    'a' => info.account.clone().unwrap_or_else(|| "0".into()),
                    'o' => "n/a".into(),
                    _ => info.realname.clone(),
                });
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            if fields.contains('r') {
                ctx.reply(RPL_WHOSPCRPL, &refs);
            } else {
                ctx.reply_args(RPL_WHOSPCRPL, &refs);
            }
        }
    }
}

// WHO <mask> [%<fields>[,<token>]]
pub fn who(ctx: &mut Ctx, msg: &Message) {
    let mask = msg.param(0).filter(|m| !m.is_empty()).unwrap_or("*");
    let whox = msg
        .param(1)
        .and_then(|f| f.strip_prefix('%'))
        .map(|f| match f.split_once(',') {
            Some((fields, token)) => (fields, token),
            None => (f, "0"),
        });
    let me = ctx.client().clone();
    let multi = me.has_cap(Cap::MultiPrefix.bit());
    let oper = ctx.is_oper();
    if mask.starts_with('#') {
        if let Some(chan) = ctx.state.find_channel(mask) {
            let (name, rows) = {
                let ch = chan.lock().unwrap();
                let member = ch.members.contains_key(&me.id);
                let rows: Vec<(ClientRef, &'static str)> = if ch.modes.secret && !member && !oper {
                    Vec::new()
                } else {
                    ch.members
                        .values()
                        .filter(|m| member || oper || !m.client.info().modes.invisible)
                        .map(|m| (m.client.clone(), m.prefix(multi)))
                        .collect()
                };
                (ch.name.clone(), rows)
            };
            for (c, p) in rows {
                who_reply(ctx, &c, Some((&name, p)), whox);
            }
        }
    } else if let Some(c) = ctx.state.find_nick(mask) {
        // An exact nick: shown even when +i (as WHOIS would).
        who_reply(ctx, &c, None, whox);
    } else {
        let cm = ctx.state.casemap;
        let all = mask == "*" || mask == "0";
        for c in ctx.state.all_clients() {
            let i = c.info().clone();
            if !i.registered || (i.modes.invisible && !oper && !shares_channel(&me, &c)) {
                continue;
            }
            let hit = all
                || glob_match(mask, &i.nick, cm)
                || glob_match(mask, &i.host, cm)
                || glob_match(mask, &i.realname, cm)
                || glob_match(mask, &i.user, cm);
            if hit {
                who_reply(ctx, &c, None, whox);
            }
        }
    }
    ctx.reply(RPL_ENDOFWHO, &[mask, "End of /WHO list"]);
}

/// 353 lines for a channel, split to fit 512 bytes, then 366.
pub fn send_names(ctx: &mut Ctx, ch: &Channel) {
    send_name_replies(ctx, ch);
    ctx.reply(RPL_ENDOFNAMES, &[&ch.name, "End of /NAMES list"]);
}

/// The 353 lines of one channel (none for a secret channel seen from outside).
fn send_name_replies(ctx: &mut Ctx, ch: &Channel) {
    let me = ctx.client().clone();
    let multi = me.has_cap(Cap::MultiPrefix.bit());
    let uhnames = me.has_cap(Cap::UserhostInNames.bit());
    let member = ch.members.contains_key(&me.id);
    let oper = ctx.is_oper();
    if !ch.modes.secret || member || oper {
        let symbol = if ch.modes.secret { "@" } else { "=" };
        let nick = me.nick();
        let server = ctx.config.server.name.clone();
        // Room for names: 510 minus ":server 353 nick = #chan :".
        let room = 510 - (server.len() + nick.len() + ch.name.len() + 12);
        let mut buf = String::new();
        for m in ch.members.values() {
            let i = m.client.info();
            if !member && !oper && i.modes.invisible {
                continue;
            }
            let entry = if uhnames {
                format!("{}{}!{}@{}", m.prefix(multi), i.nick, i.user, i.host)
            } else {
                format!("{}{}", m.prefix(multi), i.nick)
            };
            drop(i);
            if !buf.is_empty() && buf.len() + 1 + entry.len() > room {
                let line = Line::new(Some(&server), RPL_NAMREPLY)
                    .args([nick.as_str(), symbol, &ch.name])
                    .text(&buf)
                    .build();
                ctx.push(line);
                buf.clear();
            }
            if !buf.is_empty() {
                buf.push(' ');
            }
            buf.push_str(&entry);
        }
        if !buf.is_empty() {
            let line = Line::new(Some(&server), RPL_NAMREPLY)
                .args([nick.as_str(), symbol, &ch.name])
                .text(&buf)
                .build();
            ctx.push(line);
        }
    }
}

// NAMES [<channel>{,<channel>}]
pub fn names(ctx: &mut Ctx, msg: &Message) {
    let Some(targets) = msg.param(0).filter(|t| !t.is_empty()) else {
        ctx.reply(RPL_ENDOFNAMES, &["*", "End of /NAMES list"]);
        return;
    };
    // Several channels: every 353, then one 366 naming them all (RFC 2812).
    let max = ctx.config.limits.max_targets;
    let names: Vec<&str> = targets
        .split(',')
        .filter(|n| !n.is_empty())
        .take(max)
        .collect();
    for name in &names {
        if let Some(chan) = ctx.state.find_channel(name) {
            let ch = chan.lock().unwrap();
            send_name_replies(ctx, &ch);
        }
    }
    let shown = match names.as_slice() {
        [one] => ctx
            .state
            .find_channel(one)
            .map(|c| c.lock().unwrap().name.clone())
            .unwrap_or_else(|| one.to_string()),
        _ => names.join(","),
    };
    ctx.reply(RPL_ENDOFNAMES, &[&shown, "End of /NAMES list"]);
}

/// One LIST filter (ISUPPORT ELIST=CMNTU).
enum ListFilter {
    /// U: more than / fewer than this many users.
    UsersOver(usize),
    UsersUnder(usize),
    /// C: created more / less than this many minutes ago.
    CreatedBefore(u64),
    CreatedWithin(u64),
    /// T: topic set more / less than this many minutes ago.
    TopicBefore(u64),
    TopicWithin(u64),
    /// M / N: name matches / does not match a mask.
    Mask(String),
    NotMask(String),
}

// LIST [<channel|mask|condition>{,...}] ...
pub fn list(ctx: &mut Ctx, msg: &Message) {
    let me = ctx.client().clone();
    let oper = ctx.is_oper();
    let mut filters = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for item in msg
        .params()
        .iter()
        .flat_map(|p| p.split(','))
        .filter(|i| !i.is_empty())
    {
        let minutes = |v: &str| v.parse::<u64>().ok();
        let f = match item.split_at(1) {
            (">", n) => n.parse().ok().map(ListFilter::UsersOver),
            ("<", n) => n.parse().ok().map(ListFilter::UsersUnder),
            ("!", m) => Some(ListFilter::NotMask(m.to_string())),
            _ if item.starts_with("C>") => minutes(&item[2..]).map(ListFilter::CreatedBefore),
            _ if item.starts_with("C<") => minutes(&item[2..]).map(ListFilter::CreatedWithin),
            _ if item.starts_with("T>") => minutes(&item[2..]).map(ListFilter::TopicBefore),
            _ if item.starts_with("T<") => minutes(&item[2..]).map(ListFilter::TopicWithin),
            _ if item.contains(['*', '?']) => Some(ListFilter::Mask(item.to_string())),
            _ => {
                names.push(item);
                None
            }
        };
        filters.extend(f);
    }
    let chans = if names.is_empty() {
        ctx.state.all_channels()
    } else {
        names
            .iter()
            .filter_map(|n| ctx.state.find_channel(n))
            .collect()
    };
    let now = unix_now();
    let cm = ctx.state.casemap;
    let age = |t: u64| now.saturating_sub(t);
    ctx.reply(RPL_LISTSTART, &["Channel", "Users  Name"]);
    for chan in chans {
        let row = {
            let ch = chan.lock().unwrap();
            let visible = !ch.modes.secret || oper || ch.members.contains_key(&me.id);
            let n = ch.members.len();
            let topic_age = ch.topic.as_ref().map(|t| age(t.time));
            let pass = filters.iter().all(|f| match f {
                ListFilter::UsersOver(v) => n > *v,
                ListFilter::UsersUnder(v) => n < *v,
                ListFilter::CreatedBefore(m) => age(ch.created) > m * 60,
                ListFilter::CreatedWithin(m) => age(ch.created) < m * 60,
                ListFilter::TopicBefore(m) => topic_age.is_some_and(|a| a > m * 60),
                ListFilter::TopicWithin(m) => topic_age.is_some_and(|a| a < m * 60),
                ListFilter::Mask(m) => glob_match(m, &ch.name, cm),
                ListFilter::NotMask(m) => !glob_match(m, &ch.name, cm),
            });
            (visible && pass).then(|| {
                (
                    ch.name.clone(),
                    n.to_string(),
                    ch.topic
                        .as_ref()
                        .map(|t| t.text.clone())
                        .unwrap_or_default(),
                )
            })
        };
        if let Some((name, n, topic)) = row {
            ctx.reply(RPL_LIST, &[&name, &n, &topic]);
        }
    }
    ctx.reply(RPL_LISTEND, &["End of /LIST"]);
}

/// Time since the epoch for 329/333 as a string.
pub fn ts(t: u64) -> String {
    t.to_string()
}

// SETNAME <realname>
pub fn setname(ctx: &mut Ctx, msg: &Message) {
    let name = msg.params()[0];
    if name.is_empty() || name.len() > ctx.config.limits.realnamelen {
        let l = Line::new(Some(ctx.server_name()), "FAIL")
            .arg("SETNAME")
            .arg("INVALID_REALNAME")
            .text("Realname is not valid")
            .build();
        ctx.push(l);
        return;
    }
    let client = ctx.client().clone();
    ctx.state.set_realname(&client, name);
    let line = Line::new(Some(&client.prefix()), "SETNAME")
        .text(name)
        .build();
    for p in ctx.state.interested(&client, Cap::Setname) {
        p.send(line.clone());
    }
    if client.has_cap(Cap::Setname.bit()) {
        ctx.push(line);
    }
}

// MONITOR <+|-> <target>{,<target>} / MONITOR <C|L|S>
pub fn monitor(ctx: &mut Ctx, msg: &Message) {
    let client = ctx.client().clone();
    let sub = msg.params()[0];
    let targets: Vec<&str> = msg
        .param(1)
        .unwrap_or("")
        .split(',')
        .filter(|t| !t.is_empty())
        .collect();
    match sub {
        "+" => {
            let limit = ctx.config.limits.monitor;
            let (added, full_at) = ctx.state.monitor_add(&client, &targets, limit);
            if let Some(i) = full_at {
                let rest = targets[i..].join(",");
                ctx.reply(
                    ERR_MONLISTFULL,
                    &[&limit.to_string(), &rest, "Monitor list is full"],
                );
            }
            send_status(ctx, &added);
        }
        "-" => ctx.state.monitor_remove(&client, &targets),
        "C" | "c" => ctx.state.monitor_clear(&client),
        "L" | "l" => {
            let all = client.info().monitoring.clone();
            for chunk in pack(&all, ',', ctx.room(0)) {
                ctx.reply(RPL_MONLIST, &[&chunk]);
            }
            ctx.reply(RPL_ENDOFMONLIST, &["End of MONITOR list"]);
        }
        "S" | "s" => {
            let all = client.info().monitoring.clone();
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            send_status(ctx, &refs);
        }
        _ => ctx.reply(
            ERR_UNKNOWNCOMMAND,
            &["MONITOR", "Unknown MONITOR subcommand"],
        ),
    }
}

/// 730 for the online ones (nick!user@host), 731 for the offline ones.
fn send_status(ctx: &mut Ctx, targets: &[&str]) {
    let mut online = Vec::new();
    let mut offline = Vec::new();
    for t in targets {
        match ctx.state.find_nick(t).filter(|c| c.info().registered) {
            Some(c) => online.push(c.prefix()),
            None => offline.push(t.to_string()),
        }
    }
    for chunk in pack(&online, ',', ctx.room(0)) {
        ctx.reply(RPL_MONONLINE, &[&chunk]);
    }
    for chunk in pack(&offline, ',', ctx.room(0)) {
        ctx.reply(RPL_MONOFFLINE, &[&chunk]);
    }
}

/// Joins `items` with `sep` into as few strings of at most `room` bytes as
/// possible (an item is never split), so that no reply is cut at 512 bytes.
pub fn pack(items: &[String], sep: char, room: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for item in items {
        if !cur.is_empty() && cur.len() + 1 + item.len() > room {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(sep);
        }
        cur.push_str(item);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
