//! IRC over WebSocket (the IRCv3 WebSocket specification) and the HTTP side
//! of a `websocket = true` listener: the request head is read here (so that
//! one listener serves the web client at `/`, answers a refused `Origin`
//! with 403 and learns a client's address from a trusted proxy's
//! `X-Forwarded-For`), then tokio-tungstenite runs the WebSocket protocol
//! (frames, masking, ping/pong, close) over the same stream.
//!
//! Subprotocols: `binary.ircv3.net`, `text.ircv3.net`, or none (text). One
//! IRC line per WebSocket message, without CR LF; a message goes through
//! the same codec as a TCP stream, so the 512/4094 limits, 417, flood
//! control's recvq and everything after are those of TCP.

use std::{collections::VecDeque, io, net::SocketAddr, time::Duration};

use bytes::{Bytes, BytesMut};
use futures_util::{
    SinkExt, StreamExt,
    stream::{SplitSink, SplitStream},
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Message, Utf8Bytes,
        handshake::derive_accept_key,
        protocol::{Role, WebSocketConfig},
    },
};

use super::transport::{LineReader, LineWriter};
use crate::{
    config::Config,
    proto::codec::{Frame, LineCodec, MAX_BUFFER},
};

/// The largest WebSocket message: one line of the most the codec buffers.
const LINE_READ_LIMIT: usize = MAX_BUFFER + 2;
/// The largest request head we read.
const MAX_HEAD: usize = 8192;
/// How long a client has to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The embedded web client: no build step, no CDN.
const INDEX_HTML: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const APP_CSS: &str = include_str!("../web/app.css");

/// What the HTTP side decided about a connection.
pub enum Upgrade<S> {
    /// A WebSocket session: the transport halves, the client's address (a
    /// trusted proxy's X-Forwarded-For applied) and whether it came over TLS.
    Irc(WsReader<S>, WsWriter<S>, SocketAddr, bool),
    /// Answered over HTTP (the web client, 403, 404...) or gone.
    Done,
}

/// The subprotocol a client and the server agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Binary,
    Text,
}

/// The parts of a request head the server looks at.
struct Head {
    method: String,
    path: String,
    upgrade: bool,
    key: Option<String>,
    version: Option<String>,
    origin: Option<String>,
    host: Option<String>,
    protocols: Vec<String>,
    forwarded_for: Option<String>,
    forwarded_proto: Option<String>,
}

fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut req = httparse::Request::new(&mut headers);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let mut head = Head {
        method: req.method.unwrap_or("").to_string(),
        path: req.path.unwrap_or("/").to_string(),
        upgrade: false,
        key: None,
        version: None,
        origin: None,
        host: None,
        protocols: Vec::new(),
        forwarded_for: None,
        forwarded_proto: None,
    };
    let mut connection_upgrade = false;
    let mut upgrade_ws = false;
    for h in req.headers.iter() {
        let v = String::from_utf8_lossy(h.value).trim().to_string();
        match h.name.to_ascii_lowercase().as_str() {
            "connection" => {
                connection_upgrade |= v
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            }
            "upgrade" => upgrade_ws |= v.eq_ignore_ascii_case("websocket"),
            "sec-websocket-key" => head.key = Some(v),
            "sec-websocket-version" => head.version = Some(v),
            "sec-websocket-protocol" => head
                .protocols
                .extend(v.split(',').map(|p| p.trim().to_ascii_lowercase())),
            "origin" => head.origin = Some(v),
            "host" => head.host = Some(v),
            // Several headers of a name form one list.
            "x-forwarded-for" => {
                head.forwarded_for = Some(match head.forwarded_for.take() {
                    Some(prev) => format!("{prev},{v}"),
                    None => v,
                })
            }
            "x-forwarded-proto" => head.forwarded_proto = Some(v),
            _ => {}
        }
    }
    head.upgrade = connection_upgrade && upgrade_ws;
    Ok(Some((head, n)))
}

/// The client behind a chain of proxies: walking `X-Forwarded-For` from the
/// right (the hop nearest us), the first address that is not a trusted
/// proxy. None when the header says nothing usable.
fn forwarded_client(list: &str, config: &Config) -> Option<std::net::IpAddr> {
    let mut last = None;
    for hop in list.rsplit(',') {
        let ip: std::net::IpAddr = hop.trim().parse().ok()?;
        if !config.web.trusts_proxy(ip) {
            return Some(ip);
        }
        last = Some(ip);
    }
    last
}

