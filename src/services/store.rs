//! The account store: accounts (a bcrypt hash, never a password), grouped
//! nicks, TLS certificate fingerprints and channel registrations, behind [`Store`], so that a shared
//! database can stand in later. [`RedbStore`] keeps them in one redb file in
//! data_dir: ACID, fsync on every commit, so an acknowledged registration
//! survives a crash. Nothing a user said is stored; the only free text is
//! what a founder writes to be kept (a channel description).

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// The schema this build writes; older files are migrated on open, newer
/// ones refused.
pub const SCHEMA_VERSION: u64 = 1;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Casefolded account name -> Account (JSON).
const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
/// Casefolded nick -> casefolded account name (the account's own nick too).
const NICKS: TableDefinition<&str, &str> = TableDefinition::new("nicks");
/// Casefolded channel name -> ChannelRegistration (JSON).
const CHANNELS: TableDefinition<&str, &[u8]> = TableDefinition::new("channels");
/// SHA-256 certificate fingerprint (lowercase hex) -> casefolded account
/// name (NickServ CERT ADD, SASL EXTERNAL).
const CERTS: TableDefinition<&str, &str> = TableDefinition::new("certs");
/// Server bans (KLINE, DLINE): `ServerBan::key` -> ServerBan (JSON), with
/// the reasons an oper wrote to be kept.
const BANS: TableDefinition<&str, &[u8]> = TableDefinition::new("bans");

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Account {
    /// As registered (the nick of the time).
    pub name: String,
    /// bcrypt.
    pub hash: String,
    /// Unix time.
    pub registered: u64,
    #[serde(default)]
    pub email: Option<String>,
    /// The SCRAM-SHA-256 verifier (never the password).
    #[serde(default)]
    pub scram: Option<super::scram::Verifier>,
    /// SET ENFORCE: a connection that takes one of the account's nicks
    /// without logging in is renamed after a grace period.
    #[serde(default)]
    pub enforce: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChannelRegistration {
    pub name: String,
    /// The founder's account (casefolded).
    pub founder: String,
    pub registered: u64,
    #[serde(default)]
    pub description: Option<String>,
    /// Accounts with flags (FLAGS): `O` auto-op and `V` auto-voice on join,
    /// `o` and `v` may use OP and VOICE.
    #[serde(default)]
    pub access: Vec<AccessEntry>,
    /// Masks (or `$a:account`) kicked on join, with the founder's reason.
    #[serde(default)]
    pub akick: Vec<AkickEntry>,
    /// The modes, topic and lists it keeps while empty and across restarts.
    #[serde(default)]
    pub kept: Option<crate::state::KeptChannel>,
    /// Sent as a NOTICE from ChanServ to whoever joins (SET ENTRYMSG).
    #[serde(default)]
    pub entry_message: Option<String>,
    /// SET HISTORY OFF: the channel keeps no chat history.
    #[serde(default)]
    pub history_off: bool,
    /// SET KEEPTOPIC: the topic is written to the store with the modes, so
    /// that it survives a restart. Off: no topic text is ever stored.
    #[serde(default = "yes")]
    pub keep_topic: bool,
    /// SET RESTRICTED: only accounts on the access list may stay on join.
    #[serde(default)]
    pub restricted: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessEntry {
    /// Casefolded account name.
    pub account: String,
    pub flags: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AkickEntry {
    pub mask: String,
    pub reason: Option<String>,
    pub setter: String,
    pub time: u64,
}

/// Everything in a store, for `ircd store export` and `import` (hashes,
/// never passwords).
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Dump {
    pub schema: u64,
    pub accounts: Vec<(String, Account)>,
    pub nicks: Vec<(String, String)>,
    pub channels: Vec<(String, ChannelRegistration)>,
    #[serde(default)]
    pub certs: Vec<(String, String)>,
    #[serde(default)]
    pub bans: Vec<(String, crate::state::ServerBan)>,
}

/// What `ircd store check` read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub accounts: usize,
    pub nicks: usize,
    pub certs: usize,
    pub channels: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store file: {0}")]
    Db(String),
    #[error("the store file has schema {0}, newer than this build's {SCHEMA_VERSION}")]
    TooNew(u64),
    #[error("already exists")]
    Exists,
    #[error("a record does not decode: {0}")]
    Corrupt(String),
}

fn db<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Db(e.to_string())
}

/// What services need from a store. Keys are casefolded by the caller.
pub trait Store: Send + Sync {
    /// Creates an account and claims its name as a nick; Exists when taken.
    fn create_account(&self, key: &str, account: &Account) -> Result<(), StoreError>;
    fn account(&self, key: &str) -> Result<Option<Account>, StoreError>;
    fn put_account(&self, key: &str, account: &Account) -> Result<(), StoreError>;
    /// Deletes an account, its nicks and the channels it founded.
    fn delete_account(&self, key: &str) -> Result<bool, StoreError>;
    /// The account that owns a nick.
    fn nick_owner(&self, nick: &str) -> Result<Option<String>, StoreError>;
    fn channel(&self, key: &str) -> Result<Option<ChannelRegistration>, StoreError>;
    /// Registers a channel; Exists when it is registered.
    fn create_channel(&self, key: &str, reg: &ChannelRegistration) -> Result<(), StoreError>;
    fn delete_channel(&self, key: &str) -> Result<bool, StoreError>;
    fn put_channel(&self, key: &str, reg: &ChannelRegistration) -> Result<(), StoreError>;
    /// Adds a nick to an account (GROUP); Exists when the nick is taken.
    fn group_nick(&self, nick: &str, owner: &str) -> Result<(), StoreError>;
    /// Removes a grouped nick (never an account's own name).
    fn ungroup_nick(&self, nick: &str) -> Result<bool, StoreError>;
    /// The nicks of an account, its own name included.
    fn nicks_of(&self, owner: &str) -> Result<Vec<String>, StoreError>;
    /// Registers a certificate fingerprint to an account; Exists when it
    /// is registered (to any account).
    fn add_cert(&self, fp: &str, owner: &str) -> Result<(), StoreError>;
    fn remove_cert(&self, fp: &str, owner: &str) -> Result<bool, StoreError>;
    fn cert_owner(&self, fp: &str) -> Result<Option<String>, StoreError>;
    fn certs_of(&self, owner: &str) -> Result<Vec<String>, StoreError>;
    /// Server bans (KLINE, DLINE), by `ServerBan::key`.
    fn put_ban(&self, ban: &crate::state::ServerBan) -> Result<(), StoreError>;
    fn remove_ban(&self, key: &str) -> Result<bool, StoreError>;
    fn bans(&self) -> Result<Vec<crate::state::ServerBan>, StoreError>;
    /// Reads every record and checks that each reference resolves (`ircd
    /// store check`).
    fn check(&self) -> Result<Counts, StoreError>;
    fn export(&self) -> Result<Dump, StoreError>;
    /// Writes every record of `dump` (one transaction), over what exists.
    fn import(&self, dump: &Dump) -> Result<(), StoreError>;
}

pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    /// Opens (or creates) the store file, creating the tables and migrating
    /// an older schema.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        let fresh = match std::fs::metadata(path) {
            Ok(m) => m.len() == 0,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => return Err(StoreError::Db(e.to_string())),
        };
        if fresh {
            Self::create_new(path)?;
        }
        let database = Database::create(path).map_err(db)?;
        Self::init(&database)?;
        Ok(RedbStore { db: database })
    }

    /// Creates a new store under a temporary name next to `path` and moves
    /// it into place once its first commit is on disk. redb writes a new
    /// file's header in several steps; a server killed in between (a power
    /// cut at first start) left a file it could never open again (15 of 60
    /// kills in the first 30 ms). Now `path` is either absent or whole.
    /// The temporary file's name is this process's (`.new.<pid>`; one left
    /// by a killed process is just litter, removed when the name comes
    /// round again), and it is moved into place only if `path` is still
    /// absent (a hard link, which never replaces a file): when two
    /// processes create the store at once (`ircd store import` during the
    /// first start), one store wins and both open it.
    fn create_new(path: &Path) -> Result<(), StoreError> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".new.{}", std::process::id()));
        let tmp = std::path::PathBuf::from(tmp);
        let io = |e: std::io::Error| StoreError::Db(e.to_string());
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
        {
            let database = Database::create(&tmp).map_err(db)?;
            Self::init(&database)?;
        }
        // An empty `path` (a crash before anything was written) may go.
        if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
            let _ = std::fs::remove_file(path);
        }
        let placed = match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            // Someone else's store got there first: open that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            // A file system without hard links.
            Err(_) if !path.exists() => std::fs::rename(&tmp, path).map(|()| true),
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_file(&tmp);
        if !placed.map_err(io)? {
            return Ok(());
        }
        // The link survives a power cut once the folder is synced.
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)
    }

    /// Creates the tables a store needs, records or checks the schema.
    fn init(database: &Database) -> Result<(), StoreError> {
        let tx = database.begin_write().map_err(db)?;
        {
            let mut meta = tx.open_table(META).map_err(db)?;
            let version = meta.get("schema").map_err(db)?.map(|v| v.value());
            match version {
                None => {
                    meta.insert("schema", SCHEMA_VERSION).map_err(db)?;
                }
                Some(v) if v > SCHEMA_VERSION => return Err(StoreError::TooNew(v)),
                // Migrations from older schemas go here, in order.
                Some(_) => {}
            }
            tx.open_table(ACCOUNTS).map_err(db)?;
            tx.open_table(NICKS).map_err(db)?;
            tx.open_table(CHANNELS).map_err(db)?;
            tx.open_table(CERTS).map_err(db)?;
            tx.open_table(BANS).map_err(db)?;
        }
        tx.commit().map_err(db)
    }
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn decode<T: for<'de> Deserialize<'de>>(b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store for RedbStore {
    fn create_account(&self, key: &str, account: &Account) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(db)?;
        {
            let mut accounts = tx.open_table(ACCOUNTS).map_err(db)?;
            let mut nicks = tx.open_table(NICKS).map_err(db)?;
            if accounts.get(key).map_err(db)?.is_some() || nicks.get(key).map_err(db)?.is_some() {
                return Err(StoreError::Exists);
            }
            accounts
                .insert(key, encode(account).as_slice())
                .map_err(db)?;
            nicks.insert(key, key).map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn account(&self, key: &str) -> Result<Option<Account>, StoreError> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(ACCOUNTS).map_err(db)?;
        match t.get(key).map_err(db)? {
            Some(v) => decode(v.value()).map(Some),
            None => Ok(None),
        }
    }

    fn put_account(&self, key: &str, account: &Account) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(ACCOUNTS).map_err(db)?;
            t.insert(key, encode(account).as_slice()).map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn delete_account(&self, key: &str) -> Result<bool, StoreError> {
        let tx = self.db.begin_write().map_err(db)?;
        let existed;
        {
            let mut accounts = tx.open_table(ACCOUNTS).map_err(db)?;
            existed = accounts.remove(key).map_err(db)?.is_some();
            let mut nicks = tx.open_table(NICKS).map_err(db)?;
            let owned: Vec<String> = nicks
                .iter()
                .map_err(db)?
                .filter_map(Result::ok)
                .filter(|(_, v)| v.value() == key)
                .map(|(k, _)| k.value().to_string())
                .collect();
            for n in owned {
                nicks.remove(n.as_str()).map_err(db)?;
            }
            let mut channels = tx.open_table(CHANNELS).map_err(db)?;
            let founded: Vec<String> = channels
                .iter()
                .map_err(db)?
                .filter_map(Result::ok)
                .filter(|(_, v)| {
                    decode::<ChannelRegistration>(v.value()).is_ok_and(|r| r.founder == key)
                })
                .map(|(k, _)| k.value().to_string())
                .collect();
            for c in founded {
                channels.remove(c.as_str()).map_err(db)?;
            }
            let mut certs = tx.open_table(CERTS).map_err(db)?;
            let its: Vec<String> = certs
                .iter()
                .map_err(db)?
                .filter_map(Result::ok)
                .filter(|(_, v)| v.value() == key)
                .map(|(k, _)| k.value().to_string())
                .collect();
            for fp in its {
                certs.remove(fp.as_str()).map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(existed)
    }

    fn nick_owner(&self, nick: &str) -> Result<Option<String>, StoreError> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(NICKS).map_err(db)?;
        Ok(t.get(nick).map_err(db)?.map(|v| v.value().to_string()))
    }

    fn channel(&self, key: &str) -> Result<Option<ChannelRegistration>, StoreError> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(CHANNELS).map_err(db)?;
        match t.get(key).map_err(db)? {
            Some(v) => decode(v.value()).map(Some),
            None => Ok(None),
        }
    }

    fn create_channel(&self, key: &str, reg: &ChannelRegistration) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(CHANNELS).map_err(db)?;
            if t.get(key).map_err(db)?.is_some() {
                return Err(StoreError::Exists);
            }
            t.insert(key, encode(reg).as_slice()).map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn delete_channel(&self, key: &str) -> Result<bool, StoreError> {
        let tx = self.db.begin_write().map_err(db)?;
        let existed = {
            let mut t = tx.open_table(CHANNELS).map_err(db)?;
            t.remove(key).map_err(db)?.is_some()
        };
        tx.commit().map_err(db)?;
        Ok(existed)
    }

    fn put_channel(&self, key: &str, reg: &ChannelRegistration) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(CHANNELS).map_err(db)?;
            t.insert(key, encode(reg).as_slice()).map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn group_nick(&self, nick: &str, owner: &str) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(db)?;
        {
            let mut nicks = tx.open_table(NICKS).map_err(db)?;
            let accounts = tx.open_table(ACCOUNTS).map_err(db)?;
            if nicks.get(nick).map_err(db)?.is_some() || accounts.get(nick).map_err(db)?.is_some() {
                return Err(StoreError::Exists);
            }
            nicks.insert(nick, owner).map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn ungroup_nick(&self, nick: &str) -> Result<bool, StoreError> {
        let tx = self.db.begin_write().map_err(db)?;
        let removed = {
            let accounts = tx.open_table(ACCOUNTS).map_err(db)?;
            if accounts.get(nick).map_err(db)?.is_some() {
                false
            } else {
                let mut nicks = tx.open_table(NICKS).map_err(db)?;
                nicks.remove(nick).map_err(db)?.is_some()
            }
        };
        tx.commit().map_err(db)?;
        Ok(removed)
    }

    fn nicks_of(&self, owner: &str) -> Result<Vec<String>, StoreError> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(NICKS).map_err(db)?;
        let mut out = Vec::new();
        for r in t.iter().map_err(db)? {
            let (k, v) = r.map_err(db)?;
            if v.value() == owner {
                out.push(k.value().to_string());
            }
        }
        Ok(out)
    }

    fn add_cert(&self, fp: &str, owner: &str) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(db)?;
        {
            let mut certs = tx.open_table(CERTS).map_err(db)?;
            if certs.get(fp).map_err(db)?.is_some() {
                return Err(StoreError::Exists);
            }
            certs.insert(fp, owner).map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn remove_cert(&self, fp: &str, owner: &str) -> Result<bool, StoreError> {
        let tx = self.db.begin_write().map_err(db)?;
        let removed = {
            let mut certs = tx.open_table(CERTS).map_err(db)?;
            let mine = certs
                .get(fp)
                .map_err(db)?
                .is_some_and(|v| v.value() == owner);
            mine && certs.remove(fp).map_err(db)?.is_some()
        };
        tx.commit().map_err(db)?;
        Ok(removed)
    }

    fn cert_owner(&self, fp: &str) -> Result<Option<String>, StoreError> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(CERTS).map_err(db)?;
        Ok(t.get(fp).map_err(db)?.map(|v| v.value().to_string()))
    }

    fn certs_of(&self, owner: &str) -> Result<Vec<String>, StoreError> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(CERTS).map_err(db)?;
        let mut out = Vec::new();
        for r in t.iter().map_err(db)? {
            let (k, v) = r.map_err(db)?;
            if v.value() == owner {
                out.push(k.value().to_string());
            }
        }
        Ok(out)
    }

    fn put_ban(&self, ban: &crate::state::ServerBan) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(BANS).map_err(db)?;
            t.insert(ban.key().as_str(), encode(ban).as_slice())
                .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn remove_ban(&self, key: &str) -> Result<bool, StoreError> {
        let tx = self.db.begin_write().map_err(db)?;
        let existed = tx
            .open_table(BANS)
            .map_err(db)?
            .remove(key)
            .map_err(db)?
            .is_some();
        tx.commit().map_err(db)?;
        Ok(existed)
    }

    fn bans(&self) -> Result<Vec<crate::state::ServerBan>, StoreError> {
        let tx = self.db.begin_read().map_err(db)?;
        let mut out = Vec::new();
        for r in tx.open_table(BANS).map_err(db)?.iter().map_err(db)? {
            out.push(decode(r.map_err(db)?.1.value())?);
        }
        Ok(out)
    }

    fn export(&self) -> Result<Dump, StoreError> {
        let tx = self.db.begin_read().map_err(db)?;
        let mut dump = Dump {
            schema: SCHEMA_VERSION,
            ..Dump::default()
        };
        for r in tx.open_table(ACCOUNTS).map_err(db)?.iter().map_err(db)? {
            let (k, v) = r.map_err(db)?;
            dump.accounts
                .push((k.value().to_string(), decode(v.value())?));
        }
        for r in tx.open_table(NICKS).map_err(db)?.iter().map_err(db)? {
            let (k, v) = r.map_err(db)?;
            dump.nicks
                .push((k.value().to_string(), v.value().to_string()));
        }
        for r in tx.open_table(CHANNELS).map_err(db)?.iter().map_err(db)? {
            let (k, v) = r.map_err(db)?;
            dump.channels
                .push((k.value().to_string(), decode(v.value())?));
        }
        for r in tx.open_table(CERTS).map_err(db)?.iter().map_err(db)? {
            let (k, v) = r.map_err(db)?;
            dump.certs
                .push((k.value().to_string(), v.value().to_string()));
        }
        for r in tx.open_table(BANS).map_err(db)?.iter().map_err(db)? {
            let (k, v) = r.map_err(db)?;
            dump.bans.push((k.value().to_string(), decode(v.value())?));
        }
        Ok(dump)
    }

    fn import(&self, dump: &Dump) -> Result<(), StoreError> {
        if dump.schema > SCHEMA_VERSION {
            return Err(StoreError::TooNew(dump.schema));
        }
        let tx = self.db.begin_write().map_err(db)?;
        {
            let mut accounts = tx.open_table(ACCOUNTS).map_err(db)?;
            for (k, a) in &dump.accounts {
                accounts
                    .insert(k.as_str(), encode(a).as_slice())
                    .map_err(db)?;
            }
            let mut nicks = tx.open_table(NICKS).map_err(db)?;
            for (k, v) in &dump.nicks {
                nicks.insert(k.as_str(), v.as_str()).map_err(db)?;
            }
            let mut channels = tx.open_table(CHANNELS).map_err(db)?;
            for (k, c) in &dump.channels {
                channels
                    .insert(k.as_str(), encode(c).as_slice())
                    .map_err(db)?;
            }
            let mut certs = tx.open_table(CERTS).map_err(db)?;
            for (k, v) in &dump.certs {
                certs.insert(k.as_str(), v.as_str()).map_err(db)?;
            }
            let mut bans = tx.open_table(BANS).map_err(db)?;
            for (k, b) in &dump.bans {
                bans.insert(k.as_str(), encode(b).as_slice()).map_err(db)?;
            }
        }
        tx.commit().map_err(db)
    }

    fn check(&self) -> Result<Counts, StoreError> {
        let tx = self.db.begin_read().map_err(db)?;
        let accounts = tx.open_table(ACCOUNTS).map_err(db)?;
        let mut n_accounts = 0;
        for r in accounts.iter().map_err(db)? {
            let (_, v) = r.map_err(db)?;
            decode::<Account>(v.value())?;
            n_accounts += 1;
        }
        let nicks = tx.open_table(NICKS).map_err(db)?;
        let mut n_nicks = 0;
        for r in nicks.iter().map_err(db)? {
            let (_, owner) = r.map_err(db)?;
            if accounts.get(owner.value()).map_err(db)?.is_none() {
                return Err(StoreError::Corrupt(
                    "a nick belongs to an account that does not exist".into(),
                ));
            }
            n_nicks += 1;
        }
        let certs = tx.open_table(CERTS).map_err(db)?;
        let mut n_certs = 0;
        for r in certs.iter().map_err(db)? {
            let (_, owner) = r.map_err(db)?;
            if accounts.get(owner.value()).map_err(db)?.is_none() {
                return Err(StoreError::Corrupt(
                    "a certificate belongs to an account that does not exist".into(),
                ));
            }
            n_certs += 1;
        }
        let channels = tx.open_table(CHANNELS).map_err(db)?;
        let mut n_channels = 0;
        for r in channels.iter().map_err(db)? {
            let (_, v) = r.map_err(db)?;
            decode::<ChannelRegistration>(v.value())?;
            n_channels += 1;
        }
        Ok(Counts {
            accounts: n_accounts,
            nicks: n_nicks,
            certs: n_certs,
            channels: n_channels,
        })
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
