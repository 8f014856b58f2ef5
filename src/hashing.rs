//! Password hashing off the server's CPU priority. A cost-12 bcrypt is
//! about 0.25 s of CPU; a login storm or wrong OPER guesses could take the
//! CPUs from the threads that serve every client. Each hash (and check)
//! runs on a thread of its own, started for it, 10 nice steps below the
//! process ([`crate::priority`]), so that under contention the serving
//! threads win and the guessers wait. A thread of its own, because an unprivileged process may not
//! raise a thread's priority back: a lowered thread of tokio's blocking
//! pool would later run other jobs (a rehash, under State's locks) low too.
//! Starting a thread costs tens of microseconds, nothing beside a hash.

use std::sync::Mutex;

/// Runs `f` (a bcrypt or PBKDF2 computation) on a new low-priority thread
/// and waits for it; call it from a blocking job, never an async thread.
/// When no thread can be started, `f` runs on the caller's thread.
pub fn run<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let f = Mutex::new(Some(f));
    let take = || f.lock().ok().and_then(|mut f| f.take());
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .name("ircd-hash".into())
            .spawn_scoped(s, || {
                crate::priority::lower_this_thread();
                take().map(|f| f())
            });
        let done = match spawned {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => None,
        };
        match done {
            Some(v) => v,
            None => take().map(|f| f()).expect("the hash ran nowhere"),
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_with_borrowed_data_and_returns() {
        let password = String::from("secret");
        let n = super::run(|| password.len());
        assert_eq!(n, 6);
        let name = super::run(|| std::thread::current().name().map(String::from));
        assert_eq!(name.as_deref(), Some("ircd-hash"));
    }
}
