//! JWS compact serialization (RFC 7515) with ES256, RS256 and PS256.

use alloc::{string::String, vec::Vec};
use core::fmt;
use core::str::FromStr;

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use serde::Serialize;
use sha2::Sha256;

use super::b64;
use super::compact::{Header, decode_header, header_str, split_compact};
use super::error::JoseError;
use super::jwk::{Jwk, JwkSet, KeyMaterial, KeyOp, KeyType};
use super::rand::{Entropy, Rng};

/// A JWS signature algorithm. There is deliberately no `none` and no HMAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JwsAlg {
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256 and MGF1-SHA-256, salt of 32 bytes.
    PS256,
}

impl JwsAlg {
    /// Every supported algorithm.
    pub const ALL: [Self; 3] = [Self::ES256, Self::RS256, Self::PS256];

    /// The registered name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
        }
    }

    /// The key type this algorithm signs with.
    pub const fn key_type(self) -> KeyType {
        match self {
            Self::ES256 => KeyType::EcP256,
            Self::RS256 | Self::PS256 => KeyType::Rsa,
        }
    }
}

impl FromStr for JwsAlg {
    type Err = JoseError;

    fn from_str(s: &str) -> Result<Self, JoseError> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| JoseError::UnsupportedAlgorithm(String::from(s)))
    }
}

impl fmt::Display for JwsAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The protected header we write. Field order is the serialization order.
#[derive(Serialize)]
struct OutHeader<'a> {
    alg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cty: Option<&'a str>,
}

/// Optional header parameters for [`sign`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SignOptions<'a> {
    /// `typ`, e.g. `logout+jwt`.
    pub typ: Option<&'a str>,
    /// `cty`.
    pub cty: Option<&'a str>,
}

/// Sign `payload` with `key` as a compact JWS. The header carries the key's `kid`, if any.
///
/// `entropy` blinds RSA and salts PSS; ECDSA is deterministic (RFC 6979).
pub fn sign(
    key: &Jwk,
    alg: JwsAlg,
    payload: &[u8],
    opts: SignOptions<'_>,
    entropy: &dyn Entropy,
) -> Result<String, JoseError> {
    let input = signing_input(key, alg, payload, opts)?;
    let sig = sign_raw(key, alg, input.as_bytes(), entropy)?;
    Ok(attach(input, &sig))
}

/// [`sign`], with the signature made by `sign_raw`, which is handed the signing input (the
/// host's crypto seam, say) and answers the raw signature.
pub async fn sign_with(
    key: &Jwk,
    alg: JwsAlg,
    payload: &[u8],
    opts: SignOptions<'_>,
    sign_raw: impl AsyncFnOnce(&[u8]) -> Result<alloc::vec::Vec<u8>, JoseError>,
) -> Result<String, JoseError> {
    let input = signing_input(key, alg, payload, opts)?;
    let sig = sign_raw(input.as_bytes()).await?;
    Ok(attach(input, &sig))
}

/// `base64url(header) . base64url(payload)`, once `key` is checked to sign with `alg`.
fn signing_input(
    key: &Jwk,
    alg: JwsAlg,
    payload: &[u8],
    opts: SignOptions<'_>,
) -> Result<String, JoseError> {
    if !key.allows(KeyOp::Sign, alg.as_str()) || key.key_type() != alg.key_type() {
        return Err(JoseError::InvalidKey("key cannot sign with this algorithm"));
    }
    let header = OutHeader {
        alg: alg.as_str(),
        kid: key.kid.as_deref(),
        typ: opts.typ,
        cty: opts.cty,
    };
    let header = serde_json::to_vec(&header).map_err(|_| JoseError::Crypto("header encoding"))?;
    let mut out = b64::encode(header);
    out.push('.');
    out.push_str(&b64::encode(payload));
    Ok(out)
}

fn attach(mut input: String, sig: &[u8]) -> String {
    input.push('.');
    input.push_str(&b64::encode(sig));
    input
}

