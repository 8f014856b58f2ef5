//! Chat history over real connections: draft/chathistory (every subcommand,
//! msgid and timestamp references, every FAIL), draft/event-playback,
//! draft/message-redaction, and the promise: in memory only, bounded by
//! lines and age, never for ephemeral channels, dropped with the channel,
//! absent when `[history] enabled = false`, and direct messages only
//! between logged-in users where the config allows.

use std::time::Duration;

use crate::common::*;

const CAPS: &str = "message-tags server-time echo-message batch draft/chathistory";
const FAST: &str = "[services]\nbcrypt_cost = 4\n";

/// Like [`with_caps`], logged in to a new account named after the nick.
async fn account(srv: &TestServer, nick: &str, caps: &str) -> TestClient {
    let mut c = with_caps(srv, nick, caps).await;
    c.send("NS REGISTER pw-secret").await;
    c.expect("900").await;
    c.sync().await;
    c
}

async fn join(c: &mut TestClient, chan: &str) {
    c.send(&format!("JOIN {chan}")).await;
    c.expect("366").await;
    c.sync().await;
}

/// Sends a CHATHISTORY line: Ok(the batch's parameters, its lines) or
/// Err(the FAIL or numeric that answered instead).
async fn ask(c: &mut TestClient, line: &str) -> Result<(Vec<String>, Vec<Msg>), Msg> {
    c.send(line).await;
    let first = c
        .expect_match("an answer", |m| {
            matches!(m.command.as_str(), "BATCH" | "FAIL" | "421" | "461")
        })
        .await;
    if first.command != "BATCH" {
        return Err(first);
    }
    let id = first.params[0].trim_start_matches('+').to_string();
    let mut lines = Vec::new();
    loop {
        let m = c.recv().await.expect("closed inside a batch");
        if m.command == "BATCH" && m.params[0] == format!("-{id}") {
            return Ok((first.params[1..].to_vec(), lines));
        }
        assert_eq!(
            tag(&m, "batch"),
            Some(id.as_str()),
            "outside the batch: {m:?}"
        );
        lines.push(m);
    }
}

/// The texts of the PRIVMSG/NOTICE lines of a history batch.
async fn texts(c: &mut TestClient, line: &str) -> Vec<String> {
    let (_, lines) = ask(c, line)
        .await
        .unwrap_or_else(|e| panic!("{line}: {e:?}"));
    lines
        .iter()
        .filter(|m| m.command == "PRIVMSG" || m.command == "NOTICE")
        .map(|m| m.last().to_string())
        .collect()
}

fn fail(r: Result<(Vec<String>, Vec<Msg>), Msg>) -> Vec<String> {
    match r {
        Err(m) if m.command == "FAIL" => m.params,
        other => panic!("expected a FAIL: {other:?}"),
    }
}

