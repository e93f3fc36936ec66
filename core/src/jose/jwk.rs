//! JSON Web Keys (RFC 7517) for EC P-256 and RSA, and RFC 7638 thumbprints.

use alloc::{boxed::Box, string::String, vec::Vec};
use core::fmt;

use rsa::BoxedUint;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::b64;
use super::error::JoseError;
use super::rand::{Entropy, Rng};

/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3 requires 2048).
pub const RSA_MIN_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits.
pub const RSA_MAX_BITS: usize = 4096;
/// Most keys accepted in one JWKS.
pub const MAX_KEYS: usize = 64;

/// What a key is about to be used for; checked against `use` and `key_ops`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOp {
    /// Create a signature (private key).
    Sign,
    /// Check a signature (public key).
    Verify,
    /// Encrypt a content key to this key (public key).
    Encrypt,
    /// Decrypt a content key with this key (private key).
    Decrypt,
}

impl KeyOp {
    fn use_value(self) -> &'static str {
        match self {
            Self::Sign | Self::Verify => "sig",
            Self::Encrypt | Self::Decrypt => "enc",
        }
    }

    /// `key_ops` values (RFC 7517 §4.3) that allow this operation.
    fn ops_values(self) -> &'static [&'static str] {
        match self {
            Self::Sign => &["sign"],
            Self::Verify => &["verify"],
            Self::Encrypt => &["encrypt", "wrapKey", "deriveKey", "deriveBits"],
            Self::Decrypt => &["decrypt", "unwrapKey", "deriveKey", "deriveBits"],
        }
    }
}

/// A P-256 private key whose public half is computed once, when the key is made: deriving it
/// is a scalar multiplication, which costs as much as the signature itself.
#[derive(Clone)]
pub struct EcPrivateKey {
    signing: p256::ecdsa::SigningKey,
}

impl EcPrivateKey {
    /// The key for the scalar `d` (32 big-endian bytes); zero and values ≥ n are refused.
    pub fn from_slice(d: &[u8]) -> Result<Self, JoseError> {
        let signing =
            p256::ecdsa::SigningKey::from_slice(d).map_err(|_| JoseError::InvalidKey("d"))?;
        Ok(Self { signing })
    }

    /// A fresh random key from the host's entropy.
    pub fn random(entropy: &dyn Entropy) -> Result<Self, JoseError> {
        // A uniformly random 32-byte string is a valid scalar with overwhelming probability;
        // the bound only keeps a broken RNG from looping forever.
        for _ in 0..16 {
            let bytes: [u8; 32] = super::rand::random(entropy)?;
            if let Ok(key) = Self::from_slice(&bytes) {
                return Ok(key);
            }
        }
        Err(JoseError::Entropy)
    }

    /// The public key.
    pub fn public_key(&self) -> p256::PublicKey {
        p256::PublicKey::from(self.signing.verifying_key())
    }

    /// The ECDSA signing key.
    pub fn signing_key(&self) -> &p256::ecdsa::SigningKey {
        &self.signing
    }

    /// ECDH with `their` public key.
    pub fn diffie_hellman(&self, their: &p256::PublicKey) -> p256::ecdh::SharedSecret {
        p256::ecdh::diffie_hellman(self.signing.as_nonzero_scalar(), their.as_affine())
    }

    /// The scalar `d` as 32 big-endian bytes.
    pub fn to_bytes(&self) -> p256::FieldBytes {
        self.signing.to_bytes()
    }
}

impl fmt::Debug for EcPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EcPrivateKey([redacted])")
    }
}

impl From<p256::SecretKey> for EcPrivateKey {
    fn from(secret: p256::SecretKey) -> Self {
        Self {
            signing: secret.into(),
        }
    }
}

/// The key material of a JWK.
#[derive(Clone)]
pub enum KeyMaterial {
    /// A P-256 public key.
    EcPublic(p256::PublicKey),
    /// A P-256 private key.
    EcPrivate(EcPrivateKey),
    /// An RSA public key.
    RsaPublic(rsa::PublicKey),
    /// An RSA private key.
    RsaPrivate(Box<rsa::PrivateKey>),
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print private material.
        f.write_str(match self {
            Self::EcPublic(_) => "EcPublic",
            Self::EcPrivate(_) => "EcPrivate([redacted])",
            Self::RsaPublic(_) => "RsaPublic",
            Self::RsaPrivate(_) => "RsaPrivate([redacted])",
        })
    }
}

