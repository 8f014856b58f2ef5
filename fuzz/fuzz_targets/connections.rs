//! Whole connections, three at once: random bytes through the real
//! transport, session loop, dispatch and every handler of an in-process
//! server, split between three clients that share channels and name each
//! other.
//!
//! One `Server` is started per fuzz process, on first use: 127.0.0.1:0,
//! flood control off, no per-address limits for loopback, its account store
//! in a directory that is removed once the store is open (the store keeps
//! its file open; nothing is left on disk). By default the server and the
//! three clients share one current-thread tokio runtime, driven by the
//! fuzzing thread itself: no thread hand-offs per line (two workers cost
//! about 40 % more CPU per input); `CONNECTIONS_THREADS=<n>` runs them on a
//! multi-thread runtime of `n` workers instead (real parallelism between
//! the clients' handlers, at a lower rate). WHOWAS keeps 64 entries: every
//! QUIT scans the whole ring, which at the default 1000 took a quarter of
//! the first version's time under coverage instrumentation.
//!
//! Each input is one scene, and the server is back to where it started
//! after it, so every input runs the same way whatever ran before it:
//! 1. three connections register at once as `ca`, `cb` and `cc` (`ca` with
//!    message-tags, echo-message, server-time, labeled-response and batch;
//!    another nick on 433), `ca` joins `#c` first (its op), then `cb`, `cc`;
//! 2. the input is split at LF (a CR before it dropped); the first byte of
//!    each piece picks the client (byte % 3), the rest is sent as one raw
//!    line (invalid UTF-8, NUL, lone CR, over-long lines and all) after
//!    replacing `$0` `$1` `$2` with the three nicks. Pieces with "oper",
//!    "regist", "identif" or "passw" (any case) are left out: they hash
//!    passwords with bcrypt (0.3 s each), and an account or a registered
//!    channel would outlive the scene. A piece whose first byte has
//!    `byte / 3 % 4 == 1` (`3`, `4`, `5`: client 0, 1, 2) is a barrier: it
//!    goes out only once every line sent before it was answered (a PING to
//!    each client with unanswered lines, and its PONG), so the input decides
//!    the interleaving where it matters; between barriers the clients race.
//!    All three are read all the time, and every line checked. At the end
//!    each client answers a last PING;
//! 3. each client leaves as a hash of the input says: `QUIT`, a half-close
//!    (the server reads EOF) or a reset with replies unread (the server's
//!    read or write fails). After a QUIT or a half-close it reads until the
//!    server closes, which the server does only after the teardown released
//!    the nick, memberships and MONITOR entries; after a reset the scene
//!    waits (yielding, no sleep) until the server has no client left.
//!
//! Findings (a panic, which aborts):
//! - registration, the JOINs or the rest of the scene (the input, its
//!   PONGs, the endings) not done within 10 s each;
//! - a client is closed by the server before its PONG although its pieces
//!   had no "quit";
//! - a line from the server not ended by CRLF, with another CR or a NUL,
//!   not UTF-8, or over 512 bytes without tags;
//! - `Line` had to repair a middle parameter (a space or a leading ':': a
//!   handler echoed input without `proto::line::middle`; debug-assertion
//!   builds panic there already);
//! - after the scene, the server still has a client, a nick, a channel, an
//!   unregistered, invisible or oper count: a ghost the teardown left;
//! - any panic in any thread (the hook aborts before the server's panic
//!   boundary could turn it into a closed connection).
#![no_main]

use std::{net::SocketAddr, sync::LazyLock, time::Duration};

use ircd::{Config, Server, net::Handle};
use libfuzzer_sys::fuzz_target;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{
        TcpSocket,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    runtime::Runtime,
    sync::{mpsc, oneshot},
};

const WAIT: Duration = Duration::from_secs(10);
const CAPS: &str = "message-tags echo-message server-time labeled-response batch";
const NICKS: [&str; 3] = ["ca", "cb", "cc"];

