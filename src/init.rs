//! `ircd init [DIR]`: first-run setup. Writes a commented `ircd.toml`, a
//! MOTD, the data directory and a self-signed TLS certificate into a folder,
//! and prints what to do next.
//!
//! The config is `ircd.toml.example` itself with the few lines that name
//! files pointed at the new folder (see [`render`]), so the first config a
//! user gets documents every key exactly as the example does and cannot drift
//! from it. The Debian package's `/etc/ircd/ircd.toml` is rendered the same
//! way (a unit test keeps the checked-in copy equal).
//!
//! **Invariant:** nothing that exists is overwritten. Every file is checked
//! before anything is written, and each is then opened with `create_new`, so
//! a second `ircd init` (or a race with another one) fails without touching
//! the first one's files.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
};

use crate::{
    config::{Config, ListenTls},
    net::tls,
};

/// The source of every config this module writes.
pub const EXAMPLE: &str = include_str!("../ircd.toml.example");
/// The MOTD written next to the config.
pub const MOTD: &str = include_str!("../conf/motd.txt");

/// File names inside the folder.
pub const CONFIG_FILE: &str = "ircd.toml";
pub const MOTD_FILE: &str = "motd.txt";
pub const DATA_DIR: &str = "data";
/// The header of the config that `ircd init` writes.
pub const INIT_ORIGIN: &str = "ircd.toml, written by `ircd init`";

