//! "Rooms are channels" (design.md): every row of the table played over
//! real connections, plus the enforcement and query numerics.

use crate::common::*;

/// Joins and waits for the end of NAMES.
async fn join(c: &mut TestClient, chan: &str) {
    c.send(&format!("JOIN {chan}")).await;
    c.expect("366").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_with_key_invite_kick_ban_and_exception() {
    let srv = start("").await;
    let mut alice = srv.user("alice").await;
    let mut bob = srv.user("bob").await;
    let mut carol = srv.user("carol").await;

    // Create a room: the creator is its operator.
    alice.send("JOIN #room").await;
    let names = alice.expect("353").await;
    assert_eq!(names.last(), "@alice");
    alice.send("MODE #room +k secret").await;
    let m = alice.expect("MODE").await;
    assert_eq!(m.params, ["#room", "+k", "secret"]);

    // Wrong key, then the right one.
    bob.send("JOIN #room wrong").await;
    assert_eq!(bob.expect("475").await.params[1], "#room");
    bob.send("JOIN #room secret").await;
    bob.expect("366").await;
    let j = alice.expect("JOIN").await;
    assert_eq!((j.nick(), j.params[0].as_str()), ("bob", "#room"));

    // Invite-only: carol needs an invitation, which also gets her past +k.
    alice.send("MODE #room +i").await;
    alice.expect("MODE").await;
    carol.send("JOIN #room").await;
    carol.expect("473").await;
    alice.send("INVITE carol #room").await;
    let inv = alice.expect("341").await;
    assert_eq!(inv.params[1..], ["carol", "#room"]);
    let got = carol.expect("INVITE").await;
    assert_eq!(
        (got.nick(), got.params[0].as_str(), got.params[1].as_str()),
        ("alice", "carol", "#room")
    );
    carol.send("JOIN #room").await;
    carol.expect("366").await;
    // The invitation was used up.
    carol.send("PART #room").await;
    carol.expect("PART").await;
    carol.send("JOIN #room secret").await;
    carol.expect("473").await;

    // A kicked user may come back.
    alice.send("KICK #room bob :cool off").await;
    let k = bob.expect("KICK").await;
    assert_eq!(k.params, ["#room", "bob", "cool off"]);
    assert_eq!(alice.expect("KICK").await.params[1], "bob");
    alice.send("MODE #room -i").await;
    alice.expect("MODE").await;
    join(&mut bob, "#room secret").await;

    // A banned one may not, unless an exception matches.
    alice.send("MODE #room +b bob!*@*").await;
    assert_eq!(
        alice.expect("MODE").await.params,
        ["#room", "+b", "bob!*@*"]
    );
    alice.send("KICK #room bob").await;
    assert_eq!(
        bob.expect("KICK").await.last(),
        "alice",
        "default reason is the kicker's nick"
    );
    bob.send("JOIN #room secret").await;
    assert_eq!(bob.expect("474").await.params[1], "#room");
    alice.send("MODE #room +e bob!*@127.0.0.1").await;
    alice.expect("MODE").await;
    join(&mut bob, "#room secret").await;

    // The ban list shows setter and time.
    alice.send("MODE #room b").await;
    let entry = alice.expect("367").await;
    assert_eq!(
        entry.params[1..4],
        ["#room", "bob!*@*", "alice!alice@127.0.0.1"]
    );
    assert!(entry.params[4].parse::<u64>().unwrap() > 1_600_000_000);
    alice.expect("368").await;
    alice.send("MODE #room e").await;
    assert_eq!(alice.expect("348").await.params[2], "bob!*@127.0.0.1");
    alice.expect("349").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whisper_reaches_only_its_target_and_me_is_byte_exact() {
    let srv = start("").await;
    let mut alice = srv.user("alice").await;
    let mut bob = srv.user("bob").await;
    let mut carol = srv.user("carol").await;
    for c in [&mut alice, &mut bob, &mut carol] {
        join(c, "#room").await;
    }
    alice.send("PRIVMSG bob :just between us").await;
    let dm = bob.expect("PRIVMSG").await;
    assert_eq!(
        (dm.nick(), dm.params[0].as_str(), dm.last()),
        ("alice", "bob", "just between us")
    );
    alice.send("NOTICE bob :a notice").await;
    assert_eq!(bob.expect("NOTICE").await.last(), "a notice");
    // /me with odd bytes, relayed exactly.
    let action = "\x01ACTION waves  at   everyone \u{1F44B}\x01";
    alice.send(&format!("PRIVMSG #room :{action}")).await;
    let m = bob.expect("PRIVMSG").await;
    assert_eq!(
        m.raw,
        format!(":alice!alice@127.0.0.1 PRIVMSG #room :{action}")
    );
    let m = carol.expect("PRIVMSG").await;
    assert_eq!(m.last(), action);
    // Carol saw the channel message but never the whisper.
    let rest = carol.sync().await;
    assert!(
        carol
            .seen
            .iter()
            .chain(&rest)
            .all(|m| m.last() != "just between us" && m.last() != "a notice")
    );
    // The sender does not get its own message back without echo-message.
    let own = alice.sync().await;
    assert!(own.iter().all(|m| m.command != "PRIVMSG"), "{own:?}");
    // Errors for nobody there.
    alice.send("PRIVMSG nobody :x").await;
    alice.expect("401").await;
    alice.send("PRIVMSG #nowhere :x").await;
    alice.expect("403").await;
    alice.send("PRIVMSG").await;
    alice.expect("411").await;
    alice.send("PRIVMSG bob").await;
    alice.expect("412").await;
    alice.send("PRIVMSG a,b,c,d,e :x").await;
    alice.expect("407").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_moderated_no_external_topic_lock_and_secret() {
    let srv = start("").await;
    let mut op = srv.user("op").await;
    let mut v = srv.user("v").await;
    let mut plain = srv.user("plain").await;
    let mut outsider = srv.user("outsider").await;
    join(&mut op, "#m").await;
    join(&mut v, "#m").await;
    join(&mut plain, "#m").await;

    // +l 3: the fourth is refused.
    op.send("MODE #m +l 3").await;
    assert_eq!(op.expect("MODE").await.params, ["#m", "+l", "3"]);
    outsider.send("JOIN #m").await;
    outsider.expect("471").await;

    // +n (set on creation): outsiders cannot speak in.
    outsider.send("PRIVMSG #m :hi").await;
    outsider.expect("404").await;

    // +m: only ops and voiced speak.
    op.send("MODE #m +mv v").await;
    assert_eq!(op.expect("MODE").await.params, ["#m", "+mv", "v"]);
    plain.send("PRIVMSG #m :can I?").await;
    plain.expect("404").await;
    v.send("PRIVMSG #m :I can").await;
    assert_eq!(plain.expect("PRIVMSG").await.last(), "I can");

    // +t (set on creation): only ops set the topic.
    plain.send("TOPIC #m :mine").await;
    plain.expect("482").await;
    op.send("TOPIC #m :the topic").await;
    assert_eq!(plain.expect("TOPIC").await.last(), "the topic");
    plain.send("TOPIC #m").await;
    assert_eq!(plain.expect("332").await.last(), "the topic");
    assert_eq!(plain.expect("333").await.params[2], "op!op@127.0.0.1");

    // LIST shows it, with its topic; +s hides it from non-members.
    outsider.send("LIST").await;
    let l = outsider.expect("322").await;
    assert_eq!(l.params[1..], ["#m", "3", "the topic"]);
    outsider.expect("323").await;
    op.send("MODE #m +s").await;
    op.expect("MODE").await;
    outsider.send("LIST").await;
    let rows = outsider.sync().await;
    assert!(rows.iter().all(|m| m.command != "322"), "{rows:?}");
    plain.send("LIST").await;
    plain.expect("322").await;
    // 324 shows the modes; the key/limit parameters to members.
    op.send("MODE #m").await;
    let modes = op.expect("324").await;
    assert_eq!(modes.params[1..], ["#m", "+mnstl", "3"]);
    op.expect("329").await;
    // Non-ops cannot change modes or kick.
    plain.send("MODE #m -m").await;
    plain.expect("482").await;
    plain.send("KICK #m op").await;
    plain.expect("482").await;
    plain.send("MODE #m +z").await;
    plain.expect("472").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bans_hold_for_speaking_nick_changes_and_cidr() {
    let srv = start("").await;
    let mut op = srv.user("op").await;
    let mut bad = srv.user("bad").await;
    join(&mut op, "#b").await;
    join(&mut bad, "#b").await;
    op.send("MODE #b +b bad!*@*").await;
    op.expect("MODE").await;
    bad.send("PRIVMSG #b :still here").await;
    bad.expect("404").await;
    bad.send("NICK good").await;
    let e = bad.expect("435").await;
    assert_eq!(e.params[1..3], ["good", "#b"]);
    // An account extban matches nobody without an account.
    op.send("MODE #b -b+b bad!*@* $a:someone").await;
    op.expect("MODE").await;
    bad.send("PRIVMSG #b :free").await;
    assert_eq!(op.expect("PRIVMSG").await.last(), "free");
    // A CIDR host mask.
    op.send("MODE #b +b *!*@127.0.0.0/8").await;
    op.expect("MODE").await;
    let mut newcomer = srv.user("newcomer").await;
    newcomer.send("JOIN #b").await;
    newcomer.expect("474").await;
    op.send("MODE #b +I newcomer!*@*").await;
    op.expect("MODE").await;
    op.send("MODE #b +i").await;
    op.expect("MODE").await;
    // +I lets past +i, but not past a ban.
    newcomer.send("JOIN #b").await;
    newcomer.expect("474").await;
    op.send("MODE #b -b *!*@127.0.0.0/8").await;
    op.expect("MODE").await;
    join(&mut newcomer, "#b").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_who_whois_whowas_and_statusmsg() {
    let srv = start("").await;
    let mut op = srv.user("op").await;
    let mut bob = srv.user("bob").await;
    let mut eve = srv.user("eve").await;
    join(&mut op, "#q").await;
    join(&mut bob, "#q").await;
    op.send("MODE #q +v bob").await;
    op.expect("MODE").await;
    bob.send("AWAY :lunch").await;
    bob.expect("306").await;

    eve.send("NAMES #q").await;
    let n = eve.expect("353").await;
    let mut names: Vec<&str> = n.last().split(' ').collect();
    names.sort();
    assert_eq!(names, ["+bob", "@op"]);
    eve.expect("366").await;

    eve.send("WHO #q").await;
    let mut rows = Vec::new();
    loop {
        let m = eve.recv().await.unwrap();
        if m.command == "315" {
            break;
        }
        assert_eq!(m.command, "352");
        rows.push((m.params[5].clone(), m.params[6].clone()));
    }
    rows.sort();
    assert_eq!(
        rows,
        [
            ("bob".to_string(), "G+".to_string()),
            ("op".to_string(), "H@".to_string())
        ]
    );
    // WHOX with fields and a token.
    eve.send("WHO #q %tnf,42").await;
    let x = eve.expect("354").await;
    assert_eq!(x.params[1], "42");
    eve.expect("315").await;

    eve.send("WHOIS bob").await;
    assert_eq!(
        eve.expect("311").await.params[1..4],
        ["bob", "bob", "127.0.0.1"]
    );
    assert_eq!(eve.expect("319").await.last(), "+#q");
    eve.expect("312").await;
    assert_eq!(eve.expect("301").await.last(), "lunch");
    eve.expect("317").await;
    eve.expect("318").await;
    eve.send("WHOIS nobody").await;
    eve.expect("401").await;
    eve.expect("318").await;

    // STATUSMSG: @#q reaches the operators only.
    bob.send("PRIVMSG @#q :ops only").await;
    assert_eq!(op.expect("PRIVMSG").await.params[0], "@#q");
    let seen = eve.sync().await;
    assert!(seen.iter().all(|m| m.command != "PRIVMSG"));

    // WHOWAS remembers who left (in memory).
    bob.send("QUIT").await;
    bob.expect_closed().await;
    op.expect("QUIT").await;
    eve.send("WHOWAS bob").await;
    assert_eq!(
        eve.expect("314").await.params[1..4],
        ["bob", "bob", "127.0.0.1"]
    );
    eve.expect("369").await;
    eve.send("WHOWAS neverwas").await;
    eve.expect("406").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_of_a_big_channel_is_complete_and_split() {
    let srv = start("").await;
    let mut clients = Vec::new();
    for i in 0..300 {
        let mut c = srv.user(&format!("member_with_long_nick_{i:03}")).await;
        c.send("JOIN #big").await;
        clients.push(c);
    }
    for c in clients.iter_mut() {
        c.expect("366").await;
    }
    let mut viewer = srv.user("viewer").await;
    viewer.send("NAMES #big").await;
    let mut all = Vec::new();
    let mut lines = 0;
    loop {
        let m = viewer.recv().await.unwrap();
        if m.command == "366" {
            break;
        }
        assert_eq!(m.command, "353");
        assert!(m.raw.len() + 2 <= 512);
        lines += 1;
        all.extend(
            m.last()
                .split(' ')
                .map(|s| s.trim_start_matches('@').to_string()),
        );
    }
    all.sort();
    let mut want: Vec<String> = (0..300)
        .map(|i| format!("member_with_long_nick_{i:03}"))
        .collect();
    want.sort();
    assert_eq!(all, want);
    assert!(lines > 10, "split over many lines: {lines}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_zero_part_reason_and_channel_limit() {
    let srv = start("[limits]\nmax_channels = 2\n").await;
    let mut a = srv.user("a").await;
    let mut b = srv.user("b").await;
    a.send("JOIN #one,#two").await;
    a.expect("366").await;
    a.expect("366").await;
    a.send("JOIN #three").await;
    assert_eq!(a.expect("405").await.params[1], "#three");
    a.send("JOIN bad").await;
    a.expect("403").await;
    join(&mut b, "#one").await;
    a.send("PART #one :bye now").await;
    let p = b.expect("PART").await;
    assert_eq!((p.nick(), p.last()), ("a", "bye now"));
    a.send("PART #one").await;
    a.expect("442").await;
    a.send("JOIN 0").await;
    let p = a.expect("PART").await;
    assert_eq!(p.params[0], "#two");
    // The last one out destroys the channel.
    a.send("LIST").await;
    let rows = a.sync().await;
    assert_eq!(
        rows.iter().filter(|m| m.command == "322").count(),
        1,
        "only #one is left: {rows:?}"
    );
    assert_eq!(srv.handle.state().channel_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opers_kill_wallops_and_user_modes() {
    let hash = bcrypt::hash("pw", 4).unwrap();
    let srv = start(&format!("[[oper]]\nname = \"boss\"\npassword = {hash:?}\n")).await;
    let mut boss = srv.user("boss").await;
    let mut w = srv.user("w").await;
    let mut victim = srv.user("victim").await;
    join(&mut w, "#k").await;
    join(&mut victim, "#k").await;
    w.send("MODE w +iw").await;
    assert_eq!(w.expect("MODE").await.last(), "+iw");
    w.send("MODE w").await;
    assert_eq!(w.expect("221").await.params[1], "+iw");
    w.send("MODE victim +i").await;
    w.expect("502").await;
    w.send("MODE w +Z").await;
    w.expect("501").await;
    boss.send("OPER boss pw").await;
    boss.expect("381").await;
    boss.send("WALLOPS :maintenance soon").await;
    let wall = w.expect("WALLOPS").await;
    assert_eq!((wall.nick(), wall.last()), ("boss", "maintenance soon"));
    boss.send("KILL victim :spamming").await;
    let lines = victim.expect_closed().await;
    assert!(lines.iter().any(|m| m.command == "ERROR"), "{lines:?}");
    let q = w.expect("QUIT").await;
    assert_eq!(q.nick(), "victim");
    assert!(q.last().contains("Killed (boss (spamming))"), "{q:?}");
    boss.send("KILL nobody :x").await;
    boss.expect("401").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_change_what_channels_send() {
    let srv = start("").await;
    let mut rich = srv.client().await;
    rich.send("CAP REQ :multi-prefix userhost-in-names extended-join away-notify invite-notify echo-message").await;
    rich.expect("CAP").await;
    rich.send("CAP END").await;
    rich.register("rich").await;
    let mut plain = srv.user("plain").await;
    join(&mut rich, "#c").await;
    rich.send("MODE #c +v rich").await;
    rich.expect("MODE").await;
    plain.send("JOIN #c").await;
    let j = rich.expect("JOIN").await;
    assert_eq!(j.params, ["#c", "*", "Real plain"], "extended-join");
    rich.send("NAMES #c").await;
    let n = rich.expect("353").await;
    assert!(
        n.last().split(' ').any(|x| x == "@+rich!rich@127.0.0.1"),
        "{n:?}"
    );
    plain.send("AWAY :brb").await;
    let a = rich.expect("AWAY").await;
    assert_eq!((a.nick(), a.last()), ("plain", "brb"));
    rich.send("PRIVMSG #c :echoed").await;
    let e = rich.expect("PRIVMSG").await;
    assert_eq!((e.nick(), e.last()), ("rich", "echoed"));
    let mut third = srv.user("third").await;
    plain.expect("366").await;
    rich.send("MODE #c +o plain").await;
    rich.expect("MODE").await;
    plain.send("INVITE third #c").await;
    plain.expect("341").await;
    third.expect("INVITE").await;
    // invite-notify: the other operators hear of it.
    let inv = rich.expect("INVITE").await;
    assert_eq!(
        (inv.nick(), inv.params[0].as_str(), inv.params[1].as_str()),
        ("plain", "third", "#c")
    );
    plain.send("PART #c").await;
    rich.expect("PART").await;
    rich.send("MODE #c +o plain").await;
    rich.expect("441").await;
}

/// Regression found by irctest (away_notify.py testAwayNotifyOnJoin).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn away_user_joining_is_announced_to_away_notify_members() {
    let srv = start("").await;
    let mut watcher = srv.client().await;
    watcher.send("CAP REQ away-notify").await;
    watcher.send("CAP END").await;
    watcher.register("watcher").await;
    join(&mut watcher, "#a").await;
    let mut sleepy = srv.user("sleepy").await;
    sleepy.send("AWAY :already away").await;
    sleepy.expect("306").await;
    join(&mut sleepy, "#a").await;
    watcher.expect("JOIN").await;
    let a = watcher.expect("AWAY").await;
    assert_eq!((a.nick(), a.last()), ("sleepy", "already away"));
    let own = sleepy.sync().await;
    assert!(own.iter().all(|m| m.command != "AWAY"), "{own:?}");
    // An empty +l argument gets a well-formed 696.
    watcher.send("MODE #a +l :").await;
    let e = watcher.expect("696").await;
    assert_eq!(e.params[1..4], ["#a", "l", "*"]);
}

/// Regressions found by irctest (kick testDoubleKickMessages,
/// names testNamesMultipleChannels2812): TARGMAX is honest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_target_kick_and_names() {
    let srv = start("").await;
    let mut op = srv.user("op").await;
    let mut x = srv.user("x").await;
    let mut y = srv.user("y").await;
    for c in [&mut op, &mut x, &mut y] {
        join(c, "#k1").await;
    }
    join(&mut op, "#k2").await;
    op.send("KICK #k1,#k1 x,y :bye").await;
    let k1 = op.expect("KICK").await;
    let k2 = op.expect("KICK").await;
    assert_eq!(k1.params, ["#k1", "x", "bye"]);
    assert_eq!(
        k2.params,
        ["#k1", "y", "bye"],
        "one channel and one user per KICK line"
    );
    op.send("NAMES #k1,#k2").await;
    assert_eq!(op.expect("353").await.params[2], "#k1");
    assert_eq!(op.expect("353").await.params[2], "#k2");
    assert_eq!(op.expect("366").await.params[1], "#k1,#k2");
}

/// Regression from review: a joiner sees its own JOIN before any traffic of
/// the channel, even while the channel is busy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_comes_before_channel_traffic() {
    let srv = start("").await;
    let mut talker = srv.user("talker").await;
    join(&mut talker, "#busy").await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let spam = tokio::spawn(async move {
        let mut i = 0u64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            talker.send(&format!("PRIVMSG #busy :{i}")).await;
            i += 1;
            if i.is_multiple_of(50) {
                tokio::task::yield_now().await;
            }
        }
        talker
    });
    for n in 0..30 {
        let mut c = srv.user(&format!("joiner{n}")).await;
        c.send("JOIN #busy").await;
        let first = c
            .expect_match("a line about #busy", |m| {
                m.params.first().is_some_and(|p| p == "#busy")
            })
            .await;
        assert_eq!(
            first.command, "JOIN",
            "joiner{n} got {first:?} before its JOIN"
        );
        c.send("QUIT").await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    spam.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_elist() {
    let srv = start("").await;
    let mut a = srv.user("a").await;
    let mut b = srv.user("b").await;
    join(&mut a, "#chan1").await;
    join(&mut a, "#chan2").await;
    join(&mut b, "#chan2").await;
    join(&mut a, "#other").await;
    async fn listed(c: &mut TestClient, args: &str) -> Vec<String> {
        c.send(&format!("LIST {args}")).await;
        let mut out = Vec::new();
        loop {
            let m = c.recv().await.unwrap();
            match m.command.as_str() {
                "322" => out.push(m.params[1].clone()),
                "323" => break,
                _ => {}
            }
        }
        out.sort();
        out
    }
    assert_eq!(listed(&mut b, "#ch*").await, ["#chan1", "#chan2"]);
    assert_eq!(listed(&mut b, "!#ch*").await, ["#other"]);
    assert_eq!(listed(&mut b, ">1").await, ["#chan2"]);
    assert_eq!(listed(&mut b, "<2").await, ["#chan1", "#other"]);
    assert_eq!(listed(&mut b, "#c*,>1").await, ["#chan2"]);
    assert_eq!(listed(&mut b, "C<0").await, Vec::<String>::new());
    assert_eq!(listed(&mut b, "C<10").await, ["#chan1", "#chan2", "#other"]);
    assert_eq!(
        listed(&mut b, "T<10").await,
        Vec::<String>::new(),
        "no topics set"
    );
    assert_eq!(listed(&mut b, "#other").await, ["#other"]);
    // Minutes whose seconds do not fit in 64 bits (found by the connections
    // fuzzer: a multiply overflow; 2^62 minutes wrapped to 0 seconds, so
    // "created within" listed nothing and "created before" everything).
    assert_eq!(
        listed(&mut b, "C<4611686018427387904").await,
        ["#chan1", "#chan2", "#other"]
    );
    assert_eq!(
        listed(&mut b, "C>4611686018427387904").await,
        Vec::<String>::new()
    );
    a.send("TOPIC #other :set").await;
    a.expect("TOPIC").await;
    assert_eq!(listed(&mut b, "T<18446744073709551615").await, ["#other"]);
    assert_eq!(
        listed(&mut b, "T>4611686018427387904").await,
        Vec::<String>::new()
    );
}
