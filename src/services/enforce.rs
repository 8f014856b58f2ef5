//! Nick protection: NickServ SET ENFORCE, RECOVER and RELEASE.
//!
//! When a connection takes a nick of an account with ENFORCE on (at
//! registration, by NICK, or by logging out) and is not logged in to that
//! account, NickServ warns it at once and again halfway through the grace
//! period (`services.enforce_grace`); at the end it is renamed to a guest
//! nick and the nick is held for its owner for `services.enforce_hold`
//! (others get 433 for it) unless RELEASE frees it first. RECOVER does the
//! renaming at once and gives the caller the nick. A timer is a generation
//! per client: a later nick change makes an earlier timer do nothing.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use parking_lot::Mutex;
use tokio::time::Instant;

use super::{Accounts, Caller, Service, accounts::LoginError, job};
use crate::{
    config::format_duration,
    state::{ClientId, ClientRef, Delivery, Event, State, Verb},
};

const NS: Service = Service::NickServ;

/// Holds at most this many nicks at once; the oldest go first.
const MAX_HELD: usize = 10_000;

#[derive(Default)]
pub struct Protection {
    /// The armed timer of each client being enforced: its generation.
    pending: Mutex<HashMap<ClientId, u64>>,
    generation: AtomicU64,
    /// Casefolded nick -> (casefolded owner account, until when).
    held: Mutex<HashMap<String, (String, Instant)>>,
}

impl Protection {
    fn arm(&self, id: ClientId) -> u64 {
        let g = self.generation.fetch_add(1, Ordering::Relaxed);
        self.pending.lock().insert(id, g);
        g
    }

    fn cancel(&self, id: ClientId) {
        self.pending.lock().remove(&id);
    }

    fn is_current(&self, id: ClientId, g: u64) -> bool {
        self.pending.lock().get(&id) == Some(&g)
    }

    fn hold(&self, nick: String, owner: String, until: Instant) {
        let mut held = self.held.lock();
        let now = Instant::now();
        held.retain(|_, (_, t)| *t > now);
        if held.len() >= MAX_HELD
            && let Some(oldest) = held
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone())
        {
            held.remove(&oldest);
        }
        held.insert(nick, (owner, until));
    }

    /// Frees a held nick; false when it was not held.
    fn release(&self, nick: &str) -> bool {
        self.held
            .lock()
            .remove(nick)
            .is_some_and(|(_, t)| t > Instant::now())
    }

    /// The owner a nick is held for, while the hold lasts.
    fn holder(&self, nick: &str) -> Option<String> {
        let held = self.held.lock();
        held.get(nick)
            .filter(|(_, t)| *t > Instant::now())
            .map(|(o, _)| o.clone())
    }
}

/// Is `nick` held by services for an account `client` is not logged in
/// to? The NICK command answers 433 then.
pub fn held(state: &State, accounts: &Accounts, client: &ClientRef, nick: &str) -> bool {
    let Some(owner) = accounts.protect.holder(&state.fold(nick)) else {
        return false;
    };
    client
        .snapshot()
        .account
        .is_none_or(|a| state.fold(&a) != owner)
}

