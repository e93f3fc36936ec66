//! Logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4) and their validation (§2.6).

use alloc::{format, string::String};
use core::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::UnixTime;
use crate::error::{ClaimsError, Error, JoseError};
use crate::host::{Crypto, Entropy};
use crate::jose::jwe::{Decrypter, EncryptOptions};
use crate::jose::jws::Verifier;
use crate::jose::jwt::{self, Claims, Validation};
use crate::jose::{ContentEnc, Jwk, JwkSet, JwsAlg, KeyMgmtAlg, b64};

/// The one member of a logout token's `events` claim.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The `typ` header of a logout token.
pub const LOGOUT_TYP: &str = "logout+jwt";
/// The longest lifetime a logout token may have, in seconds.
pub const MAX_LIFETIME_SECS: u64 = 120;

pub use super::cause::LogoutCause;

/// Everything needed to mint one logout token for one relying party.
#[derive(Clone, Copy, Debug)]
pub struct LogoutTokenParams<'a> {
    /// `iss`: the OP's issuer.
    pub issuer: &'a str,
    /// `aud`: the relying party's client id.
    pub audience: &'a str,
    /// `sub`, as in the ID tokens this RP received.
    pub subject: Option<&'a str>,
    /// `sid`, only for an RP that registered `backchannel_logout_session_required`.
    pub sid: Option<&'a str>,
    /// Why the session ended; `None` leaves the claim out.
    pub cause: Option<LogoutCause>,
    /// AM's `auditTrackingId`, stable across retries; generated when `None`.
    pub audit_tracking_id: Option<&'a str>,
    /// `jti`; a fresh random one when `None`.
    pub jti: Option<&'a str>,
    /// `iat`.
    pub now: UnixTime,
    /// `exp - iat`, at most [`MAX_LIFETIME_SECS`].
    pub lifetime_secs: u64,
}

/// How to sign a logout token and, optionally, whom to encrypt it to.
#[derive(Clone, Copy, Debug)]
pub struct LogoutTokenKeys<'a> {
    /// The OP's private signing key (the ID-token key for this client).
    pub signing_key: &'a Jwk,
    /// The client's ID-token signing algorithm.
    pub alg: JwsAlg,
    /// The client's public key and ID-token encryption algorithms, when it registered them.
    pub encrypt_to: Option<(&'a Jwk, KeyMgmtAlg, ContentEnc)>,
}

#[derive(Serialize)]
struct Events {
    #[serde(rename = "http://schemas.openid.net/event/backchannel-logout")]
    backchannel_logout: Map<String, Value>,
}

/// The claims exactly as DESIGN.md orders them; `nonce` does not exist here.
#[derive(Serialize)]
struct OutClaims<'a> {
    iss: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: &'a str,
    events: Events,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    #[serde(rename = "auditTrackingId")]
    audit_tracking_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<&'a str>,
}

/// A fresh random identifier: 128 bits, base64url.
pub fn random_id(entropy: &dyn Entropy) -> Result<String, Error> {
    let bytes: [u8; 16] = crate::jose::rand::random(entropy)?;
    Ok(b64::encode(bytes))
}

/// A fresh random UUID (version 4), the shape AM uses for tracking ids.
pub fn random_uuid(entropy: &dyn Entropy) -> Result<String, Error> {
    let mut b: [u8; 16] = crate::jose::rand::random(entropy)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h =
        |r: core::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        h(0..4),
        h(4..6),
        h(6..8),
        h(8..10),
        h(10..16)
    ))
}

/// Mint a logout token: a JWS with `typ: logout+jwt`, nested in a JWE (`cty: JWT`, `iss` and
/// `aud` copied into its header) when the client asked for encryption.
pub fn mint(
    params: &LogoutTokenParams<'_>,
    keys: &LogoutTokenKeys<'_>,
    entropy: &dyn Entropy,
) -> Result<String, Error> {
    let claims = claims(params, entropy)?;
    let enc_opts = encrypt_options(params, keys);
    Ok(jwt::sign_and_maybe_encrypt(
        &claims,
        keys.signing_key,
        keys.alg,
        Some(LOGOUT_TYP),
        recipient(keys, enc_opts.as_ref()),
        entropy,
    )?)
}

