//! Server bans that last, with Solanum's syntax: KLINE and DLINE (an
//! optional duration, in minutes as a bare number or as "1h"/"7d"; none:
//! permanent), UNKLINE and UNDLINE, their listing (STATS k/K, d/D:
//! 216/225 then 219) and TESTLINE (725/726). A reason may carry a part only
//! operators see, after a `|`. Bans are applied at once to the clients
//! they match, and written to the account store (when services are on) in
//! a blocking job; with services off they last until a restart. Neither
//! the mask nor a reason is ever logged.

use std::time::Duration;

use crate::{
    config::{format_duration, parse_duration},
    proto::{Message, numerics::*},
    state::{BanKind, ServerBan, parse_dline_mask, parse_kline_mask, unix_now},
};

use super::Ctx;

/// Longest reason (each part) a ban may carry, in bytes.
const MAX_REASON: usize = 200;

/// Reads a ban duration: a bare number of minutes (Solanum), or one of
/// our duration strings ("90s", "1h", "7d"). None: `s` is not a duration
/// (it is the mask). Zero means permanent.
fn ban_duration(s: &str) -> Option<Result<Option<Duration>, String>> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || !s[digits..].bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let parsed = if digits == s.len() {
        s.parse::<u64>()
            .ok()
            .filter(|&m| m <= 365 * 24 * 60)
            .map(|m| Duration::from_secs(m * 60))
            .ok_or_else(|| format!("{s} minutes is longer than a year"))
    } else {
        parse_duration(s)
    };
    Some(parsed.map(|d| (!d.is_zero()).then_some(d)))
}

fn command(kind: BanKind) -> &'static str {
    match kind {
        BanKind::Kline => "KLINE",
        BanKind::Dline => "DLINE",
    }
}

/// The canonical mask for `kind`, or why `mask` is not one.
fn canonical(kind: BanKind, mask: &str) -> Result<String, &'static str> {
    match kind {
        BanKind::Kline => parse_kline_mask(mask),
        BanKind::Dline => parse_dline_mask(mask).map(|(m, _)| m),
    }
}

// KLINE [<duration>] <user@host> [:<reason>[|<oper reason>]]
pub fn kline(ctx: &mut Ctx, msg: &Message) {
    add(ctx, msg, BanKind::Kline);
}

// DLINE [<duration>] <ip|cidr> [:<reason>[|<oper reason>]]
pub fn dline(ctx: &mut Ctx, msg: &Message) {
    add(ctx, msg, BanKind::Dline);
}

fn add(ctx: &mut Ctx, msg: &Message, kind: BanKind) {
    let cmd = command(kind);
    let params = msg.params();
    let (duration, rest) = match ban_duration(params[0]) {
        Some(Ok(d)) => (d, &params[1..]),
        Some(Err(e)) => {
            ctx.server_notice(&format!("{cmd}: {e}"));
            return;
        }
        None => (None, params),
    };
    let Some(given) = rest.first().filter(|m| !m.is_empty()) else {
        ctx.reply(ERR_NEEDMOREPARAMS, &[cmd]);
        return;
    };
    let mask = match canonical(kind, given) {
        Ok(m) => m,
        Err(why) => {
            ctx.server_notice(&format!("{cmd}: that mask {why}"));
            return;
        }
    };
    let text = rest.get(1).copied().unwrap_or("").trim();
    let (reason, oper_reason) = match text.split_once('|') {
        Some((r, o)) => (r.trim(), Some(o.trim()).filter(|o| !o.is_empty())),
        None => (text, None),
    };
    let reason = if reason.is_empty() {
        "No reason"
    } else {
        reason
    };
    if reason.len() > MAX_REASON || oper_reason.is_some_and(|o| o.len() > MAX_REASON) {
        ctx.server_notice(&format!(
            "{cmd}: a reason is longer than {MAX_REASON} bytes"
        ));
        return;
    }
    let me = ctx.client().clone();
    let ban = ServerBan {
        kind,
        mask: mask.clone(),
        reason: reason.to_string(),
        oper_reason: oper_reason.map(str::to_string),
        setter: me.nick(),
        set_at: unix_now(),
        expires: None,
    };
    let (saved, hits) = match ctx.state.add_ban(ban, duration) {
        Ok(r) => r,
        Err(old) => {
            ctx.server_notice(&format!(
                "[{}] is already {}d by {}: {}",
                old.mask,
                kind.name(),
                old.setter,
                shown_reason(&old)
            ));
            return;
        }
    };
    tracing::info!(client = me.id, kind = kind.name(), "server ban added");
    let closed = hits.len();
    for d in hits {
        ctx.deliver(d);
    }
    ctx.control.purge_bans();
    let length = match duration {
        Some(d) => format!("temporary {}", format_duration(d)),
        None => "permanent".to_string(),
    };
    let full = format!(
        "{} added a {length} {} for [{mask}]: {reason}{}",
        me.nick(),
        kind.name(),
        oper_reason.map(|o| format!("|{o}")).unwrap_or_default()
    );
    let d = ctx.state.oper_notice(Some(&me), &full);
    ctx.deliver(d);
    let done = format!(
        "Added {length} {} [{mask}]; {closed} connection(s) closed",
        kind.name()
    );
    let Some(acc) = ctx.control.accounts() else {
        ctx.server_notice(&format!(
            "{done}. Services are off: it is kept in memory until a restart"
        ));
        return;
    };
    ctx.blocking(
        move || acc.store().put_ban(&saved),
        move |ctx, r| match r {
            Ok(()) => ctx.server_notice(&done),
            Err(_) => ctx.server_notice(&format!(
                "{done}, but the store could not keep it: it lasts until a restart"
            )),
        },
    );
}