/// Starts (or stops) enforcement after the caller's nick or account changed.
pub fn on_nick(c: &mut dyn Caller) {
    let Some(acc) = c.accounts() else {
        return;
    };
    let client = c.client();
    let me = client.snapshot();
    if !me.registered {
        return;
    }
    let owner = acc.account(&me.nick).filter(|a| a.enforce);
    let Some(owner) = owner.filter(|o| {
        me.account
            .as_deref()
            .is_none_or(|a| !c.state().casemap.eq(a, &o.name))
    }) else {
        acc.protect.cancel(client.id);
        return;
    };
    let grace = c.config().services.enforce_grace;
    let g = acc.protect.arm(client.id);
    c.notice(
        NS,
        &format!(
            "{} is registered and protected. If it is your nick, identify with \
             /msg NickServ IDENTIFY <password> within {}; otherwise choose another \
             nick, or it will be changed.",
            me.nick,
            format_duration(grace)
        ),
    );
    let (nick, owner) = (me.nick.clone(), owner.name);
    let warn = {
        let (acc, client, nick) = (acc.clone(), Arc::downgrade(&client), nick.clone());
        let owner = owner.clone();
        let left = grace - grace / 2;
        Box::new(move |state: &State| {
            let Some(client) = client.upgrade() else {
                return Vec::new();
            };
            let me = client.snapshot();
            let identified = me
                .account
                .as_deref()
                .is_some_and(|a| state.casemap.eq(a, &owner));
            if !acc.protect.is_current(client.id, g)
                || identified
                || !state.casemap.eq(&me.nick, &nick)
            {
                return Vec::new();
            }
            let text = format!(
                "You have {} left to identify for {nick}, or your nick will be changed.",
                format_duration(left)
            );
            vec![notice(state, &client, &text)]
        })
    };
    c.after(grace / 2, warn);
    let hold = c.config().services.enforce_hold;
    let rename = {
        let client = Arc::downgrade(&client);
        Box::new(move |state: &State| {
            let Some(client) = client.upgrade() else {
                return Vec::new();
            };
            if !acc.protect.is_current(client.id, g) {
                return Vec::new();
            }
            acc.protect.cancel(client.id);
            let me = client.snapshot();
            let identified = me
                .account
                .as_deref()
                .is_some_and(|a| state.casemap.eq(a, &owner));
            if identified || !state.casemap.eq(&me.nick, &nick) {
                return Vec::new();
            }
            let mut out = force_guest(state, &client);
            acc.protect
                .hold(state.fold(&nick), state.fold(&owner), Instant::now() + hold);
            let text = format!("{nick} is protected: your nick is now {}.", client.nick());
            out.push(notice(state, &client, &text));
            out
        })
    };
    c.after(grace, rename);
}

/// A NOTICE from NickServ to `client`, as a delivery.
fn notice(state: &State, client: &ClientRef, text: &str) -> Delivery {
    Delivery::new(
        Event::Message {
            verb: Verb::Notice,
            source: NS.prefix(),
            target: client.nick(),
            text: Some(text.to_string()),
            client_tags: None,
            msgid: state.new_msgid(),
            account: None,
            bot: false,
            relay: None,
        },
        vec![client.clone()],
    )
}

/// Renames `client` to a free `Guest<digits>` nick; its own NICK line goes
/// to it as a recipient (there is no actor). A client that cannot change
/// nick (banned in a channel, where a change would dodge the ban) is
/// disconnected instead: the protected nick must go.
fn force_guest(state: &State, client: &ClientRef) -> Vec<Delivery> {
    for _ in 0..20 {
        let guest = format!("Guest{:05}", random_u32() % 100_000);
        if state.find_nick(&guest).is_some() {
            continue;
        }
        return match state.change_nick(client, &guest) {
            Ok(mut ds) => {
                for d in ds.iter_mut().filter(|d| d.echo) {
                    d.to.push(client.clone());
                    d.echo = false;
                }
                ds
            }
            Err(_) => break,
        };
    }
    vec![state.kill(client, client, "Nick enforcement")]
}

fn random_u32() -> u32 {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 4];
    let _ = SystemRandom::new().fill(&mut b);
    u32::from_le_bytes(b)
}

