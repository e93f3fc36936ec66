//! Sans-I/O core of oidc-edge, an OpenID Provider built around the end of a session.
//!
//! The core never touches a socket, a clock or a random number generator: the host passes
//! time in and supplies entropy through [`host::Entropy`]. Everything here builds for
//! `wasm32-unknown-unknown` without `std` (the `std` feature only adds conveniences).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod audit;
pub mod client_metadata;
pub mod crypto;
pub mod error;
pub mod host;
pub mod host_config;
pub mod http;
pub mod jose;
pub mod keys;
pub mod log;
pub mod logout;
pub mod metrics;
pub mod net;
pub mod oauth;
pub mod opaque_token;
pub mod password;
pub mod provider;
pub mod realm;
pub mod records;
pub mod sealing;
pub mod session;
pub mod store;

pub use error::Error;
pub use jose::UnixTime;
