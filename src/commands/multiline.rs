//! draft/multiline from clients: `BATCH +ref draft/multiline <target>`, the
//! PRIVMSG or NOTICE lines tagged `batch=ref`, then `BATCH -ref`. The lines
//! are collected in the session and checked as they come (one target, one
//! command, `max-lines`, `max-bytes`, no blank concat line, the timeout),
//! then the whole message is checked and delivered as one event. Errors are
//! `FAIL BATCH <code>` (the multiline and client-batch specs); a failed
//! batch's remaining lines are ignored. The label of the opening BATCH is
//! the label of the answer; flood control charges the batch by its size.

use tokio::time::Instant;

use super::{Ctx, message::client_tags};
use crate::{
    proto::{Line, Message, caps::Cap, numerics::*},
    state::{Multiline, MultilineLine, Verb},
};

const BATCH_TYPE: &str = "draft/multiline";
const CONCAT_TAG: &str = "draft/multiline-concat";
/// The longest reference tag kept.
const MAX_REFERENCE: usize = 64;

/// The client batch state of a session.
pub enum ClientBatch {
    Open(Pending),
    /// A batch that failed: its remaining lines and its end are ignored.
    Dropped(String),
}

impl ClientBatch {
    pub fn is_open(&self) -> bool {
        matches!(self, ClientBatch::Open(_))
    }
}

/// A multiline batch being received.
pub struct Pending {
    reference: String,
    target: String,
    verb: Option<Verb>,
    body: Multiline,
    bytes: usize,
    client_tags: Option<String>,
    /// The labeled-response label of the opening BATCH.
    label: Option<String>,
    opened: Instant,
}

/// What flood control charges for a batch of `bytes` in `lines` (Ergo's
/// estimate): one line per 512 bytes and one more, or 60 bytes a line,
/// whichever is more.
pub fn flood_cost(bytes: usize, lines: usize) -> u32 {
    let cost = (bytes / 512 + 1).max(lines * 60 / 512);
    u32::try_from(cost).unwrap_or(u32::MAX)
}

