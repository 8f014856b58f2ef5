//! draft/read-marker: the last read time of each target, per account, in
//! memory only (never on disk, gone at restart), shared by every connection
//! of the account. A connection without an account keeps its own
//! [`MarkerMap`] in its session instead. Times only move forward; each map
//! is bounded, the oldest marker going first.

use std::collections::HashMap;

use super::{ClientRef, Delivery, Event, State};
use crate::proto::{caps::Cap, time::server_time};

/// Targets (casefolded) to the last read time in unix milliseconds.
#[derive(Debug, Default)]
pub struct MarkerMap {
    times: HashMap<String, u64>,
}

impl MarkerMap {
    pub fn get(&self, folded: &str) -> Option<u64> {
        self.times.get(folded).copied()
    }

    /// Moves the marker of `folded` to `ms` if that is later; returns the
    /// stored time and whether it moved. Past `max` targets the oldest
    /// marker is dropped.
    pub fn advance(&mut self, folded: &str, ms: u64, max: usize) -> (u64, bool) {
        if let Some(&t) = self.times.get(folded)
            && t >= ms
        {
            return (t, false);
        }
        self.times.insert(folded.to_string(), ms);
        while self.times.len() > max.max(1) {
            let oldest = self
                .times
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.times.remove(&k),
                None => break,
            };
        }
        (ms, true)
    }

    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

/// The `MARKREAD` timestamp parameter: `timestamp=...`, or `*` for none.
pub fn marker_param(ms: Option<u64>) -> String {
    match ms {
        Some(ms) => format!("timestamp={}", server_time(ms)),
        None => "*".to_string(),
    }
}

impl State {
    /// The name to show for a MARKREAD target: a channel's own spelling if
    /// it exists, else as given.
    pub fn marker_target_name(&self, target: &str) -> String {
        match self.channel(target) {
            Some(ch) => ch.lock().name.clone(),
            None => target.to_string(),
        }
    }

    /// The read marker of `account` for `target`.
    pub fn read_marker(&self, account: &str, target: &str) -> Option<u64> {
        self.markers
            .lock()
            .get(&self.fold(account))
            .and_then(|m| m.get(&self.fold(target)))
    }

    /// Moves the read marker of `client`'s account for `target` forward to
    /// `ms`. Returns the stored time and, when it moved, the MARKREAD for
    /// the account's other connections that have draft/read-marker.
    pub fn set_read_marker(
        &self,
        client: &ClientRef,
        account: &str,
        target: &str,
        ms: u64,
        max: usize,
    ) -> (u64, Option<Delivery>) {
        let folded_account = self.fold(account);
        let (stored, moved) = self
            .markers
            .lock()
            .entry(folded_account)
            .or_default()
            .advance(&self.fold(target), ms, max);
        if !moved {
            return (stored, None);
        }
        // Every client is looked at, but only those with the capability
        // are kept (an atomic load for everyone else), and their info is
        // locked only once the registry's shard locks are released.
        let with_cap: Vec<ClientRef> = self
            .clients
            .iter()
            .filter(|c| c.id != client.id && c.has_cap(Cap::ReadMarker.bit()))
            .map(|c| c.value().clone())
            .collect();
        let to: Vec<ClientRef> = with_cap
            .into_iter()
            .filter(|c| {
                c.info()
                    .account
                    .as_deref()
                    .is_some_and(|a| self.casemap.eq(a, account))
            })
            .collect();
        let d = (!to.is_empty()).then(|| {
            Delivery::new(
                Event::MarkRead {
                    target: target.to_string(),
                    timestamp: marker_param(Some(stored)),
                },
                to,
            )
        });
        (stored, d)
    }

    /// How many accounts have read markers (tests, memory accounting).
    pub fn marker_accounts(&self) -> usize {
        self.markers.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_only_move_forward_and_stay_bounded() {
        let mut m = MarkerMap::default();
        assert_eq!(m.advance("#a", 10, 3), (10, true));
        assert_eq!(m.advance("#a", 5, 3), (10, false));
        assert_eq!(m.advance("#a", 10, 3), (10, false));
        assert_eq!(m.advance("#a", 11, 3), (11, true));
        m.advance("#b", 1, 3);
        m.advance("#c", 20, 3);
        m.advance("#d", 30, 3);
        // "#b" (the oldest) made room for "#d".
        assert_eq!(m.len(), 3);
        assert_eq!(m.get("#b"), None);
        assert_eq!(m.get("#d"), Some(30));
    }
}
