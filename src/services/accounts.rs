//! Accounts: the password rules, bcrypt (always inside a blocking job), and
//! the throttle of wrong passwords, per account and per address. A
//! throttled attempt is refused before any hashing: it costs the server
//! nothing.

use std::{collections::HashMap, net::IpAddr, sync::Arc, time::Duration};

use parking_lot::Mutex;
use tokio::time::Instant;

use super::store::{Account, ChannelRegistration, RedbStore, Store, StoreError};
use crate::{config::Config, proto::Casemapping, state::unix_now};

/// bcrypt reads at most 72 bytes; a longer password is refused, not cut.
pub const MAX_PASSWORD: usize = 72;

/// Certificates one account may register (CERT ADD).
pub const MAX_CERTS: usize = 10;

/// A SHA-256 fingerprint as users paste it (any case, colons or not), as
/// stored: 64 lowercase hex digits. None when it is not one.
pub fn normalize_fingerprint(fp: &str) -> Option<String> {
    let hex: String = fp.chars().filter(|&c| c != ':').collect();
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// A bcrypt hash nobody knows the password of, so that checking an unknown
/// account takes as long as a known one.
static DUMMY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| bcrypt::hash("no such account", 4).unwrap_or_default());

pub struct Accounts {
    store: Arc<dyn Store>,
    casemap: Casemapping,
    failures: Mutex<HashMap<String, Window>>,
    /// Nick protection in progress (SET ENFORCE, RECOVER, RELEASE).
    pub protect: super::enforce::Protection,
}

struct Window {
    start: Instant,
    count: u32,
}

/// Why a login failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginError {
    /// No such account, or the wrong password (not told apart).
    Invalid,
    Throttled,
    Store,
}

