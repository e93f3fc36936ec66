//! Opaque tokens: random 256-bit values (session tokens, codes, client secrets, registration
//! access tokens) stored only by their SHA-256 and compared in constant time; HMAC-SHA-256 for
//! values derived from a secret; and PKCE's S256 check, the same kind of comparison.

use alloc::string::String;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::jose::b64;
use crate::jose::rand::{Entropy, EntropyError};

/// A fresh random token of 256 bits, base64url (43 characters).
pub fn random_token(entropy: &dyn Entropy) -> Result<String, EntropyError> {
    let bytes: [u8; 32] = crate::jose::rand::random(entropy)?;
    Ok(b64::encode(bytes))
}

/// Whether `s` has the shape of a [`random_token`] (or of an HMAC-SHA-256 in base64url): 43
/// base64url characters. Checked before comparing tokens, so malformed input never matches.
pub fn is_token(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// base64url(SHA-256(s)): how tokens and secrets are stored and looked up.
pub fn hash(s: &str) -> String {
    b64::encode(Sha256::digest(s.as_bytes()))
}

/// Whether `presented` hashes to `stored_hash`, compared in constant time.
pub fn matches_hash(presented: &str, stored_hash: &str) -> bool {
    bool::from(hash(presented).as_bytes().ct_eq(stored_hash.as_bytes()))
}

/// Constant-time string equality (lengths may leak, contents do not).
pub fn ct_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// HMAC-SHA-256 of `msg` under `key`, base64url.
pub fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    // HMAC takes keys of any length: this cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(msg);
    b64::encode(mac.finalize().into_bytes())
}

/// PKCE S256: base64url(SHA-256(verifier)) == challenge, in constant time.
pub fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    let computed = b64::encode(Sha256::digest(verifier.as_bytes()));
    ct_eq(&computed, challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    #[test]
    fn rfc7636_appendix_b() {
        assert!(pkce_s256_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_s256_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }
}
