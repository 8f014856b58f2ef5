//! IRC over WebSocket (the IRCv3 WebSocket specification) on a
//! `websocket = true` listener, the web client's files on the same
//! listener, and the gateways: PROXY v1/v2 on `proxy = true` listeners,
//! WEBIRC, and X-Forwarded-For from trusted proxies. Per-address limits
//! then count the real address.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::{
    WebSocketStream, client_async,
    tungstenite::{self, Message, client::IntoClientRequest, http},
};

use crate::common::*;

/// A TCP listener first, then a WebSocket one.
const WS: &str = "[[listen]]\naddress = \"127.0.0.1:0\"\n[[listen]]\naddress = \"127.0.0.1:0\"\nwebsocket = true\n";

/// A WebSocket IRC client: one line per message.
pub struct WsClient<S> {
    ws: WebSocketStream<S>,
    pub nick: String,
    pub wait: Duration,
    /// The subprotocol the server picked.
    pub protocol: Option<String>,
    /// Were all messages received of the expected kind (binary/text)?
    pub binary_seen: bool,
    pub text_seen: bool,
    pub seen: Vec<Msg>,
}

/// Opens a WebSocket on `addr` offering `protocols`, with extra headers.
pub async fn ws_connect(
    addr: SocketAddr,
    protocols: &[&str],
    headers: &[(&str, &str)],
) -> Result<WsClient<TcpStream>, tungstenite::Error> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    ws_over(tcp, &format!("ws://{addr}/"), protocols, headers).await
}

pub async fn ws_over<S>(
    stream: S,
    url: &str,
    protocols: &[&str],
    headers: &[(&str, &str)],
) -> Result<WsClient<S>, tungstenite::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut req = url.into_client_request().unwrap();
    if !protocols.is_empty() {
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            http::HeaderValue::from_str(&protocols.join(", ")).unwrap(),
        );
    }
    for (k, v) in headers {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    let (ws, resp) = client_async(req, stream).await?;
    let protocol = resp
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(|v| v.to_str().unwrap().to_string());
    Ok(WsClient {
        ws,
        nick: "*".into(),
        wait: WAIT,
        protocol,
        binary_seen: false,
        text_seen: false,
        seen: Vec::new(),
    })
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> WsClient<S> {
    pub async fn send(&mut self, line: &str) {
        let msg = if self.protocol.as_deref() == Some("binary.ircv3.net") {
            Message::Binary(line.as_bytes().to_vec().into())
        } else {
            Message::Text(line.into())
        };
        self.ws.send(msg).await.unwrap();
    }

    /// Sends several lines, one message each, flushed together.
    pub async fn send_many(&mut self, lines: &[String]) {
        for l in lines {
            self.ws
                .feed(Message::Text(l.as_str().into()))
                .await
                .unwrap();
        }
        self.ws.flush().await.unwrap();
    }

    /// The next IRC line, or None once the connection is closed.
    pub async fn recv(&mut self) -> Option<Msg> {
        loop {
            let next = tokio::time::timeout(self.wait, self.ws.next())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{}: no message within {:?}; seen {:#?}",
                        self.nick, self.wait, self.seen
                    )
                });
            let payload = match next {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return None,
                Some(Ok(Message::Text(t))) => {
                    self.text_seen = true;
                    t.as_str().to_string()
                }
                Some(Ok(Message::Binary(b))) => {
                    self.binary_seen = true;
                    String::from_utf8(b.to_vec()).unwrap()
                }
                Some(Ok(_)) => continue,
            };
            assert!(
                !payload.contains('\r') && !payload.contains('\n'),
                "one line per message, without CR LF: {payload:?}"
            );
            let m = Msg::parse(&payload);
            self.seen.push(m.clone());
            return Some(m);
        }
    }

    pub async fn expect(&mut self, command: &str) -> Msg {
        loop {
            match self.recv().await {
                Some(m) if m.command.eq_ignore_ascii_case(command) => return m,
                Some(_) => {}
                None => panic!(
                    "{}: closed while waiting for {command}; seen {:#?}",
                    self.nick, self.seen
                ),
            }
        }
    }

    pub async fn expect_closed(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Some(m) = self.recv().await {
            out.push(m);
        }
        out
    }

    pub async fn register(&mut self, nick: &str) {
        self.send(&format!("NICK {nick}")).await;
        self.send(&format!("USER {nick} 0 * :Real {nick}")).await;
        self.nick = nick.to_string();
        self.expect("001").await;
        loop {
            let m = self.recv().await.expect("closed during registration");
            if m.command == "376" || m.command == "422" {
                break;
            }
        }
    }

    /// The address WHOIS on oneself shows (338), and the host (311).
    pub async fn whois_self(&mut self) -> (String, String) {
        self.send(&format!("WHOIS {}", self.nick)).await;
        let host = self.expect("311").await.params[3].clone();
        let ip = self.expect("338").await.params[2].clone();
        self.expect("318").await;
        (host, ip)
    }
}

