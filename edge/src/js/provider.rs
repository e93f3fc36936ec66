//! `Provider`: core's whole provider for any JS runtime, over a store and a deliverer the
//! embedding gives (see [`super::host`]).
//!
//! Back-channel deliveries, as the native host does them: a logout (or a sweep) writes them to
//! core's outbox in the embedding's store before it answers, so a crash can repeat a delivery
//! but never lose one. Then, unless `delivery.auto` is false, a background runner attempts
//! every delivery core's [`Runner`] says is due (each its own attempt, at most `concurrency`
//! in flight) and sleeps on a timer until core's next wake, until the outbox is empty. The
//! runner's promise goes to `ctx.waitUntil` when `handle` gets a context, for runtimes that end an
//! invocation with its response. With `auto: false`, `runDeliveries()` does one round on demand
//! (from a cron, say). The first call of `handle`, `sweep` or `runDeliveries` also resumes
//! whatever an earlier process left in the outbox.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use futures_util::future::join_all;
use js_sys::{Promise, Reflect};
use oidc_edge_core::host::{Clock as _, Host as _};
use oidc_edge_core::log::LogEvent;
use oidc_edge_core::logout::outbox::Runner;
use oidc_edge_core::oauth::ErrorCode;
use oidc_edge_core::provider;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::config::host_config;
use super::deliver::Poster;
use super::host::{JsHost, Log};
use super::http;
use super::interop::{core_error, fail, sleep, to_js};
use super::store::JsStore;

/// Wait after a round that failed (a store error) before the next.
const ERROR_WAIT_MS: u64 = 1000;
/// Rounds in a row that may fail before the runner gives up (until the next kick).
const MAX_FAILED_ROUNDS: u32 = 5;

/// What a round of deliveries did (`DeliveryReport` in the declarations).
#[derive(Serialize, Debug, Default, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct Report {
    attempted: usize,
    failed: usize,
    next_due_ms: Option<u64>,
}

/// The whole OpenID Provider (discovery, JWKS, authorize, login, token, userinfo, registration,
/// logout, admin API) over the store and deliverer the embedding gives.
// Core's `provider::handle`, `provider::sweep` and `provider::seed_demo`, and the delivery
// runner described in the module's docs.
#[wasm_bindgen]
pub struct Provider {
    inner: Rc<Inner>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("host", &self.inner.host)
            .finish_non_exhaustive()
    }
}

struct Inner {
    host: JsHost,
    auto: bool,
    /// The background runner's promise while it runs.
    runner: RefCell<Option<Promise>>,
    /// Set when work arrives while the runner runs: it goes round once more.
    again: Cell<bool>,
    /// The host's enqueue count the runner was last told of.
    seen: Cell<u64>,
    /// Whether the outbox has been looked at since this provider was made.
    resumed: Cell<bool>,
    /// Core's runner of the outbox: what is due, what is in flight, when to look again.
    outbox: Runner,
}

#[wasm_bindgen]
impl Provider {
    /// A provider over `options.store` and `options.deliver` (see `ProviderOptions`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "ProviderOptions")] options: JsValue,
    ) -> Result<Provider, JsValue> {
        if !options.is_object() {
            return Err(fail("invalid_config", "options must be an object"));
        }
        let (config, auto) = host_config(&options)?;
        let get = |name: &str| Reflect::get(&options, &name.into()).unwrap_or(JsValue::UNDEFINED);
        let host = JsHost::new(
            JsStore::new(get("store"))?,
            Poster::new(get("deliver"))?,
            Log::new(get("log"))?,
            config,
        );
        Ok(Self {
            inner: Rc::new(Inner {
                host,
                auto,
                runner: RefCell::new(None),
                again: Cell::new(false),
                seen: Cell::new(0),
                resumed: Cell::new(false),
                outbox: Runner::new(),
            }),
        })
    }

    /// The issuer of realm `realm`: `{baseUrl}/realms/{realm}`.
    pub fn issuer(&self, realm: &str) -> String {
        oidc_edge_core::realm::issuer(&self.inner.host, realm)
    }

    /// Answer one HTTP request. Deliveries the request queued (a logout) start in the
    /// background; their promise goes to `ctx.waitUntil` when given.
    #[wasm_bindgen(unchecked_return_type = "Promise<Response>")]
    pub fn handle(
        &self,
        request: web_sys::Request,
        #[wasm_bindgen(unchecked_optional_param_type = "WaitUntil")] ctx: JsValue,
    ) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let resp = match http::request(&request).await {
                Ok(req) => provider::handle(req, &inner.host).await,
                Err(e) => {
                    // The client went away mid-body, or the runtime refused the read.
                    inner.host.log(&LogEvent::RequestUnreadable { error: &e });
                    ErrorCode::InvalidRequest
                        .with("the request could not be read")
                        .into_response()
                }
            };
            Inner::kick(&inner, &ctx, false);
            http::response(resp).map(JsValue::from)
        })
    }

    /// Run one expiry sweep (call it every minute or so): ends every session past its idle or
    /// maximum time, which queues their back-channel logouts. Resolves to how many ended.
    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn sweep(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "WaitUntil")] ctx: JsValue,
    ) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let ended = provider::sweep(&inner.host)
                .await
                .map_err(|e| core_error(&e))?;
            Inner::kick(&inner, &ctx, false);
            Ok(JsValue::from(ended as f64))
        })
    }

    /// Provision realm `demo` (open registration, private URIs allowed, user `demo` /
    /// `changeit`) unless it exists. Resolves to whether it was created.
    #[wasm_bindgen(js_name = seedDemo, unchecked_return_type = "Promise<boolean>")]
    pub fn seed_demo(&self) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            provider::seed_demo(&inner.host)
                .await
                .map(JsValue::from)
                .map_err(|e| core_error(&e))
        })
    }

    /// One round of deliveries: attempt every due one (not already in flight) and record the
    /// outcomes. With `delivery.auto` (the default) the provider does this by itself.
    #[wasm_bindgen(js_name = runDeliveries, unchecked_return_type = "Promise<DeliveryReport>")]
    pub fn run_deliveries(&self) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            inner.resumed.set(true);
            let report = inner.round().await.map_err(|e| core_error(&e))?;
            // Retries were scheduled: the runner sees them through.
            Inner::kick(&inner, &JsValue::UNDEFINED, report.next_due_ms.is_some());
            to_js(&report)
        })
    }

    /// Resolves once the background runner has nothing left to do (every delivery delivered,
    /// rejected or dead-lettered), at once when it is not running.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn idle(&self) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            // The runner may go round again: wait until there is none.
            loop {
                let running = inner.runner.borrow().clone();
                match running {
                    Some(p) => {
                        wasm_bindgen_futures::JsFuture::from(p).await?;
                    }
                    None => return Ok(JsValue::UNDEFINED),
                }
            }
        })
    }
}

