//! CHATHISTORY (IRCv3 draft/chathistory, with draft/event-playback): the
//! selections LATEST, BEFORE, AFTER, AROUND and BETWEEN by msgid or
//! timestamp, answered as one `chathistory` batch made line by line as the
//! client reads it, and TARGETS as a `draft/chathistory-targets` batch.
//! Every malformed request gets its standard-replies FAIL; while
//! `[history] enabled = false` the command does not exist (421).

use crate::{
    proto::{Line, Message, numerics::ERR_UNKNOWNCOMMAND, time},
    state::{
        HistoryError,
        history::{Entry, Query, Selector},
    },
};

use super::{Ctx, deliver::event_wire, multiwire::MultiWire};

const CMD: &str = "CHATHISTORY";

/// A parameter echoed in a FAIL: as it came, unless it cannot be a middle
/// parameter.
pub(super) fn safe(p: &str) -> &str {
    if p.is_empty() || p.contains(' ') || p.starts_with(':') {
        "*"
    } else {
        p
    }
}

/// A bad request: the code, the parameters after the subcommand, the text.
struct Bad(&'static str, Vec<String>, &'static str);

fn selector(sub: &str, target: &str, p: &str) -> Result<Selector, Bad> {
    let (kind, value) = p.split_once('=').unwrap_or(("", ""));
    match kind {
        "" => Err(Bad(
            "INVALID_PARAMS",
            vec![safe(p).into()],
            "Invalid message reference",
        )),
        "msgid" if !value.is_empty() => Ok(Selector::Msgid(value.to_string())),
        "timestamp" => time::parse_server_time(value)
            .map(Selector::Time)
            .ok_or_else(|| Bad("INVALID_PARAMS", vec![safe(p).into()], "Invalid timestamp")),
        "msgid" => Err(Bad("INVALID_PARAMS", vec![safe(p).into()], "Invalid msgid")),
        _ => Err(Bad(
            "INVALID_MSGREFTYPE",
            vec![safe(target).into(), safe(p).into()],
            "Message references are msgid= or timestamp=",
        )),
    }
    .map_err(|Bad(code, mut args, text)| {
        args.insert(0, sub.to_string());
        Bad(code, args, text)
    })
}

/// What a request asks for: a selection on a target, or TARGETS.
enum Request<'a> {
    History(&'a str, Query, usize),
    Targets(u64, u64, usize),
}

fn parse<'a>(params: &[&'a str], max: usize) -> Result<Request<'a>, Bad> {
    let sub = params[0].to_ascii_uppercase();
    let bad = |code, args: &[&str], text| {
        let mut v = vec![sub.clone()];
        v.extend(args.iter().map(|a| safe(a).to_string()));
        Bad(code, v, text)
    };
    let needed = match sub.as_str() {
        "LATEST" | "BEFORE" | "AFTER" | "AROUND" | "TARGETS" => 4,
        "BETWEEN" => 5,
        _ => return Err(bad("INVALID_PARAMS", &[], "Unknown command")),
    };
    if params.len() < needed {
        return Err(bad("INVALID_PARAMS", &[], "Insufficient parameters"));
    }
    if params.len() > needed {
        return Err(bad("INVALID_PARAMS", &[], "Too many parameters"));
    }
    let raw_limit = params[needed - 1];
    let limit = match raw_limit.parse::<usize>() {
        Ok(n) if n > 0 => n.min(max),
        _ => return Err(bad("INVALID_PARAMS", &[raw_limit], "Invalid limit")),
    };
    if sub == "TARGETS" {
        let time = |p: &str| match selector(&sub, "*", p)? {
            Selector::Time(t) => Ok(t),
            Selector::Msgid(_) => Err(bad("INVALID_PARAMS", &[p], "TARGETS takes timestamps")),
        };
        return Ok(Request::Targets(time(params[1])?, time(params[2])?, limit));
    }
    let target = params[1];
    let sel = |p| selector(&sub, target, p);
    let q = match (sub.as_str(), params[2]) {
        ("LATEST", "*") => Query::Latest(None),
        ("LATEST", p) => Query::Latest(Some(sel(p)?)),
        // `BEFORE *` is LATEST (as Ergo accepts it, for Kiwi).
        ("BEFORE", "*") => Query::Latest(None),
        ("BEFORE", p) => Query::Before(sel(p)?),
        ("AFTER", p) => Query::After(sel(p)?),
        ("AROUND", p) => Query::Around(sel(p)?),
        (_, p) => Query::Between(sel(p)?, sel(params[3])?),
    };
    Ok(Request::History(target, q, limit))
}

