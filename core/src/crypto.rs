//! The crypto seam: the costly primitives, a private-key signature, RSA key generation and
//! PBKDF2, done by whoever does them best on the platform, as rustls leaves its primitives to
//! a `CryptoProvider`. [`RustCrypto`] is core's own pure-Rust code, the default; a host whose
//! platform does them natively much faster (WebCrypto at the edge, where a wasm RSA signature
//! costs 20+ ms of CPU) answers with its platform's. Both give the same results: a signature any
//! verifier accepts, the same PBKDF2 output, a key core checks on import like any other.

use alloc::vec::Vec;

use sha2::Sha256;

use crate::jose::JoseError;
use crate::jose::jwe::EncryptOptions;
use crate::jose::jwt::{self, Claims};
use crate::jose::rand::Entropy;
use crate::jose::{Jwk, JwsAlg, jws};

/// A JWS signing input with the private key and algorithm to sign it with (checked against
/// each other by the caller).
#[derive(Clone, Copy, Debug)]
pub struct ToSign<'a> {
    /// The private key.
    pub key: &'a Jwk,
    /// The algorithm.
    pub alg: JwsAlg,
    /// `base64url(header) . base64url(payload)`.
    pub input: &'a [u8],
}

/// One PBKDF2-HMAC-SHA256 derivation, with a 32-byte output.
#[derive(Clone, Copy)]
pub struct Pbkdf2<'a> {
    /// The password.
    pub password: &'a [u8],
    /// The salt.
    pub salt: &'a [u8],
    /// The iteration count.
    pub iterations: u32,
}

impl core::fmt::Debug for Pbkdf2<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pbkdf2")
            .field("password", &"[redacted]")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// The costly primitives, as a host does them ([`crate::host::Host::crypto`]). Each method's
/// default is core's own pure-Rust code ([`RustCrypto`]): a host answers only what its platform
/// does better.
#[allow(async_fn_in_trait)] // Workers futures are !Send: no Send bound, by design.
pub trait Crypto {
    /// The JWS signature of `what`; `entropy` blinds RSA and salts PSS.
    async fn sign(&self, what: ToSign<'_>, entropy: &dyn Entropy) -> Result<Vec<u8>, JoseError> {
        jws::sign_raw(what.key, what.alg, what.input, entropy)
    }

    /// A fresh RSA private key of `bits` bits, e = 65537, `kid` its RFC 7638 thumbprint and no
    /// other metadata (a realm's RS256/PS256 key).
    async fn generate_rsa(&self, bits: usize, entropy: &dyn Entropy) -> Result<Jwk, JoseError> {
        Jwk::generate_rsa(bits, entropy)
    }

    /// PBKDF2-HMAC-SHA256, 32 bytes of output.
    async fn pbkdf2_sha256(&self, p: Pbkdf2<'_>) -> Result<[u8; 32], JoseError> {
        Ok(pbkdf2_sha256(p.password, p.salt, p.iterations))
    }

    /// Whether `sig` is `key`'s JWS signature of `input` under `alg`, as
    /// [`jws::verify_signature`] answers. In place and synchronous: a verification is cheap
    /// next to a signature (a host whose platform verifies only asynchronously, as WebCrypto
    /// does, keeps this default).
    fn verify(&self, key: &Jwk, alg: JwsAlg, input: &[u8], sig: &[u8]) -> bool {
        jws::verify_signature(key, alg, input, sig)
    }
}

/// Every crypto seam checks a [`jws::Verifier`]'s signatures its own way
/// ([`jws::Verifier::checking_with`]).
impl<C: Crypto> jws::CheckSignature for C {
    fn check_signature(&self, key: &Jwk, alg: JwsAlg, signing_input: &[u8], sig: &[u8]) -> bool {
        self.verify(key, alg, signing_input, sig)
    }
}

/// Core's own pure-Rust primitives: the default answer to [`Crypto`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RustCrypto;

impl Crypto for RustCrypto {}

/// A JWT of `claims` signed through `crypto` ([`jwt::sign_and_maybe_encrypt`]), nested in a
/// JWE for `encrypt_to` when given.
pub async fn sign_jwt<C: Crypto + ?Sized>(
    crypto: &C,
    entropy: &dyn Entropy,
    claims: &Claims,
    key: &Jwk,
    alg: JwsAlg,
    typ: Option<&str>,
    encrypt_to: Option<(&Jwk, &EncryptOptions<'_>)>,
) -> Result<alloc::string::String, JoseError> {
    jwt::sign_and_maybe_encrypt_with(claims, key, alg, typ, encrypt_to, entropy, async |input| {
        crypto.sign(ToSign { key, alg, input }, entropy).await
    })
    .await
}

/// PBKDF2-HMAC-SHA256 with a 32-byte output: core's own, what [`RustCrypto`] does.
pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
    out
}
