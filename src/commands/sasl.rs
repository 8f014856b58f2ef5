//! SASL (IRCv3): AUTHENTICATE with PLAIN, EXTERNAL (the TLS client
//! certificate's fingerprint, registered with NickServ CERT ADD),
//! SCRAM-SHA-256 and IRCV3BEARER, before or after registration;
//! 900/903 on success, 902-908 for every failure. Payloads come in base64
//! chunks of 400 bytes ("+" for an empty one); the password is checked in a
//! blocking job, throttled like NickServ IDENTIFY, and never logged.

use base64::Engine;

use crate::{
    proto::{Line, Message, numerics::*},
    services::{self, accounts::LoginError, job},
};

use super::Ctx;

/// The mechanisms offered (the value of the `sasl` capability): IRCV3BEARER
/// only where login tokens are configured.
pub fn mechanisms(config: &crate::config::Config) -> &'static str {
    if config.tokens.is_some() {
        "PLAIN,EXTERNAL,SCRAM-SHA-256,IRCV3BEARER"
    } else {
        "PLAIN,EXTERNAL,SCRAM-SHA-256"
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mechanism {
    Plain,
    External,
    Scram,
    Bearer,
}

/// Most bytes of a decoded-to-be payload (base64) a client may send.
const MAX_PAYLOAD: usize = 8192;

/// An exchange in progress.
pub struct Exchange {
    mechanism: Mechanism,
    buf: zeroize::Zeroizing<String>,
    /// SCRAM: the exchange after the client's first message.
    scram: Option<services::scram::Exchange>,
    /// SCRAM: server-final sent, waiting for the client's "+".
    scram_done: bool,
}

fn fail(ctx: &mut Ctx) {
    ctx.session.sasl = None;
    ctx.reply(ERR_SASLFAIL, &[]);
}

// AUTHENTICATE <mechanism> | <base64 chunk> | + | *
pub fn authenticate(ctx: &mut Ctx, msg: &Message) {
    let arg = msg.params()[0];
    let Some(accounts) = ctx.control.accounts() else {
        return fail(ctx);
    };
    if ctx.client().snapshot().account.is_some() {
        ctx.reply(ERR_SASLALREADY, &[]);
        return;
    }
    if arg == "*" {
        ctx.session.sasl = None;
        ctx.reply(ERR_SASLABORTED, &[]);
        return;
    }
    let Some(ex) = ctx.session.sasl.as_mut() else {
        let mechanism = match arg.to_ascii_uppercase().as_str() {
            "PLAIN" => Some(Mechanism::Plain),
            "EXTERNAL" => Some(Mechanism::External),
            "SCRAM-SHA-256" => Some(Mechanism::Scram),
            "IRCV3BEARER" if ctx.config.tokens.is_some() => Some(Mechanism::Bearer),
            _ => None,
        };
        match mechanism {
            Some(mechanism) => {
                ctx.session.sasl = Some(Box::new(Exchange {
                    mechanism,
                    buf: zeroize::Zeroizing::new(String::new()),
                    scram: None,
                    scram_done: false,
                }));
                ctx.push(Line::new(None, "AUTHENTICATE").arg("+").build());
            }
            None => {
                ctx.reply(RPL_SASLMECHS, &[mechanisms(&ctx.config)]);
                fail(ctx);
            }
        }
        return;
    };
    if arg.len() > 400 {
        ctx.session.sasl = None;
        ctx.reply(ERR_SASLTOOLONG, &[]);
        return;
    }
    if arg != "+" {
        ex.buf.push_str(arg);
    }
    if ex.buf.len() > MAX_PAYLOAD {
        // 905 is for one line over 400 bytes; a payload too large in total
        // fails the exchange (as Ergo and irctest have it).
        return fail(ctx);
    }
    if arg.len() == 400 {
        // A full chunk: more follows (or "+" ends it).
        return;
    }
    let Some(mut ex) = ctx.session.sasl.take() else {
        return;
    };
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(ex.buf.as_bytes()) else {
        return fail(ctx);
    };
    let raw = zeroize::Zeroizing::new(raw);
    if ex.mechanism == Mechanism::Scram {
        ex.buf = zeroize::Zeroizing::new(String::new());
        return scram_step(ctx, ex, &raw, accounts);
    }
    if ex.mechanism == Mechanism::External {
        return external(ctx, &raw, accounts);
    }
    let mut parts = raw.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return fail(ctx);
    };
    let (Ok(authzid), Ok(authcid), Ok(password)) = (
        std::str::from_utf8(authzid),
        std::str::from_utf8(authcid),
        std::str::from_utf8(password),
    ) else {
        return fail(ctx);
    };
    if ex.mechanism == Mechanism::Bearer {
        // IRCV3BEARER: authzid NUL type NUL token; the token names the account.
        let (Some(t), "jwt") = (ctx.config.tokens.clone(), authcid) else {
            return fail(ctx);
        };
        let (authzid, token) = (
            (!authzid.is_empty()).then(|| authzid.to_string()),
            zeroize::Zeroizing::new(password.to_string()),
        );
        job(
            ctx,
            move || accounts.verify_token(authzid.as_deref(), &token, &t),
            |c, result| match result {
                Ok(name) => {
                    services::log_in(c, &name);
                    c.numeric(RPL_SASLSUCCESS, &[]);
                }
                Err(_) => c.numeric(ERR_SASLFAIL, &[]),
            },
        );
        return;
    }
    if authcid.is_empty() || (!authzid.is_empty() && !ctx.state.casemap.eq(authzid, authcid)) {
        return fail(ctx);
    }
    let ip = ctx.client().ip;
    if accounts.throttled(&ctx.config, authcid, ip) {
        return fail(ctx);
    }
    let account = authcid.to_string();
    let password = zeroize::Zeroizing::new(password.to_string());
    let tokens = ctx.config.tokens.clone();
    job(
        ctx,
        move || {
            accounts
                .verify(&account, &password, tokens.as_ref())
                .map_err(|e| (e, account))
        },
        move |c, result| match result {
            Ok(name) => {
                services::log_in(c, &name);
                c.numeric(RPL_SASLSUCCESS, &[]);
            }
            Err((e, account)) => {
                if e == LoginError::Invalid
                    && let Some(acc) = c.accounts()
                {
                    acc.note_failure(c.config(), &account, ip);
                }
                c.numeric(ERR_SASLFAIL, &[]);
            }
        },
    );
}

