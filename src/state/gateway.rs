//! What a gateway (WEBIRC) tells the server about a client before it
//! registers: the hostname its user connected from; and what the TLS
//! handshake told it: the client certificate's fingerprint.

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

    /// The fingerprint of the client's TLS certificate (SASL EXTERNAL).
    pub fn set_certfp(&self, client: &ClientRef, fp: String) {
        client.info().certfp = Some(fp.into_boxed_str());
    }
}
