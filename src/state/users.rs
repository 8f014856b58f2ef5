//! Changes to a client's own shared fields (user, realname, away, user
//! modes, MONITOR list): like channel changes, they go through `State`, so
//! counters (LUSERS) and indexes (MONITOR) stay in step with the fields.

use super::{ClientRef, State};

impl State {
    /// Username and realname, set once at registration.
    pub fn set_user(&self, client: &ClientRef, user: String, realname: String) {
        let mut info = client.info();
        info.user = user;
        info.realname = realname;
    }

    pub fn set_realname(&self, client: &ClientRef, realname: &str) {
        client.info().realname = realname.to_string();
    }

    pub fn set_away(&self, client: &ClientRef, away: Option<String>) {
        client.info().away = away;
    }

    /// Notes that the client spoke (WHOIS idle time).
    pub fn touch_client(&self, client: &ClientRef) {
        client.info().last_message = tokio::time::Instant::now();
    }

    /// Applies a user mode string (i, w, B; -o drops operator status, +o is
    /// only for OPER). Returns the change that took effect ("+iw") and
    /// whether an unknown flag was seen.
    pub fn apply_user_modes(&self, client: &ClientRef, modestr: &str) -> (String, bool) {
        let mut add = true;
        let mut out = String::new();
        let mut sign = None;
        let mut unknown = false;
        let mut deoper = false;
        let (was_invisible, now_invisible) = {
            let mut info = client.info();
            let was = info.modes.invisible;
            for c in modestr.chars() {
                let flag = match c {
                    '+' => {
                        add = true;
                        continue;
                    }
                    '-' => {
                        add = false;
                        continue;
                    }
                    'i' => &mut info.modes.invisible,
                    'w' => &mut info.modes.wallops,
                    'B' => &mut info.modes.bot,
                    'o' if !add && info.modes.oper && !deoper => {
                        deoper = true;
                        if sign != Some(false) {
                            out.push('-');
                            sign = Some(false);
                        }
                        out.push('o');
                        continue;
                    }
                    'o' => continue,
                    _ => {
                        unknown = true;
                        continue;
                    }
                };
                if *flag != add {
                    *flag = add;
                    if sign != Some(add) {
                        out.push(if add { '+' } else { '-' });
                        sign = Some(add);
                    }
                    out.push(c);
                }
            }
            (was, info.modes.invisible)
        };
        if was_invisible != now_invisible {
            self.count_invisible(now_invisible);
        }
        if deoper {
            self.set_oper(client, None);
        }
        (out, unknown)
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
}
