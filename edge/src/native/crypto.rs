//! Core's crypto seam natively, with AWS-LC through [`aws_lc_rs`]: RS256, PS256 and ES256
//! signatures and their verification, RSA key generation and PBKDF2-HMAC-SHA256. Signatures
//! cost about a fifth of what core's pure-Rust code takes; PBKDF2 about the same, both using
//! the CPU's SHA extensions (`cargo bench -p oidc-edge-benches --bench crypto`; README,
//! Performance).
//!
//! Why AWS-LC: it is rustls's default provider and well kept, and unlike `ring` it can generate
//! RSA keys, so every costly primitive of the seam is answered by the one library. It builds
//! with a C compiler alone (no cmake). The wasm32 hosts never see it: they answer the seam with
//! WebCrypto.
//!
//! Each private JWK is turned into AWS-LC's key object once and kept in a small cache, keyed
//! by a SHA-256 of its `kid` and private members, so a fan-out's signatures do not parse the
//! key again. A key AWS-LC refuses though core accepted it is signed by core's own code: the
//! results are the same either way, a JWS signature any verifier accepts.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::pbkdf2;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RSA_PSS_2048_8192_SHA256, RSA_PSS_SHA256,
    RsaKeyPair, RsaPublicKeyComponents, UnparsedPublicKey,
};
use oidc_edge_core::crypto::{Pbkdf2, ToSign, pbkdf2_sha256};
use oidc_edge_core::error::JoseError;
use oidc_edge_core::host::{Crypto, Entropy};
use oidc_edge_core::jose::jwk::{KeyType, PublicNumbers};
use oidc_edge_core::jose::{Jwk, JwsAlg, b64, jws};
use serde_json::{Map, Value};

use super::OsEntropy;

/// Most parsed keys kept. A realm signs with one or two keys at a time (its current key, and
/// for a while the one before); a host serves a handful of realms.
pub const KEY_CACHE_SIZE: usize = 64;

/// The private members of an RSA JWK, in the order of PKCS#1's `RSAPrivateKey`.
const RSA_MEMBERS: [&str; 8] = ["n", "e", "d", "p", "q", "dp", "dq", "qi"];
/// The members of a P-256 JWK that make the key.
const EC_MEMBERS: [&str; 3] = ["x", "y", "d"];

/// Core's crypto seam natively: AWS-LC, with the costly calls (RSA signatures, RSA key
/// generation, PBKDF2) on tokio's blocking pool, so that a fan-out to many RPs signs on every
/// core while the event loop keeps serving. ES256 (tens of microseconds) is signed in place.
#[derive(Debug, Default)]
pub struct NativeCrypto {
    keys: KeyCache,
}

impl NativeCrypto {
    /// A seam with an empty key cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The JWS signature of `input` with `key` and `alg`, here and now (what [`Crypto::sign`]
    /// does, on whichever thread calls it).
    pub fn sign_now(&self, key: &Jwk, alg: JwsAlg, input: &[u8]) -> Result<Vec<u8>, JoseError> {
        check_key_fits(key, alg)?;
        sign_with(&*self.keys.get(key)?, key, alg, input)
    }

    /// How many parsed keys the cache holds.
    pub fn cached_keys(&self) -> usize {
        self.keys.len()
    }
}

impl Crypto for NativeCrypto {
    /// RSA signatures (about 0.9 ms with AWS-LC on a loaded 2-core machine, 4.5 ms with core's
    /// code) go to the blocking pool; ES256 (25 µs) is signed in place. The parsed key comes
    /// from the cache.
    async fn sign(&self, what: ToSign<'_>, _entropy: &dyn Entropy) -> Result<Vec<u8>, JoseError> {
        // AWS-LC blinds RSA and draws ECDSA nonces and PSS salts from its own DRBG, seeded by
        // the OS: the host's entropy is OS entropy too.
        let ToSign { key, alg, input } = what;
        check_key_fits(key, alg)?;
        let parsed = self.keys.get(key)?;
        if alg == JwsAlg::ES256 {
            return sign_with(&parsed, key, alg, input);
        }
        // Core's fallback needs the key itself; AWS-LC's only its own object.
        let core_key = matches!(*parsed, NativeKey::Core).then(|| key.clone());
        let input = input.to_vec();
        tokio::task::spawn_blocking(move || match core_key {
            Some(key) => jws::sign_raw(&key, alg, &input, &OsEntropy),
            None => sign_parsed(&parsed, alg, &input),
        })
        .await
        .unwrap_or(Err(JoseError::Crypto("the signing task failed")))
    }

