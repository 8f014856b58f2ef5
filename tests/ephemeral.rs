//! Ephemeral, no-log channels: +E, the idle warning and self-destruct on
//! tokio's paused clock, config defaults and bounds, and the proof that no
//! message body, reason, key or password reaches a log line or a file.

use std::time::Duration;

use tokio::time::Instant;

use crate::common::*;

const CHANNELS: &str =
    "[channels]\nmin_idle_timeout = \"1s\"\nmax_idle_timeout = \"1h\"\nwarn_before = \"10s\"\n";

async fn join(c: &mut TestClient, chan: &str) {
    c.send(&format!("JOIN {chan}")).await;
    c.expect("366").await;
}

#[tokio::test(start_paused = true)]
async fn idle_channel_warns_then_self_destructs_and_leaves_nothing() {
    let srv = start(CHANNELS).await;
    let mut alice = srv.user("alice").await;
    let mut bob = srv.user("bob").await;
    alice.wait = Duration::from_secs(3600);
    bob.wait = Duration::from_secs(3600);
    join(&mut alice, "#otr").await;
    alice.send("MODE #otr +E 30s").await;
    assert_eq!(alice.expect("MODE").await.params, ["#otr", "+E", "30s"]);
    alice.send("MODE #otr +k sesame").await;
    alice.expect("MODE").await;
    alice.send("MODE #otr +b troll!*@*").await;
    alice.expect("MODE").await;
    alice.send("TOPIC #otr :off the record").await;
    alice.expect("TOPIC").await;
    bob.send("JOIN #otr sesame").await;
    // Joining tells the member it is ephemeral, with its timeout.
    let n = bob
        .expect_match("ephemeral NOTICE", |m| {
            m.command == "NOTICE" && m.params[0] == "#otr"
        })
        .await;
    assert!(
        n.last().contains("ephemeral") && n.last().contains("30s"),
        "{n:?}"
    );
    bob.expect("366").await;
    bob.send("MODE #otr").await;
    let modes = bob.expect("324").await;
    assert_eq!(modes.params[1..], ["#otr", "+ntEk", "30s", "sesame"]);

    // The JOIN was activity: the deadline is 30s from it. Talk at +15s.
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(15)).await;
    bob.send("PRIVMSG #otr :still here").await;
    alice.expect("PRIVMSG").await;
    let t_talk = Instant::now();

    // The warning comes 10s before the new deadline (talk + 30s).
    let warn = alice
        .expect_match("warning", |m| {
            m.command == "NOTICE" && m.params[0] == "#otr"
        })
        .await;
    assert!(warn.last().contains("self-destructs in 10s"), "{warn:?}");
    let at = t_talk.elapsed();
    assert!(
        at >= Duration::from_secs(20) && at < Duration::from_secs(21),
        "warned at {at:?}"
    );
    assert_eq!(warn.source.as_deref(), Some("irc.test"));

    // At the deadline every member is kicked with a reason saying why.
    for c in [&mut alice, &mut bob] {
        let k = c.expect("KICK").await;
        assert_eq!(k.source.as_deref(), Some("irc.test"));
        assert_eq!(k.params[0], "#otr");
        assert_eq!(k.params[1], c.nick);
        assert_eq!(k.last(), "Channel self-destructed after being idle for 30s");
    }
    let at = t_talk.elapsed();
    assert!(
        at >= Duration::from_secs(30) && at < Duration::from_secs(31),
        "destroyed at {at:?}"
    );
    assert!(t0.elapsed() >= Duration::from_secs(45));

    // Gone from LIST; a new JOIN makes a fresh, empty channel.
    assert_eq!(srv.handle.state().channel_count(), 0);
    alice.send("LIST").await;
    let rows = alice.sync().await;
    assert!(rows.iter().all(|m| m.command != "322"), "{rows:?}");
    bob.send("JOIN #otr").await; // no key needed any more
    let names = bob.expect("353").await;
    assert_eq!(names.last(), "@bob", "the first to join is op again");
    let rest = bob.sync().await;
    assert!(
        rest.iter()
            .all(|m| m.command != "332" && m.command != "NOTICE"),
        "no topic, not ephemeral: {rest:?}"
    );
    bob.send("MODE #otr").await;
    assert_eq!(bob.expect("324").await.params[2], "+nt");
    bob.send("MODE #otr b").await;
    let bans = bob.sync().await;
    assert!(bans.iter().all(|m| m.command != "367"), "{bans:?}");
}

