//! IRCv3 drafts for bridges and modern clients: draft/multiline,
//! draft/relaymsg, draft/read-marker, and the NICKLEN cut of nicks sent
//! before registration; every refusal with its exact FAIL code.

use std::time::Duration;

use crate::common::*;

const BASE: &str = "message-tags batch echo-message server-time labeled-response";
const FAST: &str = "[services]\nbcrypt_cost = 4\n";

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

async fn send_all(c: &mut TestClient, lines: &[&str]) {
    let mut all = String::new();
    for l in lines {
        all.push_str(l);
        all.push_str("\r\n");
    }
    c.send_raw(all.as_bytes()).await;
}

// ---------------------------------------------------------------------------
// draft/multiline
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiline_is_one_batch_for_the_cap_and_plain_lines_for_the_rest() {
    let srv = start("").await;
    let ml = format!("{BASE} draft/multiline");
    let mut a = with_caps(&srv, "alice", &ml).await;
    let mut b = with_caps(&srv, "bob", &ml).await;
    let mut c = with_caps(&srv, "carol", "message-tags server-time").await;
    let mut d = srv.user("dave").await;
    for x in [&mut a, &mut b, &mut c, &mut d] {
        join(x, "#m").await;
    }
    for x in [&mut a, &mut b, &mut c, &mut d] {
        x.sync().await;
    }
    // The cap is offered with its limits.
    let mut e = srv.client().await;
    e.send("CAP LS 302").await;
    let ls = crate::ircv3::ls_all(&mut e).await;
    assert!(
        ls.split(' ')
            .any(|c| c == "draft/multiline=max-bytes=4096,max-lines=100"),
        "{ls:?}"
    );

    send_all(
        &mut a,
        &[
            "@label=xyz;+draft/reply=abc BATCH +123 draft/multiline #m",
            "@batch=123 PRIVMSG #m hello",
            "@batch=123 PRIVMSG #m :",
            "@batch=123 PRIVMSG #m :how is ",
            "@batch=123;draft/multiline-concat PRIVMSG #m :everyone?",
            "BATCH -123",
        ],
    )
    .await;
    // The echo: one batch, labeled on its BATCH line only, no ACK.
    let echo = a.sync().await;
    assert_eq!(
        commands(&echo),
        ["BATCH", "PRIVMSG", "PRIVMSG", "PRIVMSG", "PRIVMSG", "BATCH"],
        "{echo:#?}"
    );
    let start = &echo[0];
    assert_eq!(tag(start, "label"), Some("xyz"));
    assert_eq!(start.params[1..], ["draft/multiline", "#m"]);
    assert_eq!(start.nick(), "alice");
    let id = start.params[0].strip_prefix('+').unwrap().to_string();
    let msgid = tag(start, "msgid").expect("msgid").to_string();
    let time = tag(start, "time").expect("time").to_string();
    assert_eq!(tag(start, "+draft/reply"), Some("abc"));
    for m in &echo[1..5] {
        assert_eq!(tag(m, "batch"), Some(id.as_str()), "{m:?}");
        assert_eq!(tag(m, "msgid"), None);
        assert_eq!(tag(m, "label"), None);
    }
    assert_eq!(echo[2].params, ["#m", ""]);
    assert_eq!(tag(&echo[4], "draft/multiline-concat"), Some(""));
    assert_eq!(tag(&echo[3], "draft/multiline-concat"), None);
    assert_eq!(echo[5].params, [format!("-{id}")]);
    assert_eq!(tag(&echo[5], "label"), None);

    // Another client with the cap: the same batch, same msgid and time.
    let got = b.sync().await;
    assert_eq!(commands(&got), commands(&echo), "{got:#?}");
    let bid = got[0].params[0].strip_prefix('+').unwrap();
    assert_eq!(tag(&got[0], "msgid"), Some(msgid.as_str()));
    assert_eq!(tag(&got[0], "time"), Some(time.as_str()));
    let texts: Vec<&str> = got[1..5].iter().map(|m| m.last()).collect();
    assert_eq!(texts, ["hello", "", "how is ", "everyone?"]);
    assert!(got[1..5].iter().all(|m| tag(m, "batch") == Some(bid)));
    assert_eq!(got[5].params, [format!("-{bid}")]);

    // Without the cap: the non-blank lines one by one, the msgid on the
    // first, the client tags and the time on all.
    let plain = c.sync().await;
    assert_eq!(commands(&plain), ["PRIVMSG"; 3], "{plain:#?}");
    let texts: Vec<&str> = plain.iter().map(|m| m.last()).collect();
    assert_eq!(texts, ["hello", "how is ", "everyone?"]);
    let ids: Vec<Option<&str>> = plain.iter().map(|m| tag(m, "msgid")).collect();
    assert_eq!(ids, [Some(msgid.as_str()), None, None]);
    assert!(plain.iter().all(|m| tag(m, "time") == Some(time.as_str())
        && tag(m, "+draft/reply") == Some("abc")
        && tag(m, "draft/multiline-concat").is_none()
        && tag(m, "batch").is_none()));
    let bare = d.sync().await;
    assert_eq!(commands(&bare), ["PRIVMSG"; 3]);
    assert!(bare.iter().all(|m| m.tags.is_none() && m.nick() == "alice"));

    // NOTICE batches too; without echo-message the sender gets nothing but
    // the ACK of its label.
    a.send("CAP REQ -echo-message").await;
    a.expect("CAP").await;
    send_all(
        &mut a,
        &[
            "@label=n1 BATCH +n draft/multiline #m",
            "@batch=n NOTICE #m :one",
            "@batch=n NOTICE #m :two",
            "BATCH -n",
        ],
    )
    .await;
    let ack = a.sync().await;
    assert_eq!(commands(&ack), ["ACK"], "{ack:#?}");
    assert_eq!(tag(&ack[0], "label"), Some("n1"));
    let got = d.sync().await;
    assert_eq!(commands(&got), ["NOTICE", "NOTICE"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiline_refusals_have_their_fail_codes_and_deliver_nothing() {
    let srv = start("[multiline]\nmax_lines = 3\nmax_bytes = 600\n").await;
    let ml = format!("{BASE} draft/multiline");
    let mut a = with_caps(&srv, "alice", &ml).await;
    let mut b = with_caps(&srv, "bob", &ml).await;
    let mut c = with_caps(&srv, "carol", BASE).await;
    for x in [&mut a, &mut b, &mut c] {
        join(x, "#m").await;
        x.sync().await;
    }
    a.sync().await;
    let x300 = format!("@batch=bytes PRIVMSG #m :{}", "x".repeat(300));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "BATCH +lines draft/multiline #m",
                "@batch=lines PRIVMSG #m :1",
                "@batch=lines PRIVMSG #m :2",
                "@batch=lines PRIVMSG #m :3",
                "@batch=lines PRIVMSG #m :4",
                // The rest of a failed batch is ignored.
                "@batch=lines PRIVMSG #m :5",
                "BATCH -lines",
            ],
            "MULTILINE_MAX_LINES 3",
        ),
        (
            vec![
                "BATCH +bytes draft/multiline #m",
                &x300,
                &x300,
                "BATCH -bytes",
            ],
            "MULTILINE_MAX_BYTES 600",
        ),
        (
            vec![
                "BATCH +tg draft/multiline #m",
                "@batch=tg PRIVMSG #m :hi",
                "@batch=tg PRIVMSG #other :hi",
                "BATCH -tg",
            ],
            "MULTILINE_INVALID_TARGET #m #other",
        ),
        (
            vec![
                "BATCH +cc draft/multiline #m",
                "@batch=cc PRIVMSG #m :hello ",
                "@batch=cc;draft/multiline-concat PRIVMSG #m :",
                "BATCH -cc",
            ],
            "MULTILINE_INVALID",
        ),
        (
            vec![
                "BATCH +bl draft/multiline #m",
                "@batch=bl PRIVMSG #m :",
                "@batch=bl PRIVMSG #m :",
                "BATCH -bl",
            ],
            "MULTILINE_INVALID",
        ),
        (
            vec![
                "BATCH +mix draft/multiline #m",
                "@batch=mix PRIVMSG #m :a privmsg",
                "@batch=mix NOTICE #m :then a notice",
                "BATCH -mix",
            ],
            "MULTILINE_INVALID",
        ),
        (
            vec![
                "BATCH +tag draft/multiline #m",
                "@batch=other PRIVMSG #m :hi",
                "BATCH -tag",
            ],
            "MULTILINE_INVALID",
        ),
        (
            vec![
                "BATCH +ctcp draft/multiline #m",
                "@batch=ctcp PRIVMSG #m :\x01ACTION waves\x01",
                "@batch=ctcp PRIVMSG #m :and says hi",
                "BATCH -ctcp",
            ],
            "MULTILINE_INVALID",
        ),
        (
            vec![
                "BATCH +tm draft/multiline #m",
                "@batch=tm TAGMSG #m",
                "BATCH -tm",
            ],
            "MULTILINE_INVALID",
        ),
        (
            vec!["BATCH +nt draft/multiline", "@batch=nt PRIVMSG #m :x"],
            "MULTILINE_INVALID",
        ),
        (vec!["BATCH -nothing"], "MULTILINE_INVALID"),
        (
            vec![
                "BATCH +one draft/multiline #m",
                "BATCH +two draft/multiline #m",
                "@batch=two PRIVMSG #m :x",
                "BATCH -two",
            ],
            "MULTILINE_INVALID",
        ),
        (
            vec![
                "BATCH +ty other/type #m",
                "@batch=ty PRIVMSG #m :x",
                "BATCH -ty",
            ],
            "UNKNOWN_TYPE ty other/type",
        ),
        (
            vec!["BATCH +bad_ref draft/multiline #m"],
            "INVALID_REFTAG +bad_ref",
        ),
        (vec!["BATCH nosign"], "INVALID_REFTAG nosign"),
    ];
    for (lines, code) in &cases {
        send_all(&mut a, lines).await;
        let got = a.sync().await;
        assert_eq!(fails(&got), [*code], "{lines:?}: {got:#?}");
        assert_eq!(got.len(), 1, "{lines:?}: {got:#?}");
    }
    // A line of another command breaks the batch off, and runs.
    send_all(
        &mut a,
        &[
            "BATCH +brk draft/multiline #m",
            "@batch=brk PRIVMSG #m :hi",
            "TOPIC #m",
            "@batch=brk PRIVMSG #m :ignored",
            "BATCH -brk",
        ],
    )
    .await;
    let got = a.sync().await;
    assert_eq!(fails(&got), ["MULTILINE_INVALID"], "{got:#?}");
    assert_eq!(commands(&got), ["FAIL", "331"]);
    // An error at BATCH - answers under the opening BATCH's label.
    send_all(
        &mut a,
        &[
            "@label=L1 BATCH +lb draft/multiline #m",
            "@batch=lb PRIVMSG #m :",
            "BATCH -lb",
        ],
    )
    .await;
    let got = a.sync().await;
    assert_eq!(fails(&got), ["MULTILINE_INVALID"]);
    assert_eq!(tag(&got[0], "label"), Some("L1"));
    // Standard numerics for targets: no such channel or nick.
    for (target, numeric) in [("#nowhere", "403"), ("nobody", "401")] {
        send_all(
            &mut a,
            &[
                &format!("BATCH +t draft/multiline {target}"),
                &format!("@batch=t PRIVMSG {target} :hi"),
                "BATCH -t",
            ],
        )
        .await;
        assert_eq!(commands(&a.sync().await), [numeric]);
    }
    // Cannot speak in a moderated channel without voice.
    a.send("MODE #m +m").await;
    a.expect("MODE").await;
    b.sync().await;
    send_all(
        &mut b,
        &[
            "BATCH +mod draft/multiline #m",
            "@batch=mod PRIVMSG #m :hi",
            "BATCH -mod",
        ],
    )
    .await;
    assert_eq!(commands(&b.sync().await), ["404"]);
    // A client without the cap cannot open one; its lines go nowhere.
    c.sync().await;
    send_all(
        &mut c,
        &[
            "BATCH +nc draft/multiline #m",
            "@batch=nc PRIVMSG #m :hi",
            "BATCH -nc",
        ],
    )
    .await;
    let got = c.sync().await;
    assert_eq!(fails(&got), ["UNKNOWN_TYPE nc draft/multiline"], "{got:#?}");
    assert_eq!(got.len(), 1);
    // A lone PRIVMSG with a stray batch tag is refused, not delivered.
    c.send("@batch=stray PRIVMSG #m :hi").await;
    assert_eq!(fails(&c.sync().await), ["MULTILINE_INVALID"]);
    // Nothing of all that reached anyone.
    let seen = b.sync().await;
    assert!(
        !seen
            .iter()
            .any(|m| m.command == "PRIVMSG" || m.command == "BATCH"),
        "{seen:#?}"
    );
    // A single CTCP line is a valid batch.
    a.send("MODE #m -m").await;
    send_all(
        &mut a,
        &[
            "BATCH +act draft/multiline #m",
            "@batch=act PRIVMSG #m :\x01ACTION waves\x01",
            "BATCH -act",
        ],
    )
    .await;
    a.sync().await;
    let got = c.sync().await;
    let m = got
        .iter()
        .find(|m| m.command == "PRIVMSG")
        .expect("PRIVMSG");
    assert_eq!(m.last(), "\x01ACTION waves\x01");
}

