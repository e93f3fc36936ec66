//! Throttling of password guessing (NIST SP 800-63B §5.2.2) and of anonymous registration.
//!
//! Sign-in failures are counted per account and per source (the client address the host
//! reports). A few failures are free; after that each attempt must wait twice as long as the
//! one before (up to [`MAX_WAIT_SECS`]); an account with [`ACCOUNT_LOCK`] consecutive failures
//! is locked until an administrator resets its password. A success clears both counters.
//! Every failure is audited.

use alloc::{format, string::String};

use serde::{Deserialize, Serialize};

use super::request::Result;
use crate::audit::{self, AuditEvent};
use crate::host::Host;
use crate::http::Response;
use crate::keys;
use crate::oauth::ErrorCode;
use crate::opaque_token;
use crate::records::{self, Realm};

/// Consecutive failures an account may have before it is locked (NIST: at most 100).
pub const ACCOUNT_LOCK: u32 = 100;
/// Failures an account may have before attempts are spaced out.
const ACCOUNT_FREE: u32 = 5;
/// Failures one source may have before its attempts are spaced out.
const SOURCE_FREE: u32 = 20;
/// Longest wait imposed between two attempts, in seconds.
pub const MAX_WAIT_SECS: u64 = 900;
/// How long a failure counter is remembered after the last failure.
const COUNTER_TTL_SECS: u64 = 30 * 86400;
/// The event of a refused sign-in (AM names authentication outcomes so).
pub const LOGIN_EVENT: &str = "AM-LOGIN-COMPLETED";

/// A failure counter.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Counter {
    failures: u32,
    last: u64,
}

impl Counter {
    /// Seconds to wait from `now` before the next attempt, for a counter with `free` free
    /// failures.
    fn wait(&self, free: u32, now: u64) -> u64 {
        if self.failures < free {
            return 0;
        }
        let step = 1u64 << (self.failures - free).min(20);
        let until = self.last.saturating_add(step.min(MAX_WAIT_SECS));
        until.saturating_sub(now)
    }
}

/// Why a sign-in was refused, as the caller shows it.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// [`ErrorCode::AccessDenied`] for wrong credentials, [`ErrorCode::Throttled`] while
    /// throttled, [`ErrorCode::Locked`] for a locked account.
    pub code: ErrorCode,
    /// What to tell the user.
    pub message: String,
    /// Seconds after which trying again can help.
    pub retry_after: Option<u64>,
}

impl Refusal {
    /// Add `Retry-After` when there is one.
    pub fn decorate(&self, r: Response) -> Response {
        match self.retry_after {
            Some(s) => r.with_header("retry-after", &format!("{s}")),
            None => r,
        }
    }
}

/// The counters one sign-in attempt is judged by.
pub struct Guard<'a> {
    realm: &'a str,
    username: &'a str,
    account_key: String,
    source_key: Option<String>,
}

impl<'a> Guard<'a> {
    /// The guard of a sign-in as `username` from `remote`.
    pub fn for_sign_in(realm: &'a Realm, username: &'a str, remote: Option<&str>) -> Self {
        // Names are hashed: the key stays short and holds no raw user input. Only a name that
        // could be an account's is written to the audit trail.
        Self {
            realm: &realm.name,
            username: if super::request::valid_username(username) {
                username
            } else {
                "(not a valid user name)"
            },
            account_key: keys::throttle(&realm.name, "account", &opaque_token::hash(username)),
            // A loopback peer is the host's own reverse proxy (every client would share its
            // count) or a local process: only per-account limits apply to it.
            source_key: remote
                .filter(|r| !is_loopback(r))
                .map(|r| keys::throttle(&realm.name, "source", &opaque_token::hash(r))),
        }
    }

