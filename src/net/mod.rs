//! Listeners (each with its kind: plaintext or TLS; and WebSocket or PROXY
//! listeners, which `gateway.rs` serves), the line transports and the
//! session loop of a connection, rehash, the idle driver of ephemeral
//! channels, and graceful shutdown.

mod flood;
mod gateway;
mod ident;
pub mod proxy;
mod refusals;
mod session;
pub mod tls;
pub mod transport;
pub mod websocket;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use parking_lot::RwLock;

use anyhow::Context;
use tokio::net::{TcpListener, TcpSocket};
use tokio_rustls::{TlsAcceptor, rustls::ServerConfig};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    commands::{Control, deliver},
    config::Config,
    proto::{Line, caps::Cap},
    state::State,
};
use refusals::Refusal;

/// What every task of the server shares.
pub struct Shared {
    pub state: State,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    /// Each listener's TLS config, swapped whole on rehash.
    tls: Vec<RwLock<Option<Arc<ServerConfig>>>>,
    /// The account store and its rules, when services are on.
    accounts: Option<Arc<crate::services::Accounts>>,
    /// Refused connections, for the log (at info at most once a minute each).
    refusals: refusals::Refusals,
}

impl Control for Shared {
    fn rehash(&self) -> Result<(), String> {
        Shared::rehash(self)
    }

    fn accounts(&self) -> Option<Arc<crate::services::Accounts>> {
        self.accounts.clone()
    }

    fn purge_bans(&self) {
        Shared::purge_bans(self);
    }

    fn after(self: Arc<Self>, delay: Duration, work: crate::services::Later) {
        let shared = self.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = shared.shutdown.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
            let deliveries = work(&shared.state);
            let server = shared.state.config().server.name.clone();
            for d in &deliveries {
                deliver::deliver(&server, d, None);
            }
        });
    }
}

impl Shared {
    /// Deletes from the store (off the async threads) the bans State
    /// dropped at expiry; with services off there is nothing to delete.
    fn purge_bans(&self) {
        let expired = self.state.take_expired_bans();
        if let (false, Some(acc)) = (expired.is_empty(), self.accounts.clone()) {
            tokio::task::spawn_blocking(move || {
                for key in expired {
                    if acc.store().remove_ban(&key).is_err() {
                        tracing::warn!("could not purge an expired ban from the store");
                    }
                }
            });
        }
    }

    /// Reloads the config file, MOTD and certificates. A config that fails
    /// validation (or certificates that fail to load) changes nothing.
    pub fn rehash(&self) -> Result<(), String> {
        let old = self.state.config();
        let Some(path) = old.path.clone() else {
            // Built-in defaults: nothing to re-read but the certificates.
            return self.reload_tls(&old);
        };
        let new = Config::load(&path).map_err(|e| e.to_string())?;
        if new.listen != old.listen {
            return Err("listeners changed: [[listen]] changes need a restart".into());
        }
        if new.services.enabled != old.services.enabled
            || new.server.data_dir != old.server.data_dir
        {
            return Err("services.enabled or server.data_dir changed: that needs a restart".into());
        }
        if new.server.casemapping != old.server.casemapping {
            return Err("server.casemapping changed: that needs a restart".into());
        }
        // The draft capabilities' values (multiline limits, relaymsg
        // separators) were granted as offered: they stay until a restart.
        let drafts = |c: &Config| {
            crate::commands::cap::offered(c, false)
                .into_iter()
                .filter(|(c, _)| matches!(c, Cap::Multiline | Cap::Relaymsg | Cap::ReadMarker))
                .collect::<Vec<_>>()
        };
        if drafts(&new) != drafts(&old) {
            return Err("[multiline], [relaymsg] or [read_markers] changed what CAP offers (enabled, limits, separators): that needs a restart".into());
        }
        if new.history.enabled != old.history.enabled {
            return Err("history.enabled changed: that needs a restart".into());
        }
        self.reload_tls(&new)?;
        let sts = |c: &Config| {
            crate::commands::cap::offered(c, false)
                .iter()
                .any(|(c, _)| *c == Cap::Sts)
        };
        let (had_sts, has_sts) = (sts(&old), sts(&new));
        self.state.set_config(Arc::new(new));
        // Direct messages no longer kept (or a shorter max_age): forget now.
        self.state.expire_history();
        if had_sts != has_sts {
            self.announce_sts(has_sts);
        }
        tracing::info!("configuration reloaded");
        Ok(())
    }