/// Sends `n` messages `m0..` to `chan` from `c` (with echo-message) and
/// returns each echo's (msgid, time); 2 ms apart, so that their
/// millisecond timestamps differ.
async fn say(c: &mut TestClient, chan: &str, n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for i in 0..n {
        c.send(&format!("PRIVMSG {chan} :m{i}")).await;
        let e = c.expect("PRIVMSG").await;
        out.push((
            tag(&e, "msgid").unwrap().into(),
            tag(&e, "time").unwrap_or_default().into(),
        ));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    out
}

fn ms(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("m{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subcommand_by_msgid_and_by_timestamp() {
    let srv = start("").await;
    let mut a = with_caps(&srv, "alice", CAPS).await;
    let isupport: Vec<String> = a
        .seen
        .iter()
        .filter(|m| m.command == "005")
        .flat_map(|m| m.params.clone())
        .collect();
    assert!(
        isupport.contains(&"CHATHISTORY=1000".to_string()),
        "{isupport:?}"
    );
    assert!(isupport.contains(&"MSGREFTYPES=msgid,timestamp".to_string()));
    join(&mut a, "#h").await;
    let e = say(&mut a, "#h", 10).await;
    let id = |i: usize| format!("msgid={}", e[i].0);
    let ts = |i: usize| format!("timestamp={}", e[i].1);
    // A member who joined later reads what was said before.
    let mut b = with_caps(&srv, "bob", CAPS).await;
    join(&mut b, "#h").await;
    let (params, lines) = ask(&mut b, "CHATHISTORY LATEST #H * 100").await.unwrap();
    assert_eq!(params, ["chathistory", "#h"], "the canonical name");
    assert_eq!(lines.len(), 10, "no JOIN without event-playback: {lines:?}");
    for (m, (msgid, time)) in lines.iter().zip(&e) {
        assert_eq!(
            (tag(m, "msgid"), tag(m, "time")),
            (Some(msgid.as_str()), Some(time.as_str()))
        );
        assert_eq!(
            m.source.as_deref().map(|s| s.starts_with("alice!")),
            Some(true)
        );
    }
    for (line, want) in [
        ("LATEST #h * 5".to_string(), ms(5..10)),
        (format!("LATEST #h {} 100", id(4)), ms(5..10)),
        (format!("LATEST #h {} 2", ts(4)), ms(8..10)),
        (format!("BEFORE #h {} 100", id(6)), ms(0..6)),
        (format!("BEFORE #h {} 2", ts(6)), ms(4..6)),
        ("BEFORE #h * 3".to_string(), ms(7..10)),
        (format!("AFTER #h {} 100", id(3)), ms(4..10)),
        (format!("AFTER #h {} 3", ts(3)), ms(4..7)),
        (format!("AROUND #h {} 1", id(7)), ms(7..8)),
        (format!("AROUND #h {} 3", id(7)), ms(6..9)),
        (format!("AROUND #h {} 3", ts(7)), ms(6..9)),
        (format!("BETWEEN #h {} {} 100", id(0), id(9)), ms(1..9)),
        (format!("BETWEEN #h {} {} 100", id(9), id(0)), ms(1..9)),
        (format!("BETWEEN #h {} {} 3", id(0), id(9)), ms(1..4)),
        (format!("BETWEEN #h {} {} 3", ts(9), ts(0)), ms(6..9)),
        (format!("BETWEEN #h {} {} 3", ts(0), id(9)), ms(1..4)),
        ("LATEST #h msgid=unknown 10".to_string(), vec![]),
        (
            "LATEST #h timestamp=2262-01-01T00:00:00.000Z 10".to_string(),
            vec![],
        ),
    ] {
        assert_eq!(
            texts(&mut b, &format!("CHATHISTORY {line}")).await,
            want,
            "{line}"
        );
    }
    // The limit is capped at CHATHISTORY=, not refused.
    assert_eq!(
        texts(&mut b, "CHATHISTORY LATEST #h * 99999").await.len(),
        10
    );
    // Without batch the lines come plain.
    let mut plain = with_caps(&srv, "plain", "server-time").await;
    join(&mut plain, "#h").await;
    plain.send("CHATHISTORY LATEST #h * 2").await;
    let got = plain.sync().await;
    let texts: Vec<&str> = got.iter().map(|m| m.last()).collect();
    assert_eq!(texts, ["m8", "m9"], "{got:?}");
    assert!(
        got.iter()
            .all(|m| tag(m, "batch").is_none() && tag(m, "msgid").is_none())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_gets_its_fail() {
    let srv = start("[history]\nlines = 5\n").await;
    let mut a = with_caps(&srv, "alice", CAPS).await;
    let mut b = with_caps(&srv, "bob", CAPS).await;
    join(&mut a, "#h").await;
    join(&mut b, "#other").await;
    let isupport: Vec<String> = a
        .seen
        .iter()
        .filter(|m| m.command == "005")
        .flat_map(|m| m.params.clone())
        .collect();
    assert!(
        isupport.contains(&"CHATHISTORY=5".to_string()),
        "{isupport:?}"
    );
    say(&mut a, "#h", 8).await;
    assert_eq!(
        texts(&mut a, "CHATHISTORY LATEST #h * 1000").await,
        ms(3..8),
        "lines = 5"
    );
    for (line, want) in [
        ("FROB #h * 1", "INVALID_PARAMS FROB"),
        ("LATEST #h *", "INVALID_PARAMS LATEST"),
        ("BETWEEN #h * 1", "INVALID_PARAMS BETWEEN"),
        ("LATEST #h * 1 extra", "INVALID_PARAMS LATEST"),
        ("LATEST #h * 0", "INVALID_PARAMS LATEST 0"),
        ("LATEST #h * many", "INVALID_PARAMS LATEST many"),
        ("AFTER #h * 5", "INVALID_PARAMS AFTER *"),
        ("AFTER #h msgid= 5", "INVALID_PARAMS AFTER msgid="),
        (
            "BEFORE #h timestamp=yesterday 5",
            "INVALID_PARAMS BEFORE timestamp=yesterday",
        ),
        ("AROUND #h seq=3 5", "INVALID_MSGREFTYPE AROUND #h seq=3"),
        (
            "TARGETS msgid=x timestamp=2020-01-01T00:00:00Z 5",
            "INVALID_PARAMS TARGETS msgid=x",
        ),
        ("LATEST #nowhere * 5", "INVALID_TARGET LATEST #nowhere"),
        ("LATEST #other * 5", "INVALID_TARGET LATEST #other"),
        ("LATEST bob * 5", "MESSAGE_ERROR LATEST bob"),
    ] {
        let p = fail(ask(&mut a, &format!("CHATHISTORY {line}")).await);
        assert_eq!(p[0], "CHATHISTORY", "{line}");
        assert_eq!(p[1..p.len() - 1].join(" "), want, "{line}");
    }
    // No subcommand at all: the shared check's 461.
    assert_eq!(ask(&mut a, "CHATHISTORY").await.unwrap_err().command, "461");
    // Nothing broke: the channel still answers.
    assert_eq!(texts(&mut a, "CHATHISTORY LATEST #h * 1").await, ["m7"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_playback_only_with_the_cap() {
    let srv = start("").await;
    let mut a = with_caps(
        &srv,
        "alice",
        &format!("{CAPS} draft/event-playback extended-join"),
    )
    .await;
    let mut b = with_caps(&srv, "bob", CAPS).await;
    let mut c = srv.user("carol").await;
    join(&mut a, "#ev").await;
    join(&mut b, "#ev").await;
    join(&mut c, "#ev").await;
    a.send("TOPIC #ev :a topic").await;
    let topic = a.expect("TOPIC").await;
    a.send("@+draft/react=x TAGMSG #ev").await;
    let react = a.expect("TAGMSG").await;
    a.send("@+typing=active TAGMSG #ev").await;
    a.expect("TAGMSG").await;
    a.send("NOTICE #ev :a notice").await;
    a.expect("NOTICE").await;
    a.send("KICK #ev carol :out").await;
    a.expect("KICK").await;
    b.send("NICK bobby").await;
    b.expect("NICK").await;
    b.send("PART #ev :bye").await;
    b.expect("PART").await;
    c.send("JOIN #ev").await;
    c.expect("366").await;
    c.send("QUIT :gone").await;
    c.expect_closed().await;
    a.expect("QUIT").await;
    let (_, lines) = ask(&mut a, "CHATHISTORY LATEST #ev * 100").await.unwrap();
    let cmds: Vec<&str> = lines.iter().map(|m| m.command.as_str()).collect();
    assert_eq!(
        cmds,
        [
            "JOIN", "JOIN", "JOIN", "TOPIC", "TAGMSG", "NOTICE", "KICK", "NICK", "PART", "JOIN",
            "QUIT"
        ],
        "typing is not kept: {lines:?}"
    );
    // Each line is the line that was sent: same msgid and time.
    let t = &lines[3];
    assert_eq!(
        (t.params.clone(), tag(t, "msgid")),
        (topic.params.clone(), tag(&topic, "msgid"))
    );
    assert!(tag(&topic, "msgid").is_some());
    assert_eq!(tag(&lines[4], "msgid"), tag(&react, "msgid"));
    assert_eq!(tag(&lines[4], "+draft/react"), Some("x"));
    assert_eq!(lines[0].params, ["#ev", "*", "Real alice"], "extended-join");
    assert_eq!(lines[6].params, ["#ev", "carol", "out"]);
    assert_eq!((lines[7].nick(), lines[7].last()), ("bob", "bobby"));
    assert_eq!(lines[8].params, ["#ev", "bye"]);
    assert_eq!(lines[10].last(), "Quit: gone");
    // Without the cap, only PRIVMSG and NOTICE.
    b.send("JOIN #ev").await;
    b.expect("366").await;
    let (_, lines) = ask(&mut b, "CHATHISTORY LATEST #ev * 100").await.unwrap();
    let cmds: Vec<&str> = lines.iter().map(|m| m.command.as_str()).collect();
    assert_eq!(cmds, ["NOTICE"], "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_channels_keep_nothing_and_turning_ephemeral_drops_it() {
    let srv = start("[channels]\nmin_idle_timeout = \"1s\"\n").await;
    let mut a = with_caps(&srv, "alice", &format!("{CAPS} draft/event-playback")).await;
    join(&mut a, "#otr").await;
    a.send("MODE #otr +E 1h").await;
    a.expect("MODE").await;
    say(&mut a, "#otr", 3).await;
    a.send("TOPIC #otr :secret").await;
    a.expect("TOPIC").await;
    let (_, lines) = ask(&mut a, "CHATHISTORY LATEST #otr * 100").await.unwrap();
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(srv.handle.state().history_stats(), (0, 0));
    // A channel with history that turns ephemeral forgets it at once.
    join(&mut a, "#was").await;
    say(&mut a, "#was", 3).await;
    assert_eq!(
        texts(&mut a, "CHATHISTORY LATEST #was * 100").await.len(),
        3
    );
    assert!(srv.handle.state().history_stats().0 >= 3);
    a.send("MODE #was +E 1h").await;
    a.expect("MODE").await;
    let (_, lines) = ask(&mut a, "CHATHISTORY LATEST #was * 100").await.unwrap();
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(srv.handle.state().history_stats(), (0, 0));
    // And back to -E: it starts from nothing.
    a.send("MODE #was -E").await;
    a.expect("MODE").await;
    say(&mut a, "#was", 1).await;
    assert_eq!(texts(&mut a, "CHATHISTORY LATEST #was * 100").await, ["m0"]);
    // Channels ephemeral by default keep nothing from their first line.
    let srv = start("[channels]\nephemeral_by_default = true\n").await;
    let mut a = with_caps(&srv, "alice", &format!("{CAPS} draft/event-playback")).await;
    join(&mut a, "#e").await;
    say(&mut a, "#e", 3).await;
    let (_, lines) = ask(&mut a, "CHATHISTORY LATEST #e * 100").await.unwrap();
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(srv.handle.state().history_stats(), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn gone_after_a_self_destruct() {
    let srv = start("[channels]\nmin_idle_timeout = \"1s\"\nwarn_before = \"1s\"\n").await;
    let mut a = with_caps(&srv, "alice", CAPS).await;
    a.wait = Duration::from_secs(3600);
    join(&mut a, "#room").await;
    a.send("PRIVMSG #room :before").await;
    a.expect("PRIVMSG").await;
    assert!(srv.handle.state().history_stats().0 > 0);
    a.send("MODE #room +E 5s").await;
    a.expect("MODE").await;
    assert_eq!(srv.handle.state().history_stats(), (0, 0));
    let k = a.expect("KICK").await;
    assert_eq!(k.source.as_deref(), Some("irc.test"));
    join(&mut a, "#room").await;
    let (_, lines) = ask(&mut a, "CHATHISTORY LATEST #room * 100").await.unwrap();
    assert!(
        lines.is_empty(),
        "a new channel of the same name has none: {lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_with_the_channel_kept_while_registered() {
    let srv = start(FAST).await;
    let mut a = account(&srv, "alice", CAPS).await;
    // An unregistered channel: the last PART takes its history.
    join(&mut a, "#tmp").await;
    say(&mut a, "#tmp", 3).await;
    a.send("PART #tmp").await;
    a.expect("PART").await;
    assert_eq!(srv.handle.state().history_stats(), (0, 0), "memory returns");
    join(&mut a, "#tmp").await;
    assert!(
        texts(&mut a, "CHATHISTORY LATEST #tmp * 100")
            .await
            .is_empty()
    );
    // A registered channel is kept while empty, with its history...
    join(&mut a, "#reg").await;
    a.send("CS REGISTER #reg").await;
    a.expect_match("registered", |m| m.last().contains("registered to you"))
        .await;
    say(&mut a, "#reg", 2).await;
    a.send("PART #reg").await;
    a.expect("PART").await;
    join(&mut a, "#reg").await;
    assert_eq!(
        texts(&mut a, "CHATHISTORY LATEST #reg * 100").await,
        ms(0..2)
    );
    // ...until ChanServ CLOSE destroys it: the new one has none.
    a.send("CS CLOSE #reg").await;
    a.expect("KICK").await;
    join(&mut a, "#reg").await;
    assert!(
        texts(&mut a, "CHATHISTORY LATEST #reg * 100")
            .await
            .is_empty()
    );
    // SET HISTORY OFF drops it and keeps nothing more, across a CLOSE too.
    say(&mut a, "#reg", 2).await;
    a.send("CS SET #reg HISTORY OFF").await;
    a.expect_match("set", |m| m.last() == "HISTORY is set.")
        .await;
    assert!(
        texts(&mut a, "CHATHISTORY LATEST #reg * 100")
            .await
            .is_empty()
    );
    say(&mut a, "#reg", 2).await;
    assert!(
        texts(&mut a, "CHATHISTORY LATEST #reg * 100")
            .await
            .is_empty()
    );
    a.send("CS CLOSE #reg").await;
    a.expect("KICK").await;
    join(&mut a, "#reg").await;
    say(&mut a, "#reg", 1).await;
    assert!(
        texts(&mut a, "CHATHISTORY LATEST #reg * 100")
            .await
            .is_empty()
    );
    a.send("CS SET #reg HISTORY maybe").await;
    a.expect_match("syntax", |m| m.last().contains("HISTORY ON|OFF"))
        .await;
    a.send("CS SET #reg HISTORY ON").await;
    a.expect_match("set", |m| m.last() == "HISTORY is set.")
        .await;
    say(&mut a, "#reg", 1).await;
    assert_eq!(texts(&mut a, "CHATHISTORY LATEST #reg * 100").await, ["m0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_leave_a_thousand_and_memory_returns() {
    let srv = start("").await;
    let mut a = with_caps(&srv, "alice", "batch draft/chathistory message-tags").await;
    a.record = false;
    join(&mut a, "#big").await;
    let mut burst = String::new();
    for i in 0..10_000 {
        burst.push_str(&format!("PRIVMSG #big :message number {i}\r\n"));
    }
    a.send_raw(burst.as_bytes()).await;
    a.sync().await;
    let (entries, bytes) = srv.handle.state().history_stats();
    assert_eq!(entries, 1000);
    assert!(bytes < 1000 * 160, "{bytes} bytes for 1000 short messages");
    // Paging back through all of it finds exactly the last thousand.
    let mut got: Vec<String> = Vec::new();
    let mut before = "*".to_string();
    loop {
        let (_, lines) = ask(&mut a, &format!("CHATHISTORY BEFORE #big {before} 300"))
            .await
            .unwrap();
        if lines.is_empty() {
            break;
        }
        before = format!("msgid={}", tag(&lines[0], "msgid").unwrap());
        got.splice(0..0, lines.iter().map(|m| m.last().to_string()));
    }
    let want: Vec<String> = (9000..10_000)
        .map(|i| format!("message number {i}"))
        .collect();
    assert_eq!(got, want);
    a.send("PART #big").await;
    a.expect("PART").await;
    assert_eq!(srv.handle.state().history_stats(), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn max_age_is_respected() {
    let srv = start(
        "[history]\nmax_age = \"1h\"\n[limits]\nping_interval = \"1d\"\nping_timeout = \"1d\"\n",
    )
    .await;
    let mut a = with_caps(&srv, "alice", CAPS).await;
    a.wait = Duration::from_secs(7200);
    join(&mut a, "#aging").await;
    a.send("PRIVMSG #aging :old").await;
    a.expect("PRIVMSG").await;
    tokio::time::sleep(Duration::from_secs(30 * 60)).await;
    a.send("PRIVMSG #aging :newer").await;
    a.expect("PRIVMSG").await;
    tokio::time::sleep(Duration::from_secs(29 * 60)).await;
    assert_eq!(
        texts(&mut a, "CHATHISTORY LATEST #aging * 10").await,
        ["old", "newer"]
    );
    tokio::time::sleep(Duration::from_secs(2 * 60)).await;
    assert_eq!(
        texts(&mut a, "CHATHISTORY LATEST #aging * 10").await,
        ["newer"]
    );
    // Nobody asks again: the minute sweep forgets the rest all the same.
    tokio::time::sleep(Duration::from_secs(31 * 60)).await;
    assert_eq!(srv.handle.state().history_stats(), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absent_when_disabled() {
    let srv = start("[history]\nenabled = false\n").await;
    let mut c = srv.client().await;
    c.send("CAP LS 302").await;
    let mut offered = Vec::new();
    loop {
        let ls = c.expect("CAP").await;
        offered.extend(ls.last().split(' ').map(str::to_string));
        if ls.params.get(2).map(String::as_str) != Some("*") {
            break;
        }
    }
    assert!(offered.iter().any(|c| c == "batch"), "{offered:?}");
    for cap in [
        "draft/chathistory",
        "draft/event-playback",
        "draft/message-redaction",
    ] {
        assert!(
            !offered.iter().any(|x| x == cap),
            "{cap} offered: {offered:?}"
        );
    }
    c.send("CAP REQ :draft/chathistory").await;
    assert_eq!(c.expect("CAP").await.params[1], "NAK");
    c.send("CAP END").await;
    c.register("alice").await;
    assert!(c.seen.iter().filter(|m| m.command == "005").all(|m| {
        m.params
            .iter()
            .all(|p| !p.starts_with("CHATHISTORY") && !p.starts_with("MSGREFTYPES"))
    }));
    join(&mut c, "#h").await;
    c.send("PRIVMSG #h :nothing kept").await;
    c.send("TOPIC #h :no").await;
    c.sync().await;
    assert_eq!(srv.handle.state().history_stats(), (0, 0));
    c.send("CHATHISTORY LATEST #h * 10").await;
    assert_eq!(c.expect("421").await.params[1], "CHATHISTORY");
    c.send("REDACT #h abc").await;
    assert_eq!(c.expect("421").await.params[1], "REDACT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_only_between_logged_in_users_with_the_config_on() {
    let srv = start(&format!("{FAST}[history]\ndirect_messages = true\n")).await;
    let mut a = account(&srv, "alice", CAPS).await;
    let mut b = account(&srv, "bob", CAPS).await;
    let mut c = with_caps(&srv, "carol", CAPS).await;
    a.send("PRIVMSG bob :hi bob").await;
    a.expect("PRIVMSG").await;
    b.expect("PRIVMSG").await;
    // 2 ms apart: TARGETS orders conversations by their latest millisecond.
    tokio::time::sleep(Duration::from_millis(2)).await;
    b.send("NOTICE alice :hi alice").await;
    b.expect("NOTICE").await;
    a.expect("NOTICE").await;
    tokio::time::sleep(Duration::from_millis(2)).await;
    a.send("PRIVMSG alice :note to self").await;
    a.expect("PRIVMSG").await;
    a.send("PRIVMSG carol :hi carol").await;
    a.expect("PRIVMSG").await;
    c.send("PRIVMSG alice :from carol").await;
    c.expect("PRIVMSG").await;
    a.sync().await;
    assert_eq!(
        texts(&mut a, "CHATHISTORY LATEST bob * 10").await,
        ["hi bob", "hi alice"]
    );
    let (params, _) = ask(&mut b, "CHATHISTORY LATEST ALICE * 10").await.unwrap();
    assert_eq!(params, ["chathistory", "ALICE"]);
    assert_eq!(
        texts(&mut b, "CHATHISTORY LATEST alice * 10").await,
        ["hi bob", "hi alice"]
    );
    assert_eq!(
        texts(&mut a, "CHATHISTORY LATEST alice * 10").await,
        ["note to self"]
    );
    // Nothing with someone not logged in, from either side.
    assert!(
        texts(&mut a, "CHATHISTORY LATEST carol * 10")
            .await
            .is_empty()
    );
    let p = fail(ask(&mut c, "CHATHISTORY LATEST alice * 10").await);
    assert_eq!(p[1..4], ["MESSAGE_ERROR", "LATEST", "alice"]);
    assert_eq!(
        srv.handle.state().history_conversations(),
        2,
        "alice-bob and alice-alice"
    );
    // A third party sees nothing of alice and bob.
    let mut d = account(&srv, "dave", CAPS).await;
    assert!(
        texts(&mut d, "CHATHISTORY LATEST alice * 10")
            .await
            .is_empty()
    );
    // TARGETS: the channels one is on, and the conversations, oldest first.
    join(&mut a, "#t").await;
    tokio::time::sleep(Duration::from_millis(2)).await;
    a.send("PRIVMSG #t :in the channel").await;
    a.expect("PRIVMSG").await;
    let (params, lines) = ask(&mut a, "CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00.000Z timestamp=2262-01-01T00:00:00.000Z 10").await.unwrap();
    assert_eq!(params, ["draft/chathistory-targets"]);
    let names: Vec<&str> = lines.iter().map(|m| m.params[1].as_str()).collect();
    assert_eq!(names, ["bob", "alice", "#t"]);
    assert!(
        lines
            .iter()
            .all(|m| m.command == "CHATHISTORY" && m.params[0] == "TARGETS")
    );
    let (_, lines) = ask(&mut a, "CHATHISTORY TARGETS timestamp=2262-01-01T00:00:00.000Z timestamp=2020-01-01T00:00:00.000Z 1").await.unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].params[1], "#t", "backwards: the latest");

    // With the config off (the default), nothing at all is kept.
    let srv = start(FAST).await;
    let mut a = account(&srv, "alice", CAPS).await;
    let mut b = account(&srv, "bob", CAPS).await;
    a.send("PRIVMSG bob :not kept").await;
    b.expect("PRIVMSG").await;
    assert_eq!(srv.handle.state().history_conversations(), 0);
    assert_eq!(srv.handle.state().history_stats(), (0, 0));
    let p = fail(ask(&mut a, "CHATHISTORY LATEST bob * 10").await);
    assert_eq!(p[1..4], ["MESSAGE_ERROR", "LATEST", "bob"]);
}

const REDACT: &str =
    "message-tags server-time echo-message batch draft/chathistory draft/message-redaction";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redaction_removes_from_history_and_is_relayed() {
    let srv = start(&format!("{FAST}[history]\ndirect_messages = true\n")).await;
    let mut op = account(&srv, "alice", REDACT).await;
    let mut b = account(&srv, "bob", REDACT).await;
    let mut plain = with_caps(&srv, "carol", "message-tags echo-message").await;
    let mut outsider = with_caps(&srv, "dave", REDACT).await;
    join(&mut op, "#r").await;
    join(&mut b, "#r").await;
    join(&mut plain, "#r").await;
    let mine = say(&mut b, "#r", 1).await.remove(0).0;
    plain.sync().await;
    let theirs = say(&mut plain, "#r", 1).await.remove(0).0;
    op.sync().await;
    let ops = say(&mut op, "#r", 1).await.remove(0).0;
    b.sync().await;
    // One's own message: relayed to those with the cap, echoed.
    b.send(&format!("REDACT #r {mine}")).await;
    let echo = b.expect("REDACT").await;
    assert_eq!(echo.params, ["#r", &mine]);
    assert!(echo.source.as_deref().unwrap().starts_with("bob!"));
    let got = op.expect("REDACT").await;
    assert_eq!(got.params, ["#r", &mine]);
    assert!(tag(&got, "msgid").is_some());
    // Not someone else's, as a plain member.
    let p = fail(ask(&mut b, &format!("REDACT #r {ops}")).await);
    assert_eq!(p[1..4], ["REDACT_FORBIDDEN", "#r", &ops]);
    // A channel operator may, with a reason.
    op.send(&format!("REDACT #r {theirs} :spam")).await;
    assert_eq!(op.expect("REDACT").await.params, ["#r", &theirs, "spam"]);
    assert_eq!(b.expect("REDACT").await.params, ["#r", &theirs, "spam"]);
    // Gone from history; the one left is still there.
    assert_eq!(texts(&mut b, "CHATHISTORY LATEST #r * 10").await, ["m0"]);
    let (_, lines) = ask(&mut b, "CHATHISTORY LATEST #r * 10").await.unwrap();
    assert_eq!(tag(&lines[0], "msgid"), Some(ops.as_str()));
    // Refusals.
    for (line, want) in [
        (
            format!("REDACT #r {mine}"),
            vec!["UNKNOWN_MSGID", "#r", mine.as_str()],
        ),
        (
            "REDACT #r nosuchid".to_string(),
            vec!["UNKNOWN_MSGID", "#r", "nosuchid"],
        ),
        (
            "REDACT #nowhere x".to_string(),
            vec!["INVALID_TARGET", "#nowhere"],
        ),
    ] {
        let p = fail(ask(&mut op, &line).await);
        assert_eq!(p[1..=want.len()], want[..], "{line}");
    }
    let p = fail(ask(&mut outsider, &format!("REDACT #r {ops}")).await);
    assert_eq!(p[1..3], ["INVALID_TARGET", "#r"], "not a member");
    // The member without the cap saw no REDACT at all.
    let seen = plain.sync().await;
    assert!(
        plain
            .seen
            .iter()
            .chain(&seen)
            .all(|m| m.command != "REDACT")
    );
    // A direct message: one's own, relayed to the other end.
    op.send("PRIVMSG bob :oops").await;
    let dm = tag(&op.expect("PRIVMSG").await, "msgid")
        .unwrap()
        .to_string();
    b.expect_match("the DM", |m| m.command == "PRIVMSG" && m.last() == "oops")
        .await;
    let p = fail(ask(&mut b, &format!("REDACT alice {dm}")).await);
    assert_eq!(p[1], "REDACT_FORBIDDEN", "not bob's to redact");
    op.send(&format!("REDACT bob {dm} :typo")).await;
    assert_eq!(op.expect("REDACT").await.params, ["bob", &dm, "typo"]);
    assert_eq!(b.expect("REDACT").await.params, ["bob", &dm, "typo"]);
    assert!(
        texts(&mut b, "CHATHISTORY LATEST alice * 10")
            .await
            .is_empty()
    );
    assert_eq!(
        srv.handle.state().history_conversations(),
        0,
        "an empty one goes"
    );
    let p = fail(ask(&mut plain, &format!("REDACT alice {dm}")).await);
    assert_eq!(
        p[1..3],
        ["INVALID_TARGET", "alice"],
        "not logged in: nothing kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehash_applies_new_bounds_and_enabled_needs_a_restart() {
    let srv = start(&format!(
        "{FAST}[history]\ndirect_messages = true\nlines = 10\n"
    ))
    .await;
    let mut a = account(&srv, "alice", CAPS).await;
    let mut b = account(&srv, "bob", CAPS).await;
    a.send("PRIVMSG bob :kept for now").await;
    b.expect("PRIVMSG").await;
    join(&mut a, "#r").await;
    say(&mut a, "#r", 5).await;
    assert_eq!(srv.handle.state().history_conversations(), 1);
    let path = srv.dir.path().join("ircd.toml");
    let write = |extra: &str| std::fs::write(&path, config_text(srv.dir.path(), extra)).unwrap();
    write(&format!("{FAST}[history]\nlines = 2\n"));
    srv.handle.rehash().unwrap();
    assert_eq!(
        srv.handle.state().history_conversations(),
        0,
        "DMs no longer kept: gone"
    );
    assert_eq!(
        srv.handle.state().history_stats().0,
        2,
        "the channel cut to 2 lines"
    );
    assert_eq!(texts(&mut a, "CHATHISTORY LATEST #r * 10").await, ms(3..5));
    write(&format!("{FAST}[history]\nenabled = false\n"));
    let e = srv.handle.rehash().unwrap_err();
    assert!(e.contains("history.enabled"), "{e}");
    assert_eq!(texts(&mut a, "CHATHISTORY LATEST #r * 10").await, ms(3..5));
}

// ---------------------------------------------------------------------------
// draft/multiline and draft/relaymsg in history
// ---------------------------------------------------------------------------

const ML: &str = "message-tags server-time echo-message batch draft/chathistory draft/multiline draft/message-redaction";

/// Sends the lines of one client batch at once.
async fn batch(c: &mut TestClient, lines: &[&str]) {
    let mut all = String::new();
    for l in lines {
        all.push_str(l);
        all.push_str("\r\n");
    }
    c.send_raw(all.as_bytes()).await;
}

/// A multiline message to `target`: "hello", a blank line, "how is "
/// and "everyone?" joined to it; returns the echo's msgid.
async fn say_multiline(c: &mut TestClient, target: &str) -> String {
    batch(
        c,
        &[
            &format!("@+draft/reply=abc BATCH +ml draft/multiline {target}"),
            &format!("@batch=ml PRIVMSG {target} hello"),
            &format!("@batch=ml PRIVMSG {target} :"),
            &format!("@batch=ml PRIVMSG {target} :how is "),
            &format!("@batch=ml;draft/multiline-concat PRIVMSG {target} :everyone?"),
            "BATCH -ml",
        ],
    )
    .await;
    let echo = c.sync().await;
    assert_eq!(echo.len(), 6, "{echo:#?}");
    tag(&echo[0], "msgid").expect("msgid").to_string()
}

/// What a client with draft/multiline reads of a kept multiline message
/// in a `chathistory` batch: the nested batch, checked line by line
/// against what was sent (msgid, tags, the concat line).
fn check_nested(got: &[Msg], at: usize, target: &str, msgid: &str) {
    let outer = got[0].params[0].strip_prefix('+').unwrap();
    let start = &got[at];
    assert_eq!(start.command, "BATCH", "{got:#?}");
    assert_eq!(start.params[1..], ["draft/multiline", target]);
    assert_eq!(start.nick(), "alice");
    assert_eq!(tag(start, "batch"), Some(outer), "nested in chathistory");
    assert_eq!(tag(start, "msgid"), Some(msgid));
    assert_eq!(tag(start, "+draft/reply"), Some("abc"));
    assert!(tag(start, "time").is_some());
    let inner = start.params[0].strip_prefix('+').unwrap();
    let lines = &got[at + 1..at + 5];
    let texts: Vec<&str> = lines.iter().map(|m| m.last()).collect();
    assert_eq!(texts, ["hello", "", "how is ", "everyone?"]);
    for m in lines {
        assert_eq!(m.command, "PRIVMSG");
        assert_eq!(tag(m, "batch"), Some(inner), "only the inner batch: {m:?}");
        assert_eq!(tag(m, "msgid"), None);
    }
    let concat: Vec<bool> = lines
        .iter()
        .map(|m| tag(m, "draft/multiline-concat").is_some())
        .collect();
    assert_eq!(concat, [false, false, false, true]);
    let end = &got[at + 5];
    assert_eq!(end.params, [format!("-{inner}")]);
    assert_eq!(tag(end, "batch"), Some(outer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multiline_message_is_one_entry_replayed_as_it_was_sent() {
    let srv = start(&format!("{FAST}[history]\ndirect_messages = true\n")).await;
    let mut a = account(&srv, "alice", ML).await;
    let mut b = account(&srv, "bob", ML).await;
    let mut plain = with_caps(&srv, "carol", CAPS).await;
    for c in [&mut a, &mut b, &mut plain] {
        join(c, "#ml").await;
    }
    a.sync().await;
    let before = srv.handle.state().history_stats().0;
    let msgid = say_multiline(&mut a, "#ml").await;
    assert_eq!(
        srv.handle.state().history_stats().0,
        before + 1,
        "one entry for the whole message"
    );
    a.send("PRIVMSG #ml :after").await;
    a.expect("PRIVMSG").await;
    b.sync().await;
    plain.sync().await;

    // With draft/multiline: a draft/multiline batch inside the chathistory one.
    b.send("CHATHISTORY LATEST #ml * 10").await;
    let got = b.sync().await;
    assert_eq!(got.len(), 9, "{got:#?}");
    assert_eq!(got[0].params[1..], ["chathistory", "#ml"]);
    check_nested(&got, 1, "#ml", &msgid);
    let outer = got[0].params[0].strip_prefix('+').unwrap();
    assert_eq!(got[7].last(), "after");
    assert_eq!(tag(&got[7], "batch"), Some(outer));
    assert_eq!(got[8].params, [format!("-{outer}")]);

    // Without it: the non-blank lines one by one, the msgid on the first.
    let (_, lines) = ask(&mut plain, "CHATHISTORY LATEST #ml * 10")
        .await
        .unwrap();
    let got: Vec<&str> = lines.iter().map(|m| m.last()).collect();
    assert_eq!(got, ["hello", "how is ", "everyone?", "after"]);
    let ids: Vec<Option<&str>> = lines[..3].iter().map(|m| tag(m, "msgid")).collect();
    assert_eq!(ids, [Some(msgid.as_str()), None, None]);
    assert!(lines[..3].iter().all(|m| m.nick() == "alice"
        && tag(m, "+draft/reply") == Some("abc")
        && tag(m, "draft/multiline-concat").is_none()));
    // A msgid selector finds it as one message.
    assert_eq!(
        texts(
            &mut plain,
            &format!("CHATHISTORY AFTER #ml msgid={msgid} 10")
        )
        .await,
        ["after"]
    );

    // A direct message between logged-in users: the same, in the conversation.
    let dm = say_multiline(&mut a, "bob").await;
    b.sync().await;
    b.send("CHATHISTORY LATEST alice * 10").await;
    let got = b.sync().await;
    assert_eq!(got.len(), 8, "{got:#?}");
    assert_eq!(got[0].params[1..], ["chathistory", "alice"]);
    check_nested(&got, 1, "bob", &dm);

    // REDACT takes the whole message out of history, by its msgid.
    a.send(&format!("REDACT #ml {msgid}")).await;
    assert_eq!(a.expect("REDACT").await.params, ["#ml", msgid.as_str()]);
    assert_eq!(b.expect("REDACT").await.params, ["#ml", msgid.as_str()]);
    assert_eq!(
        texts(&mut plain, "CHATHISTORY LATEST #ml * 10").await,
        ["after"]
    );
    a.send(&format!("REDACT bob {dm}")).await;
    a.expect("REDACT").await;
    b.expect("REDACT").await;
    assert_eq!(srv.handle.state().history_conversations(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiline_and_relayed_messages_follow_the_rules_of_history() {
    let srv = start(&format!("{FAST}[channels]\nmin_idle_timeout = \"1s\"\n")).await;
    let mut a = account(&srv, "alice", &format!("{ML} draft/event-playback")).await;
    let mut b = account(&srv, "bob", ML).await;
    // An ephemeral channel keeps neither.
    join(&mut a, "#otr").await;
    a.send("MODE #otr +E 1h").await;
    a.expect("MODE").await;
    say_multiline(&mut a, "#otr").await;
    a.send("RELAYMSG #otr alice/matrix :relayed").await;
    a.expect("PRIVMSG").await;
    let (_, lines) = ask(&mut a, "CHATHISTORY LATEST #otr * 100").await.unwrap();
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(srv.handle.state().history_stats(), (0, 0));
    // Nor does a channel with ChanServ SET HISTORY OFF.
    join(&mut a, "#off").await;
    a.send("CS REGISTER #off").await;
    a.expect_match("registered", |m| m.last().contains("registered to you"))
        .await;
    a.send("CS SET #off HISTORY OFF").await;
    a.expect_match("set", |m| m.last() == "HISTORY is set.")
        .await;
    say_multiline(&mut a, "#off").await;
    a.send("RELAYMSG #off alice/matrix :relayed").await;
    a.expect("PRIVMSG").await;
    let (_, lines) = ask(&mut a, "CHATHISTORY LATEST #off * 100").await.unwrap();
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(srv.handle.state().history_stats(), (0, 0));
    // Direct messages are not kept with direct_messages off (the default).
    say_multiline(&mut a, "bob").await;
    b.sync().await;
    assert_eq!(srv.handle.state().history_conversations(), 0);
    assert_eq!(srv.handle.state().history_stats(), (0, 0));
    // A STATUSMSG batch is not kept either, as a STATUSMSG line is not.
    join(&mut a, "#s").await;
    let kept = srv.handle.state().history_stats().0;
    say_multiline(&mut a, "@#s").await;
    assert_eq!(srv.handle.state().history_stats().0, kept);

    // With [history] off, nothing at all.
    let srv = start("[history]\nenabled = false\n").await;
    let mut a = with_caps(
        &srv,
        "alice",
        "message-tags echo-message batch draft/multiline",
    )
    .await;
    join(&mut a, "#h").await;
    say_multiline(&mut a, "#h").await;
    a.send("RELAYMSG #h alice/matrix :relayed").await;
    a.expect("PRIVMSG").await;
    assert_eq!(srv.handle.state().history_stats(), (0, 0));
}

const RELAY: &str = "message-tags server-time echo-message batch draft/chathistory draft/message-redaction draft/relaymsg";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_message_is_kept_under_the_relayed_nick() {
    let srv = start("").await;
    let mut a = with_caps(&srv, "alice", RELAY).await;
    let mut b = with_caps(&srv, "bob", RELAY).await;
    let mut c = with_caps(&srv, "carol", CAPS).await;
    for x in [&mut a, &mut b, &mut c] {
        join(x, "#r").await;
    }
    a.sync().await;
    a.send("RELAYMSG #r alice/matrix :from the bridge").await;
    let echo = a.expect("PRIVMSG").await;
    let msgid = tag(&echo, "msgid").unwrap().to_string();
    b.expect("PRIVMSG").await;
    c.expect("PRIVMSG").await;
    // Replayed as it was sent: the relayed nick as source, and the relayer
    // in the draft/relaymsg tag for those with the cap.
    let (_, lines) = ask(&mut b, "CHATHISTORY LATEST #r * 10").await.unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let m = &lines[0];
    assert_eq!(m.source.as_deref(), Some("alice/matrix!relay@127.0.0.1"));
    assert_eq!(m.params, ["#r", "from the bridge"]);
    assert_eq!(tag(m, "msgid"), Some(msgid.as_str()));
    assert_eq!(tag(m, "time"), tag(&echo, "time"));
    assert_eq!(tag(m, "draft/relaymsg"), Some("alice"));
    let (_, lines) = ask(&mut c, "CHATHISTORY LATEST #r * 10").await.unwrap();
    assert_eq!(lines[0].nick(), "alice/matrix");
    assert_eq!(tag(&lines[0], "draft/relaymsg"), None);
    // A plain member may not redact it; the relayer may.
    let p = fail(ask(&mut b, &format!("REDACT #r {msgid}")).await);
    assert_eq!(p[1..4], ["REDACT_FORBIDDEN", "#r", &msgid]);
    a.send(&format!("REDACT #r {msgid}")).await;
    assert_eq!(a.expect("REDACT").await.params, ["#r", msgid.as_str()]);
    assert_eq!(b.expect("REDACT").await.params, ["#r", msgid.as_str()]);
    assert!(texts(&mut c, "CHATHISTORY LATEST #r * 10").await.is_empty());
}
