//! Test harness: a real server started inside the test on 127.0.0.1:0, and
//! a raw-protocol client with its own small line parser (independent of the
//! server's), so tests assert what a user would see on the wire. Every line
//! a client receives is also read by a second, independent parser
//! (`irc-proto`, in `second_reading.rs`), and the test fails when the two
//! readings differ.

#![allow(dead_code)]

pub mod second_reading;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use ircd::{Config, Handle, Server};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadHalf, WriteHalf},
    net::TcpStream,
};

/// How long `expect` waits for a line before failing the test.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    pub addrs: Vec<SocketAddr>,
    pub handle: Handle,
    pub dir: tempfile::TempDir,
    pub task: tokio::task::JoinHandle<()>,
}

/// The config every test starts from; `extra` is appended (TOML).
pub fn config_text(dir: &std::path::Path, extra: &str) -> String {
    let listen = if extra.contains("[[listen]]") {
        ""
    } else {
        "[[listen]]\naddress = \"127.0.0.1:0\"\n"
    };
    format!(
        "[server]\nname = \"irc.test\"\nnetwork = \"TestNet\"\ndata_dir = {:?}\n{extra}\n{listen}",
        dir.join("data").display().to_string()
    )
}

pub async fn start(extra: &str) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(dir.path(), extra);
    let path = dir.path().join("ircd.toml");
    std::fs::write(&path, &text).unwrap();
    let config = Config::load(&path).unwrap_or_else(|e| panic!("test config invalid: {e}\n{text}"));
    start_with(config, dir).await
}

pub async fn start_with(config: Config, dir: tempfile::TempDir) -> TestServer {
    let server = Server::bind(config).await.unwrap();
    let addrs = server.local_addrs().to_vec();
    let handle = server.handle();
    let task = tokio::spawn(server.run());
    TestServer {
        addr: addrs[0],
        addrs,
        handle,
        dir,
        task,
    }
}

impl TestServer {
    pub async fn client(&self) -> TestClient {
        TestClient::connect(self.addr).await
    }

    /// A registered client with this nick.
    pub async fn user(&self, nick: &str) -> TestClient {
        let mut c = self.client().await;
        c.register(nick).await;
        c
    }
}

/// One line from the server, parsed by the test's own parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub raw: String,
    pub tags: Option<String>,
    pub source: Option<String>,
    pub command: String,
    pub params: Vec<String>,
}

impl Msg {
    pub fn parse(raw: &str) -> Msg {
        let mut rest = raw;
        let mut tags = None;
        let mut source = None;
        if let Some(r) = rest.strip_prefix('@') {
            let (t, r) = r.split_once(' ').unwrap_or((r, ""));
            tags = Some(t.to_string());
            rest = r.trim_start_matches(' ');
        }
        if let Some(r) = rest.strip_prefix(':') {
            let (s, r) = r.split_once(' ').unwrap_or((r, ""));
            source = Some(s.to_string());
            rest = r.trim_start_matches(' ');
        }
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
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
        Msg {
            raw: raw.to_string(),
            tags,
            source,
            command: command.to_string(),
            params,
        }
    }

    pub fn last(&self) -> &str {
        self.params.last().map(String::as_str).unwrap_or("")
    }

    pub fn nick(&self) -> &str {
        self.source
            .as_deref()
            .unwrap_or("")
            .split('!')
            .next()
            .unwrap()
    }
}

pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

pub struct TestClient {
    reader: BufReader<ReadHalf<Box<dyn Stream>>>,
    writer: WriteHalf<Box<dyn Stream>>,
    pub nick: String,
    /// How long `recv` waits; timer tests on the paused clock raise it.
    pub wait: Duration,
    /// Every line received so far, for assertions on what was (not) sent.
    pub seen: Vec<Msg>,
    /// Whether to keep lines in `seen`.
    pub record: bool,
}

impl TestClient {
    pub async fn connect(addr: SocketAddr) -> TestClient {
        let s = TcpStream::connect(addr).await.unwrap();
        // No Nagle: on the paused clock a line held back by the kernel
        // would let tokio auto-advance time while it waits.
        s.set_nodelay(true).unwrap();
        Self::from_stream(Box::new(s))
    }

    pub fn from_stream(s: Box<dyn Stream>) -> TestClient {
        let (r, w) = tokio::io::split(s);
        TestClient {
            reader: BufReader::new(r),
            writer: w,
            nick: "*".into(),
            wait: WAIT,
            seen: Vec::new(),
            record: true,
        }
    }