    /// A refusal if the account is locked or either counter says to wait.
    pub async fn check<H: Host>(&self, host: &H) -> Result<Option<Refusal>> {
        let now = host.now().secs();
        let account: Counter = records::load(host, &self.account_key)
            .await?
            .unwrap_or_default();
        if account.failures >= ACCOUNT_LOCK {
            return Ok(Some(Refusal {
                code: ErrorCode::Locked,
                message: String::from(
                    "This account is locked after too many failed sign-ins. An administrator must reset its password.",
                ),
                retry_after: None,
            }));
        }
        let mut wait = account.wait(ACCOUNT_FREE, now);
        if let Some(k) = &self.source_key {
            let source: Counter = records::load(host, k).await?.unwrap_or_default();
            wait = wait.max(source.wait(SOURCE_FREE, now));
        }
        Ok((wait > 0).then(|| Refusal {
            code: ErrorCode::Throttled,
            message: format!("Too many failed sign-ins. Try again in {wait} seconds."),
            retry_after: Some(wait),
        }))
    }

    /// Count a failure, audit it, and say how to refuse.
    pub async fn failed<H: Host>(&self, host: &H, realm: &Realm, why: &str) -> Result<Refusal> {
        let now = host.now().secs();
        let mut n = 0;
        for key in core::iter::once(&self.account_key).chain(self.source_key.as_ref()) {
            let mut c: Counter = records::load(host, key).await?.unwrap_or_default();
            c.failures = c.failures.saturating_add(1);
            c.last = now;
            if key == &self.account_key {
                n = c.failures;
            }
            records::save(host, key, &c, Some(COUNTER_TTL_SECS)).await?;
        }
        let event = AuditEvent {
            id: String::new(),
            timestamp: String::new(),
            event_name: String::from(LOGIN_EVENT),
            transaction_id: crate::logout::logout_token::random_uuid(host)?,
            user_id: audit::user_id(&realm.name, self.username),
            tracking_ids: alloc::vec::Vec::new(),
            realm: String::new(),
            component: String::from("Authentication"),
            operation: format!("Sign-in FAILED: {why} ({n} consecutive failure(s))."),
        };
        audit::record(host, self.realm, event).await?;
        Ok(Refusal {
            code: ErrorCode::AccessDenied,
            message: String::from("Invalid user name or password."),
            retry_after: None,
        })
    }

    /// A success clears both counters.
    pub async fn succeeded<H: Host>(&self, host: &H) -> Result<()> {
        host.delete(&self.account_key).await?;
        if let Some(k) = &self.source_key {
            host.delete(k).await?;
        }
        Ok(())
    }
}

/// Whether `remote` is a loopback address (`127.0.0.0/8`, `::1`, or IPv4-mapped loopback).
fn is_loopback(remote: &str) -> bool {
    match remote.parse::<core::net::IpAddr>() {
        Ok(core::net::IpAddr::V4(a)) => a.is_loopback(),
        Ok(core::net::IpAddr::V6(a)) => {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// Clear an account's failure counter (an administrator reset its password).
pub async fn reset_account<H: Host>(host: &H, realm: &str, username: &str) -> Result<()> {
    host.delete(&keys::throttle(
        realm,
        "account",
        &opaque_token::hash(username),
    ))
    .await?;
    Ok(())
}

/// Count one anonymous registration from `remote`; `false` once the source has made `limit`
/// in the current hour.
pub async fn allow_registration<H: Host>(
    host: &H,
    realm: &str,
    remote: &str,
    limit: u32,
) -> Result<bool> {
    let hour = host.now().secs() / 3600;
    let key = keys::throttle(
        realm,
        "register",
        &format!("{hour}-{}", opaque_token::hash(remote)),
    );
    let mut c: Counter = records::load(host, &key).await?.unwrap_or_default();
    if c.failures >= limit {
        return Ok(false);
    }
    c.failures += 1;
    c.last = host.now().secs();
    records::save(host, &key, &c, Some(3600)).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_after_the_free_failures_and_are_capped() {
        let c = |failures| Counter {
            failures,
            last: 1000,
        };
        assert_eq!(c(4).wait(5, 1000), 0);
        assert_eq!(c(5).wait(5, 1000), 1);
        assert_eq!(c(6).wait(5, 1000), 2);
        assert_eq!(c(8).wait(5, 1003), 5);
        assert_eq!(c(60).wait(5, 1000), MAX_WAIT_SECS);
        assert_eq!(c(60).wait(5, 1000 + MAX_WAIT_SECS), 0);
    }
}
