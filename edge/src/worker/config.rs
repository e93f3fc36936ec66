//! The worker's settings, read from its bindings on every invocation (vars and secrets are
//! per deployment; parsing them costs microseconds).
//!
//! | binding | kind | what |
//! | --- | --- | --- |
//! | `BASE_URL` | var | the public URL the issuers are built from (`{BASE_URL}/realms/{R}`) |
//! | `ADMIN_TOKEN` | secret | bearer token of the admin API; unset: the admin API is closed |
//! | `MASTER_KEY` | secret | base64url of 32 bytes sealing the signing keys in KV |
//! | `DEMO_REALM` | var | `"true"`: provision realm `demo` like the native `--demo` |
//! | `DELIVERY_TIMEOUT_MS`, `DELIVERY_RETRY_MAX`, `DELIVERY_RETRY_BASE_MS` | vars | optional delivery policy, core's defaults otherwise |
//! | `DEAD_LETTER_QUEUE` | var | the name of the logout queue's dead-letter queue |
//! | `TEST_CLOCK` | var | tests only: `"true"` makes the clock read KV key [`TEST_CLOCK_KEY`] when it is set |
//!
//! There is no fallback for `MASTER_KEY` or `BASE_URL`: the native server can generate a
//! master key into its data directory and take its listen address as base URL, but every
//! isolate of a worker is a fresh process, and a generated key or a guessed origin would
//! differ between them (keys sealed by one isolate unreadable by the next; logout tokens whose
//! `iss` differs from the ID tokens', since the queue consumer and the cron have no request).

use std::fmt;

use oidc_edge_core::host::HostConfig;
use oidc_edge_core::host_config::{
    check_admin_token, check_delivery_policy, normalize_base_url, parse_master_key,
};
use oidc_edge_core::logout::delivery::DeliveryPolicy;
use worker::Env;

/// The base URL binding.
pub const BASE_URL: &str = "BASE_URL";
/// The admin token secret.
pub const ADMIN_TOKEN: &str = "ADMIN_TOKEN";
/// The master key secret.
pub const MASTER_KEY: &str = "MASTER_KEY";
/// The demo realm switch.
pub const DEMO_REALM: &str = "DEMO_REALM";
/// The dead-letter queue's name.
pub const DEAD_LETTER_QUEUE: &str = "DEAD_LETTER_QUEUE";
/// The test clock switch.
pub const TEST_CLOCK: &str = "TEST_CLOCK";
/// Where the test clock stands (decimal milliseconds since the epoch), read once per event
/// when [`TEST_CLOCK`] is on. The end-to-end tests freeze and advance the provider's clock
/// through it, as they do natively with a manual clock, to drive idle and maximum session
/// expiry without waiting. Never set `TEST_CLOCK` in a deployment: whoever can write the KV
/// namespace could then move the provider's clock.
pub const TEST_CLOCK_KEY: &str = "test/clock-ms";

/// Why the worker cannot serve: a binding is missing or malformed. The message names the
/// binding, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "worker configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Everything read from the bindings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// What core needs.
    pub host: HostConfig,
    /// Whether to provision realm `demo`.
    pub demo_realm: bool,
    /// The dead-letter queue's name, if configured.
    pub dead_letter_queue: Option<String>,
    /// Whether the clock may be set through KV ([`TEST_CLOCK_KEY`]); tests only.
    pub test_clock: bool,
}

impl WorkerConfig {
    /// Read and check the bindings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let base_url = text(env, BASE_URL)
            .ok_or_else(|| ConfigError(format!("the var {BASE_URL} is not set")))?;
        let base_url = normalize_base_url(&base_url)
            .map_err(|why| ConfigError(format!("{BASE_URL}: {why}")))?;
        let master_key = text(env, MASTER_KEY).ok_or_else(|| {
            ConfigError(format!(
                "the secret {MASTER_KEY} is not set (wrangler secret put {MASTER_KEY}; .dev.vars locally)"
            ))
        })?;
        let master_key = parse_master_key(&master_key)
            .map_err(|why| ConfigError(format!("{MASTER_KEY}: {why}")))?;
        // Unset: the admin API answers 401 to everyone (core refuses an empty token). Malformed
        // or a placeholder: the worker serves nothing (see `misconfigured`).
        let admin_token = text(env, ADMIN_TOKEN).unwrap_or_default();
        if !admin_token.is_empty() {
            check_admin_token(&admin_token)
                .map_err(|why| ConfigError(format!("{ADMIN_TOKEN}: {why}")))?;
        }
        let defaults = DeliveryPolicy::default();
        let delivery = DeliveryPolicy {
            timeout_ms: number(env, "DELIVERY_TIMEOUT_MS", defaults.timeout_ms)?,
            retry_max: number(env, "DELIVERY_RETRY_MAX", defaults.retry_max)?,
            retry_base_ms: number(env, "DELIVERY_RETRY_BASE_MS", defaults.retry_base_ms)?,
            // One invocation keeps at most six connections open; the consumer bounds itself.
            concurrency: defaults.concurrency,
        };
        check_delivery_policy(&delivery)
            .map_err(|why| ConfigError(format!("the DELIVERY_* vars: {why}")))?;
        Ok(Self {
            host: HostConfig {
                base_url,
                admin_token,
                master_key,
                delivery,
            },
            demo_realm: text(env, DEMO_REALM).is_some_and(|v| is_true(&v)),
            dead_letter_queue: text(env, DEAD_LETTER_QUEUE),
            test_clock: text(env, TEST_CLOCK).is_some_and(|v| is_true(&v)),
        })
    }
}

/// Whether a var reads as "on".
fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on"
    )
}

/// A var or secret as text; `None` when unbound or blank.
fn text(env: &Env, name: &str) -> Option<String> {
    // Vars and secrets are both plain strings in the module-worker `env`; `var()` checks the
    // JS type only, so it reads either.
    let v = env.var(name).ok()?.to_string();
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

fn number<T: std::str::FromStr>(env: &Env, name: &str, default: T) -> Result<T, ConfigError> {
    match text(env, name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ConfigError(format!("{name} is not a non-negative integer"))),
    }
}
