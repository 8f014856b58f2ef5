//! The session loop of one connection, the same for every transport: the
//! ping and registration clocks, flood control, input paced by the client's
//! own send queue, dispatch behind a panic boundary, jobs, the response
//! buffer delivered as the queue drains, and teardown exactly once.

use std::{
    net::{IpAddr, SocketAddr},
    panic::AssertUnwindSafe,
    sync::Arc,
    time::Duration,
};

use tokio::time::{Instant, sleep_until};

use super::{
    Shared, Slot,
    flood::Bucket,
    transport::{LineReader, LineWriter, write_loop},
};
use crate::{
    commands::{self, Control, Ctx, Session, deliver},
    config::Class,
    proto::{
        Line, Message,
        caps::Cap,
        codec::Frame,
        message::{ParseError, unescape_tag_value},
        numerics::*,
    },
    state::{Admission, ClientRef, State},
};

/// Why a connection ended, as a category for the log (never the user's text).
#[derive(Debug, Clone, Copy)]
enum End {
    Quit,
    Closed,
    ReadError,
    PingTimeout,
    RegistrationTimeout,
    /// KILL, a ban, a ghost, a shutdown of this one connection.
    Killed,
    /// The peer stopped taking what we write (reset, broken pipe).
    WriteError,
    /// Its send queue overflowed.
    SendQ,
    Flood,
    Shutdown,
    /// A handler panicked: the connection ends, the server's state does not
    /// keep a ghost of it.
    Internal,
}

/// The kill reason the writer gives when a write fails.
pub(super) const WRITE_ERROR: &str = "Write error";

/// Lines of input the connection keeps room for in its own send queue
/// before it reads the next one.
const INPUT_ROOM: usize = 1024;

/// Releases what a client holds (nick, memberships, MONITOR entries, its
/// admission counts) exactly once, even when the session unwinds from a
/// panic that the dispatch boundary did not catch. It owns the session, so
/// that an account class taken at registration is what gets released.
struct Teardown {
    shared: Arc<Shared>,
    client: ClientRef,
    session: Session,
    /// The max_connections slot, given back with the rest (before the
    /// final ERROR, so that a client that saw it close may come back).
    slot: Option<Slot>,
    done: bool,
}

impl Teardown {
    fn release(&mut self, reason: &str) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let state = &self.shared.state;
        let server = state.config().server.name.clone();
        for d in state.remove_client(&self.client, reason) {
            deliver::deliver(&server, &d, None);
        }
        state.release(&mut self.session.admission);
        self.slot = None;
    }
}

impl Drop for Teardown {
    fn drop(&mut self) {
        if !self.done {
            self.release("Internal error");
            self.client.send(
                Line::new(None, "ERROR")
                    .text("Closing Link: Internal error")
                    .build(),
            );
            self.client.sendq.close();
        }
    }
}

/// What the accept path knows of a connection when its session starts.
pub struct Conn {
    /// The client's own address (a proxy's or gateway's word for it where
    /// one is trusted).
    pub peer: SocketAddr,
    pub tls: bool,
    /// A hostname a WEBIRC gateway gave.
    pub host: Option<String>,
    /// The fingerprint of the client's TLS certificate.
    pub certfp: Option<String>,
    /// Its class and what [`State::admit`] counted, released at the end.
    pub admission: Admission,
    /// One of the `[limits] max_connections` slots, held to the end.
    pub slot: Slot,
    /// The server's address of a direct connection, where ident may ask
    /// (None behind a proxy or gateway: the peer there is not the client).
    pub local: Option<SocketAddr>,
}

/// Flood control for a class: None when the class (or, in the default
/// class, `[flood] exempt`) exempts the connection.
fn bucket(class: &Class, ip: IpAddr, state: &State) -> Option<Bucket> {
    let exempt = class.flood_exempt || (class.is_default && state.config().flood.exempts(ip));
    (!exempt).then(|| Bucket::new(class.flood_burst, class.flood_rate, Instant::now()))
}

