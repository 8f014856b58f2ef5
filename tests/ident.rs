//! Optional RFC 1413 ident: a tiny identd in the test (on a port of its own:
//! `ident_port`, since 113 is one port for every test at once) answers, errs
//! or stays silent, and the username follows: the answer without `~`, or
//! the given one with `~`; registration waits at most the timeout.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    time::Instant,
};

use crate::common::{TestClient, start};

/// How the test identd answers a query line ("<their port>, <our port>").
#[derive(Clone, Copy)]
enum Identd {
    User(&'static str),
    Error,
    Silent,
}

/// Starts an identd on 127.0.0.1 that answers every query as `how`, and
/// checks that the query names the ports of the connection asked about.
async fn identd(how: Identd, client_ports: tokio::sync::mpsc::UnboundedSender<String>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            let tx = client_ports.clone();
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut line = String::new();
                BufReader::new(r).read_line(&mut line).await.unwrap();
                let q = line.trim_end().to_string();
                let _ = tx.send(q.clone());
                let reply = match how {
                    Identd::User(u) => format!("{q} : USERID : UNIX : {u}\r\n"),
                    Identd::Error => format!("{q} : ERROR : NO-USER\r\n"),
                    Identd::Silent => {
                        std::future::pending::<()>().await;
                        unreachable!()
                    }
                };
                w.write_all(reply.as_bytes()).await.unwrap();
            });
        }
    });
    port
}

/// Connects and registers as `nick` with username `given`; returns the
/// client and the ports its connection has ("<client>, <server>").
async fn connect(addr: SocketAddr, nick: &str, given: &str) -> (TestClient, String) {
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let ports = format!("{}, {}", s.local_addr().unwrap().port(), addr.port());
    let mut c = TestClient::from_stream(Box::new(s));
    c.wait = Duration::from_secs(600);
    c.send(&format!("NICK {nick}")).await;
    c.send(&format!("USER {given} 0 * :r")).await;
    (c, ports)
}

/// The username in the 001 a client gets.
async fn welcomed_as(c: &mut TestClient) -> String {
    let m = c.expect("001").await;
    let prefix = m.last().rsplit(' ').next().unwrap().to_string();
    prefix.split(['!', '@']).nth(1).unwrap().to_string()
}

fn ident_config(port: u16) -> String {
    format!("[connections]\nident = true\nident_port = {port}\nident_timeout = \"3s\"\n")
}

#[tokio::test]
async fn the_identd_answer_is_the_username() {
    let (tx, mut queries) = tokio::sync::mpsc::unbounded_channel();
    let port = identd(Identd::User("realuser"), tx).await;
    let srv = start(&ident_config(port)).await;
    let (mut c, ports) = connect(srv.addr, "alice", "given").await;
    assert_eq!(welcomed_as(&mut c).await, "realuser");
    assert_eq!(queries.recv().await.unwrap(), ports);
    c.send("WHOIS alice").await;
    assert_eq!(c.expect("311").await.params[2], "realuser");
}

#[tokio::test]
async fn an_error_reply_or_no_identd_gives_a_tilde() {
    let (tx, _queries) = tokio::sync::mpsc::unbounded_channel();
    let port = identd(Identd::Error, tx).await;
    let srv = start(&ident_config(port)).await;
    let (mut c, _) = connect(srv.addr, "bob", "given").await;
    assert_eq!(welcomed_as(&mut c).await, "~given");
    // USERLEN (10) holds with the tilde.
    let (mut c, _) = connect(srv.addr, "carol", "abcdefghij").await;
    assert_eq!(welcomed_as(&mut c).await, "~abcdefghi");
    // Nobody listening on the ident port: an immediate refusal, a tilde.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let srv = start(&ident_config(port)).await;
    let (mut c, _) = connect(srv.addr, "dave", "given").await;
    assert_eq!(welcomed_as(&mut c).await, "~given");
}

#[tokio::test(start_paused = true)]
async fn a_silent_identd_delays_registration_by_the_timeout_only() {
    let (tx, _queries) = tokio::sync::mpsc::unbounded_channel();
    let port = identd(Identd::Silent, tx).await;
    let srv = start(&format!(
        "{}[limits]\nping_interval = \"1h\"\nping_timeout = \"1h\"\n",
        ident_config(port)
    ))
    .await;
    // Another client is served meanwhile: the wait blocks no one else.
    let t = Instant::now();
    let (mut slow, _) = connect(srv.addr, "slow", "given").await;
    let mut other = srv.client().await;
    other.send("PING :meanwhile").await;
    other.expect("PONG").await;
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(welcomed_as(&mut slow).await, "~given");
    let at = t.elapsed();
    assert!(
        at >= Duration::from_secs(3) && at < Duration::from_secs(4),
        "{at:?}"
    );
}

#[tokio::test]
async fn ident_is_off_by_default() {
    let (tx, mut queries) = tokio::sync::mpsc::unbounded_channel();
    let port = identd(Identd::User("never"), tx).await;
    // The port is set, ident is not turned on: no query, the given name.
    let srv = start(&format!("[connections]\nident_port = {port}\n")).await;
    let (mut c, _) = connect(srv.addr, "erin", "given").await;
    assert_eq!(welcomed_as(&mut c).await, "given");
    assert!(queries.try_recv().is_err());
}
