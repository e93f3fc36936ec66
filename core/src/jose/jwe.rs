//! JWE compact serialization (RFC 7516) with `RSA-OAEP-256`, `ECDH-ES`, `ECDH-ES+A128KW`,
//! `ECDH-ES+A256KW` and `A128CBC-HS256`, `A256CBC-HS512`, `A128GCM`, `A256GCM` (RFC 7518).

use alloc::{string::String, vec, vec::Vec};
use core::fmt;
use core::str::FromStr;

use aes_gcm::aead::{AeadInOut, KeyInit};
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::b64;
use super::compact::{Header, decode_header, header_str, split_compact};
use super::error::JoseError;
use super::jwk::{EcPrivateKey, Jwk, KeyMaterial, KeyOp, KeyType, ec_xy};
use super::rand::{Entropy, Rng};

/// A key management algorithm (`alg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyMgmtAlg {
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256.
    RsaOaep256,
    /// ECDH-ES direct key agreement on P-256.
    EcdhEs,
    /// ECDH-ES with the agreed key wrapping a random CEK by AES-128 key wrap.
    EcdhEsA128Kw,
    /// ECDH-ES with the agreed key wrapping a random CEK by AES-256 key wrap.
    EcdhEsA256Kw,
}

impl KeyMgmtAlg {
    /// Every supported key management algorithm.
    pub const ALL: [Self; 4] = [
        Self::RsaOaep256,
        Self::EcdhEs,
        Self::EcdhEsA128Kw,
        Self::EcdhEsA256Kw,
    ];

    /// The registered name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RsaOaep256 => "RSA-OAEP-256",
            Self::EcdhEs => "ECDH-ES",
            Self::EcdhEsA128Kw => "ECDH-ES+A128KW",
            Self::EcdhEsA256Kw => "ECDH-ES+A256KW",
        }
    }

    /// The key type this algorithm encrypts to.
    pub const fn key_type(self) -> KeyType {
        match self {
            Self::RsaOaep256 => KeyType::Rsa,
            _ => KeyType::EcP256,
        }
    }

    /// Length in bytes of the key-wrapping key, for the `+AxxxKW` variants.
    const fn kek_len(self) -> Option<usize> {
        match self {
            Self::EcdhEsA128Kw => Some(16),
            Self::EcdhEsA256Kw => Some(32),
            _ => None,
        }
    }
}

/// A content encryption algorithm (`enc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContentEnc {
    /// AES-128-CBC with HMAC-SHA-256 truncated to 128 bits.
    A128CbcHs256,
    /// AES-256-CBC with HMAC-SHA-512 truncated to 256 bits.
    A256CbcHs512,
    /// AES-128-GCM.
    A128Gcm,
    /// AES-256-GCM.
    A256Gcm,
}

impl ContentEnc {
    /// Every supported content encryption algorithm.
    pub const ALL: [Self; 4] = [
        Self::A128CbcHs256,
        Self::A256CbcHs512,
        Self::A128Gcm,
        Self::A256Gcm,
    ];

    /// The registered name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::A128CbcHs256 => "A128CBC-HS256",
            Self::A256CbcHs512 => "A256CBC-HS512",
            Self::A128Gcm => "A128GCM",
            Self::A256Gcm => "A256GCM",
        }
    }

    /// Length of the content encryption key in bytes (MAC and encryption halves for CBC-HS).
    pub const fn key_len(self) -> usize {
        match self {
            Self::A128CbcHs256 => 32,
            Self::A256CbcHs512 => 64,
            Self::A128Gcm => 16,
            Self::A256Gcm => 32,
        }
    }

    /// Length of the initialization vector in bytes.
    pub const fn iv_len(self) -> usize {
        match self {
            Self::A128CbcHs256 | Self::A256CbcHs512 => 16,
            Self::A128Gcm | Self::A256Gcm => 12,
        }
    }

    /// Length of the authentication tag in bytes.
    pub const fn tag_len(self) -> usize {
        match self {
            Self::A256CbcHs512 => 32,
            _ => 16,
        }
    }
}