#[tokio::test(start_paused = true)]
async fn activity_keeps_pushing_the_deadline() {
    let srv = start(CHANNELS).await;
    let mut a = srv.user("a").await;
    let mut b = srv.user("b").await;
    a.wait = Duration::from_secs(3600);
    join(&mut a, "#busy").await;
    a.send("MODE #busy +E 20s").await;
    a.expect("MODE").await;
    join(&mut b, "#busy").await;
    // Every 15s someone speaks (PRIVMSG or NOTICE): no warning, no KICK, for 5 minutes.
    for i in 0..20 {
        tokio::time::sleep(Duration::from_secs(9)).await;
        let verb = if i % 2 == 0 { "PRIVMSG" } else { "NOTICE" };
        b.send(&format!("{verb} #busy :tick {i}")).await;
        let m = a.expect(verb).await;
        assert_eq!(m.last(), format!("tick {i}"));
    }
    let seen = a.sync().await;
    assert!(a.seen.iter().chain(&seen).all(|m| m.command != "KICK"));
    assert_eq!(srv.handle.state().channel_count(), 1);
    // Then silence: warning at +10s, KICK at +20s.
    let t = Instant::now();
    a.expect_match("warning", |m| {
        m.command == "NOTICE" && m.source.as_deref() == Some("irc.test")
    })
    .await;
    a.expect("KICK").await;
    let at = t.elapsed();
    assert!(
        at >= Duration::from_secs(20) && at < Duration::from_secs(21),
        "{at:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn bounds_enforcement_and_defaults() {
    let srv = start(CHANNELS).await;
    let mut a = srv.user("a").await;
    join(&mut a, "#x").await;
    for (arg, why) in [
        ("0s", "between"),
        ("2h", "between"),
        ("soon", "duration"),
        ("10", "duration"),
    ] {
        a.send(&format!("MODE #x +E {arg}")).await;
        let e = a.expect("696").await;
        assert_eq!(e.params[1..4], ["#x", "E", arg]);
        assert!(e.last().contains(why), "{e:?}");
    }
    a.send("MODE #x +E 1s").await;
    assert_eq!(a.expect("MODE").await.params[1..], ["+E", "1s"]);
    a.send("MODE #x -E").await;
    assert_eq!(a.expect("MODE").await.params[1..], ["-E"]);
    // Non-ops cannot touch it.
    let mut b = srv.user("b").await;
    join(&mut b, "#x").await;
    b.send("MODE #x +E 5m").await;
    b.expect("482").await;
}

#[tokio::test(start_paused = true)]
async fn enforced_ephemeral_refuses_minus_e() {
    let srv = start(
        "[channels]\nenforce_ephemeral = true\nidle_timeout = \"5m\"\nmin_idle_timeout = \"1s\"\nwarn_before = \"1m\"\n",
    )
    .await;
    let mut a = srv.user("a").await;
    a.send("JOIN #forced").await;
    let n = a
        .expect_match("ephemeral NOTICE", |m| m.command == "NOTICE")
        .await;
    assert!(n.last().contains("5m"), "{n:?}");
    a.expect("366").await;
    a.send("MODE #forced -E").await;
    let e = a.expect("696").await;
    assert!(e.last().contains("every channel ephemeral"), "{e:?}");
    a.send("MODE #forced").await;
    let m = a.expect("324").await;
    assert!(
        m.params[2].contains('E') && m.params.contains(&"5m".to_string()),
        "{m:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn ephemeral_by_default_applies_to_new_channels_only() {
    let srv = start("").await;
    let mut a = srv.user("a").await;
    join(&mut a, "#old").await;
    // Turn the default on with a rehash.
    let path = srv.dir.path().join("ircd.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{text}\n[channels]\nephemeral_by_default = true\nidle_timeout = \"10m\"\n"),
    )
    .unwrap();
    srv.handle.rehash().unwrap();
    join(&mut a, "#new").await;
    a.send("MODE #new").await;
    let m = a.expect("324").await;
    assert_eq!(m.params[2..], ["+ntE", "10m"]);
    a.send("MODE #old").await;
    assert_eq!(a.expect("324").await.params[2..], ["+nt"]);
}

/// Creates 10,000 ephemeral channels (10 clients x 1000 each).
async fn fill(clients: &mut [TestClient], round: usize) {
    for (i, c) in clients.iter_mut().enumerate() {
        for chunk in 0..100 {
            let names: Vec<String> = (0..10)
                .map(|k| format!("#e{round}_{i}_{chunk}_{k}"))
                .collect();
            c.send(&format!("JOIN {}", names.join(","))).await;
        }
        c.sync().await;
    }
}

/// Waits until every member got the self-destruct KICK of its 1000 channels.
async fn expire(clients: &mut [TestClient]) {
    for c in clients.iter_mut() {
        let mut kicks = 0;
        while kicks < 1000 {
            let m = c.recv().await.expect("connected");
            if m.command == "KICK" {
                assert!(
                    m.last()
                        .starts_with("Channel self-destructed after being idle for"),
                    "{m:?}"
                );
                kicks += 1;
            }
        }
    }
}

async fn lusers_channels(c: &mut TestClient) -> usize {
    c.send("LUSERS").await;
    c.expect("254").await.params[1].parse().unwrap()
}

async fn ten_users(addr: std::net::SocketAddr) -> Vec<TestClient> {
    let mut clients = Vec::new();
    for i in 0..10 {
        let mut c = TestClient::connect(addr).await;
        c.register(&format!("c{i}")).await;
        c.wait = Duration::from_secs(3600);
        c.record = false;
        clients.push(c);
    }
    clients
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_channels_share_one_timer_structure() {
    let srv = start(
        "[limits]\nmax_channels = 1000\n[channels]\nephemeral_by_default = true\nidle_timeout = \"1m\"\nmin_idle_timeout = \"1s\"\nwarn_before = \"10s\"\n",
    )
    .await;
    let mut clients = ten_users(srv.addr).await;
    let state = || srv.handle.state().channel_count();
    for round in 0..2 {
        let t = tokio::time::Instant::now();
        fill(&mut clients, round).await;
        assert_eq!(state(), 10_000);
        assert_eq!(srv.handle.state().idle.len(), 10_000);
        expire(&mut clients).await;
        // One heap entry per channel while they live, none after; no task or
        // timer per channel.
        assert!(srv.handle.state().idle.is_empty());
        assert_eq!(srv.handle.state().channel_count(), 0);
        let at = t.elapsed();
        assert!(
            at >= Duration::from_secs(60) && at < Duration::from_secs(62),
            "{at:?}"
        );
    }
    assert_eq!(lusers_channels(&mut clients[0]).await, 0);
}

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

/// The built binary in its own process, so RSS is the server's alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_channels_self_destruct_and_memory_returns() {
    let p = crate::binary::spawn(
        "[limits]\nmax_channels = 1000\n[channels]\nephemeral_by_default = true\nidle_timeout = \"6s\"\nmin_idle_timeout = \"1s\"\nwarn_before = \"1s\"\n",
        &[],
    );
    let pid = p.child.id();
    let mut clients = ten_users(p.addr()).await;
    let mut probe = TestClient::connect(p.addr()).await;
    probe.register("probe").await;
    let start = rss_kb(pid);
    let mut figures = vec![start];
    for round in 0..4 {
        fill(&mut clients, round).await;
        assert_eq!(lusers_channels(&mut probe).await, 10_000);
        figures.push(rss_kb(pid));
        expire(&mut clients).await;
        assert_eq!(lusers_channels(&mut probe).await, 0);
        // The idle driver gives memory back just after the last destroy, and
        // may not have run yet when LUSERS answers (under load): wait for
        // the figure the assertions below need, 10 s at most.
        let grown = figures[1].saturating_sub(start);
        let mut target = start + grown * 6 / 10;
        if round >= 2 {
            target = target.min(figures[4] + grown / 8);
        }
        let t0 = std::time::Instant::now();
        let mut now = rss_kb(pid);
        while now > target && t0.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            now = rss_kb(pid);
        }
        figures.push(now);
    }
    eprintln!(
        "server RSS (KB): start, then with 10000 channels / after self-destruct x4: {figures:?}"
    );
    let grown = figures[1].saturating_sub(start);
    assert!(grown > 1000, "10000 channels take memory: {figures:?}");
    // After each round the server is back near where it started: it gives
    // freed memory back after a mass self-destruct.
    for after in [figures[2], figures[4], figures[6], figures[8]] {
        assert!(
            after <= start + grown * 6 / 10,
            "RSS not back near the start: {figures:?}"
        );
    }
    // No leak: once the allocator has warmed up (round 2), two more rounds
    // of 10,000 channels add less than an eighth of what 10,000 channels take.
    assert!(
        figures[8] <= figures[4] + grown / 8,
        "RSS grows round after round: {figures:?}"
    );
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The msgid tag of a line.
fn msgid_of(m: &Msg) -> String {
    tag(m, "msgid").expect("a msgid").to_string()
}

/// The no-log invariant, proven on the built binary at the most verbose log
/// level: a conversation full of a unique marker leaves it in no log line
/// and in no file under data_dir.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_said_reaches_a_log_or_a_file() {
    const M: &str = "Zq7MarkerXv";
    let hash = bcrypt::hash(format!("oper-{M}"), 4).unwrap();
    let p_extra = format!(
        "[[oper]]\nname = \"boss\"\npassword = {hash:?}\n[channels]\nmin_idle_timeout = \"1s\"\nwarn_before = \"1s\"\n[services]\nbcrypt_cost = 4\n[history]\ndirect_messages = true\n"
    );
    let mut p = crate::binary::spawn_full(
        &format!("password = \"pass-{M}\"\n"),
        &p_extra,
        &[("IRCD_LOG", "trace")],
    );
    let port = p.port;
    let login = |nick: &'static str| async move {
        let mut c = TestClient::connect(([127, 0, 0, 1], port).into()).await;
        c.send(&format!("PASS pass-{M}")).await;
        c.register(nick).await;
        c
    };
    let mut a = login("alice").await;
    let mut b = login("bob").await;
    let mut wrong = TestClient::connect(([127, 0, 0, 1], port).into()).await;
    wrong.send(&format!("PASS wrong-{M}")).await;
    wrong.send("NICK w").await;
    wrong.send("USER w 0 * :w").await;
    wrong.expect("464").await;

    a.send("JOIN #otr").await;
    a.expect("366").await;
    a.send(&format!("MODE #otr +kE key-{M} 1s")).await;
    a.expect("MODE").await;
    b.send(&format!("JOIN #otr key-{M}")).await;
    b.expect("366").await;
    a.send(&format!("TOPIC #otr :topic-{M}")).await;
    b.expect("TOPIC").await;
    a.send(&format!("PRIVMSG #otr :channel-{M}")).await;
    b.expect("PRIVMSG").await;
    a.send(&format!("PRIVMSG #otr :\x01ACTION action-{M}\x01"))
        .await;
    b.expect("PRIVMSG").await;
    a.send(&format!("PRIVMSG bob :dm-{M}")).await;
    b.expect("PRIVMSG").await;
    a.send(&format!("NOTICE bob :notice-{M}")).await;
    b.expect("NOTICE").await;
    b.send(&format!("AWAY :away-{M}")).await;
    b.expect("306").await;
    a.send(&format!("KICK #otr bob :kick-{M}")).await;
    b.expect("KICK").await;
    b.send(&format!("JOIN #otr key-{M}")).await;
    b.expect("366").await;
    b.send(&format!("PART #otr :part-{M}")).await;
    b.expect("PART").await;
    a.send(&format!("OPER boss wrong-{M}")).await;
    a.expect("464").await;
    a.send(&format!("OPER boss oper-{M}")).await;
    a.expect("381").await;
    a.send("MODE alice +w").await;
    a.send(&format!("WALLOPS :wallops-{M}")).await;
    a.expect("WALLOPS").await;
    a.send(&format!("PRIVMSG #nowhere-{M} :x")).await;
    a.expect("403").await;
    a.send(&format!("FROB{M} :x")).await;
    a.expect("421").await;
    a.send(&format!("NICK bad!{M}")).await;
    a.expect("432").await;
    // The ephemeral channel self-destructs (1s) with alice in it.
    a.expect("KICK").await;
    // Server bans: the reasons reach the banned client and the store (an
    // oper wrote them to be kept), never a log line.
    let mut k = login("klined").await;
    a.send(&format!("KLINE klined@* :kline-{M}|kline-oper-{M}"))
        .await;
    a.expect_match("Added", |m| m.last().starts_with("Added"))
        .await;
    k.expect_closed().await;
    a.send(&format!("DLINE 1h 192.0.2.0/24 :kline-{M}")).await;
    a.expect_match("Added", |m| m.last().starts_with("Added"))
        .await;
    a.send(&format!("TESTLINE klined@{M}.example")).await;
    a.expect("725").await;
    let mut c = login("carol").await;
    c.send(&format!("KILL bob :kill-{M}")).await;
    c.expect("481").await;
    a.send(&format!("KILL bob :kill-{M}")).await;
    b.expect_closed().await;
    c.send(&format!("QUIT :quit-{M}")).await;
    c.expect_closed().await;
    // Services: passwords in NickServ commands, SASL and PASS never show.
    let mut e = login("erin").await;
    e.send(&format!("NS REGISTER nspw-{M}")).await;
    e.expect("900").await;
    e.send(&format!("PRIVMSG NickServ :IDENTIFY erin wrong-{M}"))
        .await;
    e.expect("NOTICE").await;
    e.send(&format!("NS SET PASSWORD new-{M}")).await;
    e.expect("NOTICE").await;
    e.send(&format!("CS CLOSE #nowhere reason-{M}")).await;
    e.expect("NOTICE").await;
    for cmd in ["RECOVER", "RELEASE", "GHOST"] {
        e.send(&format!("NS {cmd} erin wrong-{M}")).await;
        e.expect("NOTICE").await;
    }
    // History (in memory): a kept channel and a kept DM, read back and redacted.
    e.send("CAP REQ :message-tags echo-message batch draft/chathistory draft/event-playback draft/message-redaction").await;
    e.expect("CAP").await;
    e.send("JOIN #kept").await;
    e.expect("366").await;
    e.send(&format!("TOPIC #kept :kept-topic-{M}")).await;
    e.expect("TOPIC").await;
    for target in ["#kept", "erin"] {
        e.send(&format!("@+draft/reply=x PRIVMSG {target} :history-{M}"))
            .await;
        let echo = e.expect("PRIVMSG").await;
        let msgid = echo
            .tags
            .as_deref()
            .unwrap_or("")
            .split(';')
            .find_map(|t| t.strip_prefix("msgid="))
            .unwrap()
            .to_string();
        e.send(&format!("CHATHISTORY LATEST {target} * 10")).await;
        e.expect_match("history", |m| {
            m.command == "PRIVMSG" && m.last().contains("history-")
        })
        .await;
        e.send(&format!("CHATHISTORY AROUND {target} msgid={msgid} 3"))
            .await;
        e.send(&format!("REDACT {target} {msgid} :redact-reason-{M}"))
            .await;
        e.expect("REDACT").await;
    }
    e.send(&format!("CHATHISTORY BEFORE #kept timestamp=bad-{M} 1"))
        .await;
    e.expect("FAIL").await;
    e.send(&format!("PART #kept :part-kept-{M}")).await;
    e.expect("PART").await;
    e.send("QUIT").await;
    e.expect_closed().await;
    let payload = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("\0erin\0new-{M}"))
    };
    let mut s = TestClient::connect(([127, 0, 0, 1], port).into()).await;
    s.send(&format!("PASS pass-{M}")).await;
    s.send("CAP REQ :sasl").await;
    s.send("NICK sasl").await;
    s.send("USER s 0 * :s").await;
    s.send("AUTHENTICATE PLAIN").await;
    s.expect("AUTHENTICATE").await;
    s.send(&format!("AUTHENTICATE {payload}")).await;
    s.expect("903").await;
    s.send("CAP END").await;
    s.expect("001").await;
    s.send("QUIT").await;
    s.expect_closed().await;
    // draft/multiline (and a refused batch naming the marker), RELAYMSG
    // under a nick with the marker, MARKREAD of a target with the marker;
    // the multiline and relayed messages are kept in history (a channel
    // and a conversation of a logged-in user), read back and redacted.
    let mut m = TestClient::connect(([127, 0, 0, 1], port).into()).await;
    m.send(&format!("PASS pass-{M}")).await;
    m.send("CAP REQ :draft/multiline batch draft/read-marker message-tags echo-message draft/chathistory draft/message-redaction")
        .await;
    m.send("CAP END").await;
    m.register("mia").await;
    m.send(&format!("NS REGISTER mlpw-{M}")).await;
    m.expect("900").await;
    m.send("JOIN #ml").await;
    m.expect("366").await;
    a.send("JOIN #ml").await;
    a.expect("366").await;
    let mut kept = Vec::new();
    for target in ["#ml", "mia"] {
        m.send(&format!("BATCH +b1 draft/multiline {target}")).await;
        m.send(&format!("@batch=b1 PRIVMSG {target} :multiline-{M}"))
            .await;
        m.send(&format!(
            "@batch=b1;draft/multiline-concat PRIVMSG {target} :concat-{M}"
        ))
        .await;
        m.send("BATCH -b1").await;
        let echo = m.sync().await;
        let start = echo.iter().find(|l| l.command == "BATCH").expect("echo");
        kept.push((target, msgid_of(start)));
    }
    a.expect("PRIVMSG").await;
    a.expect("PRIVMSG").await;
    m.send(&format!("BATCH +b2 draft/multiline #t-{M}")).await;
    m.send(&format!("@batch=b2 PRIVMSG #u-{M} :bad-{M}")).await;
    m.expect("FAIL").await;
    m.send(&format!("RELAYMSG #ml r/{M} :relayed-{M}")).await;
    a.expect("PRIVMSG").await;
    let echo = m.sync().await;
    let relayed = echo.iter().find(|l| l.command == "PRIVMSG").expect("echo");
    kept.push(("#ml", msgid_of(relayed)));
    for (target, msgid) in &kept {
        m.send(&format!("CHATHISTORY LATEST {target} * 10")).await;
        m.send(&format!("CHATHISTORY AROUND {target} msgid={msgid} 3"))
            .await;
        m.send(&format!("REDACT {target} {msgid} :redact-{M}"))
            .await;
        m.expect("REDACT").await;
    }
    m.send(&format!(
        "MARKREAD #mark-{M} timestamp=2020-01-01T00:00:00.000Z"
    ))
    .await;
    m.expect("MARKREAD").await;
    m.send("QUIT").await;
    m.expect_closed().await;
    // A handler panic (test-build hook) is logged with its location only.
    let mut d = login("dave").await;
    d.send(&format!("__PANIC panic-{M}")).await;
    d.expect_closed().await;
    p.signal("-TERM");
    a.expect_closed().await;
    assert!(p.wait().success());

    let log = p.stderr.lock().unwrap().join("\n");
    // Logging was on at the most verbose level: every command was logged (by name).
    assert!(
        log.contains("connected")
            && log.contains("command=\"PRIVMSG\"")
            && log.contains("command=\"OPER\"")
            && log.contains("panic")
            && log.contains("location=src/"),
        "{log}"
    );
    assert!(log.lines().count() > 20, "{log}");
    for (i, line) in log.lines().enumerate() {
        assert!(
            !line.to_lowercase().contains(&M.to_lowercase()) && !line.contains(&payload),
            "log line {i} leaks content: {line}"
        );
    }
    let data = p.dir.path().join("data");
    for f in files_under(&data) {
        let bytes = std::fs::read(&f).unwrap();
        let mut text = String::from_utf8_lossy(&bytes).to_lowercase();
        if f.ends_with("accounts.redb") {
            // The one thing the store keeps on purpose: the ban reasons.
            let m = M.to_lowercase();
            text = text
                .replace(&format!("kline-oper-{m}"), "")
                .replace(&format!("kline-{m}"), "");
        }
        assert!(
            !text.contains(&M.to_lowercase()) && !text.contains(&payload.to_lowercase()),
            "{} holds content",
            f.display()
        );
    }
}

