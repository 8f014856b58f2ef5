//! Layer 2 of the config: checks what the user wrote and builds the
//! [`Config`] the server runs on (durations, addresses, CIDRs parsed once,
//! the MOTD read in, oper hashes checked), reporting every mistake with its
//! key path, all at once.

use std::{net::SocketAddr, path::Path, time::Duration};

use super::*;

pub(super) fn validate(raw: RawConfig, path: Option<&Path>) -> Result<Config, ConfigError> {
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
                websocket: false,
                proxy: false,
            },
            RawListen {
                address: "127.0.0.1:6697".into(),
                tls: RawListenTls::Flag(true),
                websocket: false,
                proxy: false,
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
        listen.push(Listen {
            address,
            tls,
            websocket: l.websocket,
            proxy: l.proxy,
        });
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
        whowas_per_nick: l.whowas_per_nick,
        monitor: l.monitor,
        client_tag_deny: l.client_tag_deny.clone(),
        sendq: l.sendq,
        ping_interval: dur("limits.ping_interval", &l.ping_interval),
        ping_timeout: dur("limits.ping_timeout", &l.ping_timeout),
        registration_timeout: dur("limits.registration_timeout", &l.registration_timeout),
        max_connections: match l.max_connections {
            0 => super::classes::auto_max_connections(),
            n => n,
        },
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
        ("limits.whowas_per_nick", l.whowas_per_nick, 1, 1_000_000),
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
            "channels.idle_timeout: must lie between min_idle_timeout and max_idle_timeout".into(),
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
    let flood_exempt = cidrs("flood.exempt", &f.exempt, &mut errs);
    let k = &raw.connections;
    let connections_exempt = cidrs("connections.exempt", &k.exempt, &mut errs);
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
    let ident = k.ident.then(|| super::Ident {
        port: k.ident_port,
        timeout: match parse_duration(&k.ident_timeout) {
            Ok(d) if (1..=30).contains(&d.as_secs()) => d,
            Ok(_) => {
                errs.push("connections.ident_timeout: must be between 1s and 30s".into());
                Duration::from_secs(3)
            }
            Err(e) => {
                errs.push(format!("connections.ident_timeout: {e}"));
                Duration::from_secs(3)
            }
        },
    });
    let connections = Connections {
        per_ip: k.per_ip,
        ipv6_prefix: k.ipv6_prefix,
        throttle: k.throttle,
        throttle_window,
        exempt: connections_exempt,
        ident,
    };
    let flood = Flood {
        enabled: f.enabled,
        burst: f.burst,
        lines_per_second: f.lines_per_second,
        recvq: f.recvq,
        exempt: flood_exempt,
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

    let sv = &raw.services;
    if !(4..=31).contains(&sv.bcrypt_cost) {
        errs.push(format!(
            "services.bcrypt_cost: {} is outside 4..=31",
            sv.bcrypt_cost
        ));
    }
    if !(1..=1000).contains(&sv.max_failures) {
        errs.push(format!(
            "services.max_failures: {} is outside 1..=1000",
            sv.max_failures
        ));
    }
    let bounded =
        |errs: &mut Vec<String>, key: &str, text: &str, min: u64, max: u64| match parse_duration(
            text,
        ) {
            Ok(d) if (min..=max).contains(&d.as_secs()) => d,
            Ok(_) => {
                errs.push(format!(
                    "services.{key}: must be between {} and {}",
                    format_duration(Duration::from_secs(min)),
                    format_duration(Duration::from_secs(max))
                ));
                Duration::from_secs(min)
            }
            Err(e) => {
                errs.push(format!("services.{key}: {e}"));
                Duration::from_secs(min)
            }
        };
    let enforce_grace = bounded(&mut errs, "enforce_grace", &sv.enforce_grace, 5, 3600);
    let enforce_hold = bounded(&mut errs, "enforce_hold", &sv.enforce_hold, 0, 86_400);
    let services = Services {
        enforce_grace,
        enforce_hold,
        enabled: sv.enabled,
        bcrypt_cost: sv.bcrypt_cost,
        max_failures: sv.max_failures,
        failure_window: match parse_duration(&sv.failure_window) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                errs.push("services.failure_window: must be at least 1s".into());
                Duration::from_secs(1)
            }
            Err(e) => {
                errs.push(format!("services.failure_window: {e}"));
                Duration::from_secs(1)
            }
        },
    };

    let tokens = raw.accounts.tokens.as_ref().and_then(|t| {
        let file = rel(&t.secret_file);
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let secret = text.trim_end_matches(['\r', '\n']).to_string();
                if secret.len() < 32 {
                    errs.push(format!(
                        "accounts.tokens.secret_file: {} holds fewer than 32 bytes of secret",
                        file.display()
                    ));
                    None
                } else {
                    Some(Tokens {
                        secret: Secret(zeroize::Zeroizing::new(secret)),
                        create_accounts: t.create_accounts,
                    })
                }
            }
            Err(e) => {
                errs.push(format!(
                    "accounts.tokens.secret_file: cannot read {}: {e}",
                    file.display()
                ));
                None
            }
        }
    });
    let web = super::web::validate(&raw.websocket, &raw.gateway, &raw.webirc, &mut errs);
    let (multiline, relaymsg, read_markers) =
        super::drafts::validate(&raw.multiline, &raw.relaymsg, &raw.read_markers, &mut errs);
    let history = super::history::validate(&raw.history, &mut errs);
    let default_class = super::classes::default_class(&connections, &limits, &flood);
    let classes = super::classes::classes(&raw.class, &default_class, &mut errs);

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
        services,
        tokens,
        opers,
        web,
        multiline,
        relaymsg,
        read_markers,
        history,
        classes,
        default_class: std::sync::Arc::new(default_class),
        path: path.map(Path::to_path_buf),
    })
}

/// Parses a list of CIDRs once, reporting each bad one with its index.
fn cidrs(key: &str, list: &[String], errs: &mut Vec<String>) -> Vec<Cidr> {
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        match Cidr::parse(c) {
            Some(cidr) => out.push(cidr),
            None => errs.push(format!(
                "{key}[{i}]: {c:?} is not a CIDR like \"10.0.0.0/8\" or \"::1/128\""
            )),
        }
    }
    out
}

fn check_tls_files(files: &TlsFiles, key: &str, errs: &mut Vec<String>) {
    for (name, p) in [("cert", &files.cert), ("key", &files.key)] {
        if let Err(e) = std::fs::metadata(p) {
            errs.push(format!("{key}.{name}: cannot read {}: {e}", p.display()));
        }
    }
}

fn valid_server_name(s: &str) -> bool {
    s.contains('.')
        && s.len() <= 63
        && s.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}