impl Inner {
    /// Start the background runner when there is work (`force`, deliveries were queued since
    /// it last looked, or the outbox was never looked at), or make a running one go round once
    /// more. Its promise goes to `ctx.waitUntil`, if there is one.
    fn kick(this: &Rc<Self>, ctx: &JsValue, force: bool) {
        if !this.auto {
            return;
        }
        let fresh = this.host.enqueued() != this.seen.get() || !this.resumed.get();
        if !fresh && !force {
            return;
        }
        this.seen.set(this.host.enqueued());
        this.resumed.set(true);
        let running = this.runner.borrow().clone();
        let promise = match running {
            Some(p) => {
                this.again.set(true);
                p
            }
            None => {
                let me = Rc::clone(this);
                let p = future_to_promise(async move {
                    me.run().await;
                    Ok(JsValue::UNDEFINED)
                });
                *this.runner.borrow_mut() = Some(p.clone());
                p
            }
        };
        if let Ok(wait_until) = super::interop::method(ctx, "waitUntil", "ctx") {
            let _ = wait_until.call1(ctx, &promise);
        }
    }

    /// The background runner: rounds until nothing is pending, sleeping until core's next
    /// wake.
    async fn run(&self) {
        let mut failed_rounds = 0;
        loop {
            self.again.set(false);
            let wait = match self.round().await {
                Ok(r) => {
                    // A round with nothing to attempt (a failed delivery held back) neither
                    // adds to the failures in a row nor ends them.
                    if r.failed > 0 {
                        failed_rounds += 1;
                    } else if r.attempted > 0 {
                        failed_rounds = 0;
                    }
                    let wait = r.next_due_ms.map(|t| t.saturating_sub(self.host.now_ms()));
                    if r.failed > 0 {
                        Some(wait.map_or(ERROR_WAIT_MS, |w| w.max(ERROR_WAIT_MS)))
                    } else if r.attempted > 0 {
                        // Claim again at once: more may be due, waiting only for room.
                        Some(0)
                    } else {
                        wait
                    }
                }
                Err(e) => {
                    failed_rounds += 1;
                    self.host.log(&LogEvent::OutboxUnreadable { error: &e });
                    Some(ERROR_WAIT_MS)
                }
            };
            if failed_rounds >= MAX_FAILED_ROUNDS {
                self.host.log_line(
                    "delivery: stopped after repeated store errors; the next logout, sweep or runDeliveries() resumes",
                );
                self.runner.borrow_mut().take();
                return;
            }
            match wait {
                _ if self.again.get() => {}
                None => {
                    // Nothing pending and nothing new: stop (no await since the check).
                    self.runner.borrow_mut().take();
                    return;
                }
                Some(ms) => sleep(ms).await,
            }
        }
    }

    /// One round: claim what core says is due, attempt it all at once, store what became of
    /// each (core's [`Runner::run`]).
    async fn round(&self) -> Result<Report, oidc_edge_core::Error> {
        let host = &self.host;
        let claimed = self
            .outbox
            .claim(host, &host.config().delivery, host.now_ms())
            .await?;
        let mut report = Report {
            attempted: claimed.deliveries.len(),
            failed: 0,
            next_due_ms: claimed.next_wake_ms,
        };
        let attempts = claimed.deliveries.into_iter().map(|d| async move {
            let id = d.id.clone();
            (id, self.outbox.run(host, d).await)
        });
        for (id, result) in join_all(attempts).await {
            match result {
                Ok(Some(t)) => {
                    report.next_due_ms = Some(report.next_due_ms.map_or(t, |n| n.min(t)));
                }
                Ok(None) => {}
                Err(e) => {
                    // Still in the outbox as it was: core holds it back for a while.
                    report.failed += 1;
                    host.log(&LogEvent::DeliveryFailed { id: &id, error: &e });
                }
            }
        }
        Ok(report)
    }
}