/// The raw signature over `signing_input` (exposed for benchmarks and vectors).
pub fn sign_raw(
    key: &Jwk,
    alg: JwsAlg,
    signing_input: &[u8],
    entropy: &dyn Entropy,
) -> Result<Vec<u8>, JoseError> {
    match (&key.material, alg) {
        (KeyMaterial::EcPrivate(secret), JwsAlg::ES256) => {
            let sig: p256::ecdsa::Signature = secret.signing_key().sign(signing_input);
            Ok(sig.to_bytes().to_vec())
        }
        (KeyMaterial::RsaPrivate(k), JwsAlg::RS256) => k
            .pkcs1v15_sign_with_rng::<Sha256, _>(&mut Rng(entropy), signing_input)
            .map_err(|_| JoseError::Crypto("RS256 signing")),
        (KeyMaterial::RsaPrivate(k), JwsAlg::PS256) => k
            .pss_sign_with_rng::<Sha256, _>(&mut Rng(entropy), signing_input)
            .map_err(|_| JoseError::Crypto("PS256 signing")),
        _ => Err(JoseError::InvalidKey(
            "a private key of the algorithm's type is needed",
        )),
    }
}

/// Check `sig` over `signing_input` with one key, and nothing more: `use`, `key_ops` and the
/// key's `alg` are not consulted, which is [`Verifier`]'s job (exposed for vectors).
pub fn verify_signature(key: &Jwk, alg: JwsAlg, signing_input: &[u8], sig: &[u8]) -> bool {
    match alg {
        JwsAlg::ES256 => {
            let Some(public) = key.ec_public() else {
                return false;
            };
            // JWS carries R || S (64 bytes), never DER.
            let Ok(sig) = p256::ecdsa::Signature::from_slice(sig) else {
                return false;
            };
            p256::ecdsa::VerifyingKey::from(public)
                .verify(signing_input, &sig)
                .is_ok()
        }
        JwsAlg::RS256 => key
            .rsa_public()
            .is_some_and(|p| p.pkcs1v15_verify::<Sha256>(signing_input, sig).is_ok()),
        JwsAlg::PS256 => key
            .rsa_public()
            .is_some_and(|p| p.pss_verify::<Sha256>(signing_input, sig).is_ok()),
    }
}

/// Checks one signature with one key: [`verify_signature`] ([`CoreCheck`]), or a host's
/// platform crypto doing the same (the crypto seam's `Crypto::verify`).
pub trait CheckSignature {
    /// Whether `sig` is `key`'s signature of `signing_input` under `alg` (what
    /// [`verify_signature`] answers).
    fn check_signature(&self, key: &Jwk, alg: JwsAlg, signing_input: &[u8], sig: &[u8]) -> bool;
}

/// Core's own pure-Rust check, [`verify_signature`]: a [`Verifier`]'s default.
#[derive(Clone, Copy, Debug, Default)]
pub struct CoreCheck;

impl CheckSignature for CoreCheck {
    fn check_signature(&self, key: &Jwk, alg: JwsAlg, signing_input: &[u8], sig: &[u8]) -> bool {
        verify_signature(key, alg, signing_input, sig)
    }
}

/// A verified JWS.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The protected header.
    pub header: Header,
    /// The algorithm that verified.
    pub alg: JwsAlg,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// Verifies compact JWS against a key set, accepting only the algorithms it was given.
#[derive(Clone, Copy)]
pub struct Verifier<'a> {
    keys: &'a JwkSet,
    algs: &'a [JwsAlg],
    check: &'a dyn CheckSignature,
}

impl fmt::Debug for Verifier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys.keys.len())
            .field("algs", &self.algs)
            .finish_non_exhaustive()
    }
}

impl<'a> Verifier<'a> {
    /// A verifier that accepts `algs` and no others, with keys from `keys`, checking
    /// signatures with core's code.
    pub fn new(keys: &'a JwkSet, algs: &'a [JwsAlg]) -> Self {
        Self {
            keys,
            algs,
            check: &CoreCheck,
        }
    }

    /// The same verifier, checking each signature with `check` (a host's crypto seam): which
    /// key and algorithm are tried is still this verifier's decision.
    #[must_use]
    pub fn checking_with(self, check: &'a dyn CheckSignature) -> Self {
        Self { check, ..self }
    }

