//! The crate's error types: one [`Error`] with typed sub-enums.

use core::fmt;

use crate::jose::rand::EntropyError;
pub use crate::jose::{ClaimsError, JoseError, JwtError};
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

impl core::error::Error for Error {}

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

impl From<JwtError> for Error {
    fn from(e: JwtError) -> Self {
        match e {
            JwtError::Jose(e) => Self::Jose(e),
            JwtError::Claims(e) => Self::Claims(e),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}
