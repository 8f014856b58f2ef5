//! CAP: the IRCv3 capability negotiation frame (LS, REQ, LIST, END), 302
//! style with multi-line LS. Registration waits for CAP END once a client
//! has started negotiating.

use crate::{
    config::{Config, ListenTls},
    proto::{Line, Message, caps::Cap},
};

use super::{Ctx, registration};

/// Room for the capability list in one `CAP * LS * :...` line.
const LS_ROOM: usize = 400;

// CAP <subcommand> [:<capabilities>]
pub fn cap(ctx: &mut Ctx, msg: &Message) {
    let sub = msg.params()[0].to_ascii_uppercase();
    match sub.as_str() {
        "LS" => {
            if !ctx.session.registered {
                ctx.session.cap_negotiating = true;
            }
            let version = msg
                .param(1)
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0);
            ctx.session.cap_version = ctx.session.cap_version.max(version);
            if version >= 302 {
                // 302 implies cap-notify.
                let caps = ctx.client().caps() | Cap::CapNotify.bit();
                ctx.client().set_caps(caps);
            }
            let with_values = version >= 302;
            let items: Vec<String> = offered(&ctx.config, ctx.client().tls)
                .into_iter()
                .filter(|(c, _)| with_values || *c != Cap::Sts)
                .map(|(c, v)| match (with_values, v) {
                    (true, Some(v)) => format!("{}={v}", c.name()),
                    _ => c.name().to_string(),
                })
                .collect();
            send_list(ctx, "LS", &items, with_values);
        }
        "LIST" => {
            let caps = ctx.client().caps();
            let items: Vec<String> = Cap::ALL
                .iter()
                .filter(|c| caps & c.bit() != 0)
                .map(|c| c.name().to_string())
                .collect();
            send_list(ctx, "LIST", &items, ctx.session.cap_version >= 302);
        }
        "REQ" => {
            if !ctx.session.registered {
                ctx.session.cap_negotiating = true;
            }
            let requested = msg.param(1).unwrap_or("");
            let mut add = 0u32;
            let mut remove = 0u32;
            let mut ok = !requested.trim().is_empty();
            let available: Vec<Cap> = offered(&ctx.config, ctx.client().tls)
                .into_iter()
                .map(|(c, _)| c)
                .collect();
            for item in requested.split_whitespace() {
                let (off, name) = match item.strip_prefix('-') {
                    Some(n) => (true, n),
                    None => (false, item),
                };
                match Cap::from_name(name).filter(|c| c.requestable() && available.contains(c)) {
                    Some(c) if off => remove |= c.bit(),
                    Some(c) => add |= c.bit(),
                    None => ok = false,
                }
            }
            let verb = if ok { "ACK" } else { "NAK" };
            if ok {
                let caps = (ctx.client().caps() | add) & !remove;
                ctx.client().set_caps(caps);
            }
            let target = cap_target(ctx);
            let line = Line::new(Some(ctx.server_name()), "CAP")
                .arg(&target)
                .arg(verb)
                .text(requested.trim())
                .build();
            ctx.push(line);
        }
        "END" => {
            if ctx.session.cap_negotiating {
                ctx.session.cap_negotiating = false;
                registration::try_complete(ctx);
            }
        }
        _ => ctx.reply(crate::proto::numerics::ERR_INVALIDCAPCMD, &[&sub]),
    }
}

/// The capabilities offered on a connection, with their 302 values. `sts`
/// only where a real certificate is configured (a generated self-signed one
/// would make STS clients refuse to connect) and a TLS port is known.
pub fn offered(config: &Config, tls_connection: bool) -> Vec<(Cap, Option<String>)> {
    let sts_port = config
        .listen
        .iter()
        .find(|l| match &l.tls {
            ListenTls::Files(_) => true,
            ListenTls::Default => config.tls.is_some(),
            ListenTls::Off => false,
        })
        .map(|l| l.address.port())
        .filter(|&p| p != 0);
    Cap::ALL
        .iter()
        .filter_map(|&c| match c {
            Cap::Sasl => config.services.enabled.then(|| {
                (
                    c,
                    Some(crate::commands::sasl::mechanisms(config).to_string()),
                )
            }),
            // Before-connect: REGISTER works once a nick is chosen.
            Cap::AccountRegistration => config
                .services
                .enabled
                .then(|| (c, Some("before-connect".to_string()))),
            Cap::Multiline => config
                .multiline
                .enabled
                .then(|| (c, Some(config.multiline.cap_value()))),
            Cap::Relaymsg => config
                .relaymsg
                .enabled
                .then(|| (c, Some(config.relaymsg.separators.clone()))),
            Cap::ReadMarker => config.read_markers.enabled.then_some((c, None)),
            // History: CHATHISTORY, its playback, REDACT over it.
            Cap::Chathistory | Cap::EventPlayback | Cap::MessageRedaction => {
                config.history.enabled.then_some((c, None))
            }
            Cap::Sts => sts_port.map(|port| {
                // Spec: `port` on plaintext connections, `duration` on secure ones.
                let v = if tls_connection {
                    "duration=2592000".to_string()
                } else {
                    format!("port={port}")
                };
                (c, Some(v))
            }),
            _ => Some((c, None)),
        })
        .collect()
}

fn cap_target(ctx: &Ctx) -> String {
    ctx.nick()
}

/// Sends a capability list, split over several lines with `*` markers when
/// the client speaks 302; older clients get exactly one line.
fn send_list(ctx: &mut Ctx, sub: &str, items: &[String], multiline: bool) {
    let target = cap_target(ctx);
    let mut chunks: Vec<String> = vec![String::new()];
    for item in items {
        let cur = chunks.last_mut().unwrap();
        if multiline && !cur.is_empty() && cur.len() + 1 + item.len() > LS_ROOM {
            chunks.push(item.clone());
        } else {
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(item);
        }
    }
    let n = chunks.len();
    for (i, chunk) in chunks.iter().enumerate() {
        let mut line = Line::new(Some(ctx.server_name()), "CAP")
            .arg(&target)
            .arg(sub);
        if i + 1 < n {
            line = line.arg("*");
        }
        let line = line.text(chunk).build();
        ctx.push(line);
    }
}
