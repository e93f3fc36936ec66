//! Secrets: random tokens, their hashes and constant-time comparison, sealing private keys
//! under the master key, and password hashing.

use alloc::{format, string::String, vec::Vec};

use aes_gcm::aead::{AeadInOut, KeyInit};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::crypto::Crypto as _;
pub use crate::crypto::pbkdf2_sha256;
use crate::error::JoseError;
use crate::host::{Entropy, EntropyError};
use crate::jose::b64;

/// A fresh random token of 256 bits, base64url (43 characters).
pub fn random_token(entropy: &dyn Entropy) -> Result<String, EntropyError> {
    let bytes: [u8; 32] = crate::host::random(entropy)?;
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

/// Seal `plaintext` with AES-256-GCM under `master_key`, binding `context` as associated data
/// (so a sealed blob cannot be moved to another key slot). Output: base64url(nonce ‖ ct ‖ tag).
pub fn seal(
    master_key: &[u8; 32],
    context: &str,
    plaintext: &[u8],
    entropy: &dyn Entropy,
) -> Result<String, JoseError> {
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(master_key)
        .map_err(|_| JoseError::Crypto("master key"))?;
    let nonce: [u8; 12] = crate::host::random(entropy)?;
    let mut buf = plaintext.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&nonce.into(), context.as_bytes(), buf.as_mut_slice().into())
        .map_err(|_| JoseError::Crypto("seal"))?;
    let mut out = Vec::with_capacity(12 + buf.len() + 16);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf);
    out.extend_from_slice(&tag);
    Ok(b64::encode(out))
}

/// Open what [`seal`] produced; any failure (wrong key, wrong context, tampering) is
/// [`JoseError::Decrypt`].
pub fn unseal(master_key: &[u8; 32], context: &str, sealed: &str) -> Result<Vec<u8>, JoseError> {
    let raw = b64::decode(sealed).map_err(|_| JoseError::Decrypt)?;
    if raw.len() < 28 {
        return Err(JoseError::Decrypt);
    }
    let (nonce, rest) = raw.split_at(12);
    let (ct, tag) = rest.split_at(rest.len() - 16);
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(master_key).map_err(|_| JoseError::Decrypt)?;
    let nonce = aes_gcm::aead::Nonce::<aes_gcm::Aes256Gcm>::try_from(nonce)
        .map_err(|_| JoseError::Decrypt)?;
    let tag =
        aes_gcm::aead::Tag::<aes_gcm::Aes256Gcm>::try_from(tag).map_err(|_| JoseError::Decrypt)?;
    let mut buf = ct.to_vec();
    cipher
        .decrypt_inout_detached(&nonce, context.as_bytes(), buf.as_mut_slice().into(), &tag)
        .map_err(|_| JoseError::Decrypt)?;
    Ok(buf)
}

/// PBKDF2-HMAC-SHA-256 iterations for new password hashes.
///
/// Why this number: a login runs inside one Worker invocation, whose CPU budget is 10 ms on
/// the free plan and 30 s on paid plans. PBKDF2 is the one well-kept hash that is cheap to
/// ship to wasm and tunable to that budget (argon2's memory-hardness needs tens of MiB and far
/// more time per hash). At 50,000 iterations a check costs 7.8 ms natively (README,
/// "Performance"); the worker runs it through WebCrypto (`Crypto::pbkdf2_sha256`), about 19 ms
/// of CPU in workerd, so a login fits a paid plan's budget easily and exceeds the free plan's
/// 10 ms — the price of not dropping to a count an offline attacker would enjoy. The count is stored in each hash, so changing it later
/// re-hashes nobody and breaks nothing.
pub const PASSWORD_ITERATIONS: u32 = 50_000;
/// Longest password accepted, in bytes.
pub const MAX_PASSWORD: usize = 1024;

/// Hash a password: `$pbkdf2-sha256$i=N$salt$hash` (salt and hash base64url).
pub fn hash_password(password: &str, entropy: &dyn Entropy) -> Result<String, EntropyError> {
    let salt: [u8; 16] = crate::host::random(entropy)?;
    let out = pbkdf2_sha256(password.as_bytes(), &salt, PASSWORD_ITERATIONS);
    Ok(format_password_hash(&salt, &out))
}

