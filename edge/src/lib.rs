//! oidc-edge runtime bindings: core's sans-I/O provider bound to a host.
//!
//! - `native` (not wasm32): OS entropy and clock, and the `oidc-edge` command line.
//! - `worker` (wasm32): the Cloudflare Workers host (KV, Queue, fetch, cron).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(not(target_arch = "wasm32"))]
pub mod native;

#[cfg(target_arch = "wasm32")]
pub mod worker;
// The worker's Workers-free rules (config parsing, delays, SSRF literals), unit-tested natively.
#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "worker/rules.rs"]
mod worker_rules;
