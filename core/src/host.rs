//! The host contract: what a host provides to the core, each seam a small trait of its own.
//!
//! | seam | what | core's default |
//! | --- | --- | --- |
//! | [`Store`] | keys and values, as Workers KV offers them | none |
//! | [`Clock`] | the wall clock | none |
//! | [`Entropy`] | random bytes | none |
//! | [`Deliver`] | a durable queue and the back-channel POSTs | none |
//! | [`Crypto`] | signatures, RSA key generation, PBKDF2 | [`RustCrypto`] |
//! | [`Host::log`] | the operator's log, typed events ([`LogEvent`]) | nothing written |
//! | [`Host::wake_at`] | a timer: end a session at its deadline | none (the sweep's interval) |
//! | [`Host::sleep_ms`] | a pause: the logout page waits for the RPs' answers | none (no wait) |
//! | [`Host::observe`] | counters and histograms ([`Metric`]) | nothing kept |
//! | [`Host::key_cache`] | the realms' private keys, kept once unsealed and parsed | none (each signature unseals) |

use core::fmt;

pub use crate::crypto::{Crypto, RustCrypto};
pub use crate::jose::rand::{Entropy, EntropyError};
pub use crate::log::LogEvent;
pub use crate::metrics::Metric;
pub use crate::store::{ListPage, Page, Store, StoreError, StoreVia};

/// The wall clock.
pub trait Clock {
    /// Now, in whole seconds since the epoch.
    fn now(&self) -> crate::UnixTime;

    /// Now, in milliseconds since the epoch (delivery retries are scheduled in ms).
    fn now_ms(&self) -> u64 {
        self.now().secs().saturating_mul(1000)
    }
}

/// One back-channel logout POST for the host to perform.
#[derive(Clone, Copy, Debug)]
pub struct Post<'a> {
    /// The RP's `backchannel_logout_uri`.
    pub uri: &'a str,
    /// The form body, `logout_token=...`.
    pub body: &'a str,
    /// Give up after this long.
    pub timeout_ms: u64,
    /// Whether the URI may resolve to loopback or private addresses (the realm's
    /// `allow_private_uris`); when not, the host refuses such addresses (SSRF guard).
    pub allow_private: bool,
}

/// What came of a POST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PostOutcome {
    /// The RP answered with this status.
    Status(u16),
    /// No answer within the timeout.
    Timeout,
    /// No answer: the reason (connection refused, DNS, TLS...). Transient: retried.
    Failed(alloc::string::String),
    /// Not sent, by policy: the host refused the URI (the SSRF guard, a URI that is not an
    /// absolute http(s) one). Final: retrying would meet the same refusal.
    Refused(alloc::string::String),
}

/// The host's side of back-channel logout: a durable queue for deliveries, and HTTP.
#[allow(async_fn_in_trait)] // Workers futures are !Send: no Send bound, by design.
pub trait Deliver {
    /// Put deliveries on the host's durable queue. Must not return before they are durable:
    /// the logout call answers only after this, so a crash can repeat a delivery but never
    /// lose one. Native: the store's outbox; Workers: a Queue.
    async fn enqueue(
        &self,
        deliveries: alloc::vec::Vec<crate::logout::record::Delivery>,
    ) -> Result<(), StoreError>;

    /// POST a logout token.
    async fn post(&self, post: Post<'_>) -> PostOutcome;
}

/// Settings the host owns: where the provider is reachable and its secrets.
#[derive(Clone)]
pub struct HostConfig {
    /// The public base URL, without a trailing slash (`https://id.example`); the issuer of
    /// realm R is `{base_url}/realms/{R}`.
    pub base_url: alloc::string::String,
    /// The bearer token of the admin API.
    pub admin_token: alloc::string::String,
    /// The 256-bit key that seals private signing keys at rest (AES-256-GCM).
    pub master_key: [u8; 32],
    /// Timeouts, retries and concurrency of back-channel deliveries.
    pub delivery: crate::logout::record::DeliveryPolicy,
}

impl fmt::Debug for HostConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostConfig")
            .field("base_url", &self.base_url)
            .field("admin_token", &"[redacted]")
            .field("master_key", &"[redacted]")
            .field("delivery", &self.delivery)
            .finish()
    }
}

/// Everything the provider needs from its host: the seams above, its settings, and a log.
#[allow(async_fn_in_trait)] // Workers futures are !Send: no Send bound, by design.
pub trait Host: Store + Clock + Entropy + Deliver {
    /// Who does the costly primitives: [`RustCrypto`], or the platform's own (WebCrypto).
    type Crypto: Crypto;

    /// The host's settings.
    fn config(&self) -> &HostConfig;

    /// The crypto seam.
    fn crypto(&self) -> &Self::Crypto;

    /// Write one event to the operator's log, as its [`Display`](fmt::Display) line (JSON for
    /// audit events; never secrets). Default: nothing is written.
    fn log(&self, event: &LogEvent<'_>) {
        let _ = event;
    }

    /// Wake at `at` (Unix seconds) and call [`crate::provider::expire`] for session `id` of
    /// `realm`: a host with timers (the native server, the worker's Durable Object alarm) ends
    /// each session within moments of its deadline. Core asks whenever a session's deadline is
    /// set or moves; a wake for a session that is not due yet is harmless (it asks again).
    /// Default: none — the periodic sweep ([`crate::provider::sweep`]) finds it.
    async fn wake_at(&self, realm: &str, id: &str, at: u64) -> Result<(), StoreError> {
        let _ = (realm, id, at);
        Ok(())
    }

    /// Pause for `ms` milliseconds while deliveries go on (the logout page waits for the RPs'
    /// answers, [`crate::logout::ledger::wait`]); `false` when the host cannot, and then nothing
    /// waits. Default: cannot.
    async fn sleep_ms(&self, ms: u64) -> bool {
        let _ = ms;
        false
    }

    /// Count something that happened ([`Metric`]). Default: nothing is kept.
    fn observe(&self, metric: &Metric) {
        let _ = metric;
    }

    /// Where realm keys are kept once unsealed and parsed, for as long as the host lives
    /// ([`crate::realm::signing_key`]); `None`: each use unseals and parses again. Default:
    /// none.
    fn key_cache(&self) -> Option<&crate::jose::KeyCache> {
        None
    }
}
