//! Samples of a process from /proc: RSS, descriptors, threads, CPU time;
//! and of the machine: per-CPU busy time, load average.

use std::fs;

#[derive(Clone, Copy, Default, Debug)]
pub struct ProcSample {
    pub rss_kb: u64,
    pub fds: u64,
    pub threads: u64,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    pub alive: bool,
}

pub fn sample(pid: u32) -> ProcSample {
    let mut s = ProcSample::default();
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return s;
    };
    s.alive = !status.contains("State:\tZ");
    for l in status.lines() {
        if let Some(v) = l.strip_prefix("VmRSS:") {
            s.rss_kb = v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
        } else if let Some(v) = l.strip_prefix("Threads:") {
            s.threads = v.trim().parse().unwrap_or(0);
        }
    }
    s.fds = fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    s.cpu_ticks = cpu_ticks(&format!("/proc/{pid}/stat"));
    s
}

pub fn self_cpu_ticks() -> u64 {
    cpu_ticks("/proc/self/stat")
}

fn cpu_ticks(path: &str) -> u64 {
    let Ok(st) = fs::read_to_string(path) else {
        return 0;
    };
    // Fields after the ")" of the command name: state is field 3; utime 14, stime 15.
    let Some(rest) = st.rsplit_once(')').map(|x| x.1) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let g = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    g(14) + g(15)
}

/// Busy and total ticks of the whole machine and of each CPU.
#[derive(Clone, Default, Debug)]
pub struct CpuTimes {
    pub all: (u64, u64),
    pub per_cpu: Vec<(u64, u64)>,
    /// Ticks the hypervisor ran someone else while this VM wanted the CPU
    /// (both CPUs together).
    pub steal: u64,
}

pub fn cpu_times() -> CpuTimes {
    let mut t = CpuTimes::default();
    let Ok(st) = fs::read_to_string("/proc/stat") else {
        return t;
    };
    for l in st.lines() {
        if !l.starts_with("cpu") {
            continue;
        }
        let mut it = l.split_whitespace();
        let name = it.next().unwrap_or("");
        let v: Vec<u64> = it.map(|x| x.parse().unwrap_or(0)).collect();
        if v.len() < 5 {
            continue;
        }
        let total: u64 = v.iter().take(8).sum();
        let idle = v[3] + v[4];
        let busy = total - idle;
        if name == "cpu" {
            t.all = (busy, total);
            t.steal = v.get(7).copied().unwrap_or(0);
        } else {
            t.per_cpu.push((busy, total));
        }
    }
    t
}

pub fn loadavg() -> f64 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// CPU shares over an interval between two snapshots, in percent of one CPU.
#[derive(Clone, Copy, Default, Debug)]
pub struct CpuShare {
    pub server: f64,
    pub tool: f64,
    /// Everything else on the machine (other builders), both CPUs together;
    /// includes `steal`.
    pub others: f64,
    /// Time the hypervisor took from this VM, both CPUs together.
    pub steal: f64,
    pub cpu0_busy: f64,
    pub cpu1_busy: f64,
}

#[derive(Clone, Default, Debug)]
pub struct CpuSnap {
    pub server: u64,
    pub tool: u64,
    pub machine: CpuTimes,
}

pub fn snap(pid: u32) -> CpuSnap {
    CpuSnap {
        server: sample(pid).cpu_ticks,
        tool: self_cpu_ticks(),
        machine: cpu_times(),
    }
}

pub fn share(a: &CpuSnap, b: &CpuSnap) -> CpuShare {
    let ncpu = b.machine.per_cpu.len().max(1) as f64;
    let wall_ticks = (b.machine.all.1.saturating_sub(a.machine.all.1)) as f64 / ncpu;
    if wall_ticks <= 0.0 {
        return CpuShare::default();
    }
    let pct = |x: u64| 100.0 * x as f64 / wall_ticks;
    let server = b.server.saturating_sub(a.server);
    let tool = b.tool.saturating_sub(a.tool);
    let busy = b.machine.all.0.saturating_sub(a.machine.all.0);
    let per = |i: usize| {
        let (Some(x), Some(y)) = (a.machine.per_cpu.get(i), b.machine.per_cpu.get(i)) else {
            return 0.0;
        };
        let t = y.1.saturating_sub(x.1) as f64;
        if t > 0.0 {
            100.0 * y.0.saturating_sub(x.0) as f64 / t
        } else {
            0.0
        }
    };
    CpuShare {
        server: pct(server),
        tool: pct(tool),
        others: pct(busy.saturating_sub(server + tool)),
        steal: pct(b.machine.steal.saturating_sub(a.machine.steal)),
        cpu0_busy: per(0),
        cpu1_busy: per(1),
    }
}

/// Percentile (0..=100) of sorted values.
pub fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Puts the calling thread at SCHED_FIFO priority 10 (the observers' thread:
/// see `soak::start_observer`). Says so on stderr when it cannot.
pub fn set_realtime() {
    let p = libc::sched_param { sched_priority: 10 };
    // SAFETY: plain syscall on the calling thread with a valid parameter.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &p) };
    if rc != 0 {
        eprintln!(
            "observer thread: SCHED_FIFO refused ({}); it runs at normal priority",
            std::io::Error::last_os_error()
        );
    }
}
