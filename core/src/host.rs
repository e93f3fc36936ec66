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

use core::fmt;

pub use crate::crypto::{Crypto, RustCrypto};
#[cfg(test)]
pub(crate) use crate::entropy::CountingEntropy;
pub use crate::entropy::{Entropy, EntropyError};
pub(crate) use crate::entropy::{HostRng, random};
pub use crate::log::LogEvent;

/// Why the store failed. Stringly by nature: it carries the host's own message for logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub alloc::string::String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store: {}", self.0)
    }
}

impl core::error::Error for StoreError {}

/// One page of keys from [`Store::list`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Keys in lexicographic order.
    pub keys: alloc::vec::Vec<alloc::string::String>,
    /// Where the next page starts; `None` when this was the last page.
    pub cursor: Option<alloc::string::String>,
}

/// A key-value store, as Workers KV offers: **eventually consistent** (a write may be seen
/// late at another location, up to about a minute), no transactions, **no compare-and-swap**,
/// optional expiry per key. The core is written for exactly that: single-use codes and
/// session ends are designed around it (see the README), and a strongly consistent backend
/// can replace it without change.
#[allow(async_fn_in_trait)] // Workers futures are !Send: no Send bound, by design.
pub trait Store {
    /// The value at `key`, or `None` (also for an expired key).
    async fn get(&self, key: &str) -> Result<Option<alloc::vec::Vec<u8>>, StoreError>;
    /// Write `value` at `key`, expiring after `ttl_secs` when given (hosts may round it up to
    /// their minimum, 60 s on Workers KV).
    async fn put(&self, key: &str, value: &[u8], ttl_secs: Option<u64>) -> Result<(), StoreError>;
    /// Write several entries (key, value, TTL) at once: in one transaction where the store has
    /// them (the native on-disk store), one by one otherwise (the default; Workers KV). The
    /// outbox of a session's deliveries is written this way.
    async fn put_many(
        &self,
        entries: &[(alloc::string::String, alloc::vec::Vec<u8>, Option<u64>)],
    ) -> Result<(), StoreError> {
        for (key, value, ttl) in entries {
            self.put(key, value, *ttl).await?;
        }
        Ok(())
    }

    /// Delete `key`; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Keys starting with `prefix`, at most `limit`, resuming after `cursor`.
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, StoreError>;
}

/// A host that keeps its data in a [`Store`] it holds: implementing this gives the host
/// [`Store`] itself, every call handed to [`StoreVia::store`] (what each host would otherwise
/// write out four times).
pub trait StoreVia {
    /// The store it delegates to.
    type Inner: Store;
    /// That store.
    fn store(&self) -> &Self::Inner;
}

impl<T: StoreVia> Store for T {
    async fn get(&self, key: &str) -> Result<Option<alloc::vec::Vec<u8>>, StoreError> {
        self.store().get(key).await
    }

    async fn put(&self, key: &str, value: &[u8], ttl_secs: Option<u64>) -> Result<(), StoreError> {
        self.store().put(key, value, ttl_secs).await
    }

    async fn put_many(
        &self,
        entries: &[(alloc::string::String, alloc::vec::Vec<u8>, Option<u64>)],
    ) -> Result<(), StoreError> {
        self.store().put_many(entries).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store().delete(key).await
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, StoreError> {
        self.store().list(prefix, cursor, limit).await
    }
}

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
        deliveries: alloc::vec::Vec<crate::logout::delivery::Delivery>,
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
    pub delivery: crate::logout::delivery::DeliveryPolicy,
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
}
