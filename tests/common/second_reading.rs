//! A second, independent reading of every line the server sends: the
//! `irc-proto` crate (a client-side parser, a dev-dependency only, never the
//! server's model) must read the same tags, source, command and parameters
//! as the test client's own parser ([`super::Msg::parse`]); a difference
//! fails the test. Framing bugs (a middle parameter with a space, one that
//! starts with ':', a double space) then show up in every test at once.
//!
//! Normalizations, each for a case where both readings are right:
//! - irc-proto turns a known command into a typed `Command` (and rebuilds
//!   MODE, CAP or BATCH arguments its own way). To read the parameters as it
//!   split them, the line is parsed with `ZZRAW` put before the command,
//!   found by irc-proto's own rule (after `@tags ` and `:source `, one space
//!   each), so that every command is its `Command::Raw` with the parameters
//!   as irc-proto split them.
//! - A tag without a value (`a`) and one with an empty value (`a=`) are the
//!   same tag (message-tags spec); irc-proto tells them apart (None and
//!   `Some("")`), the test client keeps the raw text: both become "".
//! - The source is compared as irc-proto writes its `Prefix` back.
//! - irc-proto splits the middle parameters with `splitn(14, ' ')`, so its
//!   14th piece keeps the rest: the space before ` :trailing` when a line
//!   has 14 middles (every full 005 line: nick, 13 tokens, text), or the
//!   15th middle. That piece is split again at spaces; a middle parameter
//!   never holds one.

use irc_proto::{Command, Message};

use super::Msg;

const MARK: &str = "ZZRAW";

/// What a reading found: tags (key, unescaped value), source, command,
/// parameters.
type Reading = (Vec<(String, String)>, Option<String>, String, Vec<String>);

/// Where irc-proto looks for the command: after `@tags ` and `:source `,
/// one space each (it does not skip more).
fn command_start(raw: &str) -> usize {
    let mut at = 0;
    for lead in ['@', ':'] {
        if raw[at..].starts_with(lead) {
            at = match raw[at..].find(' ') {
                Some(i) => at + i + 1,
                None => raw.len(),
            };
        }
    }
    at
}

/// irc-proto's reading of `raw` (no line ending).
fn proto_reading(raw: &str) -> Result<Reading, String> {
    let at = command_start(raw);
    let marked = format!("{}{MARK}{}", &raw[..at], &raw[at..]);
    let msg: Message = marked.parse().map_err(|e| format!("{e}"))?;
    let (command, mut params) = match msg.command {
        Command::Raw(c, args) => (c, args),
        other => return Err(format!("not read as a raw command: {other:?}")),
    };
    // irc-proto's own rule for a trailing parameter: the first " :".
    let middles = params.len() - usize::from(raw[at..].contains(" :"));
    if middles == 14 {
        let rest: Vec<String> = params[13]
            .split(' ')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        params.splice(13..14, rest);
    }
    let command = command
        .strip_prefix(MARK)
        .ok_or_else(|| format!("command {command:?} lost its mark"))?
        .to_string();
    let tags = msg
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.0, t.1.unwrap_or_default()))
        .collect();
    Ok((tags, msg.prefix.map(|p| p.to_string()), command, params))
}

/// The message-tags unescaping (`\:` `\s` `\\` `\r` `\n`; another escaped
/// character stands for itself; a lone trailing backslash is dropped),
/// written here from the spec.
fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

/// The test client's reading of the same line.
fn test_client(m: &Msg) -> Reading {
    let tags = m
        .tags
        .as_deref()
        .unwrap_or("")
        .split(';')
        .filter(|t| !t.is_empty())
        .map(|t| match t.split_once('=') {
            Some((k, v)) => (k.to_string(), unescape(v)),
            None => (t.to_string(), String::new()),
        })
        .collect();
    (tags, m.source.clone(), m.command.clone(), m.params.clone())
}

/// Panics (failing the test) when irc-proto reads `m.raw` differently
/// from the test client.
pub fn check(m: &Msg) {
    let ours = test_client(m);
    match proto_reading(&m.raw) {
        Ok(theirs) if theirs == ours => {}
        Ok(theirs) => panic!(
            "two parsers read a line from the server differently:\n  line: {:?}\n  test \
             client: {ours:?}\n  irc-proto:   {theirs:?}",
            m.raw
        ),
        Err(e) => panic!(
            "irc-proto cannot read a line from the server: {e}\n  line: {:?}",
            m.raw
        ),
    }
}

#[test]
fn readings_agree_and_disagree_where_they_should() {
    let same = [
        ":irc.test 001 me :Welcome to the TestNet IRC Network me!u@h",
        "@time=2026-01-01T00:00:00.000Z;+a=x\\sy;b :n!u@h PRIVMSG #c :hi there",
        ":n!u@h JOIN #c",
        "PING :x",
        ":irc.test 353 me = #c :@a +b c",
        ":srv CAP * LS :a b=c",
        ":n!u@h MODE #c +ov a b",
        ":irc.test 403 me * :No such channel",
        ":n!u@h TOPIC #c :",
        "@batch=1 :srv BATCH +1 chathistory #c",
        ":s 005 me A B C D E F G H I J K L M :are supported",
        ":s X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15",
    ];
    for l in same {
        check(&Msg::parse(l));
    }
    // A split middle parameter reads the same to both (that is the handlers'
    // business, tests/hostile.rs), but a double space does not.
    let differ = [":irc.test  403 me x :No", "@a=b  :n!u@h PRIVMSG #c :x"];
    for l in differ {
        let m = Msg::parse(l);
        assert_ne!(proto_reading(l).ok(), Some(test_client(&m)), "{l}");
    }
}