/// One step of a SCRAM-SHA-256 exchange: client-first, client-final, then
/// the client's empty answer to server-final.
fn scram_step(
    ctx: &mut Ctx,
    mut ex: Box<Exchange>,
    raw: &[u8],
    accounts: std::sync::Arc<crate::services::Accounts>,
) {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let Ok(text) = std::str::from_utf8(raw) else {
        return fail(ctx);
    };
    let ip = ctx.client().ip;
    if ex.scram_done {
        let Some(scram) = ex.scram.take() else {
            return fail(ctx);
        };
        services::log_in(ctx, &scram.account);
        ctx.reply(RPL_SASLSUCCESS, &[]);
        return;
    }
    match ex.scram.take() {
        None => {
            let Some((user, nonce, bare)) = services::scram::parse_first(text) else {
                return fail(ctx);
            };
            if accounts.throttled(&ctx.config, &user, ip) {
                return fail(ctx);
            }
            let Some((name, verifier)) = accounts
                .account(&user)
                .and_then(|a| a.scram.map(|v| (a.name, v)))
            else {
                accounts.note_failure(&ctx.config, &user, ip);
                return fail(ctx);
            };
            let (scram, first) = services::scram::start(name, &nonce, bare, verifier);
            ex.scram = Some(scram);
            ctx.session.sasl = Some(ex);
            ctx.push(Line::new(None, "AUTHENTICATE").arg(&b64(&first)).build());
        }
        Some(scram) => match scram.finish(text) {
            Some(last) => {
                ex.scram = Some(scram);
                ex.scram_done = true;
                ctx.session.sasl = Some(ex);
                ctx.push(Line::new(None, "AUTHENTICATE").arg(&b64(&last)).build());
            }
            None => {
                accounts.note_failure(&ctx.config, &scram.account, ip);
                fail(ctx);
            }
        },
    }
}

/// EXTERNAL: the payload is an authorization identity or empty; the account
/// is the one the client certificate's fingerprint is registered to.
fn external(ctx: &mut Ctx, raw: &[u8], accounts: std::sync::Arc<crate::services::Accounts>) {
    let (Ok(authzid), Some(fp)) = (std::str::from_utf8(raw), ctx.client().certfp()) else {
        return fail(ctx);
    };
    let authzid = authzid.to_string();
    job(
        ctx,
        move || {
            let owner = accounts.cert_owner(&fp)?;
            let wanted = accounts.nick_owner(&authzid);
            (authzid.is_empty() || wanted.is_some_and(|w| w == owner)).then_some(owner)
        },
        |c, owner| match owner {
            Some(name) => {
                services::log_in(c, &name);
                c.numeric(RPL_SASLSUCCESS, &[]);
            }
            None => c.numeric(ERR_SASLFAIL, &[]),
        },
    );
}
