//! The native host: core's [`Host`] over an embedded store, the system clock, OS entropy and
//! an HTTP client for back-channel deliveries; core's crypto seam is AWS-LC's ([`NativeCrypto`]).

use std::fmt;
use std::io::{self, Write as _};

use oidc_edge_core::UnixTime;
use oidc_edge_core::host::{
    Clock, Entropy, EntropyError, Host, HostConfig, LogEvent, Metric, StoreError,
};
use oidc_edge_core::jose::KeyCache;

pub use super::crypto::NativeCrypto;

use super::client::NativeDelivery;
use super::metrics::Metrics;
use super::store::NativeStore;
use super::{NativeClock, OsEntropy};

/// The native host: an embedded store, the system clock, OS entropy, an HTTP client for
/// back-channel deliveries, and the settings.
#[derive(Debug)]
pub struct NativeHost {
    store: NativeStore,
    config: HostConfig,
    clock: NativeClock,
    delivery: NativeDelivery,
    timers: Timers,
    metrics: Metrics,
    crypto: NativeCrypto,
    /// Realm keys once unsealed and parsed.
    keys: KeyCache,
}

/// The wakes core asked for ([`Host::wake_at`]), for the sweep task to keep.
#[derive(Debug, Default)]
pub struct Timers {
    due: std::sync::Mutex<std::collections::BTreeSet<(u64, String, String)>>,
    changed: tokio::sync::Notify,
}

impl Timers {
    /// The earliest wake asked for: its time (Unix seconds).
    pub fn next(&self) -> Option<u64> {
        self.due.lock().ok()?.first().map(|(at, _, _)| *at)
    }

    /// Take every wake at or before `now`: (realm, session id).
    pub fn take_due(&self, now: u64) -> Vec<(String, String)> {
        let Ok(mut due) = self.due.lock() else {
            return Vec::new();
        };
        let later = due.split_off(&(now.saturating_add(1), String::new(), String::new()));
        std::mem::replace(&mut *due, later)
            .into_iter()
            .map(|(_, realm, id)| (realm, id))
            .collect()
    }

    /// Wait until a wake is asked for.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    fn add(&self, at: u64, realm: &str, id: &str) {
        if let Ok(mut due) = self.due.lock() {
            due.insert((at, realm.to_owned(), id.to_owned()));
        }
        self.changed.notify_one();
    }
}

impl NativeHost {
    /// A host over `store` with `config`, reading time from `clock`. Fails only when the HTTP
    /// client cannot be set up (no TLS roots, say).
    pub fn new(store: NativeStore, config: HostConfig, clock: NativeClock) -> io::Result<Self> {
        let delivery = NativeDelivery::new().map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Self {
            store,
            config,
            clock,
            delivery,
            timers: Timers::default(),
            metrics: Metrics::default(),
            crypto: NativeCrypto::new(),
            keys: KeyCache::new(),
        })
    }

    /// What the server counts (`GET /metrics`).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The sessions' timers.
    pub fn timers(&self) -> &Timers {
        &self.timers
    }

    /// The store.
    pub fn store(&self) -> &NativeStore {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &NativeClock {
        &self.clock
    }

    /// The delivery machinery (HTTP client, worker wake-up).
    pub fn delivery(&self) -> &NativeDelivery {
        &self.delivery
    }
}

oidc_edge_core::store_via!(NativeHost => store: NativeStore);

impl Clock for NativeHost {
    fn now(&self) -> UnixTime {
        self.clock.now()
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }
}

impl Entropy for NativeHost {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        OsEntropy.fill(dest)
    }
}

impl Host for NativeHost {
    type Crypto = NativeCrypto;

    fn config(&self) -> &HostConfig {
        &self.config
    }

    fn crypto(&self) -> &NativeCrypto {
        &self.crypto
    }

    fn log(&self, event: &LogEvent<'_>) {
        log(format_args!("{event}"));
    }

    /// Kept for the sweep task, which wakes at the earliest (see `tasks::sweep_loop`).
    async fn wake_at(&self, realm: &str, id: &str, at: u64) -> Result<(), StoreError> {
        self.timers.add(at, realm, id);
        Ok(())
    }

    /// Real time (also with a manual clock): the deliveries it waits for run meanwhile on the
    /// same event loop.
    async fn sleep_ms(&self, ms: u64) -> bool {
        self.delivery.release_wakes();
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        true
    }

    fn observe(&self, metric: &Metric) {
        self.metrics.observe(metric);
    }

    fn key_cache(&self) -> Option<&KeyCache> {
        Some(&self.keys)
    }
}

/// One line to stderr; a closed stderr is no reason to fail a request.
pub(super) fn log(line: fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}
