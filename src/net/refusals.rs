//! The log of refused connections. A connection storm is thousands of
//! refusals a second; logging each at info would flood the operator's log
//! (and cost the server a write each, on the thread that serves everyone).
//! So each kind of refusal is logged at info once per [`INTERVAL`], the
//! next one after it saying how many went unlogged at info in between;
//! those are logged at debug (each refusal once, at one level). The peer's
//! address is logged, never the reason text an operator wrote into a ban.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use parking_lot::Mutex;

/// How often one kind of refusal reaches the info log at most.
pub const INTERVAL: Duration = Duration::from_secs(60);

/// Why a connection was refused before it became a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Dlined,
    ClassLimits,
    UntrustedProxy,
    BadProxyHeader,
    NoProxyHeader,
    /// A WebSocket request from an `Origin` `[web]` does not allow.
    WebOrigin,
}

impl Refusal {
    const ALL: usize = 6;

    fn text(self) -> &'static str {
        match self {
            Refusal::Dlined => "D-lined",
            Refusal::ClassLimits => "class limits",
            Refusal::UntrustedProxy => "not a trusted proxy",
            Refusal::BadProxyHeader => "bad PROXY header",
            Refusal::NoProxyHeader => "no PROXY header in time",
            Refusal::WebOrigin => "WebSocket origin not allowed",
        }
    }
}

#[derive(Default)]
pub struct Refusals {
    /// Per kind: when it last reached the info log, and how many since.
    windows: Mutex<[Option<(Instant, u64)>; Refusal::ALL]>,
}

impl Refusals {
    /// Logs that `peer` was refused for `why`.
    pub fn note(&self, why: Refusal, peer: SocketAddr) {
        let reason = why.text();
        let now = Instant::now();
        let unlogged = {
            let mut w = self.windows.lock();
            match &mut w[why as usize] {
                Some((start, n)) if now.duration_since(*start) < INTERVAL => {
                    *n += 1;
                    drop(w);
                    tracing::debug!(%peer, "connection refused: {reason}");
                    return;
                }
                slot => slot.replace((now, 0)).map_or(0, |(_, n)| n),
            }
        };
        if unlogged == 0 {
            tracing::info!(%peer, "connection refused: {reason}");
        } else {
            tracing::info!(
                %peer,
                unlogged,
                "connection refused: {reason} (and {unlogged} more since the last such line, \
                 logged at debug)"
            );
        }
    }
}
