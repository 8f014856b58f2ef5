//! Registration, CAP negotiation, PASS, nicks, queries, rehash, shutdown, TLS.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_without_cap() {
    let srv = start("").await;
    let mut c = srv.client().await;
    c.send("NICK alice").await;
    c.send("USER al 0 * :Alice Liddell").await;
    let welcome = c.expect("001").await;
    assert!(
        welcome.last().ends_with("alice!al@127.0.0.1"),
        "{welcome:?}"
    );
    for n in ["002", "003", "004"] {
        c.expect(n).await;
    }
    let isupport = c.expect("005").await;
    assert!(
        isupport
            .params
            .iter()
            .any(|p| p.starts_with("CASEMAPPING="))
    );
    let mut tokens: Vec<String> = isupport.params.clone();
    // The rest of the 005 lines, up to LUSERS.
    loop {
        let m = c.recv().await.expect("closed before 251");
        match m.command.as_str() {
            "005" => tokens.extend(m.params),
            "251" => break,
            _ => {}
        }
    }
    for needed in [
        "NICKLEN=30",
        "CHANTYPES=#",
        "PREFIX=(ov)@+",
        "CHANMODES=beI,k,El,imnstMR",
        "UTF8ONLY",
        "ACCOUNTEXTBAN=a",
        "EXTBAN=$,a",
    ] {
        assert!(
            tokens.iter().any(|t| t == needed),
            "005 lacks {needed}: {tokens:?}"
        );
    }
    c.expect("422").await;
    // WHOIS on oneself shows the same user@host as 001.
    c.send("WHOIS alice").await;
    let w = c.expect("311").await;
    assert_eq!(&w.params[1..4], ["alice", "al", "127.0.0.1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_negotiation_holds_registration_until_end() {
    let srv = start("").await;
    let mut c = srv.client().await;
    c.send("CAP LS 302").await;
    let ls = c.expect("CAP").await;
    assert_eq!(ls.params[1], "LS");
    assert!(ls.last().split(' ').any(|c| c == "multi-prefix"), "{ls:?}");
    // The list takes more than one line: `CAP * LS * :...` until the last.
    let mut more = ls;
    while more.params.get(2).map(String::as_str) == Some("*") {
        more = c.expect("CAP").await;
        assert_eq!(more.params[1], "LS");
    }
    c.send("NICK bob").await;
    c.send("USER bob 0 * :Bob").await;
    c.send("CAP REQ : multi-prefix").await; // leading space (bridges.md 9)
    let ack = c.expect("CAP").await;
    assert_eq!(ack.params[1..], ["ACK", "multi-prefix"]);
    c.send("CAP REQ :multi-prefix no-such-cap").await;
    let nak = c.expect("CAP").await;
    assert_eq!(nak.params[1..], ["NAK", "multi-prefix no-such-cap"]);
    // Nothing of registration before CAP END.
    let before = c.sync().await;
    assert!(before.iter().all(|m| m.command != "001"), "{before:?}");
    c.send("CAP LIST").await;
    let list = c.expect("CAP").await;
    assert_eq!(list.params[1..], ["LIST", "cap-notify multi-prefix"]);
    c.send("CAP END").await;
    c.expect("001").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_cap_ls_is_one_line() {
    let srv = start("").await;
    let mut c = srv.client().await;
    c.send("CAP LS").await;
    let ls = c.expect("CAP").await;
    assert_eq!(ls.params.len(), 3, "no continuation marker: {ls:?}");
    let rest = c.sync().await;
    assert!(rest.iter().all(|m| m.command != "CAP"), "{rest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_password_required_and_refused() {
    // Plain password.
    let srv = start_pass("\"letmein\"").await;
    let mut none = srv.client().await;
    none.send("NICK a1").await;
    none.send("USER a 0 * :A").await;
    none.expect("464").await;
    let rest = none.expect_closed().await;
    assert!(rest.iter().any(|m| m.command == "ERROR"), "{rest:?}");

    let mut wrong = srv.client().await;
    wrong.send("PASS nope").await;
    wrong.send("NICK a2").await;
    wrong.send("USER a 0 * :A").await;
    wrong.expect("464").await;
    wrong.expect_closed().await;

    let mut right = srv.client().await;
    right.send("PASS letmein").await;
    right.send("NICK a3").await;
    right.send("USER a 0 * :A").await;
    right.expect("001").await;

    // A bcrypt-hashed password (from `ircd mkpasswd`) works the same way.
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let srv = start_pass(&format!("{hash:?}")).await;
    let mut ok = srv.client().await;
    ok.send("PASS s3cret").await;
    ok.send("NICK b1").await;
    ok.send("USER b 0 * :B").await;
    ok.expect("001").await;
    let mut bad = srv.client().await;
    bad.send("PASS s3cre").await;
    bad.send("NICK b2").await;
    bad.send("USER b 0 * :B").await;
    bad.expect("464").await;
}

async fn start_pass(value: &str) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(dir.path(), "").replacen(
        "[server]\n",
        &format!("[server]\npassword = {value}\n"),
        1,
    );
    let config = ircd::Config::parse(&text, None).unwrap();
    start_with(config, dir).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nick_errors_and_changes() {
    let srv = start("").await;
    let mut a = srv.user("alice").await;
    let mut b = srv.client().await;
    b.send("NICK 1abc").await;
    let e = b.expect("432").await;
    assert_eq!(e.params[1], "1abc");
    b.send("NICK ALICE").await;
    let e = b.expect("433").await;
    assert_eq!(e.params[1], "ALICE", "433 names the exact nick asked for");
    b.send("NICK Name[m]").await;
    b.send("USER b 0 * :B").await;
    b.nick = "Name[m]".into();
    b.expect("001").await;
    // rfc1459 casemapping: name{m} is the same nick as Name[m].
    a.send("NICK name{m}").await;
    assert_eq!(a.expect("433").await.params[1], "name{m}");
    // A nick change is seen by people in a common channel.
    a.send("JOIN #c").await;
    a.expect("366").await;
    b.send("JOIN #c").await;
    b.expect("366").await;
    a.send("NICK alicia").await;
    let n = b.expect("NICK").await;
    assert_eq!((n.nick(), n.last()), ("alice", "alicia"));
    assert_eq!(a.expect("NICK").await.last(), "alicia");
    // NickServ is reserved for the built-in service.
    a.send("NICK NickServ").await;
    a.expect("432").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_and_unknown_commands() {
    let srv = start("").await;
    let mut c = srv.client().await;
    c.send("JOIN #x").await;
    c.expect("451").await;
    c.register("carol").await;
    c.send("FROBNICATE x").await;
    assert_eq!(c.expect("421").await.params[1], "FROBNICATE");
    c.send("USER x").await;
    c.expect("461").await;
    c.send("USER a b c d").await;
    c.expect("462").await;
    c.send("KILL carol :x").await;
    c.expect("481").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_queries() {
    let srv = start("").await;
    let mut c = srv.user("dave").await;
    let mut other = srv.user("erin").await;
    other.send("AWAY :gone fishing").await;
    other.expect("306").await;
    c.send("USERHOST erin dave nobody").await;
    let uh = c.expect("302").await;
    assert_eq!(uh.last(), "erin=-erin@127.0.0.1 dave=+dave@127.0.0.1");
    c.send("ISON erin nobody DAVE").await;
    assert_eq!(c.expect("303").await.last(), "erin dave");
    c.send("TIME").await;
    assert_eq!(c.expect("391").await.params[1], "irc.test");
    c.send("VERSION").await;
    c.expect("351").await;
    c.expect("005").await;
    c.send("ADMIN").await;
    c.expect("256").await;
    c.expect("259").await;
    c.send("INFO").await;
    c.expect("371").await;
    c.expect("374").await;
    c.send("LUSERS").await;
    let l = c.expect("251").await;
    assert!(l.last().contains("2 users"), "{l:?}");
    c.send("PING :abc def").await;
    let p = c.expect("PONG").await;
    assert_eq!(p.params, ["irc.test", "abc def"]);
    c.send("HELP").await;
    c.expect("704").await;
    c.expect("706").await;
    c.send("HELP NOSUCH").await;
    c.expect("524").await;
    c.send("PRIVMSG erin :hi").await;
    let away = c.expect("301").await;
    assert_eq!(away.last(), "gone fishing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_reaches_channel_and_client_gets_error() {
    let srv = start("").await;
    let mut a = srv.user("a").await;
    let mut b = srv.user("b").await;
    a.send("JOIN #q").await;
    a.expect("366").await;
    b.send("JOIN #q").await;
    b.expect("366").await;
    b.send("QUIT :see you").await;
    let lines = b.expect_closed().await;
    assert!(lines.iter().any(|m| m.command == "ERROR"), "{lines:?}");
    let q = a.expect("QUIT").await;
    assert_eq!((q.nick(), q.last()), ("b", "Quit: see you"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rehash_reloads_motd_and_refuses_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let motd = dir.path().join("motd.txt");
    std::fs::write(&motd, "first motd\n").unwrap();
    let path = dir.path().join("ircd.toml");
    let text =
        config_text(dir.path(), "").replacen("[server]\n", "[server]\nmotd = \"motd.txt\"\n", 1);
    std::fs::write(&path, &text).unwrap();
    let srv = start_with(ircd::Config::load(&path).unwrap(), dir).await;
    let mut c = srv.user("reader").await;
    let motd_text = |c: &TestClient| {
        c.seen
            .iter()
            .filter(|m| m.command == "372")
            .map(|m| m.last().to_string())
            .next_back()
    };
    assert_eq!(motd_text(&c).as_deref(), Some("- first motd"));

    std::fs::write(&motd, "second motd\n").unwrap();
    srv.handle.rehash().unwrap();
    c.send("MOTD").await;
    assert_eq!(c.expect("372").await.last(), "- second motd");

    // A config that fails validation is refused; the old one keeps serving.
    std::fs::write(&motd, "third motd\n").unwrap();
    std::fs::write(&path, format!("{text}\n[limits]\nnicklen = \"many\"\n")).unwrap();
    let err = srv.handle.rehash().unwrap_err();
    assert!(err.contains("limits.nicklen"), "{err}");
    c.send("MOTD").await;
    assert_eq!(c.expect("372").await.last(), "- second motd");
    // Nobody was disconnected along the way.
    c.send("PING :still-here").await;
    c.expect("PONG").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oper_rehash_command() {
    let hash = bcrypt::hash("operpass", 4).unwrap();
    let srv = start(&format!("[[oper]]\nname = \"root\"\npassword = {hash:?}\n")).await;
    let mut c = srv.user("op").await;
    c.send("REHASH").await;
    c.expect("481").await;
    c.send("OPER root wrong").await;
    c.expect("464").await;
    c.send("OPER nobody operpass").await;
    c.expect("464").await;
    c.send("OPER root operpass").await;
    c.expect("381").await;
    c.send("REHASH").await;
    c.expect("382").await;
    c.send("WHOIS op").await;
    c.expect("313").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_reaches_every_client() {
    let srv = start("").await;
    let mut a = srv.user("a").await;
    let mut b = srv.client().await; // not even registered
    b.send("NICK b").await;
    b.sync().await;
    srv.handle.shutdown();
    for c in [&mut a, &mut b] {
        let lines = c.expect_closed().await;
        assert!(
            lines
                .iter()
                .any(|m| m.command == "NOTICE" && m.last() == "Server shutting down"),
            "{lines:?}"
        );
        assert_eq!(
            lines.last().map(|m| (m.command.as_str(), m.last())),
            Some(("ERROR", "Server shutting down"))
        );
    }
    tokio::time::timeout(WAIT, srv.task)
        .await
        .expect("server stops")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_with_generated_certificate() {
    let srv = start("[[listen]]\naddress = \"127.0.0.1:0\"\n[[listen]]\naddress = \"127.0.0.1:0\"\ntls = true\n").await;
    assert!(srv.dir.path().join("data/tls-cert.pem").exists());
    let mut t = TestClient::connect_tls(srv.addrs[1]).await;
    t.register("secure").await;
    let mut p = srv.user("plain").await;
    p.send("WHOIS secure").await;
    p.expect("671").await;
    p.send("PRIVMSG secure :over tls").await;
    assert_eq!(t.expect("PRIVMSG").await.last(), "over tls");
    p.send("WHOIS plain").await;
    let lines = p.sync().await;
    assert!(
        lines.iter().all(|m| m.command != "671"),
        "plaintext client is not secure"
    );
}

/// Regressions found by irctest (connection_registration.py).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_with_empty_realname_or_unusable_username() {
    let srv = start("").await;
    let mut c = srv.client().await;
    c.send("NICK emptyreal").await;
    c.send("USER u * * :").await;
    c.expect("461").await;
    c.send("USER \u{1F60A}\u{1F60A}\u{1F60A} * * :Real").await;
    let w = c.expect("001").await;
    assert!(w.last().ends_with("emptyreal!~u@127.0.0.1"), "{w:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lusers_counts_invisible_users_and_ipv6_listener() {
    let srv =
        start("[[listen]]\naddress = \"127.0.0.1:0\"\n[[listen]]\naddress = \"[::1]:0\"\n").await;
    let mut a = srv.user("a").await;
    let mut v6 = TestClient::connect(srv.addrs[1]).await;
    v6.register("six").await;
    v6.send("WHOIS six").await;
    assert_eq!(
        v6.expect("311").await.params[3],
        "0::1",
        "an IPv6 host never starts with ':'"
    );
    v6.send("MODE six +i").await;
    v6.expect("MODE").await;
    a.send("LUSERS").await;
    assert_eq!(
        a.expect("251").await.last(),
        "There are 1 users and 1 invisible on 1 servers"
    );
    v6.send("QUIT").await;
    v6.expect_closed().await;
    // The count follows the quit, without scanning every client.
    let mut n = 0;
    while n < 100 {
        a.send("LUSERS").await;
        let l = a.expect("251").await;
        if l.last() == "There are 1 users and 0 invisible on 1 servers" {
            break;
        }
        n += 1;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(n < 100, "invisible count never went back to 0");
}

/// Review: OPER cannot be brute-forced on one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_oper_failures_disconnect() {
    let hash = bcrypt::hash("right", 4).unwrap();
    let srv = start(&format!("[[oper]]\nname = \"root\"\npassword = {hash:?}\n")).await;
    let mut c = srv.user("guesser").await;
    for guess in ["a", "b"] {
        c.send(&format!("OPER root {guess}")).await;
        c.expect("464").await;
    }
    c.send("OPER nobody c").await;
    c.expect("464").await;
    let rest = c.expect_closed().await;
    let err = rest.iter().find(|m| m.command == "ERROR").expect("ERROR");
    assert!(
        err.last().contains("Too many failed OPER attempts"),
        "{err:?}"
    );
}

/// Each OPER costs a bcrypt check: an address gets 3 failed attempts per
/// 10 minutes whatever connections it opens (a soak found 4 clients
/// reconnecting and guessing stalling everyone's round trips); past them
/// OPER is refused at once, even with the right password, until the window
/// ends.
#[tokio::test(start_paused = true)]
async fn failed_oper_attempts_are_counted_per_address() {
    let hash = bcrypt::hash("right", 4).unwrap();
    // Pings far apart: the clients sit through the 10-minute window.
    let srv = start(&format!(
        "[limits]\nping_interval = \"20m\"\nping_timeout = \"20m\"\n[[oper]]\nname = \"root\"\npassword = {hash:?}\n"
    ))
    .await;
    let mut a = srv.user("guess1").await;
    a.send("OPER root a").await;
    a.expect("464").await;
    let mut b = srv.user("guess2").await;
    for guess in ["b", "c"] {
        b.send(&format!("OPER nobody {guess}")).await;
        b.expect("464").await;
    }
    // A third connection from the address: refused without a check.
    let mut c = srv.user("real").await;
    c.send("OPER root right").await;
    let m = c.expect("491").await;
    assert_eq!(
        m.last(),
        "Too many failed OPER attempts from your address; try again later"
    );
    tokio::time::sleep(std::time::Duration::from_secs(601)).await;
    c.send("OPER root right").await;
    c.expect("381").await;
}