    /// Connects over TLS, accepting the server's (self-signed) certificate.
    pub async fn connect_tls(addr: SocketAddr) -> TestClient {
        use tokio_rustls::rustls;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny))
            .with_no_client_auth();
        let tcp = TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(name, tcp)
            .await
            .unwrap();
        Self::from_stream(Box::new(tls))
    }

    pub async fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
        self.writer.flush().await.unwrap();
    }

    /// The next line, or None when the connection closed.
    pub async fn recv(&mut self) -> Option<Msg> {
        let mut buf = Vec::new();
        match tokio::time::timeout(self.wait, self.reader.read_until(b'\n', &mut buf)).await {
            Err(_) => panic!(
                "{}: no line within {:?}; seen so far: {:#?}",
                self.nick,
                self.wait,
                self.tail()
            ),
            Ok(Err(_)) | Ok(Ok(0)) => None,
            Ok(Ok(_)) => {
                assert!(buf.ends_with(b"\r\n"), "line without CRLF: {buf:?}");
                assert!(
                    buf.len() <= 512 || buf.starts_with(b"@"),
                    "line over 512 bytes: {}",
                    buf.len()
                );
                let s = String::from_utf8(buf).expect("server sent invalid UTF-8");
                let m = Msg::parse(s.trim_end_matches("\r\n"));
                second_reading::check(&m);
                if self.record {
                    self.seen.push(m.clone());
                }
                Some(m)
            }
        }
    }

    fn tail(&self) -> Vec<String> {
        self.seen
            .iter()
            .rev()
            .take(15)
            .rev()
            .map(|m| m.raw.clone())
            .collect()
    }

    /// Reads until a line with this command (or numeric) arrives.
    pub async fn expect(&mut self, command: &str) -> Msg {
        loop {
            match self.recv().await {
                Some(m) if m.command.eq_ignore_ascii_case(command) => return m,
                Some(_) => {}
                None => panic!(
                    "{}: closed while waiting for {command}; seen: {:#?}",
                    self.nick,
                    self.tail()
                ),
            }
        }
    }

    /// Reads until a line matching `pred` arrives.
    pub async fn expect_match(&mut self, what: &str, pred: impl Fn(&Msg) -> bool) -> Msg {
        loop {
            match self.recv().await {
                Some(m) if pred(&m) => return m,
                Some(_) => {}
                None => panic!(
                    "{}: closed while waiting for {what}; seen: {:#?}",
                    self.nick,
                    self.tail()
                ),
            }
        }
    }

    /// Reads until the connection closes; returns the lines on the way.
    pub async fn expect_closed(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Some(m) = self.recv().await {
            out.push(m);
        }
        out
    }

    /// Sends PING and collects every line before the PONG: what the server
    /// answered to the commands sent before it.
    pub async fn sync(&mut self) -> Vec<Msg> {
        self.send("PING :sync-token").await;
        let mut out = Vec::new();
        loop {
            let m = self.recv().await.expect("closed during sync");
            if m.command == "PONG" && m.last() == "sync-token" {
                return out;
            }
            out.push(m);
        }
    }

    pub async fn register(&mut self, nick: &str) {
        self.send(&format!("NICK {nick}")).await;
        self.send(&format!("USER {nick} 0 * :Real {nick}")).await;
        self.nick = nick.to_string();
        self.expect("001").await;
        self.expect_match("end of MOTD", |m| m.command == "376" || m.command == "422")
            .await;
    }
}

#[derive(Debug)]
pub struct AcceptAny;

impl tokio_rustls::rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &tokio_rustls::rustls::pki_types::CertificateDer<'_>,
        _: &[tokio_rustls::rustls::pki_types::CertificateDer<'_>],
        _: &tokio_rustls::rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: tokio_rustls::rustls::pki_types::UnixTime,
    ) -> Result<tokio_rustls::rustls::client::danger::ServerCertVerified, tokio_rustls::rustls::Error>
    {
        Ok(tokio_rustls::rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &tokio_rustls::rustls::pki_types::CertificateDer<'_>,
        _: &tokio_rustls::rustls::DigitallySignedStruct,
    ) -> Result<
        tokio_rustls::rustls::client::danger::HandshakeSignatureValid,
        tokio_rustls::rustls::Error,
    > {
        Ok(tokio_rustls::rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &tokio_rustls::rustls::pki_types::CertificateDer<'_>,
        _: &tokio_rustls::rustls::DigitallySignedStruct,
    ) -> Result<
        tokio_rustls::rustls::client::danger::HandshakeSignatureValid,
        tokio_rustls::rustls::Error,
    > {
        Ok(tokio_rustls::rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<tokio_rustls::rustls::SignatureScheme> {
        tokio_rustls::rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client that negotiated `caps` (after a 302 CAP LS, however many lines
/// it takes) and registered as `nick`.
pub async fn with_caps(srv: &TestServer, nick: &str, caps: &str) -> TestClient {
    let mut c = srv.client().await;
    c.send("CAP LS 302").await;
    c.send(&format!("CAP REQ :{caps}")).await;
    let ack = c
        .expect_match("CAP ACK", |m| m.command == "CAP" && m.params[1] != "LS")
        .await;
    assert_eq!(ack.params[1], "ACK", "{ack:?}");
    c.send("CAP END").await;
    c.register(nick).await;
    c
}

/// The value of tag `key` on `m` ("" for a tag without a value).
pub fn tag<'a>(m: &'a Msg, key: &str) -> Option<&'a str> {
    m.tags
        .as_deref()?
        .split(';')
        .find_map(|t| match t.split_once('=') {
            Some((k, v)) if k == key => Some(v),
            None if t == key => Some(""),
            _ => None,
        })
}