// CHATHISTORY LATEST|BEFORE|AFTER|AROUND <target> <ref|*> <limit>
// CHATHISTORY BETWEEN <target> <ref> <ref> <limit>
// CHATHISTORY TARGETS <timestamp> <timestamp> <limit>
pub fn chathistory(ctx: &mut Ctx, msg: &Message) {
    let h = ctx.config.history;
    if !h.enabled {
        ctx.reply(ERR_UNKNOWNCOMMAND, &[CMD]);
        return;
    }
    let client = ctx.client().clone();
    match parse(msg.params(), h.request_limit()) {
        Err(Bad(code, args, text)) => {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ctx.fail_with(CMD, code, &args, text);
        }
        Ok(Request::Targets(a, b, limit)) => {
            let rows = ctx.state.history_targets(&client, a, b, limit);
            let server = ctx.server_name().to_string();
            let batch = ctx.out.start_batch("draft/chathistory-targets", &[]);
            let mut rows = rows.into_iter();
            ctx.out.stream(Box::new(move |_| {
                let (name, t) = rows.next()?;
                Some(
                    Line::new(Some(&server), CMD)
                        .arg("TARGETS")
                        .arg(&name)
                        .arg(&time::server_time(t))
                        .build(),
                )
            }));
            ctx.out.end_batch(batch);
        }
        Ok(Request::History(target, q, limit)) => {
            let sub = msg.params()[0].to_ascii_uppercase();
            match ctx.state.history(&client, target, &q, limit) {
                Ok((name, entries)) => replay(ctx, &name, entries),
                Err(HistoryError::InvalidTarget) => ctx.fail_with(
                    CMD,
                    "INVALID_TARGET",
                    &[&sub, safe(target)],
                    "Messages could not be retrieved",
                ),
                Err(HistoryError::NotKept) => {
                    let why = if h.direct_messages {
                        "Log in to keep and read the history of private messages"
                    } else {
                        "This server keeps no history of private messages"
                    };
                    ctx.fail_with(CMD, "MESSAGE_ERROR", &[&sub, safe(target)], why)
                }
            }
        }
    }
}

/// The `chathistory` batch of `entries`, each the line it was when sent,
/// made as the client reads. A multiline message is a `draft/multiline`
/// batch nested in it for a client with the cap (as Ergo does), its lines
/// one by one for the rest, as when it was delivered.
fn replay(ctx: &mut Ctx, name: &str, entries: Vec<Entry>) {
    let server = ctx.server_name().to_string();
    let caps = ctx.client().caps();
    let batch = ctx.out.start_batch("chathistory", &[name]);
    let mut entries = entries.into_iter();
    let mut pending = std::collections::VecDeque::new();
    ctx.out.stream(Box::new(move |_| {
        loop {
            if let Some(l) = pending.pop_front() {
                return Some(l);
            }
            let e = entries.next()?;
            let event = e.event();
            if let Some(w) = MultiWire::of(&event, e.time_ms) {
                pending.extend(w.lines_for(caps));
            } else if let Some(w) = event_wire(&event, e.time_ms, Some(e.msgid()), &server) {
                return Some(w.for_caps(caps));
            }
        }
    }));
    ctx.out.end_batch(batch);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(params: &[&str]) -> String {
        match parse(params, 100) {
            Err(Bad(code, args, _)) => format!("{code} {}", args.join(" ")),
            Ok(_) => "ok".into(),
        }
    }

    #[test]
    fn bad_requests_get_their_codes() {
        assert_eq!(code(&["FROB", "#c", "*", "1"]), "INVALID_PARAMS FROB");
        assert_eq!(code(&["LATEST", "#c", "*"]), "INVALID_PARAMS LATEST");
        assert_eq!(
            code(&["LATEST", "#c", "*", "1", "x"]),
            "INVALID_PARAMS LATEST"
        );
        assert_eq!(code(&["between", "#c", "*", "1"]), "INVALID_PARAMS BETWEEN");
        assert_eq!(code(&["LATEST", "#c", "*", "0"]), "INVALID_PARAMS LATEST 0");
        assert_eq!(
            code(&["LATEST", "#c", "*", "-1"]),
            "INVALID_PARAMS LATEST -1"
        );
        assert_eq!(
            code(&["LATEST", "#c", "*", "ten"]),
            "INVALID_PARAMS LATEST ten"
        );
        assert_eq!(code(&["AFTER", "#c", "*", "5"]), "INVALID_PARAMS AFTER *");
        assert_eq!(
            code(&["AFTER", "#c", "msgid=", "5"]),
            "INVALID_PARAMS AFTER msgid="
        );
        assert_eq!(
            code(&["AFTER", "#c", "timestamp=yesterday", "5"]),
            "INVALID_PARAMS AFTER timestamp=yesterday"
        );
        assert_eq!(
            code(&["AROUND", "#c", "seq=4", "5"]),
            "INVALID_MSGREFTYPE AROUND #c seq=4"
        );
        assert_eq!(
            code(&[
                "TARGETS",
                "msgid=a",
                "timestamp=2020-01-01T00:00:00.000Z",
                "5"
            ]),
            "INVALID_PARAMS TARGETS msgid=a"
        );
        assert_eq!(code(&["LATEST", "#c", "*", "99999"]), "ok");
        assert_eq!(code(&["BEFORE", "#c", "*", "1"]), "ok");
        assert_eq!(
            code(&[
                "BETWEEN",
                "#c",
                "msgid=a",
                "timestamp=2020-01-01T00:00:00Z",
                "3"
            ]),
            "ok"
        );
    }

    #[test]
    fn limits_are_capped_at_the_advertised_maximum() {
        match parse(&["LATEST", "#c", "*", "99999"], 100) {
            Ok(Request::History(_, Query::Latest(None), 100)) => {}
            _ => panic!("not capped"),
        }
    }
}
