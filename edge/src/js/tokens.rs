//! Logout tokens: `mintLogoutToken` (for providers, signed through WebCrypto) and
//! `verifyLogoutToken` (for relying parties), both core's, with JS objects in and out.

use std::cell::RefCell;

use js_sys::Promise;
use oidc_edge_core::UnixTime;
use oidc_edge_core::jose::{JwkSet, JwsAlg};
use oidc_edge_core::logout::mint_request::{MintError, MintField, MintRequest};
use oidc_edge_core::logout::{LogoutTokenError, LogoutTokenValidation, logout_token};
use serde::Deserialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::host::standalone_crypto;
use super::interop::{core_error, fail, from_js, invalid_argument, to_js};
use super::keys::{parse_key, parse_keys};
use crate::web::{WebEntropy, now_secs};

/// Clock skew tolerated by default, in seconds (core's [`Validation::new`] default).
///
/// [`Validation::new`]: oidc_edge_core::jose::jwt::Validation::new
pub const DEFAULT_LEEWAY_SECS: u64 = 60;

fn parse_alg<T: std::str::FromStr>(name: &str, what: &str) -> Result<T, JsValue> {
    name.parse().map_err(|_| {
        fail(
            "unsupported_algorithm",
            format!("unsupported {what} {name:?}"),
        )
    })
}

/// A shallow copy of `options` (an object, else an `invalid_argument` naming `function`), from
/// which members that are not data can be taken before the rest goes through serde.
fn options_copy(options: &JsValue, function: &str) -> Result<js_sys::Object, JsValue> {
    if !options.is_object() {
        return Err(invalid_argument(format!(
            "{function} options must be an object"
        )));
    }
    Ok(js_sys::Object::assign(
        &js_sys::Object::new(),
        options.unchecked_ref(),
    ))
}

/// Member `name` of `data` unless undefined or null, removed from `data` either way.
fn take_member(data: &js_sys::Object, name: &str) -> Option<JsValue> {
    let v = js_sys::Reflect::get(data, &name.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null());
    let _ = js_sys::Reflect::delete_property(data, &name.into());
    v
}

/// Mint a logout token (Back-Channel Logout 1.0 §2.4): a JWS with `typ: logout+jwt`, nested in
/// a JWE to `encryptTo` when given. Resolves to the token; rejects when neither `subject` nor
/// `sid` is given.
///
/// The keys are read here; every other option goes straight into core's [`MintRequest`], which
/// chooses the defaults and makes the checks. The signature is WebCrypto's, as the
/// `Provider`'s ([`standalone_crypto`]).
#[wasm_bindgen(js_name = mintLogoutToken, unchecked_return_type = "Promise<string>")]
pub fn mint_logout_token(
    #[wasm_bindgen(unchecked_param_type = "MintLogoutTokenOptions")] options: JsValue,
) -> Promise {
    future_to_promise(async move {
        let data = options_copy(&options, "mintLogoutToken")?;
        let take = |name: &str| {
            take_member(&data, name)
                .map(|v| from_js::<Value>(v, name))
                .transpose()
        };
        let key = take("key")?.ok_or_else(|| invalid_argument("key is required"))?;
        let encrypt_to = take("encryptTo")?;
        let request: MintRequest = from_js(data.into(), "mintLogoutToken options")?;
        let key = parse_key(key, "key")?;
        let encrypt_to = encrypt_to.map(|k| parse_key(k, "encryptTo")).transpose()?;
        let (params, keys) = request
            .prepare(&key, encrypt_to.as_ref(), UnixTime(now_secs()))
            .map_err(|e| match e {
                MintError::Mint(e) => core_error(&e),
                e => fail(
                    e.code(),
                    format!("{}: {e}", e.field().map_or("options", option_name)),
                ),
            })?;
        let token = logout_token::mint_via(&standalone_crypto(), &WebEntropy, &params, &keys)
            .await
            .map_err(|e| core_error(&e))?;
        Ok(JsValue::from(token))
    })
}

/// The option of `mintLogoutToken` a [`MintField`] stands for.
fn option_name(field: MintField) -> &'static str {
    match field {
        MintField::Key => "key",
        MintField::SignAlg => "alg",
        MintField::EncryptTo => "encryptTo",
        MintField::EncryptionAlg => "encryptionAlg",
        MintField::Enc => "enc",
        MintField::Cause => "cause",
        MintField::ExpiresIn => "expiresIn",
        MintField::SubjectOrSid => "subject",
    }
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
    // The callback is read here; the data members go through serde (a copy without it).
    let data = options_copy(&options, "verifyLogoutToken")?;
    let seen_jti = take_member(&data, "seenJti")
        .map(|f| {
            f.dyn_into::<js_sys::Function>()
                .map_err(|_| invalid_argument("seenJti must be a function"))
        })
        .transpose()?;
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
