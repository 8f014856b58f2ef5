//! Parse -> serialize with `Line` -> parse again.
//!
//! For a line the parser accepts without tags, its source, command and params
//! are written back with `Line` (every param but the last with `arg`; the last
//! once with `arg`, once with `text`). Checked:
//! - the output always ends with CRLF, is valid UTF-8 and at most 512 bytes;
//! - it equals the canonical form `[:src ]cmd( middle)*( [:]last)`, where the
//!   last param gets ':' when it is empty, contains a space or starts with
//!   ':' (always with `text`), cut to 510 bytes on a char boundary;
//! - when that form fits (<= 510 bytes) it parses back to the same source,
//!   command and params. Middle params never contain spaces and are never
//!   empty, because they came from the parser, so nothing else can change.
#![no_main]

use bytes::Bytes;
use ircd::proto::line::MAX_LINE;
use ircd::proto::{Line, Message};
use libfuzzer_sys::fuzz_target;

fn canonical(msg: &Message, text_last: bool) -> String {
    let mut s = String::new();
    if let Some(src) = msg.source {
        s.push(':');
        s.push_str(src);
        s.push(' ');
    }
    s.push_str(msg.command);
    let params = msg.params();
    for (i, p) in params.iter().enumerate() {
        s.push(' ');
        if i + 1 == params.len()
            && (text_last || p.is_empty() || p.contains(' ') || p.starts_with(':'))
        {
            s.push(':');
        }
        s.push_str(p);
    }
    s
}

fn check(msg: &Message, out: &Bytes, text_last: bool) {
    assert!(out.ends_with(b"\r\n"), "no CRLF: {out:?}");
    assert!(out.len() <= MAX_LINE, "{} bytes: {out:?}", out.len());
    let body = std::str::from_utf8(&out[..out.len() - 2]).expect("serializer broke UTF-8");
    let want = canonical(msg, text_last);
    if want.len() > MAX_LINE - 2 {
        // Cut to 510 bytes, at most 3 bytes less to stay on a char boundary.
        assert!(want.starts_with(body), "not a prefix:\n{body:?}\n{want:?}");
        assert!(
            body.len() + 3 >= MAX_LINE - 2,
            "cut too short: {}",
            body.len()
        );
        return;
    }
    assert_eq!(body, want);
    let back = Message::parse(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    assert_eq!(back.tags, None, "{body:?}");
    assert_eq!(back.source, msg.source, "{body:?}");
    assert_eq!(back.command, msg.command, "{body:?}");
    assert_eq!(back.params(), msg.params(), "{body:?}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    // The codec never hands the parser a CR or LF.
    if line.contains(['\r', '\n']) {
        return;
    }
    let Ok(msg) = Message::parse(line) else {
        return;
    };
    if msg.tags.is_some() {
        return;
    }
    let (last, middles) = match msg.params().split_last() {
        Some((l, m)) => (Some(*l), m),
        None => (None, &[][..]),
    };
    let base = || Line::new(msg.source, msg.command).args(middles.iter().copied());
    let out = match last {
        Some(l) => base().arg(l).build(),
        None => base().build(),
    };
    check(&msg, &out, false);
    if let Some(l) = last {
        check(&msg, &base().text(l).build(), true);
    }
});