#[tokio::test(start_paused = true)]
async fn an_open_batch_times_out() {
    let srv = start("[multiline]\ntimeout = \"5s\"\n[limits]\nping_interval = \"1h\"\n").await;
    let mut a = with_caps(&srv, "alice", &format!("{BASE} draft/multiline")).await;
    let mut b = srv.user("bob").await;
    a.wait = Duration::from_secs(3600);
    b.wait = Duration::from_secs(3600);
    join(&mut a, "#m").await;
    join(&mut b, "#m").await;
    a.sync().await;
    a.send("BATCH +t1 draft/multiline #m").await;
    a.send("@batch=t1 PRIVMSG #m :early").await;
    a.sync().await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    a.send("@batch=t1 PRIVMSG #m :late").await;
    a.send("BATCH -t1").await;
    assert_eq!(fails(&a.sync().await), ["TIMEOUT t1"]);
    a.send("BATCH +t2 draft/multiline #m").await;
    a.send("@batch=t2 PRIVMSG #m :early").await;
    a.sync().await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    a.send("BATCH -t2").await;
    assert_eq!(fails(&a.sync().await), ["TIMEOUT t2"]);
    // Within the timeout, a batch goes through.
    a.send("BATCH +t3 draft/multiline #m").await;
    a.send("@batch=t3 PRIVMSG #m :early").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    a.send("BATCH -t3").await;
    a.sync().await;
    let got = b.sync().await;
    assert_eq!(commands(&got), ["PRIVMSG"], "{got:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiline_to_a_nick_with_away_and_long_lines_split_to_fit() {
    let srv = start("").await;
    let ml = format!("{BASE} draft/multiline");
    let mut a = with_caps(&srv, "alice", &ml).await;
    let mut b = with_caps(&srv, "bob", &ml).await;
    let mut d = srv.user("dave").await;
    d.send("AWAY :gone fishing").await;
    d.expect("306").await;
    // One line that fits the client's 512 but not the relayed form (the
    // source is added), and a second one.
    let long = format!("{} end", "word ".repeat(96));
    assert!(long.len() > 470 && long.len() < 490);
    let line = format!("@batch=dm PRIVMSG dave :{long}");
    assert!(line.len() < 510);
    for to in ["dave", "bob"] {
        send_all(
            &mut a,
            &[
                &format!("BATCH +dm draft/multiline {to}"),
                &line.replace("dave", to),
                &format!("@batch=dm PRIVMSG {to} :second"),
                "BATCH -dm",
            ],
        )
        .await;
    }
    let got = a.sync().await;
    // The away reply comes after the echo batch for dave; none for bob.
    let away: Vec<&Msg> = got.iter().filter(|m| m.command == "301").collect();
    assert_eq!(away.len(), 1);
    assert_eq!(away[0].params[1..], ["dave", "gone fishing"]);
    let plain = d.sync().await;
    assert_eq!(commands(&plain), ["PRIVMSG"; 3], "{plain:#?}");
    // Every line fit in 512 bytes (the test client checks); the pieces of
    // the long one join back into it.
    assert_eq!(format!("{}{}", plain[0].last(), plain[1].last()), long);
    assert!(plain[0].last().ends_with(' '));
    assert_eq!(plain[2].last(), "second");
    let got = b.sync().await;
    assert_eq!(
        commands(&got),
        ["BATCH", "PRIVMSG", "PRIVMSG", "PRIVMSG", "BATCH"]
    );
    assert_eq!(got[0].params[2], "bob");
    assert_eq!(tag(&got[2], "draft/multiline-concat"), Some(""));
    assert_eq!(tag(&got[3], "draft/multiline-concat"), None);
    assert_eq!(format!("{}{}", got[1].last(), got[2].last()), long);
}

#[tokio::test(start_paused = true)]
async fn flood_control_charges_a_batch_by_its_size() {
    let srv = start(
        "[flood]\nexempt = []\nburst = 10\nlines_per_second = 2.0\nrecvq = 16384\n[limits]\nping_interval = \"1h\"\n",
    )
    .await;
    let mut a = with_caps(&srv, "alice", &format!("{BASE} draft/multiline")).await;
    let mut b = srv.user("bob").await;
    a.wait = Duration::from_secs(3600);
    b.wait = Duration::from_secs(3600);
    join(&mut a, "#m").await;
    join(&mut b, "#m").await;
    // Let the bucket fill up again (10 lines).
    tokio::time::sleep(Duration::from_secs(30)).await;
    let t0 = tokio::time::Instant::now();
    // 30 lines of 100 bytes: three times the burst, taken at once; the
    // batch costs 6 lines (3029 bytes / 512 + 1).
    let text = "y".repeat(99);
    let mut lines = vec!["BATCH +f draft/multiline #m".to_string()];
    for i in 0..30 {
        lines.push(format!("@batch=f PRIVMSG #m :{i}{text}"));
    }
    lines.push("BATCH -f".into());
    for i in 0..10 {
        lines.push(format!("PING :p{i}"));
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    send_all(&mut a, &refs).await;
    for i in 0..30 {
        let m = b.expect("PRIVMSG").await;
        assert!(m.last().starts_with(&i.to_string()));
    }
    assert!(
        t0.elapsed() < Duration::from_millis(100),
        "{:?}",
        t0.elapsed()
    );
    for i in 0..10 {
        let p = a.expect("PONG").await;
        assert_eq!(p.last(), format!("p{i}"));
        let at = t0.elapsed().as_secs_f64();
        if i < 4 {
            assert!(at < 0.1, "PING {i} delayed: {at}");
        } else {
            let due = (i - 3) as f64 / 2.0;
            assert!((at - due).abs() < 0.1, "PING {i} at {at}s, due at {due}s");
        }
    }
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
