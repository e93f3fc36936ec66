//! The native host: OS entropy, the system clock, an embedded store, the HTTP server, and the
//! `oidc-edge` command line.

pub mod cli;
pub mod server;
pub mod store;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use oidc_edge_core::UnixTime;
use oidc_edge_core::host::{Clock, Entropy, EntropyError};

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

/// The native host's clock: the system clock, or a manual one that tests set, plus a shift
/// that tests can [`advance`](Self::advance) to skip ahead (past an idle timeout, say) on a
/// running server. Clones share the shift.
#[derive(Debug, Clone, Default)]
pub struct NativeClock {
    /// `None`: the system clock; `Some(t)`: stands still at `t`.
    fixed: Option<UnixTime>,
    shift: Arc<AtomicU64>,
}

impl NativeClock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that stands at `start` until advanced.
    pub fn manual(start: UnixTime) -> Self {
        Self {
            fixed: Some(start),
            shift: Arc::default(),
        }
    }

    /// Move this clock, and every clone of it, `secs` seconds forward.
    pub fn advance(&self, secs: u64) {
        self.shift.fetch_add(secs, Ordering::Relaxed);
    }
}

impl Clock for NativeClock {
    fn now(&self) -> UnixTime {
        self.fixed
            .unwrap_or_else(now)
            .plus(self.shift.load(Ordering::Relaxed))
    }
}