    /// cap-notify: tells clients that sts appeared (CAP NEW) or went (CAP DEL).
    fn announce_sts(&self, available: bool) {
        let config = self.state.config();
        let server = config.server.name.clone();
        for c in self.state.all_clients() {
            if !c.has_cap(Cap::CapNotify.bit()) {
                continue;
            }
            let nick = c.nick();
            let line = if available {
                let value = crate::commands::cap::offered(&config, c.tls)
                    .into_iter()
                    .find(|(cap, _)| *cap == Cap::Sts)
                    .and_then(|(_, v)| v)
                    .unwrap_or_default();
                Line::new(Some(&server), "CAP")
                    .arg(&nick)
                    .arg("NEW")
                    .text(&format!("sts={value}"))
                    .build()
            } else {
                Line::new(Some(&server), "CAP")
                    .arg(&nick)
                    .arg("DEL")
                    .text("sts")
                    .build()
            };
            c.send(line);
        }
    }

    fn reload_tls(&self, config: &Config) -> Result<(), String> {
        let tls = tls::for_listeners(config).map_err(|e| format!("{e:#}"))?;
        for (slot, new) in self.tls.iter().zip(tls) {
            *slot.write() = new;
        }
        Ok(())
    }
}

/// The security of a listener's streams. Whether it speaks WebSocket or
/// expects a PROXY header is in its `config::Listen`, and fixed until restart.
enum Kind {
    Plain,
    Tls(Arc<ServerConfig>),
}

impl Shared {
    /// The kind of listener `index` now (its TLS config follows rehashes).
    fn kind(&self, index: usize) -> Kind {
        match self.tls[index].read().clone() {
            None => Kind::Plain,
            Some(cfg) => Kind::Tls(cfg),
        }
    }
}

/// A bound server, not yet accepting.
pub struct Server {
    shared: Arc<Shared>,
    listeners: Vec<TcpListener>,
    addrs: Vec<SocketAddr>,
}

/// A handle to a running server: rehash it, shut it down, look at its state.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    pub fn rehash(&self) -> Result<(), String> {
        self.shared.rehash()
    }

    pub fn shutdown(&self) {
        self.shared.shutdown.cancel();
    }

    pub fn state(&self) -> &State {
        &self.shared.state
    }
}

impl Server {
    /// Binds every listener (port 0 picks a free port) and prepares TLS.
    pub async fn bind(config: Config) -> anyhow::Result<Server> {
        let tls = tls::for_listeners(&config)?;
        let mut listeners = Vec::new();
        let mut addrs = Vec::new();
        for l in &config.listen {
            let socket = if l.address.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            socket.set_reuseaddr(true)?;
            socket
                .bind(l.address)
                .with_context(|| format!("binding {}", l.address))?;
            let listener = socket.listen(4096)?;
            addrs.push(listener.local_addr()?);
            listeners.push(listener);
        }
        let accounts = if config.services.enabled {
            let a =
                crate::services::Accounts::open(&config.server.data_dir, config.server.casemapping)
                    .with_context(|| {
                        format!(
                            "opening the account store in {}",
                            config.server.data_dir.display()
                        )
                    })?;
            Some(Arc::new(a))
        } else {
            None
        };
        let shared = Arc::new(Shared {
            accounts,
            state: State::new(Arc::new(config)),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            tls: tls.into_iter().map(RwLock::new).collect(),
            refusals: Default::default(),
        });
        // Registered channels exist from the start, as they were kept, and
        // server bans are in force again (those that expired meanwhile purged).
        if let Some(acc) = &shared.accounts {
            for reg in acc.channels() {
                shared
                    .state
                    .restore_channel(&reg.name, &reg.kept.unwrap_or_default());
                if reg.history_off {
                    shared.state.set_channel_history(&reg.name, false);
                }
            }
            let bans = acc.store().bans().context("reading the server bans")?;
            for key in shared.state.load_bans(bans) {
                acc.store()
                    .remove_ban(&key)
                    .context("purging an expired ban")?;
            }
        }
        Ok(Server {
            shared,
            listeners,
            addrs,
        })
    }