/// The key type family, for matching keys to algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// `kty: "EC"`, curve P-256.
    EcP256,
    /// `kty: "RSA"`.
    Rsa,
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EcP256 => "an EC P-256",
            Self::Rsa => "an RSA",
        })
    }
}

/// A parsed JSON Web Key with its metadata.
#[derive(Clone, Debug)]
pub struct Jwk {
    /// `kid`: key identifier.
    pub kid: Option<String>,
    /// `alg`: the one algorithm this key is meant for, if restricted.
    pub alg: Option<String>,
    /// `use`: `sig` or `enc`, if restricted.
    pub key_use: Option<String>,
    /// `key_ops`, if restricted.
    pub key_ops: Option<Vec<String>>,
    /// The key itself.
    pub material: KeyMaterial,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    key_use: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    d: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    p: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    oth: Option<Value>,
}

fn required<'a>(v: &'a Option<String>, what: &'static str) -> Result<&'a str, JoseError> {
    v.as_deref().ok_or(JoseError::InvalidKey(what))
}

fn decode_fixed<const N: usize>(s: &str, what: &'static str) -> Result<[u8; N], JoseError> {
    b64::decode(s)?
        .try_into()
        .map_err(|_| JoseError::InvalidKey(what))
}

/// Decode a base64url unsigned big-endian integer (RFC 7518 §2 "Base64urlUInt").
fn decode_uint(s: &str, what: &'static str) -> Result<BoxedUint, JoseError> {
    let bytes = b64::decode(s)?;
    if bytes.is_empty() || bytes.len() > RSA_MAX_BITS / 8 + 1 {
        return Err(JoseError::InvalidKey(what));
    }
    Ok(BoxedUint::from_be_slice_vartime(&bytes))
}

fn encode_uint(u: &BoxedUint) -> String {
    b64::encode(u.to_be_bytes_trimmed_vartime())
}

fn ec_public_from_xy(x: &[u8; 32], y: &[u8; 32]) -> Result<p256::PublicKey, JoseError> {
    let mut sec1 = [0u8; 65];
    sec1[0] = 0x04;
    sec1[1..33].copy_from_slice(x);
    sec1[33..].copy_from_slice(y);
    // Rejects points not on the curve and the identity: no invalid-curve attacks.
    p256::PublicKey::from_sec1_bytes(&sec1)
        .map_err(|_| JoseError::InvalidKey("point is not on P-256"))
}

/// A public key's numbers ([`Jwk::public_numbers`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicNumbers {
    /// A P-256 point, uncompressed SEC1.
    EcSec1([u8; 65]),
    /// An RSA modulus and exponent, big-endian, no leading zeros.
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The public exponent.
        e: Vec<u8>,
    },
}

/// The affine coordinates of a P-256 public key.
pub(crate) fn ec_xy(public: &p256::PublicKey) -> Result<([u8; 32], [u8; 32]), JoseError> {
    let bytes = public.to_sec1_bytes();
    if bytes.len() != 65 || bytes[0] != 0x04 {
        return Err(JoseError::InvalidKey("unexpected point encoding"));
    }
    let mut x = [0u8; 32];
    let mut y = [0u8; 32];
    x.copy_from_slice(&bytes[1..33]);
    y.copy_from_slice(&bytes[33..]);
    Ok((x, y))
}

fn check_rsa_size(bits: usize) -> Result<(), JoseError> {
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        return Err(JoseError::InvalidKey(
            "RSA modulus must be 2048 to 4096 bits",
        ));
    }
    Ok(())
}

/// Whether a big-endian RSA modulus has the ROCA fingerprint (CVE-2017-15361), which makes it
/// factorable. Infineon's generator built primes as k * M + (65537^a mod M), M being the product
/// of the first 126 primes for moduli of 1984 to 3936 bits (of more above), so n mod r lies in
/// the subgroup generated by 65537 for every odd prime r up to 701. A random modulus passes
/// all these tests with probability about 2^-167. The modulus is public: no constant time.
fn has_roca_fingerprint(n: &[u8]) -> bool {
    (3u32..=701)
        .step_by(2)
        .filter(|&r| {
            (3..r)
                .step_by(2)
                .take_while(|d| d * d <= r)
                .all(|d| r % d != 0)
        })
        .all(|r| {
            let residue = n.iter().fold(0, |acc, &b| (acc * 256 + u32::from(b)) % r);
            let generator = 65537 % r;
            let mut x = 1;
            loop {
                if x == residue {
                    return true;
                }
                x = x * generator % r;
                if x == 1 {
                    return false;
                }
            }
        })
}