    /// AWS-LC generates 2048, 3072 and 4096-bit keys (on the blocking pool); other sizes are
    /// core's. The key comes back as core's JWK, checked by core like any imported key, with
    /// its RFC 7638 thumbprint as `kid`.
    async fn generate_rsa(&self, bits: usize, entropy: &dyn Entropy) -> Result<Jwk, JoseError> {
        let size = match bits {
            2048 => KeySize::Rsa2048,
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            _ => return Jwk::generate_rsa(bits, entropy),
        };
        tokio::task::spawn_blocking(move || generate_rsa_now(size))
            .await
            .unwrap_or(Err(JoseError::Crypto("the key generation task failed")))
    }

    /// A password check (about 8 ms of PBKDF2, with AWS-LC as with core's code) on the
    /// blocking pool.
    async fn pbkdf2_sha256(&self, p: Pbkdf2<'_>) -> Result<[u8; 32], JoseError> {
        let (password, salt, iterations) = (p.password.to_vec(), p.salt.to_vec(), p.iterations);
        tokio::task::spawn_blocking(move || pbkdf2_now(&password, &salt, iterations))
            .await
            .map_err(|_| JoseError::Crypto("the PBKDF2 task failed"))
    }

    /// AWS-LC's verification, in place (an ES256 check costs it a fifth of what core's
    /// pure-Rust P-256 takes; an `id_token_hint` at logout and an access token at the userinfo
    /// endpoint are checked so). An RSA key of a size AWS-LC does not verify with (below 2048
    /// or above 8192 bits) is checked by core's code.
    fn verify(&self, key: &Jwk, alg: JwsAlg, input: &[u8], sig: &[u8]) -> bool {
        match (key.public_numbers(), alg) {
            (Some(PublicNumbers::EcSec1(point)), JwsAlg::ES256) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .verify(input, sig)
                    .is_ok()
            }
            (Some(PublicNumbers::Rsa { n, e }), JwsAlg::RS256 | JwsAlg::PS256)
                if (2048..=8192).contains(&bit_length(&n)) =>
            {
                let params = if alg == JwsAlg::RS256 {
                    &RSA_PKCS1_2048_8192_SHA256
                } else {
                    &RSA_PSS_2048_8192_SHA256
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, input, sig)
                    .is_ok()
            }
            (Some(PublicNumbers::Rsa { .. }), JwsAlg::RS256 | JwsAlg::PS256) => {
                jws::verify_signature(key, alg, input, sig)
            }
            _ => false,
        }
    }
}

/// PBKDF2-HMAC-SHA256 with AWS-LC, 32 bytes of output; a count of 0 (which AWS-LC does not
/// take) goes to core's code, so that every count gives core's answer.
pub fn pbkdf2_now(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let Some(n) = NonZeroU32::new(iterations) else {
        return pbkdf2_sha256(password, salt, iterations);
    };
    let mut out = [0u8; 32];
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, n, salt, password, &mut out);
    out
}

/// A fresh RSA key from AWS-LC, as core's JWK (all private members; `kid` its thumbprint).
pub fn generate_rsa_now(size: KeySize) -> Result<Jwk, JoseError> {
    const FAILED: JoseError = JoseError::Crypto("RSA key generation");
    let pair = RsaKeyPair::generate(size).map_err(|_| FAILED)?;
    let pkcs8 = pair.as_der().map_err(|_| FAILED)?;
    let members = der::rsa_members_from_pkcs8(pkcs8.as_ref()).ok_or(FAILED)?;
    let mut jwk = Map::new();
    jwk.insert("kty".into(), Value::String("RSA".into()));
    for (name, value) in RSA_MEMBERS.iter().zip(members) {
        jwk.insert((*name).into(), Value::String(b64::encode(value)));
    }
    let jwk = Jwk::from_value(&Value::Object(jwk))?;
    Ok(Jwk::from_material(jwk.material))
}

