//! Core's host in one Workers invocation: KV, the logout Queue, `fetch`, the web platform's
//! clock, randomness and WebCrypto ([`crate::web`]), and the settings read from the bindings.

use std::cell::Cell;

use oidc_edge_core::UnixTime;
use oidc_edge_core::host::{
    Clock, Deliver, Entropy, EntropyError, Host, HostConfig, LogEvent, Post, PostOutcome, Store,
    StoreError,
};
use oidc_edge_core::logout::delivery::Delivery;
use oidc_edge_core::logout::outbox;
use oidc_edge_core::provider;
use worker::{Env, Queue, console_log};

use super::config::{self, ConfigError, WorkerConfig};
use super::deliver;
use super::objects::{self, Objects, Strong, Stubs, WorkerStore};
use super::store::KvBackedStore;
use crate::web::{self, WebCrypto, WebEntropy};

/// The KV namespace binding.
pub const KV_BINDING: &str = "OIDC_KV";
/// The logout Queue's producer binding.
pub const QUEUE_BINDING: &str = "LOGOUT_QUEUE";

/// Core's host in one invocation: the bindings and the settings read from them.
pub struct WorkerHost {
    store: WorkerStore,
    queue: Queue,
    config: WorkerConfig,
    /// Where the clock stands when a test has set it (`TEST_CLOCK`); `Date.now()` otherwise.
    fixed_now_ms: Option<u64>,
    crypto: WebCrypto,
}

impl std::fmt::Debug for WorkerHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerHost")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WorkerHost {
    /// The host for `env`, or why the worker is misconfigured; with `TEST_CLOCK` on, the
    /// clock as the tests have set it.
    pub async fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mut host = Self::bind(env)?;
        if host.config.test_clock {
            host.fixed_now_ms = host.test_clock().await?;
            host.store.now_ms = host.fixed_now_ms;
        }
        Ok(host)
    }

    /// The host inside realm `realm`'s Durable Object (its alarm): that realm's strong data is
    /// the object's own storage.
    pub async fn inside(env: &Env, here: Objects, realm: &str) -> Result<Self, ConfigError> {
        let mut host = Self::from_env(env).await?;
        let stubs = match &host.store.strong {
            Strong::Stubs(s) => s.clone(),
            _ => return Err(ConfigError(format!("the {} binding", objects::BINDING))),
        };
        host.store.strong = Strong::Inside {
            here,
            realm: realm.to_owned(),
            stubs,
        };
        Ok(host)
    }

    /// The test clock's setting in KV, if any.
    async fn test_clock(&self) -> Result<Option<u64>, ConfigError> {
        let value = self
            .store
            .get(config::TEST_CLOCK_KEY)
            .await
            .map_err(|e| ConfigError(format!("the test clock: {e}")))?;
        value
            .map(|v| {
                std::str::from_utf8(&v)
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                    .ok_or_else(|| ConfigError("the test clock is not a number".into()))
            })
            .transpose()
    }

    fn bind(env: &Env) -> Result<Self, ConfigError> {
        let config = WorkerConfig::from_env(env)?;
        let store = env
            .kv(KV_BINDING)
            .map_err(|e| ConfigError(format!("the KV namespace {KV_BINDING}: {e}")))?;
        let queue = env
            .queue(QUEUE_BINDING)
            .map_err(|e| ConfigError(format!("the Queue producer {QUEUE_BINDING}: {e}")))?;
        // Without the Durable Object binding (an older wrangler.toml), everything stays on KV.
        let strong = env
            .durable_object(objects::BINDING)
            .map_or(Strong::Kv, |ns| Strong::Stubs(Stubs::new(ns)));
        Ok(Self {
            store: WorkerStore {
                kv: KvBackedStore::new(store),
                strong,
                now_ms: None,
            },
            queue,
            config,
            fixed_now_ms: None,
            crypto: WebCrypto::new(|line| console_log!("{line}")),
        })
    }

    /// The logout Queue (producer side).
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// The name of the dead-letter queue, when configured.
    pub fn dead_letter_queue(&self) -> Option<&str> {
        self.config.dead_letter_queue.as_deref()
    }

    /// Provision realm `demo` when `DEMO_REALM` asks for it, once per isolate (core checks
    /// whether it exists, so the cost is one KV read per isolate). Two isolates starting at
    /// once on a fresh namespace may both create it; the last write wins, which is harmless
    /// for a demo.
    pub(super) async fn seed_demo_once(&self) {
        thread_local! {
            static DONE: Cell<bool> = const { Cell::new(false) };
        }
        if !self.config.demo_realm || DONE.with(Cell::get) {
            return;
        }
        match provider::seed_demo(self).await {
            Ok(created) => {
                DONE.with(|d| d.set(true));
                if created {
                    self.log_line("demo realm provisioned (DEMO_REALM): user demo / changeit");
                }
            }
            Err(e) => self.log_line(&format!("provisioning the demo realm failed: {e}")),
        }
    }
}

oidc_edge_core::store_via!(WorkerHost => store: WorkerStore);

impl Clock for WorkerHost {
    fn now(&self) -> UnixTime {
        UnixTime(self.now_ms() / 1000)
    }

    fn now_ms(&self) -> u64 {
        self.fixed_now_ms.unwrap_or_else(web::now_ms)
    }
}

impl Entropy for WorkerHost {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        WebEntropy.fill(dest)
    }
}

impl Deliver for WorkerHost {
    async fn enqueue(&self, deliveries: Vec<Delivery>) -> Result<(), StoreError> {
        // The record first (what the admin API lists as pending, as natively), then the
        // messages that do the work; the consumer settles the record as core decides.
        outbox::put(&self.store, &deliveries).await?;
        deliver::enqueue(&self.queue, deliveries, self.now_ms()).await
    }

    async fn post(&self, post: Post<'_>) -> PostOutcome {
        deliver::post(post).await
    }
}

impl Host for WorkerHost {
    type Crypto = WebCrypto;

    fn config(&self) -> &HostConfig {
        &self.config.host
    }

    fn crypto(&self) -> &WebCrypto {
        &self.crypto
    }

    fn log(&self, event: &LogEvent<'_>) {
        console_log!("{event}");
    }

    /// The realm's Durable Object alarm ([`objects`]); without the binding, the cron's sweep.
    async fn wake_at(&self, realm: &str, id: &str, at: u64) -> Result<(), StoreError> {
        self.store.wake(realm, id, at).await
    }

    /// A timer in the request's own invocation: the Queue's consumer delivers meanwhile.
    async fn sleep_ms(&self, ms: u64) -> bool {
        worker::Delay::from(std::time::Duration::from_millis(ms)).await;
        true
    }
}

impl WorkerHost {
    /// Write a line of the host's own (its background work) to the log, as core's events go.
    pub fn log_line(&self, line: &str) {
        console_log!("{line}");
    }
}
