//! Server bans that last: KLINE and DLINE with durations and two reasons,
//! applied to connected clients and to new connections (D-lines before any
//! TLS handshake, and on the real address behind a PROXY header), their
//! listing (STATS, TESTLINE), expiry on the paused clock, and persistence
//! across a restart of the binary.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::common::{Msg, TestClient, TestServer, start};

fn oper_block() -> String {
    let hash = bcrypt::hash("operpw", 4).unwrap();
    format!("[[oper]]\nname = \"root\"\npassword = {hash:?}\n")
}

async fn oper(c: &mut TestClient) {
    c.send("OPER root operpw").await;
    c.expect("381").await;
}

/// A client behind the test's PROXY v1 header, from `ip`.
async fn via_proxy(addr: SocketAddr, ip: &str) -> TestClient {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(format!("PROXY TCP4 {ip} 127.0.0.1 40000 6667\r\n").as_bytes())
        .await
        .unwrap();
    TestClient::from_stream(Box::new(s))
}

/// Tries to register; returns what the server sent until it closed.
async fn refused_at_registration(srv: &TestServer, user: &str) -> Vec<Msg> {
    let mut c = srv.client().await;
    c.send("NICK someone").await;
    c.send(&format!("USER {user} 0 * :r")).await;
    c.expect_closed().await
}

/// The server NOTICEs `c` got until the one containing `what`.
async fn notice(c: &mut TestClient, what: &str) -> String {
    let m = c
        .expect_match(what, |m| m.command == "NOTICE" && m.last().contains(what))
        .await;
    m.last().to_string()
}

#[tokio::test]
async fn kline_hits_connected_clients_and_registrations() {
    let srv = start(&oper_block()).await;
    let mut op = srv.user("op").await;
    let mut peer = srv.user("peer").await;
    let mut victim = srv.user("victim").await;
    for c in [&mut peer, &mut victim] {
        c.send("JOIN #room").await;
        c.expect("366").await;
    }
    peer.expect("JOIN").await;
    // Not an oper: 481, and nothing changes.
    peer.send("KLINE victim@* :no").await;
    peer.expect("481").await;
    peer.send("STATS k").await;
    peer.expect("481").await;
    oper(&mut op).await;
    op.send("KLINE").await;
    assert_eq!(op.expect("461").await.params[1], "KLINE");
    op.send("KLINE 10").await;
    op.expect("461").await;
    op.send("KLINE *@* :everyone").await;
    assert!(notice(&mut op, "KLINE").await.contains("too wide"));
    op.send("KLINE 5x victim@* :x").await;
    assert!(notice(&mut op, "KLINE").await.contains("5x"));
    op.send(&format!("KLINE victim@* :{}", "r".repeat(201)))
        .await;
    assert!(notice(&mut op, "KLINE").await.contains("longer than"));

    op.send("KLINE victim@* :go away|spam bot").await;
    assert_eq!(
        notice(&mut op, "Added").await,
        "Added permanent K-line [victim@*]; 1 connection(s) closed"
    );
    let lines = victim.expect_closed().await;
    let banned = lines.iter().find(|m| m.command == "465").expect("465");
    assert_eq!(banned.last(), "You are banned from this server: go away");
    let err = lines.last().unwrap();
    assert_eq!(err.command, "ERROR");
    assert_eq!(err.last(), "Closing Link: 127.0.0.1 (Banned: go away)");
    // Peers see the user reason, never the oper reason.
    let quit = peer.expect("QUIT").await;
    assert_eq!(quit.last(), "Banned: go away");
    assert!(!peer.seen.iter().any(|m| m.raw.contains("spam bot")));

    // A new registration with that username is refused before 001.
    let lines = refused_at_registration(&srv, "victim").await;
    assert!(!lines.iter().any(|m| m.command == "001"), "{lines:?}");
    assert!(lines.iter().any(|m| m.command == "465"), "{lines:?}");
    assert_eq!(
        lines.last().unwrap().last(),
        "Closing Link: 127.0.0.1 (Banned: go away)"
    );
    // Another user from the same host is welcome.
    let _other = srv.user("other").await;

    op.send("KLINE victim@* :again").await;
    assert!(
        notice(&mut op, "already")
            .await
            .contains("go away|spam bot")
    );
    op.send("STATS k").await;
    let row = op.expect("216").await;
    assert_eq!(
        row.params[1..],
        ["K", "*", "*", "victim", "go away|spam bot"].map(String::from)
    );
    assert_eq!(
        op.expect("219").await.params[1..],
        ["k", "End of /STATS report"].map(String::from)
    );
    op.send("TESTLINE someone!victim@example.org").await;
    let t = op.expect("725").await;
    assert_eq!(
        t.params[1..],
        ["K", "0", "victim@*", "go away|spam bot"].map(String::from)
    );
    op.send("TESTLINE nobody@example.org").await;
    assert_eq!(op.expect("726").await.params[1], "nobody@example.org");

    op.send("UNKLINE victim@*").await;
    assert_eq!(
        notice(&mut op, "removed").await,
        "K-line for [victim@*] is removed"
    );
    op.send("UNKLINE victim@*").await;
    assert_eq!(
        notice(&mut op, "No K-line").await,
        "No K-line for [victim@*]"
    );
    let _back = srv.user("victim").await;
}

