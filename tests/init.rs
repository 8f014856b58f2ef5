//! `ircd init [DIR]`: a first-run folder that the binary serves from, over
//! TCP and TLS, and that a second `ircd init` leaves alone.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use crate::{
    binary::{BIN, free_port},
    common::*,
};

fn init(dir: &Path) -> std::process::Output {
    Command::new(BIN).arg("init").arg(dir).output().unwrap()
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    [
        "ircd.toml",
        "motd.txt",
        "data/tls-cert.pem",
        "data/tls-key.pem",
    ]
    .iter()
    .map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap()))
    .collect()
}

/// Kills the server at the end of the test, whatever happens.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_folder_serves_tcp_and_tls_and_is_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("home");
    let out = init(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The next steps: start, connect, add an oper.
    for want in [
        "ircd --config ircd.toml",
        "127.0.0.1:6667",
        "127.0.0.1:6697",
        "ircd mkpasswd",
        "[[oper]]",
    ] {
        assert!(stdout.contains(want), "no {want:?} in:\n{stdout}");
    }
    let config = std::fs::read_to_string(dir.join("ircd.toml")).unwrap();
    assert!(config.starts_with("# ircd.toml, written by `ircd init`"));
    // Commented like the example: every key of the example is there.
    assert!(config.contains("enforce_ephemeral = false"));
    assert!(config.contains("motd = \"motd.txt\""));
    assert_eq!(
        std::fs::read_to_string(dir.join("motd.txt")).unwrap(),
        ircd::init::MOTD
    );
    let before = snapshot(&dir);
    assert!(String::from_utf8_lossy(&before[2].1).contains("BEGIN CERTIFICATE"));

    // A second init refuses and changes nothing.
    let again = init(&dir);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(snapshot(&dir), before);

    // `ircd --config ircd.toml` from that folder. The example's ports are
    // fixed; other tests run beside this one, so move them to free ones.
    let (plain, tls) = (free_port(), free_port());
    let moved = config
        .replace("127.0.0.1:6667", &format!("127.0.0.1:{plain}"))
        .replace("127.0.0.1:6697", &format!("127.0.0.1:{tls}"));
    std::fs::write(dir.join("ircd.toml"), moved).unwrap();
    let _server = Running(
        Command::new(BIN)
            .args(["--config", "ircd.toml"])
            .current_dir(&dir)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut up = false;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", tls)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(up, "the server did not listen");
    let mut a = TestClient::connect(([127, 0, 0, 1], plain).into()).await;
    a.register("plain").await;
    let mut b = TestClient::connect_tls(([127, 0, 0, 1], tls).into()).await;
    b.register("secure").await;
    assert!(
        b.seen.iter().any(|m| m.command == "372"),
        "the MOTD that init wrote is served"
    );
    a.send("PRIVMSG secure :hello over tls").await;
    assert_eq!(b.expect("PRIVMSG").await.last(), "hello over tls");
    // The server used init's certificate instead of making another.
    let after = snapshot(&dir);
    assert_eq!(after[2..], before[2..]);
}

#[test]
fn init_writes_nothing_when_one_file_exists() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("motd.txt"), "mine\n").unwrap();
    let out = init(tmp.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("motd.txt already exists"), "{err}");
    assert!(!tmp.path().join("ircd.toml").exists());
    assert!(!tmp.path().join("data").exists());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("motd.txt")).unwrap(),
        "mine\n"
    );
}
