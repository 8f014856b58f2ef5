//! Random lines through the real server: TCP, framing, the session loop,
//! dispatch and every handler, with channels and another client around.
//!
//! One `Server` is started on first use (a global tokio multi-thread runtime,
//! 127.0.0.1:0, flood control off, no per-address limits for loopback) with a
//! registered "witness" client in `#fuzz`. For each input:
//! - a new connection registers (NICK/USER, a unique nick, retried on 433);
//! - depending on a hash of the input it joins nothing, `#fuzz` (the
//!   witness's channel, not an op there), `#op` (usually new: op there) or
//!   both, so channel handlers run with and without privileges;
//! - the input, split at LF (a CR before it dropped), is sent as raw lines
//!   (invalid UTF-8, NUL, lone CR, over-long lines and all), each ended with
//!   CRLF, then `PING :done-<n>`, while the answers are read concurrently.
//!   Lines containing "OPER" (any case) are left out: OPER checks a bcrypt
//!   hash at cost 12 (about 0.3 s here, even for an unknown name), which
//!   would cut the rate a hundredfold and let a few OPER lines pass the 5 s
//!   limit; with no `[[oper]]` configured it has only the refusal path.
//!
//! Findings (a panic, which aborts):
//! - no matching PONG within 5 s;
//! - the server closes the connection although the input has no "QUIT"
//!   (case-insensitive, anywhere);
//! - a line from the server not ended by CRLF, with another CR or a NUL, not
//!   valid UTF-8, or over 512 bytes without tags;
//! - registration not done within 5 s;
//! - every 256 inputs, the witness not answering PING within 5 s (or its
//!   connection closed);
//! - any panic in any thread: the server's panic boundary would end only the
//!   connection whose handler panicked, so this target's panic hook aborts
//!   the process first, and libFuzzer reports it as a crash.
#![no_main]

use std::{
    net::SocketAddr,
    sync::{
        Arc, LazyLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use ircd::{Config, Server};
use libfuzzer_sys::fuzz_target;
use tokio::{
    io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{
        TcpSocket, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    runtime::Runtime,
    sync::{Mutex, mpsc},
};

/// How long any one step (registration, the PING round trip) may take.
const WAIT: Duration = Duration::from_secs(5);
/// The witness is checked every this many inputs.
const WITNESS_EVERY: u64 = 256;
const SERVER: &str = "irc.fuzz";

struct Harness {
    rt: Runtime,
    addr: SocketAddr,
    witness: Witness,
    inputs: AtomicU64,
}

/// A registered client that stays connected for the whole run. A task reads
/// everything it is sent (so its queue never fills), answers the server's
/// PINGs and hands the tokens of PONGs to `pongs`.
struct Witness {
    writer: Arc<Mutex<OwnedWriteHalf>>,
    pongs: Mutex<mpsc::UnboundedReceiver<String>>,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(start);

/// This process's own data directory (parallel jobs each open a store), in
/// memory where there is a tmpfs; removed once the store is open.
fn data_dir() -> std::path::PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    base.join(format!("ircd-fuzz-dispatch-{}", std::process::id()))
}

fn config_text() -> String {
    let data = data_dir();
    format!(
        r#"
[server]
name = "{SERVER}"
network = "FuzzNet"
data_dir = {data:?}

[[listen]]
address = "127.0.0.1:0"

# Every QUIT scans the WHOWAS ring (a casemapped compare per entry, costly
# under coverage instrumentation); 64 still fills and cuts it.
[limits]
whowas_entries = 64

[flood]
enabled = false
exempt = ["127.0.0.0/8", "::1/128"]

[connections]
per_ip = 100000
throttle = 100000
exempt = ["127.0.0.0/8", "::1/128"]
"#,
        data = data.display().to_string()
    )
}

fn start() -> Harness {
    // Any panic in any thread (a server worker inside the dispatch boundary
    // included) aborts before unwinding, so catch_unwind never sees it.
    // libfuzzer-sys's hook, set earlier and replaced here, aborts too; this
    // one does not depend on that, and names the thread and prints a trace.
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        eprintln!(
            "panic in thread {:?}: {info}\n{}",
            thread.name().unwrap_or("?"),
            std::backtrace::Backtrace::force_capture()
        );
        std::process::abort();
    }));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let config = Config::parse(&config_text(), None).expect("fuzz config is valid");
    let (addr, witness) = rt.block_on(async {
        let server = Server::bind(config).await.expect("bind 127.0.0.1:0");
        let addr = server.local_addrs()[0];
        // Runs for the life of the process; the handle is not needed.
        tokio::spawn(server.run());
        (addr, Witness::start(addr).await)
    });
    // The store holds its file open: the directory can go now.
    let _ = std::fs::remove_dir_all(data_dir());
    Harness {
        rt,
        addr,
        witness,
        inputs: AtomicU64::new(0),
    }
}