impl TestClient {
    /// The address (338) and host (311) WHOIS on oneself shows.
    pub async fn whois_self(&mut self) -> (String, String) {
        self.send(&format!("WHOIS {}", self.nick)).await;
        let host = self.expect("311").await.params[3].clone();
        let ip = self.expect("338").await.params[2].clone();
        self.expect("318").await;
        (host, ip)
    }
}

#[tokio::test]
async fn both_subprotocols_and_none_talk_to_tcp_and_back() {
    let srv = start(WS).await;
    let ws_addr = srv.addrs[1];
    let mut text = ws_connect(ws_addr, &["text.ircv3.net"], &[]).await.unwrap();
    assert_eq!(text.protocol.as_deref(), Some("text.ircv3.net"));
    let mut bin = ws_connect(ws_addr, &["binary.ircv3.net", "text.ircv3.net"], &[])
        .await
        .unwrap();
    assert_eq!(bin.protocol.as_deref(), Some("binary.ircv3.net"));
    let mut plain = ws_connect(ws_addr, &[], &[]).await.unwrap();
    assert_eq!(plain.protocol, None);
    text.register("texter").await;
    bin.register("binner").await;
    plain.register("plainer").await;
    let mut tcp = srv.user("tcpuser").await;
    for c in [&mut text, &mut bin, &mut plain] {
        c.send("JOIN #web").await;
        c.expect("366").await;
    }
    tcp.send("JOIN #web").await;
    tcp.expect("366").await;

    tcp.send("PRIVMSG #web :hello from tcp").await;
    for c in [&mut text, &mut bin, &mut plain] {
        let m = c.expect("PRIVMSG").await;
        assert_eq!((m.nick(), m.last()), ("tcpuser", "hello from tcp"));
    }
    text.send("PRIVMSG #web :from text \u{e9}\u{1f600}").await;
    let m = tcp.expect("PRIVMSG").await;
    assert_eq!(
        (m.nick(), m.last()),
        ("texter", "from text \u{e9}\u{1f600}")
    );
    bin.send("PRIVMSG #web :\x01ACTION waves\x01").await;
    let m = tcp.expect("PRIVMSG").await;
    assert_eq!((m.nick(), m.last()), ("binner", "\x01ACTION waves\x01"));
    // A client that ends its message with CR LF anyway is understood.
    plain.send("PRIVMSG tcpuser :dm from ws\r\n").await;
    let m = tcp.expect("PRIVMSG").await;
    assert_eq!((m.params[0].as_str(), m.last()), ("tcpuser", "dm from ws"));
    tcp.send("PRIVMSG binner :dm back").await;
    loop {
        let m = bin.expect("PRIVMSG").await;
        if m.params[0] == "binner" {
            assert_eq!(m.last(), "dm back");
            break;
        }
    }

    // The server answers in the subprotocol's kind of message.
    assert!(bin.binary_seen && !bin.text_seen);
    assert!(text.text_seen && !text.binary_seen);
    assert!(plain.text_seen && !plain.binary_seen);
    // A WebSocket client quits like any other.
    text.send("QUIT :bye").await;
    text.expect("ERROR").await;
    let q = tcp.expect("QUIT").await;
    assert_eq!(q.nick(), "texter");
}

