//! The abuse benchmark: background residents talking, the observers (four
//! by default, in #r0-#r3, on a SCHED_FIFO thread) timing their round trips,
//! and phases quiet, flood, quiet, members, slow, members, quiet, storm,
//! quiet, garbage, quiet, oper (repeated `rounds` times, then a last quiet).
//! "members" is the slow readers' control: the same 20 clients from the same
//! addresses, reading (`--slow-control 0`: none, slow against the quiet
//! phases). The garbage phase leaves OPER out (`--garbage-skip`, default
//! "OPER"): wrong OPER attempts cost a bcrypt each and have their own phase.
//! Each abuse phase's p99 is compared with the mean of the p99s of the
//! phases before and after it (quiet ones; the members for slow).

use std::{
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    thread::sleep,
    time::Duration,
};

use tokio::task::JoinHandle;

use crate::{
    Args,
    proc::{self, CpuShare, pct},
    runtime,
    soak::{ms, obs_window, start_observer, start_residents},
    workers::{self, Ctx},
};

struct Phase {
    round: u32,
    name: &'static str,
    t0: f64,
    t1: f64,
    samples: usize,
    lost: u64,
    p50: u64,
    p99: u64,
    max: u64,
    cpu: CpuShare,
    load: f64,
    note: String,
}

