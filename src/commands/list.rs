//! Channel listings: LIST (with the ELIST filters) and NAMES. LIST over
//! thousands of channels is made one row at a time as the asker reads it.

use crate::{
    proto::{Line, Message, caps::Cap, mask::glob_match, numerics::*},
    state::{ListRow, unix_now},
};

use super::{Ctx, numeric_line, who::one_param};

/// 353 lines for a channel, split to fit 512 bytes, then 366.
pub fn send_names(ctx: &mut Ctx, name: &str) {
    let shown = send_name_replies(ctx, name).unwrap_or_else(|| one_param(name));
    ctx.reply(RPL_ENDOFNAMES, &[&shown]);
}

/// The 353 lines of one channel (none for a secret channel seen from
/// outside); returns the channel's display name if it exists.
fn send_name_replies(ctx: &mut Ctx, name: &str) -> Option<String> {
    let me = ctx.client().clone();
    let multi = me.has_cap(Cap::MultiPrefix.bit());
    let uhnames = me.has_cap(Cap::UserhostInNames.bit());
    let view = ctx.state.names(&me, name, multi, uhnames)?;
    let nick = me.nick();
    let server = ctx.config.server.name.clone();
    // Room for names: 510 minus ":server 353 nick = #chan :".
    let room = 510usize.saturating_sub(server.len() + nick.len() + view.name.len() + 12);
    let line = |buf: &str| {
        Line::new(Some(&server), RPL_NAMREPLY.code)
            .args([nick.as_str(), view.symbol, &view.name])
            .text(buf)
            .build()
    };
    let mut buf = String::new();
    for entry in &view.entries {
        if !buf.is_empty() && buf.len() + 1 + entry.len() > room {
            ctx.push(line(&buf));
            buf.clear();
        }
        if !buf.is_empty() {
            buf.push(' ');
        }
        buf.push_str(entry);
    }
    if !buf.is_empty() {
        ctx.push(line(&buf));
    }
    Some(view.name)
}

// NAMES [<channel>{,<channel>}]
pub fn names(ctx: &mut Ctx, msg: &Message) {
    let Some(targets) = msg.param(0).filter(|t| !t.is_empty()) else {
        ctx.reply(RPL_ENDOFNAMES, &["*"]);
        return;
    };
    // Several channels: every 353, then one 366 naming them all (RFC 2812).
    let max = ctx.config.limits.max_targets;
    let names: Vec<&str> = targets
        .split(',')
        .filter(|n| !n.is_empty())
        .take(max)
        .collect();
    let mut shown = Vec::new();
    for name in &names {
        shown.push(send_name_replies(ctx, name).unwrap_or_else(|| one_param(name)));
    }
    ctx.reply(RPL_ENDOFNAMES, &[&shown.join(",")]);
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

impl ListFilter {
    /// Reads one LIST item: a filter, or None for a channel name.
    fn parse(item: &str) -> Option<Option<ListFilter>> {
        let minutes = |v: &str| v.parse::<u64>().ok();
        // Prefixes are ASCII; a multibyte first character is a name or mask.
        Some(if let Some(n) = item.strip_prefix('>') {
            n.parse().ok().map(ListFilter::UsersOver)
        } else if let Some(n) = item.strip_prefix('<') {
            n.parse().ok().map(ListFilter::UsersUnder)
        } else if let Some(m) = item.strip_prefix('!') {
            Some(ListFilter::NotMask(m.to_string()))
        } else if let Some(v) = item.strip_prefix("C>") {
            minutes(v).map(ListFilter::CreatedBefore)
        } else if let Some(v) = item.strip_prefix("C<") {
            minutes(v).map(ListFilter::CreatedWithin)
        } else if let Some(v) = item.strip_prefix("T>") {
            minutes(v).map(ListFilter::TopicBefore)
        } else if let Some(v) = item.strip_prefix("T<") {
            minutes(v).map(ListFilter::TopicWithin)
        } else if item.contains(['*', '?']) {
            Some(ListFilter::Mask(item.to_string()))
        } else {
            return None;
        })
    }

    fn pass(&self, row: &ListRow, now: u64, cm: crate::proto::Casemapping) -> bool {
        let age = |t: u64| now.saturating_sub(t);
        let topic_age = row.topic.as_ref().map(|t| age(t.time));
        match self {
            ListFilter::UsersOver(v) => row.users > *v,
            ListFilter::UsersUnder(v) => row.users < *v,
            // Minutes as seconds: saturating, since a client picks them.
            ListFilter::CreatedBefore(m) => age(row.created) > m.saturating_mul(60),
            ListFilter::CreatedWithin(m) => age(row.created) < m.saturating_mul(60),
            ListFilter::TopicBefore(m) => topic_age.is_some_and(|a| a > m.saturating_mul(60)),
            ListFilter::TopicWithin(m) => topic_age.is_some_and(|a| a < m.saturating_mul(60)),
            ListFilter::Mask(m) => glob_match(m, &row.name, cm),
            ListFilter::NotMask(m) => !glob_match(m, &row.name, cm),
        }
    }
}

// LIST [<channel|mask|condition>{,...}] ...
pub fn list(ctx: &mut Ctx, msg: &Message) {
    let me = ctx.client().clone();
    let mut filters = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for item in msg
        .params()
        .iter()
        .flat_map(|p| p.split(','))
        .filter(|i| !i.is_empty())
    {
        match ListFilter::parse(item) {
            Some(f) => filters.extend(f),
            None => names.push(item),
        }
    }
    let mut cursor = ctx.state.list_channels(&me, &names);
    let now = unix_now();
    let cm = ctx.state.casemap;
    let server = ctx.config.server.name.clone();
    ctx.reply(RPL_LISTSTART, &["Channel", "Users  Name"]);
    ctx.out.stream(Box::new(move |_| {
        while let Some(row) = cursor.next_row() {
            if filters.iter().all(|f| f.pass(&row, now, cm)) {
                let topic = row.topic.as_ref().map(|t| t.text.as_str()).unwrap_or("");
                return Some(numeric_line(
                    &server,
                    &me.nick(),
                    RPL_LIST,
                    &[&row.name, &row.users.to_string(), topic],
                ));
            }
        }
        None
    }));
    ctx.reply(RPL_LISTEND, &[]);
}
