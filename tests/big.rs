//! Long replies and pipelined input against a client with the default
//! SendQ: LIST over 10,000 channels, WHO on a 5,000-member channel, WHOWAS
//! after 1,000 sessions of one nick, 10,000 pipelined PINGs in one write.
//! Each completes, the labeled-response label intact, and the client stays
//! connected. A test binary of its own (run after the main one), and one
//! test at a time, so these loads never compete with timing tests.

#[path = "common/mod.rs"]
mod common;

use common::*;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::Mutex,
};

/// One heavy test at a time.
static HEAVY: Mutex<()> = Mutex::const_new(());

fn tag<'a>(m: &'a Msg, key: &str) -> Option<&'a str> {
    m.tags.as_deref()?.split(';').find_map(|t| {
        let (k, v) = t.split_once('=').unwrap_or((t, ""));
        (k == key).then_some(v)
    })
}

/// A registered client with labeled-response and batch.
async fn labeled_client(srv: &TestServer, nick: &str) -> TestClient {
    let mut c = srv.client().await;
    c.send("CAP REQ :labeled-response batch").await;
    c.expect("CAP").await;
    c.send("CAP END").await;
    c.register(nick).await;
    c.record = false;
    c
}

/// Sends `@label=<label> <command>` and collects the labeled batch: its
/// lines, checking every one carries the batch tag.
async fn labeled_batch(c: &mut TestClient, label: &str, command: &str) -> Vec<Msg> {
    c.send(&format!("@label={label} {command}")).await;
    let start = c.expect("BATCH").await;
    assert_eq!(tag(&start, "label"), Some(label), "{start:?}");
    assert_eq!(start.params[1], "labeled-response");
    let id = start.params[0].trim_start_matches('+').to_string();
    let mut lines = Vec::new();
    loop {
        let m = c.recv().await.expect("closed during the batch");
        if m.command == "BATCH" && m.params[0] == format!("-{id}") {
            return lines;
        }
        assert_eq!(
            tag(&m, "batch"),
            Some(id.as_str()),
            "outside the batch: {m:?}"
        );
        lines.push(m);
    }
}

async fn still_alive(c: &mut TestClient) {
    c.send("PING :alive").await;
    assert_eq!(c.expect("PONG").await.last(), "alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_over_ten_thousand_channels_with_topics() {
    let _one = HEAVY.lock().await;
    let srv = start("[limits]\nmax_channels = 10000\n").await;
    let mut maker = srv.client().await;
    maker.send("CAP REQ :no-implicit-names").await;
    maker.expect("CAP").await;
    maker.send("CAP END").await;
    maker.register("maker").await;
    maker.record = false;
    let topic = "t".repeat(120);
    for chunk in (0..10_000).collect::<Vec<_>>().chunks(250) {
        let mut burst = String::new();
        for group in chunk.chunks(25) {
            let names: Vec<String> = group.iter().map(|i| format!("#c{i}")).collect();
            burst.push_str(&format!("JOIN {}\r\n", names.join(",")));
        }
        for i in chunk {
            burst.push_str(&format!("TOPIC #c{i} :{topic} {i}\r\n"));
        }
        maker.send_raw(burst.as_bytes()).await;
        maker.sync().await;
    }
    let mut asker = labeled_client(&srv, "asker").await;
    let lines = labeled_batch(&mut asker, "L1", "LIST").await;
    let rows: Vec<&Msg> = lines.iter().filter(|m| m.command == "322").collect();
    assert_eq!(rows.len(), 10_000);
    assert!(rows.iter().all(|m| m.last().starts_with(&topic)));
    assert_eq!(lines.first().map(|m| m.command.as_str()), Some("321"));
    assert_eq!(lines.last().map(|m| m.command.as_str()), Some("323"));
    still_alive(&mut asker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_on_a_five_thousand_member_channel() {
    let _one = HEAVY.lock().await;
    let srv = start("").await;
    const N: usize = 5000;
    let mut drains = Vec::new();
    for i in 0..N {
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        s.write_all(
            format!(
                "CAP REQ :no-implicit-names\r\nNICK m{i}\r\nUSER m 0 * :m\r\nCAP END\r\nJOIN #big\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        // Members read (and drop) everything, as real clients do.
        drains.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 16384];
            while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
        }));
    }
    let mut asker = labeled_client(&srv, "asker").await;
    // Every member is in once the channel says so.
    loop {
        asker.send("LIST #big").await;
        let row = asker.expect("322").await;
        asker.expect("323").await;
        if row.params[2] == N.to_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let lines = labeled_batch(&mut asker, "W1", "WHO #big").await;
    let rows = lines.iter().filter(|m| m.command == "352").count();
    assert_eq!(rows, N);
    assert_eq!(lines.last().map(|m| m.command.as_str()), Some("315"));
    still_alive(&mut asker).await;
    for d in drains {
        d.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whowas_after_a_thousand_sessions_of_one_nick() {
    let _one = HEAVY.lock().await;
    // One nick keeps 10 entries by default; this is about a long reply.
    let srv = start("[limits]\nwhowas_per_nick = 1000\n").await;
    for i in 0..1000 {
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        s.write_all(format!("NICK ghost\r\nUSER g{i} 0 * :session {i}\r\nQUIT\r\n").as_bytes())
            .await
            .unwrap();
        let mut sink = Vec::new();
        // The server closes after QUIT; the nick is free for the next one.
        let _ = s.read_to_end(&mut sink).await;
        assert!(
            String::from_utf8_lossy(&sink).contains(" 001 "),
            "session {i} did not register"
        );
    }
    let mut asker = labeled_client(&srv, "asker").await;
    let lines = labeled_batch(&mut asker, "H1", "WHOWAS ghost").await;
    assert_eq!(lines.iter().filter(|m| m.command == "314").count(), 1000);
    assert_eq!(lines.iter().filter(|m| m.command == "312").count(), 1000);
    assert_eq!(lines.last().map(|m| m.command.as_str()), Some("369"));
    still_alive(&mut asker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_pipelined_pings_in_one_write() {
    let _one = HEAVY.lock().await;
    let srv = start("").await;
    let mut c = labeled_client(&srv, "bridge").await;
    let mut burst = String::new();
    for i in 0..10_000 {
        burst.push_str(&format!("@label=p{i} PING :n{i}\r\n"));
    }
    // One write, not read until it is all sent: the server must pace its
    // replies by this client's reading instead of overflowing its queue.
    c.send_raw(burst.as_bytes()).await;
    for i in 0..10_000 {
        let m = c.expect("PONG").await;
        assert_eq!(m.last(), format!("n{i}"));
        assert_eq!(tag(&m, "label"), Some(format!("p{i}").as_str()));
    }
    still_alive(&mut c).await;
}