    /// Verify a compact JWS. The header's `alg` must be one of the configured algorithms; the
    /// key is chosen from the set by `kid` and by the key type that algorithm needs, so a
    /// header can never make an RSA key serve as an HMAC secret, or pick a key of its own.
    pub fn verify(&self, token: &str) -> Result<Verified, JoseError> {
        let [h, p, s] = split_compact::<3>(token)?;
        let header = decode_header(h)?;
        let alg_name = header_str(&header, "alg")?.ok_or(JoseError::Malformed("missing alg"))?;
        let alg: JwsAlg = alg_name.parse()?;
        if !self.algs.contains(&alg) {
            return Err(JoseError::AlgorithmNotAllowed(String::from(alg_name)));
        }
        let kid = header_str(&header, "kid")?;
        let payload = b64::decode(p)?;
        let sig = b64::decode(s)?;
        let signing_input = &token.as_bytes()[..h.len() + 1 + p.len()];
        let mut candidates = self.keys.keys.iter().filter(|k| {
            k.key_type() == alg.key_type()
                && k.allows(KeyOp::Verify, alg.as_str())
                && kid.is_none_or(|kid| k.kid.as_deref() == Some(kid))
        });
        let mut any = false;
        let ok = candidates.any(|k| {
            any = true;
            self.check.check_signature(k, alg, signing_input, &sig)
        });
        match (ok, any) {
            (true, _) => Ok(Verified {
                header,
                alg,
                payload,
            }),
            (false, true) => Err(JoseError::InvalidSignature),
            (false, false) => Err(JoseError::NoMatchingKey),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::rand::CountingEntropy;

    fn set_of(k: &Jwk) -> JwkSet {
        JwkSet {
            keys: alloc::vec![k.to_public()],
        }
    }

    #[test]
    fn es256_round_trip_and_tamper() {
        let rng = CountingEntropy(core::cell::Cell::new(1), 151);
        let key = Jwk::generate_ec(&rng).unwrap();
        let t = sign(
            &key,
            JwsAlg::ES256,
            b"hello",
            SignOptions {
                typ: Some("logout+jwt"),
                cty: None,
            },
            &rng,
        )
        .unwrap();
        let keys = set_of(&key);
        let v = Verifier::new(&keys, &[JwsAlg::ES256]).verify(&t).unwrap();
        assert_eq!(v.payload, b"hello");
        assert_eq!(v.header["typ"], "logout+jwt");
        // Only ES256 allowed by configuration elsewhere: refused before any key is tried.
        assert!(matches!(
            Verifier::new(&keys, &[JwsAlg::RS256]).verify(&t),
            Err(JoseError::AlgorithmNotAllowed(_))
        ));
        let mut bad = String::from(&t[..t.len() - 2]);
        bad.push_str(if t.ends_with("AA") { "BA" } else { "AA" });
        assert_eq!(
            Verifier::new(&keys, &[JwsAlg::ES256])
                .verify(&bad)
                .unwrap_err(),
            JoseError::InvalidSignature
        );
    }

    #[test]
    fn none_and_hmac_do_not_exist() {
        // {"alg":"none"} . {} . (empty)
        let t = "eyJhbGciOiJub25lIn0.e30.";
        let keys = JwkSet::default();
        assert!(matches!(
            Verifier::new(&keys, &JwsAlg::ALL).verify(t),
            Err(JoseError::UnsupportedAlgorithm(_))
        ));
        // {"alg":"HS256"}
        let t = "eyJhbGciOiJIUzI1NiJ9.e30.AAAA";
        assert!(matches!(
            Verifier::new(&keys, &JwsAlg::ALL).verify(t),
            Err(JoseError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn crit_is_refused() {
        // {"alg":"ES256","crit":["exp"],"exp":1}
        let t = "eyJhbGciOiJFUzI1NiIsImNyaXQiOlsiZXhwIl0sImV4cCI6MX0.e30.AAAA";
        let keys = JwkSet::default();
        assert_eq!(
            Verifier::new(&keys, &JwsAlg::ALL).verify(t).unwrap_err(),
            JoseError::UnsupportedHeader("crit")
        );
    }
}
