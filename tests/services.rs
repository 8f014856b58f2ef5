//! Built-in NickServ, ChanServ and SASL over real connections: accounts,
//! logins (NickServ, SASL PLAIN, PASS account:password), throttling, channel
//! registration, CLOSE, and persistence across a restart of the binary.

use base64::Engine;

use crate::common::*;

const FAST: &str = "[services]\nbcrypt_cost = 4\n";

async fn ns(c: &mut TestClient, line: &str) -> Msg {
    c.send(&format!("PRIVMSG NickServ :{line}")).await;
    c.expect_match("NickServ NOTICE", |m| {
        m.command == "NOTICE" && m.nick() == "NickServ"
    })
    .await
}

async fn registered(srv: &TestServer, nick: &str, password: &str) -> TestClient {
    let mut c = srv.user(nick).await;
    c.send(&format!("NS REGISTER {password}")).await;
    let m = c.expect("900").await;
    assert_eq!(m.params[2], nick);
    c.sync().await;
    c
}

fn plain(account: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{account}\0{password}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nickserv_register_identify_logout_info() {
    let srv = start(FAST).await;
    let mut peer = srv.client().await;
    peer.send("CAP REQ :account-notify").await;
    peer.expect("CAP").await;
    peer.send("CAP END").await;
    peer.register("peer").await;
    let mut a = srv.user("alice").await;
    for c in [&mut peer, &mut a] {
        c.send("JOIN #r").await;
        c.expect("366").await;
    }
    let help = ns(&mut a, "HELP").await;
    assert!(help.last().contains("commands"), "{help:?}");
    let listed = a.sync().await;
    assert!(
        listed.iter().any(|m| m.last().contains("IDENTIFY")),
        "{listed:?}"
    );
    let long = "x".repeat(73);
    let refused = ns(&mut a, &format!("REGISTER {long}")).await;
    assert!(refused.last().contains("longer than 72"), "{refused:?}");
    a.send("NS REGISTER s3cret alice@example.org").await;
    let logged = a.expect("900").await;
    assert_eq!(logged.params[2], "alice");
    let acct = peer.expect("ACCOUNT").await;
    assert_eq!((acct.nick(), acct.params[0].as_str()), ("alice", "alice"));
    a.send("WHOIS alice").await;
    let w = a.expect("330").await;
    assert_eq!(w.params[2], "alice");
    // Another connection cannot register the same account again.
    let mut b = srv.user("bob").await;
    b.send("NICK Alice_").await;
    b.sync().await;
    ns(&mut a, "LOGOUT").await;
    assert_eq!(peer.expect("ACCOUNT").await.params[0], "*");
    let bad = ns(&mut a, "IDENTIFY wrong").await;
    assert!(bad.last().contains("Invalid password"), "{bad:?}");
    a.send("NS IDENTIFY alice s3cret").await;
    a.expect("900").await;
    let info = ns(&mut b, "INFO alice").await;
    assert!(info.last().contains("Information on alice"), "{info:?}");
    let rest = b.sync().await;
    assert!(
        rest.iter().all(|m| !m.last().contains("example.org")),
        "the email shows only to its owner: {rest:?}"
    );
    let unknown = ns(&mut b, "INFO nobody").await;
    assert!(unknown.last().contains("not registered"));
    let needs = ns(&mut b, "LOGOUT").await;
    assert!(needs.last().contains("logged in"), "{needs:?}");
    ns(&mut a, "SET PASSWORD n3w").await;
    ns(&mut a, "LOGOUT").await;
    a.send("NS IDENTIFY n3w").await;
    a.expect("900").await;
    // DROP logs out every connection of the account.
    let mut second = srv.user("second").await;
    second.send("NS IDENTIFY alice n3w").await;
    second.expect("900").await;
    a.sync().await;
    let m = ns(&mut a, "DROP n3w").await;
    assert!(m.last().contains("dropped"), "{m:?}");
    a.send("WHOIS second").await;
    let rest = a.sync().await;
    assert!(
        rest.iter().all(|m| m.command != "330"),
        "still logged in: {rest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plain_and_pass_log_in_before_001() {
    let srv = start(FAST).await;
    let mut owner = registered(&srv, "carol", "pw-carol").await;
    owner.send("QUIT").await;
    owner.expect_closed().await;

    let mut c = srv.client().await;
    c.send("CAP LS 302").await;
    let ls = c.expect("CAP").await;
    assert!(
        ls.last()
            .split(' ')
            .any(|t| t == "sasl=PLAIN,EXTERNAL,SCRAM-SHA-256"),
        "{ls:?}"
    );
    c.send("CAP REQ :sasl").await;
    c.expect("CAP").await;
    c.send("NICK carol").await;
    c.send("USER c 0 * :c").await;
    // Unknown mechanism: 908 and 904; abort: 906; then a wrong password: 904.
    c.send("AUTHENTICATE EXTERNAL-NOPE").await;
    c.expect("908").await;
    c.expect("904").await;
    c.send("AUTHENTICATE PLAIN").await;
    c.expect("AUTHENTICATE").await;
    c.send("AUTHENTICATE *").await;
    c.expect("906").await;
    c.send("AUTHENTICATE PLAIN").await;
    c.expect("AUTHENTICATE").await;
    c.send(&format!("AUTHENTICATE {}", plain("carol", "wrong")))
        .await;
    c.expect("904").await;
    c.send("AUTHENTICATE PLAIN").await;
    c.expect("AUTHENTICATE").await;
    c.send(&format!("AUTHENTICATE {}", plain("carol", "pw-carol")))
        .await;
    let m = c.expect("900").await;
    assert_eq!(m.params[2], "carol");
    assert_eq!(m.params[1], "carol!c@127.0.0.1", "USER shows before 001");
    c.expect("903").await;
    c.send("AUTHENTICATE PLAIN").await;
    c.expect("907").await;
    c.send("CAP END").await;
    c.nick = "carol".into();
    c.expect("001").await;
    c.send("QUIT").await;
    c.expect_closed().await;

    // PASS account:password logs in too, before 001.
    let mut p = srv.client().await;
    p.send("PASS carol:pw-carol").await;
    p.send("NICK carol2").await;
    p.send("USER c 0 * :c").await;
    let lines = {
        let mut v = Vec::new();
        loop {
            let m = p.recv().await.expect("open");
            let done = m.command == "001";
            v.push(m);
            if done {
                break v;
            }
        }
    };
    assert!(lines.iter().any(|m| m.command == "900"), "{lines:?}");
    let mut bad = srv.client().await;
    bad.send("PASS carol:nope").await;
    bad.send("NICK carol3").await;
    bad.send("USER c 0 * :c").await;
    bad.expect("464").await;
    bad.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_are_throttled_without_checking() {
    let srv =
        start("[services]\nbcrypt_cost = 4\nmax_failures = 5\nfailure_window = \"2s\"\n").await;
    let mut owner = registered(&srv, "dave", "right").await;
    owner.send("QUIT").await;
    owner.expect_closed().await;
    let mut bystander = srv.user("bystander").await;
    let mut c = srv.user("mallory").await;
    for i in 0..20 {
        let m = ns(&mut c, "IDENTIFY dave wrong").await;
        if i < 5 {
            assert!(m.last().contains("Invalid password"), "{i}: {m:?}");
        } else {
            assert!(m.last().contains("Too many"), "{i}: {m:?}");
        }
        bystander.sync().await;
    }
    // Throttled means not even the right password is checked.
    let m = ns(&mut c, "IDENTIFY dave right").await;
    assert!(m.last().contains("Too many"), "{m:?}");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    c.send("NS IDENTIFY dave right").await;
    c.expect("900").await;

    // Per address too, for addresses not exempt from per-address limits
    // (loopback is exempt by default, for bridges).
    let srv =
        start("[services]\nbcrypt_cost = 4\nmax_failures = 5\n[connections]\nexempt = []\n").await;
    let mut c = srv.user("guesser").await;
    for i in 0..6 {
        let m = ns(&mut c, &format!("IDENTIFY someone{i} wrong")).await;
        let throttled = m.last().contains("Too many");
        assert_eq!(throttled, i == 5, "{i}: {m:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chanserv_register_info_op_and_close() {
    let srv = start("[services]\nbcrypt_cost = 4\n[channels]\nmin_idle_timeout = \"1s\"\n").await;
    let mut founder = registered(&srv, "erin", "pw").await;
    let mut friend = srv.user("frank").await;
    let cs = |text: &'static str| format!("PRIVMSG ChanServ :{text}");
    founder.send("JOIN #otr").await;
    founder.expect("366").await;
    friend.send("JOIN #otr").await;
    friend.expect("366").await;
    // Only an operator may register; ephemeral channels never.
    friend.send("CS REGISTER #otr").await;
    let m = friend.expect("NOTICE").await;
    assert!(m.last().contains("logged in"), "{m:?}");
    founder.send("MODE #otr +E 1h").await;
    founder.expect("MODE").await;
    founder.send(&cs("REGISTER #otr")).await;
    let m = founder.expect("NOTICE").await;
    assert!(m.last().contains("ephemeral"), "{m:?}");
    founder.send("MODE #otr -E").await;
    founder.expect("MODE").await;
    founder.send(&cs("REGISTER #otr")).await;
    let m = founder.expect("NOTICE").await;
    assert!(m.last().contains("registered to you"), "{m:?}");
    founder.send("CS INFO #otr").await;
    founder
        .expect_match("founder line", |m| m.last() == "Founder: erin")
        .await;
    founder.send("CS OP #otr frank").await;
    let m = friend
        .expect_match("ChanServ MODE", |m| {
            m.command == "MODE" && m.nick() == "ChanServ"
        })
        .await;
    assert_eq!(
        (m.nick(), m.params[1].as_str(), m.params[2].as_str()),
        ("ChanServ", "+o", "frank")
    );
    // CLOSE: everyone is kicked with the reason, the room is gone.
    founder.send("CS CLOSE #otr party is over").await;
    let k = friend.expect("KICK").await;
    assert_eq!(k.params[1], "frank");
    assert!(k.last().contains("party is over"), "{k:?}");
    founder.expect("KICK").await;
    friend.send("LIST #otr").await;
    let rows = friend.sync().await;
    assert!(rows.iter().all(|m| m.command != "322"), "{rows:?}");
    // The registration stays: the founder gets ops back on join.
    friend.send("JOIN #otr").await;
    friend.expect("366").await;
    founder.send("JOIN #otr").await;
    let m = founder
        .expect_match("ChanServ MODE", |m| {
            m.command == "MODE" && m.nick() == "ChanServ"
        })
        .await;
    assert_eq!((m.params[1].as_str(), m.params[2].as_str()), ("+o", "erin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_and_registrations_survive_a_restart() {
    let mut p = crate::binary::spawn(FAST, &[]);
    let addr = p.addr();
    let mut a = TestClient::connect(addr).await;
    a.register("gina").await;
    a.send("NS REGISTER pw-gina").await;
    a.expect("900").await;
    a.send("JOIN #kept").await;
    a.expect("366").await;
    a.send("CS REGISTER #kept").await;
    a.expect_match("registered", |m| m.last().contains("registered to you"))
        .await;
    a.send("MODE #kept +kb sekrit bad!*@*").await;
    a.expect("MODE").await;
    a.send("TOPIC #kept :a kept topic").await;
    a.expect("TOPIC").await;
    // Empty, it stays.
    a.send("PART #kept").await;
    a.expect("PART").await;
    a.send("LIST #kept").await;
    let row = a.expect("322").await;
    assert_eq!((row.params[2].as_str(), row.last()), ("0", "a kept topic"));
    a.send("MODE #kept +E 1h").await;
    a.expect("442").await;
    // A grouped nick, a certificate, ENFORCE, an access entry and an akick.
    a.send("NICK gina_alt").await;
    a.expect("NICK").await;
    a.send("NS GROUP").await;
    a.expect_match("grouped", |m| m.last().contains("is now a nick of gina"))
        .await;
    a.send(&format!("NS CERT ADD {}", "5a".repeat(32))).await;
    a.expect_match("cert", |m| m.last().contains("added")).await;
    a.send("NS SET ENFORCE ON").await;
    a.expect_match("enforce", |m| m.last().contains("ENFORCE is on"))
        .await;
    let mut h = TestClient::connect(addr).await;
    h.register("hank").await;
    h.send("NS REGISTER pw-hank").await;
    h.expect("900").await;
    a.send("CS FLAGS #kept hank +V").await;
    a.expect_match("flags", |m| m.last().contains("Flags of"))
        .await;
    a.send("CS AKICK #kept ADD spam*!*@* no spam").await;
    a.expect_match("akick", |m| m.last().contains("AKICK list of #kept"))
        .await;
    p.signal("-TERM");
    a.expect_closed().await;
    assert!(p.wait().success());
    let out = std::process::Command::new(crate::binary::BIN)
        .args(["store", "check", "--config"])
        .arg(p.dir.path().join("ircd.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        said.contains("2 account(s), 3 nick(s), 1 certificate(s), 1 channel"),
        "{out:?}"
    );
    // Same folder, new process.
    let q = crate::binary::respawn(p);
    let mut b = TestClient::connect(q.addr()).await;
    b.register("gina").await;
    b.send("NS IDENTIFY pw-gina").await;
    b.expect("900").await;
    b.sync().await;
    b.send("CS INFO #kept").await;
    b.expect_match("founder", |m| m.last() == "Founder: gina")
        .await;
    b.send("NS INFO gina_alt").await;
    b.expect_match("grouped nick", |m| m.last() == "Information on gina:")
        .await;
    b.expect_match("enforce", |m| {
        m.last().contains("Certificates: 1; ENFORCE: on")
    })
    .await;
    b.send("NS CERT LIST").await;
    b.expect_match("cert", |m| m.last() == "5a".repeat(32))
        .await;
    b.send("CS FLAGS #kept").await;
    b.expect_match("access", |m| m.last().contains("hank +V"))
        .await;
    b.send("CS AKICK #kept LIST").await;
    b.expect_match("akick", |m| m.last().contains("spam*!*@*"))
        .await;
    // The channel is back as it was kept: topic, key, ban; the founder gets ops.
    b.send("TOPIC #kept").await;
    assert_eq!(b.expect("332").await.last(), "a kept topic");
    b.send("MODE #kept b").await;
    assert_eq!(b.expect("367").await.params[2], "bad!*@*");
    b.send("JOIN #kept").await;
    b.expect("475").await;
    b.send("JOIN #kept sekrit").await;
    let m = b
        .expect_match("ChanServ MODE", |m| {
            m.command == "MODE" && m.nick() == "ChanServ"
        })
        .await;
    assert_eq!((m.params[1].as_str(), m.params[2].as_str()), ("+o", "gina"));
    b.send("MODE #kept +E 1h").await;
    let e = b.expect("696").await;
    assert!(e.last().contains("registered"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chanserv_flags_auto_op_and_akick() {
    let srv = start(FAST).await;
    let mut erin = registered(&srv, "erin", "pw").await;
    let mut frank = registered(&srv, "frank", "pw").await;
    erin.send("JOIN #room").await;
    erin.expect("366").await;
    erin.send("CS REGISTER #room").await;
    erin.expect_match("registered", |m| m.last().contains("registered to you"))
        .await;
    erin.send("CS FLAGS #room frank +O").await;
    erin.expect_match("flags", |m| m.last().contains("Flags of frank are now +O"))
        .await;
    erin.send("CS FLAGS #room").await;
    erin.expect_match("access list", |m| m.last().contains("frank +O"))
        .await;
    frank.send("JOIN #room").await;
    let m = frank
        .expect_match("auto-op", |m| m.command == "MODE" && m.nick() == "ChanServ")
        .await;
    assert_eq!(
        (m.params[1].as_str(), m.params[2].as_str()),
        ("+o", "frank")
    );
    // frank has no 'o' flag: he may not use OP.
    frank.send("CS OP #room frank").await;
    frank
        .expect_match("refused", |m| m.last().contains("do not have access"))
        .await;
    erin.send("CS AKICK #room ADD troll*!*@* trolling is not welcome")
        .await;
    erin.expect_match("akick", |m| m.last().contains("AKICK list of #room"))
        .await;
    let mut troll = srv.user("trollface").await;
    troll.send("JOIN #room").await;
    let k = troll
        .expect_match("kicked", |m| {
            m.command == "KICK" && m.params[1] == "trollface"
        })
        .await;
    assert_eq!(k.nick(), "ChanServ");
    assert_eq!(k.last(), "trolling is not welcome");
    erin.send("CS AKICK #room LIST").await;
    erin.expect_match("listed", |m| m.last().contains("troll*!*@*"))
        .await;
    erin.send("CS AKICK #room DEL troll*!*@*").await;
    erin.expect_match("removed", |m| m.last().contains("Removed"))
        .await;
    troll.send("JOIN #room").await;
    troll.expect("366").await;
    let rest = troll.sync().await;
    assert!(rest.iter().all(|m| m.command != "KICK"), "{rest:?}");
    // Only the founder changes access.
    frank.send("CS FLAGS #room trollface +O").await;
    frank
        .expect_match("founder only", |m| m.last().contains("not the founder"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nickserv_group_and_ungroup() {
    let srv = start(FAST).await;
    let mut a = registered(&srv, "alice", "pw").await;
    a.send("NICK alice_away").await;
    a.expect("NICK").await;
    let m = ns(&mut a, "GROUP").await;
    assert!(
        m.last().contains("alice_away is now a nick of alice"),
        "{m:?}"
    );
    let mut b = srv.user("bob").await;
    b.send("NICK alice_away2").await;
    b.sync().await;
    // The grouped nick logs in to the account.
    b.send("NS IDENTIFY alice_away pw").await;
    let m = b.expect("900").await;
    assert_eq!(m.params[2], "alice");
    let m = ns(&mut a, "UNGROUP alice").await;
    assert!(m.last().contains("cannot be ungrouped"), "{m:?}");
    let m = ns(&mut a, "UNGROUP alice_away").await;
    assert!(m.last().contains("no longer"), "{m:?}");
    let m = ns(&mut a, "INFO alice_away").await;
    assert!(m.last().contains("not registered"), "{m:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_export_import_and_sigkill_during_registrations() {
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let p = crate::binary::spawn(FAST, &[]);
    let addr = p.addr();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
                return;
            };
            let nick = format!("r{i}");
            let hello = format!("NICK {nick}\r\nUSER r 0 * :r\r\nNS REGISTER pw-{nick}\r\n");
            if s.write_all(hello.as_bytes()).await.is_err() {
                return;
            }
            let mut lines = BufReader::new(s).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                // The numeric itself (LUSERS can say " 900 " too).
                if l.split(' ').nth(1) == Some("900") {
                    acked.lock().unwrap().push(nick);
                    return;
                }
            }
        }));
    }
    // Kill the server while registrations are still in flight.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while acked.lock().unwrap().len() < 300 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    p.signal("-KILL");
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 300,
        "only {} registrations acknowledged",
        acked.len()
    );
    let config = p.dir.path().join("ircd.toml");
    let store = |args: &[&str]| {
        std::process::Command::new(crate::binary::BIN)
            .arg("store")
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap()
    };
    let check = store(&["check"]);
    assert!(check.status.success(), "{check:?}");
    let fresh = tempfile::tempdir().unwrap();
    let backup = fresh.path().join("backup.json");
    let export = store(&["export", backup.to_str().unwrap()]);
    assert!(export.status.success(), "{export:?}");
    let json = std::fs::read_to_string(&backup).unwrap();
    assert!(
        json.contains("$2b$04$") && !json.contains("pw-r1\""),
        "hashes only"
    );
    let missing: Vec<&String> = acked
        .iter()
        .filter(|n| !json.contains(&format!("\"name\": \"{n}\"")))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    // Every acknowledged registration logs in after the restart.
    let q = crate::binary::respawn(p);
    let sem = Arc::new(tokio::sync::Semaphore::new(50));
    let mut logins = Vec::new();
    for nick in acked.clone() {
        let sem = sem.clone();
        let addr = q.addr();
        logins.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.unwrap();
            let mut c = TestClient::connect(addr).await;
            c.send(&format!("PASS {nick}:pw-{nick}")).await;
            c.register(&format!("x{nick}")).await;
            c.send(&format!("WHOIS x{nick}")).await;
            let m = c.expect("330").await;
            assert_eq!(m.params[2], nick);
        }));
    }
    for l in logins {
        l.await.unwrap();
    }
    // import restores a backup into an empty store.
    drop(q);
    let cfg2 = fresh.path().join("ircd.toml");
    std::fs::write(
        &cfg2,
        format!(
            "[server]\nname = \"irc.test\"\ndata_dir = {:?}\n",
            fresh.path().join("data")
        ),
    )
    .unwrap();
    let import = std::process::Command::new(crate::binary::BIN)
        .args(["store", "import"])
        .arg(&backup)
        .arg("--config")
        .arg(&cfg2)
        .output()
        .unwrap();
    assert!(import.status.success(), "{import:?}");
    let check2 = std::process::Command::new(crate::binary::BIN)
        .args(["store", "check", "--config"])
        .arg(&cfg2)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&check2.stdout);
    assert!(
        out.contains(&format!("{} account", json.matches("\"hash\"").count())),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_tokens_from_mktoken() {
    let secrets = tempfile::tempdir().unwrap();
    let secret = secrets.path().join("token.secret");
    std::fs::write(&secret, "s3cret-shared-with-the-web-app-0123456789\n").unwrap();
    let other = secrets.path().join("other.secret");
    std::fs::write(&other, "another-secret-of-another-app-0123456789\n").unwrap();
    let tokens = |file: &std::path::Path, create: bool| {
        format!(
            "[services]\nbcrypt_cost = 4\n[accounts.tokens]\nsecret_file = {:?}\ncreate_accounts = {create}\n",
            file.display().to_string()
        )
    };
    let p = crate::binary::spawn(&tokens(&secret, true), &[]);
    let config = p.dir.path().join("ircd.toml");
    let mint = |account: &str, ttl: &str, cfg: &std::path::Path| {
        let out = std::process::Command::new(crate::binary::BIN)
            .args(["mktoken", account, "--ttl", ttl, "--config"])
            .arg(cfg)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    // A valid token logs in with SASL PLAIN (creating the account).
    let token = mint("webuser", "1h", &config);
    let mut c = TestClient::connect(p.addr()).await;
    c.send("CAP LS 302").await;
    let ls = c.expect("CAP").await;
    assert!(
        ls.last()
            .contains("sasl=PLAIN,EXTERNAL,SCRAM-SHA-256,IRCV3BEARER"),
        "{ls:?}"
    );
    c.send("CAP REQ :sasl").await;
    c.send("NICK webuser").await;
    c.send("USER w 0 * :w").await;
    c.send("AUTHENTICATE PLAIN").await;
    c.expect("AUTHENTICATE").await;
    c.send(&format!("AUTHENTICATE {}", plain("webuser", &token)))
        .await;
    assert_eq!(c.expect("900").await.params[2], "webuser");
    c.expect("903").await;
    c.send("CAP END").await;
    c.expect("001").await;
    // IRCV3BEARER and PASS account:token too.
    let mut b = TestClient::connect(p.addr()).await;
    b.send("CAP REQ :sasl").await;
    b.send("NICK bearer").await;
    b.send("USER w 0 * :w").await;
    b.send("AUTHENTICATE IRCV3BEARER").await;
    b.expect("AUTHENTICATE").await;
    let payload = base64::engine::general_purpose::STANDARD.encode(format!("\0jwt\0{token}"));
    b.send(&format!("AUTHENTICATE {payload}")).await;
    assert_eq!(b.expect("900").await.params[2], "webuser");
    let mut pc = TestClient::connect(p.addr()).await;
    pc.send(&format!("PASS webuser:{token}")).await;
    pc.send("NICK passer").await;
    pc.send("USER w 0 * :w").await;
    pc.expect("900").await;
    pc.expect("001").await;
    // Expired, tampered, wrong secret, another account's: 904.
    let expired = mint("webuser", "1s", &config);
    let wrong_cfg = secrets.path().join("wrong.toml");
    std::fs::write(&wrong_cfg, tokens(&other, false)).unwrap();
    let wrong = mint("webuser", "1h", &wrong_cfg);
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    for (why, bad, account) in [
        ("expired", &expired, "webuser"),
        ("wrong secret", &wrong, "webuser"),
        ("tampered", &tampered, "webuser"),
        ("another account", &token, "someoneelse"),
    ] {
        let mut x = TestClient::connect(p.addr()).await;
        x.send("CAP REQ :sasl").await;
        x.send("NICK x").await;
        x.send("USER w 0 * :w").await;
        x.send("AUTHENTICATE PLAIN").await;
        x.expect("AUTHENTICATE").await;
        x.send(&format!("AUTHENTICATE {}", plain(account, bad)))
            .await;
        let m = x
            .expect_match("904 or 900", |m| m.command == "904" || m.command == "900")
            .await;
        assert_eq!(m.command, "904", "{why}");
    }
    let log = p.stderr.lock().unwrap().join("\n");
    assert!(
        !log.contains(&token[token.len() - 20..]),
        "a token reached the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chanserv_ban_unban_topic_invite_and_entry_message() {
    let srv = start(FAST).await;
    let mut erin = registered(&srv, "erin", "pw").await;
    erin.send("JOIN #room").await;
    erin.expect("366").await;
    erin.send("CS REGISTER #room").await;
    erin.expect_match("registered", |m| m.last().contains("registered to you"))
        .await;
    let mut pest = srv.user("pest").await;
    pest.send("JOIN #room").await;
    pest.expect("366").await;
    // BAN = ban mask + KICK + the invitation revoked.
    erin.send("CS BAN #room pest spamming").await;
    let k = pest.expect("KICK").await;
    assert_eq!(
        (k.nick(), k.params[1].as_str(), k.last()),
        ("ChanServ", "pest", "spamming")
    );
    pest.send("JOIN #room").await;
    pest.expect("474").await;
    erin.send("CS UNBAN #room *!*@127.0.0.1").await;
    erin.expect_match("unbanned", |m| m.last().contains("1 ban(s) removed"))
        .await;
    erin.send("MODE #room +i").await;
    erin.expect("MODE").await;
    erin.send("CS INVITE #room pest").await;
    let inv = pest.expect("INVITE").await;
    assert_eq!((inv.nick(), inv.params[1].as_str()), ("ChanServ", "#room"));
    erin.send("CS TOPIC #room welcome to the room").await;
    let t = erin.expect("TOPIC").await;
    assert_eq!((t.nick(), t.last()), ("ChanServ", "welcome to the room"));
    erin.send("CS SET #room ENTRYMSG be nice").await;
    erin.expect_match("set", |m| m.last().contains("ENTRYMSG is set"))
        .await;
    pest.send("JOIN #room").await;
    pest.expect_match("entry message", |m| {
        m.nick() == "ChanServ" && m.last() == "[#room] be nice"
    })
    .await;
    erin.send("CS SET #room DESCRIPTION the off-the-record room")
        .await;
    erin.expect_match("set", |m| m.last().contains("DESCRIPTION is set"))
        .await;
    pest.send("CS INFO #room").await;
    pest.expect_match("description", |m| {
        m.last() == "Description: the off-the-record room"
    })
    .await;
    // Without access: refused.
    pest.send("NS REGISTER pw").await;
    pest.expect("900").await;
    pest.send("CS BAN #room erin").await;
    pest.expect_match("refused", |m| m.last().contains("do not have access"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_account_registration() {
    let srv = start(FAST).await;
    // Before connect: once a nick is chosen.
    let mut c = srv.client().await;
    c.send("CAP LS 302").await;
    let ls = c.expect("CAP").await;
    assert!(
        ls.last()
            .contains("draft/account-registration=before-connect"),
        "{ls:?}"
    );
    c.send("REGISTER * * pw1").await;
    let f = c.expect("FAIL").await;
    assert_eq!(f.params[1], "COMPLETE_CONNECTION_REQUIRED");
    c.send("NICK hana").await;
    c.send("REGISTER other * pw1").await;
    let f = c.expect("FAIL").await;
    assert_eq!(
        (f.params[1].as_str(), f.params[2].as_str()),
        ("ACCOUNT_NAME_MUST_BE_NICK", "other")
    );
    c.send("REGISTER * * pw1").await;
    assert_eq!(c.expect("900").await.params[2], "hana");
    let ok = c.expect("REGISTER").await;
    assert_eq!(
        (ok.params[0].as_str(), ok.params[1].as_str()),
        ("SUCCESS", "hana")
    );
    c.send("REGISTER * * pw2").await;
    assert_eq!(c.expect("FAIL").await.params[1], "ALREADY_AUTHENTICATED");
    c.send("CAP END").await;
    c.send("USER h 0 * :h").await;
    c.expect("001").await;
    // The same store as NickServ: the nick is taken, IDENTIFY works.
    let mut d = srv.user("hana2").await;
    d.send("NICK hana_").await;
    d.sync().await;
    d.send("REGISTER hana_ * pw").await;
    let ok = d.expect("REGISTER").await;
    assert_eq!(ok.params[0], "SUCCESS");
    let mut e = srv.user("eve").await;
    e.send("NS IDENTIFY hana pw1").await;
    assert_eq!(e.expect("900").await.params[2], "hana");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_only_modes() {
    let srv = start(FAST).await;
    let mut owner = registered(&srv, "ivy", "pw").await;
    let mut member = registered(&srv, "jay", "pw").await;
    let mut anon = srv.user("anon").await;
    owner.send("JOIN #r").await;
    owner.expect("366").await;
    anon.send("JOIN #r").await;
    anon.expect("366").await;
    owner.send("MODE #r +MR").await;
    owner.expect("MODE").await;
    // +M: the anonymous member may not speak; +R: no new anonymous joins.
    anon.send("PRIVMSG #r :hello").await;
    anon.expect("404").await;
    let mut late = srv.user("late").await;
    late.send("JOIN #r").await;
    assert_eq!(late.expect("477").await.params[1], "#r");
    member.send("JOIN #r").await;
    member.expect("366").await;
    member.send("PRIVMSG #r :logged in").await;
    owner
        .expect_match("jay speaks", |m| {
            m.command == "PRIVMSG" && m.nick() == "jay"
        })
        .await;
    // User mode +R: only logged-in users may message me.
    owner.send("MODE ivy +R").await;
    owner.expect("MODE").await;
    anon.send("PRIVMSG ivy :psst").await;
    assert_eq!(anon.expect("477").await.params[1], "ivy");
    member.send("PRIVMSG ivy :hi").await;
    owner
        .expect_match("dm", |m| m.command == "PRIVMSG" && m.nick() == "jay")
        .await;
}

/// The client side of SCRAM-SHA-256, written from RFC 5802 with ring.
fn scram_final(password: &str, first_bare: &str, server_first: &str) -> (String, String) {
    use ring::{digest, hmac, pbkdf2};
    let b64 = base64::engine::general_purpose::STANDARD;
    let attr = |k: &str| {
        server_first
            .split(',')
            .find_map(|a| a.strip_prefix(k))
            .unwrap()
            .to_string()
    };
    let (nonce, salt, iterations) = (attr("r="), b64.decode(attr("s=")).unwrap(), attr("i="));
    let mut salted = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations.parse().unwrap(),
        &salt,
        password.as_bytes(),
        &mut salted,
    );
    let mac = |k: &[u8], d: &[u8]| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, k), d)
            .as_ref()
            .to_vec()
    };
    let client_key = mac(&salted, b"Client Key");
    let stored = digest::digest(&digest::SHA256, &client_key);
    let without_proof = format!("c=biws,r={nonce}");
    let auth = format!("{first_bare},{server_first},{without_proof}");
    let sig = mac(stored.as_ref(), auth.as_bytes());
    let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
    let server_sig = mac(&mac(&salted, b"Server Key"), auth.as_bytes());
    (
        format!("{without_proof},p={}", b64.encode(proof)),
        format!("v={}", b64.encode(server_sig)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_scram_sha_256() {
    let b64 = base64::engine::general_purpose::STANDARD;
    let srv = start(FAST).await;
    let mut owner = registered(&srv, "kim", "pässword").await;
    owner.send("QUIT").await;
    owner.expect_closed().await;
    for (password, ok) in [("wrong", false), ("pässword", true)] {
        let mut c = srv.client().await;
        c.send("CAP LS 302").await;
        let ls = c.expect("CAP").await;
        assert!(ls.last().contains("SCRAM-SHA-256"), "{ls:?}");
        c.send("CAP REQ :sasl").await;
        c.send("NICK kim").await;
        c.send("USER k 0 * :k").await;
        c.send("AUTHENTICATE SCRAM-SHA-256").await;
        c.expect("AUTHENTICATE").await;
        let bare = "n=kim,r=fyko+d2lbbFgONRv9qkxdawL";
        c.send(&format!(
            "AUTHENTICATE {}",
            b64.encode(format!("n,,{bare}"))
        ))
        .await;
        let first = c.expect("AUTHENTICATE").await;
        let server_first = String::from_utf8(b64.decode(&first.params[0]).unwrap()).unwrap();
        assert!(
            server_first.starts_with("r=fyko+d2lbbFgONRv9qkxdawL"),
            "{server_first}"
        );
        let (fin, expected) = scram_final(password, bare, &server_first);
        c.send(&format!("AUTHENTICATE {}", b64.encode(fin))).await;
        if !ok {
            c.expect("904").await;
            continue;
        }
        let last = c.expect("AUTHENTICATE").await;
        assert_eq!(
            String::from_utf8(b64.decode(&last.params[0]).unwrap()).unwrap(),
            expected
        );
        c.send("AUTHENTICATE +").await;
        assert_eq!(c.expect("900").await.params[2], "kim");
        c.expect("903").await;
        c.send("CAP END").await;
        c.expect("001").await;
    }
}