/// The bits of a big-endian number without leading zero bytes.
fn bit_length(n: &[u8]) -> usize {
    n.first()
        .map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize)
}

/// The error core gives for a key that cannot make `alg`'s signatures.
fn check_key_fits(key: &Jwk, alg: JwsAlg) -> Result<(), JoseError> {
    let wanted = match alg {
        JwsAlg::ES256 => KeyType::EcP256,
        JwsAlg::RS256 | JwsAlg::PS256 => KeyType::Rsa,
    };
    if key.is_private() && key.key_type() == wanted {
        Ok(())
    } else {
        Err(JoseError::InvalidKey(
            "a private key of the algorithm's type is needed",
        ))
    }
}

fn sign_with(
    parsed: &NativeKey,
    key: &Jwk,
    alg: JwsAlg,
    input: &[u8],
) -> Result<Vec<u8>, JoseError> {
    match parsed {
        NativeKey::Core => jws::sign_raw(key, alg, input, &OsEntropy),
        _ => sign_parsed(parsed, alg, input),
    }
}

fn sign_parsed(parsed: &NativeKey, alg: JwsAlg, input: &[u8]) -> Result<Vec<u8>, JoseError> {
    let rng = SystemRandom::new();
    match (parsed, alg) {
        (NativeKey::Ec(pair), JwsAlg::ES256) => pair
            .sign(&rng, input)
            .map(|sig| sig.as_ref().to_vec())
            .map_err(|_| JoseError::Crypto("ES256 signing")),
        (NativeKey::Rsa(pair), JwsAlg::RS256 | JwsAlg::PS256) => {
            let padding: &'static dyn aws_lc_rs::signature::RsaEncoding = if alg == JwsAlg::RS256 {
                &RSA_PKCS1_SHA256
            } else {
                &RSA_PSS_SHA256
            };
            let mut sig = vec![0u8; pair.public_modulus_len()];
            pair.sign(padding, &rng, input, &mut sig)
                .map_err(|_| JoseError::Crypto("RSA signing"))?;
            Ok(sig)
        }
        _ => Err(JoseError::InvalidKey(
            "a private key of the algorithm's type is needed",
        )),
    }
}

/// A private key as AWS-LC's object, or a note that AWS-LC refused it (core signs then).
enum NativeKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Core,
}

/// Keys kept by a SHA-256 that names them, at most [`KEY_CACHE_SIZE`]: AWS-LC's parsed keys
/// (core's `KeyCache` keeps the realms' unsealed keys, in the host).
pub(crate) struct KeyMemo<V> {
    keys: Mutex<HashMap<[u8; 32], V>>,
}

impl<V> Default for KeyMemo<V> {
    fn default() -> Self {
        Self {
            keys: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> std::fmt::Debug for KeyMemo<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMemo")
            .field("keys", &self.len())
            .finish_non_exhaustive()
    }
}

impl<V: Clone> KeyMemo<V> {
    /// How many keys are kept.
    pub(crate) fn len(&self) -> usize {
        self.keys.lock().map_or(0, |k| k.len())
    }

    /// The key kept as `id`.
    pub(crate) fn get(&self, id: &[u8; 32]) -> Option<V> {
        self.keys.lock().ok()?.get(id).cloned()
    }

    /// Keep `key` as `id`.
    pub(crate) fn keep(&self, id: [u8; 32], key: V) {
        if let Ok(mut keys) = self.keys.lock() {
            if keys.len() >= KEY_CACHE_SIZE {
                // Keys are few and long-lived: dropping them all now and then costs one parse
                // each, and needs no bookkeeping.
                keys.clear();
            }
            keys.insert(id, key);
        }
    }
}

/// The parsed keys, keyed by [`Jwk::private_digest`].
#[derive(Debug, Default)]
struct KeyCache {
    keys: KeyMemo<Arc<NativeKey>>,
}

impl KeyCache {
    fn len(&self) -> usize {
        self.keys.len()
    }

