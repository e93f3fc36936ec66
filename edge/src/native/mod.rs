//! The native host: OS entropy, the system clock, and the `oidc-edge` command line.

pub mod cli;

use std::time::{SystemTime, UNIX_EPOCH};

use oidc_edge_core::UnixTime;
use oidc_edge_core::host::{Entropy, EntropyError};

/// Entropy from the operating system's CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        getrandom::fill(dest).map_err(|_| EntropyError)
    }
}

/// The current wall-clock time.
pub fn now() -> UnixTime {
    // A clock before 1970 is a misconfigured host; treat it as the epoch rather than panic.
    UnixTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}