async fn connect(addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    // Closing with RST leaves no TIME_WAIT behind: hundreds of connections
    // a second would otherwise run through the ephemeral ports. (Deprecated
    // because a non-zero linger blocks on drop; zero never waits.)
    #[allow(deprecated)]
    socket.set_linger(Some(Duration::ZERO)).expect("SO_LINGER");
    let stream = socket.connect(addr).await.expect("connect to the server");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    stream
}

/// A line from the server, split enough to find its command and last param.
struct Reply {
    raw: String,
    command: String,
    params: Vec<String>,
}

impl Reply {
    fn last(&self) -> &str {
        self.params.last().map(String::as_str).unwrap_or("")
    }
}

/// Checks one line as read (with its line ending) and splits it.
fn parse_reply(buf: &[u8], who: &str) -> Reply {
    assert!(
        buf.ends_with(b"\r\n"),
        "{who}: line from the server without CRLF: {buf:?}"
    );
    let body = &buf[..buf.len() - 2];
    assert!(
        !body.iter().any(|&b| b == b'\r' || b == 0),
        "{who}: line from the server with a CR or NUL inside: {buf:?}"
    );
    assert!(
        buf.len() <= 512 || buf.starts_with(b"@"),
        "{who}: line from the server over 512 bytes ({}): {:?}",
        buf.len(),
        String::from_utf8_lossy(buf)
    );
    let raw = match std::str::from_utf8(body) {
        Ok(s) => s.to_string(),
        Err(_) => panic!("{who}: line from the server is not UTF-8: {buf:?}"),
    };
    let mut rest = raw.as_str();
    if rest.starts_with('@') {
        rest = rest.split_once(' ').map_or("", |(_, r)| r);
    }
    if rest.starts_with(':') {
        rest = rest.split_once(' ').map_or("", |(_, r)| r);
    }
    let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let command = command.to_string();
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            break;
        }
        if let Some(t) = rest.strip_prefix(':') {
            params.push(t.to_string());
            break;
        }
        let (p, r) = rest.split_once(' ').unwrap_or((rest, ""));
        params.push(p.to_string());
        rest = r;
    }
    Reply {
        raw,
        command,
        params,
    }
}

/// The next line, or None at the end of the stream (or a read error).
async fn next_reply(reader: &mut (impl AsyncBufRead + Unpin), who: &str) -> Option<Reply> {
    let mut buf = Vec::new();
    match reader.read_until(b'\n', &mut buf).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(parse_reply(&buf, who)),
    }
}

/// Sends NICK/USER and reads to the end of the MOTD (376 or 422), choosing
/// another nick on 433. Returns the lines seen, for messages.
async fn register(
    reader: &mut BufReader<OwnedReadHalf>,
    writer: &mut OwnedWriteHalf,
    nick: &str,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut tries = 0;
    let hello = format!("NICK {nick}\r\nUSER fuzz 0 * :fuzz client\r\n");
    writer
        .write_all(hello.as_bytes())
        .await
        .expect("write registration");
    let done = tokio::time::timeout(WAIT, async {
        loop {
            let Some(r) = next_reply(reader, nick).await else {
                panic!("{nick}: closed during registration; seen: {seen:#?}");
            };
            seen.push(r.raw.clone());
            match r.command.as_str() {
                "376" | "422" => return,
                "433" => {
                    tries += 1;
                    assert!(tries < 10, "{nick}: no free nick; seen: {seen:#?}");
                    let again = format!("NICK {nick}_{tries}\r\n");
                    writer
                        .write_all(again.as_bytes())
                        .await
                        .expect("write NICK");
                }
                _ => {}
            }
        }
    })
    .await;
    if done.is_err() {
        panic!("{nick}: not registered within {WAIT:?}; seen: {seen:#?}");
    }
    seen
}

