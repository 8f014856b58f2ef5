//! ircd-soak: load tool for ircd.
//!
//!   ircd-soak soak  --pid PID [--addr 127.0.0.1:16767] [--duration 600] ...
//!   ircd-soak abuse --pid PID [--addr 127.0.0.1:16767] [--rounds 3] ...
//!
//! `soak`: thousands of clients with churn and abusers for a duration,
//! sampling the server's RSS, descriptors, threads and CPU, and a
//! well-behaved observer's round trip; exits 1 when a criterion fails.
//! `abuse`: the observer's round trip with background traffic, in quiet
//! phases interleaved with flood, slow-reader, connection-storm and garbage
//! phases (and OPER guessing); exits 1 when an abuse phase's p99 is more than 10 % above the
//! quiet phases around it (median over the rounds).
//! Every option is listed by `ircd-soak help`.

mod abuse;
mod irc;
mod proc;
mod soak;
mod workers;

use std::{collections::HashMap, process::exit};

pub struct Args(HashMap<String, String>);

impl Args {
    pub fn get<T: std::str::FromStr>(&self, k: &str, d: T) -> T {
        match self.0.get(k) {
            None => d,
            Some(v) => v.parse().unwrap_or_else(|_| {
                eprintln!("--{k}: cannot read {v:?}");
                exit(2)
            }),
        }
    }
    pub fn s(&self, k: &str, d: &str) -> String {
        self.0.get(k).cloned().unwrap_or_else(|| d.to_string())
    }
}

const HELP: &str = "\
ircd-soak soak|abuse --pid PID [options]
common:  --addr 127.0.0.1:16767  --pid PID (the server, for /proc samples)
         --out DIR (CSV files; default: none)
         --garbage-skip CMD,CMD (garbage lines starting so are not sent, e.g. OPER)
soak:    --duration 600 (s)  --warmup 120 (s)  --sample 5 (s)
         --residents 1200  --per-chan 20  --every-ms 3000  --pad 40
         --churners 700  --churn-chans 200
         --flooders 10  --slow 20  --garbage 20  --garbage-rate 5
         --storm-rate 20  --storm-inflight 32  --obs-ms 100
abuse:   --residents 200  --per-chan 20  --every-ms 500  --pad 40
         --phase 20 (s)  --gap 2 (s, not counted)  --rounds 3  --obs-ms 10
         --abuses flood,slow,storm,garbage,oper (each after a quiet phase)
         --flooders 4  --slow 20  --garbage 10  --garbage-rate 5
         --storm-rate 500  --storm-inflight 64  --opers 4  --limit 1.10
         --observers 4 (in #r0..)  --obs-rt 1 (their thread at SCHED_FIFO)
         --slow-control 1 (slow readers against the same clients reading)
         (abuse: --garbage-skip defaults to OPER, which has its own phase)
";

fn main() {
    let mut it = std::env::args().skip(1);
    let cmd = it.next().unwrap_or_default();
    let mut m = HashMap::new();
    while let Some(k) = it.next() {
        let Some(k) = k.strip_prefix("--") else {
            eprintln!("unexpected {k:?}\n{HELP}");
            exit(2)
        };
        let Some(v) = it.next() else {
            eprintln!("--{k} needs a value");
            exit(2)
        };
        m.insert(k.to_string(), v);
    }
    let a = Args(m);
    let ok = match cmd.as_str() {
        "soak" => soak::run(&a),
        "abuse" => abuse::run(&a),
        _ => {
            print!("{HELP}");
            exit(if cmd == "help" { 0 } else { 2 })
        }
    };
    exit(if ok { 0 } else { 1 })
}

/// One worker thread for the clients (the tool is pinned to one CPU anyway).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}
