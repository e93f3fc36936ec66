//! The JavaScript embedding: the wasm-bindgen API of the npm package `oidc-edge`, for Node, Deno,
//! Bun, browsers and edge runtimes alike.
//!
//! | export | what |
//! | --- | --- |
//! | [`generateKey`](keys::generate_key) | a fresh private JWK for signing or for receiving encrypted tokens |
//! | [`publicJwks`](keys::public_jwks) | the public JWK Set of one or more keys |
//! | [`mintLogoutToken`](tokens::mint_logout_token) | core's [`mint`]: a logout token, nested in a JWE on request |
//! | [`verifyLogoutToken`](tokens::verify_logout_token) | core's [`verify`]: Back-Channel Logout 1.0 §2.6, steps 1 to 7 |
//! | [`Provider`] | the whole provider over a store and an HTTP client the host gives |
//!
//! Every error thrown or rejected is a JS `Error` with a stable `code` (see [`fail`]); the codes
//! of token validation are [`LogoutTokenError::code`]. The TypeScript declarations of the
//! option and result objects are `types.d.ts`, emitted into the package's `.d.ts` files.
//!
//! No Workers API here: the host's services are plain JS objects (see [`host`]), and the HTTP
//! types are the web-standard `Request` and `Response` every modern runtime has.
//!
//! | file | what |
//! | --- | --- |
//! | [`host`] | core's [`Host`](oidc_edge_core::host::Host) over the embedding's objects |
//! | [`http`] | the Fetch request and response, as core's |
//! | [`config`] | the `Provider`'s options, read and checked |
//! | [`store`] | core's store over the embedding's store object |
//! | [`deliver`] | the back-channel POSTs, through the embedding's deliverer or `fetch` |
//! | [`interop`] | calling JS: methods, promises, timers, errors |
//! | [`provider`], [`keys`], [`tokens`] | the exported API |
//!
//! [`mint`]: oidc_edge_core::logout::token::mint
//! [`verify`]: oidc_edge_core::logout::token::verify
//! [`LogoutTokenError::code`]: oidc_edge_core::logout::LogoutTokenError::code

pub mod config;
pub mod deliver;
pub mod host;
pub mod http;
pub mod interop;
pub mod keys;
pub mod provider;
pub mod store;
pub mod tokens;

use std::fmt::Display;

use oidc_edge_core::error::{ClaimsError, Error, JoseError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

pub use self::provider::Provider;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("types.d.ts");

/// A JS `Error` with `message` and a stable `code` property.
pub fn fail(code: &str, message: impl Display) -> JsValue {
    let e = js_sys::Error::new(&message.to_string());
    // Setting a property on a fresh Error cannot fail.
    let _ = js_sys::Reflect::set(&e, &"code".into(), &code.into());
    e.into()
}

/// An argument that is not what the declarations say.
pub fn invalid_argument(message: impl Display) -> JsValue {
    fail("invalid_argument", message)
}

/// The JS error for a core error, outside token validation (which has codes of its own).
pub fn core_error(e: &Error) -> JsValue {
    let code = match e {
        Error::Jose(JoseError::InvalidKey(_) | JoseError::NoMatchingKey) => "invalid_key",
        Error::Jose(JoseError::UnsupportedAlgorithm(_) | JoseError::AlgorithmNotAllowed(_)) => {
            "unsupported_algorithm"
        }
        Error::Jose(JoseError::Entropy) | Error::Entropy(_) => "entropy",
        Error::Jose(JoseError::Malformed(_) | JoseError::TooLarge) => "invalid_argument",
        Error::Claims(ClaimsError::Missing(_) | ClaimsError::Invalid(_)) => "invalid_argument",
        Error::Store(_) => "store",
        _ => "crypto",
    };
    fail(code, e)
}

/// Read a JS value into `T` (options objects, JWKs); `what` names it in the error.
///
/// Through JSON's data model: serde-wasm-bindgen reads a struct's fields by name and never
/// sees other members, so `deny_unknown_fields` (a misspelt option must not pass silently)
/// needs the object's own members first.
pub fn from_js<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsValue> {
    let json: serde_json::Value = serde_wasm_bindgen::from_value(value)
        .map_err(|e| invalid_argument(format!("{what}: {e}")))?;
    serde_json::from_value(json).map_err(|e| invalid_argument(format!("{what}: {e}")))
}

/// `value` as plain JS (objects, not `Map`s; numbers, not `BigInt`s).
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| fail("crypto", format!("encoding the result: {e}")))
}