    /// `key` parsed, from the cache or parsed now (and kept). `key` is private and of a type
    /// AWS-LC signs with (checked by the caller).
    fn get(&self, key: &Jwk) -> Result<Arc<NativeKey>, JoseError> {
        // Named by its numbers as they are, not by the JWK's text: that would compute the CRT
        // coefficient (a modular inversion) and encode every member for each signature.
        let id = key
            .private_digest()
            .ok_or(JoseError::InvalidKey("a public key cannot sign"))?;
        if let Some(found) = self.keys.get(&id) {
            return Ok(found);
        }
        let names: &[&str] = match key.key_type() {
            KeyType::Rsa => &RSA_MEMBERS,
            KeyType::EcP256 => &EC_MEMBERS,
        };
        let parsed = Arc::new(parse(key.key_type(), &key.to_value(), names)?);
        self.keys.keep(id, Arc::clone(&parsed));
        Ok(parsed)
    }
}

/// The JWK's members (`names`, base64url) as AWS-LC's key. A member that is not base64url is
/// an error; a key AWS-LC refuses is [`NativeKey::Core`].
fn parse(kind: KeyType, members: &Value, names: &[&str]) -> Result<NativeKey, JoseError> {
    let decoded = names
        .iter()
        .map(|name| {
            let text = members
                .get(*name)
                .and_then(Value::as_str)
                .ok_or(JoseError::InvalidKey("a private JWK member is missing"))?;
            b64::decode(text)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match kind {
        KeyType::Rsa => der::rsa_private_key(&decoded)
            .and_then(|der| RsaKeyPair::from_der(&der).ok())
            .map_or(NativeKey::Core, NativeKey::Rsa),
        KeyType::EcP256 => ec_key_pair(&decoded).map_or(NativeKey::Core, NativeKey::Ec),
    })
}

/// A P-256 key pair from x, y and d.
fn ec_key_pair(xyd: &[Vec<u8>]) -> Option<EcdsaKeyPair> {
    let [x, y, d] = xyd else { return None };
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(0x04);
    sec1.extend_from_slice(x);
    sec1.extend_from_slice(y);
    EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P256_SHA256_FIXED_SIGNING, d, &sec1).ok()
}

/// The little DER this needs: PKCS#1 `RSAPrivateKey` out, PKCS#8 `PrivateKeyInfo` in.
mod der {
    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;
    const SEQUENCE: u8 = 0x30;

    /// PKCS#1 `RSAPrivateKey` (RFC 8017 §A.1.2, two primes) from n, e, d, p, q, dp, dq, qi as
    /// unsigned big-endian integers; `None` unless there are exactly eight.
    pub fn rsa_private_key(members: &[Vec<u8>]) -> Option<Vec<u8>> {
        if members.len() != 8 {
            return None;
        }
        let mut body = Vec::new();
        integer(&mut body, &[0]); // version: two-prime
        for m in members {
            integer(&mut body, m);
        }
        let mut out = Vec::with_capacity(body.len() + 4);
        out.push(SEQUENCE);
        length(&mut out, body.len())?;
        out.extend_from_slice(&body);
        Some(out)
    }

    /// n, e, d, p, q, dp, dq, qi (big-endian, no leading zeros) from a PKCS#8
    /// `PrivateKeyInfo` holding a two-prime `RSAPrivateKey`; `None` for anything else.
    pub fn rsa_members_from_pkcs8(pkcs8: &[u8]) -> Option<Vec<Vec<u8>>> {
        let mut info = Reader(Reader(pkcs8).read(SEQUENCE)?);
        info.read(INTEGER)?; // version
        info.read(SEQUENCE)?; // algorithm
        let mut key = Reader(Reader(info.read(OCTET_STRING)?).read(SEQUENCE)?);
        if key.read(INTEGER)? != [0] {
            return None; // multi-prime
        }
        let members = (0..8)
            .map(|_| {
                let int = key.read(INTEGER)?;
                let first = int.iter().position(|&b| b != 0).unwrap_or(int.len());
                Some(int[first..].to_vec())
            })
            .collect::<Option<Vec<_>>>()?;
        key.0.is_empty().then_some(members)
    }

