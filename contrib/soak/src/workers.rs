//! The clients: well-behaved residents (counted: every message a resident
//! sends must reach every other resident of its channel), churners (connect,
//! register, join, talk, nick, who, part, quit, again; their echoes counted),
//! the observer (round trip of a PRIVMSG to its echo), and the abusers
//! (flooders, slow readers, garbage senders, a connection storm), which
//! connect from 127.0.x.y addresses other than 127.0.0.1 so they get the
//! server's real per-address and flood limits.

use std::{
    collections::HashMap,
    io,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

use parking::Mutex;
use tokio::{
    io::AsyncWriteExt,
    time::{Instant, sleep},
};

use crate::irc::{Conn, Got, Rng, SockOpts, command, connect, register};

mod parking {
    pub type Mutex<T> = std::sync::Mutex<T>;
}

const REG_WAIT: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct Counters {
    pub resident_up: AtomicU64,
    pub resident_recv: AtomicU64,
    pub resident_gaps: AtomicU64,
    pub resident_dups: AtomicU64,
    pub resident_dropped: AtomicU64,
    pub churn_up: AtomicU64,
    pub churn_cycles: AtomicU64,
    pub churn_sent: AtomicU64,
    pub churn_echoed: AtomicU64,
    /// Echoes that did not come back within 20 s (connection still up).
    pub churn_missing: AtomicU64,
    pub churn_failed: AtomicU64,
    pub abuse_refused: AtomicU64,
    pub flood_sessions: AtomicU64,
    pub flood_lines: AtomicU64,
    pub flood_killed: AtomicU64,
    pub slow_sessions: AtomicU64,
    pub slow_dropped: AtomicU64,
    pub member_sessions: AtomicU64,
    pub member_dropped: AtomicU64,
    pub garbage_sessions: AtomicU64,
    pub garbage_lines: AtomicU64,
    pub garbage_killed: AtomicU64,
    pub oper_sessions: AtomicU64,
    pub oper_lines: AtomicU64,
    pub storm_attempts: AtomicU64,
    pub storm_refused: AtomicU64,
    pub storm_accepted: AtomicU64,
    pub storm_other: AtomicU64,
    pub storm_connect_err: AtomicU64,
    pub errors_seen: Mutex<HashMap<String, u64>>,
}

impl Counters {
    /// Tallies the reason of an ERROR line (numbers and addresses cut).
    pub fn error(&self, l: &str) {
        let why = l
            .rsplit_once('(')
            .map(|x| x.1.trim_end_matches(')'))
            .unwrap_or(l);
        let why: String = why
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .take(60)
            .collect();
        *self.errors_seen.lock().unwrap().entry(why).or_default() += 1;
    }
}

pub struct Ctx {
    pub addr: SocketAddr,
    pub c: Counters,
    /// Residents send while this is set.
    pub talking: AtomicBool,
    /// Messages each resident sent (index: resident id).
    pub sent: Vec<AtomicU64>,
    /// Resident channel of each resident.
    pub chan_of: Vec<u32>,
    /// Garbage lines starting with one of these are not sent.
    pub garbage_skip: Vec<String>,
    /// Observer samples: (seconds since `t0`, round trip in µs, u64::MAX: lost).
    pub obs: Mutex<Vec<(f64, u64)>>,
    pub t0: std::time::Instant,
}

impl Ctx {
    pub fn new(
        addr: SocketAddr,
        residents: u32,
        per_chan: u32,
        garbage_skip: Vec<String>,
    ) -> Arc<Self> {
        Arc::new(Ctx {
            garbage_skip,
            addr,
            c: Counters::default(),
            talking: AtomicBool::new(false),
            sent: (0..residents).map(|_| AtomicU64::new(0)).collect(),
            chan_of: (0..residents).map(|i| i / per_chan.max(1)).collect(),
            obs: Mutex::new(Vec::new()),
            t0: std::time::Instant::now(),
        })
    }

    /// The source address of abuser `id` of a kind (1: flooders, 2: slow
    /// readers, 3: garbage): 127.0.<kind>.<id + 1>, the same for all its
    /// sessions, so the server's per-address limits (16 at once, 10 new a
    /// minute) apply to it as to a real abuser.
    pub fn abuse_ip(&self, kind: u8, id: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, kind, 1 + (id % 250) as u8))
    }

    /// Messages lost between residents: each one a resident sent should have
    /// reached every other resident of its channel.
    pub fn resident_expected(&self) -> u64 {
        let mut members: HashMap<u32, u64> = HashMap::new();
        for ch in &self.chan_of {
            *members.entry(*ch).or_default() += 1;
        }
        self.sent
            .iter()
            .zip(&self.chan_of)
            .map(|(s, ch)| s.load(Relaxed) * (members[ch] - 1))
            .sum()
    }
}