/// Checks that the caller may act for the owner of `nick`: logged in to it,
/// or `password` is right (then the caller is logged in too, as Anope
/// does). `then` runs with the owner's account name.
fn authorize(
    c: &mut dyn Caller,
    nick: &str,
    password: Option<&str>,
    then: impl FnOnce(&mut dyn Caller, String) + Send + 'static,
) {
    let acc = c.accounts().expect("routed only when services are on");
    let Some(owner) = acc.nick_owner(nick) else {
        c.notice(NS, &format!("{nick} is not registered."));
        return;
    };
    let mine = c
        .client()
        .snapshot()
        .account
        .is_some_and(|a| c.state().casemap.eq(&a, &owner));
    if mine {
        return then(c, owner);
    }
    let Some(password) = password else {
        c.notice(NS, &format!("{nick} is not yours: add its password."));
        return;
    };
    let ip = c.client().ip;
    if acc.throttled(c.config(), &owner, ip) {
        c.notice(NS, "Too many wrong passwords; try again later.");
        return;
    }
    let password = zeroize::Zeroizing::new(password.to_string());
    let tokens = c.config().tokens.clone();
    let account = owner.clone();
    job(
        c,
        move || acc.verify(&account, &password, tokens.as_ref()),
        move |c, r| match r {
            Ok(name) => {
                if c.client().snapshot().account.is_none() {
                    super::log_in(c, &name);
                }
                then(c, name)
            }
            Err(LoginError::Invalid) => {
                if let Some(acc) = c.accounts() {
                    acc.note_failure(c.config(), &owner, ip);
                }
                c.notice(NS, &format!("Invalid password for {owner}."));
            }
            Err(LoginError::Throttled) => {
                c.notice(NS, "Too many wrong passwords; try again later.")
            }
            Err(LoginError::Store) => c.notice(NS, "The account store is unavailable."),
        },
    );
}

// RECOVER <nick> [<password>]
pub fn recover(c: &mut dyn Caller, args: &[&str]) {
    let nick = args[0].to_string();
    authorize(c, &nick.clone(), args.get(1).copied(), move |c, owner| {
        let state = c.state();
        let me = c.client();
        if state.casemap.eq(&me.nick(), &nick) {
            c.notice(NS, &format!("You already use {nick}."));
            return;
        }
        if let Some(holder) = state.find_nick(&nick).filter(|h| h.id != me.id) {
            let ds = force_guest(state, &holder);
            for d in ds {
                c.deliver(d);
            }
        }
        if let Some(acc) = c.accounts() {
            acc.protect.release(&c.state().fold(&nick));
        }
        match c.state().change_nick(&me, &nick) {
            Ok(ds) => {
                for d in ds {
                    c.deliver(d);
                }
                c.notice(NS, &format!("You have recovered {nick} of {owner}."));
            }
            Err(_) => c.notice(NS, &format!("{nick} is free; /NICK {nick} to use it.")),
        }
    });
}

// RELEASE <nick> [<password>]
pub fn release(c: &mut dyn Caller, args: &[&str]) {
    let nick = args[0].to_string();
    authorize(c, &nick.clone(), args.get(1).copied(), move |c, _| {
        let released = c
            .accounts()
            .is_some_and(|acc| acc.protect.release(&c.state().fold(&nick)));
        if released {
            c.notice(NS, &format!("{nick} is released."));
        } else {
            c.notice(NS, &format!("{nick} is not held."));
        }
    });
}

// SET ENFORCE ON|OFF
pub fn set_enforce(c: &mut dyn Caller, value: &str) {
    let on = match value.to_ascii_uppercase().as_str() {
        "ON" => true,
        "OFF" => false,
        _ => {
            c.notice(NS, "Syntax: SET ENFORCE ON|OFF");
            return;
        }
    };
    let Some(account) = c.client().snapshot().account else {
        return;
    };
    let acc = c.accounts().expect("routed only when services are on");
    job(
        c,
        move || acc.set_enforce(&account, on).is_ok(),
        move |c, ok| match (ok, on) {
            (false, _) => c.notice(NS, "The setting could not be stored; try again later."),
            (true, true) => c.notice(
                NS,
                "ENFORCE is on: whoever uses your nicks without identifying will be renamed.",
            ),
            (true, false) => c.notice(NS, "ENFORCE is off."),
        },
    );
}
