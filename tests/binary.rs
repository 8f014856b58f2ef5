//! The built binary: its command line, signals, and exit codes.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    time::Duration,
};

use crate::common::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_ircd");

#[test]
fn example_config_is_valid_and_documents_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ircd.toml.example");
    let out = Command::new(BIN)
        .args(["check-config", "--config", path])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let example = ircd::Config::load(path.as_ref()).unwrap();
    let defaults = ircd::Config::defaults();
    assert_eq!(example.listen, defaults.listen);
    assert_eq!(
        format!("{:?}", example.limits),
        format!("{:?}", defaults.limits)
    );
    assert_eq!(
        format!("{:?}", example.channels),
        format!("{:?}", defaults.channels)
    );
    assert_eq!(example.server.name, defaults.server.name);
    for (a, b) in [
        (
            format!("{:?}", example.multiline),
            format!("{:?}", defaults.multiline),
        ),
        (
            format!("{:?}", example.relaymsg),
            format!("{:?}", defaults.relaymsg),
        ),
        (
            format!("{:?}", example.read_markers),
            format!("{:?}", defaults.read_markers),
        ),
    ] {
        assert_eq!(a, b);
    }
    assert_eq!(example.history, defaults.history);
}

#[test]
fn bad_config_is_refused_with_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[server]\nname = \"irc.test\"\nbogus = 1\n").unwrap();
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.bogus: unknown field"), "{err}");

    std::fs::write(
        &path,
        "[channels]\nidle_timeout = \"soon\"\n[[listen]]\naddress = \"nowhere\"\n",
    )
    .unwrap();
    // The server itself refuses to start, and says every problem.
    let out = Command::new(BIN)
        .args(["--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("channels.idle_timeout") && err.contains("listen[0].address"),
        "{err}"
    );

    let out = Command::new(BIN)
        .args(["--config", "/nonexistent/ircd.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn mkpasswd_hashes_stdin() {
    let mut child = Command::new(BIN)
        .arg("mkpasswd")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap();
    assert!(bcrypt::verify("correct horse", hash.trim()).unwrap());
    let v = Command::new(BIN).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).contains(env!("CARGO_PKG_VERSION")));
}