impl Jwk {
    /// Parse a JWK from its JSON text.
    pub fn from_json(json: &str) -> Result<Self, JoseError> {
        let value: Value = serde_json::from_str(json)
            .map_err(|_| JoseError::Malformed("JWK is not valid JSON"))?;
        Self::from_value(&value)
    }

    /// Parse a JWK from a JSON value.
    pub fn from_value(value: &Value) -> Result<Self, JoseError> {
        let raw = RawJwk::deserialize(value).map_err(|_| JoseError::Malformed("JWK members"))?;
        let material = match raw.kty.as_str() {
            "EC" => {
                if raw.crv.as_deref() != Some("P-256") {
                    return Err(JoseError::InvalidKey("only the P-256 curve is supported"));
                }
                let x = decode_fixed::<32>(required(&raw.x, "x")?, "x")?;
                let y = decode_fixed::<32>(required(&raw.y, "y")?, "y")?;
                let public = ec_public_from_xy(&x, &y)?;
                match &raw.d {
                    None => KeyMaterial::EcPublic(public),
                    Some(d) => {
                        let d = decode_fixed::<32>(d, "d")?;
                        let secret = EcPrivateKey::from_slice(&d)?;
                        if secret.public_key() != public {
                            return Err(JoseError::InvalidKey("d does not match x and y"));
                        }
                        KeyMaterial::EcPrivate(secret)
                    }
                }
            }
            "RSA" => {
                if raw.oth.is_some() {
                    return Err(JoseError::InvalidKey(
                        "multi-prime RSA keys are not supported",
                    ));
                }
                let n = decode_uint(required(&raw.n, "n")?, "n")?;
                let e = decode_uint(required(&raw.e, "e")?, "e")?;
                let public = rsa::PublicKey::new(n.clone(), e.clone())
                    .map_err(|_| JoseError::InvalidKey("RSA public key"))?;
                check_rsa_size(public.n().bit_width_vartime() as usize)?;
                if has_roca_fingerprint(&public.n().as_ref().to_be_bytes_trimmed_vartime()) {
                    return Err(JoseError::InvalidKey(
                        "RSA modulus has the ROCA fingerprint",
                    ));
                }
                match &raw.d {
                    None => KeyMaterial::RsaPublic(public),
                    Some(d) => {
                        let d = decode_uint(d, "d")?;
                        let primes = match (&raw.p, &raw.q) {
                            (Some(p), Some(q)) => {
                                alloc::vec![decode_uint(p, "p")?, decode_uint(q, "q")?]
                            }
                            (None, None) => Vec::new(),
                            _ => return Err(JoseError::InvalidKey("p and q must come together")),
                        };
                        // Validates that d, p and q belong to n and e.
                        let private = rsa::PrivateKey::from_components(n, e, d, primes)
                            .map_err(|_| JoseError::InvalidKey("RSA private key"))?;
                        KeyMaterial::RsaPrivate(Box::new(private))
                    }
                }
            }
            _ => return Err(JoseError::InvalidKey("unsupported kty")),
        };
        Ok(Self {
            kid: raw.kid,
            alg: raw.alg,
            key_use: raw.key_use,
            key_ops: raw.key_ops,
            material,
        })
    }

    /// Generate a fresh P-256 key; its `kid` is its RFC 7638 thumbprint.
    pub fn generate_ec(entropy: &dyn Entropy) -> Result<Self, JoseError> {
        Ok(Self::from_material(KeyMaterial::EcPrivate(
            EcPrivateKey::random(entropy)?,
        )))
    }

    /// Generate a fresh RSA key of `bits` bits (2048 to 4096) with e = 65537.
    pub fn generate_rsa(bits: usize, entropy: &dyn Entropy) -> Result<Self, JoseError> {
        check_rsa_size(bits)?;
        let key = rsa::PrivateKey::new(&mut Rng(entropy), bits)
            .map_err(|_| JoseError::Crypto("RSA key generation"))?;
        Ok(Self::from_material(KeyMaterial::RsaPrivate(Box::new(key))))
    }

