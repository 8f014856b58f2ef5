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

use crate::proto::{Casemapping, mask::Cidr};

mod classes;
mod drafts;
mod history;
mod raw;
#[cfg(test)]
mod tests;
mod validate;
mod web;

pub use classes::{Class, RawClass};
pub use drafts::{Multiline, ReadMarkers, Relaymsg};
pub use history::History;
pub use raw::*;
pub use web::{Web, Webirc};

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
    pub services: Services,
    /// `[accounts.tokens]`: login tokens signed with a shared secret.
    pub tokens: Option<Tokens>,
    pub opers: Vec<Oper>,
    /// WebSocket origins, trusted proxies, WEBIRC gateways.
    pub web: Web,
    /// draft/multiline limits, who may RELAYMSG, read markers.
    pub multiline: Multiline,
    pub relaymsg: Relaymsg,
    pub read_markers: ReadMarkers,
    /// `[history]`: the in-memory chat history.
    pub history: History,
    /// `[[class]]`, in order; a connection none matches is in `default_class`.
    pub classes: Vec<std::sync::Arc<Class>>,
    pub default_class: std::sync::Arc<Class>,
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
    /// IRC over WebSocket (and the web client at `/`).
    pub websocket: bool,
    /// Connections start with a PROXY v1/v2 header.
    pub proxy: bool,
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
    /// The most WHOWAS entries kept for one nick (the newest).
    pub whowas_per_nick: usize,
    pub monitor: usize,
    /// Client-only tags dropped when relaying (CLIENTTAGDENY): names without
    /// the `+`, `*` for all, `-name` to allow one back.
    pub client_tag_deny: Vec<String>,
    pub sendq: usize,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub registration_timeout: Duration,
    /// Connections at once (all listeners), resolved from RLIMIT_NOFILE when 0.
    pub max_connections: usize,
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
    pub exempt: Vec<Cidr>,
}

impl Flood {
    pub fn exempts(&self, ip: std::net::IpAddr) -> bool {
        !self.enabled || self.exempt.iter().any(|c| c.contains(ip))
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
    pub exempt: Vec<Cidr>,
    /// RFC 1413 ident at registration: the port asked and the wait.
    pub ident: Option<Ident>,
}

#[derive(Debug, Clone, Copy)]
pub struct Ident {
    pub port: u16,
    pub timeout: Duration,
}

impl Connections {
    pub fn exempts(&self, ip: std::net::IpAddr) -> bool {
        self.exempt.iter().any(|c| c.contains(ip))
    }
}

/// The secret of `[accounts.tokens]` (read from its file; never shown).
#[derive(Debug, Clone)]
pub struct Tokens {
    pub secret: Secret,
    pub create_accounts: bool,
}

/// Built-in NickServ, ChanServ and SASL, and the account store in data_dir.
#[derive(Debug, Clone)]
pub struct Services {
    pub enabled: bool,
    pub bcrypt_cost: u32,
    pub max_failures: u32,
    pub failure_window: Duration,
    pub enforce_grace: Duration,
    pub enforce_hold: Duration,
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
        validate::validate(RawConfig::default(), None).expect("the built-in defaults are valid")
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
        validate::validate(raw, path)
    }

    /// The class of a connection from `ip` (TLS or not), logged in to
    /// `account` (None before SASL): the first `[[class]]` that matches,
    /// or the default class.
    pub fn class_for(
        &self,
        ip: std::net::IpAddr,
        tls: bool,
        account: Option<&str>,
    ) -> &std::sync::Arc<Class> {
        let cm = self.server.casemapping;
        self.classes
            .iter()
            .find(|c| c.matches(ip, tls, account, cm))
            .unwrap_or(&self.default_class)
    }

    /// Does any listener speak TLS?
    pub fn has_tls(&self) -> bool {
        self.listen.iter().any(|l| l.tls != ListenTls::Off)
    }
}

/// Accepts `$2a$`, `$2b$` and `$2y$` hashes of the right shape.
pub fn is_bcrypt_hash(s: &str) -> bool {
    s.len() == 60 && (s.starts_with("$2a$") || s.starts_with("$2b$") || s.starts_with("$2y$"))
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
