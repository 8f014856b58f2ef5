//! IRCv3 capabilities, alone and in the combinations clients really use.

use crate::common::*;

/// Every capability of a (302, maybe multi-line) CAP LS reply.
pub async fn ls_all(c: &mut TestClient) -> String {
    let mut all = Vec::new();
    loop {
        let m = c.expect("CAP").await;
        all.push(m.last().to_string());
        if m.params.get(2).map(String::as_str) != Some("*") {
            return all.join(" ");
        }
    }
}

async fn join(c: &mut TestClient, chan: &str) {
    c.send(&format!("JOIN {chan}")).await;
    c.expect("366").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_tags_server_time_and_msgid() {
    let srv = start("").await;
    let mut a = with_caps(&srv, "a", "message-tags server-time echo-message").await;
    let mut tagged = with_caps(&srv, "tagged", "message-tags server-time").await;
    let mut timed = with_caps(&srv, "timed", "server-time").await;
    let mut plain = srv.user("plain").await;
    for c in [&mut a, &mut tagged, &mut timed, &mut plain] {
        join(c, "#t").await;
    }
    // server-time stamps numerics too.
    assert!(
        tagged
            .seen
            .iter()
            .any(|m| m.command == "001" && tag(m, "time").is_some())
    );
    a.send("@+draft/react=\\:) PRIVMSG #t :hello").await;
    let echo = a.expect("PRIVMSG").await;
    let got = tagged.expect("PRIVMSG").await;
    let msgid = tag(&got, "msgid").expect("msgid").to_string();
    assert_eq!(
        tag(&echo, "msgid"),
        Some(msgid.as_str()),
        "the echo carries the same msgid"
    );
    assert_eq!(
        tag(&got, "+draft/react"),
        Some("\\:)"),
        "client tags relayed as sent"
    );
    let time = tag(&got, "time").unwrap();
    assert!(
        time.len() == 24 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{time}"
    );
    let t = timed.expect("PRIVMSG").await;
    assert!(
        tag(&t, "time").is_some()
            && tag(&t, "msgid").is_none()
            && tag(&t, "+draft/react").is_none(),
        "{t:?}"
    );
    let p = plain.expect("PRIVMSG").await;
    assert_eq!(p.tags, None);
    assert_eq!(p.last(), "hello");
    // account-tag and account-notify with no accounts: no tag, no ACCOUNT line.
    let mut acct = with_caps(&srv, "acct", "account-tag account-notify message-tags").await;
    join(&mut acct, "#t").await;
    a.send("PRIVMSG #t :who am I").await;
    let m = acct.expect("PRIVMSG").await;
    assert!(
        tag(&m, "account").is_none() && tag(&m, "msgid").is_some(),
        "{m:?}"
    );
    let rest = acct.sync().await;
    assert!(
        acct.seen
            .iter()
            .chain(&rest)
            .all(|m| m.command != "ACCOUNT")
    );
    for c in [&mut tagged, &mut timed, &mut plain] {
        c.expect("JOIN").await;
        c.expect_match("PRIVMSG", |m| {
            m.command == "PRIVMSG" && m.last() == "who am I"
        })
        .await;
    }
    // TAGMSG reaches only clients that can see tags.
    a.send("@+typing=active TAGMSG #t").await;
    let tm = tagged.expect("TAGMSG").await;
    assert_eq!(tag(&tm, "+typing"), Some("active"));
    assert!(tag(&tm, "msgid").is_some());
    a.send("PRIVMSG #t :after").await;
    for c in [&mut timed, &mut plain] {
        let next = c
            .expect_match("PRIVMSG or TAGMSG", |m| {
                m.command == "PRIVMSG" || m.command == "TAGMSG"
            })
            .await;
        assert_eq!((next.command.as_str(), next.last()), ("PRIVMSG", "after"));
    }
    // A DM gets its own msgid.
    a.send("PRIVMSG tagged :dm").await;
    let dm = tagged.expect("PRIVMSG").await;
    assert!(tag(&dm, "msgid").is_some_and(|id| id != msgid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labeled_response_with_batch_and_echo() {
    let srv = start("").await;
    let mut a = with_caps(
        &srv,
        "a",
        "labeled-response batch echo-message message-tags",
    )
    .await;
    let mut b = srv.user("b").await;
    join(&mut a, "#l").await;
    join(&mut b, "#l").await;
    // One reply: labeled directly (the echo of a message).
    a.send("@label=one PRIVMSG #l :labeled").await;
    let echo = a.expect("PRIVMSG").await;
    assert_eq!(tag(&echo, "label"), Some("one"));
    assert_eq!(
        b.expect("PRIVMSG").await.tags,
        None,
        "the label goes only to the sender"
    );
    // No reply: an ACK.
    a.send("@label=two PONG :x").await;
    let ack = a.expect("ACK").await;
    assert_eq!(tag(&ack, "label"), Some("two"));
    // Several replies: one labeled batch.
    a.send("@label=three WHOIS b").await;
    let start = a.expect("BATCH").await;
    assert_eq!(tag(&start, "label"), Some("three"));
    let id = start.params[0]
        .strip_prefix('+')
        .expect("batch start")
        .to_string();
    assert_eq!(start.params[1], "labeled-response");
    let mut inside = Vec::new();
    loop {
        let m = a.recv().await.unwrap();
        if m.command == "BATCH" {
            assert_eq!(m.params[0], format!("-{id}"));
            break;
        }
        assert_eq!(tag(&m, "batch"), Some(id.as_str()), "{m:?}");
        inside.push(m.command);
    }
    assert_eq!(inside.first().map(String::as_str), Some("311"));
    assert_eq!(inside.last().map(String::as_str), Some("318"));
    // Without a label nothing is wrapped.
    a.send("PING :plain").await;
    assert_eq!(a.expect("PONG").await.tags, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_online_offline_and_limit() {
    let srv = start("[limits]\nmonitor = 3\n").await;
    let mut w = srv.user("watcher").await;
    w.send("MONITOR + friend,FOE").await;
    let off = w.expect("731").await;
    assert_eq!(off.last(), "friend,FOE");
    let mut f = srv.user("friend").await;
    let on = w.expect("730").await;
    assert_eq!(on.last(), "friend!friend@127.0.0.1");
    f.send("NICK foe").await;
    assert_eq!(w.expect("731").await.last(), "friend");
    assert_eq!(w.expect("730").await.last(), "foe!friend@127.0.0.1");
    w.send("MONITOR L").await;
    assert_eq!(w.expect("732").await.last(), "friend,FOE");
    w.expect("733").await;
    w.send("MONITOR + a,b,c").await;
    let full = w.expect("734").await;
    assert_eq!(full.params[1..3], ["3", "b,c"]);
    w.send("MONITOR S").await;
    assert_eq!(w.expect("730").await.last(), "foe!friend@127.0.0.1");
    assert_eq!(w.expect("731").await.last(), "friend,a");
    f.send("QUIT").await;
    assert_eq!(w.expect("731").await.last(), "foe");
    w.send("MONITOR - foe").await;
    w.send("MONITOR C").await;
    w.send("MONITOR L").await;
    let rest = w.sync().await;
    assert!(rest.iter().all(|m| m.command != "732"), "{rest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setname_bot_mode_and_no_implicit_names() {
    let srv = start("").await;
    let mut a = with_caps(&srv, "a", "setname message-tags").await;
    let mut b = with_caps(&srv, "b", "setname draft/no-implicit-names").await;
    join(&mut a, "#s").await;
    b.send("JOIN #s").await;
    b.expect("JOIN").await;
    let after = b.sync().await;
    assert!(
        after
            .iter()
            .all(|m| m.command != "353" && m.command != "366"),
        "{after:?}"
    );
    b.send("SETNAME :A New Name").await;
    assert_eq!(b.expect("SETNAME").await.last(), "A New Name");
    let s = a.expect("SETNAME").await;
    assert_eq!((s.nick(), s.last()), ("b", "A New Name"));
    b.send(&format!("SETNAME :{}", "x".repeat(200))).await;
    let f = b.expect("FAIL").await;
    assert_eq!(f.params[..2], ["SETNAME", "INVALID_REALNAME"]);
    a.send("WHOIS b").await;
    assert_eq!(a.expect("311").await.last(), "A New Name");
    // Bot mode: 335 in WHOIS, B in WHO, and the bot tag on its messages.
    b.send("MODE b +B").await;
    b.expect("MODE").await;
    b.send("PRIVMSG #s :beep").await;
    let m = a.expect("PRIVMSG").await;
    assert_eq!(tag(&m, "bot"), Some(""));
    a.send("WHOIS b").await;
    a.expect("335").await;
    a.send("WHO #s").await;
    let who = a
        .expect_match("WHO row of b", |m| m.command == "352" && m.params[5] == "b")
        .await;
    assert!(who.params[6].contains('B'), "{who:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_only_with_a_real_certificate_and_cap_notify_on_rehash() {
    // No certificate files configured (a generated self-signed one): no sts.
    let port = crate::binary::free_port();
    let srv = start(&format!(
        "[[listen]]\naddress = \"127.0.0.1:0\"\n[[listen]]\naddress = \"127.0.0.1:{port}\"\ntls = true\n"
    ))
    .await;
    let mut c = srv.client().await;
    c.send("CAP LS 302").await;
    let ls = ls_all(&mut c).await;
    assert!(!ls.contains("sts"), "{ls:?}");
    c.send("CAP REQ :cap-notify").await;
    c.expect("CAP").await;
    c.send("CAP END").await;
    c.register("n").await;
    // Configure the certificate as files: sts appears, announced with CAP NEW.
    let data = srv.dir.path().join("data");
    let path = srv.dir.path().join("ircd.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let tls = format!(
        "[tls]\ncert = {:?}\nkey = {:?}\n",
        data.join("tls-cert.pem"),
        data.join("tls-key.pem")
    );
    std::fs::write(&path, format!("{text}\n{tls}")).unwrap();
    srv.handle.rehash().unwrap();
    let new = c.expect("CAP").await;
    assert_eq!(new.params[1], "NEW");
    assert_eq!(new.last(), format!("sts=port={port}"));
    let mut d = srv.client().await;
    d.send("CAP LS 302").await;
    let ls = ls_all(&mut d).await;
    assert!(
        ls.split(' ').any(|c| c == format!("sts=port={port}")),
        "{ls:?}"
    );
    // Over TLS the policy has a duration instead.
    let mut t = TestClient::connect_tls(srv.addrs[1]).await;
    t.send("CAP LS 302").await;
    let ls = ls_all(&mut t).await;
    assert!(
        ls.split(' ').any(|c| c.starts_with("sts=duration=")),
        "{ls:?}"
    );
    // sts cannot be requested.
    d.send("CAP REQ sts").await;
    assert_eq!(d.expect("CAP").await.params[1], "NAK");
}

/// Regressions found by irctest (labeled_responses testUnknownCommand,
/// monitor testNickChange) and extended-monitor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labeled_unknown_command_case_only_nick_change_and_extended_monitor() {
    let srv = start("").await;
    let mut a = with_caps(&srv, "a", "labeled-response batch").await;
    a.send("@label=x1 NONEXISTENT_COMMAND").await;
    let m = a.expect("421").await;
    assert_eq!(
        (tag(&m, "label"), m.params[1].as_str()),
        (Some("x1"), "NONEXISTENT_COMMAND")
    );
    a.send("@label=x2 :only-a-source").await;
    let m = a.expect("400").await;
    assert_eq!(tag(&m, "label"), Some("x2"));

    let mut w = with_caps(&srv, "w", "extended-monitor away-notify setname").await;
    let mut plain_w = with_caps(&srv, "pw", "away-notify").await;
    w.send("MONITOR + target").await;
    plain_w.send("MONITOR + target").await;
    w.expect("731").await;
    plain_w.expect("731").await;
    let mut t = srv.user("target").await;
    w.expect("730").await;
    plain_w.expect("730").await;
    t.send("NICK TARGET").await;
    t.expect("NICK").await;
    t.send("AWAY :afk").await;
    let away = w.expect("AWAY").await;
    assert_eq!(
        (away.nick(), away.last()),
        ("TARGET", "afk"),
        "no 731/730 for a change of case"
    );
    t.send("SETNAME :New Real").await;
    assert_eq!(w.expect("SETNAME").await.last(), "New Real");
    // Without extended-monitor, monitoring alone does not bring AWAY.
    let rest = plain_w.sync().await;
    assert!(
        rest.iter()
            .all(|m| m.command != "AWAY" && m.command != "731"),
        "{rest:?}"
    );
}

/// Regressions from review: long lists are split by bytes, never cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_monitor_lists_and_bad_masks() {
    let srv = start("").await;
    let mut w = srv.user("w").await;
    let nicks: Vec<String> = (0..40)
        .map(|i| format!("n{i:02}{}", "x".repeat(27)))
        .collect();
    for chunk in nicks.chunks(10) {
        w.send(&format!("MONITOR + {}", chunk.join(","))).await;
    }
    w.send("MONITOR L").await;
    let mut listed = Vec::new();
    loop {
        let m = w.recv().await.unwrap();
        match m.command.as_str() {
            "732" => listed.extend(m.last().split(',').map(str::to_string)),
            "733" => break,
            _ => {}
        }
    }
    assert_eq!(listed, nicks, "every nick whole, in order");
    w.send("JOIN #m").await;
    w.expect("366").await;
    w.send("MODE #m +b :a b").await;
    let e = w.expect("696").await;
    assert_eq!(e.params[2], "b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clienttagdeny_is_advertised_and_enforced() {
    let srv = start("[limits]\nclient_tag_deny = [\"*\", \"-draft/reply\"]\n").await;
    let mut a = with_caps(&srv, "a", "message-tags").await;
    let mut b = with_caps(&srv, "b", "message-tags").await;
    assert!(
        b.seen
            .iter()
            .any(|m| m.command == "005"
                && m.params.iter().any(|p| p == "CLIENTTAGDENY=*,-draft/reply")),
        "005 advertises CLIENTTAGDENY"
    );
    a.send("@+draft/reply=abc;+draft/react=x;+typing=active PRIVMSG b :hi")
        .await;
    let m = b.expect("PRIVMSG").await;
    assert_eq!(tag(&m, "+draft/reply"), Some("abc"));
    assert_eq!(tag(&m, "+draft/react"), None);
    assert_eq!(tag(&m, "+typing"), None);
    assert!(tag(&m, "msgid").is_some());
    // With nothing denied (the default), no CLIENTTAGDENY and every tag passes.
    let srv = start("").await;
    let c = srv.user("c").await;
    assert!(
        c.seen
            .iter()
            .all(|m| !m.params.iter().any(|p| p.starts_with("CLIENTTAGDENY")))
    );
}
