//! The front door: the accept loops, where every new connection is
//! accepted, checked (D-lines, the `max_connections` ceiling, the
//! per-address limits of its class) and either refused there or handed to
//! the task that serves it (`session.rs`, `gateway.rs`).
//!
//! On a multi-thread runtime (the server binary) the loops run on a thread
//! of their own, "ircd-accept", with a current-thread runtime of its own,
//! at nice +10 ([`crate::priority`]): a connection storm's
//! accepts, refusals and closes (about 80 µs of kernel and server time
//! each, 500 a second in the abuse benchmark) then yield the CPU to a
//! serving thread with a line to handle within a fraction of a time slice,
//! where as tasks of the serving runtime a burst of them (up to tokio's
//! budget of 128 in a row) ran before that line.
//! An accepted connection's socket is moved to the serving runtime (taken
//! off the front's reactor, put on the serving one's) before its task
//! starts there; refusals are written and closed on the front. On a
//! current-thread runtime (the tests on tokio's paused clock, the fuzzer)
//! the loops run on that runtime, and nothing is moved.

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    net::{TcpListener, TcpStream},
    runtime::{Handle, RuntimeFlavor},
};
use tokio_util::sync::CancellationToken;

use super::{Kind, Shared, Slot, gateway, refusals::Refusal, serve_tls, session, transport};
use crate::proto::Line;

/// One listener's accept loop, to run: the listener, its index in
/// `[[listen]]`, and whether it is a WebSocket or PROXY listener.
pub(super) type Loop = (TcpListener, usize, bool);

/// Starts the accept loops: on the front thread when the caller's runtime
/// is a multi-thread one (and the thread and its runtime can be made),
/// else as tasks of the caller's runtime. They run until `stop`; the
/// server's tracker waits for them (and for the front thread) at shutdown.
pub(super) fn start(loops: Vec<Loop>, shared: &Arc<Shared>, stop: CancellationToken) {
    let here = Handle::current();
    if here.runtime_flavor() == RuntimeFlavor::MultiThread {
        match front_thread(shared.clone(), stop.clone(), here) {
            Ok((tx, done)) => {
                for (listener, index, special) in loops {
                    match listener.into_std() {
                        Ok(l) => {
                            let _ = tx.send((l, index, special));
                        }
                        Err(e) => {
                            tracing::error!(error = %e, index, "a listener could not be moved to the accept thread")
                        }
                    }
                }
                drop(tx);
                shared.tracker.spawn(async move {
                    let _ = done.await;
                });
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "no accept thread: accepting on the serving threads")
            }
        }
    }
    for (listener, index, special) in loops {
        let shared2 = shared.clone();
        shared.tracker.spawn(accept_loop(
            listener,
            index,
            special,
            shared2,
            Serving(None),
            stop.clone(),
        ));
    }
}

type StdLoop = (std::net::TcpListener, usize, bool);

/// Starts the front thread and its runtime; it runs the loops it is sent
/// until `stop`, then drops what it still runs (refusals being written)
/// and says so through the oneshot.
fn front_thread(
    shared: Arc<Shared>,
    stop: CancellationToken,
    serving: Handle,
) -> io::Result<(
    std::sync::mpsc::Sender<StdLoop>,
    tokio::sync::oneshot::Receiver<()>,
)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (tx, rx) = std::sync::mpsc::channel::<StdLoop>();
    let (done_tx, done) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("ircd-accept".into())
        .spawn(move || {
            crate::priority::lower_this_thread();
            rt.block_on(async move {
                let mut loops = tokio::task::JoinSet::new();
                // Listeners come right after the start; the channel closes then.
                while let Ok((l, index, special)) = rx.recv() {
                    match TcpListener::from_std(l) {
                        Ok(listener) => {
                            loops.spawn(accept_loop(
                                listener,
                                index,
                                special,
                                shared.clone(),
                                Serving(Some(serving.clone())),
                                stop.clone(),
                            ));
                        }
                        Err(e) => {
                            tracing::error!(error = %e, index, "a listener could not start on the accept thread")
                        }
                    }
                }
                while loops.join_next().await.is_some() {}
            });
            drop(rt);
            let _ = done_tx.send(());
        })?;
    Ok((tx, done))
}

/// Where an accept loop's accepted connections are served: `Some`, the
/// serving runtime (the loop runs on the front thread); `None`, right where
/// the loop runs.
#[derive(Clone)]
struct Serving(Option<Handle>);

/// An accepted socket on its way to the task that serves it.
enum Detached {
    Here(TcpStream),
    Moved(std::net::TcpStream),
}