impl Witness {
    async fn start(addr: SocketAddr) -> Witness {
        let (r, mut w) = connect(addr).await.into_split();
        let mut reader = BufReader::new(r);
        register(&mut reader, &mut w, "witness").await;
        w.write_all(b"JOIN #fuzz\r\n").await.expect("witness JOIN");
        let writer = Arc::new(Mutex::new(w));
        let (tx, rx) = mpsc::unbounded_channel();
        let keepalive = writer.clone();
        tokio::spawn(async move {
            while let Some(r) = next_reply(&mut reader, "witness").await {
                match r.command.as_str() {
                    "PING" => {
                        let line = format!("PONG :{}\r\n", r.last());
                        let _ = keepalive.lock().await.write_all(line.as_bytes()).await;
                    }
                    "PONG" => {
                        let _ = tx.send(r.last().to_string());
                    }
                    _ => {}
                }
            }
            // Dropping `tx` tells the next check that the witness is gone.
        });
        let witness = Witness {
            writer,
            pongs: Mutex::new(rx),
        };
        witness.check(0).await;
        witness
    }

    /// PINGs the witness and waits for its PONG.
    async fn check(&self, n: u64) {
        let token = format!("witness-{n}");
        let line = format!("PING :{token}\r\n");
        self.writer
            .lock()
            .await
            .write_all(line.as_bytes())
            .await
            .expect("the witness's connection is gone (write failed)");
        let mut pongs = self.pongs.lock().await;
        let got = tokio::time::timeout(WAIT, async {
            loop {
                match pongs.recv().await {
                    Some(t) if t == token => return true,
                    Some(_) => {}
                    None => return false,
                }
            }
        })
        .await;
        match got {
            Ok(true) => {}
            Ok(false) => panic!("the witness's connection was closed by the server"),
            Err(_) => panic!("the witness got no PONG within {WAIT:?}"),
        }
    }
}

/// Which channels the fuzz client joins first, from a hash of the input
/// (so that one input always does the same).
fn joins(data: &[u8]) -> &'static str {
    let mut h: u32 = 0x811c_9dc5;
    for &b in data {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    match h % 4 {
        0 => "",
        1 => "JOIN #fuzz\r\n",
        2 => "JOIN #op\r\n",
        _ => "JOIN #op,#fuzz\r\n",
    }
}

fn contains_ci(data: &[u8], word: &[u8]) -> bool {
    data.windows(word.len())
        .any(|w| w.eq_ignore_ascii_case(word))
}

async fn run_one(addr: SocketAddr, n: u64, data: &[u8]) {
    let nick = format!("fz{n}");
    let (r, mut w) = connect(addr).await.into_split();
    let mut reader = BufReader::new(r);
    register(&mut reader, &mut w, &nick).await;

    let token = format!("done-{n}");
    let mut out = Vec::with_capacity(data.len() + 64);
    out.extend_from_slice(joins(data).as_bytes());
    for piece in data.split(|&b| b == b'\n') {
        if contains_ci(piece, b"oper") {
            continue;
        }
        out.extend_from_slice(piece.strip_suffix(b"\r").unwrap_or(piece));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("PING :{token}\r\n").as_bytes());

    let quit = contains_ci(data, b"quit");
    let mut seen: Vec<String> = Vec::new();
    let write = async {
        // A server that closed early makes this fail; the reader reports it.
        let _ = w.write_all(&out).await;
    };
    let read = async {
        loop {
            match next_reply(&mut reader, &nick).await {
                Some(r) => {
                    if r.command == "PONG" && r.last() == token {
                        return true;
                    }
                    seen.push(r.raw);
                }
                None => return false,
            }
        }
    };
    let result = tokio::time::timeout(WAIT, async { tokio::join!(write, read).1 }).await;
    let tail = |seen: &[String]| seen[seen.len().saturating_sub(20)..].to_vec();
    match result {
        Ok(true) => {}
        Ok(false) if quit => {}
        Ok(false) => panic!(
            "{nick}: the server closed the connection (no QUIT sent); last lines: {:#?}",
            tail(&seen)
        ),
        Err(_) => panic!(
            "{nick}: no PONG {token} within {WAIT:?}; last lines: {:#?}",
            tail(&seen)
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let h = &*HARNESS;
    let n = h.inputs.fetch_add(1, Ordering::Relaxed) + 1;
    h.rt.block_on(async {
        run_one(h.addr, n, data).await;
        if n.is_multiple_of(WITNESS_EVERY) {
            h.witness.check(n).await;
        }
    });
});
