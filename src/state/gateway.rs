//! What a gateway (WEBIRC) tells the server about a client before it
//! registers: the hostname its user connected from.

use super::{ClientRef, State};

impl State {
    /// Sets the host of a client that has not registered yet (the WEBIRC
    /// hostname, already checked by the caller). A registered client's host
    /// does not change here: that would need CHGHOST for everyone who sees it.
    pub fn set_gateway_host(&self, client: &ClientRef, host: &str) {
        let mut info = client.info();
        if !info.registered {
            info.host = host.to_string();
        }
    }
}