/// Regressions from review: joins and parts do not pile up timer entries,
/// and setting +E on a long-quiet channel starts the clock then.
#[tokio::test(start_paused = true)]
async fn plus_e_starts_the_clock_and_joins_do_not_pile_up_timers() {
    let srv = start(&format!(
        "{CHANNELS}[limits]\nping_interval = \"1d\"\nping_timeout = \"1d\"\n"
    ))
    .await;
    let mut a = srv.user("a").await;
    let mut b = srv.user("b").await;
    a.wait = Duration::from_secs(7200);
    join(&mut a, "#quiet").await;
    // Two hours of silence, then +E 30m: no KICK now, a warning at 29m50s.
    tokio::time::sleep(Duration::from_secs(7200)).await;
    let t = Instant::now();
    a.send("MODE #quiet +E 30m").await;
    a.expect("MODE").await;
    for _ in 0..100 {
        b.send("JOIN #quiet").await;
        b.send("PART #quiet").await;
    }
    b.sync().await;
    assert!(
        srv.handle.state().idle.len() <= 2,
        "{} timer entries",
        srv.handle.state().idle.len()
    );
    let warn = a
        .expect_match("warning", |m| {
            m.command == "NOTICE" && m.source.as_deref() == Some("irc.test")
        })
        .await;
    assert!(warn.last().contains("self-destructs in 10s"), "{warn:?}");
    let at = t.elapsed();
    assert!(
        at >= Duration::from_secs(1790) && at < Duration::from_secs(1791),
        "warned after {at:?}"
    );
    a.expect("KICK").await;
}