// UNKLINE <user@host>
pub fn unkline(ctx: &mut Ctx, msg: &Message) {
    remove(ctx, msg, BanKind::Kline);
}

// UNDLINE <ip|cidr>
pub fn undline(ctx: &mut Ctx, msg: &Message) {
    remove(ctx, msg, BanKind::Dline);
}

fn remove(ctx: &mut Ctx, msg: &Message, kind: BanKind) {
    let given = msg.params()[0];
    // A mask that is not canonical may still name a ban exactly.
    let mask = canonical(kind, given).unwrap_or_else(|_| given.to_ascii_lowercase());
    let Some(ban) = ctx.state.remove_ban(kind, &mask) else {
        ctx.server_notice(&format!("No {} for [{mask}]", kind.name()));
        return;
    };
    let me = ctx.client().clone();
    tracing::info!(client = me.id, kind = kind.name(), "server ban removed");
    let d = ctx.state.oper_notice(
        Some(&me),
        &format!("{} removed the {} for [{mask}]", me.nick(), kind.name()),
    );
    ctx.deliver(d);
    let done = format!("{} for [{mask}] is removed", kind.name());
    match ctx.control.accounts() {
        None => ctx.server_notice(&done),
        Some(acc) => ctx.blocking(
            move || acc.store().remove_ban(&ban.key()),
            move |ctx, r| match r {
                Ok(_) => ctx.server_notice(&done),
                Err(_) => ctx.server_notice(&format!(
                    "{done}, but the store could not forget it: it is back after a restart"
                )),
            },
        ),
    }
}

/// The reason as operators see it: `reason|oper reason`.
fn shown_reason(b: &ServerBan) -> String {
    match &b.oper_reason {
        Some(o) => format!("{}|{o}", b.reason),
        None => b.reason.clone(),
    }
}

/// A mask as a middle parameter: never starting with ':' ("::1" -> "0::1").
fn middle(s: &str) -> String {
    if s.starts_with(':') {
        format!("0{s}")
    } else {
        s.to_string()
    }
}

/// The reason in a listing: temporary bans say how long they have left.
fn listed_reason(b: &ServerBan, left: Option<Duration>) -> String {
    match left {
        Some(d) => format!(
            "Temporary {} {} min. - {}",
            b.kind.name(),
            d.as_secs().div_ceil(60),
            shown_reason(b)
        ),
        None => shown_reason(b),
    }
}

// STATS <query>: k/K (K-lines) and d/D (D-lines) for operators; any other
// query is answered with its end alone.
pub fn stats(ctx: &mut Ctx, msg: &Message) {
    let q = msg.params()[0]
        .chars()
        .next()
        .filter(char::is_ascii_alphanumeric)
        .unwrap_or('*');
    let kind = match q {
        'k' | 'K' => Some(BanKind::Kline),
        'd' | 'D' => Some(BanKind::Dline),
        _ => None,
    };
    if let Some(kind) = kind {
        if !ctx.is_oper() {
            ctx.reply(ERR_NOPRIVILEGES, &[]);
            return;
        }
        let bans = ctx.state.list_bans(kind);
        ctx.control.purge_bans();
        for (b, left) in bans {
            let letter = kind.letter(left.is_some()).to_string();
            let reason = listed_reason(&b, left);
            match kind {
                BanKind::Kline => {
                    let (user, host) = b.mask.split_once('@').unwrap_or(("*", &b.mask));
                    let (user, host) = (middle(user), middle(host));
                    ctx.reply(RPL_STATSKLINE, &[&letter, &host, "*", &user, &reason]);
                }
                BanKind::Dline => {
                    ctx.reply(RPL_STATSDLINE, &[&letter, &middle(&b.mask), &reason]);
                }
            }
        }
    }
    ctx.reply(RPL_ENDOFSTATS, &[&q.to_string()]);
}

// TESTLINE <[nick!]user@host | ip>: the ban such a client would meet.
pub fn testline(ctx: &mut Ctx, msg: &Message) {
    let given = msg.params()[0];
    if given.contains(' ') || given.starts_with(':') {
        ctx.server_notice("TESTLINE: give a user@host or an address");
        return;
    }
    let userhost = given.rsplit_once('!').map_or(given, |(_, uh)| uh);
    let (user, host) = match userhost.split_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, userhost),
    };
    let ip = host.parse().ok();
    let found = ctx.state.test_ban(ip, user.map(|u| (u, host))).map(|b| {
        let left = b
            .expires
            .map(|at| Duration::from_secs(at.saturating_sub(unix_now())));
        (b, left)
    });
    ctx.control.purge_bans();
    match found {
        Some((b, left)) => {
            let letter = b.kind.letter(left.is_some()).to_string();
            let minutes = left.map_or(0, |d| d.as_secs().div_ceil(60)).to_string();
            let reason = shown_reason(&b);
            ctx.reply(
                RPL_TESTLINE,
                &[&letter, &minutes, &middle(&b.mask), &reason],
            );
        }
        None => ctx.reply(RPL_NOTESTLINE, &[given]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let m = |n: u64| Some(Ok(Some(Duration::from_secs(n))));
        assert_eq!(ban_duration("10"), m(600));
        assert_eq!(ban_duration("1h"), m(3600));
        assert_eq!(ban_duration("7d"), m(7 * 86400));
        assert_eq!(ban_duration("0"), Some(Ok(None)));
        assert!(matches!(ban_duration("5x"), Some(Err(_))));
        assert!(matches!(ban_duration("99999999"), Some(Err(_))));
        for mask in ["192.0.2.1", "bad@host", "10.0.0.0/8", "*@x", "h1"] {
            assert_eq!(ban_duration(mask), None, "{mask}");
        }
    }
}
