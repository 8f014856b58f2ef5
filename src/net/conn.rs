//! One task per connection: read and frame lines, run each through the
//! dispatch table, queue the replies, keep the ping and registration clocks,
//! and tear the client down exactly once. A separate writer task drains the
//! client's send queue, coalescing everything queued into one write.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    time::{Instant, sleep_until},
};

use super::{Shared, flood::Bucket};
use crate::{
    commands::{self, Ctx, Pending, Session, oper, registration},
    proto::{
        Line, Message,
        caps::Cap,
        codec::{Frame, LineCodec},
        line::add_tags,
        message::{ParseError, escape_tag_value, unescape_tag_value},
        numerics::*,
    },
    state::ClientRef,
};

/// Why a connection ended, as a category for the log (never the user's text).
#[derive(Debug, Clone, Copy)]
enum End {
    Quit,
    Closed,
    ReadError,
    PingTimeout,
    RegistrationTimeout,
    Killed,
    Flood,
    Shutdown,
}

/// Serves one admitted connection; `counted` is the per-address key that
/// [`crate::state::State::admit`] counted it under, released at the end.
pub async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    tls: bool,
    counted: Option<IpAddr>,
    shared: Arc<Shared>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let state = &shared.state;
    let client = state.add_client(peer.ip(), tls);
    tracing::info!(client = client.id, %peer, tls, "connected");
    let (mut rd, wr) = tokio::io::split(stream);
    // The writer is a future of this same task, not a task of its own: one
    // task per connection is less memory per idle client.
    let writer = tokio::spawn(write_loop(wr, client.clone()));
    let mut session = Session::new(client.clone());
    let mut codec = LineCodec::new();
    let mut buf = BytesMut::new();
    let config = state.config();
    let (limits, flood_cfg) = (&config.limits, &config.flood);
    let mut flood = (!flood_cfg.exempts(peer.ip()))
        .then(|| Bucket::new(flood_cfg.burst, flood_cfg.lines_per_second, Instant::now()));
    let registration_deadline = Instant::now() + limits.registration_timeout;
    drop(config);
    let mut last_read = Instant::now();
    let mut busy = false;
    let mut ping_sent: Option<Instant> = None;

    let (end, reason): (End, String) = 'conn: loop {
        loop {
            if let Some(b) = flood.as_mut()
                && !b.ready(Instant::now())
            {
                break;
            }
            let Some(frame) = codec.decode(&mut buf) else {
                break;
            };
            if let Some(b) = flood.as_mut() {
                b.take();
            }
            handle_frame(frame, &mut session, &shared).await;
            if let Some(q) = session.quit.take() {
                break 'conn (End::Quit, q);
            }
            if flood.is_some() && client.info().modes.oper {
                flood = None;
            }
        }
        // Fakelag lets input wait; a client this far behind is flooding.
        // Timeouts and flood limits follow a rehash (one Arc clone per wakeup).
        let config = state.config();
        let (limits, flood_cfg) = (&config.limits, &config.flood);
        if flood.is_some() && buf.len() > flood_cfg.recvq {
            break (End::Flood, "Excess Flood".into());
        }
        let lagging = flood
            .as_ref()
            .filter(|_| has_line_end(&buf))
            .map(Bucket::ready_at);
        // An idle client keeps a small read buffer; a burst grows it, and it
        // shrinks back once drained.
        if buf.is_empty() && !busy && buf.capacity() > READ_CHUNK {
            buf = BytesMut::new();
        }
        let deadline = match (session.registered, ping_sent) {
            (false, _) => registration_deadline,
            (true, Some(sent)) => sent + limits.ping_timeout,
            (true, None) => last_read + limits.ping_interval,
        };
        let wake = lagging.map_or(deadline, |l| l.min(deadline));
        // Small reads while a client is quiet, bigger ones while it keeps
        // filling them (fewer syscalls under load).
        buf.reserve(if busy { BUSY_READ_CHUNK } else { READ_CHUNK });
        let before = buf.len();
        tokio::select! {
            biased;
            _ = client.sendq.killed() => {
                break (End::Killed, client.sendq.kill_reason().unwrap_or_else(|| "Killed".into()));
            }
            _ = shared.shutdown.cancelled() => break (End::Shutdown, "Server shutting down".into()),
            r = rd.read_buf(&mut buf) => match r {
                Ok(0) => break (End::Closed, "Connection closed".into()),
                Ok(n) => {
                    busy = before + n >= buf.capacity();
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
                let server = state.config().server.name.clone();
                client.send(Line::new(Some(&server), "PING").text(&server).build());
                ping_sent = Some(Instant::now());
            }
        }
    };

    let server = state.config().server.name.clone();
    let quit_line = session.registered.then(|| {
        Line::new(Some(&client.prefix()), "QUIT")
            .text(&reason)
            .build()
    });
    state.remove_client(&client, quit_line);
    if matches!(end, End::Shutdown) {
        let nick = client.nick();
        client.send(
            Line::new(Some(&server), "NOTICE")
                .arg(&nick)
                .text("Server shutting down")
                .build(),
        );
    }
    client.send(
        Line::new(None, "ERROR")
            .text(&closing_text(end, &reason))
            .build(),
    );
    client.sendq.close();
    let overflowed = matches!(end, End::Killed)
        && client.sendq.kill_reason().as_deref() == Some("SendQ exceeded");
    let flush_for = if overflowed {
        Duration::ZERO
    } else {
        Duration::from_secs(5)
    };
    let abort = writer.abort_handle();
    if tokio::time::timeout(flush_for, writer).await.is_err() {
        abort.abort();
    }
    if let Some(key) = counted {
        state.release(key);
    }
    tracing::info!(client = client.id, why = ?end, "disconnected");
}