impl Accounts {
    /// Opens the store in `data_dir` (accounts.redb).
    pub fn open(data_dir: &std::path::Path, casemap: Casemapping) -> Result<Accounts, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Db(e.to_string()))?;
        let store = RedbStore::open(&data_dir.join("accounts.redb"))?;
        Ok(Accounts {
            store: Arc::new(store),
            casemap,
            failures: Mutex::default(),
            protect: Default::default(),
        })
    }

    pub fn fold(&self, s: &str) -> String {
        self.casemap.fold(s)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// A password services accept: not empty, at most 72 bytes, no spaces
    /// at the ends (they would be lost by most clients).
    pub fn password_problem(password: &str) -> Option<&'static str> {
        if password.is_empty() {
            Some("The password is empty.")
        } else if password.len() > MAX_PASSWORD {
            Some("The password is longer than 72 bytes; choose a shorter one.")
        } else {
            None
        }
    }

    /// The throttle keys of an attempt: the account, and the address (IPv6:
    /// its `[connections] ipv6_prefix` network) unless it is exempt from
    /// per-address limits (a bridge carries many users).
    fn keys(&self, config: &Config, account: &str, ip: IpAddr) -> Vec<String> {
        let mut keys = vec![format!("a:{}", self.fold(account))];
        if !config.connections.exempts(ip) {
            let net = crate::state::network_of(ip, 32, config.connections.ipv6_prefix);
            keys.push(format!("i:{net}"));
        }
        keys
    }

    /// Has `account` (or `ip`) had too many wrong passwords lately?
    pub fn throttled(&self, config: &Config, account: &str, ip: IpAddr) -> bool {
        let cfg = &config.services;
        let now = Instant::now();
        let f = self.failures.lock();
        self.keys(config, account, ip).iter().any(|k| {
            f.get(k).is_some_and(|w| {
                now.duration_since(w.start) < cfg.failure_window && w.count >= cfg.max_failures
            })
        })
    }

    /// Counts a wrong password against the account and the address.
    pub fn note_failure(&self, config: &Config, account: &str, ip: IpAddr) {
        let cfg = &config.services;
        let now = Instant::now();
        let mut f = self.failures.lock();
        if f.len() > 10_000 {
            f.retain(|_, w| now.duration_since(w.start) < cfg.failure_window);
        }
        for k in self.keys(config, account, ip) {
            let w = f.entry(k).or_insert(Window {
                start: now,
                count: 0,
            });
            if now.duration_since(w.start) >= cfg.failure_window {
                *w = Window {
                    start: now,
                    count: 0,
                };
            }
            w.count += 1;
        }
    }

    /// Hashes and stores a new account (blocking: run it in a job).
    pub fn register(
        &self,
        name: &str,
        password: &str,
        email: Option<String>,
        cost: u32,
    ) -> Result<(), StoreError> {
        let (hash, scram) = crate::hashing::run(|| {
            (
                bcrypt::hash(password, cost),
                super::scram::verifier(password),
            )
        });
        let hash = hash.map_err(|e| StoreError::Db(e.to_string()))?;
        let account = Account {
            name: name.to_string(),
            hash,
            registered: unix_now(),
            email,
            scram: Some(scram),
            enforce: false,
        };
        self.store.create_account(&self.fold(name), &account)
    }

    /// Checks a password, or a login token where `[accounts.tokens]` is set
    /// (blocking: run it in a job). Returns the account's name as
    /// registered. The name may be the account or a grouped nick.
    pub fn verify(
        &self,
        name: &str,
        password: &str,
        tokens: Option<&crate::config::Tokens>,
    ) -> Result<String, LoginError> {
        if let Some(t) = tokens
            && super::tokens::looks_like_token(password)
        {
            return self.verify_token(Some(name), password, t);
        }
        let key = self.fold(name);
        let owner = self
            .store
            .nick_owner(&key)
            .map_err(|_| LoginError::Store)?
            .unwrap_or(key);
        let account = self.store.account(&owner).map_err(|_| LoginError::Store)?;
        let hash = account.as_ref().map_or(DUMMY.as_str(), |a| a.hash.as_str());
        let ok = password.len() <= MAX_PASSWORD
            && crate::hashing::run(|| bcrypt::verify(password, hash)).unwrap_or(false);
        match account {
            Some(a) if ok => Ok(a.name),
            _ => Err(LoginError::Invalid),
        }
    }

    /// Checks a token; `name`, when given, must be its account (or one of
    /// the account's nicks). Creates the account on first use when the
    /// config says so (it then has no password: tokens only).
    pub fn verify_token(
        &self,
        name: Option<&str>,
        token: &str,
        t: &crate::config::Tokens,
    ) -> Result<String, LoginError> {
        let sub = super::tokens::verify(t.secret.expose(), token, unix_now())
            .map_err(|_| LoginError::Invalid)?;
        if let Some(name) = name {
            let owner = self.nick_owner(name).unwrap_or_else(|| name.to_string());
            if !self.casemap.eq(&owner, &sub) {
                return Err(LoginError::Invalid);
            }
        }
        match self.account(&sub) {
            Some(a) => Ok(a.name),
            None if t.create_accounts => {
                let account = Account {
                    name: sub.clone(),
                    // Not a bcrypt hash: no password ever matches it.
                    hash: "*".into(),
                    registered: unix_now(),
                    ..Account::default()
                };
                match self.store.create_account(&self.fold(&sub), &account) {
                    Ok(()) | Err(StoreError::Exists) => Ok(sub),
                    Err(_) => Err(LoginError::Store),
                }
            }
            None => Err(LoginError::Invalid),
        }
    }

    /// Replaces an account's password (blocking).
    pub fn set_password(&self, name: &str, password: &str, cost: u32) -> Result<(), StoreError> {
        let key = self.fold(name);
        let mut a = self
            .store
            .account(&key)?
            .ok_or_else(|| StoreError::Db("no such account".into()))?;
        let (hash, scram) = crate::hashing::run(|| {
            (
                bcrypt::hash(password, cost),
                super::scram::verifier(password),
            )
        });
        a.hash = hash.map_err(|e| StoreError::Db(e.to_string()))?;
        a.scram = Some(scram);
        self.store.put_account(&key, &a)
    }

    pub fn account(&self, name: &str) -> Option<Account> {
        let key = self.fold(name);
        let owner = self.store.nick_owner(&key).ok().flatten().unwrap_or(key);
        self.store.account(&owner).ok().flatten()
    }

    /// The account that owns `nick`, as registered.
    pub fn nick_owner(&self, nick: &str) -> Option<String> {
        let owner = self.store.nick_owner(&self.fold(nick)).ok().flatten()?;
        self.store.account(&owner).ok().flatten().map(|a| a.name)
    }

    pub fn channel(&self, name: &str) -> Option<ChannelRegistration> {
        self.store.channel(&self.fold(name)).ok().flatten()
    }

    pub fn register_channel(&self, name: &str, founder: &str) -> Result<(), StoreError> {
        self.store.create_channel(
            &self.fold(name),
            &ChannelRegistration {
                name: name.to_string(),
                founder: self.fold(founder),
                registered: unix_now(),
                description: None,
                access: Vec::new(),
                akick: Vec::new(),
                kept: None,
                entry_message: None,
                keep_topic: true,
                restricted: false,
                history_off: false,
            },
        )
    }

    pub fn drop_channel(&self, name: &str) -> bool {
        self.store.delete_channel(&self.fold(name)).unwrap_or(false)
    }

    pub fn drop_account(&self, name: &str) -> bool {
        self.store.delete_account(&self.fold(name)).unwrap_or(false)
    }

    /// Every channel registration (restored at start).
    pub fn channels(&self) -> Vec<ChannelRegistration> {
        self.store
            .export()
            .map(|d| d.channels.into_iter().map(|(_, c)| c).collect())
            .unwrap_or_default()
    }

    /// Saves what a registered channel keeps (blocking).
    pub fn save_kept(&self, name: &str, kept: Option<crate::state::KeptChannel>) -> bool {
        match self.channel(name) {
            Some(mut reg) => {
                reg.kept = kept.map(|mut k| {
                    if !reg.keep_topic {
                        k.topic = None;
                    }
                    k
                });
                self.put_channel(&reg)
            }
            None => false,
        }
    }

    pub fn put_channel(&self, reg: &ChannelRegistration) -> bool {
        self.store.put_channel(&self.fold(&reg.name), reg).is_ok()
    }

    /// GROUP: `nick` becomes a nick of `account`.
    pub fn group(&self, nick: &str, account: &str) -> Result<(), StoreError> {
        self.store.group_nick(&self.fold(nick), &self.fold(account))
    }

    pub fn ungroup(&self, nick: &str) -> bool {
        self.store.ungroup_nick(&self.fold(nick)).unwrap_or(false)
    }

    /// CERT ADD (blocking): Exists when the fingerprint is registered.
    pub fn add_cert(&self, account: &str, fp: &str) -> Result<(), StoreError> {
        self.store.add_cert(fp, &self.fold(account))
    }

    /// CERT DEL (blocking): false unless `account` had it.
    pub fn remove_cert(&self, account: &str, fp: &str) -> bool {
        self.store
            .remove_cert(fp, &self.fold(account))
            .unwrap_or(false)
    }

    pub fn certs_of(&self, account: &str) -> Vec<String> {
        self.store.certs_of(&self.fold(account)).unwrap_or_default()
    }

    /// The account a certificate fingerprint is registered to, as
    /// registered (SASL EXTERNAL).
    pub fn cert_owner(&self, fp: &str) -> Option<String> {
        let owner = self.store.cert_owner(fp).ok().flatten()?;
        self.store.account(&owner).ok().flatten().map(|a| a.name)
    }

    /// SET ENFORCE (blocking).
    pub fn set_enforce(&self, account: &str, on: bool) -> Result<(), StoreError> {
        let key = self.fold(account);
        let mut a = self
            .store
            .account(&key)?
            .ok_or_else(|| StoreError::Db("no such account".into()))?;
        a.enforce = on;
        self.store.put_account(&key, &a)
    }

    pub fn nicks_of(&self, account: &str) -> Vec<String> {
        self.store.nicks_of(&self.fold(account)).unwrap_or_default()
    }

    /// The access flags `account` has on registered channel `name` (the
    /// founder has all of them).
    pub fn flags(&self, name: &str, account: &str) -> String {
        let Some(reg) = self.channel(name) else {
            return String::new();
        };
        let key = self.fold(account);
        if reg.founder == key {
            return "FOVovt".into();
        }
        reg.access
            .iter()
            .find(|a| a.account == key)
            .map(|a| a.flags.clone())
            .unwrap_or_default()
    }

    /// Is `account` the founder of registered channel `name`?
    pub fn is_founder(&self, name: &str, account: &str) -> bool {
        self.channel(name)
            .is_some_and(|r| r.founder == self.fold(account))
    }
}

/// How long ago, in words, for INFO.
pub fn ago(unix: u64) -> String {
    crate::config::format_duration(Duration::from_secs(unix_now().saturating_sub(unix)))
}