/// [`hash_password`] with the host's PBKDF2 ([`crate::crypto::Crypto::pbkdf2_sha256`]).
pub async fn hash_password_with<H: crate::host::Host>(
    host: &H,
    password: &str,
) -> Result<String, crate::error::JoseError> {
    let salt: [u8; 16] = crate::host::random(host)?;
    let out = host
        .crypto()
        .pbkdf2_sha256(crate::crypto::Pbkdf2 {
            password: password.as_bytes(),
            salt: &salt,
            iterations: PASSWORD_ITERATIONS,
        })
        .await?;
    Ok(format_password_hash(&salt, &out))
}

fn format_password_hash(salt: &[u8], hash: &[u8; 32]) -> String {
    format!(
        "$pbkdf2-sha256$i={PASSWORD_ITERATIONS}${}${}",
        b64::encode(salt),
        b64::encode(hash)
    )
}

/// A stored hash's iteration count, salt and expected output; `None` when malformed.
fn parse_password_hash(stored: &str) -> Option<(u32, Vec<u8>, Vec<u8>)> {
    let mut parts = stored.split('$');
    let (Some(""), Some("pbkdf2-sha256"), Some(iters), Some(salt), Some(expected), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let iters = iters.strip_prefix("i=")?.parse::<u32>().ok()?;
    let (Ok(salt), Ok(expected)) = (b64::decode(salt), b64::decode(expected)) else {
        return None;
    };
    (iters > 0 && iters <= 10_000_000 && expected.len() == 32).then_some((iters, salt, expected))
}

/// Check a password against a stored hash, in constant time for the comparison. A malformed
/// stored hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let Some((iters, salt, expected)) = parse_password_hash(stored) else {
        return false;
    };
    let out = pbkdf2_sha256(password.as_bytes(), &salt, iters);
    bool::from(out.ct_eq(&expected[..]))
}

/// [`verify_password`] with the host's PBKDF2 ([`crate::crypto::Crypto::pbkdf2_sha256`]); a
/// failure of the host's crypto never matches.
pub async fn verify_password_with<H: crate::host::Host>(
    host: &H,
    password: &str,
    stored: &str,
) -> bool {
    let Some((iters, salt, expected)) = parse_password_hash(stored) else {
        return false;
    };
    match host
        .crypto()
        .pbkdf2_sha256(crate::crypto::Pbkdf2 {
            password: password.as_bytes(),
            salt: &salt,
            iterations: iters,
        })
        .await
    {
        Ok(out) => bool::from(out.ct_eq(&expected[..])),
        Err(_) => false,
    }
}

/// A hash to check against when the user does not exist, so that an unknown name and a wrong
/// password take the same time.
pub const DUMMY_PASSWORD_HASH: &str =
    "$pbkdf2-sha256$i=50000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// PKCE S256: base64url(SHA-256(verifier)) == challenge, in constant time.
pub fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    let computed = b64::encode(Sha256::digest(verifier.as_bytes()));
    ct_eq(&computed, challenge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::rand::CountingEntropy;

    #[test]
    fn seal_round_trip_and_binding() {
        let e = CountingEntropy(core::cell::Cell::new(3), 77);
        let k = [7u8; 32];
        let s = seal(&k, "key/demo/a", b"private", &e).unwrap();
        assert_eq!(unseal(&k, "key/demo/a", &s).unwrap(), b"private");
        assert_eq!(
            unseal(&k, "key/demo/b", &s).unwrap_err(),
            JoseError::Decrypt
        );
        assert_eq!(
            unseal(&[8u8; 32], "key/demo/a", &s).unwrap_err(),
            JoseError::Decrypt
        );
    }

    #[test]
    fn passwords() {
        let e = CountingEntropy(core::cell::Cell::new(9), 13);
        let h = hash_password("changeit", &e).unwrap();
        assert!(h.starts_with("$pbkdf2-sha256$i=50000$"));
        assert!(verify_password("changeit", &h));
        assert!(!verify_password("changeIt", &h));
        assert!(!verify_password("changeit", DUMMY_PASSWORD_HASH));
        assert!(!verify_password("x", "$pbkdf2-sha256$i=0$AA$AA"));
    }

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
