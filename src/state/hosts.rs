//! Admission: the global connection ceiling (`[limits] max_connections`),
//! and each connection's class (`config::Class`) with its limits: clients in
//! the class, simultaneous connections per address (IPv6 per network
//! prefix) and per network, and new connections per window. Counts are per
//! address (or network) and prefix, whatever the class; the limit compared
//! is the connecting client's class's. Refusals use the words bridges
//! match: "too many host connections", "throttled", "server full".

use std::{
    net::IpAddr,
    sync::{Arc, atomic::Ordering},
};

use super::State;
use crate::config::Class;

pub(super) struct HostEntry {
    open: usize,
    window_start: tokio::time::Instant,
    recent: usize,
}

/// The counters admission keeps. Lock tier 0.
#[derive(Default)]
pub(super) struct Hosts {
    /// (address or network, prefix bits, is the per-network count).
    by_key: std::collections::HashMap<(IpAddr, u8, bool), HostEntry>,
    /// Connections per class name.
    by_class: std::collections::HashMap<String, usize>,
}

/// A connection's admission: its class (kept for the life of the
/// connection: a rehash does not change it) and what was counted for it,
/// released once by [`State::release`].
#[derive(Debug, Clone)]
pub struct Admission {
    pub class: Arc<Class>,
    ip: IpAddr,
    /// Counted per address and network (not for `[connections] exempt`).
    keyed: bool,
    /// Counted in its class.
    classed: bool,
}

impl Admission {
    /// The class of a connection nothing was counted for (tests, and after
    /// a release).
    pub fn uncounted(class: Arc<Class>, ip: IpAddr) -> Self {
        Admission {
            class,
            ip,
            keyed: false,
            classed: false,
        }
    }
}

/// The network `ip` belongs to for a per-address limit: IPv4 (also when
/// mapped into IPv6) by its network of `v4` bits, IPv6 by its network of
/// `v6` bits, so one host cannot dodge a limit by cycling through its /64.
pub fn network_of(ip: IpAddr, v4: u32, v6: u32) -> IpAddr {
    match ip {
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(a) => network_of(IpAddr::V4(a), v4, v6),
            None => {
                let m = u128::MAX.checked_shl(128 - v6.min(128)).unwrap_or(0);
                IpAddr::V6((u128::from(a) & m).into())
            }
        },
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - v4.min(32)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & m).into())
        }
    }
}

/// The key a limit counts against: the network, its prefix bits, and
/// whether it is the per-network count.
fn host_key(ip: IpAddr, v4: u32, v6: u32, cidr: bool) -> (IpAddr, u8, bool) {
    let net = network_of(ip, v4, v6);
    let bits = if net.is_ipv4() { v4 } else { v6 };
    (net, bits as u8, cidr)
}

fn keys(class: &Class, ip: IpAddr) -> [(IpAddr, u8, bool); 2] {
    [
        host_key(ip, 32, class.ipv6_prefix, false),
        host_key(ip, class.cidr_ipv4_prefix, class.cidr_ipv6_prefix, true),
    ]
}

