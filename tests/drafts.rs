//! IRCv3 drafts for bridges and modern clients: draft/relaymsg,
//! draft/read-marker, and the NICKLEN cut of nicks sent before
//! registration; every refusal with its exact FAIL code.

use crate::common::*;

const BASE: &str = "message-tags batch echo-message server-time labeled-response";
const FAST: &str = "[services]\nbcrypt_cost = 4\n";

/// A client that negotiated `caps` and registered as `nick`.
async fn with_caps(srv: &TestServer, nick: &str, caps: &str) -> TestClient {
    let mut c = srv.client().await;
    c.send("CAP LS 302").await;
    c.send(&format!("CAP REQ :{caps}")).await;
    let ack = c
        .expect_match("CAP ACK", |m| m.command == "CAP" && m.params[1] != "LS")
        .await;
    assert_eq!(ack.params[1], "ACK", "{ack:?}");
    c.send("CAP END").await;
    c.register(nick).await;
    c
}

fn tag<'a>(m: &'a Msg, key: &str) -> Option<&'a str> {
    m.tags
        .as_deref()?
        .split(';')
        .find_map(|t| match t.split_once('=') {
            Some((k, v)) if k == key => Some(v),
            None if t == key => Some(""),
            _ => None,
        })
}

async fn join(c: &mut TestClient, chan: &str) {
    c.send(&format!("JOIN {chan}")).await;
    c.expect("366").await;
}

/// The FAILs (as "CODE params...") among `lines`.
fn fails(lines: &[Msg]) -> Vec<String> {
    lines
        .iter()
        .filter(|m| m.command == "FAIL")
        .map(|m| m.params[1..m.params.len() - 1].join(" "))
        .collect()
}

fn commands(lines: &[Msg]) -> Vec<&str> {
    lines.iter().map(|m| m.command.as_str()).collect()
}

