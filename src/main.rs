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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Mkpasswd) => mkpasswd(),
        Some(Command::Init { dir }) => ircd::init::run(dir.as_deref()),
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
        let server = Server::bind(config).await?;
        for a in server.local_addrs() {
            tracing::info!(address = %a, "listening");
        }
        let handle = server.handle();
        let running = tokio::spawn(server.run());
        let mut hup = signal(SignalKind::hangup())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
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
