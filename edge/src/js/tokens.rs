//! Logout tokens: `mintLogoutToken` (for providers) and `verifyLogoutToken` (for relying
//! parties), both core's, with JS objects in and out.

use std::cell::RefCell;

use oidc_edge_core::UnixTime;
use oidc_edge_core::jose::jwk::KeyType;
use oidc_edge_core::jose::{ContentEnc, JwkSet, JwsAlg, KeyMgmtAlg};
use oidc_edge_core::logout::logout_token::{self, MAX_LIFETIME_SECS};
use oidc_edge_core::logout::{
    LogoutCause, LogoutTokenError, LogoutTokenKeys, LogoutTokenParams, LogoutTokenValidation,
};
use serde::Deserialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;

use super::interop::{core_error, fail, from_js, invalid_argument, to_js};
use super::keys::{parse_key, parse_keys};
use crate::web::{WebEntropy, now_secs};

/// Clock skew tolerated by default, in seconds (core's [`Validation::new`] default).
///
/// [`Validation::new`]: oidc_edge_core::jose::jwt::Validation::new
pub const DEFAULT_LEEWAY_SECS: u64 = 60;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MintOptions {
    key: Value,
    issuer: String,
    audience: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    cause: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    now: Option<u64>,
    #[serde(default)]
    audit_tracking_id: Option<String>,
    #[serde(default)]
    encrypt_to: Option<Value>,
    #[serde(default)]
    encryption_alg: Option<String>,
    #[serde(default)]
    enc: Option<String>,
}

fn parse_alg<T: std::str::FromStr>(name: &str, what: &str) -> Result<T, JsValue> {
    name.parse().map_err(|_| {
        fail(
            "unsupported_algorithm",
            format!("unsupported {what} {name:?}"),
        )
    })
}