    /// Wrap key material with no metadata but a thumbprint `kid`.
    pub fn from_material(material: KeyMaterial) -> Self {
        let mut jwk = Self {
            kid: None,
            alg: None,
            key_use: None,
            key_ops: None,
            material,
        };
        jwk.kid = jwk.thumbprint().ok();
        jwk
    }

    /// The key type family.
    pub fn key_type(&self) -> KeyType {
        match self.material {
            KeyMaterial::EcPublic(_) | KeyMaterial::EcPrivate(_) => KeyType::EcP256,
            KeyMaterial::RsaPublic(_) | KeyMaterial::RsaPrivate(_) => KeyType::Rsa,
        }
    }

    /// Whether this JWK holds private material.
    pub fn is_private(&self) -> bool {
        matches!(
            self.material,
            KeyMaterial::EcPrivate(_) | KeyMaterial::RsaPrivate(_)
        )
    }

    /// The P-256 public key, if this is an EC key.
    pub fn ec_public(&self) -> Option<p256::PublicKey> {
        match &self.material {
            KeyMaterial::EcPublic(p) => Some(*p),
            KeyMaterial::EcPrivate(s) => Some(s.public_key()),
            _ => None,
        }
    }

    /// The RSA public key, if this is an RSA key.
    pub fn rsa_public(&self) -> Option<&rsa::PublicKey> {
        match &self.material {
            KeyMaterial::RsaPublic(p) => Some(p),
            KeyMaterial::RsaPrivate(k) => Some(k.as_public_key()),
            _ => None,
        }
    }

    /// The public key's numbers as a platform verifier takes them: a P-256 point as
    /// uncompressed SEC1 (`04 || x || y`), an RSA key as its big-endian `n` and `e`.
    pub fn public_numbers(&self) -> Option<PublicNumbers> {
        if let Some(p) = self.rsa_public() {
            return Some(PublicNumbers::Rsa {
                n: p.n().as_ref().to_be_bytes_trimmed_vartime().into_vec(),
                e: p.e().to_be_bytes_trimmed_vartime().into_vec(),
            });
        }
        let (x, y) = ec_xy(&self.ec_public()?).ok()?;
        let mut sec1 = [0u8; 65];
        sec1[0] = 0x04;
        sec1[1..33].copy_from_slice(&x);
        sec1[33..].copy_from_slice(&y);
        Some(PublicNumbers::EcSec1(sec1))
    }

    /// Whether `use`, `key_ops` and `alg` allow this key to perform `op` with algorithm `alg`.
    pub fn allows(&self, op: KeyOp, alg: &str) -> bool {
        if self.key_use.as_deref().is_some_and(|u| u != op.use_value()) {
            return false;
        }
        if let Some(ops) = &self.key_ops
            && !ops.iter().any(|o| op.ops_values().contains(&o.as_str()))
        {
            return false;
        }
        self.alg.as_deref().is_none_or(|a| a == alg)
    }

    /// The public half of this key, keeping `kid`, `alg`, `use` and `key_ops`.
    #[must_use]
    pub fn to_public(&self) -> Self {
        let material = match &self.material {
            KeyMaterial::EcPrivate(s) => KeyMaterial::EcPublic(s.public_key()),
            KeyMaterial::RsaPrivate(k) => KeyMaterial::RsaPublic(k.to_public_key()),
            other => other.clone(),
        };
        // `key_ops` names private operations on a private key; map them to their public twins.
        let key_ops = self.key_ops.as_ref().map(|ops| {
            ops.iter()
                .map(|o| match o.as_str() {
                    "sign" => String::from("verify"),
                    "decrypt" => String::from("encrypt"),
                    "unwrapKey" => String::from("wrapKey"),
                    _ => o.clone(),
                })
                .collect()
        });
        Self {
            kid: self.kid.clone(),
            alg: self.alg.clone(),
            key_use: self.key_use.clone(),
            key_ops,
            material,
        }
    }

