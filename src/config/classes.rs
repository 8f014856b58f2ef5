//! Connection classes (`[[class]]`): limits for the connections they match,
//! in order, by network (`cidrs`), account (after SASL, at registration) or
//! TLS; the first match wins, and a connection no class matches is in the
//! default class, made of `[connections]`, `[limits]` and `[flood]` (with
//! their `exempt` lists). A class leaves unset what it does not change: it
//! takes the default class's value. Each class is an `Arc` a connection
//! keeps from its admission, so a rehash changes the limits of new
//! connections only.

use std::{sync::Arc, time::Duration};

use serde::Deserialize;

use super::{Connections, Flood, Limits, parse_duration};
use crate::proto::{Casemapping, mask::Cidr};

/// `[[class]]` as written. Limits of 0 mean "no limit".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClass {
    pub name: String,
    #[serde(default)]
    pub cidrs: Vec<String>,
    #[serde(default)]
    pub account: Vec<String>,
    #[serde(default)]
    pub tls: bool,
    pub max_clients: Option<usize>,
    pub per_ip: Option<usize>,
    pub per_cidr: Option<usize>,
    pub ipv6_prefix: Option<u32>,
    pub cidr_ipv4_prefix: Option<u32>,
    pub cidr_ipv6_prefix: Option<u32>,
    pub connections_per_minute: Option<usize>,
    pub sendq: Option<usize>,
    pub recvq: Option<usize>,
    pub flood_burst: Option<u32>,
    pub flood_rate: Option<f64>,
    pub ping_interval: Option<String>,
    pub flood_exempt: Option<bool>,
}

/// A connection class as the server runs it. `None` limits are unlimited.
#[derive(Debug, Clone)]
pub struct Class {
    pub name: String,
    /// Matches only addresses in these networks (empty: any).
    pub cidrs: Vec<Cidr>,
    /// Matches only clients logged in to one of these accounts (empty: any).
    pub accounts: Vec<String>,
    /// Matches only TLS connections.
    pub tls: bool,
    /// Connections in this class at once.
    pub max_clients: Option<usize>,
    /// Connections at once from one address (IPv6: one `ipv6_prefix` network).
    pub per_ip: Option<usize>,
    /// Connections at once from one network of `cidr_ipv4_prefix` /
    /// `cidr_ipv6_prefix` bits.
    pub per_cidr: Option<usize>,
    pub ipv6_prefix: u32,
    pub cidr_ipv4_prefix: u32,
    pub cidr_ipv6_prefix: u32,
    /// New connections from one address (as `per_ip` counts it) per window.
    pub throttle: Option<usize>,
    pub throttle_window: Duration,
    pub sendq: usize,
    pub recvq: usize,
    pub flood_burst: u32,
    pub flood_rate: f64,
    pub ping_interval: Duration,
    pub flood_exempt: bool,
    /// The default class: `[connections] exempt` and `[flood] exempt` apply.
    pub is_default: bool,
}

impl Class {
    /// Does this class take a connection from `ip` (TLS or not), logged in
    /// to `account` (None before SASL)?
    pub fn matches(
        &self,
        ip: std::net::IpAddr,
        tls: bool,
        account: Option<&str>,
        cm: Casemapping,
    ) -> bool {
        (self.cidrs.is_empty() || self.cidrs.iter().any(|c| c.contains(ip)))
            && (!self.tls || tls)
            && (self.accounts.is_empty()
                || account.is_some_and(|a| self.accounts.iter().any(|x| cm.eq(x, a))))
    }
}

/// The default class, from `[connections]`, `[limits]` and `[flood]`.
pub(super) fn default_class(c: &Connections, l: &Limits, f: &Flood) -> Class {
    Class {
        name: "default".into(),
        cidrs: Vec::new(),
        accounts: Vec::new(),
        tls: false,
        max_clients: None,
        per_ip: Some(c.per_ip),
        per_cidr: None,
        ipv6_prefix: c.ipv6_prefix,
        cidr_ipv4_prefix: 24,
        cidr_ipv6_prefix: 48,
        throttle: Some(c.throttle),
        throttle_window: c.throttle_window,
        sendq: l.sendq,
        recvq: f.recvq,
        flood_burst: f.burst,
        flood_rate: f.lines_per_second,
        ping_interval: l.ping_interval,
        flood_exempt: !f.enabled,
        is_default: true,
    }
}

