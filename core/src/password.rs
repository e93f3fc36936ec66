//! Passwords: PBKDF2-HMAC-SHA-256 hashes in `$pbkdf2-sha256$i=N$salt$hash` form, made and
//! checked through the host's crypto seam, compared in constant time.

use alloc::{format, string::String, vec::Vec};

use subtle::ConstantTimeEq;

use crate::crypto::Crypto as _;
pub use crate::crypto::pbkdf2_sha256;
use crate::jose::b64;
use crate::jose::rand::{Entropy, EntropyError};

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
    let salt: [u8; 16] = crate::jose::rand::random(entropy)?;
    let out = pbkdf2_sha256(password.as_bytes(), &salt, PASSWORD_ITERATIONS);
    Ok(format_password_hash(&salt, &out))
}

/// [`hash_password`] with the host's PBKDF2 ([`crate::crypto::Crypto::pbkdf2_sha256`]).
pub async fn hash_password_with<H: crate::host::Host>(
    host: &H,
    password: &str,
) -> Result<String, crate::error::JoseError> {
    let salt: [u8; 16] = crate::jose::rand::random(host)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::rand::CountingEntropy;

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
}