#[tokio::test]
async fn tls_websocket() {
    let srv = start(
        "[[listen]]\naddress = \"127.0.0.1:0\"\n[[listen]]\naddress = \"127.0.0.1:0\"\nwebsocket = true\ntls = true\n",
    )
    .await;
    let tcp = TcpStream::connect(srv.addrs[1]).await.unwrap();
    let tls = tls_connect(tcp).await;
    let mut c = ws_over(tls, "wss://localhost/", &["text.ircv3.net"], &[])
        .await
        .unwrap();
    c.register("secure").await;
    c.send("WHOIS secure").await;
    c.expect("671").await;
}

#[tokio::test]
async fn refused_origin_gets_403_and_allowed_ones_connect() {
    let srv = start(&format!(
        "{WS}[websocket]\norigins = [\"https://chat.example.net\"]\n"
    ))
    .await;
    let addr = srv.addrs[1];
    match ws_connect(
        addr,
        &["text.ircv3.net"],
        &[("Origin", "https://evil.example")],
    )
    .await
    {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        Err(e) => panic!("expected 403, got {e}"),
        Ok(_) => panic!("a refused origin connected"),
    }
    let mut ok = ws_connect(
        addr,
        &["text.ircv3.net"],
        &[("Origin", "https://chat.example.net")],
    )
    .await
    .unwrap();
    ok.register("allowed").await;
    // The page's own origin (the built-in client), and a non-browser client
    // (no Origin), are let in.
    let own = format!("http://{addr}");
    let mut same = ws_connect(addr, &[], &[("Origin", own.as_str())])
        .await
        .unwrap();
    same.register("sameorigin").await;
}

#[tokio::test(start_paused = true)]
async fn websocket_flood_gets_fakelag_then_excess_flood() {
    const FLOOD: &str = "[flood]\nexempt = []\nburst = 10\nlines_per_second = 2.0\nrecvq = 16384\n";
    let srv = start(&format!("{WS}{FLOOD}")).await;
    let mut c = ws_connect(srv.addrs[1], &["text.ircv3.net"], &[])
        .await
        .unwrap();
    c.wait = Duration::from_secs(3600);
    c.register("chatty").await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let t0 = tokio::time::Instant::now();
    let pings: Vec<String> = (0..30).map(|i| format!("PING :p{i}")).collect();
    c.send_many(&pings).await;
    for i in 0..30 {
        let p = c.expect("PONG").await;
        assert_eq!(p.last(), format!("p{i}"));
        let at = t0.elapsed().as_secs_f64();
        if i < 10 {
            assert!(at < 0.1, "line {i} of the burst delayed: {at}");
        } else {
            let due = (i - 9) as f64 / 2.0;
            assert!((at - due).abs() < 0.1, "line {i} at {at}s, due at {due}s");
        }
    }

    let mut witness = srv.user("witness").await;
    witness.wait = Duration::from_secs(3600);
    witness.send("JOIN #f").await;
    witness.expect("366").await;
    c.send("JOIN #f").await;
    c.expect("366").await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let flood: Vec<String> = (0..100)
        .map(|_| format!("PRIVMSG #f :{}", "x".repeat(200)))
        .collect();
    c.send_many(&flood).await;
    let lines = c.expect_closed().await;
    let err = lines.iter().find(|m| m.command == "ERROR").expect("ERROR");
    assert!(err.last().contains("Excess Flood"), "{err:?}");
    let q = witness.expect("QUIT").await;
    assert_eq!((q.nick(), q.last()), ("chatty", "Excess Flood"));
}

