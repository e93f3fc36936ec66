//! oidc-edge runtime bindings: core's sans-I/O provider bound to a host.
//!
//! - `native` (not wasm32): OS entropy and clock, and the `oidc-edge` command line.
//! - `worker` (wasm32, feature `worker`, default): the Cloudflare Workers host (KV, Queue, fetch,
//!   cron).
//! - `js` (wasm32, feature `js`): the wasm-bindgen API of the npm package `oidc-edge`: logout
//!   tokens for relying parties, and the whole provider over a store and HTTP client given by any
//!   JavaScript runtime.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(not(target_arch = "wasm32"))]
pub mod native;

#[cfg(all(target_arch = "wasm32", feature = "worker"))]
pub mod worker;

// The web platform's clock, randomness and WebCrypto, shared by the two JavaScript hosts.
#[cfg(all(target_arch = "wasm32", any(feature = "worker", feature = "js")))]
pub mod web;

#[cfg(all(target_arch = "wasm32", feature = "js"))]
pub mod js;
