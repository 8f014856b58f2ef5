//! Configuration in two layers: [`RawConfig`] is what the user wrote (serde,
//! unknown keys refused), [`Config`] is what the server runs on (durations
//! parsed, addresses resolved, MOTD read, oper hashes checked). Every mistake is
//! reported with its key path, all of them at once. A running server swaps its
//! whole `Arc<Config>` on rehash, so a handler never sees half a reload.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

use crate::proto::Casemapping;

/// Every problem found in one config, each with its key path.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Layer 1: what the user wrote.
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub server: RawServer,
    pub listen: Option<Vec<RawListen>>,
    pub tls: Option<RawTlsFiles>,
    pub limits: RawLimits,
    pub channels: RawChannels,
    pub flood: RawFlood,
    pub connections: RawConnections,
    pub services: RawServices,
    pub oper: Vec<RawOper>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub name: String,
    pub network: String,
    pub description: String,
    pub password: Option<String>,
    pub motd: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub casemapping: Casemapping,
    pub admin_location: String,
    pub admin_email: String,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            name: "irc.localhost".into(),
            network: "HomeNet".into(),
            description: "a home IRC server".into(),
            password: None,
            motd: None,
            data_dir: "data".into(),
            casemapping: Casemapping::Rfc1459,
            admin_location: "a home IRC server".into(),
            admin_email: "root@localhost".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListen {
    pub address: String,
    #[serde(default)]
    pub tls: RawListenTls,
}