fn valid_reference(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= MAX_REFERENCE
        && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `FAIL BATCH <code> <params...> :<text>`.
fn fail(ctx: &mut Ctx, code: &str, params: &[&str], text: &str) {
    let line = Line::new(Some(&ctx.config.server.name), "FAIL")
        .arg("BATCH")
        .arg(code)
        .args(params.iter().map(|p| crate::proto::line::middle(p)))
        .text(text)
        .build();
    ctx.push(line);
}

/// Ends the open batch as failed (after its FAIL): charged for what it
/// carried, its remaining lines ignored.
fn drop_batch(ctx: &mut Ctx) {
    if let Some(b) = ctx.session.batch.take() {
        let reference = match *b {
            ClientBatch::Open(p) => {
                charge(ctx, &p);
                p.reference
            }
            ClientBatch::Dropped(r) => r,
        };
        ctx.session.batch = Some(Box::new(ClientBatch::Dropped(reference)));
    }
}

fn charge(ctx: &mut Ctx, p: &Pending) {
    ctx.session.flood_cost = Some(flood_cost(p.bytes, p.body.lines.len()));
}

fn open<'a>(ctx: &'a mut Ctx<'_>) -> Option<&'a mut Pending> {
    match ctx.session.batch.as_deref_mut() {
        Some(ClientBatch::Open(p)) => Some(p),
        _ => None,
    }
}

/// Runs before the dispatch table for every line of a registered client
/// that has tags or a batch open; true when the line was handled here.
pub fn intercept(ctx: &mut Ctx, msg: &Message, name: &str) -> bool {
    let reference = msg.tags().find(|(k, _)| *k == "batch").map(|(_, v)| v);
    let Some(reference) = reference else {
        // A line outside the batch: the client broke it off (PING and PONG
        // may interleave). The line itself runs as usual.
        if !matches!(name, "BATCH" | "PING" | "PONG") && ctx.session.in_client_batch() {
            fail(
                ctx,
                "MULTILINE_INVALID",
                &[],
                "Command not allowed during a multiline batch",
            );
            drop_batch(ctx);
        }
        return false;
    };
    ctx.relabel = Some(None);
    ctx.session.flood_cost = Some(0);
    match ctx.session.batch.as_deref() {
        Some(ClientBatch::Dropped(r)) if *r == reference => return true,
        Some(ClientBatch::Open(p)) if p.reference == reference => {}
        _ => {
            fail(ctx, "MULTILINE_INVALID", &[], "Incorrect batch tag sent");
            ctx.session.flood_cost = None;
            drop_batch(ctx);
            return true;
        }
    }
    let verb = match name {
        "PRIVMSG" => Verb::Privmsg,
        "NOTICE" => Verb::Notice,
        _ => {
            fail(
                ctx,
                "MULTILINE_INVALID",
                &[],
                "Only PRIVMSG or NOTICE may be part of a multiline batch",
            );
            drop_batch(ctx);
            return true;
        }
    };
    absorb(ctx, msg, verb);
    true
}

/// One PRIVMSG or NOTICE of the open batch.
fn absorb(ctx: &mut Ctx, msg: &Message, verb: Verb) {
    let cfg = ctx.config.multiline.clone();
    let casemap = ctx.state.casemap;
    let concat = msg.tags().any(|(k, _)| k == CONCAT_TAG);
    let Some(p) = open(ctx) else {
        return;
    };
    if p.opened.elapsed() > cfg.timeout {
        let r = p.reference.clone();
        fail(ctx, "TIMEOUT", &[&r], "Multiline batch timed out");
        return drop_batch(ctx);
    }
    let (Some(target), Some(text)) = (msg.param(0), msg.param(1)) else {
        fail(ctx, "MULTILINE_INVALID", &[], "Invalid multiline batch");
        return drop_batch(ctx);
    };
    if p.verb.is_some_and(|v| v != verb) {
        fail(
            ctx,
            "MULTILINE_INVALID",
            &[],
            "Invalid multiline batch: PRIVMSG and NOTICE mixed",
        );
        return drop_batch(ctx);
    }
    if !casemap.eq(&p.target, target) {
        let batch_target = p.target.clone();
        fail(
            ctx,
            "MULTILINE_INVALID_TARGET",
            &[&batch_target, target],
            "Invalid multiline target",
        );
        return drop_batch(ctx);
    }
    if concat && text.is_empty() {
        fail(
            ctx,
            "MULTILINE_INVALID",
            &[],
            "Invalid multiline batch with concatenated blank line",
        );
        return drop_batch(ctx);
    }
    let bytes = p.bytes + text.len() + usize::from(!concat && !p.body.lines.is_empty());
    if p.body.lines.len() + 1 > cfg.max_lines {
        let max = cfg.max_lines.to_string();
        fail(
            ctx,
            "MULTILINE_MAX_LINES",
            &[&max],
            "Multiline batch max-lines exceeded",
        );
        return drop_batch(ctx);
    }
    if bytes > cfg.max_bytes {
        let max = cfg.max_bytes.to_string();
        fail(
            ctx,
            "MULTILINE_MAX_BYTES",
            &[&max],
            "Multiline batch max-bytes exceeded",
        );
        return drop_batch(ctx);
    }
    p.verb = Some(verb);
    p.bytes = bytes;
    p.body.lines.push(MultilineLine {
        concat,
        text: text.to_string(),
    });
}

// BATCH +<reference> draft/multiline <target>
// BATCH -<reference>
pub fn batch(ctx: &mut Ctx, msg: &Message) {
    let param = msg.params()[0];
    let (sign, reference) = param.split_at(param.chars().next().map_or(0, char::len_utf8));
    if !matches!(sign, "+" | "-") || !valid_reference(reference) {
        fail(
            ctx,
            "INVALID_REFTAG",
            &[param],
            "Invalid batch reference tag",
        );
        drop_batch(ctx);
        return;
    }
    if sign == "-" {
        return end(ctx, reference);
    }
    if ctx.session.in_client_batch() {
        fail(
            ctx,
            "MULTILINE_INVALID",
            &[],
            "A multiline batch is already open",
        );
        drop_batch(ctx);
        ctx.session.batch = Some(Box::new(ClientBatch::Dropped(reference.into())));
        return;
    }
    let kind = msg.param(1).unwrap_or("*");
    let available = ctx.config.multiline.enabled && ctx.client().has_cap(Cap::Multiline.bit());
    if kind != BATCH_TYPE || !available {
        let text = if kind == BATCH_TYPE {
            "draft/multiline batches need the draft/multiline capability"
        } else {
            "Unknown batch type"
        };
        fail(ctx, "UNKNOWN_TYPE", &[reference, kind], text);
        ctx.session.batch = Some(Box::new(ClientBatch::Dropped(reference.into())));
        return;
    }
    let Some(target) = msg.param(2).filter(|t| !t.is_empty()) else {
        fail(
            ctx,
            "MULTILINE_INVALID",
            &[],
            "Multiline batch without a target",
        );
        ctx.session.batch = Some(Box::new(ClientBatch::Dropped(reference.into())));
        return;
    };
    // The answer (echo, errors) carries this line's label, once the batch ends.
    ctx.relabel = Some(None);
    ctx.session.flood_cost = Some(0);
    ctx.session.batch = Some(Box::new(ClientBatch::Open(Pending {
        reference: reference.to_string(),
        target: target.to_string(),
        verb: None,
        body: Multiline::default(),
        bytes: 0,
        client_tags: client_tags(msg, &ctx.config.limits),
        label: ctx.label.clone(),
        opened: Instant::now(),
    })));
}

/// `BATCH -<reference>`: checks the whole message and delivers it.
fn end(ctx: &mut Ctx, reference: &str) {
    let p = match ctx.session.batch.take().map(|b| *b) {
        Some(ClientBatch::Open(p)) if p.reference == reference => p,
        Some(ClientBatch::Dropped(r)) if r == reference => {
            ctx.relabel = Some(None);
            return;
        }
        other => {
            ctx.session.batch = other.map(Box::new);
            fail(
                ctx,
                "MULTILINE_INVALID",
                &[],
                "No multiline batch is open with that reference tag",
            );
            drop_batch(ctx);
            return;
        }
    };
    charge(ctx, &p);
    ctx.relabel = Some(p.label.clone());
    let fault = if p.opened.elapsed() > ctx.config.multiline.timeout {
        Some(("TIMEOUT", "Multiline batch timed out"))
    } else if p.body.lines.iter().all(|l| l.text.is_empty()) {
        Some((
            "MULTILINE_INVALID",
            "Invalid multiline batch with blank lines only",
        ))
    } else if p.body.lines.len() > 1 && p.body.lines.iter().any(|l| l.text.starts_with('\x01')) {
        // A CTCP (ACTION...) is one line: spread over several, clients
        // without the cap would get a broken one.
        Some((
            "MULTILINE_INVALID",
            "CTCP messages cannot be part of a multiline batch",
        ))
    } else {
        None
    };
    if let Some((code, text)) = fault {
        let params: &[&str] = if code == "TIMEOUT" { &[reference] } else { &[] };
        fail(ctx, code, params, text);
        return;
    }
    deliver(ctx, p);
}

/// Delivers a complete batch to its target.
fn deliver(ctx: &mut Ctx, p: Pending) {
    let verb = p.verb.unwrap_or(Verb::Privmsg);
    // NOTICE never draws an automatic error reply (RFC 2812 3.3.2).
    let errors = verb != Verb::Notice;
    let target = p.target.as_str();
    if crate::services::Service::by_nick(target).is_some() {
        fail(
            ctx,
            "MULTILINE_INVALID_TARGET",
            &[target, target],
            "Services take one line at a time",
        );
        return;
    }
    let (status, name) = match target.find('#') {
        Some(i) if i > 0 && target[..i].chars().all(|c| c == '@' || c == '+') => {
            (Some(&target[..i]), &target[i..])
        }
        _ => (None, target),
    };
    let client = ctx.client().clone();
    let echo = client.has_cap(Cap::EchoMessage.bit());
    ctx.state.touch_client(&client);
    match ctx
        .state
        .message_multiline(&client, name, status, verb, p.body, p.client_tags, echo)
    {
        Err(r) => {
            if errors {
                ctx.refuse(&r);
            }
        }
        Ok((d, away)) => {
            let to = (!name.starts_with('#')).then(|| d.to.first().map(|c| c.nick()));
            ctx.deliver(d);
            if let (Verb::Privmsg, Some(away), Some(Some(nick))) = (verb, away, to) {
                ctx.reply(RPL_AWAY, &[&nick, &away]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flood_cost_grows_with_size() {
        assert_eq!(flood_cost(5, 1), 1);
        assert_eq!(flood_cost(4096, 10), 9);
        assert_eq!(flood_cost(200, 100), 11);
        assert!(valid_reference("123") && valid_reference("a-B-9"));
        assert!(
            !valid_reference("") && !valid_reference("a_b") && !valid_reference(&"x".repeat(65))
        );
    }
}