/// `:nick!… PRIVMSG #target :text` → (nick, target, text).
fn privmsg(l: &str) -> Option<(&str, &str, &str)> {
    let l = if l.starts_with('@') {
        l.split_once(' ')?.1
    } else {
        l
    };
    let rest = l.strip_prefix(':')?;
    let (src, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix("PRIVMSG ")?;
    let (target, text) = rest.split_once(" :")?;
    let nick = src.split('!').next()?;
    Some((nick, target, text))
}

/// A resident: registers as r<id>, joins #r<chan>, then (while `talking`)
/// sends "r<id> <seq>" every `every`, and checks that the messages of the
/// other residents arrive in order, none missing, none twice.
pub async fn resident(ctx: Arc<Ctx>, id: u32, every: Duration, pad: usize) {
    let nick = format!("r{id}");
    let chan = format!("#r{}", ctx.chan_of[id as usize]);
    let mut rng = Rng::new(id as u64 + 1);
    let mut c = loop {
        match register(ctx.addr, SockOpts::default(), &nick, &[], REG_WAIT).await {
            Ok(c) => break c,
            Err(_) => sleep(rng.ms(200, 1000)).await,
        }
    };
    let joined = c.send(&format!("JOIN {chan}")).await.is_ok()
        && c.until(Instant::now() + REG_WAIT, |_| {}, |l| command(l) == "366")
            .await
            .unwrap_or(false);
    if !joined {
        ctx.c.resident_dropped.fetch_add(1, Relaxed);
        return;
    }
    ctx.c.resident_up.fetch_add(1, Relaxed);
    let padding = "x".repeat(pad);
    let mut last: HashMap<u32, u64> = HashMap::new();
    let mut seq = 0u64;
    let mut next = Instant::now() + rng.ms(0, every.as_millis() as u64);
    let far = Duration::from_secs(3600);
    loop {
        tokio::select! {
            got = c.next(Instant::now() + far) => match got {
                Ok(Got::Line(l)) => {
                    if let Some((src, target, text)) = privmsg(&l) {
                        if target == chan && src.starts_with('r') {
                            let mut w = text.split(' ');
                            let (Some(a), Some(b)) = (w.next(), w.next()) else { continue };
                            let (Some(sid), Ok(s)) = (a.strip_prefix('r').and_then(|x| x.parse::<u32>().ok()), b.parse::<u64>()) else { continue };
                            if src != a { continue; }
                            let prev = last.entry(sid).or_insert(0);
                            if s == *prev + 1 {
                                ctx.c.resident_recv.fetch_add(1, Relaxed);
                            } else if s > *prev + 1 {
                                ctx.c.resident_recv.fetch_add(1, Relaxed);
                                ctx.c.resident_gaps.fetch_add(s - *prev - 1, Relaxed);
                            } else {
                                ctx.c.resident_dups.fetch_add(1, Relaxed);
                                continue;
                            }
                            *prev = s;
                        }
                    } else if l.starts_with("ERROR") {
                        ctx.c.error(&l);
                    }
                }
                Ok(Got::Timeout) => {}
                Ok(Got::Closed) | Err(_) => break,
            },
            _ = tokio::time::sleep_until(next) => {
                next += every;
                if ctx.talking.load(Relaxed) {
                    seq += 1;
                    if c.send(&format!("PRIVMSG {chan} :{nick} {seq} {padding}")).await.is_err() {
                        break;
                    }
                    ctx.sent[id as usize].fetch_add(1, Relaxed);
                }
            }
        }
    }
    ctx.c.resident_up.fetch_sub(1, Relaxed);
    ctx.c.resident_dropped.fetch_add(1, Relaxed);
}

/// A churner: forever connect, register (echo-message), join 1-3 channels
/// (resident and churn channels), talk, change nick, WHO, part, quit (or just
/// hang up), pause. Every message sent must come back as its echo.
pub async fn churner(ctx: Arc<Ctx>, id: u32, res_chans: u32, churn_chans: u32) {
    let mut rng = Rng::new(0xC0FFEE ^ id as u64);
    let mut cycle = 0u64;
    loop {
        cycle += 1;
        sleep(rng.ms(0, 2000)).await;
        let nick = format!("c{id}x{cycle}");
        let mut c = match register(
            ctx.addr,
            SockOpts::default(),
            &nick,
            &["echo-message"],
            REG_WAIT,
        )
        .await
        {
            Ok(c) => c,
            Err(_) => {
                ctx.c.churn_failed.fetch_add(1, Relaxed);
                continue;
            }
        };
        ctx.c.churn_up.fetch_add(1, Relaxed);
        let r = churn_once(&ctx, &mut c, &mut rng, id, cycle, res_chans, churn_chans).await;
        ctx.c.churn_up.fetch_sub(1, Relaxed);
        match r {
            Ok(()) => {
                ctx.c.churn_cycles.fetch_add(1, Relaxed);
            }
            Err(e) => {
                ctx.c.churn_failed.fetch_add(1, Relaxed);
                if e.to_string().starts_with("ERROR") {
                    ctx.c.error(&e.to_string());
                }
            }
        }
    }
}

async fn churn_once(
    ctx: &Ctx,
    c: &mut Conn,
    rng: &mut Rng,
    id: u32,
    cycle: u64,
    res_chans: u32,
    churn_chans: u32,
) -> io::Result<()> {
    let wait = Duration::from_secs(20);
    let n = 1 + rng.below(3);
    let mut chans = Vec::new();
    for _ in 0..n {
        let ch = if rng.below(2) == 0 {
            format!("#r{}", rng.below(res_chans as u64))
        } else {
            format!("#c{}", rng.below(churn_chans as u64))
        };
        if !chans.contains(&ch) {
            chans.push(ch);
        }
    }
    c.send(&format!("JOIN {}", chans.join(","))).await?;
    let mut ends = 0;
    let nick0 = c.nick.clone();
    if !c
        .until(
            Instant::now() + wait,
            |_| {},
            |l| {
                if command(l) == "366" {
                    ends += 1;
                }
                ends == chans.len()
            },
        )
        .await?
    {
        return Err(io::Error::other("join timeout"));
    }
    // Talk: each message must come back (echo-message).
    let msgs = 1 + rng.below(4);
    for k in 0..msgs {
        let ch = &chans[rng.below(chans.len() as u64) as usize];
        let text = format!("{nick0} {cycle}-{k} hello from a churner");
        c.send(&format!("PRIVMSG {ch} :{text}")).await?;
        ctx.c.churn_sent.fetch_add(1, Relaxed);
        let me = format!(":{}!", c.nick);
        let got = c
            .until(
                Instant::now() + wait,
                |_| {},
                |l| l.starts_with(&me) && privmsg(l).is_some_and(|(_, _, t)| t == text),
            )
            .await?;
        if got {
            ctx.c.churn_echoed.fetch_add(1, Relaxed);
        } else {
            ctx.c.churn_missing.fetch_add(1, Relaxed);
        }
        // Linger a little (reading) between messages.
        let _ = c
            .until(Instant::now() + rng.ms(500, 3000), |_| {}, |_| false)
            .await?;
    }
    let new = format!("n{id}y{cycle}");
    c.send(&format!("NICK {new}")).await?;
    let pat = format!(":{}!", c.nick);
    let ok = c
        .until(
            Instant::now() + wait,
            |_| {},
            |l| l.starts_with(&pat) && command(l) == "NICK",
        )
        .await?;
    if !ok {
        return Err(io::Error::other("nick timeout"));
    }
    c.nick = new;
    c.send(&format!("WHO {}", chans[0])).await?;
    if !c
        .until(Instant::now() + wait, |_| {}, |l| command(l) == "315")
        .await?
    {
        return Err(io::Error::other("who timeout"));
    }
    c.send(&format!("PART {} :bye", chans[0])).await?;
    match rng.below(4) {
        0 => {
            // Hang up without QUIT.
            c.w.shutdown().await.ok();
        }
        _ => {
            c.send("QUIT :churn").await?;
            let _ = c
                .until(Instant::now() + wait, |_| {}, |l| l.starts_with("ERROR"))
                .await;
        }
    }
    Ok(())
}

/// An observer: `nick` in `chan` with echo-message, a PRIVMSG every `every`,
/// timed until its echo comes back. Runs until `stop`. Its sends are at
/// `offset` past each multiple of `every` since `ctx.t0`, so that several
/// observers take turns instead of arriving at the server together; a tick
/// missed while waiting for an echo is skipped.
pub async fn observer(
    ctx: Arc<Ctx>,
    nick: String,
    chan: String,
    every: Duration,
    offset: Duration,
    stop: Arc<AtomicBool>,
) {
    let mine = format!(":{nick}!");
    let mut c = loop {
        match register(
            ctx.addr,
            SockOpts::default(),
            &nick,
            &["echo-message"],
            REG_WAIT,
        )
        .await
        {
            Ok(c) => break c,
            Err(_) => sleep(Duration::from_millis(500)).await,
        }
    };
    c.send(&format!("JOIN {chan}")).await.ok();
    let _ = c
        .until(Instant::now() + REG_WAIT, |_| {}, |l| command(l) == "366")
        .await;
    let mut seq = 0u64;
    let epoch = Instant::from_std(ctx.t0) + offset;
    let tick = |now: Instant| {
        let n = now.saturating_duration_since(epoch).as_nanos() / every.as_nanos().max(1) + 1;
        epoch + every * n as u32
    };
    let mut next = tick(Instant::now());
    while !stop.load(Relaxed) {
        tokio::time::sleep_until(next).await;
        next += every;
        seq += 1;
        let text = format!("obs {seq}");
        let t = Instant::now();
        if c.send(&format!("PRIVMSG {chan} :{text}")).await.is_err() {
            break;
        }
        let got = c
            .until(
                t + Duration::from_secs(5),
                |_| {},
                |l| l.starts_with(&mine) && privmsg(l).is_some_and(|(_, _, x)| x == text),
            )
            .await;
        let at = ctx.t0.elapsed().as_secs_f64();
        let rtt = match got {
            Ok(true) => t.elapsed().as_micros() as u64,
            _ => u64::MAX,
        };
        ctx.obs.lock().unwrap().push((at, rtt));
        if got.is_err() {
            break;
        }
        if Instant::now() > next {
            next = tick(Instant::now());
        }
    }
}

/// A flooder: registers from an abuser address, joins `chan`, then writes
/// PRIVMSGs as fast as the socket takes them (reading what comes back), until
/// the server ends it; then again from the next address.
pub async fn flooder(ctx: Arc<Ctx>, id: u32, chan: String) {
    let mut n = 0u64;
    loop {
        n += 1;
        let nick = format!("f{id}x{n}");
        let o = SockOpts {
            bind: Some(ctx.abuse_ip(1, id)),
            rst_close: true,
            ..Default::default()
        };
        // A pause between sessions, longer after a refusal (throttled), so
        // a flooder is a flood and not also a connection storm.
        sleep(Duration::from_millis(50)).await;
        let c = match register(ctx.addr, o, &nick, &[], REG_WAIT).await {
            Ok(c) => c,
            Err(e) => {
                refused(&ctx, &e);
                sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        ctx.c.flood_sessions.fetch_add(1, Relaxed);
        let Conn { mut r, mut w, .. } = c;
        let mut batch = format!("JOIN {chan}\r\n").into_bytes();
        for i in 0..64 {
            batch.extend_from_slice(
                format!("PRIVMSG {chan} :flood {i} aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n")
                    .as_bytes(),
            );
        }
        let write = async {
            loop {
                if w.write_all(&batch).await.is_err() {
                    break;
                }
                ctx.c.flood_lines.fetch_add(64, Relaxed);
            }
        };
        let read = drain(&ctx, &mut r);
        tokio::select! {
            _ = write => {}
            ended = read => if ended { ctx.c.flood_killed.fetch_add(1, Relaxed); },
        }
    }
}

/// Reads and drops everything; true when the server sent an ERROR.
async fn drain(ctx: &Ctx, r: &mut tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>) -> bool {
    use tokio::io::AsyncBufReadExt;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(_) => {
                if buf.starts_with(b"ERROR") {
                    ctx.c.error(&String::from_utf8_lossy(&buf));
                    return true;
                }
            }
        }
    }
}

fn refused(ctx: &Ctx, e: &io::Error) {
    ctx.c.abuse_refused.fetch_add(1, Relaxed);
    let s = e.to_string();
    if s.starts_with("ERROR") {
        ctx.c.error(&s);
    }
}

/// A slow reader (`reads` false): joins `chans` from its abuser address with
/// a 4 KiB receive buffer, then never reads, only writes a PING every 2 s,
/// until the server drops it; then again. With `reads`, the same client
/// reading everything: the slow phase's control ("members"), so that the
/// slow phase differs from its control only in the reading (each is 20 more
/// members of every channel, the observers' included).
pub async fn slow_reader(ctx: Arc<Ctx>, id: u32, chans: String, reads: bool) {
    let (sessions, dropped) = if reads {
        (&ctx.c.member_sessions, &ctx.c.member_dropped)
    } else {
        (&ctx.c.slow_sessions, &ctx.c.slow_dropped)
    };
    let mut n = 0u64;
    loop {
        n += 1;
        let o = SockOpts {
            bind: Some(ctx.abuse_ip(2, id)),
            rcvbuf: Some(4096),
            rst_close: true,
        };
        let Ok(st) = connect(ctx.addr, o).await else {
            sleep(Duration::from_millis(500)).await;
            continue;
        };
        sessions.fetch_add(1, Relaxed);
        let mut c = Conn::new(st, "");
        let hello = format!("NICK s{id}x{n}\r\nUSER s 0 * :slow\r\nJOIN {chans}\r\n");
        if c.send_raw(hello.as_bytes()).await.is_err() {
            continue;
        }
        let mut ping = Instant::now() + Duration::from_secs(2);
        loop {
            if reads {
                match c.next(ping).await {
                    Ok(Got::Line(l)) if l.starts_with("ERROR") => {
                        dropped.fetch_add(1, Relaxed);
                        break;
                    }
                    Ok(Got::Line(_)) => continue,
                    Ok(Got::Timeout) => {}
                    _ => {
                        dropped.fetch_add(1, Relaxed);
                        break;
                    }
                }
            } else {
                tokio::time::sleep_until(ping).await;
            }
            ping += Duration::from_secs(2);
            if c.send("PING :still-here").await.is_err() {
                dropped.fetch_add(1, Relaxed);
                break;
            }
        }
    }
}

/// Lines that are wrong in every way a parser can be surprised.
fn garbage_line(rng: &mut Rng) -> Vec<u8> {
    const FIXED: &[&str] = &[
        "",
        " ",
        ":",
        "::",
        ":x",
        "@",
        "@ ",
        "@a",
        "@=;=; PING x",
        "@+a!b=1;+é;+ TAGMSG #g",
        "PRIVMSG",
        "PRIVMSG #g",
        "PRIVMSG :",
        "NOTICE * :",
        "JOIN ,,,,",
        "JOIN :",
        "JOIN #a b c d e f g h i j k l m n o p",
        "MODE #g +l :5 6",
        "MODE #g +l 99999999999",
        "MODE #g +bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb a b c d",
        "MODE * +o",
        "WHO :a b",
        "WHO ::ab",
        "WHOIS ,,,,",
        "WHOWAS :a b",
        "LIST é",
        "LIST >-1,<99999999999",
        "NICK :",
        "NICK é",
        "NICK :a b",
        "NICK #x",
        "USER",
        "USER a",
        "CAP",
        "CAP LS 99999",
        "CAP REQ :sasl sasl sasl -",
        "CAP REQ :é",
        "AUTHENTICATE",
        "AUTHENTICATE +",
        "AUTHENTICATE PLAIN",
        "AUTHENTICATE ====",
        "TAGMSG #g",
        "KICK #g r1 :x",
        "TOPIC #g :x",
        "PART #nope :x",
        "INVITE r1 #nope",
        "PING",
        "PONG",
        "PONG :x y z",
        "CHATHISTORY LATEST #g * 999999",
        "CHATHISTORY BETWEEN #g timestamp=x msgid=y 5",
        "MONITOR + a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z",
        "MONITOR S",
        "BATCH +x draft/multiline #g",
        "BATCH -y",
        "MARKREAD #g timestamp=2020",
        "RELAYMSG #g a/b :hi",
        "OPER a b",
        "KLINE 1 a@b :x",
        "DLINE 1 1.2.3.4 :x",
        "STATS k",
        "TESTLINE *@*",
        "HELP :a b",
        "NAMES ,,,",
        "AWAY :",
        "SETNAME :",
        "WEBIRC a b c d",
        "PASS",
        "SQUIT x",
        "REHASH",
        "DIE",
        "\u{1}ACTION\u{1}",
        "PRIVMSG #g :\u{1}DCC SEND x 0 0 0\u{1}",
        "PRIVMSG ,,,,, :x",
    ];
    match rng.below(10) {
        0..=5 => {
            let mut v = FIXED[rng.below(FIXED.len() as u64) as usize]
                .as_bytes()
                .to_vec();
            v.extend_from_slice(b"\r\n");
            v
        }
        6 | 7 => {
            // Random bytes, a line feed at the end.
            let n = 1 + rng.below(600) as usize;
            let mut v: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            v.push(b'\n');
            v
        }
        8 => {
            // An over-long line (tags or body).
            let mut v = if rng.below(2) == 0 {
                b"@".to_vec()
            } else {
                b"PRIVMSG #g :".to_vec()
            };
            v.extend(std::iter::repeat_n(b'A', 600 + rng.below(9000) as usize));
            v.extend_from_slice(b"\r\n");
            v
        }
        _ => {
            // Invalid UTF-8 and control bytes in a valid command.
            b"PRIVMSG #g :\xff\xfe\x00\x01\r mid-line\r\n".to_vec()
        }
    }
}

/// A garbage sender: from an abuser address, half of the time registered
/// first (and in #g), then `rate` garbage lines a second until the server
/// ends it.
pub async fn garbage(ctx: Arc<Ctx>, id: u32, rate: f64) {
    let mut rng = Rng::new(0xBAD ^ id as u64);
    let mut n = 0u64;
    loop {
        n += 1;
        let o = SockOpts {
            bind: Some(ctx.abuse_ip(3, id)),
            rst_close: true,
            ..Default::default()
        };
        let c = if rng.below(2) == 0 {
            match register(ctx.addr, o, &format!("g{id}x{n}"), &[], REG_WAIT).await {
                Ok(mut c) => {
                    let _ = c.send("JOIN #g").await;
                    c
                }
                Err(e) => {
                    refused(&ctx, &e);
                    sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
        } else {
            match connect(ctx.addr, o).await {
                Ok(st) => Conn::new(st, ""),
                Err(_) => {
                    sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
        };
        ctx.c.garbage_sessions.fetch_add(1, Relaxed);
        let Conn { mut r, mut w, .. } = c;
        let gap = Duration::from_secs_f64(1.0 / rate);
        let mut rng2 = rng.clone();
        rng.next();
        let write = async {
            loop {
                let line = garbage_line(&mut rng2);
                if ctx
                    .garbage_skip
                    .iter()
                    .any(|p| line.starts_with(p.as_bytes()))
                {
                    continue;
                }
                if w.write_all(&line).await.is_err() {
                    break;
                }
                ctx.c.garbage_lines.fetch_add(1, Relaxed);
                sleep(gap).await;
            }
        };
        let read = drain(&ctx, &mut r);
        tokio::select! {
            _ = write => {}
            ended = read => if ended { ctx.c.garbage_killed.fetch_add(1, Relaxed); },
        }
    }
}

/// An OPER guesser: from 127.0.4.<id + 1>, registers and sends three OPER
/// attempts with a wrong name and password (the server closes the
/// connection after three failures), then again. Each attempt costs the
/// server a bcrypt verification (against a dummy hash for an unknown name).
pub async fn oper_guesser(ctx: Arc<Ctx>, id: u32) {
    let mut n = 0u64;
    loop {
        n += 1;
        let o = SockOpts {
            bind: Some(ctx.abuse_ip(4, id)),
            rst_close: true,
            ..Default::default()
        };
        let c = match register(ctx.addr, o, &format!("o{id}x{n}"), &[], REG_WAIT).await {
            Ok(c) => c,
            Err(e) => {
                refused(&ctx, &e);
                sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        ctx.c.oper_sessions.fetch_add(1, Relaxed);
        let Conn { mut r, mut w, .. } = c;
        if w.write_all(b"OPER admin guess1\r\nOPER admin guess2\r\nOPER admin guess3\r\n")
            .await
            .is_err()
        {
            continue;
        }
        ctx.c.oper_lines.fetch_add(3, Relaxed);
        drain(&ctx, &mut r).await;
    }
}

/// A connection storm from `from`: `rate` connection attempts a second, at
/// most `inflight` at once, each sending NICK/USER and waiting up to 2 s for
/// the server's answer, then closing with RST.
pub async fn storm(ctx: Arc<Ctx>, from: IpAddr, rate: f64, inflight: usize) {
    let sem = Arc::new(tokio::sync::Semaphore::new(inflight));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut n = 0u64;
    loop {
        tick.tick().await;
        let Ok(permit) = sem.clone().acquire_owned().await else {
            return;
        };
        n += 1;
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            ctx.c.storm_attempts.fetch_add(1, Relaxed);
            let o = SockOpts {
                bind: Some(from),
                rst_close: true,
                ..Default::default()
            };
            let Ok(st) = connect(ctx.addr, o).await else {
                ctx.c.storm_connect_err.fetch_add(1, Relaxed);
                return;
            };
            let mut c = Conn::new(st, "");
            let _ = c
                .send_raw(format!("NICK st{n}\r\nUSER s 0 * :storm\r\n").as_bytes())
                .await;
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                match c.next(deadline).await {
                    Ok(Got::Line(l)) if l.starts_with("ERROR") => {
                        ctx.c.storm_refused.fetch_add(1, Relaxed);
                        ctx.c.error(&l);
                        break;
                    }
                    Ok(Got::Line(l)) if command(&l) == "001" => {
                        ctx.c.storm_accepted.fetch_add(1, Relaxed);
                        let _ = c.send("QUIT").await;
                        break;
                    }
                    Ok(Got::Line(_)) => {}
                    _ => {
                        ctx.c.storm_other.fetch_add(1, Relaxed);
                        break;
                    }
                }
            }
        });
    }
}