/// [`mint`], with the signature made by the host ([`crate::crypto::Crypto::sign`]).
pub async fn mint_with<H: crate::host::Host>(
    host: &H,
    params: &LogoutTokenParams<'_>,
    keys: &LogoutTokenKeys<'_>,
) -> Result<String, Error> {
    mint_via(host.crypto(), host, params, keys).await
}

/// [`mint`], with the signature made by `crypto` (outside a host: the npm package's
/// `mintLogoutToken` signs through WebCrypto).
pub async fn mint_via<C: Crypto + ?Sized>(
    crypto: &C,
    entropy: &dyn Entropy,
    params: &LogoutTokenParams<'_>,
    keys: &LogoutTokenKeys<'_>,
) -> Result<String, Error> {
    let claims = claims(params, entropy)?;
    let enc_opts = encrypt_options(params, keys);
    Ok(crate::crypto::sign_jwt(
        crypto,
        entropy,
        &claims,
        keys.signing_key,
        keys.alg,
        Some(LOGOUT_TYP),
        recipient(keys, enc_opts.as_ref()),
    )
    .await?)
}

/// The token's claims (`jti` fresh, `auditTrackingId` as given or fresh), once the
/// parameters are checked.
pub(crate) fn claims(
    params: &LogoutTokenParams<'_>,
    entropy: &dyn Entropy,
) -> Result<Map<String, Value>, Error> {
    if params.subject.is_none() && params.sid.is_none() {
        return Err(Error::Claims(ClaimsError::Missing("sub or sid")));
    }
    if params.lifetime_secs == 0 || params.lifetime_secs > MAX_LIFETIME_SECS {
        return Err(Error::Claims(ClaimsError::Invalid("exp")));
    }
    let jti = match params.jti {
        Some(j) => String::from(j),
        None => random_id(entropy)?,
    };
    let tracking = match params.audit_tracking_id {
        Some(t) => String::from(t),
        None => random_uuid(entropy)?,
    };
    let claims = OutClaims {
        iss: params.issuer,
        sub: params.subject,
        aud: params.audience,
        iat: params.now.secs(),
        exp: params.now.plus(params.lifetime_secs).secs(),
        jti: &jti,
        events: Events {
            backchannel_logout: Map::new(),
        },
        sid: params.sid,
        audit_tracking_id: &tracking,
        cause: params.cause.map(LogoutCause::as_str),
    };
    match serde_json::to_value(&claims) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Error::Jose(JoseError::Crypto("claims encoding"))),
    }
}

/// The JWE settings when the client asked for encryption: `iss` and `aud` in its header.
fn encrypt_options<'a>(
    params: &LogoutTokenParams<'a>,
    keys: &LogoutTokenKeys<'_>,
) -> Option<EncryptOptions<'a>> {
    keys.encrypt_to.map(|(_, alg, enc)| EncryptOptions {
        iss: Some(params.issuer),
        aud: Some(params.audience),
        ..EncryptOptions::new(alg, enc)
    })
}

fn recipient<'k, 'o>(
    keys: &LogoutTokenKeys<'k>,
    opts: Option<&'o EncryptOptions<'o>>,
) -> Option<(&'k Jwk, &'o EncryptOptions<'o>)> {
    match (keys.encrypt_to, opts) {
        (Some((k, _, _)), Some(o)) => Some((k, o)),
        _ => None,
    }
}

/// Why a logout token was rejected. [`LogoutTokenError::code`] is stable for callers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogoutTokenError {
    /// Not a well-formed JWS/JWE.
    Malformed(String),
    /// Encrypted when no key was given, or plain when encryption was required.
    Encryption(String),
    /// Decryption failed.
    DecryptionFailed,
    /// Algorithm not supported or not allowed.
    Algorithm(String),
    /// No key in the JWKS fits.
    NoMatchingKey,
    /// The signature does not verify.
    InvalidSignature,
    /// `typ` is present and is not `logout+jwt`.
    WrongType(String),
    /// `iss` is not the expected issuer.
    IssuerMismatch,
    /// `aud` does not name this client.
    AudienceMismatch,
    /// `exp` has passed.
    Expired,
    /// `iat` lies in the future.
    IssuedInFuture,
    /// A required claim is missing or has the wrong type.
    InvalidClaim(&'static str),
    /// Neither `sub` nor `sid` is present (§2.6 step 4).
    MissingSubAndSid,
    /// `events` lacks the back-channel logout member (§2.6 step 5).
    MissingEvents,
    /// A `nonce` is present (§2.6 step 6).
    NoncePresent,
    /// This `jti` was seen before (§2.6 step 7).
    Replayed,
}