/// Mint a logout token (Back-Channel Logout 1.0 §2.4): a JWS with `typ: logout+jwt`, nested in
/// a JWE to `encryptTo` when given. Throws when neither `subject` nor `sid` is given.
#[wasm_bindgen(js_name = mintLogoutToken)]
pub fn mint_logout_token(
    #[wasm_bindgen(unchecked_param_type = "MintLogoutTokenOptions")] options: JsValue,
) -> Result<String, JsValue> {
    let o: MintOptions = from_js(options, "mintLogoutToken options")?;
    let key = parse_key(o.key, "key")?;
    if !key.is_private() {
        return Err(fail("invalid_key", "key must be a private key"));
    }
    let alg: JwsAlg = match (&o.alg, &key.alg) {
        (Some(a), _) => parse_alg(a, "signing algorithm")?,
        (None, Some(a)) => parse_alg(a, "signing algorithm (the key's alg)")?,
        (None, None) => match key.key_type() {
            KeyType::EcP256 => JwsAlg::ES256,
            KeyType::Rsa => JwsAlg::RS256,
        },
    };
    let cause = o
        .cause
        .as_deref()
        .map(|c| {
            c.parse::<LogoutCause>().map_err(|_| {
                invalid_argument(format!(
                    "cause {c:?} is none of CLIENT_LOGOUT, SESSION_TERMINATION, SESSION_MAX_TIMEOUT, SESSION_IDLE_TIMEOUT"
                ))
            })
        })
        .transpose()?;
    let recipient = o
        .encrypt_to
        .map(|k| parse_key(k, "encryptTo"))
        .transpose()?;
    let encryption = match &recipient {
        None if o.encryption_alg.is_some() || o.enc.is_some() => {
            return Err(invalid_argument("encryptionAlg and enc need encryptTo"));
        }
        None => None,
        Some(k) if k.is_private() => {
            return Err(fail(
                "invalid_key",
                "encryptTo must be the relying party's public key",
            ));
        }
        Some(k) => {
            let alg: KeyMgmtAlg = match (&o.encryption_alg, &k.alg) {
                (Some(a), _) => parse_alg(a, "key management algorithm")?,
                (None, Some(a)) => parse_alg(a, "key management algorithm (encryptTo's alg)")?,
                (None, None) => match k.key_type() {
                    KeyType::EcP256 => KeyMgmtAlg::EcdhEs,
                    KeyType::Rsa => KeyMgmtAlg::RsaOaep256,
                },
            };
            let enc: ContentEnc = match &o.enc {
                Some(e) => parse_alg(e, "content encryption")?,
                None => ContentEnc::A128CbcHs256,
            };
            Some((k, alg, enc))
        }
    };
    let params = LogoutTokenParams {
        issuer: &o.issuer,
        audience: &o.audience,
        subject: o.subject.as_deref(),
        sid: o.sid.as_deref(),
        cause,
        audit_tracking_id: o.audit_tracking_id.as_deref(),
        now: UnixTime(o.now.unwrap_or_else(now_secs)),
        lifetime_secs: o.expires_in.unwrap_or(MAX_LIFETIME_SECS),
    };
    let keys = LogoutTokenKeys {
        signing_key: &key,
        alg,
        encrypt_to: encryption,
    };
    logout_token::mint(&params, &keys, &WebEntropy).map_err(|e| core_error(&e))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VerifyOptions {
    jwks: Value,
    issuer: String,
    audience: String,
    #[serde(default)]
    decrypt_with: Option<Value>,
    #[serde(default)]
    now: Option<u64>,
    #[serde(default)]
    leeway_secs: Option<u64>,
    #[serde(default)]
    algorithms: Option<Vec<String>>,
}

/// The JS error for a rejected logout token: `code` is [`LogoutTokenError::code`].
fn rejected(e: &LogoutTokenError) -> JsValue {
    fail(e.code(), e)
}

/// Validate a logout token as Back-Channel Logout 1.0 §2.6 requires (decryption, signature
/// with the configured algorithms only, `typ`, `iss`, `aud`, `iat`, `exp`, `sub`/`sid`,
/// `events`, no `nonce`, and `jti` replay through `seenJti`) and return its claims.
#[wasm_bindgen(js_name = verifyLogoutToken, unchecked_return_type = "LogoutTokenClaims")]
pub fn verify_logout_token(
    token: &str,
    #[wasm_bindgen(unchecked_param_type = "VerifyLogoutTokenOptions")] options: JsValue,
) -> Result<JsValue, JsValue> {
    if !options.is_object() {
        return Err(invalid_argument(
            "verifyLogoutToken options must be an object",
        ));
    }
    // The callback is read here; the data members go through serde (a copy without it).
    let data = js_sys::Object::assign(&js_sys::Object::new(), options.unchecked_ref());
    let seen_jti = js_sys::Reflect::get(&data, &"seenJti".into())
        .ok()
        .filter(|f| !f.is_undefined() && !f.is_null());
    let seen_jti = seen_jti
        .map(|f| {
            f.dyn_into::<js_sys::Function>()
                .map_err(|_| invalid_argument("seenJti must be a function"))
        })
        .transpose()?;
    let _ = js_sys::Reflect::delete_property(&data, &"seenJti".into());
    let o: VerifyOptions = from_js(data.into(), "verifyLogoutToken options")?;
    let jwks = JwkSet {
        keys: parse_keys(o.jwks)?,
    };
    if jwks.keys.iter().any(|k| k.is_private()) {
        return Err(fail(
            "invalid_key",
            "jwks must hold the provider's public keys only",
        ));
    }
    let algs: Vec<JwsAlg> = match &o.algorithms {
        None => JwsAlg::ALL.to_vec(),
        Some(names) if names.is_empty() => {
            return Err(invalid_argument("algorithms must not be empty"));
        }
        Some(names) => names
            .iter()
            .map(|a| parse_alg(a, "signing algorithm"))
            .collect::<Result<_, _>>()?,
    };
    let decrypt_with = o
        .decrypt_with
        .map(|k| parse_key(k, "decryptWith"))
        .transpose()?;
    if decrypt_with.as_ref().is_some_and(|k| !k.is_private()) {
        return Err(fail(
            "invalid_key",
            "decryptWith must be the relying party's private key",
        ));
    }
    let validation = LogoutTokenValidation {
        issuer: &o.issuer,
        audience: &o.audience,
        jwks: &jwks,
        algs: &algs,
        decrypt_with: decrypt_with.as_ref(),
        now: UnixTime(o.now.unwrap_or_else(now_secs)),
        leeway_secs: o.leeway_secs.unwrap_or(DEFAULT_LEEWAY_SECS),
    };
    // The callback's own exception is rethrown as it is, after core has returned.
    let thrown: RefCell<Option<JsValue>> = RefCell::new(None);
    let mut ask = |jti: &str| -> bool {
        let Some(f) = &seen_jti else {
            return false;
        };
        match f.call1(&JsValue::UNDEFINED, &jti.into()) {
            Ok(seen) => seen.is_truthy(),
            Err(e) => {
                *thrown.borrow_mut() = Some(e);
                // Refuse the token: the replay check could not be made.
                true
            }
        }
    };
    let result = logout_token::verify(token, &validation, &WebEntropy, Some(&mut ask));
    if let Some(e) = thrown.into_inner() {
        return Err(e);
    }
    let claims = result.map_err(|e| rejected(&e))?;
    to_js(&claims.claims)
}
