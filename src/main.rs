//! The `ircd` binary: command line, logging, signals. Everything else is in
//! the library.

use std::{io::Read, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use ircd::{Config, Server};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "ircd",
    version,
    about = "A single-binary IRCv3 server with ephemeral, no-log channels"
)]
struct Cli {
    /// Config file (TOML); without it, the built-in defaults serve 127.0.0.1.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a config file without starting the server.
    CheckConfig,
    /// Print a bcrypt hash of a password read from stdin (for [[oper]] password).
    Mkpasswd,
    /// Write a commented ircd.toml, a MOTD, the data folder and a self-signed
    /// certificate into DIR (default: here); never overwrites a file.
    Init { dir: Option<PathBuf> },
    /// Print a login token for ACCOUNT, signed with [accounts.tokens]
    /// secret_file (for the web app's developers, and for tests).
    Mktoken {
        account: String,
        /// How long it is valid: "90s", "10m", "1h", "7d".
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
    /// The account store in the data directory, offline.
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
}

#[derive(Subcommand)]
enum StoreAction {
    /// Open the store and read every record; exit 1 if anything is wrong.
    Check,
    /// Write every record as JSON (bcrypt hashes, never passwords) to FILE.
    Export { file: PathBuf },
    /// Restore the records of a JSON backup made by `export`.
    Import { file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Mkpasswd) => mkpasswd(),
        Some(Command::Init { dir }) => ircd::init::run(dir.as_deref()),
        Some(Command::Store { action }) => store(cli.config, action),
        Some(Command::Mktoken { account, ttl }) => mktoken(cli.config, &account, &ttl),
        Some(Command::CheckConfig) => {
            let Some(path) = cli.config else {
                eprintln!("ircd check-config: --config FILE is required");
                return ExitCode::from(2);
            };
            match Config::load(&path) {
                Ok(_) => {
                    println!("{}: ok", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{}: invalid configuration:\n{e}", path.display());
                    ExitCode::FAILURE
                }
            }
        }
        None => serve(cli.config),
    }
}

fn mktoken(path: Option<PathBuf>, account: &str, ttl: &str) -> ExitCode {
    let Some(path) = path else {
        eprintln!("ircd mktoken: --config FILE is required (its [accounts.tokens] secret_file)");
        return ExitCode::from(2);
    };
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}: invalid configuration:\n{e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let Some(tokens) = &config.tokens else {
        eprintln!("{}: no [accounts.tokens] secret_file", path.display());
        return ExitCode::FAILURE;
    };
    let ttl = match ircd::config::parse_duration(ttl) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("ircd mktoken: --ttl {e}");
            return ExitCode::from(2);
        }
    };
    let exp = ircd::state::unix_now() + ttl.as_secs();
    println!(
        "{}",
        ircd::services::tokens::mint(tokens.secret.expose(), account, exp)
    );
    ExitCode::SUCCESS
}

fn store(path: Option<PathBuf>, action: StoreAction) -> ExitCode {
    let config = match &path {
        Some(p) => match Config::load(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{}: invalid configuration:\n{e}", p.display());
                return ExitCode::FAILURE;
            }
        },
        None => Config::defaults(),
    };
    let dir = &config.server.data_dir;
    let accounts = match ircd::services::Accounts::open(dir, config.server.casemapping) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{}: {e}", dir.join("accounts.redb").display());
            return ExitCode::FAILURE;
        }
    };
    let store = accounts.store();
    match action {
        StoreAction::Check => {}
        StoreAction::Export { file } => {
            let written = store.export().map_err(|e| e.to_string()).and_then(|d| {
                let json = serde_json::to_string_pretty(&d).map_err(|e| e.to_string())?;
                std::fs::write(&file, json).map_err(|e| e.to_string())
            });
            return match written {
                Ok(()) => {
                    println!("{}: written", file.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("ircd store export: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        StoreAction::Import { file } => {
            let done = std::fs::read_to_string(&file)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
                .and_then(|d| store.import(&d).map_err(|e| e.to_string()));
            return match done {
                Ok(()) => {
                    println!("{}: imported", file.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("ircd store import: {e}");
                    ExitCode::FAILURE
                }
            };
        }
    }
    match store.check() {
        Ok(n) => {
            println!(
                "{}: ok: {} account(s), {} nick(s), {} certificate(s), {} channel registration(s)",
                dir.join("accounts.redb").display(),
                n.accounts,
                n.nicks,
                n.certs,
                n.channels
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", dir.join("accounts.redb").display());
            ExitCode::FAILURE
        }
    }
}

fn mkpasswd() -> ExitCode {
    let mut input = zeroize::Zeroizing::new(String::new());
    if std::io::stdin().read_to_string(&mut input).is_err() {
        eprintln!("ircd mkpasswd: cannot read stdin");
        return ExitCode::FAILURE;
    }
    let password = input.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        eprintln!("ircd mkpasswd: give the password on stdin, e.g. `ircd mkpasswd < file`");
        return ExitCode::FAILURE;
    }
    match bcrypt::hash(password, bcrypt::DEFAULT_COST) {
        Ok(h) => {
            println!("{h}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ircd mkpasswd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(path: Option<PathBuf>) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("IRCD_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info"))
                // The WebSocket library traces message payloads: never on,
                // whatever IRCD_LOG says (nothing said reaches a log).
                .add_directive("tungstenite=off".parse().expect("a valid directive"))
                .add_directive("tokio_tungstenite=off".parse().expect("a valid directive")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    ircd::install_panic_hook();
    let config = match &path {
        Some(p) => match Config::load(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{}: invalid configuration, not starting:\n{e}", p.display());
                return ExitCode::FAILURE;
            }
        },
        None => Config::defaults(),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ircd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<()> = rt.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        // Handlers first: a SIGHUP that arrives once the port is open must
        // reload, not kill (the default action) the server.
        let mut hup = signal(SignalKind::hangup())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let server = Server::bind(config).await?;
        for a in server.local_addrs() {
            tracing::info!(address = %a, "listening");
        }
        let handle = server.handle();
        let running = tokio::spawn(server.run());
        loop {
            tokio::select! {
                _ = hup.recv() => match handle.rehash() {
                    Ok(()) => tracing::info!("SIGHUP: configuration reloaded"),
                    Err(e) => tracing::error!(error = %e, "SIGHUP: reload refused, the running configuration stays"),
                },
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        tracing::info!("shutting down");
        handle.shutdown();
        running.await?;
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ircd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
