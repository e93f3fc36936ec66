//! The native host: OS entropy, the system clock, an embedded store, back-channel delivery
//! (outbox worker and HTTP client), the HTTP server, and the `oidc-edge` command line.
//!
//! | file | what |
//! | --- | --- |
//! | [`host`] | core's [`Host`](oidc_edge_core::host::Host) |
//! | [`crypto`] | core's crypto seam with AWS-LC: signatures and their verification, RSA key generation, PBKDF2 |
//! | [`http`] | hyper in, core's request and response, hyper out |
//! | [`config`] | the server's options, secrets and data directory |
//! | [`store`] | the embedded store (redb, or memory) |
//! | [`deliver`], [`client`] | the delivery worker; the HTTP client behind the SSRF guard, on a thread of its own |
//! | [`server`], [`bind`] | `oidc-edge serve` and the test harness; start-up and the accept loop, with the background tasks (`tasks.rs`) and the banner (`banner.rs`) |
//! | [`cli`] | the `oidc-edge` command line |

mod banner;
pub mod bind;
pub mod cli;
pub mod client;
pub mod config;
pub mod crypto;
pub mod deliver;
pub mod host;
pub mod http;
pub mod metrics;
pub mod mock_rp;
pub mod server;
pub mod store;
mod tasks;

/// Every native binary (the server and CLI, the tests, the benches) allocates with mimalloc:
/// the serving thread allocates for each request and delivery (records, JSON, tokens), and
/// glibc's malloc took about a tenth of its time in a 1,000-RP fan-out (`perf`, README).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use oidc_edge_core::UnixTime;
use oidc_edge_core::host::{Clock, Entropy, EntropyError};
use tokio::sync::Notify;

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
    UnixTime(now_ms() / 1000)
}

/// The current wall-clock time in milliseconds since the epoch.
fn now_ms() -> u64 {
    // A clock before 1970 is a misconfigured host; treat it as the epoch rather than panic.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The native host's clock: the system clock, or a manual one that tests set, plus a shift
/// that tests can [`advance`](Self::advance) to skip ahead (past an idle timeout, say) on a
/// running server. Clones share the shift.
#[derive(Debug, Clone, Default)]
pub struct NativeClock {
    /// `None`: the system clock; `Some(t)`: stands still at `t`.
    fixed: Option<UnixTime>,
    shift: Arc<AtomicU64>,
    /// Told of every [`advance`](Self::advance): timers waiting for a time on this clock (the
    /// delivery worker's next retry) look again instead of sleeping through the jump.
    advanced: Arc<Notify>,
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
            ..Self::default()
        }
    }

    /// Whether this clock stands still between [`advance`](Self::advance)s.
    pub fn is_manual(&self) -> bool {
        self.fixed.is_some()
    }

    /// Move this clock, and every clone of it, `secs` seconds forward.
    pub fn advance(&self, secs: u64) {
        self.shift.fetch_add(secs, Ordering::Relaxed);
        self.advanced.notify_waiters();
    }

    /// Completes at the next [`advance`](Self::advance) after it is enabled (see
    /// [`tokio::sync::futures::Notified::enable`]).
    pub(crate) fn advanced(&self) -> tokio::sync::futures::Notified<'_> {
        self.advanced.notified()
    }
}

impl Clock for NativeClock {
    fn now(&self) -> UnixTime {
        self.fixed
            .unwrap_or_else(now)
            .plus(self.shift.load(Ordering::Relaxed))
    }

    fn now_ms(&self) -> u64 {
        let base = self
            .fixed
            .map_or_else(now_ms, |t| t.secs().saturating_mul(1000));
        base.saturating_add(self.shift.load(Ordering::Relaxed).saturating_mul(1000))
    }
}
