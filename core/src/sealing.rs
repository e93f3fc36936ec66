//! Sealing private keys at rest: AES-256-GCM under the host's master key, bound to where the
//! sealed value is stored.

use alloc::{string::String, vec::Vec};

use aes_gcm::aead::{AeadInOut, KeyInit};

use crate::jose::JoseError;
use crate::jose::b64;
use crate::jose::rand::Entropy;

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
    let nonce: [u8; 12] = crate::jose::rand::random(entropy)?;
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
}
