//! RFC 1413 ident, when `[connections] ident` is on: the server asks the
//! identd of a directly connected client which user owns the connection,
//! from its own address, with a short timeout. The query runs as a task of
//! its own from the moment the connection starts; registration waits for
//! its answer (at most the timeout) before 001, and never blocks another
//! connection. The answer is never logged.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpSocket,
    sync::oneshot,
};

/// Starts the query for a connection from `peer` to the server's `local`
/// address; the receiver gets the user id, or None (no identd, an error
/// reply, a malformed one, or no answer within `timeout`).
pub fn start(
    peer: SocketAddr,
    local: SocketAddr,
    port: u16,
    timeout: Duration,
) -> oneshot::Receiver<Option<String>> {
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let answer = tokio::time::timeout(timeout, query(peer, local, port))
            .await
            .ok()
            .flatten();
        let _ = tx.send(answer);
    });
    rx
}

async fn query(peer: SocketAddr, local: SocketAddr, port: u16) -> Option<String> {
    let sock = if peer.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .ok()?;
    // From the address the client connected to, as identd expects.
    sock.bind(SocketAddr::new(local.ip(), 0)).ok()?;
    let mut s = sock.connect(SocketAddr::new(peer.ip(), port)).await.ok()?;
    s.write_all(format!("{}, {}\r\n", peer.port(), local.port()).as_bytes())
        .await
        .ok()?;
    let mut buf = Vec::with_capacity(128);
    let mut chunk = [0u8; 128];
    while !buf.contains(&b'\n') && buf.len() < 512 {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    parse(&buf, peer.port(), local.port())
}

/// `<port> , <port> : USERID : <opsys>[,<charset>] : <user id>` for these
/// two ports; anything else (ERROR replies included) is None.
fn parse(reply: &[u8], theirs: u16, ours: u16) -> Option<String> {
    let text = std::str::from_utf8(reply).ok()?;
    let line = text.lines().next()?.trim_end_matches('\r');
    let mut parts = line.splitn(4, ':');
    let (ports, kind, _os, user) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let (a, b) = ports.split_once(',')?;
    let ok_ports = a.trim().parse() == Ok(theirs) && b.trim().parse() == Ok(ours);
    (ok_ports && kind.trim().eq_ignore_ascii_case("USERID"))
        .then(|| user.trim().to_string())
        .filter(|u| !u.is_empty())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn replies() {
        assert_eq!(
            parse(b"6193, 23 : USERID : UNIX : stjohns\r\n", 6193, 23).as_deref(),
            Some("stjohns")
        );
        assert_eq!(
            parse(b"6193,23:USERID:UNIX,UTF-8:a:b\r\n", 6193, 23).as_deref(),
            Some("a:b")
        );
        for bad in [
            &b"6193, 23 : ERROR : NO-USER\r\n"[..],
            b"6193, 24 : USERID : UNIX : x\r\n",
            b"6193, 23 : USERID : UNIX : \r\n",
            b"garbage",
            b"\xff\xfe",
            b"",
        ] {
            assert_eq!(parse(bad, 6193, 23), None, "{bad:?}");
        }
    }
}