/// A running binary with its config folder.
pub struct Proc {
    pub child: std::process::Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary on a free port; `extra` is appended to the config.
pub fn spawn(extra: &str, env: &[(&str, &str)]) -> Proc {
    spawn_full("", extra, env)
}

/// Like [`spawn`], with `server_keys` added to the `[server]` table.
pub fn spawn_full(server_keys: &str, extra: &str, env: &[(&str, &str)]) -> Proc {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let text = config_text(dir.path(), extra)
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"))
        .replacen("[server]\n", &format!("[server]\n{server_keys}"), 1);
    std::fs::write(dir.path().join("ircd.toml"), text).unwrap();
    start_in(dir, port, env)
}

/// Starts the binary again on the same folder and port (a restart).
pub fn respawn(mut p: Proc) -> Proc {
    let dir = std::mem::replace(&mut p.dir, tempfile::tempdir().unwrap());
    let port = p.port;
    drop(p);
    start_in(dir, port, &[])
}

/// Starts the binary on `dir/ircd.toml` and waits for `port`.
fn start_in(dir: tempfile::TempDir, port: u16, env: &[(&str, &str)]) -> Proc {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config")
        .arg(dir.path().join("ircd.toml"))
        .current_dir(dir.path())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = stderr.clone();
    let pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Proc {
                child,
                dir,
                port,
                stderr,
            };
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not listen: {:?}", stderr.lock().unwrap());
}

impl Proc {
    pub fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for the process to exit and returns its status.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        for _ in 0..400 {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = self.child.kill();
        panic!("server did not exit");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_motd_and_sigterm_says_goodbye() {
    let mut p = spawn("", &[]);
    let motd = p.dir.path().join("motd.txt");
    std::fs::write(&motd, "before\n").unwrap();
    let cfg = p.dir.path().join("ircd.toml");
    let text = std::fs::read_to_string(&cfg).unwrap().replacen(
        "[server]\n",
        "[server]\nmotd = \"motd.txt\"\n",
        1,
    );
    std::fs::write(&cfg, &text).unwrap();
    let mut c = TestClient::connect(p.addr()).await;
    c.register("watcher").await;
    assert!(
        c.seen.iter().any(|m| m.command == "422"),
        "no MOTD at start"
    );
    p.signal("-HUP");
    // The reload is asynchronous to us: poll MOTD until it shows.
    let mut shown = false;
    for _ in 0..100 {
        c.send("MOTD").await;
        let m = c
            .expect_match("MOTD reply", |m| m.command == "372" || m.command == "422")
            .await;
        if m.command == "372" {
            assert_eq!(m.last(), "- before");
            shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(shown, "SIGHUP did not load the MOTD");
    // A broken config on SIGHUP is refused; the server keeps running.
    std::fs::write(&cfg, format!("{text}\nnonsense = true\n")).unwrap();
    p.signal("-HUP");
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.send("MOTD").await;
    assert_eq!(c.expect("372").await.last(), "- before");
    assert!(
        p.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("reload refused"))
    );

    p.signal("-TERM");
    let lines = c.expect_closed().await;
    assert!(
        lines
            .iter()
            .any(|m| m.command == "NOTICE" && m.last() == "Server shutting down"),
        "{lines:?}"
    );
    assert_eq!(lines.last().unwrap().command, "ERROR");
    assert!(p.wait().success(), "exit status 0 after SIGTERM");
}

/// Each thread's name, nice value and scheduling policy (0 SCHED_OTHER, 5
/// SCHED_IDLE...), from `/proc/PID/task/*/stat` (fields 19 and 41).
fn thread_nices(pid: u32) -> Vec<(String, i64, u32)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        // A thread may end between the listing and the read.
        let Ok(stat) = std::fs::read_to_string(t.unwrap().path().join("stat")) else {
            continue;
        };
        let (name, rest) = stat.split_once(" (").unwrap().1.rsplit_once(") ").unwrap();
        let fields: Vec<&str> = rest.split(' ').collect();
        let nice = fields[16].parse().unwrap();
        let policy = fields[38].parse().unwrap();
        out.push((name.to_string(), nice, policy));
    }
    out
}

/// A wrong OPER guess costs a bcrypt (cost 12: about 0.25 s of CPU). It
/// runs on a thread of its own (`ircd-hash`) at 10 nice steps below the
/// process, so that under contention the threads serving every client
/// win; those keep the process's priority and scheduling policy, and the
/// pool that ran the job is not lowered (it also runs rehashes, under
/// State's locks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_checks_run_at_low_priority() {
    // Cost 13: the check lasts long enough (about 0.5 s) to be seen.
    let hash = bcrypt::hash("right", 13).unwrap();
    let p = spawn(
        &format!("[[oper]]\nname = \"root\"\npassword = {hash:?}\n"),
        &[],
    );
    let pid = p.child.id();
    // Relative to the process's own priority (the suite may run under nice).
    let (_, base, base_policy) = thread_nices(pid)
        .into_iter()
        .find(|(name, ..)| name == "ircd")
        .unwrap();
    let mut c = TestClient::connect(p.addr()).await;
    c.register("guesser").await;
    c.send("OPER root wrong").await;
    // Watch the threads while the check runs: the thread lowers itself
    // first thing, so it may be seen for a moment before it has.
    let lowered = |(_, n, p): &(String, i64, u32)| *n == (base + 10).min(19) && *p == base_policy;
    let mut seen = None;
    let t0 = std::time::Instant::now();
    while !seen.as_ref().is_some_and(lowered) && t0.elapsed() < Duration::from_secs(20) {
        if let Some(t) = thread_nices(pid)
            .into_iter()
            .find(|(n, ..)| n == "ircd-hash")
        {
            seen = Some(t);
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let seen = seen.expect("no ircd-hash thread while OPER was checked");
    assert!(
        lowered(&seen),
        "the hash thread is not at nice +10: {seen:?}"
    );
    c.expect("464").await;
    let after = thread_nices(pid);
    assert!(
        after
            .iter()
            .all(|(_, n, p)| *n == base && *p == base_policy),
        "{after:?}"
    );
}
