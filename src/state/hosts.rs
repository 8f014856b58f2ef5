//! Per-address admission (`[connections]`): simultaneous connections per
//! address (IPv6 per network prefix) and new connections per window.

use std::net::IpAddr;

use super::State;

pub(super) struct HostEntry {
    open: usize,
    window_start: tokio::time::Instant,
    recent: usize,
}

/// The address a limit counts against: IPv4 as is (also when mapped into
/// IPv6), IPv6 by its network of `prefix` bits.
fn host_key(ip: IpAddr, prefix: u32) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mask = if prefix >= 128 {
                    u128::MAX
                } else {
                    !(u128::MAX >> prefix)
                };
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        },
        v4 => v4,
    }
}

impl State {
    /// Admits a new connection from `ip` under `[connections]`, or says why
    /// not ("too many host connections", "throttled": words bridges match).
    /// Ok(Some(key)) means it was counted and [`State::release`] of that key
    /// must follow (the key, not the address: a rehash may change the prefix).
    pub fn admit(&self, ip: IpAddr) -> Result<Option<IpAddr>, &'static str> {
        let cfg = self.config();
        let c = &cfg.connections;
        if c.exempts(ip) {
            return Ok(None);
        }
        let now = tokio::time::Instant::now();
        let mut hosts = self.hosts.lock();
        if hosts.len() > 4096 {
            hosts.retain(|_, e| {
                e.open > 0 || now.duration_since(e.window_start) < c.throttle_window
            });
        }
        let key = host_key(ip, c.ipv6_prefix);
        let e = hosts.entry(key).or_insert(HostEntry {
            open: 0,
            window_start: now,
            recent: 0,
        });
        if now.duration_since(e.window_start) >= c.throttle_window {
            e.window_start = now;
            e.recent = 0;
        }
        if e.open >= c.per_ip {
            return Err("too many host connections");
        }
        if e.recent >= c.throttle {
            return Err("throttled");
        }
        e.open += 1;
        e.recent += 1;
        Ok(Some(key))
    }

    /// The end of a connection [`State::admit`] counted, by its key.
    pub fn release(&self, key: IpAddr) {
        if let Some(e) = self.hosts.lock().get_mut(&key) {
            e.open = e.open.saturating_sub(1);
        }
    }
}