pub fn run(a: &Args) -> bool {
    let addr: SocketAddr = a.s("addr", "127.0.0.1:16767").parse().expect("--addr");
    let pid: u32 = a.get("pid", 0);
    let residents: u32 = a.get("residents", 200);
    let per_chan: u32 = a.get("per-chan", 20);
    let every = Duration::from_millis(a.get("every-ms", 500));
    let pad: usize = a.get("pad", 40);
    let phase = Duration::from_secs(a.get("phase", 20));
    let gap = Duration::from_secs(a.get("gap", 2));
    let rounds: u32 = a.get("rounds", 3);
    let obs_every = Duration::from_millis(a.get("obs-ms", 10));
    let flooders: u32 = a.get("flooders", 4);
    let slow: u32 = a.get("slow", 20);
    let garbage: u32 = a.get("garbage", 10);
    let garbage_rate: f64 = a.get("garbage-rate", 5.0);
    let storm_rate: f64 = a.get("storm-rate", 500.0);
    let storm_inflight: usize = a.get("storm-inflight", 64);
    let opers: u32 = a.get("opers", 4);
    // Which abuses run, in this order, each after a quiet phase (all five
    // by default; `--abuses storm` alone for a quick look at one).
    let all = ["flood", "slow", "storm", "garbage", "oper"];
    let chosen = a.s("abuses", "flood,slow,storm,garbage,oper");
    let abuses: Vec<&'static str> = all
        .into_iter()
        .filter(|x| chosen.split(',').any(|c| c == *x))
        .collect();
    if abuses.is_empty() {
        eprintln!("--abuses: none of {all:?} in {chosen:?}");
        return false;
    }
    let limit: f64 = a.get("limit", 1.10);
    let observers: u32 = a.get("observers", 4);
    let realtime: bool = a.get::<u8>("obs-rt", 1) == 1;
    let slow_control: bool = a.get::<u8>("slow-control", 1) == 1;
    let chans = residents.div_ceil(per_chan);
    if observers == 0 || observers > chans {
        eprintln!("--observers: 1 to {chans} (one per resident channel)");
        return false;
    }
    let busy: String = (0..chans)
        .map(|i| format!("#r{i}"))
        .collect::<Vec<_>>()
        .join(",");

    let rt = runtime();
    let skip: Vec<String> = a
        .s("garbage-skip", "OPER")
        .split(',')
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect();
    let ctx = Ctx::new(addr, residents, per_chan, skip);
    if !start_residents(&rt, &ctx, every, pad) {
        return false;
    }
    ctx.talking.store(true, Relaxed);
    let who: Vec<(String, String)> = (0..observers)
        .map(|i| (format!("obs{i}"), format!("#r{i}")))
        .collect();
    let (obs_rt, obs_stop) = start_observer(&ctx, &who, obs_every, realtime);
    eprintln!("warming up 10 s");
    sleep(Duration::from_secs(10));

    let mut plan: Vec<(u32, &'static str)> = Vec::new();
    for r in 1..=rounds {
        for &p in &abuses {
            plan.push((r, "quiet"));
            // The slow readers' control: the same clients reading, before
            // and after (the slow ratio is against these two).
            if p == "slow" && slow_control {
                plan.push((r, "members"));
                plan.push((r, p));
                plan.push((r, "members"));
            } else {
                plan.push((r, p));
            }
        }
    }
    plan.push((rounds, "quiet"));
    let mut phases: Vec<Phase> = Vec::new();
    let counters = |c: &workers::Counters| -> Vec<u64> {
        let g = |x: &AtomicU64| x.load(Relaxed);
        vec![
            g(&c.flood_sessions),
            g(&c.flood_lines),
            g(&c.flood_killed),
            g(&c.slow_sessions),
            g(&c.slow_dropped),
            g(&c.storm_attempts),
            g(&c.storm_refused),
            g(&c.storm_accepted),
            g(&c.storm_other) + g(&c.storm_connect_err),
            g(&c.garbage_sessions),
            g(&c.garbage_lines),
            g(&c.garbage_killed),
            g(&c.abuse_refused),
            g(&c.oper_sessions),
            g(&c.oper_lines),
            g(&c.member_sessions),
            g(&c.member_dropped),
        ]
    };
    for (round, name) in plan {
        let before = counters(&ctx.c);
        let s0 = proc::snap(pid);
        let t0 = ctx.t0.elapsed().as_secs_f64();
        let mut tasks: Vec<JoinHandle<()>> = Vec::new();
        match name {
            "flood" => {
                for id in 0..flooders {
                    tasks.push(rt.spawn(workers::flooder(
                        ctx.clone(),
                        id + 1000 * round,
                        "#r0".into(),
                    )));
                }
            }
            "slow" => {
                for id in 0..slow {
                    tasks.push(rt.spawn(workers::slow_reader(
                        ctx.clone(),
                        id + 1000 * round,
                        busy.clone(),
                        false,
                    )));
                }
            }
            "members" => {
                // The slow readers' addresses (+500: 500 % 250 == 0), other nicks.
                for id in 0..slow {
                    tasks.push(rt.spawn(workers::slow_reader(
                        ctx.clone(),
                        id + 1000 * round + 500,
                        busy.clone(),
                        true,
                    )));
                }
            }
            "storm" => {
                let from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
                tasks.push(rt.spawn(workers::storm(
                    ctx.clone(),
                    from,
                    storm_rate,
                    storm_inflight,
                )));
            }
            "garbage" => {
                for id in 0..garbage {
                    tasks.push(rt.spawn(workers::garbage(
                        ctx.clone(),
                        id + 1000 * round,
                        garbage_rate,
                    )));
                }
            }
            "oper" => {
                for id in 0..opers {
                    // Fresh addresses each round: a round measures wrong
                    // passwords that get hashed, not only refusals of
                    // addresses still throttled from the round before.
                    tasks.push(
                        rt.spawn(workers::oper_guesser(ctx.clone(), id + opers * (round - 1))),
                    );
                }
            }
            _ => {}
        }
        sleep(phase);
        let t1 = ctx.t0.elapsed().as_secs_f64();
        let s1 = proc::snap(pid);
        for t in &tasks {
            t.abort();
        }
        let after = counters(&ctx.c);
        let d: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
        let note = match name {
            "flood" => format!(
                "{} sessions, {} lines written, {} ended by ERROR, {} refused",
                d[0], d[1], d[2], d[12]
            ),
            "slow" => format!("{} sessions, {} dropped by the server", d[3], d[4]),
            "members" => format!("{} reading members, {} dropped", d[15], d[16]),
            "storm" => format!(
                "{} attempts ({:.0}/s), {} refused, {} registered, {} other",
                d[5],
                d[5] as f64 / phase.as_secs_f64(),
                d[6],
                d[7],
                d[8]
            ),
            "garbage" => format!(
                "{} sessions, {} lines, {} ended by ERROR, {} refused",
                d[9], d[10], d[11], d[12]
            ),
            "oper" => format!(
                "{} sessions, {} OPER lines, {} refused",
                d[13], d[14], d[12]
            ),
            _ => String::new(),
        };
        let (w, lost) = obs_window(&ctx, t0, t1);
        let p = Phase {
            round,
            name,
            t0,
            t1,
            samples: w.len(),
            lost,
            p50: pct(&w, 50.0),
            p99: pct(&w, 99.0),
            max: pct(&w, 100.0),
            cpu: proc::share(&s0, &s1),
            load: proc::loadavg(),
            note,
        };
        eprintln!(
            "round {} {:8} p50 {} ms p99 {} ms (n={}) server {:.0}% others {:.0}% steal {:.0}% load {:.2} {}",
            p.round,
            p.name,
            ms(p.p50),
            ms(p.p99),
            p.samples,
            p.cpu.server,
            p.cpu.others,
            p.cpu.steal,
            p.load,
            p.note
        );
        phases.push(p);
        // Not counted: the abusers' sockets closing.
        sleep(gap);
    }
    obs_stop.store(true, Relaxed);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Phases ({} s each, {} observers in #r0-#r{}, each every {} ms{}, {} residents in {} channels each sending every {} ms)\n",
        phase.as_secs(),
        observers,
        observers - 1,
        obs_every.as_millis(),
        if realtime {
            " on a SCHED_FIFO thread"
        } else {
            ""
        },
        residents,
        chans,
        every.as_millis()
    );
    let _ = writeln!(
        out,
        "| round | phase | samples | lost | p50 (ms) | p99 (ms) | max (ms) | p99 / phases around (quiet; members for slow) | server CPU | tool CPU | others' CPU | of which steal | CPU0 busy | CPU1 busy | load 1m | abuse |"
    );
    let _ = writeln!(
        out,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let mut ratios: Vec<(&str, f64, f64)> = Vec::new();
    // With the control: slow and its members against the quiet phases
    // around the three (what 20 more members cost, reading or not).
    let mut slow_vs_quiet: Vec<(f64, f64)> = Vec::new();
    for (i, p) in phases.iter().enumerate() {
        if p.name == "slow" && slow_control && i >= 2 && i + 2 < phases.len() {
            let q = (phases[i - 2].p99 + phases[i + 2].p99) as f64 / 2.0;
            let m = (phases[i - 1].p99 + phases[i + 1].p99) as f64 / 2.0;
            slow_vs_quiet.push((p.p99 as f64 / q, m / q));
        }
        let ratio = if !matches!(p.name, "quiet" | "members") && i > 0 && i + 1 < phases.len() {
            let base = (phases[i - 1].p99 + phases[i + 1].p99) as f64 / 2.0;
            let base50 = (phases[i - 1].p50 + phases[i + 1].p50) as f64 / 2.0;
            let r = p.p99 as f64 / base;
            ratios.push((p.name, r, p.p50 as f64 / base50));
            format!("{r:.3}")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.0} % | {:.0} % | {:.0} % | {:.0} % | {:.0} % | {:.0} % | {:.2} | {} |",
            p.round,
            p.name,
            p.samples,
            p.lost,
            ms(p.p50),
            ms(p.p99),
            ms(p.max),
            ratio,
            p.cpu.server,
            p.cpu.tool,
            p.cpu.others,
            p.cpu.steal,
            p.cpu.cpu0_busy,
            p.cpu.cpu1_busy,
            p.load,
            p.note
        );
    }
    let mut quiet: Vec<u64> = phases
        .iter()
        .filter(|p| p.name == "quiet")
        .map(|p| p.p99)
        .collect();
    quiet.sort_unstable();
    let _ = writeln!(
        out,
        "\nQuiet p99 across the {} quiet phases: min {} ms, median {} ms, max {} ms.",
        quiet.len(),
        ms(quiet[0]),
        ms(quiet[quiet.len() / 2]),
        ms(quiet[quiet.len() - 1])
    );
    let _ = writeln!(
        out,
        "\n## Abuse p99 / quiet p99 around it, per round{}\n",
        if slow_control {
            " (slow: against its control, the same 20 clients reading, before and after)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "| abuse | rounds (p99 ratio) | median | spread (max - min) | p50 ratios | within {:.0} % (median) |",
        (limit - 1.0) * 100.0
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    let mut ok = true;
    for &name in &abuses {
        let mut r: Vec<f64> = ratios.iter().filter(|x| x.0 == name).map(|x| x.1).collect();
        let r50: Vec<String> = ratios
            .iter()
            .filter(|x| x.0 == name)
            .map(|x| format!("{:.3}", x.2))
            .collect();
        let shown: Vec<String> = r.iter().map(|x| format!("{x:.3}")).collect();
        r.sort_by(f64::total_cmp);
        let med = r[r.len() / 2];
        let pass = med <= limit;
        ok &= pass;
        let _ = writeln!(
            out,
            "| {name} | {} | {med:.3} | {:.3} | {} | {} |",
            shown.join(", "),
            r[r.len() - 1] - r[0],
            r50.join(", "),
            if pass { "PASS" } else { "FAIL" }
        );
    }
    if !slow_vs_quiet.is_empty() {
        let med = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let show = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let s: Vec<f64> = slow_vs_quiet.iter().map(|x| x.0).collect();
        let m: Vec<f64> = slow_vs_quiet.iter().map(|x| x.1).collect();
        let _ = writeln!(
            out,
            "\nNot the criterion, against the quiet phases around the three: slow {} (median {:.3}); its reading members {} (median {:.3}).",
            show(&s),
            med(s.clone()),
            show(&m),
            med(m.clone())
        );
    }
    // Pooled over the rounds: every sample of every phase of a kind (a
    // phase's p99 rests on its few dozen slowest samples; pooling is steadier).
    let _ = writeln!(out, "\n## Pooled over the rounds\n");
    let _ = writeln!(
        out,
        "| phase | samples | p50 (ms) | p99 (ms) | p99.9 (ms) | p99 / quiet p99 |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    let pooled = |name: &str| -> Vec<u64> {
        let mut v: Vec<u64> = Vec::new();
        for p in phases.iter().filter(|p| p.name == name) {
            v.extend(obs_window(&ctx, p.t0, p.t1).0);
        }
        v.sort_unstable();
        v
    };
    let q = pooled("quiet");
    let mut kinds: Vec<&str> = vec!["quiet"];
    if slow_control && abuses.contains(&"slow") {
        kinds.push("members");
    }
    kinds.extend(abuses.iter().copied());
    for name in kinds {
        let v = pooled(name);
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {:.3} |",
            v.len(),
            ms(pct(&v, 50.0)),
            ms(pct(&v, 99.0)),
            ms(pct(&v, 99.9)),
            pct(&v, 99.0) as f64 / pct(&q, 99.0).max(1) as f64
        );
    }
    if slow_control && abuses.contains(&"slow") {
        let _ = writeln!(
            out,
            "\nPooled slow p99 / pooled members p99 (its control): {:.3}.",
            pct(&pooled("slow"), 99.0) as f64 / pct(&pooled("members"), 99.0).max(1) as f64
        );
    }
    let lost: u64 = phases.iter().map(|p| p.lost).sum();
    let res_lost = ctx
        .resident_expected()
        .saturating_sub(ctx.c.resident_recv.load(Relaxed));
    let _ = writeln!(
        out,
        "\nObserver messages lost (no echo within 5 s): {lost}. Resident messages not yet received at the end (in flight, no drain): {res_lost}; gaps {}, duplicates {}, residents dropped {}.",
        ctx.c.resident_gaps.load(Relaxed),
        ctx.c.resident_dups.load(Relaxed),
        ctx.c.resident_dropped.load(Relaxed)
    );
    let mut errs: Vec<(String, u64)> = ctx
        .c
        .errors_seen
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    errs.sort_by_key(|e| std::cmp::Reverse(e.1));
    let _ = writeln!(out, "\nERROR lines the abusers received, by reason:\n");
    for (k, v) in errs {
        let _ = writeln!(out, "- {v} x `{}`", k.trim());
    }
    print!("{out}");
    if let Some(dir) = a.0.get("out") {
        let _ = std::fs::write(format!("{dir}/abuse-summary.md"), &out);
        let o = ctx.obs.lock().unwrap();
        let mut csv = String::from("t,rtt_us\n");
        for (t, r) in o.iter() {
            let _ = writeln!(csv, "{t:.3},{r}");
        }
        let _ = std::fs::write(format!("{dir}/abuse-observer.csv"), csv);
        let mut pc = String::from("round,phase,t0,t1\n");
        for p in &phases {
            let _ = writeln!(pc, "{},{},{:.3},{:.3}", p.round, p.name, p.t0, p.t1);
        }
        let _ = std::fs::write(format!("{dir}/abuse-phases.csv"), pc);
    }
    drop(obs_rt);
    rt.shutdown_background();
    ok && lost == 0
}
