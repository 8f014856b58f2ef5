//! The soak: residents, churners, abusers and the observer for a duration;
//! samples every few seconds; a table and the criteria at the end.

use std::{
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    thread::sleep,
    time::{Duration, Instant},
};

use tokio::{runtime::Runtime, task::JoinHandle};

use crate::{
    Args,
    proc::{self, CpuShare, ProcSample, pct},
    runtime,
    workers::{self, Ctx},
};

/// Starts `n` residents (2 ms apart) and waits until all have joined.
pub fn start_residents(rt: &Runtime, ctx: &Arc<Ctx>, every: Duration, pad: usize) -> bool {
    let n = ctx.sent.len() as u32;
    for id in 0..n {
        let ctx = ctx.clone();
        rt.spawn(async move {
            tokio::time::sleep(Duration::from_millis(2 * id as u64)).await;
            workers::resident(ctx, id, every, pad).await
        });
    }
    let t = Instant::now();
    while ctx.c.resident_up.load(Relaxed) < n as u64 {
        if t.elapsed() > Duration::from_secs(180) || ctx.c.resident_dropped.load(Relaxed) > 0 {
            eprintln!(
                "residents: {} of {n} joined ({} failed)",
                ctx.c.resident_up.load(Relaxed),
                ctx.c.resident_dropped.load(Relaxed)
            );
            return false;
        }
        sleep(Duration::from_millis(100));
    }
    eprintln!(
        "residents: {n} joined in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    true
}

/// Starts the observers (`(nick, channel)` each) on a runtime of their own
/// (its own thread), so the load's work never delays their reads. With
/// `realtime`, that thread runs at SCHED_FIFO (root only; a warning
/// otherwise): on a two-CPU machine the observers share a CPU with the load
/// generator, and a woken observer must not wait for the abusers' own
/// threads, whose CPU time is the tool's and not the server's.
pub fn start_observer(
    ctx: &Arc<Ctx>,
    who: &[(String, String)],
    every: Duration,
    realtime: bool,
) -> (Runtime, Arc<AtomicBool>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .on_thread_start(move || {
            if realtime {
                crate::proc::set_realtime();
            }
        })
        .build()
        .expect("observer runtime");
    let stop = Arc::new(AtomicBool::new(false));
    // Staggered: observer i sends at i/n of the period.
    let n = who.len().max(1) as u32;
    for (i, (nick, chan)) in who.iter().enumerate() {
        rt.spawn(workers::observer(
            ctx.clone(),
            nick.clone(),
            chan.clone(),
            every,
            every * i as u32 / n,
            stop.clone(),
        ));
    }
    (rt, stop)
}

/// Round trips (µs) observed in [from, to) seconds since t0, and how many were lost.
pub fn obs_window(ctx: &Ctx, from: f64, to: f64) -> (Vec<u64>, u64) {
    let o = ctx.obs.lock().unwrap();
    let mut v: Vec<u64> = Vec::new();
    let mut lost = 0;
    for &(t, r) in o.iter().filter(|(t, _)| *t >= from && *t < to) {
        let _ = t;
        if r == u64::MAX {
            lost += 1;
        } else {
            v.push(r);
        }
    }
    v.sort_unstable();
    (v, lost)
}

pub fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

struct Row {
    t: f64,
    p: ProcSample,
    cpu: CpuShare,
    load: f64,
    residents: u64,
    churners: u64,
    p50: u64,
    p99: u64,
}

pub fn run(a: &Args) -> bool {
    let addr: SocketAddr = a.s("addr", "127.0.0.1:16767").parse().expect("--addr");
    let pid: u32 = a.get("pid", 0);
    let duration = Duration::from_secs(a.get("duration", 600));
    let warmup: f64 = a.get("warmup", 120.0);
    let sample = Duration::from_secs(a.get("sample", 5));
    let residents: u32 = a.get("residents", 1200);
    let per_chan: u32 = a.get("per-chan", 20);
    let every = Duration::from_millis(a.get("every-ms", 3000));
    let pad: usize = a.get("pad", 40);
    let churners: u32 = a.get("churners", 700);
    let churn_chans: u32 = a.get("churn-chans", 200);
    let flooders: u32 = a.get("flooders", 10);
    let slow: u32 = a.get("slow", 20);
    let garbage: u32 = a.get("garbage", 20);
    let garbage_rate: f64 = a.get("garbage-rate", 5.0);
    let storm_rate: f64 = a.get("storm-rate", 20.0);
    let storm_inflight: usize = a.get("storm-inflight", 32);
    let obs_every = Duration::from_millis(a.get("obs-ms", 100));
    let res_chans = residents.div_ceil(per_chan);

    let rt = runtime();
    let skip: Vec<String> = a
        .s("garbage-skip", "")
        .split(',')
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect();
    let ctx = Ctx::new(addr, residents, per_chan, skip);
    if !start_residents(&rt, &ctx, every, pad) {
        return false;
    }
    ctx.talking.store(true, Relaxed);
    let talk_t0 = ctx.t0.elapsed().as_secs_f64();
    let (obs_rt, obs_stop) =
        start_observer(&ctx, &[("obs".into(), "#r0".into())], obs_every, false);
    let mut load: Vec<JoinHandle<()>> = Vec::new();
    for id in 0..churners {
        let ctx = ctx.clone();
        load.push(rt.spawn(async move {
            tokio::time::sleep(Duration::from_millis(5 * id as u64)).await;
            workers::churner(ctx, id, res_chans, churn_chans).await
        }));
    }
    let all: String = (0..res_chans.min(10))
        .map(|i| format!("#r{i}"))
        .collect::<Vec<_>>()
        .join(",");
    for id in 0..flooders {
        load.push(rt.spawn(workers::flooder(
            ctx.clone(),
            id,
            format!("#r{}", id % res_chans),
        )));
    }
    for id in 0..slow {
        load.push(rt.spawn(workers::slow_reader(ctx.clone(), id, all.clone(), false)));
    }
    for id in 0..garbage {
        load.push(rt.spawn(workers::garbage(ctx.clone(), id, garbage_rate)));
    }
    let storm_from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    load.push(rt.spawn(workers::storm(
        ctx.clone(),
        storm_from,
        storm_rate,
        storm_inflight,
    )));

    let mut rows: Vec<Row> = Vec::new();
    let start = Instant::now();
    let mut snap = proc::snap(pid);
    let mut server_died = false;
    while start.elapsed() < duration {
        sleep(sample);
        let p = proc::sample(pid);
        let s2 = proc::snap(pid);
        let t = ctx.t0.elapsed().as_secs_f64() - talk_t0;
        let (w, _) = obs_window(&ctx, talk_t0 + t - sample.as_secs_f64(), talk_t0 + t);
        rows.push(Row {
            t,
            p,
            cpu: proc::share(&snap, &s2),
            load: proc::loadavg(),
            residents: ctx.c.resident_up.load(Relaxed),
            churners: ctx.c.churn_up.load(Relaxed),
            p50: pct(&w, 50.0),
            p99: pct(&w, 99.0),
        });
        snap = s2;
        if !p.alive || p.rss_kb == 0 {
            server_died = true;
            eprintln!("the server is gone");
            break;
        }
        if rows.len().is_multiple_of(6) {
            let r = rows.last().unwrap();
            eprintln!(
                "t={:.0}s rss={} KB fds={} threads={} residents={} churners={} obs p99={} ms cpu server={:.0}% others={:.0}%",
                r.t,
                r.p.rss_kb,
                r.p.fds,
                r.p.threads,
                r.residents,
                r.churners,
                ms(r.p99),
                r.cpu.server,
                r.cpu.others
            );
        }
    }
    // Stop: no more churn or abuse, residents stop talking, then a drain.
    for h in &load {
        h.abort();
    }
    ctx.talking.store(false, Relaxed);
    let end_t = ctx.t0.elapsed().as_secs_f64();
    sleep(Duration::from_secs(10));
    obs_stop.store(true, Relaxed);
    let expected = ctx.resident_expected();
    let recv = ctx.c.resident_recv.load(Relaxed);
    let c = &ctx.c;

    // Report.
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Samples (every {} s; showing every 30 s)\n",
        sample.as_secs()
    );
    let _ = writeln!(
        out,
        "| t (s) | RSS (MB) | fds | threads | residents | churners online | observer p50 / p99 (ms) | server CPU | others' CPU | load 1m |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    let step = (30 / sample.as_secs().max(1)).max(1) as usize;
    for r in rows.iter().skip(step - 1).step_by(step) {
        let _ = writeln!(
            out,
            "| {:.0} | {:.1} | {} | {} | {} | {} | {} / {} | {:.0} % | {:.0} % | {:.2} |",
            r.t,
            r.p.rss_kb as f64 / 1024.0,
            r.p.fds,
            r.p.threads,
            r.residents,
            r.churners,
            ms(r.p50),
            ms(r.p99),
            r.cpu.server,
            r.cpu.others,
            r.load
        );
    }
    let post: Vec<&Row> = rows.iter().filter(|r| r.t >= warmup).collect();
    // Over single samples, and over one-minute means (the criterion: a
    // sample also counts the connections in flight at that instant, churn
    // and storm, which come and go within seconds).
    let per_min = (60 / sample.as_secs().max(1)).max(1) as usize;
    let flat_w = |f: &dyn Fn(&Row) -> f64, w: usize| -> (f64, f64, f64, f64, f64) {
        let raw: Vec<f64> = post.iter().map(|r| f(r)).collect();
        let mut v: Vec<f64> = raw
            .chunks(w)
            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            .collect();
        if v.is_empty() {
            return (0.0, 0.0, 0.0, 100.0, 100.0);
        }
        let n = v.len();
        let k = (n / 10).max(1);
        let first: f64 = v[..k].iter().sum::<f64>() / k as f64;
        let last: f64 = v[n - k..].iter().sum::<f64>() / k as f64;
        v.sort_by(f64::total_cmp);
        let med = v[n / 2];
        let dev = v
            .iter()
            .map(|x| (x - med).abs() / med * 100.0)
            .fold(0.0, f64::max);
        let drift = (last - first) / first * 100.0;
        (v[0], med, v[n - 1], dev, drift)
    };
    let flat = |f: &dyn Fn(&Row) -> f64| flat_w(f, 1);
    let rss = flat(&|r| r.p.rss_kb as f64);
    let fds = flat(&|r| r.p.fds as f64);
    let thr = flat(&|r| r.p.threads as f64);
    let rss_m = flat_w(&|r| r.p.rss_kb as f64, per_min);
    let fds_m = flat_w(&|r| r.p.fds as f64, per_min);
    let (ow, olost) = obs_window(&ctx, talk_t0 + warmup, end_t);
    let (ow_all, olost_all) = obs_window(&ctx, 0.0, f64::MAX);
    let lost = expected.saturating_sub(recv);
    let ok_rss = rss_m.3 <= 5.0;
    let ok_fds = fds_m.3 <= 5.0;
    let ok_lost = lost == 0
        && c.resident_gaps.load(Relaxed) == 0
        && c.resident_dups.load(Relaxed) == 0
        && c.resident_dropped.load(Relaxed) == 0
        && olost_all == 0
        && c.churn_missing.load(Relaxed) == 0;
    let pf = |b: bool| if b { "PASS" } else { "FAIL" };
    let _ = writeln!(
        out,
        "\n## After warm-up ({warmup:.0} s): {} samples\n",
        post.len()
    );
    let _ = writeln!(
        out,
        "| measure | min | median | max | max deviation from median | drift (last 10 % vs first 10 %) | criterion |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    let _ = writeln!(
        out,
        "| RSS (KB), samples | {:.0} | {:.0} | {:.0} | {:.2} % | {:+.2} % | |",
        rss.0, rss.1, rss.2, rss.3, rss.4
    );
    let _ = writeln!(
        out,
        "| RSS (KB), 1-minute means | {:.0} | {:.0} | {:.0} | {:.2} % | {:+.2} % | {} (within 5 %) |",
        rss_m.0,
        rss_m.1,
        rss_m.2,
        rss_m.3,
        rss_m.4,
        pf(ok_rss)
    );
    let _ = writeln!(
        out,
        "| fds, samples | {:.0} | {:.0} | {:.0} | {:.2} % | {:+.2} % | |",
        fds.0, fds.1, fds.2, fds.3, fds.4
    );
    let _ = writeln!(
        out,
        "| fds, 1-minute means | {:.0} | {:.0} | {:.0} | {:.2} % | {:+.2} % | {} (within 5 %) |",
        fds_m.0,
        fds_m.1,
        fds_m.2,
        fds_m.3,
        fds_m.4,
        pf(ok_fds)
    );
    let _ = writeln!(
        out,
        "| threads, samples | {:.0} | {:.0} | {:.0} | {:.2} % | {:+.2} % | |",
        thr.0, thr.1, thr.2, thr.3, thr.4
    );
    let _ = writeln!(
        out,
        "\n## Observer (PRIVMSG to #r0 until its echo, every {} ms)\n",
        obs_every.as_millis()
    );
    let _ = writeln!(
        out,
        "| window | samples | lost | p50 (ms) | p90 (ms) | p99 (ms) | p99.9 (ms) | max (ms) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for (name, w, l) in [
        ("after warm-up", &ow, olost),
        ("whole run", &ow_all, olost_all),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {} | {l} | {} | {} | {} | {} | {} |",
            w.len(),
            ms(pct(w, 50.0)),
            ms(pct(w, 90.0)),
            ms(pct(w, 99.0)),
            ms(pct(w, 99.9)),
            ms(pct(w, 100.0))
        );
    }
    let g = |x: &std::sync::atomic::AtomicU64| x.load(Relaxed);
    let _ = writeln!(out, "\n## Clients\n");
    let _ = writeln!(out, "| what | count |\n|---|---|");
    let _ = writeln!(
        out,
        "| resident messages expected (sent x other residents of the channel) | {expected} |"
    );
    let _ = writeln!(out, "| resident messages received | {recv} |");
    let _ = writeln!(
        out,
        "| lost / out of order gaps / duplicates / residents dropped | {lost} / {} / {} / {} |",
        g(&c.resident_gaps),
        g(&c.resident_dups),
        g(&c.resident_dropped)
    );
    let _ = writeln!(
        out,
        "| churn cycles completed / failed | {} / {} |",
        g(&c.churn_cycles),
        g(&c.churn_failed)
    );
    let _ = writeln!(
        out,
        "| churner messages sent / echoed / echo missing after 20 s | {} / {} / {} |",
        g(&c.churn_sent),
        g(&c.churn_echoed),
        g(&c.churn_missing)
    );
    let _ = writeln!(
        out,
        "| flooder sessions / lines written / ended by ERROR | {} / {} / {} |",
        g(&c.flood_sessions),
        g(&c.flood_lines),
        g(&c.flood_killed)
    );
    let _ = writeln!(
        out,
        "| slow-reader sessions / dropped by the server | {} / {} |",
        g(&c.slow_sessions),
        g(&c.slow_dropped)
    );
    let _ = writeln!(
        out,
        "| garbage sessions / lines / ended by ERROR | {} / {} / {} |",
        g(&c.garbage_sessions),
        g(&c.garbage_lines),
        g(&c.garbage_killed)
    );
    let _ = writeln!(
        out,
        "| abuser registrations refused | {} |",
        g(&c.abuse_refused)
    );
    let _ = writeln!(
        out,
        "| storm attempts / refused with ERROR / registered / other / connect errors | {} / {} / {} / {} / {} |",
        g(&c.storm_attempts),
        g(&c.storm_refused),
        g(&c.storm_accepted),
        g(&c.storm_other),
        g(&c.storm_connect_err)
    );
    let mut errs: Vec<(String, u64)> = c
        .errors_seen
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    errs.sort_by_key(|e| std::cmp::Reverse(e.1));
    let _ = writeln!(out, "\nERROR lines received, by reason:\n");
    for (k, v) in errs {
        let _ = writeln!(out, "- {v} x `{}`", k.trim());
    }
    let _ = writeln!(out, "\n## Criteria\n");
    let _ = writeln!(out, "| criterion | result |\n|---|---|");
    let _ = writeln!(
        out,
        "| RSS flat within 5 % after warm-up (1-minute means; single samples {:.2} %) | {} ({:.2} %) |",
        rss.3,
        pf(ok_rss),
        rss_m.3
    );
    let _ = writeln!(
        out,
        "| fd count flat within 5 % after warm-up (1-minute means; single samples {:.2} %) | {} ({:.2} %) |",
        fds.3,
        pf(ok_fds),
        fds_m.3
    );
    let _ = writeln!(
        out,
        "| 0 lost messages for well-behaved clients | {} ({lost} resident, {} churner, {olost_all} observer) |",
        pf(ok_lost),
        g(&c.churn_missing)
    );
    let _ = writeln!(out, "| server alive at the end | {} |", pf(!server_died));
    let _ = writeln!(
        out,
        "| observer p50 / p99 after warm-up | {} / {} ms |",
        ms(pct(&ow, 50.0)),
        ms(pct(&ow, 99.0))
    );
    print!("{out}");
    if let Some(dir) = a.0.get("out") {
        let mut csv = String::from(
            "t,rss_kb,fds,threads,residents,churners,obs_p50_us,obs_p99_us,server_cpu,others_cpu,load1\n",
        );
        for r in &rows {
            let _ = writeln!(
                csv,
                "{:.1},{},{},{},{},{},{},{},{:.1},{:.1},{:.2}",
                r.t,
                r.p.rss_kb,
                r.p.fds,
                r.p.threads,
                r.residents,
                r.churners,
                r.p50,
                r.p99,
                r.cpu.server,
                r.cpu.others,
                r.load
            );
        }
        let _ = std::fs::write(format!("{dir}/soak-samples.csv"), csv);
        let _ = std::fs::write(format!("{dir}/soak-summary.md"), &out);
    }
    drop(obs_rt);
    rt.shutdown_background();
    ok_rss && ok_fds && ok_lost && !server_died
}
