//! oidc-edge runtime bindings: core's sans-I/O provider bound to a host.
//!
//! - `native` (not wasm32): OS entropy and clock, and the `oidc-edge` command line.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