#[tokio::test]
async fn long_message_gets_417_and_bad_frames_close_only_that_connection() {
    let srv = start(WS).await;
    let addr = srv.addrs[1];
    let mut c = ws_connect(addr, &["text.ircv3.net"], &[]).await.unwrap();
    c.register("longer").await;
    let mut other = ws_connect(addr, &["binary.ircv3.net"], &[]).await.unwrap();
    other.register("other").await;
    let mut tcp = srv.user("tcpwatch").await;

    c.send(&format!("PRIVMSG #x :{}", "y".repeat(600))).await;
    c.expect("417").await;
    // The connection lives on.
    c.send("PING :still").await;
    assert_eq!(c.expect("PONG").await.last(), "still");
    // Invalid UTF-8 in a binary message: refused like on TCP.
    other
        .ws
        .send(Message::Binary(
            b"PRIVMSG tcpwatch :\xff\xfe".to_vec().into(),
        ))
        .await
        .unwrap();
    other.expect("FAIL").await;

    // A raw client: handshake, then an unmasked frame (clients must mask).
    let mut raw = raw_handshake(addr, "text.ircv3.net").await;
    raw.write_all(&[0x81, 0x04, b'P', b'I', b'N', b'G'])
        .await
        .unwrap();
    assert_closed(&mut raw).await;
    // A frame with reserved bits and a bogus opcode.
    let mut raw = raw_handshake(addr, "text.ircv3.net").await;
    raw.write_all(&[0xF3, 0x80, 1, 2, 3, 4]).await.unwrap();
    assert_closed(&mut raw).await;
    // A message over the WebSocket limit.
    let mut big = ws_connect(addr, &["text.ircv3.net"], &[]).await.unwrap();
    big.register("big").await;
    let _ = big.ws.send(Message::Text("x".repeat(100_000).into())).await;
    big.expect_closed().await;

    // Everyone else is fine.
    for c in [&mut c, &mut other] {
        c.send("PING :alive").await;
        assert_eq!(c.expect("PONG").await.last(), "alive");
    }
    tcp.send("PING :alive").await;
    tcp.expect("PONG").await;
}

#[tokio::test]
async fn websocket_ping_and_close_frames() {
    let srv = start(WS).await;
    let mut c = ws_connect(srv.addrs[1], &["text.ircv3.net"], &[])
        .await
        .unwrap();
    c.register("pinger").await;
    c.ws.send(Message::Ping(b"hb".to_vec().into()))
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(WAIT, c.ws.next()).await.unwrap() {
            Some(Ok(Message::Pong(p))) => {
                assert_eq!(&p[..], b"hb");
                break;
            }
            Some(Ok(_)) => {}
            other => panic!("no pong: {other:?}"),
        }
    }
    let mut tcp = srv.user("watcher").await;
    c.send("JOIN #hb").await;
    c.expect("366").await;
    tcp.send("JOIN #hb").await;
    tcp.expect("366").await;
    c.ws.close(None).await.unwrap();
    let q = tcp.expect("QUIT").await;
    assert_eq!(q.nick(), "pinger");
}

/// An HTTP request to the WebSocket listener; the whole answer.
async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    out
}

#[tokio::test]
async fn the_web_client_is_served_at_root() {
    let srv = start(WS).await;
    let addr = srv.addrs[1];
    let page = http_get(addr, "/").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Content-Type: text/html"), "{page}");
    assert!(page.contains("Content-Security-Policy: default-src 'none'; script-src 'self'"));
    assert!(page.contains("<script src=\"app.js\""));
    // No CDN: nothing is loaded from elsewhere.
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );
    let js = http_get(addr, "/app.js").await;
    assert!(js.starts_with("HTTP/1.1 200") && js.contains("text.ircv3.net"));
    assert!(!js.contains("innerHTML"), "text never becomes markup");
    assert!(http_get(addr, "/app.css").await.starts_with("HTTP/1.1 200"));
    assert!(http_get(addr, "/nope").await.starts_with("HTTP/1.1 404"));
    // Page requests do not take a connection slot: the listener still admits.
    let mut c = ws_connect(addr, &[], &[]).await.unwrap();
    c.register("afterpage").await;

    let srv = start(&format!("{WS}[websocket]\nweb_client = false\n")).await;
    assert!(
        http_get(srv.addrs[1], "/")
            .await
            .starts_with("HTTP/1.1 404")
    );
}

/// Opens a WebSocket by hand, for sending bad frames.
async fn raw_handshake(addr: SocketAddr, proto: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {proto}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{head}"
    );
    s
}

async fn assert_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(WAIT, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => {}
            Err(_) => panic!("a bad frame did not close the connection"),
        }
    }
}

// ---------------------------------------------------------------------------
// Gateways: PROXY, WEBIRC, X-Forwarded-For.
// ---------------------------------------------------------------------------

/// One plain listener and one `proxy = true` listener; no loopback
/// exemption, one connection per address.
const PROXY_LISTENERS: &str =
    "[[listen]]\naddress = \"127.0.0.1:0\"\n[[listen]]\naddress = \"127.0.0.1:0\"\nproxy = true\n";
