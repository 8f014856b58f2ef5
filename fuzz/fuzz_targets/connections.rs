//! Whole connections, three at once: random bytes through the real
//! transport, session loop, dispatch and every handler of an in-process
//! server, split between three clients that share channels and name each
//! other.
//!
//! One `Server` is started on first use (a tokio multi-thread runtime,
//! 127.0.0.1:0, flood control off, no per-address limits for loopback).
//! For each input, three connections register (`ca<n>`, `cb<n>`, `cc<n>`;
//! the first with message-tags, echo-message, server-time,
//! labeled-response and batch) and join `#c`. The input is split at LF (a
//! CR before it dropped); the first byte of each piece picks the client
//! (byte % 3), the rest is sent as one raw line (invalid UTF-8, NUL, lone
//! CR, over-long lines and all) after replacing `$0` `$1` `$2` with the
//! three nicks. Pieces with "oper", "regist", "identif" or "passw" (any
//! case) are left out: they hash passwords with bcrypt (0.3 s each).
//! Every client then sends `PING :done-<n>` while all are read concurrently.
//!
//! Findings (a panic, which aborts):
//! - a client gets no matching PONG within 10 s;
//! - a client is closed by the server although its pieces had no "quit";
//! - a line from the server not ended by CRLF, with another CR or a NUL,
//!   not UTF-8, or over 512 bytes without tags;
//! - `Line` had to repair a middle parameter (a space or a leading ':': a
//!   handler echoed input without `proto::line::middle`; debug-assertion
//!   builds panic there already);
//! - any panic in any thread (the hook aborts before the server's panic
//!   boundary could turn it into a closed connection).
#![no_main]

use std::{
    net::SocketAddr,
    sync::{
        LazyLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use ircd::{Config, Server};
use libfuzzer_sys::fuzz_target;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpSocket, TcpStream, tcp::OwnedReadHalf},
    runtime::Runtime,
};

const WAIT: Duration = Duration::from_secs(10);
const CAPS: &str = "message-tags echo-message server-time labeled-response batch";

struct Harness {
    rt: Runtime,
    addr: SocketAddr,
    inputs: AtomicU64,
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let data = std::env::temp_dir().join("ircd-fuzz-connections");
    let text = format!(
        "[server]\nname = \"irc.fuzz\"\nnetwork = \"FuzzNet\"\ndata_dir = {:?}\n\
         [[listen]]\naddress = \"127.0.0.1:0\"\n\
         [flood]\nenabled = false\nexempt = [\"127.0.0.0/8\"]\n\
         [connections]\nper_ip = 100000\nthrottle = 100000\nexempt = [\"127.0.0.0/8\"]\n",
        data.display().to_string()
    );
    let config = Config::parse(&text, None).expect("fuzz config is valid");
    let addr = rt.block_on(async {
        let server = Server::bind(config).await.expect("bind 127.0.0.1:0");
        let addr = server.local_addrs()[0];
        tokio::spawn(server.run());
        addr
    });
    Harness {
        rt,
        addr,
        inputs: AtomicU64::new(0),
    }
}

