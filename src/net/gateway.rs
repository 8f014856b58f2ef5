//! Connections that need a step before their session: a PROXY header
//! (`proxy = true` listeners), the HTTP side of a WebSocket listener, and a
//! WEBIRC line from a configured gateway. Each step may learn the client's
//! real address, and the per-address limits (admission) are then applied to
//! that address, not to the proxy's or gateway's. Plain TCP and TLS
//! connections from anyone else never come here (`accept_loop`).

use std::{
    collections::VecDeque,
    io,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};
use tokio_rustls::TlsAcceptor;

use super::{
    Kind, Shared, Slot, proxy,
    refusals::Refusal,
    session,
    transport::{self, LineReader, LineWriter},
    websocket::{self, Upgrade},
};
use crate::{
    config::Webirc,
    proto::{Line, Message, codec::Frame, mask::valid_hostname},
};

/// How long a proxy has to send its PROXY header.
const PROXY_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves a connection to a WebSocket or PROXY listener, or one from a
/// WEBIRC gateway's address.
pub(super) async fn serve(
    mut stream: TcpStream,
    mut peer: SocketAddr,
    index: usize,
    kind: Kind,
    shared: Arc<Shared>,
    slot: Slot,
) {
    let config = shared.state.config();
    let listen = &config.listen[index];
    let websocket = listen.websocket;
    let listen_proxy = listen.proxy;
    if listen_proxy {
        if !config.web.trusts_proxy(peer.ip()) {
            shared.refusals.note(Refusal::UntrustedProxy, peer);
            return;
        }
        match tokio::time::timeout(PROXY_TIMEOUT, proxy::read_header(&mut stream)).await {
            Ok(Ok(Some(addr))) => peer = addr,
            Ok(Ok(None)) => {}
            Ok(Err(why)) => {
                tracing::debug!(%peer, why, "bad PROXY header");
                shared.refusals.note(Refusal::BadProxyHeader, peer);
                return;
            }
            Err(_) => {
                shared.refusals.note(Refusal::NoProxyHeader, peer);
                return;
            }
        }
    }
    drop(config);
    // The real address is known: a D-line on it refuses before TLS.
    if listen_proxy && let Some(ban) = shared.state.dline_for(peer.ip()) {
        shared.purge_bans();
        shared.refusals.note(Refusal::Dlined, peer);
        if matches!(kind, Kind::Plain) && !websocket {
            session::refuse(stream, peer, format!("Banned: {}", ban.reason)).await;
        }
        return;
    }
    match kind {
        Kind::Plain => after_tls(stream, peer, false, websocket, shared, slot).await,
        Kind::Tls(cfg) => {
            let acceptor = TlsAcceptor::from(cfg);
            match tokio::time::timeout(Duration::from_secs(15), acceptor.accept(stream)).await {
                Ok(Ok(s)) => after_tls(s, peer, true, websocket, shared, slot).await,
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

async fn after_tls<S>(
    s: S,
    peer: SocketAddr,
    tls: bool,
    websocket: bool,
    shared: Arc<Shared>,
    slot: Slot,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if websocket {
        let config = shared.state.config();
        match websocket::accept(s, peer, tls, &config, &shared.refusals).await {
            Upgrade::Irc(rd, wr, addr, secure) => {
                drop(config);
                start(rd, wr, addr, secure, shared, slot).await;
            }
            Upgrade::Done => {}
        }
    } else {
        let (rd, wr) = transport::stream(s);
        start(rd, wr, peer, tls, shared, slot).await;
    }
}

/// A reader with one frame put back in front (the first line, read to see
/// whether it was WEBIRC).
struct Pushback<R> {
    first: Option<Frame>,
    inner: R,
}

impl<R: LineReader> LineReader for Pushback<R> {
    fn next_frame(&mut self) -> Option<Frame> {
        self.first.take().or_else(|| self.inner.next_frame())
    }

    fn backlog(&self) -> usize {
        self.inner.backlog()
    }

    fn has_line(&self) -> bool {
        self.first.is_some() || self.inner.has_line()
    }

    async fn read(&mut self) -> io::Result<usize> {
        self.inner.read().await
    }

    fn relax(&mut self) {
        self.inner.relax();
    }
}

/// WEBIRC, admission by the real address, then the session.
async fn start<R: LineReader, W: LineWriter>(
    mut rd: R,
    wr: W,
    mut peer: SocketAddr,
    mut tls: bool,
    shared: Arc<Shared>,
    slot: Slot,
) {
    let config = shared.state.config();
    let gateways: Vec<Webirc> = config.web.webirc_for(peer.ip()).cloned().collect();
    let wait = config.limits.registration_timeout;
    drop(config);
    let mut first = None;
    let mut host = None;
    if !gateways.is_empty() {
        // WEBIRC must be the first line a gateway sends.
        let frame = loop {
            if let Some(f) = rd.next_frame() {
                break f;
            }
            match tokio::time::timeout(wait, rd.read()).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
        };
        match webirc_params(&frame) {
            Some(params) => match check_webirc(params, &gateways).await {
                Ok((gateway, ip, hostname, secure)) => {
                    tracing::info!(gateway = %peer, name = %gateway, client = %ip, "WEBIRC");
                    peer = SocketAddr::new(ip, 0);
                    host = hostname;
                    tls |= secure;
                }
                Err(why) => {
                    tracing::info!(%peer, why, "WEBIRC refused");
                    return refuse(wr, peer.ip(), why).await;
                }
            },
            None => first = Some(frame),
        }
    }
    if let Some(ban) = shared.state.dline_for(peer.ip()) {
        shared.purge_bans();
        shared.refusals.note(Refusal::Dlined, peer);
        return refuse(wr, peer.ip(), &format!("Banned: {}", ban.reason)).await;
    }
    let admission = match shared.state.admit(peer.ip(), tls) {
        Ok(admission) => admission,
        Err(why) => {
            shared.refusals.note(Refusal::ClassLimits, peer);
            return refuse(wr, peer.ip(), &why).await;
        }
    };
    let rd = Pushback { first, inner: rd };
    let conn = session::Conn {
        peer,
        tls,
        host,
        certfp: None,
        admission,
        slot,
        local: None,
    };
    session::serve(rd, wr, conn, shared).await;
}

/// Tells a refused client why, in one ERROR line, over its own transport.
async fn refuse<W: LineWriter>(mut wr: W, ip: IpAddr, why: &str) {
    let line = Line::new(None, "ERROR")
        .text(&format!("Closing Link: {ip} ({why})"))
        .build();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = wr.write_lines(VecDeque::from([line])).await;
        wr.close().await;
    })
    .await;
}

/// The parameters of a WEBIRC line; None for any other line.
fn webirc_params(frame: &Frame) -> Option<Vec<String>> {
    let Frame::Line(line) = frame else {
        return None;
    };
    let text = std::str::from_utf8(line).ok()?;
    let msg = Message::parse(text).ok()?;
    msg.command
        .eq_ignore_ascii_case("WEBIRC")
        .then(|| msg.params().iter().map(|p| p.to_string()).collect())
}

/// `WEBIRC <password> <gateway> <hostname> <ip> [:<options>]` (IRCv3
/// WEBIRC): checks the password against the gateways allowed at this
/// address; returns the gateway's name, the client's address, its hostname
/// when that is a valid one, and whether the client's own connection is
/// secure.
async fn check_webirc(
    params: Vec<String>,
    gateways: &[Webirc],
) -> Result<(String, IpAddr, Option<String>, bool), &'static str> {
    let [password, _gateway, hostname, ip, rest @ ..] = params.as_slice() else {
        return Err("WEBIRC: not enough parameters");
    };
    let ip: IpAddr = ip.parse().map_err(|_| "WEBIRC: invalid IP")?;
    let password = zeroize::Zeroizing::new(password.clone());
    let candidates = gateways.to_vec();
    // A bcrypt hash is checked off the async threads.
    let matched = tokio::task::spawn_blocking(move || {
        candidates.into_iter().find(|g| {
            let expected = g.password.expose();
            if crate::config::is_bcrypt_hash(expected) {
                crate::hashing::run(|| bcrypt::verify(password.as_bytes(), expected))
                    .unwrap_or(false)
            } else {
                password.len() == expected.len()
                    && password
                        .bytes()
                        .zip(expected.bytes())
                        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                        == 0
            }
        })
    })
    .await
    .ok()
    .flatten()
    .ok_or("WEBIRC: invalid password")?;
    let hostname = (valid_hostname(hostname) && hostname.len() <= 63).then(|| hostname.clone());
    let secure = rest
        .iter()
        .flat_map(|o| o.split(' '))
        .any(|o| o == "secure" || o.starts_with("secure="));
    Ok((matched.name, ip, hostname, secure))
}