struct Harness {
    rt: Runtime,
    addr: SocketAddr,
    handle: Handle,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(start);

fn start() -> Harness {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        eprintln!(
            "panic in thread {:?}: {info}\n{}",
            thread.name().unwrap_or("?"),
            std::backtrace::Backtrace::force_capture()
        );
        std::process::abort();
    }));
    let threads: usize = std::env::var("CONNECTIONS_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let rt = if threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    // A directory of this process's own (parallel jobs each open a store),
    // in memory where there is a tmpfs.
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let data = base.join(format!("ircd-fuzz-connections-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    // whowas_entries: every QUIT scans the ring (a casemapped compare per
    // entry, costly under coverage instrumentation); 64 still fills and
    // cuts it, and keeps the per-nick bound, within a few scenes.
    let text = format!(
        "[server]\nname = \"irc.fuzz\"\nnetwork = \"FuzzNet\"\ndata_dir = {:?}\n\
         [[listen]]\naddress = \"127.0.0.1:0\"\n\
         [limits]\nwhowas_entries = 64\n\
         [flood]\nenabled = false\nexempt = [\"127.0.0.0/8\"]\n\
         [connections]\nper_ip = 100000\nthrottle = 100000\nexempt = [\"127.0.0.0/8\"]\n",
        data.display().to_string()
    );
    let config = Config::parse(&text, None).expect("fuzz config is valid");
    let (addr, handle) = rt.block_on(async {
        let server = Server::bind(config).await.expect("bind 127.0.0.1:0");
        let addr = server.local_addrs()[0];
        let handle = server.handle();
        tokio::spawn(server.run());
        (addr, handle)
    });
    // The store holds its file open: the directory can go now.
    let _ = std::fs::remove_dir_all(&data);
    Harness { rt, addr, handle }
}

/// Checks one line from the server; returns (command, last parameter).
fn check(buf: &[u8], who: &str) -> (String, String) {
    assert!(buf.ends_with(b"\r\n"), "{who}: no CRLF: {buf:?}");
    let body = &buf[..buf.len() - 2];
    assert!(
        !body.iter().any(|&b| b == b'\r' || b == 0),
        "{who}: CR or NUL inside: {buf:?}"
    );
    assert!(
        buf.len() <= 512 || buf.starts_with(b"@"),
        "{who}: over 512 bytes: {}",
        String::from_utf8_lossy(buf)
    );
    let Ok(s) = std::str::from_utf8(body) else {
        panic!("{who}: not UTF-8: {buf:?}");
    };
    let mut rest = s;
    for lead in ['@', ':'] {
        if rest.starts_with(lead) {
            rest = rest.split_once(' ').map_or("", |(_, r)| r);
        }
    }
    let (cmd, args) = rest.split_once(' ').unwrap_or((rest, ""));
    let last = match args.split_once(" :") {
        Some((_, t)) => t,
        None if args.starts_with(':') => &args[1..],
        None => args.rsplit(' ').next().unwrap_or(""),
    };
    (cmd.to_string(), last.to_string())
}

/// One client connection of a scene.
struct Conn {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
    /// The nick it asked for, and the one it has (another after a 433).
    base: &'static str,
    nick: String,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr, nick: &'static str) -> Conn {
        let socket = TcpSocket::new_v4().expect("socket");
        // The server closes first (after QUIT); a zero linger answers its
        // FIN with RST, so neither side keeps a TIME_WAIT entry.
        #[allow(deprecated)]
        socket.set_linger(Some(Duration::ZERO)).expect("SO_LINGER");
        let stream = socket.connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (r, w) = stream.into_split();
        Conn {
            r: BufReader::new(r),
            w,
            base: nick,
            nick: nick.to_string(),
            buf: Vec::with_capacity(512),
        }
    }

    /// The next line, checked: Some((command, last parameter)), None at EOF.
    async fn line(&mut self) -> Option<(String, String)> {
        self.buf.clear();
        match self.r.read_until(b'\n', &mut self.buf).await {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(check(&self.buf, &self.nick)),
        }
    }

    /// Writes `bytes`; a server that closed early makes this fail, which the
    /// reader then reports.
    async fn send(&mut self, bytes: &[u8]) {
        let _ = self.w.write_all(bytes).await;
    }

    /// Registers (CAP first when `caps`, then `extra`, e.g. a JOIN), reads to
    /// the end of the MOTD; another nick on 433.
    async fn register(&mut self, caps: bool, extra: &str) {
        let mut hello = String::new();
        if caps {
            hello.push_str(&format!("CAP LS 302\r\nCAP REQ :{CAPS}\r\nCAP END\r\n"));
        }
        hello.push_str(&format!(
            "NICK {}\r\nUSER f 0 * :fuzz\r\n{extra}",
            self.nick
        ));
        self.send(hello.as_bytes()).await;
        let mut tries = 0;
        loop {
            let Some((cmd, _)) = self.line().await else {
                panic!("{}: closed during registration", self.nick);
            };
            match cmd.as_str() {
                "376" | "422" => return,
                "433" => {
                    tries += 1;
                    assert!(tries < 10, "{}: no free nick", self.nick);
                    self.nick = format!("{}_{tries}", self.base);
                    let again = format!("NICK {}\r\n", self.nick);
                    self.send(again.as_bytes()).await;
                }
                _ => {}
            }
        }
    }

    /// Reads until the end of the NAMES reply of the JOIN sent.
    async fn joined(&mut self) {
        loop {
            match self.line().await {
                None => panic!("{}: closed while joining", self.nick),
                Some((cmd, _)) if cmd == "366" => return,
                // A JOIN sent before a 433 was answered with 451: again.
                Some((cmd, _)) if cmd == "451" => self.send(b"JOIN #c\r\n").await,
                Some(_) => {}
            }
        }
    }

    /// Hands the connection to a reader ([`read_all`]) and keeps the
    /// writing half.
    fn split(mut self) -> (Reader, OwnedWriteHalf, Handles) {
        self.buf.clear();
        let (events, seen) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel();
        let (back, back_rx) = oneshot::channel();
        let reader = Reader {
            r: self.r,
            nick: self.nick,
            buf: self.buf,
            events,
            stopped,
            back,
        };
        let handles = Handles {
            seen,
            stop: Some(stop),
            back: Some(back_rx),
            closed: false,
        };
        (reader, self.w, handles)
    }
}

/// What a client's reader saw.
enum Seen {
    /// A PONG with this token.
    Pong(String),
    /// The server closed the connection.
    Closed,
}

/// The reading half of a client during the scene: reads and checks every
/// line until the server closes it or [`Handles::stop`] says to let go.
struct Reader {
    r: BufReader<OwnedReadHalf>,
    nick: String,
    buf: Vec<u8>,
    events: mpsc::UnboundedSender<Seen>,
    stopped: oneshot::Receiver<()>,
    /// Where the read half goes when stopped (to be reset with its writer).
    back: oneshot::Sender<OwnedReadHalf>,
}

/// The scene's side of a [`Reader`].
struct Handles {
    seen: mpsc::UnboundedReceiver<Seen>,
    stop: Option<oneshot::Sender<()>>,
    back: Option<oneshot::Receiver<OwnedReadHalf>>,
    closed: bool,
}

impl Reader {
    async fn read_all(mut self) {
        loop {
            let n = tokio::select! {
                biased;
                _ = &mut self.stopped => {
                    let _ = self.back.send(self.r.into_inner());
                    return;
                }
                n = self.r.read_until(b'\n', &mut self.buf) => n,
            };
            match n {
                Ok(0) | Err(_) => {
                    let _ = self.events.send(Seen::Closed);
                    return;
                }
                Ok(_) => {
                    // A line cut by `stop` stays in `buf`: only whole ones here.
                    let (cmd, last) = check(&self.buf, &self.nick);
                    self.buf.clear();
                    if cmd == "PONG" {
                        let _ = self.events.send(Seen::Pong(last));
                    }
                }
            }
        }
    }
}

impl Handles {
    /// Waits for the PONG of `token`; false if the server closed first.
    async fn pong(&mut self, token: &str) -> bool {
        while !self.closed {
            match self.seen.recv().await {
                Some(Seen::Pong(t)) if t == token => return true,
                Some(Seen::Pong(_)) => {}
                Some(Seen::Closed) | None => self.closed = true,
            }
        }
        false
    }

    /// Waits until the server closed the connection.
    async fn closed(&mut self) {
        while !self.closed {
            if matches!(self.seen.recv().await, Some(Seen::Closed) | None) {
                self.closed = true;
            }
        }
    }
}

/// How a client leaves at the end of a scene (from a hash of the input, so
/// one input always ends the same way).
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// `QUIT`, then the server closes.
    Quit,
    /// Half-close: the server reads EOF ("Connection closed") and closes.
    Fin,
    /// Reset, with the server's replies unread: the server's read (or its
    /// writer's write) fails.
    Reset,
}