// ---------------------------------------------------------------------------
// draft/relaymsg
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relaymsg_speaks_under_a_spoofed_nick() {
    let srv = start("").await;
    let mut a = with_caps(&srv, "alice", BASE).await;
    let mut b = with_caps(&srv, "bob", "draft/relaymsg").await;
    let mut c = with_caps(&srv, "carol", "message-tags").await;
    let mut d = srv.user("dave").await;
    for x in [&mut a, &mut b, &mut c, &mut d] {
        join(x, "#r").await;
    }
    for x in [&mut a, &mut b, &mut c, &mut d] {
        x.sync().await;
    }
    let mut e = srv.client().await;
    e.send("CAP LS 302").await;
    let ls = crate::ircv3::ls_all(&mut e).await;
    assert!(ls.split(' ').any(|c| c == "draft/relaymsg=/"), "{ls:?}");

    // alice is the channel's operator: she may relay.
    a.send("@label=r1;+draft/reply=x RELAYMSG #r smt/discord :hi there")
        .await;
    let echo = a.sync().await;
    assert_eq!(commands(&echo), ["PRIVMSG"], "{echo:#?}");
    assert_eq!(tag(&echo[0], "label"), Some("r1"));
    assert_eq!(
        echo[0].source.as_deref(),
        Some("smt/discord!relay@127.0.0.1")
    );
    assert_eq!(echo[0].params, ["#r", "hi there"]);
    assert!(tag(&echo[0], "msgid").is_some());
    // The relaymsg cap shows who relayed it; message-tags alone does not.
    let got = b.expect("PRIVMSG").await;
    assert_eq!(got.nick(), "smt/discord");
    assert_eq!(tag(&got, "draft/relaymsg"), Some("alice"));
    assert_eq!(got.last(), "hi there");
    let got = c.expect("PRIVMSG").await;
    assert_eq!(tag(&got, "draft/relaymsg"), None);
    assert_eq!(tag(&got, "+draft/reply"), Some("x"));
    let got = d.expect("PRIVMSG").await;
    assert_eq!(got.raw, ":smt/discord!relay@127.0.0.1 PRIVMSG #r :hi there");

    // Refusals, each with its code.
    for (line, code) in [
        ("RELAYMSG #r invalid!nick/discord :hi", "INVALID_NICK"),
        ("RELAYMSG #r regular_nick :hi", "INVALID_NICK"),
        ("RELAYMSG #r 1abc/d :hi", "INVALID_NICK"),
        ("RELAYMSG #r a/b.c :hi", "INVALID_NICK"),
        (
            "RELAYMSG #r averyveryveryverylongnickname/discord :hi",
            "INVALID_NICK",
        ),
        ("RELAYMSG #r smt/discord :   ", "BLANK_MSG"),
    ] {
        a.send(line).await;
        let got = a.sync().await;
        assert_eq!(fails(&got), [code], "{line}: {got:#?}");
    }
    a.send("RELAYMSG #nowhere smt/discord :hi").await;
    assert_eq!(commands(&a.sync().await), ["403"]);
    a.send("RELAYMSG #r smt/discord").await;
    assert_eq!(commands(&a.sync().await), ["461"]);
    // bob is no operator.
    b.send("RELAYMSG #r smt/discord :hi").await;
    assert_eq!(fails(&b.sync().await), ["PRIVS_NEEDED"]);
    // Once he is, he may.
    a.send("MODE #r +o bob").await;
    a.expect("MODE").await;
    b.sync().await;
    b.send("RELAYMSG #r other/irc :from bob").await;
    let got = a.expect("PRIVMSG").await;
    assert_eq!((got.nick(), got.last()), ("other/irc", "from bob"));
    // Without echo-message, the relayer gets no copy.
    assert_eq!(commands(&b.sync().await), Vec::<&str>::new());

    // Relayed nicks are not users: no NICK may take one, no one can be
    // messaged under one.
    d.sync().await;
    d.send("NICK smt/discord").await;
    assert_eq!(commands(&d.sync().await), ["432"]);
    d.send("PRIVMSG smt/discord :hello?").await;
    assert_eq!(commands(&d.sync().await), ["401"]);
    // A nick that is not a channel member cannot relay there (+n).
    let mut o = srv.user("outsider").await;
    o.send("RELAYMSG #r smt/discord :hi").await;
    assert_eq!(fails(&o.sync().await), ["PRIVS_NEEDED"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relaymsg_privileges_separators_and_off() {
    let hash = bcrypt::hash("operpw", 4).unwrap();
    let srv = start(&format!(
        "{FAST}[relaymsg]\nseparators = \"/|\"\navailable_to_chanops = false\naccounts = [\"Bridge\"]\n[[oper]]\nname = \"boss\"\npassword = {hash:?}\n"
    ))
    .await;
    let mut a = srv.user("alice").await;
    let mut bot = srv.user("bridge").await;
    let mut op = srv.user("oper").await;
    for x in [&mut a, &mut bot, &mut op] {
        join(x, "#p").await;
    }
    a.sync().await;
    // Channel operators may not, here.
    a.send("RELAYMSG #p x/y :hi").await;
    assert_eq!(fails(&a.sync().await), ["PRIVS_NEEDED"]);
    // A listed account may, once logged in (and only where it may speak).
    bot.send("RELAYMSG #p x/y :hi").await;
    assert_eq!(fails(&bot.sync().await), ["PRIVS_NEEDED"]);
    bot.send("NS REGISTER bridgepw").await;
    bot.expect("900").await;
    bot.send("RELAYMSG #p x|matrix :from matrix").await;
    let got = a.expect("PRIVMSG").await;
    assert_eq!((got.nick(), got.last()), ("x|matrix", "from matrix"));
    a.send("MODE #p +m").await;
    a.expect("MODE").await;
    bot.sync().await;
    bot.send("RELAYMSG #p x/y :muted").await;
    assert_eq!(commands(&bot.sync().await), ["404"]);
    a.send("MODE #p -m").await;
    a.expect("MODE").await;
    // Operators may.
    op.send("OPER boss operpw").await;
    op.expect("381").await;
    op.send("RELAYMSG #p y/z :from an oper").await;
    let got = a.expect("PRIVMSG").await;
    assert_eq!((got.nick(), got.last()), ("y/z", "from an oper"));
    // '|' is a separator here: no nick may carry it, though it is a nick
    // character elsewhere.
    a.send("NICK al|ce").await;
    assert_eq!(commands(&a.sync().await), ["432"]);
    drop(srv);

    let srv = start("[relaymsg]\nenabled = false\n").await;
    let mut a = srv.user("alice").await;
    join(&mut a, "#p").await;
    a.send("RELAYMSG #p x/y :hi").await;
    assert_eq!(fails(&a.sync().await), ["NOT_ENABLED"]);
    a.send("CAP LS 302").await;
    let ls = crate::ircv3::ls_all(&mut a).await;
    assert!(!ls.contains("relaymsg"), "{ls:?}");
    a.send("CAP REQ draft/relaymsg").await;
    assert_eq!(a.expect("CAP").await.params[1], "NAK");
}

// ---------------------------------------------------------------------------
// draft/read-marker
// ---------------------------------------------------------------------------

fn markread(lines: &[Msg]) -> Vec<String> {
    lines
        .iter()
        .filter(|m| m.command == "MARKREAD")
        .map(|m| m.params.join(" "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markread_get_set_forward_only_and_on_join() {
    let srv = start("").await;
    let mut a = with_caps(&srv, "alice", "draft/read-marker").await;
    a.send("MARKREAD #nosuch").await;
    assert_eq!(markread(&a.sync().await), ["#nosuch *"]);
    // After JOIN, before RPL_ENDOFNAMES.
    a.send("JOIN #Test").await;
    let got = a.sync().await;
    let cmds = commands(&got);
    let at = cmds
        .iter()
        .position(|c| *c == "MARKREAD")
        .expect("MARKREAD");
    assert!(at > cmds.iter().position(|c| *c == "JOIN").unwrap());
    assert!(at < cmds.iter().position(|c| *c == "366").unwrap());
    assert_eq!(markread(&got), ["#Test *"]);
    // Set, get (the channel's own spelling), and never backwards.
    let ts = "2019-01-04T14:33:26.123Z";
    a.send(&format!("MARKREAD #test timestamp={ts}")).await;
    assert_eq!(markread(&a.sync().await), [format!("#Test timestamp={ts}")]);
    a.send("MARKREAD #TEST").await;
    assert_eq!(markread(&a.sync().await), [format!("#Test timestamp={ts}")]);
    a.send("MARKREAD #test timestamp=2018-01-01T00:00:00.000Z")
        .await;
    assert_eq!(markread(&a.sync().await), [format!("#Test timestamp={ts}")]);
    // A time in the future is the present.
    a.send("MARKREAD bob timestamp=2999-01-01T00:00:00.000Z")
        .await;
    let got = markread(&a.sync().await);
    assert!(
        got[0].starts_with("bob timestamp=20") && !got[0].contains("2999"),
        "{got:?}"
    );
    // After PART and JOIN again (a new channel, spelled as joined), the
    // marker is still there.
    a.send("PART #test").await;
    a.send("JOIN #test").await;
    assert_eq!(markread(&a.sync().await), [format!("#test timestamp={ts}")]);
    // Refusals.
    for (line, code) in [
        ("MARKREAD", "NEED_MORE_PARAMS"),
        ("MARKREAD #test *", "INVALID_PARAMS *"),
        (
            "MARKREAD #test timestamp=not-a-timestamp",
            "INVALID_PARAMS timestamp=not-a-timestamp",
        ),
        (
            "MARKREAD #test 2019-01-04T14:33:26.123Z",
            "INVALID_PARAMS 2019-01-04T14:33:26.123Z",
        ),
        ("MARKREAD bad!target", "INVALID_PARAMS bad!target"),
    ] {
        a.send(line).await;
        let got = a.sync().await;
        assert_eq!(fails(&got), [code], "{line}: {got:#?}");
    }
    // Without the cap: MARKREAD still answers, JOIN says nothing of it.
    let mut n = srv.user("nocap").await;
    n.send("JOIN #test").await;
    assert!(markread(&n.sync().await).is_empty());
    n.send("MARKREAD #test").await;
    assert_eq!(markread(&n.sync().await), ["#test *"]);
    // A connection's markers are its own when it has no account.
    n.send(&format!("MARKREAD #test timestamp={ts}")).await;
    n.sync().await;
    let mut a2 = with_caps(&srv, "alice2", "draft/read-marker").await;
    a2.send("MARKREAD #test").await;
    assert_eq!(markread(&a2.sync().await), ["#test *"]);
}

/// A connection of account alys (password pw-alys) with `caps`.
async fn logged_in(srv: &TestServer, nick: &str, caps: &str) -> TestClient {
    let mut c = srv.client().await;
    c.send("CAP LS 302").await;
    c.send(&format!("CAP REQ :{caps}")).await;
    let ack = c
        .expect_match("CAP ACK", |m| m.command == "CAP" && m.params[1] != "LS")
        .await;
    assert_eq!(ack.params[1], "ACK", "{ack:?}");
    c.send("PASS alys:pw-alys").await;
    c.send("CAP END").await;
    c.register(nick).await;
    assert!(c.seen.iter().any(|m| m.command == "900"), "not logged in");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markread_belongs_to_the_account_and_reaches_its_connections() {
    let srv = start(FAST).await;
    let mut s1 = with_caps(&srv, "alys", "draft/read-marker").await;
    s1.send("NS REGISTER pw-alys").await;
    s1.expect("900").await;
    join(&mut s1, "#test").await;
    s1.sync().await;
    // A second and third connection of the account (PASS logs in), one
    // without the cap; and someone else with it.
    let mut s2 = logged_in(&srv, "alys2", "draft/read-marker").await;
    let mut s3 = logged_in(&srv, "alys3", "server-time").await;
    let mut other = with_caps(&srv, "zed", "draft/read-marker").await;
    for c in [&mut s2, &mut s3, &mut other] {
        c.sync().await;
    }
    let ts = "2022-11-11T11:11:11.111Z";
    s1.send(&format!("MARKREAD #test timestamp={ts}")).await;
    assert_eq!(
        markread(&s1.sync().await),
        [format!("#test timestamp={ts}")]
    );
    let got = s2.expect("MARKREAD").await;
    assert_eq!(got.source.as_deref(), Some("irc.test"));
    assert_eq!(got.params, ["#test", &format!("timestamp={ts}")]);
    assert!(markread(&s3.sync().await).is_empty());
    assert!(markread(&other.sync().await).is_empty());
    // No broadcast when nothing moved.
    s1.send(&format!("MARKREAD #test timestamp={ts}")).await;
    s1.sync().await;
    assert!(markread(&s2.sync().await).is_empty());
    // The other connection reads the account's marker, and sees it on JOIN.
    s3.send("MARKREAD #test").await;
    assert_eq!(
        markread(&s3.sync().await),
        [format!("#test timestamp={ts}")]
    );
    s2.send("JOIN #test").await;
    assert_eq!(
        markread(&s2.sync().await),
        [format!("#test timestamp={ts}")]
    );
    // All of them gone, a new connection of the account still has it.
    for c in [s1, s2, s3] {
        let mut c = c;
        c.send("QUIT").await;
        c.expect_closed().await;
    }
    let mut again = logged_in(&srv, "alys4", "draft/read-marker").await;
    again.send("JOIN #test").await;
    assert_eq!(
        markread(&again.sync().await),
        [format!("#test timestamp={ts}")]
    );
    assert_eq!(srv.handle.state().marker_accounts(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markread_is_bounded_and_can_be_off() {
    let srv = start("[read_markers]\nmax_targets = 3\n").await;
    let mut a = srv.user("alice").await;
    for (i, t) in ["#a", "#b", "#c", "#d"].iter().enumerate() {
        a.send(&format!(
            "MARKREAD {t} timestamp=2020-01-0{}T00:00:00.000Z",
            i + 1
        ))
        .await;
    }
    a.sync().await;
    // The oldest marker made room for the newest.
    a.send("MARKREAD #a").await;
    assert_eq!(markread(&a.sync().await), ["#a *"]);
    a.send("MARKREAD #d").await;
    assert_eq!(
        markread(&a.sync().await),
        ["#d timestamp=2020-01-04T00:00:00.000Z"]
    );
    drop(srv);

    let srv = start("[read_markers]\nenabled = false\n").await;
    let mut a = srv.user("alice").await;
    a.send("MARKREAD #a").await;
    assert_eq!(commands(&a.sync().await), ["421"]);
    a.send("CAP REQ draft/read-marker").await;
    assert_eq!(a.expect("CAP").await.params[1], "NAK");
}

// ---------------------------------------------------------------------------
// Nicks from bridges
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_nick_is_cut_before_registration_and_refused_after() {
    let srv = start("").await;
    let long = "Averyveryverylongdisplayname[m]-and-more";
    assert!(long.len() > 30);
    let mut c = srv.client().await;
    c.send(&format!("NICK {long}")).await;
    c.send("USER u 0 * :u").await;
    let welcome = c.expect("001").await;
    assert_eq!(welcome.params[0], &long[..30]);
    c.expect_match("end of MOTD", |m| m.command == "376" || m.command == "422")
        .await;
    // The same cut nick is taken: 433 names it.
    let mut d = srv.client().await;
    d.send(&format!("NICK {long}")).await;
    let m = d.expect("433").await;
    assert_eq!(m.params[1], &long[..30]);
    // Cut, then checked: a nick that is invalid within NICKLEN still is.
    d.send(&format!("NICK 1{long}")).await;
    assert_eq!(d.expect("432").await.params[1], &format!("1{long}")[..30]);
    // Registered: a too-long NICK is refused whole.
    c.send(&format!("NICK {long}x")).await;
    let m = c.expect("432").await;
    assert_eq!(m.params[1], format!("{long}x"));
    c.send(&format!("WHOIS {}", &long[..30])).await;
    assert_eq!(c.expect("311").await.params[1], &long[..30]);
}
