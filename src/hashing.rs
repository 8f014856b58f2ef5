//! Password hashing off the server's CPU priority. A cost-12 bcrypt is
//! about 0.25 s of CPU; a login storm or wrong OPER guesses could take the
//! CPUs from the threads that serve every client. Each hash (and check)
//! runs on a thread of its own, started for it, 10 nice steps below the
//! process and with the kernel's longest time slice, so that under
//! contention the serving threads win and the guessers wait: it keeps about
//! a tenth of a busy thread's share, so logins go on on a busy box, and a
//! waking serving thread (a shorter slice) preempts it at once (the abuse
//! benchmark's OPER phase, tens of hashes per 10 s on the server's one CPU;
//! contrib/bench/abuse.md).
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

/// Lowers the calling thread's nice value by 10 (at most to 19) and asks
/// for the longest time slice, 100 ms (EEVDF, Linux 6.12 and later; older
/// kernels ignore it). A waking thread preempts the running one before its
/// slice is up only when its own slice is shorter (PREEMPT_SHORT); with
/// equal slices a waking serving thread waits until the next scheduler
/// tick (4 ms at HZ=250) once the hash's slice protection holds. On a 6.18
/// kernel the abuse benchmark's OPER phase put the observer's pooled p99
/// at 2.7 ms with the default slice, 2.2 ms with the shortest (0.1 ms),
/// 1.4-1.8 ms with the longest, against 0.5-0.9 ms quiet
/// (contrib/bench/abuse.md, ninth session). On Linux, `who` 0 means the
/// calling thread alone.
fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        unsafe extern "C" {
            fn getpriority(which: i32, who: u32) -> i32;
            fn setpriority(which: i32, who: u32, prio: i32) -> i32;
            fn sched_getscheduler(pid: i32) -> i32;
        }
        const PRIO_PROCESS: i32 = 0;
        // SAFETY: both take plain integers and touch no memory.
        let (nice, policy) = unsafe { (getpriority(PRIO_PROCESS, 0), sched_getscheduler(0)) };
        let nice = (nice + 10).min(19);
        // Only from SCHED_OTHER (0): a server started under another policy
        // keeps it, with the lower nice alone.
        if policy != 0 || !long_slice(nice) {
            // SAFETY: as above. A failure leaves the priority as it was,
            // which is harmless.
            unsafe {
                setpriority(PRIO_PROCESS, 0, nice);
            }
        }
    }
}

/// sched_setattr(2) on the calling thread: SCHED_OTHER at `nice` with a
/// 100 ms slice. False when the call is unknown here or refused.
#[cfg(target_os = "linux")]
fn long_slice(nice: i32) -> bool {
    #[cfg(target_arch = "x86_64")]
    const SCHED_SETATTR: i64 = 314;
    #[cfg(target_arch = "aarch64")]
    const SCHED_SETATTR: i64 = 274;
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    return false;
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        /// struct sched_attr, its first version (SCHED_ATTR_SIZE_VER0).
        #[repr(C)]
        struct SchedAttr {
            size: u32,
            policy: u32,
            flags: u64,
            nice: i32,
            priority: u32,
            runtime: u64,
            deadline: u64,
            period: u64,
        }
        unsafe extern "C" {
            fn syscall(number: i64, ...) -> i64;
        }
        let attr = SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            policy: 0, // SCHED_OTHER
            flags: 0,
            nice,
            priority: 0,
            runtime: 100_000_000, // ns: the longest slice the kernel takes
            deadline: 0,
            period: 0,
        };
        // SAFETY: `attr` is a valid struct sched_attr of the size it
        // declares, alive for the call; the kernel only reads it.
        unsafe { syscall(SCHED_SETATTR, 0i64, &attr as *const SchedAttr, 0u32) == 0 }
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

    /// The hash thread runs 10 nice steps below its caller with a 100 ms
    /// slice (a kernel from 6.12 on reports it in /proc).
    #[cfg(target_os = "linux")]
    #[test]
    fn hash_thread_is_lowered_with_the_longest_slice() {
        fn field(sched: &str, name: &str) -> Option<i64> {
            let line = sched.lines().find(|l| l.starts_with(name))?;
            line.rsplit(':').next()?.trim().parse().ok()
        }
        let read = || std::fs::read_to_string("/proc/thread-self/sched").unwrap();
        let outside = read();
        let inside = super::run(read);
        let (prio_out, prio_in) = (field(&outside, "prio"), field(&inside, "prio"));
        let policy = field(&outside, "policy");
        if policy == Some(0) {
            let expected = (prio_out.unwrap() + 10).min(139);
            assert_eq!(prio_in, Some(expected), "{inside}");
            let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
            let mut v = release.split(|c: char| !c.is_ascii_digit());
            let (major, minor): (u32, u32) = (
                v.next().unwrap().parse().unwrap(),
                v.next().unwrap().parse().unwrap(),
            );
            if (major, minor) >= (6, 12) {
                assert_eq!(field(&inside, "se.slice"), Some(100_000_000), "{inside}");
            }
        }
    }
}