async fn connect(addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    // RST on close: no TIME_WAIT pile-up at hundreds of connections a second.
    #[allow(deprecated)]
    socket.set_linger(Some(Duration::ZERO)).expect("SO_LINGER");
    let stream = socket.connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    stream
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

/// Registers on `r`/`w`: NICK/USER (and CAP for the first client), JOIN #c,
/// then reads to the end of the MOTD; another nick on 433.
async fn register(r: &mut BufReader<OwnedReadHalf>, w: &mut tokio::net::tcp::OwnedWriteHalf, nick: &str, caps: bool) {
    let mut hello = String::new();
    if caps {
        hello.push_str(&format!("CAP LS 302\r\nCAP REQ :{CAPS}\r\nCAP END\r\n"));
    }
    hello.push_str(&format!("NICK {nick}\r\nUSER f 0 * :fuzz\r\n"));
    w.write_all(hello.as_bytes()).await.expect("write registration");
    let done = tokio::time::timeout(WAIT, async {
        let mut tries = 0;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if r.read_until(b'\n', &mut buf).await.unwrap_or(0) == 0 {
                panic!("{nick}: closed during registration");
            }
            let (cmd, _) = check(&buf, nick);
            match cmd.as_str() {
                "376" | "422" => return,
                "433" => {
                    tries += 1;
                    assert!(tries < 10, "{nick}: no free nick");
                    let again = format!("NICK {nick}_{tries}\r\n");
                    w.write_all(again.as_bytes()).await.expect("write NICK");
                }
                _ => {}
            }
        }
    })
    .await;
    assert!(done.is_ok(), "{nick}: not registered within {WAIT:?}");
    w.write_all(b"JOIN #c\r\n").await.expect("write JOIN");
}

fn contains_ci(data: &[u8], word: &[u8]) -> bool {
    data.windows(word.len()).any(|w| w.eq_ignore_ascii_case(word))
}

fn replace(piece: &[u8], nicks: &[String; 3]) -> Vec<u8> {
    let mut out = Vec::with_capacity(piece.len() + 16);
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
    out
}

async fn run_one(addr: SocketAddr, n: u64, data: &[u8]) {
    let nicks = [format!("ca{n}"), format!("cb{n}"), format!("cc{n}")];
    let mut out: [Vec<u8>; 3] = Default::default();
    let mut quit = [false; 3];
    for piece in data.split(|&b| b == b'\n') {
        let Some((&first, line)) = piece.split_first() else {
            continue;
        };
        let who = usize::from(first) % 3;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if ["oper", "regist", "identif", "passw"]
            .iter()
            .any(|w| contains_ci(line, w.as_bytes()))
        {
            continue;
        }
        quit[who] |= contains_ci(line, b"quit");
        out[who].extend_from_slice(&replace(line, &nicks));
        out[who].extend_from_slice(b"\r\n");
    }
    let repaired = ircd::proto::line::repaired_middles();
    let mut tasks = Vec::new();
    for (i, nick) in nicks.iter().enumerate() {
        let (r, mut w) = connect(addr).await.into_split();
        let mut r = BufReader::new(r);
        register(&mut r, &mut w, nick, i == 0).await;
        let token = format!("done-{n}-{i}");
        let mut bytes = std::mem::take(&mut out[i]);
        bytes.extend_from_slice(format!("PING :{token}\r\n").as_bytes());
        let (nick, quit) = (nick.clone(), quit[i]);
        tasks.push(tokio::spawn(async move {
            let write = async {
                // A server that closed early makes this fail; the reader says.
                let _ = w.write_all(&bytes).await;
            };
            let read = async {
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    if r.read_until(b'\n', &mut buf).await.unwrap_or(0) == 0 {
                        return false;
                    }
                    let (cmd, last) = check(&buf, &nick);
                    if cmd == "PONG" && last == token {
                        return true;
                    }
                }
            };
            match tokio::time::timeout(WAIT, async { tokio::join!(write, read).1 }).await {
                Ok(true) => {}
                Ok(false) if quit => {}
                Ok(false) => panic!("{nick}: closed by the server (no QUIT sent)"),
                Err(_) => panic!("{nick}: no PONG {token} within {WAIT:?}"),
            }
            drop(w);
        }));
    }
    for t in tasks {
        if let Err(e) = t.await {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    assert_eq!(
        ircd::proto::line::repaired_middles(),
        repaired,
        "a middle parameter was left to the serializer's repair"
    );
}

fuzz_target!(|data: &[u8]| {
    let h = &*HARNESS;
    let n = h.inputs.fetch_add(1, Ordering::Relaxed) + 1;
    h.rt.block_on(run_one(h.addr, n, data));
});
