//! What the web platform gives both JavaScript hosts (the Worker and the npm package), as
//! core's seams: the clock (`Date.now()`), randomness (`crypto.getRandomValues`) and WebCrypto
//! (`crypto.subtle`, see [`subtle`]).

pub mod subtle;

use oidc_edge_core::crypto::{Pbkdf2, ToSign};
use oidc_edge_core::error::JoseError;
use oidc_edge_core::host::{Crypto, Entropy, EntropyError, RustCrypto};
use oidc_edge_core::jose::Jwk;
use oidc_edge_core::jose::jwk::{RSA_MAX_BITS, RSA_MIN_BITS};

/// Now, in whole seconds since the epoch.
pub fn now_secs() -> u64 {
    now_ms() / 1000
}

/// Now, in milliseconds since the epoch (`Date.now()`: whole milliseconds; Workers advance it
/// on I/O only, which is all core needs). A clock before 1970, or NaN, reads as the epoch.
pub fn now_ms() -> u64 {
    let ms = js_sys::Date::now();
    if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    }
}

/// `crypto.getRandomValues`, through getrandom's `wasm_js` backend.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebEntropy;

impl Entropy for WebEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        getrandom::fill(dest).map_err(|_| EntropyError)
    }
}

/// Core's crypto seam through WebCrypto; core's own code ([`RustCrypto`]) where WebCrypto
/// refuses (a key it cannot import, an iteration count over the platform's limit), and a line
/// to the host's log saying so.
pub struct WebCrypto {
    log: Box<dyn Fn(&str)>,
}

impl std::fmt::Debug for WebCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebCrypto").finish_non_exhaustive()
    }
}

impl WebCrypto {
    /// WebCrypto, telling `log` when it falls back to core's code.
    pub fn new(log: impl Fn(&str) + 'static) -> Self {
        Self { log: Box::new(log) }
    }
}

impl Crypto for WebCrypto {
    async fn sign(&self, what: ToSign<'_>, entropy: &dyn Entropy) -> Result<Vec<u8>, JoseError> {
        match subtle::sign(what.key, what.alg, what.input).await {
            Ok(sig) => Ok(sig),
            Err(e) => {
                (self.log)(&format!(
                    "{e}; signing with core's {} instead",
                    what.alg.as_str()
                ));
                RustCrypto.sign(what, entropy).await
            }
        }
    }

    async fn generate_rsa(&self, bits: usize, entropy: &dyn Entropy) -> Result<Jwk, JoseError> {
        // A size core refuses: core's code says so at once (WebCrypto would first spend the
        // time of generating it).
        if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
            return RustCrypto.generate_rsa(bits, entropy).await;
        }
        match subtle::generate_rsa(bits).await {
            Ok(key) => Ok(key),
            Err(e) => {
                (self.log)(&format!("{e}; generating the RSA key with core's instead"));
                RustCrypto.generate_rsa(bits, entropy).await
            }
        }
    }

    async fn pbkdf2_sha256(&self, p: Pbkdf2<'_>) -> Result<[u8; 32], JoseError> {
        match subtle::pbkdf2_sha256(p.password, p.salt, p.iterations).await {
            Ok(out) => Ok(out),
            Err(e) => {
                (self.log)(&format!("{e}; PBKDF2 with core's instead"));
                RustCrypto.pbkdf2_sha256(p).await
            }
        }
    }
}