    /// The JWK as a JSON object; private members are included only for a private key.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: String| {
            m.insert(String::from(k), Value::String(v));
        };
        match &self.material {
            KeyMaterial::EcPublic(_) | KeyMaterial::EcPrivate(_) => {
                put("kty", String::from("EC"));
                put("crv", String::from("P-256"));
                if let Some(Ok((x, y))) = self.ec_public().map(|p| ec_xy(&p)) {
                    put("x", b64::encode(x));
                    put("y", b64::encode(y));
                }
                if let KeyMaterial::EcPrivate(s) = &self.material {
                    put("d", b64::encode(s.to_bytes()));
                }
            }
            KeyMaterial::RsaPublic(_) | KeyMaterial::RsaPrivate(_) => {
                put("kty", String::from("RSA"));
                if let Some(p) = self.rsa_public() {
                    put("n", encode_uint(p.n().as_ref()));
                    put("e", encode_uint(p.e()));
                }
                if let KeyMaterial::RsaPrivate(k) = &self.material {
                    put("d", encode_uint(k.d()));
                    let primes = k.primes();
                    if let [p, q] = primes {
                        put("p", encode_uint(p.as_ref()));
                        put("q", encode_uint(q.as_ref()));
                        if let (Some(dp), Some(dq), Some(qi)) =
                            (k.dp(), k.dq(), k.crt_coefficient())
                        {
                            put("dp", encode_uint(dp));
                            put("dq", encode_uint(dq));
                            put("qi", encode_uint(&qi));
                        }
                    }
                }
            }
        }
        if let Some(kid) = &self.kid {
            put("kid", kid.clone());
        }
        if let Some(alg) = &self.alg {
            put("alg", alg.clone());
        }
        if let Some(u) = &self.key_use {
            put("use", u.clone());
        }
        if let Some(ops) = &self.key_ops {
            m.insert(
                String::from("key_ops"),
                Value::Array(ops.iter().cloned().map(Value::String).collect()),
            );
        }
        Value::Object(m)
    }

    /// A name for this private key and `kid`: SHA-256 of the `kid` and of the numbers every
    /// other member derives from (RSA: n, e, d, p, q; P-256: d, whose public point follows),
    /// each with its length. Cheap, unlike [`Jwk::to_value`] (which computes the CRT
    /// coefficient, a modular inversion, and encodes every member): a host's cache of parsed
    /// keys names its keys so. `None` for a public key.
    pub fn private_digest(&self) -> Option<[u8; 32]> {
        let mut h = Sha256::new();
        let mut put = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        };
        put(self.kid.as_deref().unwrap_or("").as_bytes());
        match &self.material {
            KeyMaterial::RsaPrivate(k) => {
                put(&k.n().as_ref().to_be_bytes());
                put(&k.e().to_be_bytes());
                put(&k.d().to_be_bytes());
                for prime in k.primes() {
                    put(&prime.as_ref().to_be_bytes());
                }
            }
            KeyMaterial::EcPrivate(k) => put(&k.to_bytes()),
            KeyMaterial::RsaPublic(_) | KeyMaterial::EcPublic(_) => return None,
        }
        Some(h.finalize().into())
    }

    /// RFC 7638 thumbprint: base64url(SHA-256) of the required members in lexicographic order.
    pub fn thumbprint(&self) -> Result<String, JoseError> {
        let canonical = match self.key_type() {
            KeyType::EcP256 => {
                let public = self.ec_public().ok_or(JoseError::InvalidKey("EC key"))?;
                let (x, y) = ec_xy(&public)?;
                alloc::format!(
                    r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                    b64::encode(x),
                    b64::encode(y)
                )
            }
            KeyType::Rsa => {
                let public = self.rsa_public().ok_or(JoseError::InvalidKey("RSA key"))?;
                alloc::format!(
                    r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                    encode_uint(public.e()),
                    encode_uint(public.n().as_ref())
                )
            }
        };
        Ok(b64::encode(Sha256::digest(canonical.as_bytes())))
    }
}

/// A JWK Set (RFC 7517 §5).
#[derive(Clone, Debug, Default)]
pub struct JwkSet {
    /// The keys, in the order given.
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// Parse `{"keys": [...]}`. Keys of unsupported types (other curves, symmetric keys) are
    /// skipped, as RFC 7517 §5 asks; a malformed key of a supported type, a private key, a
    /// duplicate `kid` or more than [`MAX_KEYS`] keys make the whole set invalid.
    pub fn from_json(json: &str) -> Result<Self, JoseError> {
        let value: Value = serde_json::from_str(json)
            .map_err(|_| JoseError::Malformed("JWKS is not valid JSON"))?;
        Self::from_value(&value)
    }