    fn integer(out: &mut Vec<u8>, be: &[u8]) {
        let first = be.iter().position(|&b| b != 0).unwrap_or(be.len());
        let digits = &be[first..];
        let pad = digits.first().is_none_or(|&b| b & 0x80 != 0);
        out.push(INTEGER);
        // Members are at most a few hundred bytes (core's bounds): a length always fits.
        let _ = length(out, digits.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(digits);
    }

    fn length(out: &mut Vec<u8>, len: usize) -> Option<()> {
        match len {
            0..=0x7f => out.push(u8::try_from(len).ok()?),
            0x80..=0xff => out.extend_from_slice(&[0x81, u8::try_from(len).ok()?]),
            0x100..=0xffff => {
                out.push(0x82);
                out.extend_from_slice(&u16::try_from(len).ok()?.to_be_bytes());
            }
            _ => return None,
        }
        Some(())
    }

    /// Reads one element after another.
    struct Reader<'a>(&'a [u8]);

    impl<'a> Reader<'a> {
        /// The contents of the next element, which must have tag `tag`.
        fn read(&mut self, tag: u8) -> Option<&'a [u8]> {
            let (&t, rest) = self.0.split_first()?;
            let (&first, mut rest) = rest.split_first()?;
            if t != tag {
                return None;
            }
            let len = if first < 0x80 {
                usize::from(first)
            } else {
                let n = usize::from(first & 0x7f);
                if n == 0 || n > 3 || rest.len() < n {
                    return None;
                }
                let (bytes, after) = rest.split_at(n);
                rest = after;
                bytes.iter().fold(0, |acc, &b| (acc << 8) | usize::from(b))
            };
            if rest.len() < len {
                return None;
            }
            let (contents, after) = rest.split_at(len);
            self.0 = after;
            Some(contents)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn der_lengths_and_integers() {
        let members = [
            vec![0x80],
            vec![0, 0, 1],
            vec![],
            vec![5; 200],
            vec![1],
            vec![2],
            vec![3],
            vec![4],
        ];
        let out = der::rsa_private_key(&members).unwrap();
        // A body of 228 bytes: a one-byte long-form length.
        assert_eq!(&out[..3], &[0x30, 0x81, 228]);
        assert_eq!(out.len(), 3 + 228);
        // Version 0; 0x80 gets a leading zero; 0,0,1 loses its zeros; nothing is 0.
        assert_eq!(&out[3..16], &[2, 1, 0, 2, 2, 0, 0x80, 2, 1, 1, 2, 1, 0]);
        // The 200-byte member takes a long-form length.
        assert_eq!(&out[16..19], &[2, 0x81, 200]);
        assert!(der::rsa_private_key(&vec![vec![1]; 7]).is_none());
    }

    #[test]
    fn corrupted_der_is_refused_not_panicked_on() {
        assert!(der::rsa_members_from_pkcs8(&[]).is_none());
        assert!(der::rsa_members_from_pkcs8(&[0x30]).is_none());
        assert!(der::rsa_members_from_pkcs8(&[0x30, 0x84, 0, 0, 0, 1]).is_none());
        assert!(der::rsa_members_from_pkcs8(&[0x30, 0x82, 0xff, 0xff, 1, 2]).is_none());
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = pair.as_der().unwrap();
        let good = pkcs8.as_ref();
        assert!(der::rsa_members_from_pkcs8(good).is_some());
        for cut in [1, 10, good.len() / 2, good.len() - 1] {
            assert!(
                der::rsa_members_from_pkcs8(&good[..cut]).is_none(),
                "cut at {cut}"
            );
        }
        let mut flipped = good.to_vec();
        flipped[0] = 0x31;
        assert!(der::rsa_members_from_pkcs8(&flipped).is_none());
        // Members that are not one key: AWS-LC refuses, no panic.
        let mut members = der::rsa_members_from_pkcs8(good).unwrap();
        members[3][5] ^= 1;
        let der = der::rsa_private_key(&members).unwrap();
        assert!(RsaKeyPair::from_der(&der).is_err());
        assert!(RsaKeyPair::from_der(&der[..der.len() - 3]).is_err());
        // The members round-trip through the encoder.
        let members = der::rsa_members_from_pkcs8(good).unwrap();
        let der = der::rsa_private_key(&members).unwrap();
        assert!(RsaKeyPair::from_der(&der).is_ok());
    }

