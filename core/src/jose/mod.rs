//! JOSE: base64url, JWK/JWKS, JWS and JWE compact serialization, JWT claims.
//!
//! Algorithms: JWS `ES256`, `RS256`, `PS256`; JWE `alg` `RSA-OAEP-256`, `ECDH-ES`,
//! `ECDH-ES+A128KW`, `ECDH-ES+A256KW` with `enc` `A128CBC-HS256`, `A256CBC-HS512`, `A128GCM`,
//! `A256GCM`. Verifiers and decrypters are configured with the algorithms they accept; the
//! `alg` header only selects among those and never selects a key type. `none` and HMAC do not
//! exist here, so algorithm confusion has nothing to confuse.
//!
//! The bottom layer of the crate: it imports nothing else of it. Its errors ([`JoseError`]),
//! its randomness ([`rand::Entropy`]) and its time ([`UnixTime`]) are its own; a signature made
//! elsewhere (a platform library, WebCrypto) comes in as a closure handed the signing input
//! ([`jws::sign_with`]).

pub mod b64;
pub mod cache;
pub mod compact;
pub mod error;
pub mod jwe;
pub mod jwk;
pub mod jws;
pub mod jwt;
pub mod rand;
pub mod time;

pub use cache::KeyCache;
pub use error::{ClaimsError, JoseError, JwtError};
pub use jwe::{ContentEnc, KeyMgmtAlg};
pub use jwk::{Jwk, JwkSet};
pub use jws::JwsAlg;
pub use time::UnixTime;

pub use compact::{Header, MAX_TOKEN_LEN};