impl LogoutTokenError {
    /// A stable, machine-readable code.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::Encryption(_) => "encryption_mismatch",
            Self::DecryptionFailed => "decryption_failed",
            Self::Algorithm(_) => "unsupported_algorithm",
            Self::NoMatchingKey => "no_matching_key",
            Self::InvalidSignature => "invalid_signature",
            Self::WrongType(_) => "wrong_typ",
            Self::IssuerMismatch => "invalid_issuer",
            Self::AudienceMismatch => "invalid_audience",
            Self::Expired => "expired",
            Self::IssuedInFuture => "issued_in_future",
            Self::InvalidClaim(_) => "invalid_claim",
            Self::MissingSubAndSid => "missing_sub_and_sid",
            Self::MissingEvents => "missing_events",
            Self::NoncePresent => "nonce_present",
            Self::Replayed => "replayed",
        }
    }
}

impl fmt::Display for LogoutTokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(m) => write!(f, "malformed logout token: {m}"),
            Self::Encryption(m) => f.write_str(m),
            Self::DecryptionFailed => f.write_str("the logout token could not be decrypted"),
            Self::Algorithm(m) => write!(f, "algorithm: {m}"),
            Self::NoMatchingKey => f.write_str("no key in the JWKS matches the logout token"),
            Self::InvalidSignature => f.write_str("the logout token's signature does not verify"),
            Self::WrongType(t) => write!(f, "typ is {t:?}, expected \"logout+jwt\""),
            Self::IssuerMismatch => f.write_str("iss is not the expected issuer"),
            Self::AudienceMismatch => f.write_str("aud does not contain this client"),
            Self::Expired => f.write_str("the logout token has expired"),
            Self::IssuedInFuture => f.write_str("iat lies in the future"),
            Self::InvalidClaim(c) => write!(f, "claim {c:?} is missing or invalid"),
            Self::MissingSubAndSid => f.write_str("the logout token has neither sub nor sid"),
            Self::MissingEvents => {
                write!(f, "events does not contain {BACKCHANNEL_LOGOUT_EVENT}")
            }
            Self::NoncePresent => f.write_str("a logout token must not contain a nonce"),
            Self::Replayed => f.write_str("this jti was already received"),
        }
    }
}

impl core::error::Error for LogoutTokenError {}

impl From<crate::jose::JwtError> for LogoutTokenError {
    fn from(e: crate::jose::JwtError) -> Self {
        Error::from(e).into()
    }
}

impl From<Error> for LogoutTokenError {
    fn from(e: Error) -> Self {
        match e {
            Error::Jose(j) => match j {
                JoseError::Decrypt => Self::DecryptionFailed,
                JoseError::InvalidSignature => Self::InvalidSignature,
                JoseError::NoMatchingKey => Self::NoMatchingKey,
                JoseError::UnsupportedAlgorithm(a) | JoseError::AlgorithmNotAllowed(a) => {
                    Self::Algorithm(a)
                }
                JoseError::Malformed(m)
                    if m.starts_with("token is encrypted") || m.starts_with("token must be") =>
                {
                    Self::Encryption(String::from(m))
                }
                other => Self::Malformed(format!("{other}")),
            },
            Error::Claims(c) => match c {
                ClaimsError::Expired => Self::Expired,
                ClaimsError::IssuedInFuture => Self::IssuedInFuture,
                ClaimsError::IssuerMismatch => Self::IssuerMismatch,
                ClaimsError::AudienceMismatch => Self::AudienceMismatch,
                ClaimsError::Missing(n) | ClaimsError::Invalid(n) => Self::InvalidClaim(n),
                ClaimsError::NotYetValid => Self::InvalidClaim("nbf"),
                ClaimsError::NotAnObject => {
                    Self::Malformed(String::from("claims are not a JSON object"))
                }
            },
            Error::Entropy(x) => Self::Malformed(format!("{x}")),
            Error::Store(x) => Self::Malformed(format!("{x}")),
        }
    }
}

