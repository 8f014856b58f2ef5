//! A minimal IRC client connection: connect (optionally from a chosen
//! 127.0.x.y source address), register, read lines with a deadline while
//! answering PING, write lines.

use std::{
    io,
    net::{IpAddr, SocketAddr},
    os::fd::AsRawFd,
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{
        TcpSocket, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    time::{Instant, timeout_at},
};

/// Options of a raw socket before connect.
#[derive(Default, Clone, Copy)]
pub struct SockOpts {
    /// Source address (None: the kernel's choice, 127.0.0.1 towards 127.0.0.1).
    pub bind: Option<IpAddr>,
    /// SO_RCVBUF, for slow readers.
    pub rcvbuf: Option<u32>,
    /// SO_LINGER 0: close with RST, leaving no TIME_WAIT (storms).
    pub rst_close: bool,
}

pub async fn connect(addr: SocketAddr, o: SockOpts) -> io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    if let Some(n) = o.rcvbuf {
        s.set_recv_buffer_size(n)?;
    }
    if let Some(ip) = o.bind {
        // Defer the port choice to connect(), which picks one free for the
        // whole 4-tuple (otherwise bind() exhausts ports much sooner).
        let one: libc::c_int = 1;
        // SAFETY: a valid fd and a c_int option of the right size.
        unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                &one as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        s.bind(SocketAddr::new(ip, 0))?;
    }
    if o.rst_close {
        let l = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: as above, with a struct linger.
        unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &l as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
    let st = s.connect(addr).await?;
    st.set_nodelay(true)?;
    Ok(st)
}

pub struct Conn {
    pub r: BufReader<OwnedReadHalf>,
    pub w: OwnedWriteHalf,
    buf: Vec<u8>,
    pub nick: String,
}

/// What `next` read.
pub enum Got {
    Line(String),
    Timeout,
    Closed,
}

impl Conn {
    pub fn new(st: TcpStream, nick: &str) -> Self {
        let (r, w) = st.into_split();
        Conn {
            r: BufReader::with_capacity(16 << 10, r),
            w,
            buf: Vec::with_capacity(512),
            nick: nick.to_string(),
        }
    }

    pub async fn send(&mut self, line: &str) -> io::Result<()> {
        let mut b = Vec::with_capacity(line.len() + 2);
        b.extend_from_slice(line.as_bytes());
        b.extend_from_slice(b"\r\n");
        self.w.write_all(&b).await
    }

    pub async fn send_raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b).await
    }

    /// The next line before `deadline`, PINGs answered on the way.
    /// Cancel safe (read_until keeps partial bytes in `buf`).
    pub async fn next(&mut self, deadline: Instant) -> io::Result<Got> {
        loop {
            match timeout_at(deadline, self.r.read_until(b'\n', &mut self.buf)).await {
                Err(_) => return Ok(Got::Timeout),
                Ok(Err(e)) => return Err(e),
                Ok(Ok(0)) => return Ok(Got::Closed),
                Ok(Ok(_)) => {
                    if self.buf.last() != Some(&b'\n') {
                        return Ok(Got::Closed);
                    }
                    let mut l = String::from_utf8_lossy(&self.buf).into_owned();
                    self.buf.clear();
                    while l.ends_with('\n') || l.ends_with('\r') {
                        l.pop();
                    }
                    if let Some(rest) = l.strip_prefix("PING ") {
                        let pong = format!("PONG {rest}");
                        self.send(&pong).await?;
                        continue;
                    }
                    return Ok(Got::Line(l));
                }
            }
        }
    }

    /// Reads until `pred` holds for a line (true) or the deadline (false).
    /// Every line also goes through `each`.
    pub async fn until(
        &mut self,
        deadline: Instant,
        mut each: impl FnMut(&str),
        mut pred: impl FnMut(&str) -> bool,
    ) -> io::Result<bool> {
        loop {
            match self.next(deadline).await? {
                Got::Line(l) => {
                    each(&l);
                    if pred(&l) {
                        return Ok(true);
                    }
                    if l.starts_with("ERROR") {
                        return Err(io::Error::other(l));
                    }
                }
                Got::Timeout => return Ok(false),
                Got::Closed => return Err(io::ErrorKind::UnexpectedEof.into()),
            }
        }
    }
}

/// The numeric or command of a line (second word after a source).
pub fn command(l: &str) -> &str {
    let mut it = l.split(' ');
    let first = it.next().unwrap_or("");
    if first.starts_with(':') || first.starts_with('@') {
        if first.starts_with('@') {
            // tags, then maybe a source
            let second = it.next().unwrap_or("");
            if second.starts_with(':') {
                return it.next().unwrap_or("");
            }
            return second;
        }
        it.next().unwrap_or("")
    } else {
        first
    }
}

/// Registers (NICK/USER, optional caps), waiting for the end of the MOTD.
pub async fn register(
    addr: SocketAddr,
    o: SockOpts,
    nick: &str,
    caps: &[&str],
    wait: Duration,
) -> io::Result<Conn> {
    let st = connect(addr, o).await?;
    let mut c = Conn::new(st, nick);
    let mut first = String::new();
    if !caps.is_empty() {
        first.push_str(&format!("CAP REQ :{}\r\n", caps.join(" ")));
    }
    first.push_str(&format!("NICK {nick}\r\nUSER {nick} 0 * :soak {nick}\r\n"));
    if !caps.is_empty() {
        first.push_str("CAP END\r\n");
    }
    c.send_raw(first.as_bytes()).await?;
    let deadline = Instant::now() + wait;
    let mut refused = false;
    let ok = c
        .until(
            deadline,
            |_| {},
            |l| {
                let cmd = command(l);
                if cmd == "433" || cmd == "432" {
                    refused = true;
                    return true;
                }
                cmd == "376" || cmd == "422"
            },
        )
        .await?;
    if refused {
        return Err(io::Error::other(format!("nick {nick} refused")));
    }
    if !ok {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "registration"));
    }
    Ok(c)
}

/// A small xorshift PRNG (no dependency; reproducible from a seed).
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}
