//! The JavaScript embedding: the wasm-bindgen API of the npm package `oidc-edge`, for Node, Deno,
//! Bun, browsers and edge runtimes alike.
//!
//! | export | what |
//! | --- | --- |
//! | [`generateKey`](keys::generate_key) | a fresh private JWK for signing or for receiving encrypted tokens (RSA: WebCrypto's) |
//! | [`publicJwks`](keys::public_jwks) | the public JWK Set of one or more keys |
//! | [`mintLogoutToken`](tokens::mint_logout_token) | core's [`mint_via`] WebCrypto: a logout token, nested in a JWE on request |
//! | [`verifyLogoutToken`](tokens::verify_logout_token) | core's [`verify`]: Back-Channel Logout 1.0 §2.6, steps 1 to 7 |
//! | [`Provider`] | the whole provider over a store and an HTTP client the host gives |
//!
//! Every error thrown or rejected is a JS `Error` with a stable `code` (see [`interop::fail`]); the codes
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
//! [`mint_via`]: oidc_edge_core::logout::logout_token::mint_via
//! [`verify`]: oidc_edge_core::logout::logout_token::verify
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

use wasm_bindgen::prelude::*;

pub use self::provider::Provider;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("types.d.ts");
