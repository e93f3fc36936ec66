//! The Cloudflare Workers host: core's provider bound to Workers KV, a Queue, `fetch`, the cron
//! trigger, `crypto.getRandomValues` and `Date`.
//!
//! | event | what it does |
//! | --- | --- |
//! | `fetch` | hands the request to core's [`provider::handle`]; no route or protocol logic here |
//! | `queue` | the `LOGOUT_QUEUE` consumer: one back-channel delivery per message ([`consumer`]) |
//! | `scheduled` | core's expiry sweep ([`provider::sweep`]), every minute by the cron trigger |
//!
//! | file | what |
//! | --- | --- |
//! | [`host`] | core's [`Host`](oidc_edge_core::host::Host) over the bindings |
//! | [`http`] | the Workers request and response, as core's |
//! | [`config`] | the settings, read from vars and secrets |
//! | [`store`] | core's store over Workers KV |
//! | [`objects`] | the realms' strongly consistent store: an object's storage, the worker's side |
//! | [`realm_state`] | the realm's Durable Object class: one store operation per fetch, and its alarm |
//! | [`deliver`], [`consumer`] | the Queue producer and the POSTs; the Queue consumer |
//!
//! Signatures, password hashing and RSA key generation go to WebCrypto ([`crate::web`]),
//! through core's crypto seam.
//!
//! Bindings (see `wrangler.toml` and [`config`]): Durable Object namespace `REALM_STATE`
//! (class `RealmState`), KV namespace `OIDC_KV`, Queue producer
//! `LOGOUT_QUEUE` (and its consumer with a dead-letter queue), vars `BASE_URL`, `DEMO_REALM`,
//! `DEAD_LETTER_QUEUE`, secrets `ADMIN_TOKEN` and `MASTER_KEY`.
//!
//! The native server (`edge/src/native`) binds the same core to redb, reqwest and tokio: both
//! hosts only translate, so they behave alike by construction.

pub mod config;
pub mod consumer;
pub mod deliver;
pub mod host;
pub mod http;
pub mod objects;
pub mod realm_state;
pub mod store;

use oidc_edge_core::host::Host as _;
use oidc_edge_core::log::LogEvent;
use oidc_edge_core::logout::delivery::Delivery;
use oidc_edge_core::oauth::ErrorCode;
use oidc_edge_core::provider;
use worker::{Context, Env, MessageBatch, ScheduleContext, ScheduledEvent, console_error, event};

use self::config::ConfigError;
pub use self::host::{KV_BINDING, QUEUE_BINDING, WorkerHost};

/// The answer when the worker's bindings are missing or malformed; the details go to the log
/// only.
fn misconfigured(e: &ConfigError) -> worker::Result<worker::Response> {
    console_error!("{e}");
    http::response(
        ErrorCode::ServerError
            .with("the provider is not configured")
            .into_response(),
    )
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
            host.log(&LogEvent::RequestUnreadable { error: &e });
            return http::response(
                ErrorCode::InvalidRequest
                    .with("the request could not be read")
                    .into_response(),
            );
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
        Ok(ended) => host.log(&LogEvent::Swept { ended }),
        Err(e) => host.log(&LogEvent::SweepFailed { error: &e }),
    }
}
