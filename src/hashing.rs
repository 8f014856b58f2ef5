//! Password hashing off the server's CPU priority. A cost-12 bcrypt is
//! about 0.25 s of CPU; a login storm or wrong OPER guesses could take the
//! CPUs from the threads that serve every client. Each hash (and check)
//! runs on a thread of its own, started for it, under Linux's SCHED_IDLE
//! policy (and 10 nice steps below the process, where SCHED_IDLE is
//! refused): it gets only the CPU time no serving thread wants, and a
//! serving thread that wakes up (a line arrived) takes the CPU from it at
//! once, where a thread that is merely niced may run on to the end of its
//! slice first (the abuse benchmark's OPER phase: p99 +30-66 % at nice
//! +10). The price: when every CPU is busy serving, a login waits until one
//! is not. A thread of its own, because an unprivileged process may not
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

/// Lowers the calling thread: SCHED_IDLE, and its nice value by 10 (at
/// most to 19) for where SCHED_IDLE is refused (a seccomp filter). On
/// Linux, `who`/`pid` 0 means the calling thread alone; an unprivileged
/// thread may always lower itself.
fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        #[repr(C)]
        struct SchedParam {
            sched_priority: i32,
        }
        unsafe extern "C" {
            fn getpriority(which: i32, who: u32) -> i32;
            fn setpriority(which: i32, who: u32, prio: i32) -> i32;
            fn sched_setscheduler(pid: i32, policy: i32, param: *const SchedParam) -> i32;
        }
        const PRIO_PROCESS: i32 = 0;
        const SCHED_IDLE: i32 = 5;
        // SAFETY: the calls take plain integers and, for
        // sched_setscheduler, a pointer to a live `SchedParam` it only
        // reads. A failure leaves the thread as it was, which is harmless.
        unsafe {
            let nice = getpriority(PRIO_PROCESS, 0);
            setpriority(PRIO_PROCESS, 0, (nice + 10).min(19));
            sched_setscheduler(0, SCHED_IDLE, &SchedParam { sched_priority: 0 });
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
