//! The Cloudflare Workers host: core's provider bound to Workers KV, a Queue, `fetch`, the cron
//! trigger, `crypto.getRandomValues` and `Date`.
//!
//! | event | what it does |
//! | --- | --- |
//! | `fetch` | hands the request to core's [`provider::handle`]; no route or protocol logic here |
//! | `queue` | the `LOGOUT_QUEUE` consumer: one back-channel delivery per message ([`consumer`]) |
//! | `scheduled` | core's expiry sweep ([`provider::sweep`]), every minute by the cron trigger |
//!
//! Signatures, password hashing and RSA key generation go to WebCrypto ([`crate::subtle`]),
//! through core's crypto seam.
//!
//! Bindings (see `wrangler.toml` and [`config`]): KV namespace `OIDC_KV`, Queue producer
//! `LOGOUT_QUEUE` (and its consumer with a dead-letter queue), vars `BASE_URL`, `DEMO_REALM`,
//! `DEAD_LETTER_QUEUE`, secrets `ADMIN_TOKEN` and `MASTER_KEY`.
//!
//! The native server (`edge/src/native`) binds the same core to redb, reqwest and tokio: both
//! hosts only translate, so they behave alike by construction.

pub mod config;
pub mod consumer;
pub mod deliver;
pub mod http;
pub mod kv;
pub mod rules;

use std::cell::Cell;

use oidc_edge_core::UnixTime;
use oidc_edge_core::error::JoseError;
use oidc_edge_core::host::{
    Clock, Deliver, Entropy, EntropyError, Host, HostConfig, Post, PostOutcome, Store, StoreError,
    StoreVia,
};
use oidc_edge_core::jose::{Jwk, JwsAlg};
use oidc_edge_core::logout::delivery::Delivery;
use oidc_edge_core::logout::outbox;
use oidc_edge_core::provider;
use worker::{
    Context, Env, MessageBatch, Queue, ScheduleContext, ScheduledEvent, console_error, console_log,
    event,
};

use self::config::{ConfigError, WorkerConfig};
use self::kv::KvBackedStore;
use crate::subtle;

/// The KV namespace binding.
pub const KV_BINDING: &str = "OIDC_KV";
/// The logout Queue's producer binding.
pub const QUEUE_BINDING: &str = "LOGOUT_QUEUE";

/// Core's host in one invocation: the bindings and the settings read from them.
pub struct WorkerHost {
    store: KvBackedStore,
    queue: Queue,
    config: WorkerConfig,
    /// Where the clock stands when a test has set it (`TEST_CLOCK`); `Date.now()` otherwise.
    fixed_now_ms: Option<u64>,
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
        }
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
        Ok(Self {
            store: KvBackedStore::new(store),
            queue,
            config,
            fixed_now_ms: None,
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
    async fn seed_demo_once(&self) {
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
                    self.log("demo realm provisioned (DEMO_REALM): user demo / changeit");
                }
            }
            Err(e) => self.log(&format!("provisioning the demo realm failed: {e}")),
        }
    }
}

impl StoreVia for WorkerHost {
    type Inner = KvBackedStore;

    fn store(&self) -> &KvBackedStore {
        &self.store
    }
}

impl Clock for WorkerHost {
    fn now(&self) -> UnixTime {
        UnixTime(self.now_ms() / 1000)
    }

    fn now_ms(&self) -> u64 {
        if let Some(ms) = self.fixed_now_ms {
            return ms;
        }
        // `Date.now()`: whole milliseconds since the epoch (Workers advance it on I/O only,
        // which is all core needs); a negative or NaN clock reads as the epoch.
        let ms = worker::js_sys::Date::now();
        if ms.is_finite() && ms > 0.0 {
            ms as u64
        } else {
            0
        }
    }
}

impl Entropy for WorkerHost {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        // getrandom's `wasm_js` backend: `crypto.getRandomValues`.
        getrandom::fill(dest).map_err(|_| EntropyError)
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
    fn config(&self) -> &HostConfig {
        &self.config.host
    }

    async fn sign(
        &self,
        key: &Jwk,
        alg: JwsAlg,
        signing_input: &[u8],
    ) -> Result<Vec<u8>, JoseError> {
        subtle::sign_or_core(key, alg, signing_input, self, |l| self.log(l)).await
    }

    async fn generate_rsa(&self, bits: usize) -> Result<Jwk, JoseError> {
        subtle::generate_rsa_or_core(bits, self, |l| self.log(l)).await
    }

    async fn pbkdf2_sha256(
        &self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<[u8; 32], JoseError> {
        subtle::pbkdf2_sha256_or_core(password, salt, iterations, |l| self.log(l)).await
    }

    fn log(&self, line: &str) {
        console_log!("{line}");
    }
}

/// The answer when the worker's bindings are missing or malformed; the details go to the log
/// only.
fn misconfigured(e: &ConfigError) -> worker::Result<worker::Response> {
    console_error!("{e}");
    http::response(oidc_edge_core::http::Response::oauth_error(
        500,
        "server_error",
        "the provider is not configured",
    ))
}

#[event(fetch)]
async fn fetch(req: worker::Request, env: Env, _ctx: Context) -> worker::Result<worker::Response> {
    let host = match WorkerHost::from_env(&env).await {
        Ok(h) => h,
        Err(e) => return misconfigured(&e),
    };
    host.seed_demo_once().await;
    let req = match http::request(req).await {
        Ok(r) => r,
        Err(e) => {
            // The client went away mid-body, or the runtime refused the read.
            host.log(&format!("reading the request failed: {e}"));
            return http::response(oidc_edge_core::http::Response::oauth_error(
                400,
                "invalid_request",
                "the request could not be read",
            ));
        }
    };
    http::response(provider::handle(req, &host).await)
}

#[event(queue)]
async fn queue(batch: MessageBatch<Delivery>, env: Env, _ctx: Context) -> worker::Result<()> {
    let messages: Vec<_> = batch.raw_iter().collect();
    match WorkerHost::from_env(&env).await {
        Ok(host) => consumer::consume(&host, &batch.queue(), messages).await,
        Err(e) => {
            // Nothing can be delivered without the settings: keep the messages for later.
            console_error!("{e}; retrying {} messages", messages.len());
            batch.retry_all_with_options(
                &worker::QueueRetryOptionsBuilder::new()
                    .with_delay_seconds(60)
                    .build(),
            );
        }
    }
    // Never Err: that would abort the instance (every message was acked or retried above).
    Ok(())
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let host = match WorkerHost::from_env(&env).await {
        Ok(h) => h,
        Err(e) => {
            console_error!("{e}; the expiry sweep did not run");
            return;
        }
    };
    match provider::sweep(&host).await {
        Ok(0) => {}
        Ok(n) => host.log(&format!("sweep: {n} sessions ended")),
        Err(e) => host.log(&format!("sweep failed: {e}")),
    }
}
