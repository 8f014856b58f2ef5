//! ircd: a single-binary IRCv3 server with ephemeral, no-log channels.
//!
//! The library holds the whole server so that integration tests can start a
//! real one on `127.0.0.1:0` inside the test process; `main.rs` only parses
//! the command line, sets up logging and signals, and calls [`run`].
//! See ARCHITECTURE.md for the map.

pub mod commands;
pub mod config;
pub mod hashing;
pub mod init;
pub mod net;
pub mod proto;
pub mod services;
pub mod state;

pub use config::Config;
pub use net::{Handle, Server};

/// Binds and runs a server until `shutdown` resolves, then shuts it down
/// gracefully (every client gets a NOTICE and `ERROR :Server shutting down`).
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let server = Server::bind(config).await?;
    for a in server.local_addrs() {
        tracing::info!(address = %a, "listening");
    }
    let handle = server.handle();
    let running = tokio::spawn(server.run());
    shutdown.await;
    handle.shutdown();
    running.await?;
    Ok(())
}

/// Replaces the default panic message (which quotes the panic payload, and a
/// payload may quote a user's line) with one log line that says where the
/// panic happened and nothing else. The connection that panicked ends; the
/// server goes on (see `net/session.rs`).
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_else(|| "unknown".into());
        tracing::error!(%location, "panic (its message is withheld: it may quote user input)");
    }));
}
