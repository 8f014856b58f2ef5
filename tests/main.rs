//! The one integration test binary: a real server on 127.0.0.1:0 per test,
//! driven over real TCP (and TLS) connections.

mod common;

mod bans;
mod binary;
mod channels;
mod classes;
mod connection;
mod connections_prop;
mod drafts;
mod ephemeral;
mod history;
mod hostile;
mod ident;
mod init;
mod ircv3;
mod parser_vectors;
mod robustness;
mod services;
mod services_nick;
mod slow;
mod timers;
mod websocket;