const LISTENERS: &str = "[[listen]]\naddress = \"127.0.0.1:0\"\n[[listen]]\naddress = \"127.0.0.1:0\"\nproxy = true\n[[listen]]\naddress = \"127.0.0.1:0\"\ntls = true\n";

#[tokio::test]
async fn dline_refuses_before_tls_and_behind_a_proxy_and_hits_connected_clients() {
    let srv = start(&format!("{LISTENERS}{}", oper_block())).await;
    let (plain, proxy, tls) = (srv.addrs[0], srv.addrs[1], srv.addrs[2]);
    let mut op = via_proxy(proxy, "198.51.100.1").await;
    op.register("op").await;
    oper(&mut op).await;
    let mut victim = via_proxy(proxy, "192.0.2.7").await;
    victim.register("victim").await;
    let mut local = TestClient::connect(plain).await;
    local.register("local").await;

    op.send("DLINE 10.0.0.0/4").await;
    assert!(notice(&mut op, "DLINE").await.contains("too wide"));
    op.send("DLINE nonsense").await;
    assert!(notice(&mut op, "DLINE").await.contains("not an address"));
    op.send("DLINE 192.0.2.77/24 :bye|botnet").await;
    assert_eq!(
        notice(&mut op, "Added").await,
        "Added permanent D-line [192.0.2.0/24]; 1 connection(s) closed"
    );
    let lines = victim.expect_closed().await;
    assert!(lines.iter().any(|m| m.command == "465"), "{lines:?}");
    assert_eq!(
        lines.last().unwrap().last(),
        "Closing Link: 192.0.2.7 (Banned: bye)"
    );
    // The real address behind the proxy is refused before registration.
    let mut again = via_proxy(proxy, "192.0.2.9").await;
    let lines = again.expect_closed().await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].last(), "Closing Link: 192.0.2.9 (Banned: bye)");

    // D-lining the loopback address: the connected local client goes, a new
    // plaintext one gets the ERROR at once, a TLS one no handshake at all.
    op.send("DLINE 30 127.0.0.1 :local ban").await;
    assert_eq!(
        notice(&mut op, "Added").await,
        "Added temporary 30m D-line [127.0.0.1]; 1 connection(s) closed"
    );
    assert!(
        local
            .expect_closed()
            .await
            .last()
            .unwrap()
            .last()
            .contains("Banned: local ban")
    );
    let mut c = TestClient::connect(plain).await;
    let lines = c.expect_closed().await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].command, "ERROR");
    assert_eq!(
        lines[0].last(),
        "Closing Link: 127.0.0.1 (Banned: local ban)"
    );
    let mut raw = TcpStream::connect(tls).await.unwrap();
    let _ = raw.write_all(b"\x16\x03\x01\x00\x05hello").await;
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), raw.read(&mut buf))
        .await
        .expect("closed at once")
        .unwrap_or(0);
    assert_eq!(n, 0, "the server answered a D-lined TLS client");

    op.send("STATS d").await;
    let mut rows = Vec::new();
    loop {
        let m = op.recv().await.unwrap();
        match m.command.as_str() {
            "225" => rows.push(m.params[1..].to_vec()),
            "219" => break,
            _ => {}
        }
    }
    rows.sort();
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Sorted: "D" (permanent) before "d" (temporary).
    assert_eq!(
        rows[0],
        ["D", "192.0.2.0/24", "bye|botnet"].map(String::from)
    );
    assert_eq!(
        rows[1],
        ["d", "127.0.0.1", "Temporary D-line 30 min. - local ban"].map(String::from)
    );
    op.send("UNDLINE 127.0.0.1").await;
    notice(&mut op, "removed").await;
    let _welcome = TestClient::connect(plain).await.register("back").await;
}

