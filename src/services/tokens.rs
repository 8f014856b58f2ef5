//! Login tokens for an outside web app: an HS256 JWT (`{"sub": account,
//! "exp": unix time}`) signed with the shared secret of `[accounts.tokens]`.
//! The app mints them (or `ircd mktoken`); the server accepts one as the
//! password of SASL PLAIN and of `PASS account:token`, and through SASL
//! IRCV3BEARER. Expired, tampered and wrong-secret tokens are refused.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
}

/// Does `s` look like a token (three base64url parts)?
pub fn looks_like_token(s: &str) -> bool {
    s.split('.').count() == 3 && s.len() > 20
}

fn mac(secret: &str) -> HmacSha256 {
    // HMAC takes keys of any length.
    HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length")
}

/// Mints a token for `account`, valid until `exp` (unix seconds).
pub fn mint(secret: &str, account: &str, exp: u64) -> String {
    let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::to_vec(&Claims {
        sub: account.to_string(),
        exp,
    })
    .unwrap_or_default();
    let signing = format!("{header}.{}", B64.encode(claims));
    let mut m = mac(secret);
    m.update(signing.as_bytes());
    let sig = B64.encode(m.finalize().into_bytes());
    format!("{signing}.{sig}")
}

/// Checks a token's signature and expiry at `now`; returns the account.
pub fn verify(secret: &str, token: &str, now: u64) -> Result<String, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header = B64.decode(header).map_err(|_| TokenError::Malformed)?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).map_err(|_| TokenError::Malformed)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(TokenError::Malformed);
    }
    let sig = B64.decode(sig).map_err(|_| TokenError::Malformed)?;
    let mut m = mac(secret);
    // What was signed: everything before the last '.'.
    let signed = token.rfind('.').map_or(token, |i| &token[..i]);
    m.update(signed.as_bytes());
    m.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
    let claims = B64.decode(claims).map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&claims).map_err(|_| TokenError::Malformed)?;
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims.sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn mint_verify_expire_tamper() {
        let t = mint(SECRET, "alice", 1000);
        assert!(looks_like_token(&t));
        assert_eq!(verify(SECRET, &t, 999), Ok("alice".into()));
        assert_eq!(verify(SECRET, &t, 1000), Err(TokenError::Expired));
        assert_eq!(
            verify("another secret, just as long....", &t, 1),
            Err(TokenError::BadSignature)
        );
        let forged = mint(SECRET, "mallory", 1000);
        let (_, forged_claims) = forged.split_once('.').unwrap();
        let forged_claims = forged_claims.split('.').next().unwrap();
        let mut p = t.split('.');
        let tampered = format!(
            "{}.{}.{}",
            p.next().unwrap(),
            forged_claims,
            p.nth(1).unwrap()
        );
        assert_eq!(verify(SECRET, &tampered, 1), Err(TokenError::BadSignature));
        assert_eq!(verify(SECRET, "a.b", 1), Err(TokenError::Malformed));
    }
}
