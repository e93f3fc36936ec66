//! The crate's error types: one [`Error`] with typed sub-enums.

use alloc::string::String;
use core::fmt;

use crate::entropy::EntropyError;
use crate::store::StoreError;

/// Everything that can go wrong in the core.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A JOSE object (JWK, JWS, JWE) could not be built, parsed, verified or decrypted.
    Jose(JoseError),
    /// A JWT's claims failed validation.
    Claims(ClaimsError),
    /// The host could not provide random bytes.
    Entropy(EntropyError),
    /// The host's store failed.
    Store(StoreError),
}

/// Why a JOSE operation failed. Decryption failures are deliberately one opaque variant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoseError {
    /// The input is not well formed (bad base64url, bad JSON, wrong number of parts, ...).
    Malformed(&'static str),
    /// The input is larger than this implementation accepts.
    TooLarge,
    /// The algorithm named is not one this implementation supports.
    UnsupportedAlgorithm(String),
    /// The algorithm is supported but the caller did not allow it.
    AlgorithmNotAllowed(String),
    /// A header parameter this implementation does not support (`crit`, `zip`, ...).
    UnsupportedHeader(&'static str),
    /// The key is not valid, or not valid for this use.
    InvalidKey(&'static str),
    /// No key in the set fits the token (kid, key type, use, alg).
    NoMatchingKey,
    /// The signature does not verify.
    InvalidSignature,
    /// Decryption failed. One opaque error for every cause, so no oracle is offered.
    Decrypt,
    /// Signing or encryption failed inside the crypto primitive.
    Crypto(&'static str),
    /// The host could not provide random bytes.
    Entropy,
}

/// Why a JWT's claims were rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimsError {
    /// The payload is not a JSON object.
    NotAnObject,
    /// A required claim is missing.
    Missing(&'static str),
    /// A claim has the wrong type or an invalid value.
    Invalid(&'static str),
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `iss` is not the expected issuer.
    IssuerMismatch,
    /// `aud` does not contain the expected audience.
    AudienceMismatch,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Jose(e) => e.fmt(f),
            Self::Claims(e) => e.fmt(f),
            Self::Entropy(e) => e.fmt(f),
            Self::Store(e) => e.fmt(f),
        }
    }
}

impl fmt::Display for JoseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "malformed: {what}"),
            Self::TooLarge => f.write_str("input too large"),
            Self::UnsupportedAlgorithm(a) => write!(f, "unsupported algorithm {a:?}"),
            Self::AlgorithmNotAllowed(a) => write!(f, "algorithm {a:?} is not allowed here"),
            Self::UnsupportedHeader(h) => write!(f, "unsupported header parameter {h:?}"),
            Self::InvalidKey(why) => write!(f, "invalid key: {why}"),
            Self::NoMatchingKey => f.write_str("no key matches the token"),
            Self::InvalidSignature => f.write_str("invalid signature"),
            Self::Decrypt => f.write_str("decryption failed"),
            Self::Crypto(why) => write!(f, "cryptographic operation failed: {why}"),
            Self::Entropy => f.write_str("the host's random number generator failed"),
        }
    }
}

impl fmt::Display for ClaimsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnObject => f.write_str("claims are not a JSON object"),
            Self::Missing(c) => write!(f, "missing claim {c:?}"),
            Self::Invalid(c) => write!(f, "invalid claim {c:?}"),
            Self::Expired => f.write_str("token expired"),
            Self::NotYetValid => f.write_str("token not yet valid (nbf)"),
            Self::IssuedInFuture => f.write_str("token issued in the future (iat)"),
            Self::IssuerMismatch => f.write_str("unexpected issuer"),
            Self::AudienceMismatch => f.write_str("audience does not match"),
        }
    }
}

impl core::error::Error for Error {}
impl core::error::Error for JoseError {}
impl core::error::Error for ClaimsError {}

impl From<JoseError> for Error {
    fn from(e: JoseError) -> Self {
        Self::Jose(e)
    }
}

impl From<ClaimsError> for Error {
    fn from(e: ClaimsError) -> Self {
        Self::Claims(e)
    }
}

impl From<EntropyError> for Error {
    fn from(e: EntropyError) -> Self {
        Self::Entropy(e)
    }
}

impl From<EntropyError> for JoseError {
    fn from(_: EntropyError) -> Self {
        Self::Entropy
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}