async fn respond<S: AsyncWrite + Unpin>(
    s: &mut S,
    status: &str,
    extra: &[(&str, &str)],
    content_type: &str,
    body: &str,
    head_only: bool,
) {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n",
        body.len()
    );
    for (k, v) in extra {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    if !head_only {
        out.push_str(body);
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let _ = s.write_all(out.as_bytes()).await;
        let _ = s.shutdown().await;
    })
    .await;
}

/// The page's Content-Security-Policy: its own script and style only, so
/// that even markup that slipped into the page could not run.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Reads the request head and answers it: the web client's files, an error,
/// or the upgrade to a WebSocket session.
pub async fn accept<S>(
    mut s: S,
    peer: SocketAddr,
    tls: bool,
    config: &Config,
    refusals: &super::refusals::Refusals,
) -> Upgrade<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut buf = Vec::with_capacity(1024);
    let parsed = tokio::time::timeout(HEAD_TIMEOUT, async {
        loop {
            match parse_head(&buf) {
                Ok(Some(h)) => return Some(h),
                Ok(None) if buf.len() < MAX_HEAD => {}
                _ => return None,
            }
            let mut chunk = [0u8; 1024];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let Ok(Some((head, used))) = parsed else {
        if !buf.is_empty() {
            respond(
                &mut s,
                "400 Bad Request",
                &[],
                "text/plain",
                "Bad request\n",
                false,
            )
            .await;
        }
        return Upgrade::Done;
    };
    let head_only = head.method == "HEAD";
    if !head.upgrade {
        if head.method != "GET" && !head_only {
            respond(
                &mut s,
                "405 Method Not Allowed",
                &[("Allow", "GET, HEAD")],
                "text/plain",
                "Method not allowed\n",
                false,
            )
            .await;
            return Upgrade::Done;
        }
        let path = head.path.split('?').next().unwrap_or("/");
        let file = match path {
            _ if !config.web.web_client => None,
            "/" | "/index.html" => Some(("text/html; charset=utf-8", INDEX_HTML)),
            "/app.js" => Some(("text/javascript; charset=utf-8", APP_JS)),
            "/app.css" => Some(("text/css; charset=utf-8", APP_CSS)),
            _ => None,
        };
        match file {
            Some((ct, body)) => {
                respond(
                    &mut s,
                    "200 OK",
                    &[("Content-Security-Policy", CSP)],
                    ct,
                    body,
                    head_only,
                )
                .await
            }
            None => {
                respond(
                    &mut s,
                    "404 Not Found",
                    &[],
                    "text/plain",
                    "Not found\n",
                    head_only,
                )
                .await
            }
        }
        return Upgrade::Done;
    }
    if !config
        .web
        .origin_allowed(head.origin.as_deref(), head.host.as_deref())
    {
        refusals.note(super::refusals::Refusal::WebOrigin, peer);
        respond(
            &mut s,
            "403 Forbidden",
            &[],
            "text/plain",
            "Origin not allowed\n",
            false,
        )
        .await;
        return Upgrade::Done;
    }
    let (Some(key), Some("13")) = (head.key.as_deref(), head.version.as_deref()) else {
        respond(
            &mut s,
            "426 Upgrade Required",
            &[("Sec-WebSocket-Version", "13")],
            "text/plain",
            "WebSocket version 13 needed\n",
            false,
        )
        .await;
        return Upgrade::Done;
    };
    // The address the session is known by: a trusted proxy's word for it.
    let (mut addr, mut secure) = (peer, tls);
    if config.web.trusts_proxy(peer.ip()) {
        if let Some(ip) = head
            .forwarded_for
            .as_deref()
            .and_then(|l| forwarded_client(l, config))
        {
            addr = SocketAddr::new(ip, 0);
        }
        if head
            .forwarded_proto
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
        {
            secure = true;
        }
    }
    let proto = if head.protocols.iter().any(|p| p == "binary.ircv3.net") {
        Some(Proto::Binary)
    } else if head.protocols.iter().any(|p| p == "text.ircv3.net") {
        Some(Proto::Text)
    } else {
        None
    };
    let mut resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
        derive_accept_key(key.as_bytes())
    );
    match proto {
        Some(Proto::Binary) => resp.push_str("Sec-WebSocket-Protocol: binary.ircv3.net\r\n"),
        Some(Proto::Text) => resp.push_str("Sec-WebSocket-Protocol: text.ircv3.net\r\n"),
        None => {}
    }
    resp.push_str("\r\n");
    if s.write_all(resp.as_bytes()).await.is_err() || s.flush().await.is_err() {
        return Upgrade::Done;
    }
    let ws = WebSocketStream::from_partially_read(
        s,
        buf[used..].to_vec(),
        Role::Server,
        Some(ws_config()),
    )
    .await;
    let (tx, rx) = ws.split();
    Upgrade::Irc(
        WsReader {
            rx,
            buf: BytesMut::new(),
            codec: LineCodec::new(),
        },
        WsWriter {
            tx,
            binary: proto == Some(Proto::Binary),
        },
        addr,
        secure,
    )
}

/// Small buffers (an idle WebSocket client should cost little more than a
/// TCP one) and a message limit just past the codec's: a longer message is
/// a bad frame that ends the connection, a long line within it gets 417.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(1 << 20)
        .max_message_size(Some(LINE_READ_LIMIT))
        .max_frame_size(Some(LINE_READ_LIMIT))
}

