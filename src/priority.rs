//! Lower priority for the work a hostile client can make the server do
//! without end, so that the threads serving connected clients win the CPU
//! from it: password hashes ([`crate::hashing`]). Such a thread runs 10
//! nice steps below the process: it keeps about a tenth of a busy thread's
//! share, so logins go on on a busy box, and a serving thread that wakes up
//! takes the CPU from it within a fraction of a time slice.
//!
//! Not SCHED_IDLE, though it would hand the CPU over at once: an idle
//! thread gets only about 0.3 % against each busy thread of normal
//! priority, this server's or another program's. Tried: beside two
//! fuzzers, the test suite's OPER checks (a cost-12 bcrypt) took over 10 s.
//! (The accept loops, tried on a thread of their own at nice +10 or
//! SCHED_IDLE, stay on the serving runtime: at SCHED_IDLE, 5,000 clients
//! connecting beside two fuzzers starved the next connection past 10 s, and
//! at nice +10 the abuse benchmark's storm could not be told from the
//! serving-runtime loops, 20 rounds each; contrib/bench/abuse.md.)
//!
//! An unprivileged thread may lower itself but not raise itself back, so
//! only threads made for this are lowered, never tokio's pools.

/// Lowers the calling thread's nice value by 10 (at most to 19). On Linux,
/// PRIO_PROCESS with `who` 0 means the calling thread alone; an
/// unprivileged thread may always lower itself.
pub fn lower_this_thread() {
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
