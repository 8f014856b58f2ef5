//! Slow and stalled peers: a client that stops reading is not read either
//! (TCP backpressure, nothing lost once it reads again), and a TLS handshake
//! that never completes is dropped within its bound, its admission given
//! back. (A silent registered client is dropped by the ping clock:
//! tests/timers.rs; a client that reads nothing while a reply waits gets
//! `SendQ exceeded`: tests/robustness.rs.)

use std::{
    io::{ErrorKind, Read, Write},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    time::Instant,
};

use crate::common::*;

/// The lines the stalled client pipelines: PING with a numbered 480-byte
/// token, so each answer says which line it answers.
fn ping(i: usize) -> String {
    format!("PING :{i:08}{}\r\n", "p".repeat(472))
}

/// A plain blocking socket, registered, with the welcome burst read.
fn registered_raw(addr: std::net::SocketAddr, nick: &str) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "NICK {nick}\r\nUSER u 0 * :r\r\nPING :welcome-done\r\n").unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("PONG irc.test :welcome-done\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed during registration");
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).contains(" 001 "));
    s
}

/// Backpressure: the client pipelines 32 MB of PINGs and reads nothing.
/// The server answers until the client's SendQ is full, then stops reading
/// its input, so the kernel's buffers fill and the client's writes block:
/// what the server accepted stays bounded by its SendQ and the socket
/// buffers, not by what the client sent. Once the client reads, every line
/// is answered, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_not_read_either() {
    // Loopback is flood-exempt by default: nothing but backpressure slows it.
    let srv = start("[limits]\nsendq = 262144\n").await;
    let std = registered_raw(srv.addr, "stalled");
    std.set_nonblocking(true).unwrap();
    let total_lines = 32 * 1024 * 1024 / ping(0).len();
    let mut w = std.try_clone().unwrap();
    let mut r = std;

    // Write without reading until the server has taken nothing for a while.
    let mut pending = Vec::new();
    let (mut next, mut written) = (0, 0usize);
    let mut stalled_since = None;
    loop {
        if pending.is_empty() && next < total_lines {
            pending = ping(next).into_bytes();
            next += 1;
        }
        match w.write(&pending) {
            Ok(n) => {
                pending.drain(..n);
                written += n;
                stalled_since = None;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let since = *stalled_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() > Duration::from_secs(1) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("write failed: {e}"),
        }
        assert!(
            next < total_lines,
            "the server read all 32 MB of a client that reads nothing"
        );
    }
    // SendQ (256 KB of answers) plus the socket buffers on both sides; far
    // below what was offered.
    assert!(
        written < 16 * 1024 * 1024,
        "the server took {written} bytes from a client that reads nothing"
    );

    // Now read: every line written so far, and all the rest, answered in order.
    let mut expect = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let mut acc = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while expect < total_lines {
        assert!(
            std::time::Instant::now() < deadline,
            "answers stopped at {expect}"
        );
        let mut progressed = false;
        if pending.is_empty() && next < total_lines {
            pending = ping(next).into_bytes();
            next += 1;
        }
        if !pending.is_empty() {
            match w.write(&pending) {
                Ok(n) => {
                    pending.drain(..n);
                    progressed = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("write failed: {e}"),
            }
        }
        match r.read(&mut buf) {
            Ok(0) => panic!("closed after {expect} answers"),
            Ok(n) => {
                acc.extend_from_slice(&buf[..n]);
                progressed = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("read failed: {e}"),
        }
        let mut start = 0;
        while let Some(end) = acc[start..].windows(2).position(|w| w == b"\r\n") {
            let line = std::str::from_utf8(&acc[start..start + end]).unwrap();
            assert!(
                line.starts_with(":irc.test PONG irc.test :"),
                "unexpected line {line:?}"
            );
            let token = line.rsplit(':').next().unwrap();
            assert_eq!(token[..8].parse::<usize>().unwrap(), expect, "{line:?}");
            expect += 1;
            start += end + 2;
        }
        acc.drain(..start);
        if !progressed {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// The TLS listener of a server whose per-address limit is 1.
fn tls_one_per_address() -> String {
    "[connections]\nper_ip = 1\nexempt = []\n\n[[listen]]\naddress = \"127.0.0.1:0\"\ntls = true\n"
        .into()
}

/// A TLS handshake that never completes (nothing sent, or half a
/// ClientHello) is dropped at 15 s, and its per-address slot is free again.
#[tokio::test(start_paused = true)]
async fn a_tls_handshake_that_never_completes_is_dropped_within_its_bound() {
    let srv = start(&tls_one_per_address()).await;
    let addr = srv.addrs[0];
    for first in [&b""[..], &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01][..]] {
        let t0 = Instant::now();
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all_buf(&mut &first[..]).await.unwrap();
        let mut buf = [0u8; 64];
        // The server says nothing (no ServerHello to half a ClientHello)
        // and closes at the bound.
        let n = s.read(&mut buf).await.unwrap_or(0);
        assert_eq!(n, 0, "the server sent {:?}", &buf[..n]);
        let at = t0.elapsed();
        assert!(
            at >= Duration::from_secs(15) && at < Duration::from_secs(16),
            "dropped after {at:?}"
        );
        // The slot was given back: a real TLS client from the same
        // address (per_ip = 1) registers.
        let mut c = TestClient::connect_tls(addr).await;
        c.register("after").await;
        c.send("QUIT").await;
        c.expect_closed().await;
    }
}
