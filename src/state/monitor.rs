//! MONITOR: each client's list (in its info) and the index of watchers by
//! nick (tier 0), kept in step by the methods here.

use std::collections::HashSet;

use super::{ClientId, ClientRef, Delivery, Event, State};

impl State {
    /// Indexes `client` as a watcher of `nick`.
    fn watch(&self, client: ClientId, nick: &str) {
        self.monitors
            .lock()
            .entry(self.fold(nick))
            .or_default()
            .insert(client);
    }

    fn unwatch(&self, client: ClientId, nick: &str) {
        let mut m = self.monitors.lock();
        let key = self.fold(nick);
        if let Some(set) = m.get_mut(&key) {
            set.remove(&client);
            if set.is_empty() {
                m.remove(&key);
            }
        }
    }

    /// The clients monitoring `nick`.
    pub(super) fn watchers(&self, nick: &str) -> Vec<ClientRef> {
        let ids: Vec<ClientId> = self
            .monitors
            .lock()
            .get(&self.fold(nick))
            .map(|s: &HashSet<ClientId>| s.iter().copied().collect())
            .unwrap_or_default();
        ids.into_iter()
            .filter_map(|id| self.find_client(id))
            .collect()
    }

    /// The watchers of `nick` learn it came online (with its prefix) or went
    /// offline.
    pub(super) fn monitor_event(&self, nick: &str, online: Option<String>) -> Option<Delivery> {
        let watchers = self.watchers(nick);
        if watchers.is_empty() {
            return None;
        }
        let event = match online {
            Some(prefix) => Event::MonitorOnline { prefix },
            None => Event::MonitorOffline {
                nick: nick.to_string(),
            },
        };
        Some(Delivery::new(event, watchers))
    }

    /// Adds nicks to the client's MONITOR list, up to `limit` entries.
    /// Returns the nicks now monitored among `targets`, and the index of the
    /// first one that did not fit, if any.
    pub fn monitor_add<'t>(
        &self,
        client: &ClientRef,
        targets: &[&'t str],
        limit: usize,
    ) -> (Vec<&'t str>, Option<usize>) {
        let mut added = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            {
                let mut info = client.info();
                if !info.monitoring.iter().any(|m| self.casemap.eq(m, t)) {
                    if info.monitoring.len() >= limit {
                        return (added, Some(i));
                    }
                    info.monitoring.push(t.to_string());
                }
            }
            self.watch(client.id, t);
            added.push(*t);
        }
        (added, None)
    }

    pub fn monitor_remove(&self, client: &ClientRef, targets: &[&str]) {
        for t in targets {
            client.info().monitoring.retain(|m| !self.casemap.eq(m, t));
            self.unwatch(client.id, t);
        }
    }

    pub fn monitor_clear(&self, client: &ClientRef) {
        let all = std::mem::take(&mut client.info().monitoring);
        for t in all {
            self.unwatch(client.id, &t);
        }
    }

    /// For MONITOR +/S: the prefixes of the targets online and the nicks of
    /// those offline.
    pub fn monitor_status(&self, targets: &[&str]) -> (Vec<String>, Vec<String>) {
        let mut online = Vec::new();
        let mut offline = Vec::new();
        for t in targets {
            match self.find_nick(t).filter(|c| c.is_registered()) {
                Some(c) => online.push(c.prefix()),
                None => offline.push(t.to_string()),
            }
        }
        (online, offline)
    }

    pub(super) fn unwatch_all(&self, client: &ClientRef) {
        let monitoring = std::mem::take(&mut client.info().monitoring);
        for m in &monitoring {
            self.unwatch(client.id, m);
        }
    }
}