/// The reading half: each text or binary message is one line for the codec.
pub struct WsReader<S> {
    rx: SplitStream<WebSocketStream<S>>,
    buf: BytesMut,
    codec: LineCodec,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> LineReader for WsReader<S> {
    fn next_frame(&mut self) -> Option<Frame> {
        self.codec.decode(&mut self.buf)
    }

    fn backlog(&self) -> usize {
        self.buf.len()
    }

    fn has_line(&self) -> bool {
        !self.buf.is_empty()
    }

    async fn read(&mut self) -> io::Result<usize> {
        loop {
            let payload = match self.rx.next().await {
                None | Some(Ok(Message::Close(_))) => return Ok(0),
                Some(Err(e)) => return Err(io::Error::other(e)),
                // tungstenite answers pings itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Text(t))) => Bytes::from(t),
                Some(Ok(Message::Binary(b))) => b,
            };
            // A message is one line; a client that ends it with CR LF
            // anyway is forgiven. Every message ends a line, so an empty
            // one is an empty line (skipped), not a glued one.
            let line = payload
                .strip_suffix(b"\n")
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .unwrap_or(&payload);
            self.buf.extend_from_slice(line);
            self.buf.extend_from_slice(b"\n");
            return Ok(payload.len() + 1);
        }
    }

    fn relax(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 1024 {
            self.buf = BytesMut::new();
        }
    }
}

/// The writing half: each line becomes one message, without its CR LF.
pub struct WsWriter<S> {
    tx: SplitSink<WebSocketStream<S>, Message>,
    binary: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> LineWriter for WsWriter<S> {
    async fn write_lines(&mut self, lines: VecDeque<Bytes>) -> io::Result<()> {
        for l in lines {
            let body = match l.strip_suffix(b"\r\n").map(<[u8]>::len) {
                Some(n) => l.slice(..n),
                None => l,
            };
            let msg = if self.binary {
                Message::Binary(body)
            } else {
                // Every line the server builds is UTF-8 (UTF8ONLY, and Line
                // cuts on a character boundary); a stray byte is replaced
                // rather than sent as an invalid text frame.
                Message::Text(Utf8Bytes::try_from(body.clone()).unwrap_or_else(|_| {
                    Utf8Bytes::from(String::from_utf8_lossy(&body).into_owned())
                }))
            };
            self.tx.feed(msg).await.map_err(io::Error::other)?;
        }
        self.tx.flush().await.map_err(io::Error::other)
    }

    async fn close(&mut self) {
        let _ = self.tx.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_parsing() {
        let req = b"GET /irc HTTP/1.1\r\nHost: box.lan:8097\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: text.ircv3.net, binary.ircv3.net\r\nX-Forwarded-For: 192.0.2.7\r\nX-Forwarded-For: 10.0.0.2\r\n\r\nextra";
        let (h, n) = parse_head(req).unwrap().unwrap();
        assert_eq!(&req[n..], b"extra");
        assert!(h.upgrade);
        assert_eq!(h.host.as_deref(), Some("box.lan:8097"));
        assert_eq!(h.protocols, ["text.ircv3.net", "binary.ircv3.net"]);
        assert_eq!(h.forwarded_for.as_deref(), Some("192.0.2.7,10.0.0.2"));
        assert!(
            parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n")
                .unwrap()
                .is_none()
        );
        assert!(parse_head(b"\x00\x01 nonsense\r\n\r\n").is_err());
    }

    #[test]
    fn forwarded_for_skips_trusted_hops() {
        let c = Config::parse("[gateway]\ntrusted_proxies = [\"10.0.0.0/8\"]\n", None).unwrap();
        let ip = |s: &str| Some(s.parse().unwrap());
        assert_eq!(forwarded_client("192.0.2.7, 10.0.0.2", &c), ip("192.0.2.7"));
        // A client cannot claim an address by prepending it: the nearest
        // untrusted hop wins.
        assert_eq!(
            forwarded_client("1.2.3.4, 198.51.100.9, 10.0.0.2", &c),
            ip("198.51.100.9")
        );
        assert_eq!(forwarded_client("garbage", &c), None);
    }
}