impl State {
    /// Takes one of the `[limits] max_connections` slots for a new socket,
    /// or None when all are in use; [`State::close_slot`] gives it back.
    pub fn open_slot(&self) -> bool {
        let max = self.config().limits.max_connections;
        if self.open.fetch_add(1, Ordering::Relaxed) >= max {
            self.open.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    pub fn close_slot(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// Admits a new connection from `ip` into its class (by address and
    /// TLS; account classes apply at registration, [`State::reclass`]), or
    /// says why not.
    pub fn admit(&self, ip: IpAddr, tls: bool) -> Result<Admission, String> {
        let cfg = self.config();
        let class = cfg.class_for(ip, tls, None).clone();
        let exempt = class.is_default && cfg.connections.exempts(ip);
        self.count(class, ip, exempt, true)
    }

    /// At registration, with the account known: moves the connection into
    /// the class it now matches, if that is another one (its limits are
    /// checked there; its own new-connection rate is not counted twice).
    /// Returns whether the class changed; Err when the new class refuses
    /// (nothing is counted for the connection any more).
    pub fn reclass(&self, adm: &mut Admission, tls: bool, account: &str) -> Result<bool, String> {
        let cfg = self.config();
        let class = cfg.class_for(adm.ip, tls, Some(account)).clone();
        if class.name == adm.class.name {
            return Ok(false);
        }
        let exempt = class.is_default && cfg.connections.exempts(adm.ip);
        self.release(adm);
        *adm = self.count(class, adm.ip, exempt, false)?;
        Ok(true)
    }

    fn count(
        &self,
        class: Arc<Class>,
        ip: IpAddr,
        exempt: bool,
        rate: bool,
    ) -> Result<Admission, String> {
        let now = tokio::time::Instant::now();
        let mut hosts = self.hosts.lock();
        let in_class = hosts.by_class.get(&class.name).copied().unwrap_or(0);
        if class.max_clients.is_some_and(|max| in_class >= max) {
            return Err(format!("server full: the {} class is full", class.name));
        }
        let keyed = !exempt;
        if keyed {
            if hosts.by_key.len() > 4096 {
                hosts.by_key.retain(|_, e| {
                    e.open > 0 || now.duration_since(e.window_start) < class.throttle_window
                });
            }
            let [ip_key, net_key] = keys(&class, ip);
            let net_open = hosts.by_key.get(&net_key).map_or(0, |e| e.open);
            let e = hosts.by_key.entry(ip_key).or_insert(HostEntry {
                open: 0,
                window_start: now,
                recent: 0,
            });
            if now.duration_since(e.window_start) >= class.throttle_window {
                e.window_start = now;
                e.recent = 0;
            }
            if class.per_ip.is_some_and(|max| e.open >= max) {
                return Err("too many host connections".into());
            }
            if class.per_cidr.is_some_and(|max| net_open >= max) {
                return Err("too many host connections from your network".into());
            }
            if rate && class.throttle.is_some_and(|max| e.recent >= max) {
                return Err("throttled: reconnecting too fast".into());
            }
            e.open += 1;
            if rate {
                e.recent += 1;
            }
            hosts
                .by_key
                .entry(net_key)
                .or_insert(HostEntry {
                    open: 0,
                    window_start: now,
                    recent: 0,
                })
                .open += 1;
        }
        *hosts.by_class.entry(class.name.clone()).or_insert(0) += 1;
        Ok(Admission {
            class,
            ip,
            keyed,
            classed: true,
        })
    }

    /// The end of a connection [`State::admit`] counted (at most once: the
    /// admission is left counting nothing).
    pub fn release(&self, adm: &mut Admission) {
        let mut hosts = self.hosts.lock();
        if std::mem::take(&mut adm.keyed) {
            for k in keys(&adm.class, adm.ip) {
                if let Some(e) = hosts.by_key.get_mut(&k) {
                    e.open = e.open.saturating_sub(1);
                }
            }
        }
        if std::mem::take(&mut adm.classed)
            && let Some(n) = hosts.by_class.get_mut(&adm.class.name)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                hosts.by_class.remove(&adm.class.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_of_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            network_of(ip("2001:db8:1:2:aa::1"), 32, 64),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            network_of(ip("2001:db8:1:2:aa::1"), 32, 48),
            ip("2001:db8:1::")
        );
        assert_eq!(network_of(ip("2001:db8::1"), 32, 128), ip("2001:db8::1"));
        assert_eq!(network_of(ip("192.0.2.77"), 32, 64), ip("192.0.2.77"));
        assert_eq!(network_of(ip("192.0.2.77"), 24, 64), ip("192.0.2.0"));
        assert_eq!(network_of(ip("::ffff:192.0.2.77"), 24, 64), ip("192.0.2.0"));
        assert_eq!(network_of(ip("192.0.2.77"), 0, 0), ip("0.0.0.0"));
        assert_eq!(network_of(ip("2001:db8::1"), 0, 0), ip("::"));
    }
}