/// `tls = true`, `tls = false` or `tls = { cert = "...", key = "..." }`.
#[derive(Debug, Deserialize, Default)]
#[serde(untagged)]
pub enum RawListenTls {
    #[default]
    Off,
    Flag(bool),
    Files(RawTlsFiles),
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawTlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLimits {
    pub nicklen: usize,
    pub userlen: usize,
    pub realnamelen: usize,
    pub channellen: usize,
    pub topiclen: usize,
    pub awaylen: usize,
    pub kicklen: usize,
    pub max_channels: usize,
    pub max_list_entries: usize,
    pub max_targets: usize,
    pub whowas_entries: usize,
    pub monitor: usize,
    pub client_tag_deny: Vec<String>,
    pub sendq: usize,
    pub ping_interval: String,
    pub ping_timeout: String,
    pub registration_timeout: String,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            nicklen: 30,
            userlen: 10,
            realnamelen: 128,
            channellen: 64,
            topiclen: 390,
            awaylen: 200,
            kicklen: 390,
            max_channels: 50,
            max_list_entries: 100,
            max_targets: 4,
            whowas_entries: 1000,
            monitor: 100,
            client_tag_deny: Vec::new(),
            sendq: 256 * 1024,
            ping_interval: "90s".into(),
            ping_timeout: "120s".into(),
            registration_timeout: "60s".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawChannels {
    pub ephemeral_by_default: bool,
    pub idle_timeout: String,
    pub min_idle_timeout: String,
    pub max_idle_timeout: String,
    pub warn_before: String,
    pub enforce_ephemeral: bool,
}

impl Default for RawChannels {
    fn default() -> Self {
        RawChannels {
            ephemeral_by_default: false,
            idle_timeout: "30m".into(),
            min_idle_timeout: "1m".into(),
            max_idle_timeout: "7d".into(),
            warn_before: "1m".into(),
            enforce_ephemeral: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawFlood {
    pub enabled: bool,
    pub burst: u32,
    pub lines_per_second: f64,
    pub recvq: usize,
    pub exempt: Vec<String>,
}

impl Default for RawFlood {
    fn default() -> Self {
        RawFlood {
            enabled: true,
            burst: 10,
            lines_per_second: 2.0,
            recvq: 16384,
            exempt: vec!["127.0.0.0/8".into(), "::1/128".into()],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConnections {
    pub per_ip: usize,
    pub ipv6_prefix: u32,
    pub throttle: usize,
    pub throttle_window: String,
    pub exempt: Vec<String>,
}

impl Default for RawConnections {
    fn default() -> Self {
        RawConnections {
            per_ip: 16,
            ipv6_prefix: 64,
            throttle: 10,
            throttle_window: "60s".into(),
            exempt: vec!["127.0.0.0/8".into(), "::1/128".into()],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServices {
    pub enabled: bool,
}

impl Default for RawServices {
    fn default() -> Self {
        RawServices { enabled: true }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOper {
    pub name: String,
    pub password: String,
    #[serde(default)]
    pub host: Option<String>,
}

// ---------------------------------------------------------------------------
// Layer 2: what the server runs on.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub listen: Vec<Listen>,
    /// Certificate files for `tls = true` listeners; None: self-signed in data_dir.
    pub tls: Option<TlsFiles>,
    pub limits: Limits,
    pub channels: Channels,
    pub flood: Flood,
    pub connections: Connections,
    pub services_enabled: bool,
    pub opers: Vec<Oper>,
    /// The file this came from, re-read on rehash; None for built-in defaults.
    pub path: Option<PathBuf>,
}

/// A secret from the config (the server password): never shown by `Debug`,
/// zeroed when the config it belongs to is dropped.
#[derive(Clone)]
pub struct Secret(zeroize::Zeroizing<String>);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub name: String,
    pub network: String,
    pub description: String,
    pub password: Option<Secret>,
    /// The MOTD as lines, read when the config is loaded; None: no MOTD (422).
    pub motd: Option<Vec<String>>,
    pub data_dir: PathBuf,
    pub casemapping: Casemapping,
    pub admin_location: String,
    pub admin_email: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub address: SocketAddr,
    pub tls: ListenTls,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenTls {
    Off,
    /// The `[tls]` files, or a self-signed certificate in data_dir.
    Default,
    Files(TlsFiles),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub nicklen: usize,
    pub userlen: usize,
    pub realnamelen: usize,
    pub channellen: usize,
    pub topiclen: usize,
    pub awaylen: usize,
    pub kicklen: usize,
    pub max_channels: usize,
    pub max_list_entries: usize,
    pub max_targets: usize,
    pub whowas_entries: usize,
    pub monitor: usize,
    /// Client-only tags dropped when relaying (CLIENTTAGDENY): names without
    /// the `+`, `*` for all, `-name` to allow one back.
    pub client_tag_deny: Vec<String>,
    pub sendq: usize,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub registration_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Channels {
    pub ephemeral_by_default: bool,
    pub idle_timeout: Duration,
    pub min_idle_timeout: Duration,
    pub max_idle_timeout: Duration,
    pub warn_before: Duration,
    pub enforce_ephemeral: bool,
}

/// Flood control: lines beyond `burst` are delayed to `lines_per_second`
/// (fakelag); a client more than `recvq` bytes behind is disconnected with
/// "Excess Flood". Clients from `exempt` networks and operators are exempt.
#[derive(Debug, Clone)]
pub struct Flood {
    pub enabled: bool,
    pub burst: u32,
    pub lines_per_second: f64,
    pub recvq: usize,
    /// CIDRs, validated.
    pub exempt: Vec<String>,
}

impl Flood {
    pub fn exempts(&self, ip: std::net::IpAddr) -> bool {
        !self.enabled
            || self
                .exempt
                .iter()
                .any(|c| crate::proto::mask::cidr_match(c, ip))
    }
}

/// Per-address limits: simultaneous connections (`per_ip`; IPv6 counted
/// per `ipv6_prefix` network) and new connections per `throttle_window`.
/// Addresses in `exempt` (bridges, bouncers) have no limit.
#[derive(Debug, Clone)]
pub struct Connections {
    pub per_ip: usize,
    pub ipv6_prefix: u32,
    pub throttle: usize,
    pub throttle_window: Duration,
    pub exempt: Vec<String>,
}

impl Connections {
    pub fn exempts(&self, ip: std::net::IpAddr) -> bool {
        self.exempt
            .iter()
            .any(|c| crate::proto::mask::cidr_match(c, ip))
    }
}

fn check_cidrs(key: &str, cidrs: &[String], errs: &mut Vec<String>) {
    for (i, c) in cidrs.iter().enumerate() {
        let ok = c.split_once('/').is_some_and(|(net, bits)| {
            net.parse::<std::net::IpAddr>().is_ok_and(|ip| {
                bits.parse::<u32>()
                    .is_ok_and(|b| b <= if ip.is_ipv4() { 32 } else { 128 })
            })
        });
        if !ok {
            errs.push(format!(
                "{key}[{i}]: {c:?} is not a CIDR like \"10.0.0.0/8\" or \"::1/128\""
            ));
        }
    }
}

#[derive(Clone)]
pub struct Oper {
    pub name: String,
    /// A bcrypt hash.
    pub hash: String,
    pub host: Option<String>,
}

impl fmt::Debug for Oper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Oper")
            .field("name", &self.name)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// Parses a duration: a number and a unit, `s`, `m`, `h` or `d` ("90s", "7d").
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like \"90s\", \"10m\", \"2h\" or \"7d\""))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => {
            return Err(format!(
                "{s:?} has no unit: use s, m, h or d (\"90s\", \"10m\", \"2h\", \"7d\")"
            ));
        }
    };
    n.checked_mul(mult)
        .filter(|&secs| secs <= 365 * 86400)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is longer than a year"))
}

/// Formats a duration the way the config writes them ("30m", "90s").
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s > 0 && s.is_multiple_of(86400) {
        format!("{}d", s / 86400)
    } else if s > 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s > 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

impl Config {
    /// The built-in defaults `ircd` runs on without `--config`.
    pub fn defaults() -> Config {
        Self::validate(RawConfig::default(), None).expect("the built-in defaults are valid")
    }

    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(vec![format!("{}: cannot read: {e}", path.display())]))?;
        Self::parse(&text, Some(path))
    }

    /// Parses and validates config text; `path` anchors relative file names.
    pub fn parse(text: &str, path: Option<&Path>) -> Result<Config, ConfigError> {
        let de = toml::Deserializer::new(text);
        let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            // serde quotes the offending value; never for a password.
            let msg = if key.contains("password") {
                "invalid value (not shown: it may be a secret)".to_string()
            } else {
                inner.message().to_string()
            };
            let line = inner
                .span()
                .map(|s| format!(" (line {})", text[..s.start].matches('\n').count() + 1))
                .unwrap_or_default();
            ConfigError(vec![format!("{key}: {msg}{line}")])
        })?;
        Self::validate(raw, path)
    }

    fn validate(raw: RawConfig, path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut errs = Vec::new();
        let base = path
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let rel = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };

        let s = &raw.server;
        if !valid_server_name(&s.name) {
            errs.push(format!("server.name: {:?} is not a valid server name (letters, digits, '-' and '.', with a dot)", s.name));
        }
        if s.network.is_empty() || s.network.contains(' ') {
            errs.push(format!("server.network: {:?} must be one word", s.network));
        }
        if matches!(&s.password, Some(p) if p.is_empty()) {
            errs.push("server.password: is empty; remove the key for no password".to_string());
        }
        let motd = match &s.motd {
            None => None,
            Some(p) => match std::fs::read_to_string(rel(p)) {
                Ok(text) => Some(
                    text.lines()
                        .map(|l| l.trim_end_matches('\r').to_string())
                        .collect(),
                ),
                Err(e) => {
                    errs.push(format!(
                        "server.motd: cannot read {}: {e}",
                        rel(p).display()
                    ));
                    None
                }
            },
        };

        let raw_listen = raw.listen.unwrap_or_else(|| {
            vec![
                RawListen {
                    address: "127.0.0.1:6667".into(),
                    tls: RawListenTls::Off,
                },
                RawListen {
                    address: "127.0.0.1:6697".into(),
                    tls: RawListenTls::Flag(true),
                },
            ]
        });
        if raw_listen.is_empty() {
            errs.push("listen: at least one [[listen]] is needed".to_string());
        }
        let mut listen = Vec::new();
        for (i, l) in raw_listen.iter().enumerate() {
            let address = match l.address.parse::<SocketAddr>() {
                Ok(a) => a,
                Err(_) => {
                    errs.push(format!(
                        "listen[{i}].address: {:?} is not host:port (IPv6 as \"[::1]:6667\")",
                        l.address
                    ));
                    continue;
                }
            };
            let tls = match &l.tls {
                RawListenTls::Off | RawListenTls::Flag(false) => ListenTls::Off,
                RawListenTls::Flag(true) => ListenTls::Default,
                RawListenTls::Files(f) => {
                    let files = TlsFiles {
                        cert: rel(&f.cert),
                        key: rel(&f.key),
                    };
                    check_tls_files(&files, &format!("listen[{i}].tls"), &mut errs);
                    ListenTls::Files(files)
                }
            };
            if address.port() != 0 && listen.iter().any(|x: &Listen| x.address == address) {
                errs.push(format!("listen[{i}].address: {address} is listed twice"));
            }
            listen.push(Listen { address, tls });
        }
        let tls = raw.tls.as_ref().map(|f| {
            let files = TlsFiles {
                cert: rel(&f.cert),
                key: rel(&f.key),
            };
            check_tls_files(&files, "tls", &mut errs);
            files
        });

        let mut dur = |key: &str, v: &str| match parse_duration(v) {
            Ok(d) if d.is_zero() => {
                errs.push(format!("{key}: must be at least 1s"));
                Duration::from_secs(1)
            }
            Ok(d) => d,
            Err(e) => {
                errs.push(format!("{key}: {e}"));
                Duration::from_secs(1)
            }
        };
        let l = &raw.limits;
        let limits = Limits {
            nicklen: l.nicklen,
            userlen: l.userlen,
            realnamelen: l.realnamelen,
            channellen: l.channellen,
            topiclen: l.topiclen,
            awaylen: l.awaylen,
            kicklen: l.kicklen,
            max_channels: l.max_channels,
            max_list_entries: l.max_list_entries,
            max_targets: l.max_targets,
            whowas_entries: l.whowas_entries,
            monitor: l.monitor,
            client_tag_deny: l.client_tag_deny.clone(),
            sendq: l.sendq,
            ping_interval: dur("limits.ping_interval", &l.ping_interval),
            ping_timeout: dur("limits.ping_timeout", &l.ping_timeout),
            registration_timeout: dur("limits.registration_timeout", &l.registration_timeout),
        };
        let c = &raw.channels;
        let channels = Channels {
            ephemeral_by_default: c.ephemeral_by_default,
            idle_timeout: dur("channels.idle_timeout", &c.idle_timeout),
            min_idle_timeout: dur("channels.min_idle_timeout", &c.min_idle_timeout),
            max_idle_timeout: dur("channels.max_idle_timeout", &c.max_idle_timeout),
            warn_before: dur("channels.warn_before", &c.warn_before),
            enforce_ephemeral: c.enforce_ephemeral,
        };
        for (key, v, lo, hi) in [
            ("limits.nicklen", l.nicklen, 9, 64),
            ("limits.userlen", l.userlen, 1, 32),
            ("limits.realnamelen", l.realnamelen, 64, 390),
            ("limits.channellen", l.channellen, 2, 64),
            ("limits.topiclen", l.topiclen, 1, 390),
            ("limits.awaylen", l.awaylen, 1, 390),
            ("limits.kicklen", l.kicklen, 1, 390),
            ("limits.max_channels", l.max_channels, 1, 10_000),
            ("limits.max_list_entries", l.max_list_entries, 1, 10_000),
            ("limits.max_targets", l.max_targets, 1, 100),
            ("limits.whowas_entries", l.whowas_entries, 0, 1_000_000),
            ("limits.monitor", l.monitor, 0, 10_000),
            ("limits.sendq", l.sendq, 4096, 64 << 20),
        ] {
            if v < lo || v > hi {
                errs.push(format!("{key}: {v} is outside {lo}..={hi}"));
            }
        }
        if channels.min_idle_timeout > channels.max_idle_timeout {
            errs.push("channels.min_idle_timeout: is longer than channels.max_idle_timeout".into());
        }
        if channels.idle_timeout < channels.min_idle_timeout
            || channels.idle_timeout > channels.max_idle_timeout
        {
            errs.push(
                "channels.idle_timeout: must lie between min_idle_timeout and max_idle_timeout"
                    .into(),
            );
        }

        let f = &raw.flood;
        if !(1..=1000).contains(&f.burst) {
            errs.push(format!("flood.burst: {} is outside 1..=1000", f.burst));
        }
        if !(f.lines_per_second > 0.0 && f.lines_per_second <= 1000.0) {
            errs.push(format!(
                "flood.lines_per_second: {} is outside (0, 1000]",
                f.lines_per_second
            ));
        }
        let min_recvq = crate::proto::codec::MAX_BUFFER + 1;
        if f.recvq < min_recvq || f.recvq > 1 << 20 {
            errs.push(format!(
                "flood.recvq: {} is outside {min_recvq}..=1048576 (one full line must fit)",
                f.recvq
            ));
        }
        check_cidrs("flood.exempt", &f.exempt, &mut errs);
        let k = &raw.connections;
        check_cidrs("connections.exempt", &k.exempt, &mut errs);
        if k.per_ip == 0 || k.per_ip > 100_000 {
            errs.push(format!(
                "connections.per_ip: {} is outside 1..=100000",
                k.per_ip
            ));
        }
        if k.throttle == 0 || k.throttle > 100_000 {
            errs.push(format!(
                "connections.throttle: {} is outside 1..=100000",
                k.throttle
            ));
        }
        if !(16..=128).contains(&k.ipv6_prefix) {
            errs.push(format!(
                "connections.ipv6_prefix: {} is outside 16..=128",
                k.ipv6_prefix
            ));
        }
        let throttle_window = match parse_duration(&k.throttle_window) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                errs.push("connections.throttle_window: must be at least 1s".into());
                Duration::from_secs(1)
            }
            Err(e) => {
                errs.push(format!("connections.throttle_window: {e}"));
                Duration::from_secs(1)
            }
        };
        let connections = Connections {
            per_ip: k.per_ip,
            ipv6_prefix: k.ipv6_prefix,
            throttle: k.throttle,
            throttle_window,
            exempt: k.exempt.clone(),
        };
        let flood = Flood {
            enabled: f.enabled,
            burst: f.burst,
            lines_per_second: f.lines_per_second,
            recvq: f.recvq,
            exempt: f.exempt.clone(),
        };

        let mut opers: Vec<Oper> = Vec::new();
        for (i, o) in raw.oper.iter().enumerate() {
            if o.name.is_empty() || o.name.contains(' ') {
                errs.push(format!("oper[{i}].name: {:?} must be one word", o.name));
            }
            if opers.iter().any(|x| x.name == o.name) {
                errs.push(format!("oper[{i}].name: {:?} is defined twice", o.name));
            }
            if !is_bcrypt_hash(&o.password) {
                // Never echo the value: it may be a plaintext password.
                errs.push(format!(
                    "oper[{i}].password: must be a bcrypt hash; make one with `ircd mkpasswd`"
                ));
            }
            opers.push(Oper {
                name: o.name.clone(),
                hash: o.password.clone(),
                host: o.host.clone(),
            });
        }

        if !errs.is_empty() {
            return Err(ConfigError(errs));
        }
        Ok(Config {
            server: ServerConfig {
                name: s.name.clone(),
                network: s.network.clone(),
                description: s.description.clone(),
                password: s
                    .password
                    .clone()
                    .map(|p| Secret(zeroize::Zeroizing::new(p))),
                motd,
                data_dir: rel(&s.data_dir),
                casemapping: s.casemapping,
                admin_location: s.admin_location.clone(),
                admin_email: s.admin_email.clone(),
            },
            listen,
            tls,
            limits,
            channels,
            flood,
            connections,
            services_enabled: raw.services.enabled,
            opers,
            path: path.map(Path::to_path_buf),
        })
    }

    /// Does any listener speak TLS?
    pub fn has_tls(&self) -> bool {
        self.listen.iter().any(|l| l.tls != ListenTls::Off)
    }
}

fn check_tls_files(files: &TlsFiles, key: &str, errs: &mut Vec<String>) {
    for (name, p) in [("cert", &files.cert), ("key", &files.key)] {
        if let Err(e) = std::fs::metadata(p) {
            errs.push(format!("{key}.{name}: cannot read {}: {e}", p.display()));
        }
    }
}

/// Accepts `$2a$`, `$2b$` and `$2y$` hashes of the right shape.
pub fn is_bcrypt_hash(s: &str) -> bool {
    s.len() == 60 && (s.starts_with("$2a$") || s.starts_with("$2b$") || s.starts_with("$2y$"))
}

fn valid_server_name(s: &str) -> bool {
    s.contains('.')
        && s.len() <= 63
        && s.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

impl Limits {
    /// May the client-only tag `+name` be relayed?
    pub fn client_tag_allowed(&self, name: &str) -> bool {
        let mut allowed = true;
        for d in &self.client_tag_deny {
            if d == "*" {
                allowed = false;
            } else if let Some(back) = d.strip_prefix('-') {
                if back == name {
                    return true;
                }
            } else if d == name {
                return false;
            }
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("10w").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(format_duration(Duration::from_secs(1800)), "30m");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
    }

    #[test]
    fn debug_never_shows_the_server_password() {
        let c = Config::parse("[server]\npassword = \"s3cr3t-pw\"\n", None).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t-pw"));
        assert_eq!(
            c.server.password.as_ref().map(Secret::expose),
            Some("s3cr3t-pw")
        );
    }

    #[test]
    fn defaults_serve_a_home_box() {
        let c = Config::defaults();
        assert_eq!(c.listen[0].address, "127.0.0.1:6667".parse().unwrap());
        assert_eq!(c.listen[1].tls, ListenTls::Default);
        assert!(c.services_enabled);
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::parse("[server]\nnmae = \"x\"\n", None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("server.nmae: unknown field"), "{e}");
        let e = Config::parse("[limits]\nping_timeout = \"5x\"\n", None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("limits.ping_timeout:"), "{e}");
        let e = Config::parse("[[listen]]\naddress = \"nope\"\n", None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("listen[0].address:"), "{e}");
        let e = Config::parse("[limits]\nnicklen = \"x\"\n", None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("limits.nicklen:"), "{e}");
        let e = Config::parse("[server]\npassword = 12345\n", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("server.password:") && !e.contains("12345"),
            "{e}"
        );
        let e = Config::parse("[[oper]]\nname = \"a\"\npassword = \"hunter2\"\n", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("oper[0].password") && !e.contains("hunter2"),
            "{e}"
        );
    }

    #[test]
    fn all_errors_at_once() {
        let e = Config::parse("[limits]\nnicklen = 3\nping_timeout = \"x\"\n", None).unwrap_err();
        assert_eq!(e.0.len(), 2, "{e}");
    }
}