/// Runs `f` with the scene's time limit.
async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: not done within {WAIT:?}"),
    }
}

/// Each client's ending, from an FNV-1a hash of the input.
fn endings(data: &[u8]) -> [Ending; 3] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    [0, 1, 2].map(|i| match (h >> (16 * i)) % 3 {
        0 => Ending::Quit,
        1 => Ending::Fin,
        _ => Ending::Reset,
    })
}

fn contains_ci(data: &[u8], word: &[u8]) -> bool {
    data.windows(word.len())
        .any(|w| w.eq_ignore_ascii_case(word))
}

fn replace(piece: &[u8], nicks: &[String; 3], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < piece.len() {
        if piece[i] == b'$' && i + 1 < piece.len() && (b'0'..=b'2').contains(&piece[i + 1]) {
            out.extend_from_slice(nicks[usize::from(piece[i + 1] - b'0')].as_bytes());
            i += 2;
        } else {
            out.push(piece[i]);
            i += 1;
        }
    }
}

async fn run_one(h: &Harness, data: &[u8]) {
    let (a, b, c) = tokio::join!(
        Conn::open(h.addr, NICKS[0]),
        Conn::open(h.addr, NICKS[1]),
        Conn::open(h.addr, NICKS[2]),
    );
    let mut conns = [a, b, c];
    {
        let [a, b, c] = &mut conns;
        within("registration", async {
            tokio::join!(
                async {
                    a.register(true, "JOIN #c\r\n").await;
                    a.joined().await;
                },
                b.register(false, ""),
                c.register(false, ""),
            )
        })
        .await;
        within("JOIN #c", async {
            tokio::join!(
                async {
                    b.send(b"JOIN #c\r\n").await;
                    b.joined().await;
                },
                async {
                    c.send(b"JOIN #c\r\n").await;
                    c.joined().await;
                },
            )
        })
        .await;
    }
    let nicks = [
        conns[0].nick.clone(),
        conns[1].nick.clone(),
        conns[2].nick.clone(),
    ];
    // The pieces in input order, consecutive ones of one client together.
    // A piece whose selector byte has `byte / 3 % 4 == 1` ('3', '4', '5';
    // a quarter of all bytes) waits until everything sent before it was
    // answered (a PING to each client with unanswered lines, and its PONG):
    // a barrier that makes the interleaving the input's where the input
    // asks for it. Between barriers the three clients' lines race.
    let mut pieces: Vec<(usize, bool, Vec<u8>)> = Vec::new();
    let mut quit = [false; 3];
    for piece in data.split(|&b| b == b'\n') {
        let Some((&first, line)) = piece.split_first() else {
            continue;
        };
        let (who, barrier) = (usize::from(first) % 3, first / 3 % 4 == 1);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if ["oper", "regist", "identif", "passw"]
            .iter()
            .any(|w| contains_ci(line, w.as_bytes()))
        {
            continue;
        }
        quit[who] |= contains_ci(line, b"quit");
        if barrier || pieces.last().is_none_or(|(w, _, _)| *w != who) {
            pieces.push((who, barrier, Vec::new()));
        }
        let bytes = &mut pieces.last_mut().expect("just pushed").2;
        replace(line, &nicks, bytes);
        bytes.extend_from_slice(b"\r\n");
    }
    let endings = endings(data);
    let repaired = ircd::proto::line::repaired_middles();
    let [a, b, c] = conns;
    let (ra, wa, ha) = a.split();
    let (rb, wb, hb) = b.split();
    let (rc, wc, hc) = c.split();
    let mut writers = [Some(wa), Some(wb), Some(wc)];
    let mut handles = [ha, hb, hc];
    let scene = async {
        let mut pending = [false; 3];
        let mut tokens = 0;
        let last = pieces.len();
        for (k, (who, barrier, bytes)) in pieces
            .iter()
            .map(|(w, b, bytes)| (*w, *b, bytes.as_slice()))
            .chain(std::iter::once((0, true, &b""[..])))
            .enumerate()
        {
            if barrier {
                // The end of the input (k == last) asks every client.
                let waiting: Vec<usize> = (0..3)
                    .filter(|&i| (pending[i] || k == last) && !handles[i].closed)
                    .collect();
                for &i in &waiting {
                    let ping = format!("PING :s{}\r\n", tokens + i);
                    let w = writers[i].as_mut().expect("writer kept until the end");
                    // A server that closed early makes this fail; the reader says.
                    let _ = w.write_all(ping.as_bytes()).await;
                }
                for &i in &waiting {
                    let answered = handles[i].pong(&format!("s{}", tokens + i)).await;
                    assert!(
                        answered || quit[i],
                        "{}: closed by the server (no QUIT sent)",
                        NICKS[i]
                    );
                }
                tokens += 3;
                pending = [false; 3];
            }
            if bytes.is_empty() || handles[who].closed {
                continue;
            }
            let w = writers[who].as_mut().expect("writer kept until the end");
            let _ = w.write_all(bytes).await;
            pending[who] = true;
        }
        for (i, ending) in endings.iter().enumerate() {
            if handles[i].closed {
                continue;
            }
            let w = writers[i].as_mut().expect("writer kept until the end");
            match ending {
                Ending::Quit => {
                    let _ = w.write_all(b"QUIT\r\n").await;
                }
                Ending::Fin => {
                    let _ = w.shutdown().await;
                }
                Ending::Reset => {
                    if let Some(stop) = handles[i].stop.take() {
                        let _ = stop.send(());
                    }
                }
            }
        }
        for (i, ending) in endings.iter().enumerate() {
            let w = writers[i].take().expect("writer kept until the end");
            match ending {
                _ if handles[i].closed => drop(w),
                Ending::Quit | Ending::Fin => {
                    // The server closes only after the teardown released
                    // what the client held.
                    handles[i].closed().await;
                    drop(w);
                }
                Ending::Reset => {
                    // Both halves at once, SO_LINGER 0: an RST, no FIN. (No
                    // read half back: the server had closed it already.)
                    if let Ok(r) = handles[i].back.take().expect("one reset").await {
                        drop(r.reunite(w).expect("halves of one socket"));
                    }
                }
            }
        }
        // A reset connection: its teardown runs when the server's session
        // sees the reset. Nothing else is left to happen in the scene.
        let state = h.handle.state();
        while !state.all_clients().is_empty() {
            tokio::task::yield_now().await;
        }
    };
    within("scene", async {
        tokio::join!(scene, ra.read_all(), rb.read_all(), rc.read_all())
    })
    .await;
    assert_eq!(
        ircd::proto::line::repaired_middles(),
        repaired,
        "a middle parameter was left to the serializer's repair"
    );
    // Every client of the scene is released (the wait above): nothing it
    // held may be left.
    let state = h.handle.state();
    assert_eq!(state.unregistered(), 0, "unregistered count left behind");
    assert_eq!(state.invisible_count(), 0, "invisible count left behind");
    assert_eq!(state.oper_count(), 0, "oper count left behind");
    assert_eq!(state.channel_count(), 0, "a channel outlived its members");
    for nick in NICKS
        .iter()
        .copied()
        .chain(nicks.iter().map(String::as_str))
    {
        assert!(state.find_nick(nick).is_none(), "{nick}: nick left behind");
    }
}

fuzz_target!(|data: &[u8]| {
    let h = &*HARNESS;
    h.rt.block_on(run_one(h, data));
});
