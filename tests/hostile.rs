//! Regression tests for what a hostile run against the server found
//! (issue 13): each one failed before its fix.

use crate::common::*;

/// A connection that sends only `NICK squatted` and never registers used to
/// hold the nick until its registration timeout. Now the registering user
/// wins (InspIRCd's rule): the unregistered holder gets
/// `433 * <nick> :Nickname overruled.` and must pick another nick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_connection_cannot_squat_a_nick() {
    let srv = start("").await;
    let mut squatter = srv.client().await;
    squatter.send("NICK squatted").await;
    // The NICK is processed before the real user asks for the nick.
    assert!(squatter.sync().await.is_empty());
    let mut real = srv.client().await;
    real.send("NICK squatted").await;
    real.send("USER real 0 * :Real User").await;
    let welcome = real.expect("001").await;
    assert_eq!(welcome.params[0], "squatted");
    let overruled = squatter.expect("433").await;
    assert_eq!(overruled.params[1], "squatted", "{overruled:?}");
    // Finishing USER does not register the squatter under the lost nick.
    squatter.send("USER sq 0 * :Squatter").await;
    let after = squatter.sync().await;
    assert!(after.iter().all(|m| m.command != "001"), "{after:?}");
    // It can still register under a free nick.
    squatter.send("NICK other").await;
    assert_eq!(squatter.expect("001").await.params[0], "other");
    // A registered holder keeps its nick: a newcomer gets 433.
    let mut late = srv.client().await;
    late.send("NICK squatted").await;
    assert_eq!(late.expect("433").await.params[1], "squatted");
    // And a registered user changing nick also wins over a squatter.
    let mut squatter2 = srv.client().await;
    squatter2.send("NICK wanted").await;
    assert!(squatter2.sync().await.is_empty());
    real.send("NICK wanted").await;
    let nick = real.expect("NICK").await;
    assert_eq!(nick.last(), "wanted");
    assert_eq!(squatter2.expect("433").await.params[1], "wanted");
    real.send("WHOIS wanted").await;
    assert_eq!(real.expect("311").await.params[1], "wanted");
}

/// How many parameters (the client's nick included) each reply the hostile
/// forms below get is meant to have; None for replies whose count varies.
fn intended_params(m: &Msg) -> Option<usize> {
    Some(match m.command.as_str() {
        "251" | "255" | "257" | "258" | "259" | "302" | "303" | "305" | "306" | "323" | "371"
        | "374" | "411" | "412" | "422" | "431" | "501" | "731" | "NOTICE" | "TOPIC" => 2,
        "252" | "253" | "254" | "256" | "315" | "318" | "321" | "366" | "368" | "369" | "401"
        | "403" | "406" | "410" | "421" | "432" | "442" | "461" | "472" | "476" | "482" | "524"
        | "525" | "347" | "349" | "CAP" => 3,
        "265" | "266" | "322" | "351" | "441" | "443" => 4,
        "391" | "696" => 5,
        "352" => 8,
        // ISUPPORT, WHOX rows and MODE changes vary with what they carry.
        "005" | "354" | "MODE" => return None,
        other => panic!("no intended parameter count for {other}: {}", m.raw),
    })
}

