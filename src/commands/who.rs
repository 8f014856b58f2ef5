//! Queries about users: USERHOST, ISON, WHOIS, WHOWAS, WHO/WHOX. WHO and
//! WHOWAS can be long: their rows are made one at a time as the asker reads.

use bytes::Bytes;

use crate::{
    proto::{Line, Message, caps::Cap, mask::glob_match, numerics::*},
    state::{ClientRef, ClientSnapshot},
};

use super::{Ctx, numeric_line, registration};

/// A user's parameter echoed back in a middle position: one parameter,
/// never empty, never with a space or a leading ':' (`*` instead; see
/// `proto::line::middle`).
pub fn one_param(s: &str) -> String {
    crate::proto::line::middle(s).to_string()
}

// USERHOST <nick>{ <nick>}
pub fn userhost(ctx: &mut Ctx, msg: &Message) {
    let mut out = Vec::new();
    for nick in msg.params().iter().take(5) {
        if let Some(c) = ctx.state.find_nick(nick) {
            let i = c.snapshot();
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

// WHOIS [<server>] <nick>
pub fn whois(ctx: &mut Ctx, msg: &Message) {
    let target = msg.params()[msg.params().len().min(2) - 1];
    let Some(c) = ctx.state.find_nick(target) else {
        let shown = one_param(target);
        ctx.reply(ERR_NOSUCHNICK, &[&shown]);
        ctx.reply(RPL_ENDOFWHOIS, &[&shown]);
        return;
    };
    let me = ctx.client().clone();
    let multi = me.has_cap(Cap::MultiPrefix.bit());
    let info = c.snapshot();
    let nick = info.nick.clone();
    ctx.reply(
        RPL_WHOISUSER,
        &[&nick, &info.user, &info.host, "*", &info.realname],
    );
    let chans = ctx.state.whois_channels(&me, &c, multi);
    let room = ctx.room(nick.len());
    for chunk in pack(&chans, ' ', room) {
        ctx.reply(RPL_WHOISCHANNELS, &[&nick, &chunk]);
    }
    let server = ctx.config.server.name.clone();
    let desc = ctx.config.server.description.clone();
    ctx.reply(RPL_WHOISSERVER, &[&nick, &server, &desc]);
    if info.modes.oper {
        ctx.reply(RPL_WHOISOPERATOR, &[&nick]);
    }
    if let Some(acct) = &info.account {
        ctx.reply(RPL_WHOISACCOUNT, &[&nick, acct]);
    }
    if info.modes.bot {
        ctx.reply(RPL_WHOISBOT, &[&nick]);
    }
    if let Some(away) = &info.away {
        ctx.reply(RPL_AWAY, &[&nick, away]);
    }
    if info.tls {
        ctx.reply(RPL_WHOISSECURE, &[&nick]);
    }
    if me.id == c.id || ctx.is_oper() {
        ctx.reply(RPL_WHOISACTUALLY, &[&nick, &info.ip.to_string()]);
        // The fingerprint NickServ CERT ADD and SASL EXTERNAL use: shown to
        // its owner and to opers only, as Ergo and InspIRCd do.
        if let Some(fp) = c.certfp() {
            let text = format!("has client certificate fingerprint {fp}");
            ctx.reply(RPL_WHOISCERTFP, &[&nick, &text]);
        }
    }
    let idle = info.last_message.elapsed().as_secs().to_string();
    ctx.reply(RPL_WHOISIDLE, &[&nick, &idle, &info.signon.to_string()]);
    ctx.reply(RPL_ENDOFWHOIS, &[&nick]);
}

// WHOWAS <nick> [<count>]
pub fn whowas(ctx: &mut Ctx, msg: &Message) {
    let nick = one_param(msg.params()[0]);
    let count = msg
        .param(1)
        .and_then(|c| c.parse::<i64>().ok())
        .filter(|&c| c > 0)
        .unwrap_or(i64::MAX);
    let entries = ctx.state.whowas(&nick, count.min(1000) as usize);
    if entries.is_empty() {
        ctx.reply(ERR_WASNOSUCHNICK, &[&nick]);
    }
    let server = ctx.config.server.name.clone();
    let asker = ctx.nick();
    let mut rows = entries.into_iter();
    let mut second: Option<Bytes> = None;
    ctx.out.stream(Box::new(move |_| {
        if let Some(l) = second.take() {
            return Some(l);
        }
        let e = rows.next()?;
        let first = numeric_line(
            &server,
            &asker,
            RPL_WHOWASUSER,
            &[&e.nick, &e.user, &e.host, "*", &e.realname],
        );
        second = Some(numeric_line(
            &server,
            &asker,
            RPL_WHOISSERVER,
            &[&e.nick, &server, &registration::format_time(e.time)],
        ));
        Some(first)
    }));
    ctx.reply(RPL_ENDOFWHOWAS, &[&nick]);
}

/// The fields of one WHO reply, plain (352) or WHOX (354).
#[derive(Clone)]
struct WhoFormat {
    server: String,
    whox: Option<(String, String)>,
}

impl WhoFormat {
    fn line(&self, asker: &str, info: &ClientSnapshot, chan: &str, prefix: &str) -> Bytes {
        let mut flags = String::from(if info.away.is_some() { "G" } else { "H" });
        if info.modes.oper {
            flags.push('*');
        }
        if info.modes.bot {
            flags.push('B');
        }
        flags.push_str(prefix);
        let server = &self.server;
        match &self.whox {
            None => numeric_line(
                server,
                asker,
                RPL_WHOREPLY,
                &[
                    chan,
                    &info.user,
                    &info.host,
                    server,
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
                        't' => token.clone(),
                        'c' => chan.to_string(),
                        'u' => info.user.clone(),
                        'i' => info.ip.to_string(),
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
                let mut line = Line::new(Some(server), RPL_WHOSPCRPL.code).arg(asker);
                if fields.contains('r') {
                    if let Some((last, rest)) = refs.split_last() {
                        line = line.args(rest.iter().copied()).text(last);
                    }
                } else {
                    line = line.args(refs.iter().copied());
                }
                line.build()
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
            Some((fields, token)) => (fields.to_string(), one_param(token)),
            None => (f.to_string(), "0".to_string()),
        });
    let fmt = WhoFormat {
        server: ctx.config.server.name.clone(),
        whox,
    };
    let me = ctx.client().clone();
    let multi = me.has_cap(Cap::MultiPrefix.bit());
    let oper = ctx.is_oper();
    let shown = one_param(mask);
    if mask.starts_with('#') {
        if let Some((name, rows)) = ctx.state.who_channel(&me, mask, multi) {
            let mut rows = rows.into_iter();
            let me2 = me.clone();
            ctx.out.stream(Box::new(move |_| {
                let r = rows.next()?;
                Some(fmt.line(&me2.nick(), &r.client.snapshot(), &name, r.prefix))
            }));
        }
    } else if let Some(c) = ctx.state.find_nick(mask) {
        // An exact nick: shown even when +i (as WHOIS would).
        let line = fmt.line(&me.nick(), &c.snapshot(), "*", "");
        ctx.push(line);
    } else {
        let cm = ctx.state.casemap;
        let all = mask == "*" || mask == "0";
        let mask = mask.to_string();
        let mut clients: std::vec::IntoIter<ClientRef> = ctx.state.all_clients().into_iter();
        let me2 = me.clone();
        ctx.out.stream(Box::new(move |state| {
            for c in clients.by_ref() {
                let i = c.snapshot();
                if !i.registered || (i.modes.invisible && !oper && !state.shares_channel(&me2, &c))
                {
                    continue;
                }
                let hit = all
                    || glob_match(&mask, &i.nick, cm)
                    || glob_match(&mask, &i.host, cm)
                    || glob_match(&mask, &i.realname, cm)
                    || glob_match(&mask, &i.user, cm);
                if hit {
                    return Some(fmt.line(&me2.nick(), &i, "*", ""));
                }
            }
            None
        }));
    }
    ctx.reply(RPL_ENDOFWHO, &[&shown]);
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