macro_rules! named {
    ($t:ty) => {
        impl FromStr for $t {
            type Err = JoseError;
            fn from_str(s: &str) -> Result<Self, JoseError> {
                Self::ALL
                    .into_iter()
                    .find(|a| a.as_str() == s)
                    .ok_or_else(|| JoseError::UnsupportedAlgorithm(String::from(s)))
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
named!(KeyMgmtAlg);
named!(ContentEnc);

/// Largest `apu`/`apv` accepted, in decoded bytes.
const MAX_PARTY_INFO: usize = 256;

// ---------------------------------------------------------------------------------------------
// Content encryption

/// Encrypt `plaintext` with `enc` under `cek` and `iv`, authenticating `aad`.
/// Returns (ciphertext, tag). Exposed for vector tests; `cek` and `iv` lengths are checked.
pub fn encrypt_content(
    enc: ContentEnc,
    cek: &[u8],
    iv: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), JoseError> {
    if cek.len() != enc.key_len() || iv.len() != enc.iv_len() {
        return Err(JoseError::Crypto("CEK or IV length"));
    }
    match enc {
        ContentEnc::A128Gcm => gcm_encrypt::<aes_gcm::Aes128Gcm>(cek, iv, aad, plaintext),
        ContentEnc::A256Gcm => gcm_encrypt::<aes_gcm::Aes256Gcm>(cek, iv, aad, plaintext),
        ContentEnc::A128CbcHs256 => {
            let (mac_key, enc_key) = cek.split_at(16);
            let ct = cbc::Encryptor::<aes::Aes128>::new_from_slices(enc_key, iv)
                .map_err(|_| JoseError::Crypto("CBC key"))?
                .encrypt_padded_vec::<Pkcs7>(plaintext);
            let tag = cbc_hs_tag::<Hmac<Sha256>>(mac_key, aad, iv, &ct, 16)?;
            Ok((ct, tag))
        }
        ContentEnc::A256CbcHs512 => {
            let (mac_key, enc_key) = cek.split_at(32);
            let ct = cbc::Encryptor::<aes::Aes256>::new_from_slices(enc_key, iv)
                .map_err(|_| JoseError::Crypto("CBC key"))?
                .encrypt_padded_vec::<Pkcs7>(plaintext);
            let tag = cbc_hs_tag::<Hmac<Sha512>>(mac_key, aad, iv, &ct, 32)?;
            Ok((ct, tag))
        }
    }
}

/// Decrypt and authenticate. Every failure is the one opaque [`JoseError::Decrypt`].
pub fn decrypt_content(
    enc: ContentEnc,
    cek: &[u8],
    iv: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>, JoseError> {
    if cek.len() != enc.key_len() || iv.len() != enc.iv_len() || tag.len() != enc.tag_len() {
        return Err(JoseError::Decrypt);
    }
    match enc {
        ContentEnc::A128Gcm => gcm_decrypt::<aes_gcm::Aes128Gcm>(cek, iv, aad, ciphertext, tag),
        ContentEnc::A256Gcm => gcm_decrypt::<aes_gcm::Aes256Gcm>(cek, iv, aad, ciphertext, tag),
        ContentEnc::A128CbcHs256 => {
            let (mac_key, enc_key) = cek.split_at(16);
            // Authenticate before touching the padding: no padding oracle.
            let expected = cbc_hs_tag::<Hmac<Sha256>>(mac_key, aad, iv, ciphertext, 16)?;
            if !bool::from(expected.ct_eq(tag)) {
                return Err(JoseError::Decrypt);
            }
            cbc::Decryptor::<aes::Aes128>::new_from_slices(enc_key, iv)
                .map_err(|_| JoseError::Decrypt)?
                .decrypt_padded_vec::<Pkcs7>(ciphertext)
                .map_err(|_| JoseError::Decrypt)
        }
        ContentEnc::A256CbcHs512 => {
            let (mac_key, enc_key) = cek.split_at(32);
            let expected = cbc_hs_tag::<Hmac<Sha512>>(mac_key, aad, iv, ciphertext, 32)?;
            if !bool::from(expected.ct_eq(tag)) {
                return Err(JoseError::Decrypt);
            }
            cbc::Decryptor::<aes::Aes256>::new_from_slices(enc_key, iv)
                .map_err(|_| JoseError::Decrypt)?
                .decrypt_padded_vec::<Pkcs7>(ciphertext)
                .map_err(|_| JoseError::Decrypt)
        }
    }
}

fn gcm_encrypt<C: KeyInit + AeadInOut>(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), JoseError> {
    let cipher = C::new_from_slice(key).map_err(|_| JoseError::Crypto("GCM key"))?;
    let nonce = aes_gcm::aead::Nonce::<C>::try_from(iv).map_err(|_| JoseError::Crypto("GCM IV"))?;
    let mut buf = plaintext.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into())
        .map_err(|_| JoseError::Crypto("GCM encryption"))?;
    Ok((buf, tag.to_vec()))
}

fn gcm_decrypt<C: KeyInit + AeadInOut>(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>, JoseError> {
    let cipher = C::new_from_slice(key).map_err(|_| JoseError::Decrypt)?;
    let nonce = aes_gcm::aead::Nonce::<C>::try_from(iv).map_err(|_| JoseError::Decrypt)?;
    let tag = aes_gcm::aead::Tag::<C>::try_from(tag).map_err(|_| JoseError::Decrypt)?;
    let mut buf = ciphertext.to_vec();
    cipher
        .decrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into(), &tag)
        .map_err(|_| JoseError::Decrypt)?;
    Ok(buf)
}

/// RFC 7518 §5.2.2.1: HMAC over AAD || IV || ciphertext || AL, truncated to `len` bytes.
fn cbc_hs_tag<M: Mac + KeyInit>(
    mac_key: &[u8],
    aad: &[u8],
    iv: &[u8],
    ciphertext: &[u8],
    len: usize,
) -> Result<Vec<u8>, JoseError> {
    let mut mac =
        <M as KeyInit>::new_from_slice(mac_key).map_err(|_| JoseError::Crypto("MAC key"))?;
    let al = (aad.len() as u64).wrapping_mul(8).to_be_bytes();
    mac.update(aad);
    mac.update(iv);
    mac.update(ciphertext);
    mac.update(&al);
    let full = mac.finalize().into_bytes();
    Ok(full[..len].to_vec())
}

// ---------------------------------------------------------------------------------------------
// Key management

/// AES key wrap (RFC 3394) of `cek` under `kek` (16 or 32 bytes).
pub fn aes_key_wrap(kek: &[u8], cek: &[u8]) -> Result<Vec<u8>, JoseError> {
    // RFC 3394 wraps two or more 64-bit blocks; empty key data would "wrap" to the bare
    // integrity check value, whatever the KEK (Wycheproof EmptyKey), and unwrap refuses it.
    if cek.len() < 16 || !cek.len().is_multiple_of(8) {
        return Err(JoseError::Crypto(
            "key data must be 16 or more bytes, in 8-byte blocks",
        ));
    }
    let mut out = vec![0u8; cek.len() + 8];
    let r = match kek.len() {
        16 => aes_kw::KwAes128::new_from_slice(kek)
            .map_err(|_| JoseError::Crypto("KEK"))?
            .wrap_key(cek, &mut out)
            .map(<[u8]>::len),
        32 => aes_kw::KwAes256::new_from_slice(kek)
            .map_err(|_| JoseError::Crypto("KEK"))?
            .wrap_key(cek, &mut out)
            .map(<[u8]>::len),
        _ => return Err(JoseError::Crypto("KEK length")),
    };
    let n = r.map_err(|_| JoseError::Crypto("key wrap"))?;
    out.truncate(n);
    Ok(out)
}

/// AES key unwrap (RFC 3394); any failure is [`JoseError::Decrypt`].
pub fn aes_key_unwrap(kek: &[u8], wrapped: &[u8]) -> Result<Vec<u8>, JoseError> {
    if wrapped.len() < 24 || !wrapped.len().is_multiple_of(8) {
        return Err(JoseError::Decrypt);
    }
    let mut out = vec![0u8; wrapped.len() - 8];
    let r = match kek.len() {
        16 => aes_kw::KwAes128::new_from_slice(kek)
            .map_err(|_| JoseError::Decrypt)?
            .unwrap_key(wrapped, &mut out)
            .map(<[u8]>::len),
        32 => aes_kw::KwAes256::new_from_slice(kek)
            .map_err(|_| JoseError::Decrypt)?
            .unwrap_key(wrapped, &mut out)
            .map(<[u8]>::len),
        _ => return Err(JoseError::Decrypt),
    };
    let n = r.map_err(|_| JoseError::Decrypt)?;
    out.truncate(n);
    Ok(out)
}

/// Concat KDF (NIST SP 800-56A §5.8.1) with SHA-256 as RFC 7518 §4.6.2 specifies.
pub fn concat_kdf(z: &[u8], algorithm_id: &str, apu: &[u8], apv: &[u8], key_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(key_len + 32);
    let mut counter: u32 = 1;
    while out.len() < key_len {
        let mut h = Sha256::new();
        h.update(counter.to_be_bytes());
        h.update(z);
        for part in [algorithm_id.as_bytes(), apu, apv] {
            h.update((part.len() as u32).to_be_bytes());
            h.update(part);
        }
        h.update(((key_len as u32) * 8).to_be_bytes());
        out.extend_from_slice(&h.finalize());
        counter += 1;
    }
    out.truncate(key_len);
    out
}

/// The algorithm id and key length the ECDH-ES key derivation uses.
fn ecdh_target(alg: KeyMgmtAlg, enc: ContentEnc) -> (&'static str, usize) {
    match alg.kek_len() {
        Some(n) => (alg.as_str(), n),
        None => (enc.as_str(), enc.key_len()),
    }
}

#[derive(Serialize)]
struct Epk {
    kty: &'static str,
    crv: &'static str,
    x: String,
    y: String,
}

/// The protected header we write. Field order is the serialization order (as RFC 7520 writes).
#[derive(Serialize)]
struct OutHeader<'a> {
    alg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    epk: Option<Epk>,
    enc: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cty: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

/// Options for [`encrypt`].
#[derive(Clone, Copy, Debug)]
pub struct EncryptOptions<'a> {
    /// Key management algorithm.
    pub alg: KeyMgmtAlg,
    /// Content encryption algorithm.
    pub enc: ContentEnc,
    /// `cty`: `JWT` for a nested token.
    pub cty: Option<&'a str>,
    /// `typ`.
    pub typ: Option<&'a str>,
    /// `iss` replicated into the header (RFC 7519 §5.3).
    pub iss: Option<&'a str>,
    /// `aud` replicated into the header (RFC 7519 §5.3).
    pub aud: Option<&'a str>,
}

impl<'a> EncryptOptions<'a> {
    /// Options with `alg` and `enc` and nothing else.
    pub fn new(alg: KeyMgmtAlg, enc: ContentEnc) -> Self {
        Self {
            alg,
            enc,
            cty: None,
            typ: None,
            iss: None,
            aud: None,
        }
    }
}

/// Encrypt `plaintext` to the public key `recipient` as a compact JWE.
///
/// Entropy is drawn in a fixed order (ephemeral key or CEK first, then the IV), which lets
/// vector tests script it.
pub fn encrypt(
    plaintext: &[u8],
    recipient: &Jwk,
    opts: &EncryptOptions<'_>,
    entropy: &dyn Entropy,
) -> Result<String, JoseError> {
    let alg = opts.alg;
    let enc = opts.enc;
    if recipient.key_type() != alg.key_type() || !recipient.allows(KeyOp::Encrypt, alg.as_str()) {
        return Err(JoseError::InvalidKey(
            "key cannot be encrypted to with this algorithm",
        ));
    }
    let mut epk = None;
    let (cek, encrypted_key) = match alg {
        KeyMgmtAlg::RsaOaep256 => {
            let public = recipient
                .rsa_public()
                .ok_or(JoseError::InvalidKey("RSA key"))?;
            let mut cek = vec![0u8; enc.key_len()];
            entropy.fill(&mut cek)?;
            let ek = public
                .oaep_encrypt_with_rng::<Sha256, _>(&mut Rng(entropy), &cek)
                .map_err(|_| JoseError::Crypto("RSA-OAEP"))?;
            (cek, ek)
        }
        KeyMgmtAlg::EcdhEs | KeyMgmtAlg::EcdhEsA128Kw | KeyMgmtAlg::EcdhEsA256Kw => {
            let their = recipient
                .ec_public()
                .ok_or(JoseError::InvalidKey("EC key"))?;
            let eph_secret = EcPrivateKey::random(entropy)?;
            let z = eph_secret.diffie_hellman(&their);
            let (alg_id, len) = ecdh_target(alg, enc);
            let derived = concat_kdf(z.raw_secret_bytes(), alg_id, &[], &[], len);
            let (x, y) = ec_xy(&eph_secret.public_key())?;
            epk = Some(Epk {
                kty: "EC",
                crv: "P-256",
                x: b64::encode(x),
                y: b64::encode(y),
            });
            if alg == KeyMgmtAlg::EcdhEs {
                (derived, Vec::new())
            } else {
                let mut cek = vec![0u8; enc.key_len()];
                entropy.fill(&mut cek)?;
                let wrapped = aes_key_wrap(&derived, &cek)?;
                (cek, wrapped)
            }
        }
    };
    let header = OutHeader {
        alg: alg.as_str(),
        kid: recipient.kid.as_deref(),
        epk,
        enc: enc.as_str(),
        cty: opts.cty,
        typ: opts.typ,
        iss: opts.iss,
        aud: opts.aud,
    };
    let header = serde_json::to_vec(&header).map_err(|_| JoseError::Crypto("header encoding"))?;
    let protected = b64::encode(header);
    let mut iv = vec![0u8; enc.iv_len()];
    entropy.fill(&mut iv)?;
    let (ct, tag) = encrypt_content(enc, &cek, &iv, protected.as_bytes(), plaintext)?;
    let parts = [
        protected,
        b64::encode(encrypted_key),
        b64::encode(iv),
        b64::encode(ct),
        b64::encode(tag),
    ];
    Ok(parts.join("."))
}

/// A decrypted JWE.
#[derive(Clone, Debug)]
pub struct Decrypted {
    /// The protected header.
    pub header: Header,
    /// Key management algorithm used.
    pub alg: KeyMgmtAlg,
    /// Content encryption algorithm used.
    pub enc: ContentEnc,
    /// The plaintext.
    pub plaintext: Vec<u8>,
}

/// Decrypts compact JWE with one private key, accepting only the configured algorithms.
#[derive(Clone, Copy, Debug)]
pub struct Decrypter<'a> {
    key: &'a Jwk,
    algs: &'a [KeyMgmtAlg],
    encs: &'a [ContentEnc],
}

impl<'a> Decrypter<'a> {
    /// A decrypter for `key` (private) that accepts `algs` and `encs` only.
    pub fn new(key: &'a Jwk, algs: &'a [KeyMgmtAlg], encs: &'a [ContentEnc]) -> Self {
        Self { key, algs, encs }
    }

    /// Decrypt a compact JWE. Header problems are reported as such; everything after the
    /// header (key unwrap, tag, padding) fails as the one opaque [`JoseError::Decrypt`].
    pub fn decrypt(&self, token: &str, entropy: &dyn Entropy) -> Result<Decrypted, JoseError> {
        let [h, ek, iv, ct, tag] = split_compact::<5>(token)?;
        let header = decode_header(h)?;
        let alg_name = header_str(&header, "alg")?.ok_or(JoseError::Malformed("missing alg"))?;
        let enc_name = header_str(&header, "enc")?.ok_or(JoseError::Malformed("missing enc"))?;
        let alg: KeyMgmtAlg = alg_name.parse()?;
        let enc: ContentEnc = enc_name.parse()?;
        if !self.algs.contains(&alg) {
            return Err(JoseError::AlgorithmNotAllowed(String::from(alg_name)));
        }
        if !self.encs.contains(&enc) {
            return Err(JoseError::AlgorithmNotAllowed(String::from(enc_name)));
        }
        if self.key.key_type() != alg.key_type() || !self.key.allows(KeyOp::Decrypt, alg.as_str()) {
            return Err(JoseError::NoMatchingKey);
        }
        let encrypted_key = b64::decode(ek)?;
        let iv = b64::decode(iv)?;
        let ciphertext = b64::decode(ct)?;
        let tag = b64::decode(tag)?;
        let cek = match (alg, &self.key.material) {
            (KeyMgmtAlg::RsaOaep256, KeyMaterial::RsaPrivate(k)) => {
                let cek = k
                    .oaep_decrypt_with_rng::<Sha256, _>(&mut Rng(entropy), &encrypted_key)
                    .ok()
                    .filter(|c| c.len() == enc.key_len());
                match cek {
                    Some(c) => c,
                    // RFC 7516 §11.5: go on with a random CEK so that a bad key and a bad
                    // tag are indistinguishable, in result and in timing.
                    None => {
                        let mut c = vec![0u8; enc.key_len()];
                        entropy.fill(&mut c)?;
                        c
                    }
                }
            }
            (_, KeyMaterial::EcPrivate(secret)) => {
                let their = parse_epk(header.get("epk"))?;
                let apu = party_info(&header, "apu")?;
                let apv = party_info(&header, "apv")?;
                let z = secret.diffie_hellman(&their);
                let (alg_id, len) = ecdh_target(alg, enc);
                let derived = concat_kdf(z.raw_secret_bytes(), alg_id, &apu, &apv, len);
                if alg == KeyMgmtAlg::EcdhEs {
                    if !encrypted_key.is_empty() {
                        return Err(JoseError::Malformed("ECDH-ES needs an empty encrypted key"));
                    }
                    derived
                } else {
                    let cek = aes_key_unwrap(&derived, &encrypted_key)?;
                    if cek.len() != enc.key_len() {
                        return Err(JoseError::Decrypt);
                    }
                    cek
                }
            }
            _ => return Err(JoseError::NoMatchingKey),
        };
        let plaintext = decrypt_content(enc, &cek, &iv, h.as_bytes(), &ciphertext, &tag)?;
        Ok(Decrypted {
            header,
            alg,
            enc,
            plaintext,
        })
    }
}

/// The sender's ephemeral public key: P-256 only, and on the curve.
fn parse_epk(epk: Option<&Value>) -> Result<p256::PublicKey, JoseError> {
    let epk = epk.ok_or(JoseError::Malformed("missing epk"))?;
    if epk.get("d").is_some() {
        return Err(JoseError::Malformed("epk must be a public key"));
    }
    if epk.get("kty").and_then(Value::as_str) != Some("EC")
        || epk.get("crv").and_then(Value::as_str) != Some("P-256")
    {
        return Err(JoseError::InvalidKey("epk must be an EC P-256 key"));
    }
    let jwk = Jwk::from_value(epk)?;
    jwk.ec_public().ok_or(JoseError::InvalidKey("epk"))
}

fn party_info(header: &Header, name: &'static str) -> Result<Vec<u8>, JoseError> {
    match header_str(header, name)? {
        None => Ok(Vec::new()),
        Some(s) => {
            let v = b64::decode(s)?;
            if v.len() > MAX_PARTY_INFO {
                return Err(JoseError::Malformed(name));
            }
            Ok(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::rand::CountingEntropy;

    #[test]
    fn ec_round_trips_every_pair() {
        let rng = CountingEntropy(core::cell::Cell::new(7), 89);
        let key = Jwk::generate_ec(&rng).unwrap();
        let public = key.to_public();
        for alg in [
            KeyMgmtAlg::EcdhEs,
            KeyMgmtAlg::EcdhEsA128Kw,
            KeyMgmtAlg::EcdhEsA256Kw,
        ] {
            for enc in ContentEnc::ALL {
                let t = encrypt(b"secret", &public, &EncryptOptions::new(alg, enc), &rng).unwrap();
                let d = Decrypter::new(&key, &KeyMgmtAlg::ALL, &ContentEnc::ALL)
                    .decrypt(&t, &rng)
                    .unwrap();
                assert_eq!(d.plaintext, b"secret");
                assert_eq!((d.alg, d.enc), (alg, enc));
                // Flip one bit of the tag: opaque failure.
                let mut parts: Vec<String> = t.split('.').map(String::from).collect();
                let mut tag = b64::decode(&parts[4]).unwrap();
                tag[0] ^= 1;
                parts[4] = b64::encode(tag);
                let bad = parts.join(".");
                assert_eq!(
                    Decrypter::new(&key, &KeyMgmtAlg::ALL, &ContentEnc::ALL)
                        .decrypt(&bad, &rng)
                        .unwrap_err(),
                    JoseError::Decrypt
                );
            }
        }
    }

    /// RFC 7518 Appendix B.3: AES_256_CBC_HMAC_SHA_512 test case.
    #[test]
    fn rfc7518_b3_a256cbc_hs512() {
        let hex = |s: &str| -> Vec<u8> {
            let s: String = s.split_whitespace().collect();
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let k = hex("00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f
                     20 21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30 31 32 33 34 35 36 37 38 39 3a 3b 3c 3d 3e 3f");
        let p = hex("41 20 63 69 70 68 65 72 20 73 79 73 74 65 6d 20 6d 75 73 74 20 6e 6f 74 20 62 65 20 72 65 71 75
                     69 72 65 64 20 74 6f 20 62 65 20 73 65 63 72 65 74 2c 20 61 6e 64 20 69 74 20 6d 75 73 74 20 62
                     65 20 61 62 6c 65 20 74 6f 20 66 61 6c 6c 20 69 6e 74 6f 20 74 68 65 20 68 61 6e 64 73 20 6f 66
                     20 74 68 65 20 65 6e 65 6d 79 20 77 69 74 68 6f 75 74 20 69 6e 63 6f 6e 76 65 6e 69 65 6e 63 65");
        let iv = hex("1a f3 8c 2d c2 b9 6f fd d8 66 94 09 23 41 bc 04");
        let a = hex("54 68 65 20 73 65 63 6f 6e 64 20 70 72 69 6e 63 69 70 6c 65 20 6f 66 20 41 75 67 75 73 74 65 20
                     4b 65 72 63 6b 68 6f 66 66 73");
        let e = hex("4a ff aa ad b7 8c 31 c5 da 4b 1b 59 0d 10 ff bd 3d d8 d5 d3 02 42 35 26 91 2d a0 37 ec bc c7 bd
                     82 2c 30 1d d6 7c 37 3b cc b5 84 ad 3e 92 79 c2 e6 d1 2a 13 74 b7 7f 07 75 53 df 82 94 10 44 6b
                     36 eb d9 70 66 29 6a e6 42 7e a7 5c 2e 08 46 a1 1a 09 cc f5 37 0d c8 0b fe cb ad 28 c7 3f 09 b3
                     a3 b7 5e 66 2a 25 94 41 0a e4 96 b2 e2 e6 60 9e 31 e6 e0 2c c8 37 f0 53 d2 1f 37 ff 4f 51 95 0b
                     be 26 38 d0 9d d7 a4 93 09 30 80 6d 07 03 b1 f6");
        let t = hex(
            "4d d3 b4 c0 88 a7 f4 5c 21 68 39 64 5b 20 12 bf 2e 62 69 a8 c5 6a 81 6d bc 1b 26 77 61 95 5b c5",
        );
        let (ct, tag) = encrypt_content(ContentEnc::A256CbcHs512, &k, &iv, &a, &p).unwrap();
        assert_eq!(ct, e);
        assert_eq!(tag, t);
        assert_eq!(
            decrypt_content(ContentEnc::A256CbcHs512, &k, &iv, &a, &ct, &tag).unwrap(),
            p
        );
    }
}