const PROXY: &str = "[[listen]]\naddress = \"127.0.0.1:0\"\n[[listen]]\naddress = \"127.0.0.1:0\"\nproxy = true\n[connections]\nexempt = []\nper_ip = 1\n";

fn v2_header(src: [u8; 4], port: u16) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend_from_slice(&[0x21, 0x11, 0, 12]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&[127, 0, 0, 1]);
    h.extend_from_slice(&port.to_be_bytes());
    h.extend_from_slice(&6667u16.to_be_bytes());
    h
}

async fn via_proxy(addr: SocketAddr, header: &[u8]) -> TestClient {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(header).await.unwrap();
    TestClient::from_stream(Box::new(s))
}

#[tokio::test]
async fn proxy_v1_and_v2_give_the_real_address_and_limits_count_it() {
    let srv = start(PROXY).await;
    let paddr = srv.addrs[1];
    let mut a = via_proxy(paddr, &v2_header([192, 0, 2, 7], 40000)).await;
    a.register("viav2").await;
    assert_eq!(
        a.whois_self().await,
        ("192.0.2.7".into(), "192.0.2.7".into())
    );
    let mut b = via_proxy(paddr, b"PROXY TCP6 2001:db8::9 ::1 4000 6667\r\n").await;
    b.register("viav1").await;
    assert_eq!(b.whois_self().await.1, "2001:db8::9");
    // per_ip = 1: a second client from 192.0.2.7 is refused, though the
    // proxy's own address is the same for all of them.
    let mut again = via_proxy(paddr, b"PROXY TCP4 192.0.2.7 127.0.0.1 40001 6667\r\n").await;
    let lines = again.expect_closed().await;
    assert!(
        lines
            .iter()
            .any(|m| m.command == "ERROR" && m.last().contains("too many host connections")),
        "{lines:?}"
    );
    let mut other = via_proxy(paddr, b"PROXY TCP4 192.0.2.8 127.0.0.1 40002 6667\r\n").await;
    other.register("other").await;
    // A health check (v2 LOCAL) is the proxy itself.
    let mut local = via_proxy(paddr, b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00").await;
    local.register("local").await;
    assert_eq!(local.whois_self().await.1, "127.0.0.1");
    // No header on a proxy listener: closed.
    let mut none = via_proxy(paddr, b"NICK sneaky\r\nUSER a 0 * :a\r\n").await;
    assert!(none.expect_closed().await.is_empty());
}

#[tokio::test]
async fn a_proxy_header_is_refused_where_it_is_not_trusted() {
    // On a listener without `proxy = true`, a PROXY header is just a line:
    // v1 is a command like any other (451 before registration) and changes nothing.
    let srv = start(PROXY_LISTENERS).await;
    let mut c = via_proxy(srv.addrs[0], b"PROXY TCP4 192.0.2.7 127.0.0.1 1 2\r\n").await;
    c.expect("451").await;
    c.register("direct").await;
    assert_eq!(c.whois_self().await.1, "127.0.0.1");
    // v2's signature ends with QUIT.
    let mut c = via_proxy(srv.addrs[0], &v2_header([192, 0, 2, 7], 1)).await;
    let lines = c.expect_closed().await;
    assert!(lines.iter().any(|m| m.command == "ERROR"), "{lines:?}");
    // A proxy listener only believes its trusted proxies.
    let srv = start(&format!(
        "{PROXY_LISTENERS}[gateway]\ntrusted_proxies = [\"10.0.0.0/8\"]\n"
    ))
    .await;
    let mut c = via_proxy(srv.addrs[1], &v2_header([192, 0, 2, 7], 1)).await;
    c.send("NICK x").await;
    assert!(c.expect_closed().await.is_empty());
}

const WEBIRC: &str = "[connections]\nexempt = []\nper_ip = 1\n[[webirc]]\nname = \"kiwi\"\npassword = \"gw-secret\"\nhosts = [\"127.0.0.1\"]\n";

#[tokio::test]
async fn webirc_sets_the_real_address_and_host() {
    let srv = start(WEBIRC).await;
    let mut a = srv.client().await;
    a.send("WEBIRC gw-secret kiwi user.example.org 192.0.2.9 :secure")
        .await;
    a.register("webirc").await;
    assert_eq!(
        a.whois_self().await,
        ("user.example.org".into(), "192.0.2.9".into())
    );
    a.send("WHOIS webirc").await;
    a.expect("671").await;
    // An invalid hostname: the address stands in for it.
    let mut b = srv.client().await;
    b.send("WEBIRC gw-secret kiwi bad_host! 192.0.2.10").await;
    b.register("webirc2").await;
    assert_eq!(
        b.whois_self().await,
        ("192.0.2.10".into(), "192.0.2.10".into())
    );
    // per_ip = 1 counts the real address, not the gateway's.
    let mut c = srv.client().await;
    c.send("WEBIRC gw-secret kiwi user.example.org 192.0.2.9")
        .await;
    let lines = c.expect_closed().await;
    assert!(
        lines
            .iter()
            .any(|m| m.last().contains("too many host connections")),
        "{lines:?}"
    );
    // A wrong password is refused.
    let mut d = srv.client().await;
    d.send("WEBIRC wrong kiwi h.example 192.0.2.11").await;
    let lines = d.expect_closed().await;
    assert!(lines.iter().any(|m| m.command == "ERROR"), "{lines:?}");
}

#[tokio::test]
async fn webirc_over_websocket_with_a_bcrypt_password() {
    let hash = bcrypt::hash("gw-pw", 4).unwrap();
    let srv = start(&format!(
        "{WS}[[webirc]]\nname = \"gw\"\npassword = {hash:?}\nhosts = [\"127.0.0.0/8\"]\n[gateway]\ntrusted_proxies = []\n"
    ))
    .await;
    let mut c = ws_connect(srv.addrs[1], &["text.ircv3.net"], &[])
        .await
        .unwrap();
    c.send("WEBIRC gw-pw gw 198.51.100.4 198.51.100.4").await;
    c.register("wsgw").await;
    assert_eq!(c.whois_self().await.1, "198.51.100.4");
}

#[tokio::test]
async fn x_forwarded_for_only_from_trusted_proxies() {
    let srv = start(&format!("{WS}[connections]\nexempt = []\nper_ip = 1\n")).await;
    let addr = srv.addrs[1];
    let mut a = ws_connect(
        addr,
        &["text.ircv3.net"],
        &[
            ("X-Forwarded-For", "203.0.113.5"),
            ("X-Forwarded-Proto", "https"),
        ],
    )
    .await
    .unwrap();
    a.register("forwarded").await;
    assert_eq!(a.whois_self().await.1, "203.0.113.5");
    a.send("WHOIS forwarded").await;
    a.expect("671").await;
    // The limit counts 203.0.113.5: the same address again is refused.
    let mut b = ws_connect(
        addr,
        &["text.ircv3.net"],
        &[("X-Forwarded-For", "203.0.113.5")],
    )
    .await
    .unwrap();
    let lines = b.expect_closed().await;
    assert!(
        lines
            .iter()
            .any(|m| m.last().contains("too many host connections")),
        "{lines:?}"
    );

    // Not a trusted proxy: the header is ignored.
    let srv = start(&format!(
        "{WS}[gateway]\ntrusted_proxies = [\"10.0.0.0/8\"]\n"
    ))
    .await;
    let mut c = ws_connect(srv.addrs[1], &[], &[("X-Forwarded-For", "203.0.113.5")])
        .await
        .unwrap();
    c.register("direct").await;
    assert_eq!(c.whois_self().await.1, "127.0.0.1");
}

/// The no-log invariant for WebSocket traffic, on the built binary at the
/// most verbose log level (as `ephemeral::nothing_said_reaches_a_log_or_a_file`
/// does for TCP).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_said_over_websocket_reaches_a_log_or_a_file() {
    const M: &str = "Wq4MarkerKs";
    let p = crate::binary::spawn_full(
        &format!("password = \"pass-{M}\"\n"),
        "[[listen]]\naddress = \"127.0.0.1:0\"\nwebsocket = true\n[channels]\nmin_idle_timeout = \"1s\"\nwarn_before = \"1s\"\n",
        &[("IRCD_LOG", "trace")],
    );
    let addr: SocketAddr = ([127, 0, 0, 1], p.port).into();
    let login = |nick: &'static str, proto: &'static str| async move {
        let mut c = ws_connect(addr, &[proto], &[("X-Forwarded-For", "198.51.100.1")])
            .await
            .unwrap();
        c.send(&format!("PASS pass-{M}")).await;
        c.register(nick).await;
        c
    };
    let mut a = login("alice", "text.ircv3.net").await;
    let mut b = login("bob", "binary.ircv3.net").await;
    let mut wrong = ws_connect(addr, &[], &[]).await.unwrap();
    wrong.send(&format!("PASS wrong-{M}")).await;
    wrong.send("NICK w").await;
    wrong.send("USER w 0 * :w").await;
    wrong.expect("464").await;
    let mut gw = ws_connect(addr, &[], &[]).await.unwrap();
    gw.send(&format!("WEBIRC webirc-{M} gw h 192.0.2.1")).await;
    gw.send(&format!("PASS pass-{M}")).await;

    a.send("JOIN #otr").await;
    a.expect("366").await;
    a.send(&format!("MODE #otr +kE key-{M} 1s")).await;
    a.expect("MODE").await;
    b.send(&format!("JOIN #otr key-{M}")).await;
    b.expect("366").await;
    a.send(&format!("TOPIC #otr :topic-{M}")).await;
    b.expect("TOPIC").await;
    a.send(&format!("PRIVMSG #otr :channel-{M}")).await;
    b.expect("PRIVMSG").await;
    a.send(&format!("PRIVMSG #otr :\x01ACTION action-{M}\x01"))
        .await;
    b.expect("PRIVMSG").await;
    b.send(&format!("PRIVMSG alice :dm-{M}")).await;
    a.expect("PRIVMSG").await;
    a.send(&format!("NOTICE bob :notice-{M}")).await;
    b.expect("NOTICE").await;
    a.send(&format!("PRIVMSG #otr :{}-{M}", "z".repeat(600)))
        .await;
    a.expect("417").await;
    a.send(&format!("KICK #otr bob :kick-{M}")).await;
    b.expect("KICK").await;
    b.send(&format!("QUIT :quit-{M}")).await;
    b.expect_closed().await;
    // The ephemeral channel self-destructs (1s) with alice in it.
    loop {
        let k = a.expect("KICK").await;
        if k.params[1] == "alice" {
            break;
        }
    }
    a.send(&format!("FROB{M} :x")).await;
    a.expect("421").await;
    let _ = a.ws.close(None).await;
    drop(gw);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut p = p;
    p.signal("-TERM");
    assert!(p.wait().success());

    let log = p.stderr.lock().unwrap().join("\n");
    assert!(
        log.contains("connected")
            && log.contains("command=\"PRIVMSG\"")
            && log.contains("198.51.100.1"),
        "{log}"
    );
    for (i, line) in log.lines().enumerate() {
        assert!(
            !line.to_lowercase().contains(&M.to_lowercase()),
            "log line {i} leaks content: {line}"
        );
    }
    let data = p.dir.path().join("data");
    let mut stack = vec![data];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).to_lowercase();
                assert!(
                    !text.contains(&M.to_lowercase()),
                    "{} holds content",
                    path.display()
                );
            }
        }
    }
}

/// A TLS client that accepts the server's self-signed certificate.
async fn tls_connect(tcp: TcpStream) -> tokio_rustls::client::TlsStream<TcpStream> {
    use tokio_rustls::rustls::{
        self, DigitallySignedStruct, SignatureScheme,
        client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
        pki_types::{CertificateDer, ServerName, UnixTime},
    };
    #[derive(Debug)]
    struct Any;
    impl ServerCertVerifier for Any {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Any))
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// ircd.toml.example documents the web keys with their defaults.
#[test]
fn example_documents_the_web_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ircd.toml.example");
    let example = ircd::Config::load(path.as_ref()).unwrap();
    let defaults = ircd::Config::defaults();
    assert_eq!(format!("{:?}", example.web), format!("{:?}", defaults.web));
    assert!(example.listen.iter().all(|l| !l.websocket && !l.proxy));
    let text = std::fs::read_to_string(path).unwrap();
    for key in [
        "websocket = ",
        "proxy = ",
        "origins = ",
        "web_client = ",
        "trusted_proxies = ",
        "[[webirc]]",
        "hosts = ",
    ] {
        assert!(
            text.contains(key),
            "ircd.toml.example does not document {key:?}"
        );
    }
}