/// Builds the classes, each unset field from `default`, reporting every
/// mistake with its key path.
pub(super) fn classes(
    raw: &[RawClass],
    default: &Class,
    errs: &mut Vec<String>,
) -> Vec<Arc<Class>> {
    let mut out: Vec<Arc<Class>> = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let key = |k: &str| format!("class[{i}].{k}");
        if r.name.is_empty()
            || !r
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            errs.push(format!(
                "{}: {:?} must be one word of letters, digits, - and _",
                key("name"),
                r.name
            ));
        }
        if r.name == "default" || out.iter().any(|c| c.name == r.name) {
            errs.push(format!(
                "{}: {:?} is used twice (\"default\" is taken)",
                key("name"),
                r.name
            ));
        }
        if r.cidrs.is_empty() && r.account.is_empty() && !r.tls {
            errs.push(format!(
                "{}: a class needs cidrs, account or tls = true to match",
                key("name")
            ));
        }
        let mut cidrs = Vec::new();
        for (j, c) in r.cidrs.iter().enumerate() {
            match Cidr::parse(c) {
                Some(c) => cidrs.push(c),
                None => errs.push(format!(
                    "{}[{j}]: {c:?} is not a CIDR like \"10.0.0.0/8\" or \"::1/128\"",
                    key("cidrs")
                )),
            }
        }
        let mut limit = |k: &str, v: Option<usize>, d: Option<usize>| match v {
            None => d,
            Some(0) => None,
            Some(n) if n > 1_000_000 => {
                errs.push(format!("{}: {n} is outside 0..=1000000", key(k)));
                d
            }
            Some(n) => Some(n),
        };
        let max_clients = limit("max_clients", r.max_clients, None);
        let per_ip = limit("per_ip", r.per_ip, default.per_ip);
        let per_cidr = limit("per_cidr", r.per_cidr, default.per_cidr);
        let per_minute = limit("connections_per_minute", r.connections_per_minute, None);
        let (throttle, throttle_window) = match r.connections_per_minute {
            None => (default.throttle, default.throttle_window),
            Some(_) => (per_minute, Duration::from_secs(60)),
        };
        let mut prefix = |k: &str, v: Option<u32>, d: u32, lo: u32, hi: u32| match v {
            Some(p) if !(lo..=hi).contains(&p) => {
                errs.push(format!("{}: {p} is outside {lo}..={hi}", key(k)));
                d
            }
            v => v.unwrap_or(d),
        };
        let ipv6_prefix = prefix("ipv6_prefix", r.ipv6_prefix, default.ipv6_prefix, 16, 128);
        let cidr_ipv4_prefix = prefix(
            "cidr_ipv4_prefix",
            r.cidr_ipv4_prefix,
            default.cidr_ipv4_prefix,
            8,
            32,
        );
        let cidr_ipv6_prefix = prefix(
            "cidr_ipv6_prefix",
            r.cidr_ipv6_prefix,
            default.cidr_ipv6_prefix,
            16,
            128,
        );
        let sendq = r.sendq.unwrap_or(default.sendq);
        if !(4096..=64 << 20).contains(&sendq) {
            errs.push(format!(
                "{}: {sendq} is outside 4096..={}",
                key("sendq"),
                64 << 20
            ));
        }
        let recvq = r.recvq.unwrap_or(default.recvq);
        let min_recvq = crate::proto::codec::MAX_BUFFER + 1;
        if !(min_recvq..=1 << 20).contains(&recvq) {
            errs.push(format!(
                "{}: {recvq} is outside {min_recvq}..=1048576 (one full line must fit)",
                key("recvq")
            ));
        }
        let flood_burst = r.flood_burst.unwrap_or(default.flood_burst);
        if !(1..=100_000).contains(&flood_burst) {
            errs.push(format!(
                "{}: {flood_burst} is outside 1..=100000",
                key("flood_burst")
            ));
        }
        let flood_rate = r.flood_rate.unwrap_or(default.flood_rate);
        if !(flood_rate > 0.0 && flood_rate <= 100_000.0) {
            errs.push(format!(
                "{}: {flood_rate} is outside (0, 100000]",
                key("flood_rate")
            ));
        }
        let ping_interval = match r.ping_interval.as_deref().map(parse_duration) {
            None => default.ping_interval,
            Some(Ok(d)) if !d.is_zero() => d,
            Some(Ok(_)) => {
                errs.push(format!("{}: must be at least 1s", key("ping_interval")));
                default.ping_interval
            }
            Some(Err(e)) => {
                errs.push(format!("{}: {e}", key("ping_interval")));
                default.ping_interval
            }
        };
        out.push(Arc::new(Class {
            name: r.name.clone(),
            cidrs,
            accounts: r.account.clone(),
            tls: r.tls,
            max_clients,
            per_ip,
            per_cidr,
            ipv6_prefix,
            cidr_ipv4_prefix,
            cidr_ipv6_prefix,
            throttle,
            throttle_window,
            sendq,
            recvq,
            flood_burst,
            flood_rate,
            ping_interval,
            flood_exempt: r.flood_exempt.unwrap_or(default.flood_exempt),
            is_default: false,
        }));
    }
    out
}

/// The global connection ceiling when `[limits] max_connections` is 0: the
/// process's open-file limit less a margin for listeners, the store, the
/// certificate and log files, so that the server refuses with a clear ERROR
/// before accept() starts failing for want of descriptors.
pub(super) fn auto_max_connections() -> usize {
    const MARGIN: u64 = 64;
    open_file_limit().map_or(4096, |n| n.saturating_sub(MARGIN).max(16) as usize)
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn open_file_limit() -> Option<u64> {
    #[repr(C)]
    struct Rlimit {
        cur: u64,
        max: u64,
    }
    unsafe extern "C" {
        fn getrlimit(resource: i32, rlim: *mut Rlimit) -> i32;
    }
    const RLIMIT_NOFILE: i32 = 7;
    let mut r = Rlimit { cur: 0, max: 0 };
    // SAFETY: getrlimit writes one rlimit (two rlim_t, u64 on Linux) to
    // the pointer it is given, which points at one.
    let ok = unsafe { getrlimit(RLIMIT_NOFILE, &mut r) } == 0;
    (ok && r.cur != u64::MAX).then_some(r.cur)
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn open_file_limit() -> Option<u64> {
    None
}
