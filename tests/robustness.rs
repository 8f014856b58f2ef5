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
