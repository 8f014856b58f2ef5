//! Password hashing off the server's CPU priority. A cost-12 bcrypt is
//! about 0.25 s of CPU; a login storm or wrong OPER guesses could take the
//! CPUs from the threads that serve every client. Each hash (and check)
//! runs on a thread of its own, started for it, 10 nice steps below the
//! process, so that under contention the serving threads win and the
//! guessers wait: it keeps about a tenth of a busy thread's share, so
//! logins go on on a busy box (the abuse benchmark's OPER phase, about 70
//! hashes per 10 s on the server's one CPU, kept the observer's p99 within
//! 10 % of quiet on a quiet machine; contrib/bench/abuse.md).
//!
//! A thread of its own, because an unprivileged process may not raise a
//! thread's priority back: a lowered thread of tokio's blocking pool would
//! later run other jobs (a rehash, under State's locks) low too. Starting a
//! thread costs tens of microseconds, nothing beside a hash.
//!
//! Not SCHED_IDLE, though a waking thread would preempt it at once: an idle
//! thread gets only about 0.3 % against each busy thread of normal
//! priority, this server's or another program's. Tried: beside two
//! fuzzers, the suite's OPER checks (cost-4 hashes, and the cost-12 dummy
//! for unknown names) took over 10 s. (The accept loops were tried on a
//! thread of their own too: at SCHED_IDLE, 5,000 clients connecting beside
//! two fuzzers starved the next connection past 10 s; at nice +10 the abuse
//! benchmark's storm could not be told from loops on the serving runtime,
//! 20 rounds each, contrib/bench/abuse.md. They stay on the serving runtime.)

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
                lower_this_thread();
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

/// Lowers the calling thread's nice value by 10 (at most to 19). On Linux,
/// PRIO_PROCESS with `who` 0 means the calling thread alone.
fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        unsafe extern "C" {
            fn getpriority(which: i32, who: u32) -> i32;
            fn setpriority(which: i32, who: u32, prio: i32) -> i32;
        }
        const PRIO_PROCESS: i32 = 0;
        // SAFETY: both calls take plain integers and touch no memory of
        // ours. A failure leaves the priority as it was, which is harmless.
        unsafe {
            let nice = getpriority(PRIO_PROCESS, 0);
            setpriority(PRIO_PROCESS, 0, (nice + 10).min(19));
        }
    }
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
