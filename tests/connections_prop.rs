//! The short, every-run version of the whole-connection fuzz target
//! (`fuzz/fuzz_targets/connections.rs`): random lines from a grammar of
//! every command and hostile parameters, through three real connections to
//! one server at once (one with IRCv3 capabilities, one plain, one with a
//! few), shrunk by proptest when something fails. Asserted: nothing closes
//! a connection, every reply line is well framed (CRLF, UTF-8, 512 bytes,
//! read alike by the test client and irc-proto, numerics with their
//! intended number of parameters, no middle parameter repaired by the
//! serializer), and every connection still answers PING.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};

use crate::{
    common::*,
    hostile::{VARYING, intended_params},
};

/// Values for parameters: `$0`..`$2` become the three clients' nicks.
const PARAMS: &[&str] = &[
    "$0",
    "$1",
    "$2",
    "#p",
    "#q",
    "#p,#q",
    "@#p",
    "+#q",
    "0",
    "*",
    "é",
    "日本",
    "a b",
    ":a b",
    "::",
    ":",
    "#",
    ",",
    ",,",
    "-1",
    "99999999999",
    "+o",
    "-o",
    "+b",
    "+l",
    "+k",
    "+E",
    "-E",
    "+imnst",
    "+beI",
    "7d",
    "1m",
    "*!*@*",
    "%tcuihsnfdlaor,42",
    "LS",
    "REQ",
    "END",
    "+",
    "-",
    "C",
    "L",
    "S",
    "x!y@z",
    "NickServ",
    "ChanServ",
    "HELP",
    "INFO",
];

/// Tag sections put before some lines.
const TAGS: &[&str] = &[
    "",
    "",
    "",
    "@+typing=active ",
    "@label=l1 ",
    "@+a!b=1;+dup=1;+dup=2 ",
    "@+é=x;+=y ",
];

/// Commands the grammar leaves out: QUIT ends the connection, and OPER and
/// REGISTER hash a password with bcrypt (a third of a second each).
const SKIP: &[&str] = &["QUIT", "OPER", "REGISTER"];

fn commands() -> Vec<&'static str> {
    ircd::commands::command_names()
        .into_iter()
        .filter(|c| !SKIP.contains(c))
        .collect()
}

/// (which client sends it, the line with `$n` placeholders).
fn line() -> impl Strategy<Value = (usize, String)> {
    (
        0..3usize,
        prop::sample::select(TAGS),
        prop::sample::select(commands()),
        prop::collection::vec(prop::sample::select(PARAMS), 0..5),
        any::<bool>(),
    )
        .prop_map(|(who, tags, cmd, params, trailing)| {
            let mut l = format!("{tags}{cmd}");
            let n = params.len();
            for (i, p) in params.into_iter().enumerate() {
                l.push(' ');
                if i + 1 == n && (trailing || p.contains(' ') || p.starts_with(':')) {
                    l.push(':');
                }
                l.push_str(p);
            }
            (who, l)
        })
}

async fn run_case(srv: &TestServer, case: usize, lines: Vec<(usize, String)>) {
    let repaired = ircd::proto::line::repaired_middles();
    let nicks = [
        format!("pa{case}"),
        format!("pb{case}"),
        format!("pc{case}"),
    ];
    let mut clients = Vec::new();
    for (i, nick) in nicks.iter().enumerate() {
        let mut c = srv.client().await;
        c.record = false;
        let caps = match i {
            0 => Some("message-tags echo-message server-time labeled-response batch multi-prefix"),
            2 => Some("extended-join away-notify account-tag"),
            _ => None,
        };
        if let Some(caps) = caps {
            c.send("CAP LS 302").await;
            c.send(&format!("CAP REQ :{caps}")).await;
            c.send("CAP END").await;
        }
        c.register(nick).await;
        c.send("JOIN #p").await;
        clients.push(c);
    }
    for (who, l) in &lines {
        let mut l = l.clone();
        for (i, n) in nicks.iter().enumerate() {
            l = l.replace(&format!("${i}"), n);
        }
        clients[*who].send(&l).await;
    }
    for c in &mut clients {
        // sync: PING, and every line before its PONG read and checked.
        for m in c.sync().await {
            if let Some(n) = intended_params(&m) {
                assert_eq!(m.params.len(), n, "{}", m.raw);
            } else if VARYING.contains(&m.command.as_str()) {
                assert!(m.params.len() >= 2, "{}", m.raw);
            }
        }
    }
    assert_eq!(
        ircd::proto::line::repaired_middles(),
        repaired,
        "a middle parameter was left to the serializer's repair"
    );
}

#[test]
fn random_lines_through_three_connections() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let srv = rt.block_on(start(""));
    let cases = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(line(), 1..16), |lines| {
            let case = cases.fetch_add(1, Ordering::Relaxed);
            rt.block_on(run_case(&srv, case, lines));
            Ok(())
        })
        .unwrap();
}
