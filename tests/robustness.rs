//! Bad input gets a clear answer and affects nobody else; a client that
//! stops reading is cut off without slowing anyone down.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_long_line_gets_417_and_connection_lives_on() {
    let srv = start("").await;
    let mut c = srv.client().await;
    c.send(&format!("PRIVMSG x :{}", "a".repeat(600))).await;
    c.expect("417").await;
    c.register("survivor").await;
    // A line far past every buffer limit, without a line end for a while.
    c.send_raw(&vec![b'z'; 20_000]).await;
    c.send_raw(b"\r\nPING :after\r\n").await;
    c.expect("417").await;
    assert_eq!(c.expect("PONG").await.last(), "after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_affects_another_client() {
    let srv = start("").await;
    let mut bystander = srv.user("bystander").await;
    let mut talker = srv.user("talker").await;
    let mut bad = srv.user("bad").await;
    let junk: &[&[u8]] = &[
        b"\xff\xfe\xfd PRIVMSG bystander :x\r\n",
        b"PRIVMSG bystander :caf\xe9\r\n",
        b"PRIVMSG bystander :nul\x00byte\r\n",
        b":\r\n",
        b"@\r\n",
        b"@a=b\r\n",
        b":only-a-source\r\n",
        b"   \r\n",
        b"\x01\x02\x03\r\n",
        b"PRIVMSG\r\n",
        b"MODE\r\n",
        b"JOIN ,,,,\r\n",
        b"CAP\r\n",
        b"\r\r\n\n\n",
        b"NICK :\r\n",
        b"WHO %\r\n",
        b"MODE #nowhere +b\r\n",
        b"PRIVMSG @+@:# :x\r\n",
    ];
    for j in junk {
        bad.send_raw(j).await;
    }
    let answers = bad.sync().await;
    let fail = answers
        .iter()
        .find(|m| m.command == "FAIL")
        .expect("invalid UTF-8 gets FAIL");
    assert_eq!(fail.params[1], "INVALID_UTF8");
    assert!(
        answers.iter().any(|m| m.command == "400"),
        "NUL byte gets 400: {answers:?}"
    );
    assert!(answers.iter().any(|m| m.command == "461"), "{answers:?}");
    // The bystander received none of it, and still gets normal traffic.
    talker.send("PRIVMSG bystander :hello").await;
    let m = bystander.expect("PRIVMSG").await;
    assert_eq!((m.nick(), m.last()), ("talker", "hello"));
    let rest = bystander.sync().await;
    assert!(rest.is_empty(), "{rest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_reader_is_disconnected_with_sendq_exceeded() {
    let srv = start("[limits]\nsendq = 16384\n").await;
    let mut sender = srv.user("sender").await;
    let mut reader = srv.user("reader").await;
    // A client that never reads: a tiny receive buffer so the kernel fills fast.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let stream = sock.connect(srv.addr).await.unwrap();
    let mut stalled = TestClient::from_stream(Box::new(stream));
    stalled.register("stalled").await;
    for c in [&mut sender, &mut reader, &mut stalled] {
        c.send("JOIN #flood").await;
    }
    sender.expect("366").await;
    reader.expect("366").await;
    stalled.expect("366").await;
    // `stalled` stops reading from here on.
    let text = "x".repeat(400);
    let mut got = 0;
    let mut quit_at = None;
    let mut i = 0;
    // Flood until the server gives up on `stalled`, then 200 more lines to
    // show that the reader was never slowed down or cut off.
    while quit_at.is_none_or(|q| i < q + 200) {
        assert!(i < 100_000, "stalled client never hit its SendQ");
        sender.send(&format!("PRIVMSG #flood :{i} {text}")).await;
        loop {
            let m = reader.recv().await.expect("reader stays connected");
            if m.command == "QUIT" && m.nick() == "stalled" {
                assert_eq!(m.last(), "SendQ exceeded");
                quit_at = Some(i);
                continue;
            }
            if m.command == "PRIVMSG" {
                assert!(m.last().starts_with(&format!("{i} ")));
                got += 1;
                break;
            }
        }
        i += 1;
    }
    assert_eq!(got, i);
    // The stalled client's connection was closed by the server.
    drop(stalled);
    sender.send("WHOIS stalled").await;
    sender.expect("401").await;
}

const FLOOD: &str = "[flood]\nexempt = []\nburst = 10\nlines_per_second = 2.0\nrecvq = 16384\n";

#[tokio::test(start_paused = true)]
async fn flood_is_delayed_not_refused() {
    let srv = start(FLOOD).await;
    let mut c = srv.user("chatty").await;
    c.wait = std::time::Duration::from_secs(3600);
    // Registration used 2 lines of the burst of 10; let the bucket refill.
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    let t0 = tokio::time::Instant::now();
    let mut burst = String::new();
    for i in 0..30 {
        burst.push_str(&format!("PING :p{i}\r\n"));
    }
    c.send_raw(burst.as_bytes()).await;
    for i in 0..30 {
        let p = c.expect("PONG").await;
        assert_eq!(p.last(), format!("p{i}"), "every line answered, in order");
        let at = t0.elapsed().as_secs_f64();
        if i < 10 {
            assert!(at < 0.1, "line {i} of the burst delayed: {at}");
        } else {
            // Then 2 lines a second.
            let due = (i - 9) as f64 / 2.0;
            assert!((at - due).abs() < 0.1, "line {i} at {at}s, due at {due}s");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn excess_flood_disconnects_and_exempt_networks_are_not_delayed() {
    let srv = start(FLOOD).await;
    let mut flooder = srv.user("flooder").await;
    let mut witness = srv.user("witness").await;
    flooder.send("JOIN #f").await;
    flooder.expect("366").await;
    witness.send("JOIN #f").await;
    witness.expect("366").await;
    flooder.wait = std::time::Duration::from_secs(3600);
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    let line = format!("PRIVMSG #f :{}\r\n", "x".repeat(200));
    flooder.send_raw(line.repeat(100).as_bytes()).await;
    let lines = flooder.expect_closed().await;
    let err = lines.iter().find(|m| m.command == "ERROR").expect("ERROR");
    assert!(err.last().contains("Excess Flood"), "{err:?}");
    let q = witness.expect("QUIT").await;
    assert_eq!((q.nick(), q.last()), ("flooder", "Excess Flood"));
    // Some lines got through before the kill: delayed, not dropped up front.
    assert!(
        witness
            .seen
            .iter()
            .filter(|m| m.command == "PRIVMSG")
            .count()
            >= 10
    );
    drop(srv);

    // The default config exempts loopback (bridges and bouncers on the box).
    let srv = start("").await;
    let mut c = srv.user("bridge").await;
    let t0 = tokio::time::Instant::now();
    let mut burst = String::new();
    for i in 0..200 {
        burst.push_str(&format!("PING :b{i}\r\n"));
    }
    c.send_raw(burst.as_bytes()).await;
    for i in 0..200 {
        assert_eq!(c.expect("PONG").await.last(), format!("b{i}"));
    }
    assert!(t0.elapsed() < std::time::Duration::from_millis(100));
}

/// The ERROR a refused connection gets, then the close.
async fn refused(srv: &TestServer) -> String {
    let mut c = srv.client().await;
    let lines = c.expect_closed().await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].command, "ERROR");
    lines[0].last().to_string()
}

#[tokio::test(start_paused = true)]
async fn per_address_limits_and_throttle_with_exemptions() {
    let srv =
        start("[connections]\nexempt = []\nper_ip = 3\nthrottle = 4\nthrottle_window = \"60s\"\n")
            .await;
    let mut a = srv.user("a").await;
    let _b = srv.user("b").await;
    let _c = srv.user("c").await;
    assert!(refused(&srv).await.contains("too many host connections"));
    a.send("QUIT").await;
    a.expect_closed().await;
    // A slot is free again; this is the 4th connection in the window...
    let _d = srv.user("d").await;
    // ...and the next is throttled (the refused one did not count).
    drop(_d);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(refused(&srv).await.contains("throttled"));
    // After the window, new connections are welcome again.
    tokio::time::sleep(std::time::Duration::from_secs(61)).await;
    let _e = srv.user("e").await;
    drop(srv);

    // Exempt networks (loopback by default: a bridge's 60 users) are not limited.
    let srv = start("").await;
    let mut many = Vec::new();
    for i in 0..60 {
        many.push(srv.user(&format!("bridged{i}")).await);
    }
    assert_eq!(srv.handle.state().local_users(), 60);
}

/// Hostile parameters through every command in the dispatch table, for a
/// registered client on a channel: multibyte first characters, empty, `:`,
/// `*`, 400 bytes, 15 parameters. Nothing panics, every connection still
/// answers PING, and the nick is free for someone else after QUIT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_parameters_through_every_command() {
    let srv = start("").await;
    let long = "x".repeat(400);
    let sets: Vec<String> = vec![
        "é".into(),
        ":".into(),
        "::".into(),
        "*".into(),
        "é :é".into(),
        "日本 ,é :x y".into(),
        "#h é :é".into(),
        "#h +l :5 6".into(),
        "#h +kb é :é".into(),
        "a b c d e f g h i j k l m n o p".into(),
        long.clone(),
        format!("#h {long}"),
    ];
    let mut witness = srv.user("witness").await;
    witness.send("JOIN #h").await;
    witness.expect("366").await;
    witness.record = false;
    for (n, command) in ircd::commands::command_names().into_iter().enumerate() {
        if command == "QUIT" {
            continue;
        }
        let nick = format!("h{n}");
        let mut c = srv.user(&nick).await;
        c.record = false;
        c.send("JOIN #h").await;
        // Three failed OPERs close a connection by design: two here.
        let take = if command == "OPER" { 2 } else { sets.len() };
        let mut burst = format!("{command}\r\n{command} :\r\n");
        for p in sets.iter().take(take) {
            burst.push_str(&format!("{command} {p}\r\n"));
        }
        c.send_raw(burst.as_bytes()).await;
        c.sync().await;
        witness.sync().await;
    }
    // LIST é used to panic the worker (split_at(1) on a multibyte char).
    let mut lister = srv.user("lister").await;
    lister.send("LIST é").await;
    lister.expect("323").await;
    lister.send("LIST >é,<é,!é,C>é,T<é,é*").await;
    lister.expect("323").await;
    lister.send("QUIT").await;
    lister.expect_closed().await;
    let mut again = srv.user("lister").await;
    again.sync().await;
}

/// A panic inside a handler (a hook only test builds have) ends only that
/// connection, and leaves no ghost: the nick is free, the memberships are
/// gone (the channel hears QUIT), the per-address slot is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_panic_leaves_no_ghost() {
    let srv = start("[connections]\nper_ip = 2\nexempt = []\n").await;
    let mut a = srv.user("victim").await;
    let mut b = srv.user("bystander").await;
    for c in [&mut a, &mut b] {
        c.send("JOIN #room").await;
        c.expect("366").await;
    }
    b.sync().await;
    a.send("__PANIC secret-payload").await;
    let end = a.expect_closed().await;
    assert!(
        end.iter()
            .any(|m| m.command == "ERROR" && m.last().contains("Internal error")),
        "{end:?}"
    );
    let quit = b.expect("QUIT").await;
    assert_eq!(quit.nick(), "victim");
    // A third connection from the same address fits (per_ip = 2) only if
    // the dead one's slot was released, and it can take the nick.
    let mut c = srv.user("victim").await;
    c.send("NAMES #room").await;
    let names = c.expect("353").await;
    assert_eq!(names.last(), "bystander");
    b.send("PRIVMSG #room :still here").await;
    b.sync().await;
    c.sync().await;
}