    #[test]
    fn corrupted_jwk_members_are_errors() {
        let key = Jwk::generate_ec(&OsEntropy).unwrap();
        let mut members = key.to_value();
        members["d"] = Value::String("not base64url!".into());
        assert!(parse(KeyType::EcP256, &members, &EC_MEMBERS).is_err());
        members.as_object_mut().unwrap().remove("d");
        assert!(parse(KeyType::EcP256, &members, &EC_MEMBERS).is_err());
        // A d that is not x and y's: AWS-LC refuses, and core would sign.
        let other = Jwk::generate_ec(&OsEntropy).unwrap().to_value();
        let mut members = key.to_value();
        members["d"] = other["d"].clone();
        assert!(matches!(
            parse(KeyType::EcP256, &members, &EC_MEMBERS),
            Ok(NativeKey::Core)
        ));
        let mut members = key.to_value();
        members["x"] = Value::String(b64::encode([1u8; 31]));
        assert!(matches!(
            parse(KeyType::EcP256, &members, &EC_MEMBERS),
            Ok(NativeKey::Core)
        ));
    }

    #[test]
    fn keys_are_parsed_once() {
        let crypto = NativeCrypto::new();
        let ec = Jwk::generate_ec(&OsEntropy).unwrap();
        for _ in 0..3 {
            crypto.sign_now(&ec, JwsAlg::ES256, b"a.b").unwrap();
        }
        assert_eq!(crypto.cached_keys(), 1);
        // Same material under another kid: another entry.
        let mut renamed = ec.clone();
        renamed.kid = Some("other".into());
        crypto.sign_now(&renamed, JwsAlg::ES256, b"a.b").unwrap();
        assert_eq!(crypto.cached_keys(), 2);
        // A public key or the wrong type: refused before the cache.
        assert!(
            crypto
                .sign_now(&ec.to_public(), JwsAlg::ES256, b"a.b")
                .is_err()
        );
        assert!(crypto.sign_now(&ec, JwsAlg::RS256, b"a.b").is_err());
        assert_eq!(crypto.cached_keys(), 2);
        // Bounded.
        for _ in 0..KEY_CACHE_SIZE + 1 {
            let key = Jwk::generate_ec(&OsEntropy).unwrap();
            crypto.sign_now(&key, JwsAlg::ES256, b"a.b").unwrap();
        }
        assert!(crypto.cached_keys() <= KEY_CACHE_SIZE);
    }

    /// An RSA key is named by its numbers: the same key read back from its JWK text is the
    /// same entry; another kid is another.
    #[test]
    fn rsa_keys_are_parsed_once() {
        let crypto = NativeCrypto::new();
        let rsa = generate_rsa_now(KeySize::Rsa2048).unwrap();
        let again = Jwk::from_value(&rsa.to_value()).unwrap();
        assert_eq!(rsa.private_digest(), again.private_digest());
        assert_eq!(rsa.to_public().private_digest(), None);
        let first = crypto.sign_now(&rsa, JwsAlg::RS256, b"a.b").unwrap();
        assert_eq!(
            crypto.sign_now(&again, JwsAlg::RS256, b"a.b").unwrap(),
            first
        );
        assert_eq!(crypto.cached_keys(), 1);
        let mut renamed = rsa.clone();
        renamed.kid = Some("other".into());
        crypto.sign_now(&renamed, JwsAlg::RS256, b"a.b").unwrap();
        assert_eq!(crypto.cached_keys(), 2);
    }
}