    /// The bound addresses, in `[[listen]]` order.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    pub fn handle(&self) -> Handle {
        Handle {
            shared: self.shared.clone(),
        }
    }

    /// Accepts clients until shutdown, then says goodbye to each of them and
    /// waits (bounded) for their queues to flush.
    pub async fn run(self) {
        let shared = self.shared;
        let config = shared.state.config();
        for (i, listener) in self.listeners.into_iter().enumerate() {
            let shared2 = shared.clone();
            let special = config.listen[i].websocket || config.listen[i].proxy;
            shared
                .tracker
                .spawn(accept_loop(listener, i, special, shared2));
        }
        drop(config);
        let idle = shared.clone();
        shared.tracker.spawn(idle_driver(idle));
        if shared.state.config().history.enabled {
            shared.tracker.spawn(history_sweeper(shared.clone()));
        }
        shared.shutdown.cancelled().await;
        shared.tracker.close();
        if tokio::time::timeout(Duration::from_secs(10), shared.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not close within 10s");
        }
        tracing::info!("server stopped");
    }
}

/// `special`: a WebSocket or PROXY listener, whose connections `gateway.rs`
/// serves (their real address is known only after a header).
async fn accept_loop(listener: TcpListener, index: usize, special: bool, shared: Arc<Shared>) {
    let mut starved = Starved::default();
    // At the max_connections ceiling: logged when it starts and ends, not
    // for every refused socket (a storm would flood the log).
    let mut full = false;
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                starved.recovered();
                let kind = shared.kind(index);
                // D-lines first: a banned address gets no TLS handshake, no
                // PROXY header and no WEBIRC (gateways check the real one).
                if let Some(ban) = shared.state.dline_for(peer.ip()) {
                    shared.purge_bans();
                    shared.refusals.note(Refusal::Dlined, peer);
                    if matches!(kind, Kind::Plain) && !special {
                        refuse_now(stream, peer, &format!("Banned: {}", ban.reason));
                    }
                    continue;
                }
                // The global ceiling, before the process runs out of descriptors.
                let Some(slot) = Slot::take(&shared) else {
                    if !std::mem::replace(&mut full, true) {
                        tracing::warn!("max_connections reached: refusing new connections");
                    }
                    tracing::debug!(%peer, "connection refused: max_connections reached");
                    if matches!(kind, Kind::Plain) && !special {
                        refuse_now(stream, peer, "server full: too many connections");
                    }
                    continue;
                };
                if std::mem::take(&mut full) {
                    tracing::info!("below max_connections again: accepting");
                }
                // Served sockets send lines as they are written, not after
                // the peer's delayed ACK (set only on those: refusals skip it).
                if special || is_webirc_gateway(&shared, peer.ip()) {
                    let _ = stream.set_nodelay(true);
                    let shared2 = shared.clone();
                    shared
                        .tracker
                        .spawn(gateway::serve(stream, peer, index, kind, shared2, slot));
                    continue;
                }
                // Per-address limits before anything else, a TLS handshake included.
                let tls = matches!(kind, Kind::Tls(_));
                let admission = match shared.state.admit(peer.ip(), tls) {
                    Ok(admission) => admission,
                    Err(why) => {
                        shared.refusals.note(Refusal::ClassLimits, peer);
                        // A TLS client would need a handshake to read the
                        // reason; refused TLS connections are just closed.
                        if !tls {
                            refuse_now(stream, peer, &why);
                        }
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let conn = session::Conn {
                    peer,
                    tls,
                    host: None,
                    certfp: None,
                    admission,
                    slot,
                    local: stream.local_addr().ok(),
                };
                let shared2 = shared.clone();
                // Plaintext and TLS connections are separate tasks, so that a
                // plaintext one does not carry the (much larger) TLS future.
                match kind {
                    Kind::Plain => {
                        let (rd, wr) = transport::stream(stream);
                        shared.tracker.spawn(session::serve(rd, wr, conn, shared2));
                    }
                    Kind::Tls(cfg) => {
                        shared.tracker.spawn(serve_tls(stream, cfg, conn, shared2));
                    }
                }
            }
            Err(e) => {
                let pause = starved.failed(&e);
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}

/// An accept loop's state while `accept` fails for want of resources (out
/// of file descriptors, EMFILE/ENFILE, or of memory): it backs off
/// from 100 ms, doubling to 1 s, and logs the start and the end of the
/// episode once each instead of every attempt. The connections waiting
/// meanwhile stay in the listen backlog and are accepted when descriptors
/// free up. Any other error is about one connection (reset before it was
/// accepted): logged at debug, retried at once.
#[derive(Default)]
struct Starved {
    pause: Option<Duration>,
    failures: u64,
}

impl Starved {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(1);

    /// How long to wait before the next `accept` after `e`.
    fn failed(&mut self, e: &std::io::Error) -> Duration {
        // EMFILE, ENFILE and ENOMEM: the same numbers on Linux and the BSDs.
        const ENOMEM: i32 = 12;
        const ENFILE: i32 = 23;
        const EMFILE: i32 = 24;
        let resources = matches!(e.raw_os_error(), Some(EMFILE | ENFILE | ENOMEM))
            || e.kind() == std::io::ErrorKind::OutOfMemory;
        if !resources {
            tracing::debug!(error = %e, "accept failed");
            return Duration::ZERO;
        }
        self.failures += 1;
        let pause = match self.pause {
            None => {
                tracing::warn!(
                    error = %e,
                    "accept: out of file descriptors (or memory); new connections wait \
                     in the backlog, retrying every second at most"
                );
                Self::FIRST
            }
            Some(p) => (p * 2).min(Self::MAX),
        };
        self.pause = Some(pause);
        pause
    }

    /// A connection was accepted: the end of an episode, if one was on.
    fn recovered(&mut self) {
        if self.pause.take().is_some() {
            tracing::info!(failed_attempts = self.failures, "accepting again");
            self.failures = 0;
        }
    }
}

/// Is `ip` the address of a WEBIRC gateway? Its connections read a first
/// line before admission (`gateway.rs`).
fn is_webirc_gateway(shared: &Shared, ip: std::net::IpAddr) -> bool {
    let config = shared.state.config();
    !config.web.webirc.is_empty() && config.web.webirc_for(ip).next().is_some()
}

async fn serve_tls(
    stream: tokio::net::TcpStream,
    cfg: Arc<ServerConfig>,
    mut conn: session::Conn,
    shared: Arc<Shared>,
) {
    let peer = conn.peer;
    let acceptor = TlsAcceptor::from(cfg);
    match tokio::time::timeout(Duration::from_secs(15), acceptor.accept(stream)).await {
        Ok(Ok(s)) => {
            conn.certfp = s
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| tls::fingerprint(c));
            let (rd, wr) = transport::stream(s);
            return session::serve(rd, wr, conn, shared).await;
        }
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
    shared.state.release(&mut conn.admission);
}

/// Refuses a plaintext connection the accept loop will not serve: its
/// ERROR line, then the socket closed, with no task, no wait and no
/// `shutdown` call (a connection storm is thousands of these a second, and
/// they run on the loop that accepts everyone). A fresh socket's send buffer
/// is empty, so the line (under 512 bytes) is written whole; the close sends
/// it, then the FIN.
fn refuse_now(stream: tokio::net::TcpStream, peer: SocketAddr, why: &str) {
    let text = format!("Closing Link: {} ({why})", peer.ip());
    let _ = stream.try_write(&Line::new(None, "ERROR").text(&text).build());
}

/// One of the `[limits] max_connections` slots: taken when a socket is
/// accepted, given back when the connection ends (dropped with it).
pub(crate) struct Slot(Arc<Shared>);

impl Slot {
    fn take(shared: &Arc<Shared>) -> Option<Slot> {
        shared.state.open_slot().then(|| Slot(shared.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.state.close_slot();
    }
}

/// The one task that drives every ephemeral channel's idle clock.
async fn idle_driver(shared: Arc<Shared>) {
    let state = &shared.state;
    let mut destroyed_since_trim = 0;
    loop {
        let next = state.idle.next();
        let sleep = async {
            match next {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = state.idle.changed.notified() => continue,
            _ = sleep => {}
        }
        let (deliveries, n) = state.fire_idle(tokio::time::Instant::now());
        let server = state.config().server.name.clone();
        for d in &deliveries {
            deliver::deliver(&server, d, None);
        }
        if n > 0 {
            tracing::info!(channels = n, "ephemeral channels self-destructed");
        }
        destroyed_since_trim += n;
        if destroyed_since_trim >= 1024 || (destroyed_since_trim > 0 && state.idle.is_empty()) {
            release_free_memory();
            destroyed_since_trim = 0;
        }
    }
}

/// Forgets history past `[history] max_age` every minute, where no new
/// message or query did it first.
async fn history_sweeper(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tick.tick() => shared.state.expire_history(),
        }
    }
}

/// After many channels are destroyed at once, hands the freed heap pages
/// back to the OS, so that a burst of ephemeral rooms does not leave the
/// server's RSS at its peak. glibc keeps freed memory otherwise.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only releases free memory; it takes no pointers.
        unsafe {
            malloc_trim(0);
        }
    }
}
