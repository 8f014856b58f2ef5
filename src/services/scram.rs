//! SCRAM-SHA-256 (RFC 5802, RFC 7677) for SASL: the verifier an account
//! keeps instead of a password (salt, iterations, StoredKey, ServerKey),
//! computed when the password is set, and the server side of an exchange.
//! No channel binding is offered (clients send `n,,`); passwords are used
//! as their UTF-8 bytes (no SASLprep).

use base64::Engine;
use ring::{digest, hmac, pbkdf2, rand::SecureRandom};
use serde::{Deserialize, Serialize};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
pub const ITERATIONS: u32 = 4096;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Verifier {
    pub salt: String,
    pub iterations: u32,
    pub stored_key: String,
    pub server_key: String,
}

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::sign(&k, data).as_ref().to_vec()
}

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    let _ = ring::rand::SystemRandom::new().fill(&mut v);
    v
}

/// The verifier of `password` with a fresh salt (blocking: PBKDF2).
pub fn verifier(password: &str) -> Verifier {
    verifier_with(password, &random(16), ITERATIONS)
}

pub fn verifier_with(password: &str, salt: &[u8], iterations: u32) -> Verifier {
    let mut salted = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::new(iterations.max(1)).expect("non-zero"),
        salt,
        password.as_bytes(),
        &mut salted,
    );
    let client_key = hmac256(&salted, b"Client Key");
    let stored_key = digest::digest(&digest::SHA256, &client_key);
    let server_key = hmac256(&salted, b"Server Key");
    Verifier {
        salt: B64.encode(salt),
        iterations,
        stored_key: B64.encode(stored_key.as_ref()),
        server_key: B64.encode(server_key),
    }
}

/// A server exchange after the client's first message.
pub struct Exchange {
    pub account: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    verifier: Verifier,
}

/// The username and the bare client-first of `client_first`
/// (`n,,n=user,r=nonce`), or None when it is not one we accept.
pub fn parse_first(client_first: &str) -> Option<(String, String, String)> {
    let bare = client_first
        .strip_prefix("n,,")
        .or_else(|| client_first.strip_prefix("y,,"))
        .or_else(|| {
            // n,a=authzid,
            let rest = client_first.strip_prefix("n,a=")?;
            rest.split_once(',').map(|(_, b)| b)
        })?;
    let mut user = None;
    let mut nonce = None;
    for attr in bare.split(',') {
        if let Some(u) = attr.strip_prefix("n=") {
            user = Some(u.replace("=2C", ",").replace("=3D", "="));
        } else if let Some(r) = attr.strip_prefix("r=") {
            nonce = Some(r.to_string());
        } else if attr.starts_with("m=") {
            return None;
        }
    }
    let (user, nonce) = (user?, nonce?);
    (!user.is_empty() && !nonce.is_empty()).then(|| (user, nonce, bare.to_string()))
}

/// Starts an exchange: returns it and the server-first message.
pub fn start(
    account: String,
    client_nonce: &str,
    bare: String,
    verifier: Verifier,
) -> (Exchange, String) {
    let nonce = format!("{client_nonce}{}", B64.encode(random(18)));
    let server_first = format!("r={nonce},s={},i={}", verifier.salt, verifier.iterations);
    (
        Exchange {
            account,
            client_first_bare: bare,
            server_first: server_first.clone(),
            nonce,
            verifier,
        },
        server_first,
    )
}

impl Exchange {
    /// Checks the client-final message; returns the server-final message.
    pub fn finish(&self, client_final: &str) -> Option<String> {
        let (without_proof, proof) = client_final.rsplit_once(",p=")?;
        let mut nonce_ok = false;
        let mut binding_ok = false;
        for attr in without_proof.split(',') {
            if let Some(r) = attr.strip_prefix("r=") {
                nonce_ok = r == self.nonce;
            } else if let Some(c) = attr.strip_prefix("c=") {
                // "n,," or "y,," base64: no channel binding.
                binding_ok = c == "biws" || c == "eSws";
            }
        }
        if !nonce_ok || !binding_ok {
            return None;
        }
        let auth = format!(
            "{},{},{without_proof}",
            self.client_first_bare, self.server_first
        );
        let stored = B64.decode(&self.verifier.stored_key).ok()?;
        let server_key = B64.decode(&self.verifier.server_key).ok()?;
        let proof = B64.decode(proof).ok()?;
        let signature = hmac256(&stored, auth.as_bytes());
        if proof.len() != signature.len() {
            return None;
        }
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
        let computed = digest::digest(&digest::SHA256, &client_key);
        let same = computed.as_ref().len() == stored.len()
            && computed
                .as_ref()
                .iter()
                .zip(&stored)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return None;
        }
        let server_signature = hmac256(&server_key, auth.as_bytes());
        Some(format!("v={}", B64.encode(server_signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's example exchange (user, pencil).
    #[test]
    fn rfc7677_vector() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let v = verifier_with("pencil", &salt, 4096);
        let first = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
        let (user, cnonce, bare) = parse_first(first).unwrap();
        assert_eq!(user, "user");
        let ex = Exchange {
            account: user,
            client_first_bare: bare,
            server_first:
                "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
                    .into(),
            nonce: format!("{cnonce}%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"),
            verifier: v,
        };
        let fin = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        assert_eq!(
            ex.finish(fin).as_deref(),
            Some("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        );
        let bad = fin.replace("p=dH", "p=eH");
        assert!(ex.finish(&bad).is_none());
    }
}