/// The command of a line being refused, for the error reply ("*" if none).
fn command_name(line: &str) -> String {
    Message::parse(line)
        .map(|m| m.command.to_ascii_uppercase())
        .unwrap_or_else(|_| "*".into())
}

fn has_line_end(buf: &[u8]) -> bool {
    buf.iter().any(|&b| b == b'\n' || b == b'\r')
}

/// Tells a refused plaintext connection why, in one ERROR line, and closes it.
pub async fn refuse(mut stream: tokio::net::TcpStream, peer: SocketAddr, why: &str) {
    let line = Line::new(None, "ERROR")
        .text(&format!("Closing Link: {} ({why})", peer.ip()))
        .build();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = stream.write_all(&line).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Bytes read at a time; also what an idle client's read buffer holds.
const READ_CHUNK: usize = 256;
/// Bytes read at a time after a read that filled the buffer.
const BUSY_READ_CHUNK: usize = 4096;

/// The text of the final ERROR line.
fn closing_text(end: End, reason: &str) -> String {
    match end {
        End::Shutdown => "Server shutting down".into(),
        _ => format!("Closing Link: {reason}"),
    }
}

async fn handle_frame(frame: Frame, session: &mut Session, shared: &Shared) {
    let client = session.client.clone();
    let (lines, label) = run_frame(frame, session, shared).await;
    deliver(
        &client,
        lines,
        label.as_deref(),
        &shared.state.config().server.name,
    );
}

/// Runs one frame and returns every line it produced for this client (over
/// both phases of a command with `Pending` work), with the client's
/// labeled-response label if it sent one.
async fn run_frame(
    frame: Frame,
    session: &mut Session,
    shared: &Shared,
) -> (Vec<Bytes>, Option<String>) {
    let state = &shared.state;
    let mut ctx = Ctx::new(state, session);
    let line = match frame {
        Frame::TooLong => {
            ctx.reply(ERR_INPUTTOOLONG, &["Input line was too long"]);
            return (ctx.out, None);
        }
        Frame::Line(line) => line,
    };
    let text = match std::str::from_utf8(&line) {
        Ok(t) => t,
        Err(_) => {
            // UTF8ONLY is advertised: the line is refused, nothing else changes.
            let lossy = String::from_utf8_lossy(&line);
            let command = command_name(&lossy);
            let l = Line::new(Some(ctx.server_name()), "FAIL")
                .arg(&command)
                .arg("INVALID_UTF8")
                .text("Message rejected, your message contained invalid UTF-8")
                .build();
            ctx.push(l);
            return (ctx.out, None);
        }
    };
    if text.contains('\0') {
        let command = command_name(text);
        ctx.reply(ERR_UNKNOWNERROR, &[&command, "Line contains a NUL byte"]);
        return (ctx.out, None);
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
    match Message::parse(text) {
        Ok(msg) => commands::dispatch(&mut ctx, &msg),
        Err(ParseError::Empty) => return (ctx.out, None),
        Err(_) => ctx.reply(ERR_UNKNOWNERROR, &["*", "Malformed message"]),
    }
    let Some(pending) = ctx.session.pending.take() else {
        return (ctx.out, label);
    };
    let mut out = std::mem::take(&mut ctx.out);
    drop(ctx);
    out.extend(run_pending(pending, session, shared).await);
    (out, label)
}

/// Queues a command's replies, wrapped for labeled-response: an ACK when
/// there is nothing to say, the label on a single reply, a labeled batch
/// around several.
fn deliver(client: &ClientRef, lines: Vec<Bytes>, label: Option<&str>, server: &str) {
    let Some(label) = label else {
        for l in lines {
            client.send(l);
        }
        return;
    };
    let mut tag = String::from("label=");
    escape_tag_value(label, &mut tag);
    match lines.len() {
        0 => {
            let ack = client.stamp(Line::new(Some(server), "ACK").build());
            client.sendq.push(add_tags(&tag, &ack));
        }
        1 => {
            let l = client.stamp(lines.into_iter().next().unwrap());
            client.sendq.push(add_tags(&tag, &l));
        }
        _ if client.has_cap(Cap::Batch.bit()) => {
            let id = format!(
                "lr{}",
                BATCH_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let start = client.stamp(
                Line::new(Some(server), "BATCH")
                    .arg(&format!("+{id}"))
                    .arg("labeled-response")
                    .build(),
            );
            client.sendq.push(add_tags(&tag, &start));
            let batch_tag = format!("batch={id}");
            for l in lines {
                let l = client.stamp(l);
                client.sendq.push(add_tags(&batch_tag, &l));
            }
            client.send(
                Line::new(Some(server), "BATCH")
                    .arg(&format!("-{id}"))
                    .build(),
            );
        }
        _ => {
            for l in lines {
                client.send(l);
            }
        }
    }
}

/// A bcrypt hash nobody knows the password of, for unknown oper names.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    bcrypt::hash("no such oper", bcrypt::DEFAULT_COST).unwrap_or_default()
});

static BATCH_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Finishes work a handler handed back, off the async threads where needed;
/// returns the lines for the client.
async fn run_pending(pending: Pending, session: &mut Session, shared: &Shared) -> Vec<Bytes> {
    match pending {
        Pending::Oper { name, password } => {
            let hash = shared
                .state
                .config()
                .opers
                .iter()
                .find(|o| o.name == name)
                .map(|o| o.hash.clone());
            let known = hash.is_some();
            let ok = tokio::task::spawn_blocking(move || {
                let h = hash.unwrap_or_else(|| DUMMY_HASH.clone());
                bcrypt::verify(password.as_bytes(), &h).unwrap_or(false)
            })
            .await
            .unwrap_or(false)
                && known;
            let mut ctx = Ctx::new(&shared.state, session);
            oper::finish(&mut ctx, &name, ok);
            ctx.out
        }
        Pending::ServerPassword { given, expected } => {
            let ok = if crate::config::is_bcrypt_hash(&expected) {
                tokio::task::spawn_blocking(move || {
                    bcrypt::verify(given.as_bytes(), &expected).unwrap_or(false)
                })
                .await
                .unwrap_or(false)
            } else {
                constant_time_eq(given.as_bytes(), expected.as_bytes())
            };
            let mut ctx = Ctx::new(&shared.state, session);
            registration::password_checked(&mut ctx, ok);
            ctx.out
        }
        Pending::Rehash => {
            let result = shared.rehash();
            let mut ctx = Ctx::new(&shared.state, session);
            match result {
                Ok(()) => {
                    let file = ctx
                        .config
                        .path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "defaults".into());
                    ctx.reply(RPL_REHASHING, &[&file, "Rehashing"]);
                }
                Err(e) => {
                    for l in e.lines() {
                        ctx.server_notice(&format!(
                            "REHASH refused, the running configuration stays: {l}"
                        ));
                    }
                }
            }
            ctx.out
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Drains the send queue: everything queued since the last write goes out
/// in one write. Buffers grown by a burst are dropped after it, so an idle
/// client holds none.
async fn write_loop<W: AsyncWrite + Unpin>(mut w: W, client: ClientRef) {
    while let Some(batch) = client.sendq.take_all().await {
        let r = if batch.len() == 1 {
            w.write_all(&batch[0]).await
        } else {
            let mut buf = BytesMut::with_capacity(batch.iter().map(Bytes::len).sum());
            for b in &batch {
                buf.extend_from_slice(b);
            }
            w.write_all(&buf).await
        };
        drop(batch);
        if r.is_err() || w.flush().await.is_err() {
            client.sendq.kill("Write error");
            return;
        }
    }
    let _ = w.shutdown().await;
}
