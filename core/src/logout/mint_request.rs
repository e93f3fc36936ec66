//! A logout token asked for by name, outside a provider: the CLI's `logout-token mint` and the
//! npm package's `mintLogoutToken` both fill a [`MintRequest`] (the npm package deserialises its
//! options straight into it) and leave every default and check to [`MintRequest::mint`] (the
//! npm package to [`MintRequest::prepare`], then signs through WebCrypto).

use alloc::string::String;
use core::fmt;

use serde::Deserialize;

use super::cause::LogoutCause;
use super::logout_token::{self, LogoutTokenKeys, LogoutTokenParams, MAX_LIFETIME_SECS};
use crate::UnixTime;
use crate::error::Error;
use crate::host::Entropy;
use crate::jose::jwk::KeyType;
use crate::jose::{ContentEnc, Jwk, JwsAlg, KeyMgmtAlg};

/// Content encryption when a recipient is given without `enc`.
pub const DEFAULT_ENC: ContentEnc = ContentEnc::A128CbcHs256;

/// The claims and algorithms of one logout token, by name; the keys travel beside it.
///
/// Field names are the npm package's options (camelCase); unknown members are refused.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MintRequest {
    /// `iss`.
    pub issuer: String,
    /// `aud`: the relying party's client id.
    pub audience: String,
    /// `sub`; a token needs `sub`, `sid` or both.
    #[serde(default)]
    pub subject: Option<String>,
    /// `sid`.
    #[serde(default)]
    pub sid: Option<String>,
    /// `cause`: one of the [`LogoutCause`] names; none leaves the claim out.
    #[serde(default)]
    pub cause: Option<String>,
    /// `exp - iat` in seconds (default and most: [`MAX_LIFETIME_SECS`]).
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// The signature algorithm (default: the key's `alg`, else ES256 or RS256 by key type).
    #[serde(default, rename = "alg")]
    pub sign_alg: Option<String>,
    /// `iat` (default: the caller's clock).
    #[serde(default)]
    pub now: Option<u64>,
    /// AM's `auditTrackingId` (default: a fresh UUID).
    #[serde(default)]
    pub audit_tracking_id: Option<String>,
    /// JWE key management (default: the recipient key's `alg`, else ECDH-ES or RSA-OAEP-256).
    #[serde(default)]
    pub encryption_alg: Option<String>,
    /// JWE content encryption (default: [`DEFAULT_ENC`]).
    #[serde(default)]
    pub enc: Option<String>,
}

/// Which part of a [`MintRequest`] an error is about; each caller names it its own way
/// (`--sign-alg`, `alg`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MintField {
    /// The signing key.
    Key,
    /// The signature algorithm.
    SignAlg,
    /// The recipient's public key.
    EncryptTo,
    /// The JWE key management algorithm.
    EncryptionAlg,
    /// The JWE content encryption.
    Enc,
    /// The cause.
    Cause,
    /// The lifetime.
    ExpiresIn,
    /// The subject and sid.
    SubjectOrSid,
}

/// Why a [`MintRequest`] was refused.
#[derive(Debug)]
pub enum MintError {
    /// An algorithm name this provider does not support.
    UnsupportedAlgorithm(MintField, String),
    /// A key that cannot serve: public where a private key is needed or the other way round,
    /// or of the wrong type for the algorithm.
    InvalidKey(MintField, String),
    /// A value out of range, or missing.
    InvalidArgument(MintField, String),
    /// Minting itself failed (the key refused the algorithm, entropy).
    Mint(Error),
}

impl MintError {
    /// The npm package's error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedAlgorithm(..) => "unsupported_algorithm",
            Self::InvalidKey(..) => "invalid_key",
            Self::InvalidArgument(..) => "invalid_argument",
            Self::Mint(_) => "mint",
        }
    }

    /// The part of the request at fault, if one is.
    pub fn field(&self) -> Option<MintField> {
        match self {
            Self::UnsupportedAlgorithm(f, _)
            | Self::InvalidKey(f, _)
            | Self::InvalidArgument(f, _) => Some(*f),
            Self::Mint(_) => None,
        }
    }
}

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedAlgorithm(_, m)
            | Self::InvalidKey(_, m)
            | Self::InvalidArgument(_, m) => f.write_str(m),
            Self::Mint(e) => fmt::Display::fmt(e, f),
        }
    }
}

fn parse_alg<T: core::str::FromStr>(field: MintField, name: &str) -> Result<T, MintError> {
    name.parse().map_err(|_| {
        MintError::UnsupportedAlgorithm(field, alloc::format!("unsupported algorithm {name:?}"))
    })
}

