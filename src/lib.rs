//! ircd: a single-binary IRCv3 server with built-in services and ephemeral,
//! no-log channels.
//!
//! The library holds the whole server so that integration tests can start a
//! real one on `127.0.0.1:0` inside the test process; `main.rs` only parses
//! the command line, sets up logging and signals, and calls [`run`].
//! See ARCHITECTURE.md for the map.

pub mod commands;
pub mod config;
pub mod init;
pub mod net;
pub mod proto;
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