/// Serves one admitted connection over a line transport, under the limits
/// of the class it was admitted in (sendq, recvq, flood, ping interval).
pub async fn serve<R: LineReader, W: LineWriter>(
    mut reader: R,
    writer: W,
    conn: Conn,
    shared: Arc<Shared>,
) {
    let Conn {
        peer,
        tls,
        host,
        certfp,
        admission,
        slot,
        local,
    } = conn;
    let state = &shared.state;
    let client = state.add_client(peer.ip(), tls);
    client.sendq.set_limit(admission.class.sendq);
    if let Some(host) = host {
        state.set_gateway_host(&client, &host);
    }
    if let Some(fp) = certfp {
        state.set_certfp(&client, fp);
    }
    tracing::info!(client = client.id, %peer, tls, "connected");
    let mut class = admission.class.clone();
    let mut flood = bucket(&class, peer.ip(), state);
    let mut teardown = Teardown {
        shared: shared.clone(),
        client: client.clone(),
        session: Session::new(client.clone(), admission),
        slot: Some(slot),
        done: false,
    };
    // The writer is a task of its own: measured faster at saturation than a
    // future of this task (contrib/bench/RESULTS.md).
    let writer = tokio::spawn(write_loop(writer, client.clone()));
    let control: Arc<dyn Control> = shared.clone();
    let session = &mut teardown.session;
    if let (Some(ident), Some(local)) = (state.config().connections.ident, local) {
        session.ident = Some(super::ident::start(peer, local, ident.port, ident.timeout));
    }
    let registration_deadline = Instant::now() + state.config().limits.registration_timeout;
    let mut last_read = Instant::now();
    let mut ping_sent: Option<Instant> = None;

    let (end, reason): (End, String) = 'conn: loop {
        // The client's reading paces its pipelined commands: no next line
        // while its own queue is more than half full.
        while client.sendq.has_room(INPUT_ROOM) {
            // The lines of a multiline batch are not delayed one by one:
            // the batch is charged by its size when it ends.
            if let Some(b) = flood.as_mut()
                && !session.in_client_batch()
                && !b.ready(Instant::now())
            {
                break;
            }
            let Some(frame) = reader.next_frame() else {
                break;
            };
            // Boxed: the state of a command in progress (its response, a
            // job) is allocated while it runs, not carried by every idle
            // connection's task.
            if let Some(end) = Box::pin(handle_frame(frame, session, &shared, &control)).await {
                break 'conn end;
            }
            let cost = session.flood_cost.take().unwrap_or(1);
            if let Some(b) = flood.as_mut() {
                b.take(cost);
            }
            if let Some(q) = session.quit.take() {
                break 'conn (End::Quit, q);
            }
            // An account class took the connection at registration.
            if !Arc::ptr_eq(&class, &session.admission.class) {
                class = session.admission.class.clone();
                flood = bucket(&class, peer.ip(), state);
                client.sendq.set_limit(class.sendq);
            }
            if flood.is_some() && client.is_oper() {
                flood = None;
            }
        }
        // Fakelag lets input wait; a client this far behind is flooding.
        // The class's limits are the ones of admission; the ping timeout
        // follows a rehash (one Arc clone per wakeup).
        let config = state.config();
        let limits = &config.limits;
        if flood.is_some() && reader.backlog() > class.recvq {
            break (End::Flood, "Excess Flood".into());
        }
        let paced = !client.sendq.has_room(INPUT_ROOM);
        let lagging = flood
            .as_ref()
            .filter(|_| !paced && reader.has_line())
            .map(Bucket::ready_at);
        reader.relax();
        let deadline = match (session.registered, ping_sent) {
            (false, _) => registration_deadline,
            (true, Some(sent)) => sent + limits.ping_timeout,
            (true, None) => last_read + class.ping_interval,
        };
        let wake = lagging.map_or(deadline, |l| l.min(deadline));
        tokio::select! {
            biased;
            _ = client.sendq.killed() => {
                break killed(&client);
            }
            _ = shared.shutdown.cancelled() => break (End::Shutdown, "Server shutting down".into()),
            _ = client.sendq.drained(), if paced => {}
            r = reader.read(), if !paced => match r {
                Ok(0) => break (End::Closed, "Connection closed".into()),
                Ok(_) => {
                    last_read = Instant::now();
                    ping_sent = None;
                }
                Err(_) => break (End::ReadError, "Read error".into()),
            },
            _ = sleep_until(wake) => {
                if Instant::now() < deadline {
                    // A delayed line is due: back to processing.
                    continue;
                }
                if !session.registered {
                    break (End::RegistrationTimeout, "Registration timed out".into());
                }
                if ping_sent.is_some() {
                    break (End::PingTimeout, format!("Ping timeout: {} seconds", limits.ping_timeout.as_secs()));
                }
                let server = &config.server.name;
                client.send(Line::new(Some(server), "PING").text(server).build());
                ping_sent = Some(Instant::now());
            }
        }
    };

    teardown.release(&reason);
    let server = state.config().server.name.clone();
    if matches!(end, End::Shutdown) {
        let nick = client.nick();
        client.send(
            Line::new(Some(&server), "NOTICE")
                .arg(&nick)
                .text("Server shutting down")
                .build(),
        );
    }
    let host = client.snapshot().host;
    client.send(
        Line::new(None, "ERROR")
            .text(&closing_text(end, &host, &reason))
            .build(),
    );
    client.sendq.close();
    let flush_for = if matches!(end, End::SendQ) {
        Duration::ZERO
    } else {
        Duration::from_secs(5)
    };
    let abort = writer.abort_handle();
    if tokio::time::timeout(flush_for, writer).await.is_err() {
        abort.abort();
    }
    tracing::info!(client = client.id, why = ?end, "disconnected");
}