impl MintRequest {
    /// The signature algorithm: asked for, else the key's `alg`, else the key type's default;
    /// the key must be private and of the algorithm's type.
    pub fn signing_alg(&self, key: &Jwk) -> Result<JwsAlg, MintError> {
        if !key.is_private() {
            return Err(MintError::InvalidKey(
                MintField::Key,
                String::from("the signing key must be a private key"),
            ));
        }
        let alg = match (&self.sign_alg, &key.alg) {
            (Some(a), _) => parse_alg(MintField::SignAlg, a)?,
            (None, Some(a)) => parse_alg(MintField::Key, a)?,
            (None, None) => match key.key_type() {
                KeyType::EcP256 => JwsAlg::ES256,
                KeyType::Rsa => JwsAlg::RS256,
            },
        };
        if alg.key_type() != key.key_type() {
            return Err(MintError::InvalidKey(
                MintField::SignAlg,
                alloc::format!("{} key cannot sign {alg}", key.key_type()),
            ));
        }
        Ok(alg)
    }

    /// The JWE algorithms for `recipient` (a public key), or none without one.
    pub fn encryption(
        &self,
        recipient: Option<&Jwk>,
    ) -> Result<Option<(KeyMgmtAlg, ContentEnc)>, MintError> {
        let Some(k) = recipient else {
            if self.encryption_alg.is_some() || self.enc.is_some() {
                return Err(MintError::InvalidArgument(
                    MintField::EncryptTo,
                    String::from("encryption algorithms need a recipient key"),
                ));
            }
            return Ok(None);
        };
        if k.is_private() {
            return Err(MintError::InvalidKey(
                MintField::EncryptTo,
                String::from("the recipient key must be the relying party's public key"),
            ));
        }
        let alg: KeyMgmtAlg = match (&self.encryption_alg, &k.alg) {
            (Some(a), _) => parse_alg(MintField::EncryptionAlg, a)?,
            (None, Some(a)) => parse_alg(MintField::EncryptTo, a)?,
            (None, None) => match k.key_type() {
                KeyType::EcP256 => KeyMgmtAlg::EcdhEs,
                KeyType::Rsa => KeyMgmtAlg::RsaOaep256,
            },
        };
        if alg.key_type() != k.key_type() {
            return Err(MintError::InvalidKey(
                MintField::EncryptTo,
                alloc::format!("{} key cannot be used with {alg}", k.key_type()),
            ));
        }
        let enc = match &self.enc {
            Some(e) => parse_alg(MintField::Enc, e)?,
            None => DEFAULT_ENC,
        };
        Ok(Some((alg, enc)))
    }

    /// The cause, by name.
    pub fn cause(&self) -> Result<Option<LogoutCause>, MintError> {
        self.cause
            .as_deref()
            .map(|c| {
                c.parse::<LogoutCause>().map_err(|_| {
                    MintError::InvalidArgument(
                        MintField::Cause,
                        alloc::format!(
                            "cause {c:?} is none of CLIENT_LOGOUT, SESSION_TERMINATION, \
                             SESSION_MAX_TIMEOUT, SESSION_IDLE_TIMEOUT"
                        ),
                    )
                })
            })
            .transpose()
    }

    /// Check everything and mint: a JWS signed with `key`, nested in a JWE to `encrypt_to` when
    /// given; `now` is the caller's clock, used unless the request sets `now`.
    pub fn mint(
        &self,
        key: &Jwk,
        encrypt_to: Option<&Jwk>,
        now: UnixTime,
        entropy: &dyn Entropy,
    ) -> Result<String, MintError> {
        let (params, keys) = self.prepare(key, encrypt_to, now)?;
        logout_token::mint(&params, &keys, entropy).map_err(MintError::Mint)
    }

    /// Every check of [`MintRequest::mint`], and what it then mints with: for a caller that
    /// signs through a [`Crypto`](crate::host::Crypto) seam ([`logout_token::mint_via`]), as
    /// the npm package does through WebCrypto.
    pub fn prepare<'a>(
        &'a self,
        key: &'a Jwk,
        encrypt_to: Option<&'a Jwk>,
        now: UnixTime,
    ) -> Result<(LogoutTokenParams<'a>, LogoutTokenKeys<'a>), MintError> {
        let alg = self.signing_alg(key)?;
        let cause = self.cause()?;
        let encryption = self.encryption(encrypt_to)?;
        if self.subject.is_none() && self.sid.is_none() {
            return Err(MintError::InvalidArgument(
                MintField::SubjectOrSid,
                String::from("a logout token needs a subject, a sid, or both"),
            ));
        }
        let lifetime_secs = self.expires_in.unwrap_or(MAX_LIFETIME_SECS);
        if lifetime_secs == 0 || lifetime_secs > MAX_LIFETIME_SECS {
            return Err(MintError::InvalidArgument(
                MintField::ExpiresIn,
                alloc::format!("the lifetime must be 1 to {MAX_LIFETIME_SECS} seconds"),
            ));
        }
        let params = LogoutTokenParams {
            issuer: &self.issuer,
            audience: &self.audience,
            subject: self.subject.as_deref(),
            sid: self.sid.as_deref(),
            cause,
            audit_tracking_id: self.audit_tracking_id.as_deref(),
            jti: None,
            now: self.now.map_or(now, UnixTime),
            lifetime_secs,
        };
        let keys = LogoutTokenKeys {
            signing_key: key,
            alg,
            encrypt_to: encrypt_to.zip(encryption).map(|(k, (a, e))| (k, a, e)),
        };
        Ok((params, keys))
    }
}