#[tokio::test(start_paused = true)]
async fn bans_expire_on_the_clock_and_leave_the_store() {
    let srv = start(&format!(
        "{}[limits]\nping_interval = \"1d\"\nping_timeout = \"1d\"\n",
        oper_block()
    ))
    .await;
    let mut op = srv.user("op").await;
    op.wait = Duration::from_secs(7200);
    oper(&mut op).await;
    op.send("KLINE 1 victim@* :a minute").await;
    notice(&mut op, "Added").await;
    op.send("KLINE 2h victim2@* :two hours").await;
    notice(&mut op, "Added").await;
    let lines = refused_at_registration(&srv, "victim").await;
    assert!(lines.iter().any(|m| m.command == "465"), "{lines:?}");
    tokio::time::sleep(Duration::from_secs(59)).await;
    let lines = refused_at_registration(&srv, "victim").await;
    assert!(lines.iter().any(|m| m.command == "465"), "{lines:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The minute is over: welcome, and the listing has only the other one.
    let _v = srv.user("victim").await;
    op.send("STATS K").await;
    let row = op.expect("216").await;
    assert_eq!(row.params[1], "k");
    assert_eq!(row.params[4], "victim2");
    assert_eq!(row.last(), "Temporary K-line 119 min. - two hours");
    op.expect("219").await;
    // The expired one is purged from the store too.
    let TestServer {
        handle, task, dir, ..
    } = srv;
    handle.shutdown();
    task.await.unwrap();
    drop(handle);
    let path = dir.path().join("data").join("accounts.redb");
    let mut left = None;
    for _ in 0..100 {
        if let Ok(store) = ircd::services::store::RedbStore::open(&path) {
            use ircd::services::store::Store;
            left = Some(store.bans().unwrap());
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = left.expect("the store reopens");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].mask, "victim2@*");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn klines_and_dlines_survive_a_restart() {
    let proxy_port = crate::binary::free_port();
    let extra = format!(
        "{}[[listen]]\naddress = \"127.0.0.1:0\"\n[[listen]]\naddress = \"127.0.0.1:{proxy_port}\"\nproxy = true\n[services]\nbcrypt_cost = 4\n",
        oper_block()
    );
    let p = crate::binary::spawn(&extra, &[]);
    let proxy: SocketAddr = ([127, 0, 0, 1], proxy_port).into();
    let mut op = TestClient::connect(p.addr()).await;
    op.register("op").await;
    oper(&mut op).await;
    op.send("KLINE victim@* :kept|for good").await;
    notice(&mut op, "Added").await;
    op.send("DLINE 7d 192.0.2.0/24 :kept too").await;
    notice(&mut op, "Added").await;
    // A K-line removed before the restart stays removed.
    op.send("KLINE gone@example.org :soon removed").await;
    notice(&mut op, "Added").await;
    op.send("UNKLINE gone@example.org").await;
    notice(&mut op, "removed").await;
    op.send("QUIT").await;
    op.expect_closed().await;

    let q = crate::binary::respawn(p);
    let mut op = TestClient::connect(q.addr()).await;
    op.register("op").await;
    oper(&mut op).await;
    op.send("STATS k").await;
    let row = op.expect("216").await;
    assert_eq!(
        row.params[1..],
        ["K", "*", "*", "victim", "kept|for good"].map(String::from)
    );
    op.expect("219").await;
    op.send("STATS d").await;
    let row = op.expect("225").await;
    assert_eq!(row.params[1..3], ["d", "192.0.2.0/24"].map(String::from));
    assert!(row.last().ends_with("kept too"), "{row:?}");
    op.expect("219").await;
    let mut c = TestClient::connect(q.addr()).await;
    c.send("NICK v").await;
    c.send("USER victim 0 * :r").await;
    let lines = c.expect_closed().await;
    assert!(
        lines.last().unwrap().last().contains("Banned: kept"),
        "{lines:?}"
    );
    let mut c = via_proxy(proxy, "192.0.2.1").await;
    let lines = c.expect_closed().await;
    assert_eq!(
        lines[0].last(),
        "Closing Link: 192.0.2.1 (Banned: kept too)"
    );
    let _gone = TestClient::connect(q.addr()).await.register("gone").await;
}
