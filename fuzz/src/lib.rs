//! What the fuzz targets share: keys made once per process from a fixed seed, so that a crash
//! found in one run reproduces in the next.

use std::cell::Cell;
use std::sync::OnceLock;

use oidc_edge_core::host::{Entropy, EntropyError};
use oidc_edge_core::jose::{Jwk, JwkSet};

/// Entropy for the targets: splitmix64 from a fixed seed, not random, which a fuzz target does
/// not want either.
pub struct Seeded(Cell<u64>);

impl Seeded {
    /// A generator starting at `seed`.
    pub fn new(seed: u64) -> Self {
        Self(Cell::new(seed))
    }
}

impl Entropy for Seeded {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        for b in dest {
            let s = self.0.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
            self.0.set(s);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            *b = (z ^ (z >> 31)) as u8;
        }
        Ok(())
    }
}

/// A P-256 key and a 2048-bit RSA key, private.
pub fn keys() -> &'static (Jwk, Jwk) {
    static KEYS: OnceLock<(Jwk, Jwk)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ec = Jwk::generate_ec(&Seeded::new(7)).expect("EC key generation");
        let rsa = Jwk::generate_rsa(2048, &Seeded::new(11)).expect("RSA key generation");
        (ec, rsa)
    })
}

/// The public halves of [`keys`].
pub fn public_set() -> &'static JwkSet {
    static SET: OnceLock<JwkSet> = OnceLock::new();
    SET.get_or_init(|| {
        let (ec, rsa) = keys();
        JwkSet {
            keys: vec![ec.to_public(), rsa.to_public()],
        }
    })
}