/// The command of a line being refused, for the error reply ("*" if none).
fn command_name(line: &str) -> String {
    Message::parse(line)
        .map(|m| m.command.to_ascii_uppercase())
        .unwrap_or_else(|_| "*".into())
}

/// Tells a refused plaintext connection why, in one ERROR line, and closes it.
pub async fn refuse(mut stream: tokio::net::TcpStream, peer: SocketAddr, why: String) {
    use tokio::io::AsyncWriteExt;
    let line = Line::new(None, "ERROR")
        .text(&format!("Closing Link: {} ({why})", peer.ip()))
        .build();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = stream.write_all(&line).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// How a connection asked to end (its send queue killed) ended, by who
/// asked: the writer, the send queue's bound, or someone else.
fn killed(client: &ClientRef) -> (End, String) {
    let reason = client
        .sendq
        .kill_reason()
        .unwrap_or_else(|| "Killed".into());
    let end = match reason.as_str() {
        WRITE_ERROR => End::WriteError,
        crate::state::SENDQ_EXCEEDED => End::SendQ,
        _ => End::Killed,
    };
    (end, reason)
}

/// The text of the final ERROR line ("Closing Link: <host> (<reason>)", as
/// other servers write it; bridges match words in the reason).
fn closing_text(end: End, host: &str, reason: &str) -> String {
    match end {
        End::Shutdown => "Server shutting down".into(),
        _ => format!("Closing Link: {host} ({reason})"),
    }
}

/// Runs `f` behind the panic boundary: a panic ends this connection (the
/// panic hook logs where, never the payload, which may quote the line).
fn guarded(f: impl FnOnce()) -> bool {
    std::panic::catch_unwind(AssertUnwindSafe(f)).is_ok()
}

/// Runs one frame: dispatch, then any job it started and its continuation,
/// then delivers the whole response paced by the client's reading.
async fn handle_frame(
    frame: Frame,
    session: &mut Session,
    shared: &Shared,
    control: &Arc<dyn Control>,
) -> Option<(End, String)> {
    let state = &shared.state;
    let client = session.client.clone();
    let (mut out, label) = {
        let mut ctx = Ctx::new(state, session, control.clone());
        let Some(label) = run_line(&mut ctx, frame) else {
            return Some((End::Internal, "Internal error".into()));
        };
        (ctx.out.take(), label)
    };
    while let Some(job) = session.jobs.pop_front() {
        let then = job.await;
        let mut ctx = Ctx::new(state, session, control.clone());
        if !guarded(|| then(&mut ctx)) {
            return Some((End::Internal, "Internal error".into()));
        }
        out.append(ctx.out.take());
    }
    let server = state.config().server.name.clone();
    let lines = out.into_lines(&client, label.as_deref(), &server);
    if !pace(&client, state, lines, shared).await {
        return Some(killed(&client));
    }
    None
}

/// Checks and dispatches one frame into `ctx.out`; returns the client's
/// labeled-response label (Some(None) when it sent none), or None when the
/// handler panicked.
#[allow(clippy::option_option)]
fn run_line(ctx: &mut Ctx, frame: Frame) -> Option<Option<String>> {
    let line = match frame {
        Frame::TooLong => {
            ctx.reply(ERR_INPUTTOOLONG, &[]);
            return Some(None);
        }
        Frame::Line(line) => line,
    };
    let Ok(text) = std::str::from_utf8(&line) else {
        // UTF8ONLY is advertised: the line is refused, nothing else changes.
        let command = command_name(&String::from_utf8_lossy(&line));
        ctx.fail(
            &command,
            "INVALID_UTF8",
            "Message rejected, your message contained invalid UTF-8",
        );
        return Some(None);
    };
    if text.contains('\0') {
        let command = command_name(text);
        ctx.reply(ERR_UNKNOWNERROR, &[&command, "Line contains a NUL byte"]);
        return Some(None);
    }
    // The label is read from the raw tag section, so that even a line that
    // does not parse gets a labeled answer.
    let label = ctx
        .client()
        .has_cap(Cap::LabeledResponse.bit())
        .then(|| text.strip_prefix('@'))
        .flatten()
        .and_then(|t| t.split(' ').next())
        .and_then(|tags| tags.split(';').find_map(|t| t.strip_prefix("label=")))
        .map(unescape_tag_value)
        .filter(|v| !v.is_empty());
    ctx.labeled = label.is_some();
    ctx.label.clone_from(&label);
    match Message::parse(text) {
        Ok(msg) => {
            if !guarded(|| commands::dispatch(ctx, &msg)) {
                tracing::error!(
                    client = ctx.client().id,
                    "a handler panicked; closing the connection"
                );
                return None;
            }
        }
        Err(ParseError::Empty) => return Some(None),
        Err(_) => ctx.reply(ERR_UNKNOWNERROR, &["*", "Malformed message"]),
    }
    Some(ctx.relabel.take().unwrap_or(label))
}

/// Queues a response's lines as the client's queue drains. A client that
/// reads nothing for a whole ping timeout while a reply waits is cut off
/// with "SendQ exceeded". Returns false when the connection must end.
async fn pace(
    client: &ClientRef,
    state: &State,
    mut lines: commands::response::Lines,
    shared: &Shared,
) -> bool {
    while let Some(l) = lines.next(state) {
        while !client.sendq.has_room(l.len()) {
            let patience = state.config().limits.ping_timeout;
            tokio::select! {
                biased;
                _ = client.sendq.killed() => return false,
                _ = shared.shutdown.cancelled() => return false,
                r = tokio::time::timeout(patience, client.sendq.drained()) => {
                    if r.is_err() {
                        client.sendq.kill(crate::state::SENDQ_EXCEEDED);
                        return false;
                    }
                }
            }
        }
        if !client.sendq.push(l) {
            return false;
        }
    }
    true
}