/// What a relying party knows when it validates a logout token.
#[derive(Clone, Copy, Debug)]
pub struct LogoutTokenValidation<'a> {
    /// The OP's issuer.
    pub issuer: &'a str,
    /// This RP's client id.
    pub audience: &'a str,
    /// The OP's public keys.
    pub jwks: &'a JwkSet,
    /// Signature algorithms accepted (the RP's registered ID-token alg, or all supported).
    pub algs: &'a [JwsAlg],
    /// The RP's private key when it registered ID-token encryption; the token must then be a JWE.
    pub decrypt_with: Option<&'a Jwk>,
    /// The current time.
    pub now: UnixTime,
    /// Clock skew tolerated, in seconds.
    pub leeway_secs: u64,
}

/// The claims of a validated logout token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutTokenClaims {
    /// All claims as received.
    pub claims: Claims,
    /// `sub`, if present.
    pub sub: Option<String>,
    /// `sid`, if present.
    pub sid: Option<String>,
    /// `jti`.
    pub jti: String,
    /// `cause`, if present and known.
    pub cause: Option<LogoutCause>,
}

fn opt_string(claims: &Claims, name: &'static str) -> Result<Option<String>, LogoutTokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(LogoutTokenError::InvalidClaim(name)),
    }
}

/// Validate a logout token as Back-Channel Logout 1.0 §2.6 steps 1–7 require.
///
/// `seen_jti` implements step 7: it is called with the token's `jti` once everything else has
/// passed and returns `true` when that `jti` was received before.
pub fn verify(
    token: &str,
    v: &LogoutTokenValidation<'_>,
    entropy: &dyn Entropy,
    seen_jti: Option<&mut dyn FnMut(&str) -> bool>,
) -> Result<LogoutTokenClaims, LogoutTokenError> {
    let token = token.trim();
    // Step 1: decrypt with the keys and algorithms registered for ID tokens.
    let decrypter = v
        .decrypt_with
        .map(|k| Decrypter::new(k, &KeyMgmtAlg::ALL, &ContentEnc::ALL));
    // Step 2: the signature, as for an ID token, with only the configured algorithms.
    let verifier = Verifier::new(v.jwks, v.algs);
    let opened = jwt::open(token, &verifier, decrypter.as_ref(), entropy)?;
    if let Some(h) = &opened.jwe_header {
        // An issuer replicated into the JWE header must agree (RFC 7519 §5.3).
        if h.get("iss").is_some_and(|i| i.as_str() != Some(v.issuer)) {
            return Err(LogoutTokenError::IssuerMismatch);
        }
    }
    // Explicit typing: refuse a token typed as something else (an ID token, say).
    if let Some(typ) = opened.header.get("typ") {
        let t = typ.as_str().unwrap_or("");
        let t = t.strip_prefix("application/").unwrap_or(t);
        if !t.eq_ignore_ascii_case(LOGOUT_TYP) {
            return Err(LogoutTokenError::WrongType(String::from(
                typ.as_str().unwrap_or("?"),
            )));
        }
    }
    let claims = opened.claims;
    // Step 3: iss, aud, iat, and exp (required since errata set 1).
    let mut val = Validation::new(v.now);
    val.leeway_secs = v.leeway_secs;
    val.issuer = Some(v.issuer);
    val.audience = Some(v.audience);
    jwt::validate(&claims, &val).map_err(|e| LogoutTokenError::from(Error::Claims(e)))?;
    // Step 4: sub, sid, or both.
    let sub = opt_string(&claims, "sub")?;
    let sid = opt_string(&claims, "sid")?;
    if sub.is_none() && sid.is_none() {
        return Err(LogoutTokenError::MissingSubAndSid);
    }
    // Step 5: events holds the back-channel logout member, itself a JSON object.
    let has_event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|e| e.get(BACKCHANNEL_LOGOUT_EVENT))
        .is_some_and(Value::is_object);
    if !has_event {
        return Err(LogoutTokenError::MissingEvents);
    }
    // Step 6: no nonce.
    if claims.contains_key("nonce") {
        return Err(LogoutTokenError::NoncePresent);
    }
    let jti = opt_string(&claims, "jti")?.ok_or(LogoutTokenError::InvalidClaim("jti"))?;
    // Step 7: replay.
    if let Some(seen) = seen_jti
        && seen(&jti)
    {
        return Err(LogoutTokenError::Replayed);
    }
    let cause = claims
        .get("cause")
        .and_then(Value::as_str)
        .and_then(|c| c.parse().ok());
    Ok(LogoutTokenClaims {
        claims,
        sub,
        sid,
        jti,
        cause,
    })
}
