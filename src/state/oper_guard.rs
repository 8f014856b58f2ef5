//! Failed OPER attempts per address: each costs a bcrypt check (a quarter
//! of a second of CPU at the default cost), so an address gets a few per
//! window, whatever connections it opens; past them OPER is refused at once,
//! with no hash computed. IPv6 addresses count per `[connections]
//! ipv6_prefix` network (/64 by default), as the login throttle does.

use std::{collections::HashMap, net::IpAddr, sync::LazyLock, time::Duration};

use tokio::time::Instant;

use super::State;

/// Failed attempts an address gets per window.
pub const OPER_FAILURES_PER_ADDRESS: u32 = 3;
/// The window they are counted in.
pub const OPER_FAILURE_WINDOW: Duration = Duration::from_secs(600);
/// Addresses remembered at most (expired ones are dropped first).
const MAX_ENTRIES: usize = 10_000;

/// Per address: when its window started, the failures in it.
pub(super) type OperFailures = HashMap<IpAddr, (Instant, u32)>;

/// A bcrypt hash nobody knows the password of, for unknown oper names.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| bcrypt::hash("no such oper", bcrypt::DEFAULT_COST).unwrap_or_default());

/// Held while an OPER password is checked.
static OPER_CHECK: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// Checks an OPER password (blocking: run it in a job). One check runs at a
/// time, server-wide: guesses from many addresses queue behind each other
/// and take one CPU at most. An unknown name (`hash` None) is checked
/// against a dummy hash, so that the answer takes as long as for a real one
/// (no enumerating oper names by timing); the dummy is made here too, on
/// first use, never on an async thread. The hash runs at a low CPU
/// priority ([`crate::hashing`]).
pub fn verify_oper_password(hash: Option<&str>, password: &str) -> bool {
    let _one = OPER_CHECK.lock();
    crate::hashing::run(|| match hash {
        Some(h) => bcrypt::verify(password.as_bytes(), h).unwrap_or(false),
        None => {
            let _ = bcrypt::verify(password.as_bytes(), &DUMMY_HASH);
            false
        }
    })
}

impl State {
    /// The address an OPER failure counts against: IPv6 per `[connections]
    /// ipv6_prefix` network, as connections and logins are.
    fn oper_key(&self, ip: IpAddr) -> IpAddr {
        super::hosts::network_of(ip, 32, self.config().connections.ipv6_prefix)
    }

    /// Has `ip` used up its failed OPER attempts for now?
    pub fn oper_throttled(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let key = self.oper_key(ip);
        self.oper_failures
            .lock()
            .get(&key)
            .is_some_and(|&(start, n)| {
                now.duration_since(start) < OPER_FAILURE_WINDOW && n >= OPER_FAILURES_PER_ADDRESS
            })
    }

    /// Counts a failed OPER attempt from `ip`.
    pub fn note_oper_failure(&self, ip: IpAddr) {
        let now = Instant::now();
        let key = self.oper_key(ip);
        let mut f = self.oper_failures.lock();
        if f.len() >= MAX_ENTRIES {
            f.retain(|_, (start, _)| now.duration_since(*start) < OPER_FAILURE_WINDOW);
            if f.len() >= MAX_ENTRIES {
                // Still full of live windows: forget the oldest half.
                let mut starts: Vec<Instant> = f.values().map(|&(s, _)| s).collect();
                starts.sort_unstable();
                let cut = starts[starts.len() / 2];
                f.retain(|_, (start, _)| *start > cut);
            }
        }
        let w = f.entry(key).or_insert((now, 0));
        if now.duration_since(w.0) >= OPER_FAILURE_WINDOW {
            *w = (now, 0);
        }
        w.1 += 1;
    }
}
