//! The config of the web side: which pages may open a WebSocket
//! (`[websocket]`), which reverse proxies are believed about a client's
//! address (`[gateway]`), and the WEBIRC gateways (`[[webirc]]`). Kept apart
//! from the rest of validation so that the keys of one feature live together.

use std::{fmt, net::IpAddr};

use super::{RawGateway, RawWebirc, RawWebsocket, Secret};
use crate::proto::mask::Cidr;

#[derive(Debug, Clone)]
pub struct Web {
    /// Allowed `Origin`s, lowercased, without a trailing slash.
    pub origins: Vec<String>,
    /// `origins` has `"*"`: any page may connect.
    pub any_origin: bool,
    pub web_client: bool,
    pub trusted_proxies: Vec<Cidr>,
    pub webirc: Vec<Webirc>,
}

/// A WEBIRC gateway: its name, its password (plain or a bcrypt hash) and
/// the addresses it connects from.
#[derive(Clone)]
pub struct Webirc {
    pub name: String,
    pub password: Secret,
    pub hosts: Vec<Cidr>,
}

impl fmt::Debug for Webirc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webirc")
            .field("name", &self.name)
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

impl Web {
    /// May a page from `origin` open a WebSocket on a listener reached as
    /// `host` (the request's Host header)? No Origin: not a browser, which
    /// the allowlist is not about. The page's own origin is always allowed,
    /// so that the built-in web client works on any name the box has.
    pub fn origin_allowed(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        if self.any_origin {
            return true;
        }
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        if self.origins.contains(&origin) {
            return true;
        }
        let authority = origin.split_once("://").map_or("", |(_, a)| a);
        matches!(host, Some(h) if !authority.is_empty() && h.trim().eq_ignore_ascii_case(authority))
    }

    /// Is `ip` a proxy whose PROXY and X-Forwarded-For headers are believed?
    pub fn trusts_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|c| c.contains(ip))
    }

    /// The WEBIRC gateways that may connect from `ip`.
    pub fn webirc_for(&self, ip: IpAddr) -> impl Iterator<Item = &Webirc> {
        self.webirc
            .iter()
            .filter(move |w| w.hosts.iter().any(|c| c.contains(ip)))
    }
}

/// A CIDR, or a single address as its /32 or /128.
fn cidr_or_ip(s: &str) -> Option<Cidr> {
    Cidr::parse(s).or_else(|| {
        let ip: IpAddr = s.parse().ok()?;
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        Cidr::parse(&format!("{ip}/{bits}"))
    })
}

pub(super) fn validate(
    ws: &RawWebsocket,
    gw: &RawGateway,
    webirc: &[RawWebirc],
    errs: &mut Vec<String>,
) -> Web {
    let mut origins = Vec::new();
    let mut any_origin = false;
    for (i, o) in ws.origins.iter().enumerate() {
        if o == "*" {
            any_origin = true;
            continue;
        }
        let norm = o.trim_end_matches('/').to_ascii_lowercase();
        let ok = norm.split_once("://").is_some_and(|(scheme, rest)| {
            matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains('/')
        });
        if !ok {
            errs.push(format!(
                "websocket.origins[{i}]: {o:?} is not an origin like \"https://chat.example.net\" (or \"*\")"
            ));
        }
        origins.push(norm);
    }
    let mut trusted_proxies = Vec::new();
    for (i, c) in gw.trusted_proxies.iter().enumerate() {
        match cidr_or_ip(c) {
            Some(c) => trusted_proxies.push(c),
            None => errs.push(format!(
                "gateway.trusted_proxies[{i}]: {c:?} is not an address or a CIDR like \"10.0.0.0/8\""
            )),
        }
    }
    let mut gateways: Vec<Webirc> = Vec::new();
    for (i, w) in webirc.iter().enumerate() {
        if w.name.is_empty() || w.name.contains(' ') {
            errs.push(format!("webirc[{i}].name: {:?} must be one word", w.name));
        }
        if w.password.is_empty() {
            // Never echo the value.
            errs.push(format!("webirc[{i}].password: is empty"));
        }
        if w.hosts.is_empty() {
            errs.push(format!(
                "webirc[{i}].hosts: list the gateway's addresses (\"192.0.2.7\", \"10.0.0.0/8\")"
            ));
        }
        let mut hosts = Vec::new();
        for (j, h) in w.hosts.iter().enumerate() {
            match cidr_or_ip(h) {
                Some(c) => hosts.push(c),
                None => errs.push(format!(
                    "webirc[{i}].hosts[{j}]: {h:?} is not an address or a CIDR"
                )),
            }
        }
        gateways.push(Webirc {
            name: w.name.clone(),
            password: Secret(zeroize::Zeroizing::new(w.password.clone())),
            hosts,
        });
    }
    Web {
        origins,
        any_origin,
        web_client: ws.web_client,
        trusted_proxies,
        webirc: gateways,
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn origins_and_proxies() {
        let c = Config::parse(
            "[websocket]\norigins = [\"https://Chat.Example.net/\"]\n[gateway]\ntrusted_proxies = [\"10.0.0.1\"]\n",
            None,
        )
        .unwrap();
        let w = &c.web;
        assert!(w.origin_allowed(None, Some("irc.example.net")));
        assert!(w.origin_allowed(Some("https://chat.example.net"), Some("x")));
        assert!(!w.origin_allowed(Some("https://evil.example"), Some("irc.example.net")));
        // The page's own origin.
        assert!(w.origin_allowed(Some("http://box.lan:8097"), Some("box.lan:8097")));
        assert!(w.trusts_proxy("10.0.0.1".parse().unwrap()));
        assert!(!w.trusts_proxy("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn bad_web_keys_are_named() {
        let e = Config::parse(
            "[websocket]\norigins = [\"chat.example.net\"]\n[[webirc]]\nname = \"kiwi\"\npassword = \"pw-xyz\"\nhosts = [\"nope\"]\n",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("websocket.origins[0]"), "{e}");
        assert!(e.contains("webirc[0].hosts[0]"), "{e}");
        assert!(!e.contains("pw-xyz"), "{e}");
    }
}