impl Serving {
    /// Takes `stream` off the front's reactor when it is to be served
    /// elsewhere. None (logged at debug) when that fails: the connection is
    /// dropped.
    fn detach(&self, stream: TcpStream, peer: SocketAddr) -> Option<Detached> {
        if self.0.is_none() {
            return Some(Detached::Here(stream));
        }
        match stream.into_std() {
            Ok(s) => Some(Detached::Moved(s)),
            Err(e) => {
                tracing::debug!(%peer, error = %e, "connection lost moving it to the serving threads");
                None
            }
        }
    }

    /// Spawns a connection's task, tracked, where connections are served.
    fn spawn<F>(&self, shared: &Shared, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        match &self.0 {
            None => {
                shared.tracker.spawn(task);
            }
            Some(h) => {
                h.spawn(shared.tracker.track_future(task));
            }
        }
    }
}

impl Detached {
    /// The socket, on the reactor of the runtime the caller runs on. None
    /// (logged at debug) when it cannot be registered there.
    fn attach(self, peer: SocketAddr) -> Option<TcpStream> {
        match self {
            Detached::Here(s) => Some(s),
            Detached::Moved(s) => match TcpStream::from_std(s) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "connection lost moving it to the serving threads");
                    None
                }
            },
        }
    }
}

/// `special`: a WebSocket or PROXY listener, whose connections `gateway.rs`
/// serves (their real address is known only after a header).
async fn accept_loop(
    listener: TcpListener,
    index: usize,
    special: bool,
    shared: Arc<Shared>,
    serving: Serving,
    stop: CancellationToken,
) {
    let mut starved = Starved::default();
    // At the max_connections ceiling: logged when it starts and ends, not
    // for every refused socket (a storm would flood the log).
    let mut full = false;
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                starved.recovered();
                let _ = stream.set_nodelay(true);
                let kind = shared.kind(index);
                // D-lines first: a banned address gets no TLS handshake, no
                // PROXY header and no WEBIRC (gateways check the real one).
                if let Some(ban) = shared.state.dline_for(peer.ip()) {
                    shared.purge_bans();
                    shared.refusals.note(Refusal::Dlined, peer);
                    if matches!(kind, Kind::Plain) && !special {
                        let why = format!("Banned: {}", ban.reason);
                        shared.tracker.spawn(session::refuse(stream, peer, why));
                    }
                    continue;
                }
                // The global ceiling, before the process runs out of descriptors.
                // No task and no wait here: at the ceiling, a refused socket
                // is closed at once (its ERROR fits an empty send buffer).
                let Some(slot) = Slot::take(&shared) else {
                    if !std::mem::replace(&mut full, true) {
                        tracing::warn!("max_connections reached: refusing new connections");
                    }
                    tracing::debug!(%peer, "connection refused: max_connections reached");
                    if matches!(kind, Kind::Plain) && !special {
                        let text = format!(
                            "Closing Link: {} (server full: too many connections)",
                            peer.ip()
                        );
                        let _ = stream.try_write(&Line::new(None, "ERROR").text(&text).build());
                    }
                    continue;
                };
                if std::mem::take(&mut full) {
                    tracing::info!("below max_connections again: accepting");
                }
                if special || is_webirc_gateway(&shared, peer.ip()) {
                    let Some(stream) = serving.detach(stream, peer) else {
                        continue;
                    };
                    let shared2 = shared.clone();
                    serving.spawn(&shared, async move {
                        if let Some(s) = stream.attach(peer) {
                            gateway::serve(s, peer, index, kind, shared2, slot).await;
                        }
                    });
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
                            shared.tracker.spawn(session::refuse(stream, peer, why));
                        }
                        continue;
                    }
                };
                let mut conn = session::Conn {
                    peer,
                    tls,
                    host: None,
                    certfp: None,
                    admission,
                    slot,
                    local: stream.local_addr().ok(),
                };
                let Some(stream) = serving.detach(stream, peer) else {
                    shared.state.release(&mut conn.admission);
                    continue;
                };
                let shared2 = shared.clone();
                // Plaintext and TLS connections are separate tasks, so that a
                // plaintext one does not carry the (much larger) TLS future.
                match kind {
                    Kind::Plain => serving.spawn(&shared, async move {
                        match stream.attach(peer) {
                            Some(s) => {
                                let (rd, wr) = transport::stream(s);
                                session::serve(rd, wr, conn, shared2).await;
                            }
                            None => shared2.state.release(&mut conn.admission),
                        }
                    }),
                    Kind::Tls(cfg) => serving.spawn(&shared, async move {
                        match stream.attach(peer) {
                            Some(s) => serve_tls(s, cfg, conn, shared2).await,
                            None => shared2.state.release(&mut conn.admission),
                        }
                    }),
                }
            }
            Err(e) => {
                let pause = starved.failed(&e);
                tokio::select! {
                    _ = stop.cancelled() => return,
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
