//! Deterministic test inputs: entropy from a fixed, printed seed, and RSA keys from fixtures,
//! for core's tests and the in-memory host ([`crate::memory`]).

use std::cell::Cell;

use oidc_edge_core::host::{Entropy, EntropyError};
use serde_json::Value;

/// Write straight to the process's stderr: the test harness swallows `eprintln!` from passing
/// tests, and the seed of a run must not go unseen.
fn loud(text: &str) {
    use std::io::Write as _;
    // Nothing sensible to do if stderr itself fails.
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// The seed of this run's [`Seeded`] entropy: `OIDC_EDGE_TEST_SEED` (decimal or `0x` hex) when
/// set, else a fixed one. Printed once per test binary, so a failing run can be repeated exactly.
pub const SEED_ENV: &str = "OIDC_EDGE_TEST_SEED";
const DEFAULT_SEED: u64 = 0x6f69_6463_2d65_6467;

/// The seed of this run (see [`SEED_ENV`]); announced on stderr on first use.
pub fn run_seed() -> u64 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| {
        let seed = std::env::var(SEED_ENV).ok().map_or(DEFAULT_SEED, |v| {
            let v = v.trim();
            let parsed = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            parsed.unwrap_or_else(|e| panic!("{SEED_ENV}={v:?} is not a u64: {e}"))
        });
        loud(&format!("test entropy seed: {SEED_ENV}={seed:#x}\n"));
        seed
    })
}

/// Entropy for randomized tests (RSA blinding, PSS salts, ids): splitmix64, not cryptographic,
/// which a test does not need. [`Seeded::new`] derives each generator from the run's seed
/// ([`run_seed`]), the test's name (its thread's) and how many the test made before, so a test
/// repeats exactly under one seed, whatever runs beside it.
#[derive(Debug)]
pub struct Seeded(Cell<u64>);

impl Seeded {
    /// The next generator of this test (see the type's documentation).
    pub fn new() -> Self {
        thread_local! {
            static MADE: Cell<u64> = const { Cell::new(0) };
        }
        let n = MADE.with(|m| {
            let n = m.get();
            m.set(n + 1);
            n
        });
        // FNV-1a of the thread's name: libtest names each test's thread after the test.
        let name = std::thread::current()
            .name()
            .unwrap_or("")
            .as_bytes()
            .iter()
            .fold(0xCBF2_9CE4_8422_2325_u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01B3)
            });
        let mixer = Self::with_seed(run_seed() ^ name ^ n.wrapping_mul(0xD1B5_4A32_D192_ED03));
        Self::with_seed(mixer.next())
    }

    /// A generator with a fixed seed, for keys that must be the same on every run.
    pub fn with_seed(seed: u64) -> Self {
        Self(Cell::new(seed))
    }

    fn next(&self) -> u64 {
        let s = self.0.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.0.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Default for Seeded {
    fn default() -> Self {
        Self::new()
    }
}

/// The RSA-2048 test keys of `tests/data/rsa-2048.json` (see its README), each with its
/// RFC 7638 thumbprint as `kid` and no other metadata, as a generated key has.
pub fn rsa_fixtures() -> &'static [oidc_edge_core::jose::Jwk] {
    static KEYS: std::sync::OnceLock<Vec<oidc_edge_core::jose::Jwk>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let set: Value = serde_json::from_str(include_str!("../data/rsa-2048.json"))
            .unwrap_or_else(|e| panic!("tests/data/rsa-2048.json: {e}"));
        set["keys"]
            .as_array()
            .unwrap_or_else(|| panic!("tests/data/rsa-2048.json has no keys"))
            .iter()
            .map(|k| {
                let jwk = oidc_edge_core::jose::Jwk::from_value(k)
                    .unwrap_or_else(|e| panic!("a fixture RSA key does not import: {e:?}"));
                oidc_edge_core::jose::Jwk::from_material(jwk.material)
            })
            .collect()
    })
}

impl Entropy for Seeded {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        for chunk in dest.chunks_mut(8) {
            let n = chunk.len();
            chunk.copy_from_slice(&self.next().to_le_bytes()[..n]);
        }
        Ok(())
    }
}