/// Why `ircd init` did nothing (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{} already exists; ircd init never overwrites a file (remove it or pick another folder)", .0.display())]
    Exists(PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the example does not have the line `{0}` that ircd init adapts")]
    Example(&'static str),
    #[error("the written config does not load:\n{0}")]
    Config(String),
    #[error("generating the TLS certificate: {0:#}")]
    Tls(anyhow::Error),
}

/// What `ircd init` wrote, for the next-steps text.
#[derive(Debug)]
pub struct Written {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub motd: PathBuf,
    pub data_dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Plaintext and TLS listener addresses, from the written config.
    pub plain: Vec<String>,
    pub tls: Vec<String>,
}

/// `ircd.toml.example` adapted to a folder: the MOTD at `motd`, the data
/// directory at `data_dir` (both as written into the file: relative paths
/// are relative to the config's folder), and a header that says where the
/// file came from (`origin`, e.g. "ircd.toml, written by `ircd init`").
/// Every other line, comment and default stays as it is.
pub fn render(
    example: &str,
    origin: &str,
    motd: &str,
    data_dir: &str,
) -> Result<String, InitError> {
    let mut out = String::with_capacity(example.len() + 128);
    let (mut header, mut motd_done, mut data_done) = (false, false, false);
    for line in example.lines() {
        if !header && line.starts_with("# ircd.toml.example:") {
            header = true;
            out.push_str(&format!(
                "# {origin} from ircd.toml.example: every key with its default.\n# Change"
            ));
            // The example's next line goes on with "what you need, ...".
            continue;
        }
        let key = line.trim_start_matches("# ").trim_start();
        if !motd_done && key.starts_with("motd = ") {
            motd_done = true;
            out.push_str(&with_comment(format!("motd = {}", toml_string(motd)), line));
            continue;
        }
        if !data_done && line.starts_with("data_dir = ") {
            data_done = true;
            out.push_str(&with_comment(
                format!("data_dir = {}", toml_string(data_dir)),
                line,
            ));
            continue;
        }
        if header && out.ends_with("# Change") {
            // Join the example's second header line onto "Change".
            out.push(' ');
            out.push_str(line.trim_start_matches('#').trim_start());
            out.push('\n');
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !header {
        return Err(InitError::Example("# ircd.toml.example: ..."));
    }
    if !motd_done {
        return Err(InitError::Example("# motd = ..."));
    }
    if !data_done {
        return Err(InitError::Example("data_dir = ..."));
    }
    Ok(out)
}

/// `key = value` followed by the comment of the example's `line`, which
/// still starts in the example's column where the new value leaves room.
fn with_comment(assignment: String, line: &str) -> String {
    // Skip a leading "# " (a commented-out key) before looking for the
    // comment that follows the value.
    let from = if line.starts_with("# ") { 2 } else { 0 };
    match line[from..].find("  #") {
        Some(i) => {
            let comment = line[from + i..].trim_start();
            let column = line.len() - comment.len();
            let pad = column.saturating_sub(assignment.len()).max(1);
            format!("{assignment}{}{comment}\n", " ".repeat(pad))
        }
        None => format!("{assignment}\n"),
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes the config, MOTD, data directory and certificate into `dir`
/// (created if missing). Refuses, before writing anything, if any of the
/// files is already there.
pub fn init(dir: &Path) -> Result<Written, InitError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InitError::Io { path, source }
    };
    let config_path = dir.join(CONFIG_FILE);
    let motd_path = dir.join(MOTD_FILE);
    let data_dir = dir.join(DATA_DIR);
    let cert = tls::self_signed_paths(&data_dir);
    for p in [&config_path, &motd_path, &cert.cert, &cert.key] {
        if p.symlink_metadata().is_ok() {
            return Err(InitError::Exists(p.clone()));
        }
    }
    let text = render(EXAMPLE, INIT_ORIGIN, MOTD_FILE, DATA_DIR)?;

    std::fs::create_dir_all(dir).map_err(io(dir))?;
    write_new(&motd_path, MOTD.as_bytes(), 0o644).map_err(io(&motd_path))?;
    write_new(&config_path, text.as_bytes(), 0o640).map_err(io(&config_path))?;
    let config = Config::load(&config_path).map_err(|e| InitError::Config(e.to_string()))?;
    std::fs::create_dir_all(&config.server.data_dir).map_err(io(&config.server.data_dir))?;
    set_mode(&config.server.data_dir, 0o700).map_err(io(&config.server.data_dir))?;
    let files = tls::ensure_self_signed(&config.server.data_dir, &config.server.name)
        .map_err(InitError::Tls)?;

    let (mut plain, mut tls_addrs) = (Vec::new(), Vec::new());
    for l in &config.listen {
        match l.tls {
            ListenTls::Off => plain.push(l.address.to_string()),
            _ => tls_addrs.push(l.address.to_string()),
        }
    }
    Ok(Written {
        dir: dir.to_path_buf(),
        config: config_path,
        motd: motd_path,
        data_dir: config.server.data_dir.clone(),
        cert: files.cert,
        key: files.key,
        plain,
        tls: tls_addrs,
    })
}

fn write_new(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// The text printed after a successful `ircd init`.
pub fn next_steps(w: &Written) -> String {
    let dir = w.dir.display();
    let mut s = format!(
        "Wrote:\n  {}  (every key with its default, commented)\n  {}\n  {}/  (data directory)\n  {}  (self-signed TLS certificate; key in {})\n\n",
        w.config.display(),
        w.motd.display(),
        w.data_dir.display(),
        w.cert.display(),
        w.key.display(),
    );
    s.push_str(&format!(
        "Next steps:\n  1. Start the server:\n       cd {dir} && ircd --config {CONFIG_FILE}\n     After editing {CONFIG_FILE}, `ircd check-config --config {CONFIG_FILE}` validates it,\n     and `kill -HUP <pid>` reloads it (and the MOTD and certificate) without dropping anyone.\n"
    ));
    s.push_str("  2. Connect with any IRC client:\n");
    for a in &w.plain {
        s.push_str(&format!(
            "       plaintext  {a}   e.g. irssi -c {} -p {}\n",
            host(a),
            port(a)
        ));
    }
    for a in &w.tls {
        s.push_str(&format!(
            "       TLS        {a}   (self-signed: accept it once in the client, or pin it)\n"
        ));
    }
    s.push_str(
        "     These listen on this machine only; change the [[listen]] addresses to serve others.\n",
    );
    s.push_str(&format!(
        "  3. Add an IRC operator:\n       ircd mkpasswd < file-with-the-password\n     then add to {CONFIG_FILE}:\n       [[oper]]\n       name = \"admin\"\n       password = \"<the $2b$ hash it printed>\"\n     reload (kill -HUP <pid>), and in the client: /OPER admin <password>\n"
    ));
    s
}

fn host(addr: &str) -> &str {
    addr.rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
        .unwrap_or(addr)
}

fn port(addr: &str) -> &str {
    addr.rsplit_once(':').map(|(_, p)| p).unwrap_or("6667")
}

/// The `ircd init [DIR]` subcommand: `DIR` defaults to the current folder.
pub fn run(dir: Option<&Path>) -> ExitCode {
    let dir = dir.unwrap_or(Path::new("."));
    match init(dir) {
        Ok(w) => {
            print!("{}", next_steps(&w));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ircd init: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_changes_only_the_file_lines() {
        let text = render(EXAMPLE, INIT_ORIGIN, "motd.txt", "data").unwrap();
        assert!(text.starts_with("# ircd.toml, written by `ircd init`"));
        assert!(text.lines().any(|l| l.starts_with("motd = \"motd.txt\"")));
        assert!(text.lines().any(|l| l.starts_with("data_dir = \"data\"")));
        let changed: Vec<_> = EXAMPLE
            .lines()
            .zip(text.lines())
            .filter(|(a, b)| a != b)
            .collect();
        // The two header lines and the motd line; data_dir is already "data".
        assert_eq!(EXAMPLE.lines().count(), text.lines().count());
        assert_eq!(changed.len(), 3, "{changed:#?}");
        // The rendered file is a valid config with the example's defaults.
        let cfg = Config::parse(&text.replace("motd = \"motd.txt\"", "# motd"), None).unwrap();
        assert_eq!(cfg.listen, Config::defaults().listen);
    }

    #[test]
    fn render_escapes_paths() {
        let text = render(EXAMPLE, INIT_ORIGIN, "a \"b\"\\c", "d").unwrap();
        assert!(text.contains(r#"motd = "a \"b\"\\c""#));
    }

    /// The Debian package's /etc/ircd/ircd.toml is the example rendered for
    /// /etc/ircd and /var/lib/ircd. `IRCD_BLESS=1 cargo test` rewrites it.
    #[test]
    fn debian_config_is_the_rendered_example() {
        let want = render(
            EXAMPLE,
            "/etc/ircd/ircd.toml, the Debian package's config,",
            "/etc/ircd/motd.txt",
            "/var/lib/ircd",
        )
        .unwrap();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/debian/ircd.toml");
        if std::env::var_os("IRCD_BLESS").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap();
        assert!(
            have == want,
            "contrib/debian/ircd.toml differs from ircd.toml.example rendered for Debian; run `IRCD_BLESS=1 cargo test --release --lib init` to rewrite it"
        );
    }
}
