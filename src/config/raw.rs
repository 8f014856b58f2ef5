//! Layer 1 of the config: what the user wrote, read by serde with unknown
//! keys refused. Defaults here are the documented ones (ircd.toml.example).

use std::path::PathBuf;

use serde::Deserialize;

use crate::proto::Casemapping;

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
    pub accounts: RawAccounts,
    pub oper: Vec<RawOper>,
    // The web: WebSocket listeners, gateways and reverse proxies (web.rs).
    pub websocket: RawWebsocket,
    pub gateway: RawGateway,
    pub webirc: Vec<RawWebirc>,
    // IRCv3 drafts for bridges and modern clients (drafts.rs).
    pub multiline: super::drafts::RawMultiline,
    pub relaymsg: super::drafts::RawRelaymsg,
    pub read_markers: super::drafts::RawReadMarkers,
    pub history: RawHistory,
    /// Connection classes (classes.rs).
    pub class: Vec<super::classes::RawClass>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RawAccounts {
    pub tokens: Option<RawTokens>,
}

/// Signed login tokens an outside web app mints for its users.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokens {
    /// A file holding the shared secret (at least 32 bytes).
    pub secret_file: PathBuf,
    /// Create the account on first use of a valid token.
    #[serde(default)]
    pub create_accounts: bool,
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
    /// IRC over WebSocket, and the web client at `/`.
    #[serde(default)]
    pub websocket: bool,
    /// Every connection starts with a PROXY v1/v2 header.
    #[serde(default)]
    pub proxy: bool,
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
    pub whowas_per_nick: usize,
    pub monitor: usize,
    pub client_tag_deny: Vec<String>,
    pub sendq: usize,
    pub ping_interval: String,
    pub ping_timeout: String,
    pub registration_timeout: String,
    /// Connections at once, all listeners together; 0: from RLIMIT_NOFILE.
    pub max_connections: usize,
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
            whowas_per_nick: 10,
            monitor: 100,
            client_tag_deny: Vec::new(),
            sendq: 256 * 1024,
            ping_interval: "90s".into(),
            ping_timeout: "120s".into(),
            registration_timeout: "60s".into(),
            max_connections: 0,
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
    /// RFC 1413 ident lookups at registration.
    pub ident: bool,
    pub ident_timeout: String,
    /// The identd port asked (113; another only for tests).
    pub ident_port: u16,
}

impl Default for RawConnections {
    fn default() -> Self {
        RawConnections {
            per_ip: 16,
            ipv6_prefix: 64,
            throttle: 10,
            throttle_window: "60s".into(),
            exempt: vec!["127.0.0.0/8".into(), "::1/128".into()],
            ident: false,
            ident_timeout: "3s".into(),
            ident_port: 113,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServices {
    pub enabled: bool,
    /// bcrypt cost of account passwords (4..=31).
    pub bcrypt_cost: u32,
    /// Wrong passwords per account, and per address, within `failure_window`
    /// before further attempts are refused without checking.
    pub max_failures: u32,
    pub failure_window: String,
    /// SET ENFORCE: how long an unidentified user of a protected nick has
    /// before being renamed, and how long the nick is held after.
    pub enforce_grace: String,
    pub enforce_hold: String,
}

impl Default for RawServices {
    fn default() -> Self {
        RawServices {
            enabled: true,
            bcrypt_cost: 12,
            max_failures: 5,
            failure_window: "60s".into(),
            enforce_grace: "30s".into(),
            enforce_hold: "60s".into(),
        }
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
// The web: WebSocket listeners, gateways and reverse proxies.
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawWebsocket {
    /// Origins (`https://chat.example.net`) whose pages may open a
    /// WebSocket; `"*"` for any. Same-origin pages and clients that send no
    /// Origin (not browsers) are always let in.
    pub origins: Vec<String>,
    /// Serve the built-in web client at `/` of WebSocket listeners.
    pub web_client: bool,
}

impl Default for RawWebsocket {
    fn default() -> Self {
        RawWebsocket {
            origins: Vec::new(),
            web_client: true,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawGateway {
    /// Reverse proxies whose PROXY headers (on `proxy = true` listeners) and
    /// `X-Forwarded-For` headers (on WebSocket listeners) are believed.
    pub trusted_proxies: Vec<String>,
}

impl Default for RawGateway {
    fn default() -> Self {
        RawGateway {
            trusted_proxies: vec!["127.0.0.0/8".into(), "::1/128".into()],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebirc {
    pub name: String,
    pub password: String,
    pub hosts: Vec<String>,
}

/// `[history]` (history.rs): in memory only, never for ephemeral channels.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHistory {
    pub enabled: bool,
    /// Per channel (and per conversation).
    pub lines: usize,
    pub max_age: String,
    /// Keep direct messages between two logged-in users.
    pub direct_messages: bool,
}

impl Default for RawHistory {
    fn default() -> Self {
        RawHistory {
            enabled: true,
            lines: 1000,
            max_age: "24h".into(),
            direct_messages: false,
        }
    }
}