/// Replies used to echo a client's parameter unescaped in a middle position
/// (`WHO :a b` answered `315 me a b :End of /WHO list`, four parameters;
/// `MODE #c +l :5 6` gave `696 me #c l 5 6 :Invalid limit`): 26 such
/// cases across WHO, WHOIS, WHOWAS, HELP, JOIN, NAMES, TOPIC, PART, INVITE,
/// KICK and MODE. Every hostile value in every position now gets its reply
/// with the intended number of parameters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_never_split_a_hostile_parameter() {
    let srv = start("").await;
    let mut me = srv.user("me").await;
    let mut other = srv.user("other").await;
    for c in [&mut me, &mut other] {
        c.send("JOIN #c").await;
        c.expect("366").await;
    }
    other.record = false;
    me.record = false;
    me.sync().await;
    // Each value is sent as the trailing parameter, so it may hold spaces,
    // be empty or start with ':'.
    let values = [
        ":a b", "::ab", ":", ":a,b c", ":#a b", ":# c", ":#c b", ": lead",
    ];
    let forms = [
        "WHO {}",
        "WHO #c {}",
        "WHO {} %tcuihsnfdlaor,42",
        "WHOIS {}",
        "WHOIS x {}",
        "WHOWAS {}",
        "WHOWAS x {}",
        "HELP {}",
        "JOIN {}",
        "JOIN #c {}",
        "NAMES {}",
        "TOPIC {}",
        "PART {}",
        "INVITE {}",
        "INVITE other {}",
        "KICK {}",
        "KICK #c {}",
        "MODE {}",
        "MODE #c {}",
        "MODE #c +l {}",
        "MODE #c +b {}",
        "MODE #c +e {}",
        "MODE #c +I {}",
        "MODE #c +k {}",
        "MODE #c +o {}",
        "MODE #c -o {}",
        "MODE #c +v {}",
        "MODE #c +E {}",
        "MODE me {}",
        "NICK {}",
        "CAP {}",
        "CAP REQ {}",
        "TAGMSG {}",
        "PRIVMSG {}",
        "MONITOR + {}",
        "USERHOST {}",
        "ISON {}",
        "LIST {}",
        "LUSERS {}",
        "ADMIN {}",
        "TIME {}",
        "VERSION {}",
        "MOTD {}",
        "INFO {}",
    ];
    let mut bad = Vec::new();
    for form in forms {
        for v in values {
            let line = form.replace("{}", v);
            me.send(&line).await;
            for m in me.sync().await {
                let ok = match intended_params(&m) {
                    Some(n) => m.params.len() == n,
                    None => m.params.len() >= 2,
                };
                if !ok {
                    bad.push(format!("{line:<28} -> {}", m.raw));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} split replies:\n{}",
        bad.len(),
        bad.join("\n")
    );
    // The channel's other member saw nothing odd either, and both still answer.
    other.sync().await;
}

/// Destroyed ephemeral channels used to stay in the idle timer until their
/// deadline (up to 7 days: 30,000 JOIN, +E 7d, PART rounds grew RSS by
/// 12.6 MB), and every +E change on a live channel added an entry. A
/// channel's timer now goes with the channel, and a channel has one entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_timers_go_with_their_channel() {
    let srv = start("").await;
    let idle = || srv.handle.state().idle.len();
    let mut c = srv.user("churn").await;
    c.record = false;
    for i in 0..300 {
        c.send(&format!("JOIN #e{i}\r\nMODE #e{i} +E 7d\r\nPART #e{i}"))
            .await;
    }
    c.sync().await;
    assert_eq!(idle(), 0, "a destroyed channel keeps no timer entry");

    c.send("JOIN #live").await;
    c.expect("366").await;
    for i in 0..1000 {
        let t = if i % 2 == 0 { "7d" } else { "6d" };
        c.send(&format!("MODE #live +E {t}")).await;
    }
    c.sync().await;
    assert_eq!(idle(), 1, "one entry per ephemeral channel");
    c.send("MODE #live -E").await;
    c.sync().await;
    assert_eq!(idle(), 0, "-E drops the entry");
    drop(c);
    drop(srv);

    // With every channel ephemeral by default, each JOIN/PART creates and
    // destroys one.
    let srv = start("[channels]\nephemeral_by_default = true\n").await;
    let mut c = srv.user("churn").await;
    c.record = false;
    for i in 0..300 {
        c.send(&format!("JOIN #d{}\r\nPART #d{}", i % 3, i % 3))
            .await;
    }
    c.sync().await;
    assert_eq!(srv.handle.state().idle.len(), 0);
    c.send("JOIN #d0").await;
    c.sync().await;
    assert_eq!(srv.handle.state().idle.len(), 1);
}

/// The 314 rows a WHOWAS gets, up to its 369.
async fn whowas_rows(c: &mut TestClient, nick: &str) -> Vec<Msg> {
    c.send(&format!("WHOWAS {nick}")).await;
    let mut rows = Vec::new();
    loop {
        let m = c.recv().await.expect("connected");
        match m.command.as_str() {
            "314" => rows.push(m),
            "369" => return rows,
            _ => {}
        }
    }
}

/// WHOWAS used to record only QUIT: RFC 2812 3.6.3 (and Solanum, Ergo) also
/// keep the nick a user changed away from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whowas_records_nick_changes() {
    let srv = start("").await;
    let mut c = srv.user("before").await;
    c.send("NICK after").await;
    c.expect("NICK").await;
    let rows = whowas_rows(&mut c, "before").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].params[1..5], ["before", "before", "127.0.0.1", "*"]);
    assert_eq!(rows[0].last(), "Real before");
    // A change of case only is the same nick: nothing recorded.
    c.send("NICK AFTER").await;
    c.expect("NICK").await;
    assert!(whowas_rows(&mut c, "after").await.is_empty());
}

/// WHOWAS kept every entry of a nick up to the global bound: one nick
/// reconnected 1,000 times filled the whole history. Now at most 10 per nick
/// (InspIRCd's default), `[limits] whowas_per_nick`, newest kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whowas_keeps_at_most_ten_entries_per_nick() {
    let srv = start("").await;
    let mut other = srv.user("other").await;
    other.send("QUIT").await;
    other.expect_closed().await;
    for i in 0..15 {
        let mut c = srv.client().await;
        c.send("NICK ghost").await;
        c.send(&format!("USER g{i} 0 * :session {i}")).await;
        c.expect("001").await;
        c.send("QUIT").await;
        c.expect_closed().await;
    }
    let mut asker = srv.user("asker").await;
    let rows = whowas_rows(&mut asker, "ghost").await;
    let users: Vec<&str> = rows.iter().map(|m| m.params[2].as_str()).collect();
    assert_eq!(
        users,
        [
            "g14", "g13", "g12", "g11", "g10", "g9", "g8", "g7", "g6", "g5"
        ]
    );
    // Other nicks' entries are not pushed out by it.
    assert_eq!(whowas_rows(&mut asker, "other").await.len(), 1);
    drop(srv);

    let srv = start("[limits]\nwhowas_per_nick = 2\n").await;
    for i in 0..3 {
        let mut c = srv.user("ghost").await;
        c.send(&format!("NICK ghost{i}")).await;
        c.expect("NICK").await;
    }
    let mut asker = srv.user("asker").await;
    assert_eq!(whowas_rows(&mut asker, "ghost").await.len(), 2);
}