    /// Parse a JWKS from a JSON value; see [`JwkSet::from_json`].
    pub fn from_value(value: &Value) -> Result<Self, JoseError> {
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JoseError::Malformed("JWKS needs a \"keys\" array"))?;
        if keys.len() > MAX_KEYS {
            return Err(JoseError::TooLarge);
        }
        let mut out: Vec<Jwk> = Vec::with_capacity(keys.len());
        for k in keys {
            let supported = match k.get("kty").and_then(Value::as_str) {
                Some("EC") => k.get("crv").and_then(Value::as_str) == Some("P-256"),
                Some("RSA") => true,
                _ => false,
            };
            if !supported {
                continue;
            }
            let jwk = Jwk::from_value(k)?;
            if jwk.is_private() {
                return Err(JoseError::InvalidKey(
                    "a public JWKS must not hold private keys",
                ));
            }
            if jwk.kid.is_some() && out.iter().any(|o| o.kid == jwk.kid) {
                return Err(JoseError::InvalidKey("duplicate kid in JWKS"));
            }
            out.push(jwk);
        }
        Ok(Self { keys: out })
    }

    /// The set as `{"keys": [...]}` with public members only.
    pub fn to_value(&self) -> Value {
        let keys = self.keys.iter().map(|k| k.to_public().to_value()).collect();
        let mut m = Map::new();
        m.insert(String::from("keys"), Value::Array(keys));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1: the thumbprint of the RSA key from RFC 7517 Appendix A.1.
    #[test]
    fn rfc7638_s3_1_thumbprint() {
        let jwk = Jwk::from_json(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        )
        .unwrap();
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    /// The private digest names the key and its kid: the same after a round trip through
    /// the JWK's text, another for another kid or another key, none for a public key (RSA keys
    /// likewise: the native crypto seam's tests).
    #[test]
    fn private_digest_names_key_and_kid() {
        let rng = crate::jose::rand::CountingEntropy(core::cell::Cell::new(1), 151);
        let key = Jwk::generate_ec(&rng).unwrap();
        let digest = key.private_digest().unwrap();
        let again = Jwk::from_value(&key.to_value()).unwrap();
        assert_eq!(again.private_digest(), Some(digest));
        let mut renamed = key.clone();
        renamed.kid = Some(String::from("other"));
        assert_ne!(renamed.private_digest(), Some(digest));
        assert_eq!(key.to_public().private_digest(), None);
        let other = Jwk::generate_ec(&rng).unwrap();
        assert_ne!(other.private_digest(), Some(digest));
    }

    #[test]
    fn roca_fingerprint() {
        // 65537 itself lies in the subgroup generated by 65537 modulo every prime.
        assert!(has_roca_fingerprint(&65537u32.to_be_bytes()));
        // A multiple of 3 is not in the subgroup modulo 3.
        assert!(!has_roca_fingerprint(&(3 * 65537u32).to_be_bytes()));
    }

    #[test]
    fn ec_private_must_match_public() {
        // x/y of one key with d of another.
        let bad = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"r_kHyZ-a06rmxM3yESK84r1otSg-aQcVStkRhA-iCM8"}"#;
        assert_eq!(
            Jwk::from_json(bad).unwrap_err(),
            JoseError::InvalidKey("d does not match x and y")
        );
    }

    #[test]
    fn off_curve_point_rejected() {
        let bad = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1"}"#;
        assert!(Jwk::from_json(bad).is_err());
    }

    #[test]
    fn use_and_key_ops_are_honoured() {
        let mut k = Jwk::from_json(r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","use":"enc"}"#).unwrap();
        assert!(!k.allows(KeyOp::Verify, "ES256"));
        assert!(k.allows(KeyOp::Encrypt, "ECDH-ES"));
        k.key_use = None;
        k.key_ops = Some(alloc::vec![String::from("verify")]);
        assert!(k.allows(KeyOp::Verify, "ES256"));
        assert!(!k.allows(KeyOp::Encrypt, "ECDH-ES"));
        k.alg = Some(String::from("ES256"));
        assert!(!k.allows(KeyOp::Verify, "RS256"));
    }
}
