//! Delivery of logout tokens: the state machine (attempt, outcome, retry or not), the audit
//! event of every attempt, and the store-backed outbox that native hosts run.

use alloc::{format, string::String, vec::Vec};

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::token::{self, LogoutCause, LogoutTokenKeys, LogoutTokenParams};
use crate::audit::{self, AuditEvent};
use crate::error::Error;
use crate::host::{Host, Post, PostOutcome, StoreError};
use crate::keys;
use crate::model::{self, Client};
use crate::{http, realm};

/// Timeouts, retries and concurrency of deliveries (the host's settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryPolicy {
    /// Per-request timeout, in milliseconds.
    pub timeout_ms: u64,
    /// Attempts after the first, for transient failures.
    pub retry_max: u32,
    /// Backoff base, in milliseconds: the n-th retry waits about `base * 2^(n-1)`.
    pub retry_base_ms: u64,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            timeout_ms: 5000,
            retry_max: 5,
            retry_base_ms: 1000,
            concurrency: 128,
        }
    }
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// The RP answered 200 or 204.
    Delivered,
    /// The RP refused it (400, or another 4xx but 408 and 429): not retried.
    Rejected,
    /// Transient failures beyond the retry bound: dead-lettered.
    Dead,
}

/// One logout token to deliver to one RP for one ended session. Everything needed to mint
/// the token later is here: the session is gone by the time it is sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Unique id.
    pub id: String,
    /// Realm.
    pub realm: String,
    /// The ended session's public id.
    pub session_id: String,
    /// The RP.
    pub client_id: String,
    /// The RP's `backchannel_logout_uri` when the session ended.
    pub uri: String,
    /// The user's login name (for audit).
    pub user: String,
    /// `sub`, as in the RP's ID tokens.
    pub sub: String,
    /// `sid`, only for RPs that require it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Why the session ended.
    pub cause: LogoutCause,
    /// AM's `auditTrackingId`, stable across retries.
    pub tracking_id: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due, in ms since the epoch.
    pub next_attempt_ms: u64,
    /// State.
    pub state: DeliveryState,
    /// The last attempt's outcome, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<String>,
}

impl Serialize for LogoutCause {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LogoutCause {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom("unknown logout cause"))
    }
}

/// What to do after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Finished (delivered or rejected): remove it from the queue.
    Done(DeliveryState),
    /// Try again at this time (ms since the epoch).
    RetryAt(u64),
    /// Out of retries: dead-letter it.
    Dead,
}

/// Whether an outcome is worth retrying: no answer, 5xx, 408 and 429 are transient; a refusal
/// by the host's policy is not.
pub fn is_transient(outcome: &PostOutcome) -> bool {
    match outcome {
        PostOutcome::Status(s) => *s >= 500 || *s == 408 || *s == 429,
        PostOutcome::Timeout | PostOutcome::Failed(_) => true,
        PostOutcome::Refused(_) => false,
    }
}

/// The state machine: given the outcome of attempt number `attempts` (1-based), what next.
/// `jitter` in [0, 1) spreads retries (equal jitter: half fixed, half random).
pub fn next_step(
    policy: &DeliveryPolicy,
    attempts: u32,
    outcome: &PostOutcome,
    now_ms: u64,
    jitter: f64,
) -> Next {
    match outcome {
        PostOutcome::Status(200 | 204) => Next::Done(DeliveryState::Delivered),
        o if !is_transient(o) => Next::Done(DeliveryState::Rejected),
        _ if attempts > policy.retry_max => Next::Dead,
        _ => {
            let exp = policy
                .retry_base_ms
                .saturating_mul(1u64 << (attempts.saturating_sub(1)).min(20));
            let delay = exp / 2 + ((exp / 2) as f64 * jitter.clamp(0.0, 1.0)) as u64;
            Next::RetryAt(now_ms.saturating_add(delay.max(1)))
        }
    }
}

/// The audit `operation` for an attempt, in AM's words.
pub fn operation(uri: &str, outcome: &PostOutcome, timeout_ms: u64) -> String {
    match outcome {
        PostOutcome::Status(n) => {
            format!("Sent logout request to {uri}, which responded with HTTP code {n}.")
        }
        PostOutcome::Timeout => format!(
            "Sent logout request to {uri}, which did not respond within {timeout_ms} ms (timeout)."
        ),
        PostOutcome::Failed(why) | PostOutcome::Refused(why) => {
            format!("Failed to send logout request to {uri}: {why}.")
        }
    }
}

/// Mint this delivery's token now (fresh `iat`, `exp`, `jti`) with the RP's current keys.
async fn mint<H: Host>(host: &H, d: &Delivery) -> Result<Option<(String, bool)>, Error> {
    let Some(realm) = realm::load(host, &d.realm).await? else {
        return Ok(None);
    };
    let Some(client) =
        model::load::<Client, _>(host, &keys::client(&d.realm, &d.client_id)).await?
    else {
        return Ok(None);
    };
    let alg = client.metadata.signing_alg();
    let key = realm::signing_key(host, &realm, alg).await?;
    let encryption = client.metadata.encryption();
    let issuer = realm::issuer(host, &d.realm);
    let params = LogoutTokenParams {
        issuer: &issuer,
        audience: &d.client_id,
        subject: Some(&d.sub),
        sid: d.sid.as_deref(),
        cause: Some(d.cause),
        audit_tracking_id: Some(&d.tracking_id),
        now: host.now(),
        lifetime_secs: token::MAX_LIFETIME_SECS,
    };
    let keys = LogoutTokenKeys {
        signing_key: &key,
        alg,
        encrypt_to: encryption.as_ref().map(|(k, a, e)| (k, *a, *e)),
    };
    Ok(Some((
        token::mint_with(host, &params, &keys).await?,
        realm.config.allow_private_uris,
    )))
}

/// Make one attempt: mint, POST, audit. Returns the outcome and what to do next; the caller
/// (host) stores the updated delivery or removes it.
pub async fn attempt<H: Host>(host: &H, d: &mut Delivery) -> Result<Next, Error> {
    let policy = host.config().delivery;
    d.attempts += 1;
    let outcome = match mint(host, d).await? {
        None => PostOutcome::Failed(String::from("the client or realm no longer exists")),
        Some((token, allow_private)) => {
            let body = format!(
                "logout_token={}",
                http::encode_params([("x", token.as_str())]).trim_start_matches("x=")
            );
            host.post(Post {
                uri: &d.uri,
                body: &body,
                timeout_ms: policy.timeout_ms,
                allow_private,
            })
            .await
        }
    };
    let gone = matches!(&outcome, PostOutcome::Failed(w) if w.starts_with("the client or realm"));
    let jitter = {
        let b: [u8; 2] = crate::host::random(host)?;
        f64::from(u16::from_le_bytes(b)) / 65536.0
    };
    let next = if gone {
        Next::Done(DeliveryState::Rejected)
    } else {
        next_step(&policy, d.attempts, &outcome, host.now_ms(), jitter)
    };
    d.last_outcome = Some(operation(&d.uri, &outcome, policy.timeout_ms));
    d.state = match next {
        Next::Done(s) => s,
        Next::RetryAt(t) => {
            d.next_attempt_ms = t;
            DeliveryState::Pending
        }
        Next::Dead => DeliveryState::Dead,
    };
    let event = AuditEvent {
        id: String::new(),
        timestamp: String::new(),
        event_name: String::from(audit::BACK_CHANNEL_LOGOUT),
        transaction_id: d.tracking_id.clone(),
        user_id: audit::user_id(&d.realm, &d.user),
        tracking_ids: alloc::vec![d.tracking_id.clone(), d.session_id.clone()],
        realm: String::new(),
        component: String::from("OAuth"),
        operation: d.last_outcome.clone().unwrap_or_default(),
    };
    audit::record(host, &d.realm.clone(), event).await?;
    Ok(next)
}

// ---- The store-backed outbox (native hosts) ------------------------------------------------

/// `outbox/{id}`: pending deliveries, all realms.
pub fn outbox_key(id: &str) -> String {
    format!("outbox/{id}")
}

/// `dead/{R}/{id}`: dead-lettered deliveries, visible in the admin API.
pub fn dead_key(realm: &str, id: &str) -> String {
    format!("dead/{realm}/{id}")
}

/// Write deliveries to the outbox, all at once ([`crate::host::Store::put_many`]): what a
/// native host's [`crate::host::Deliver::enqueue`] does, and the worker's record beside its
/// Queue messages.
pub async fn outbox_put<S: crate::host::Store + ?Sized>(
    store: &S,
    deliveries: &[Delivery],
) -> Result<(), StoreError> {
    let mut entries = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let key = outbox_key(&d.id);
        let value = serde_json::to_vec(d).map_err(|e| StoreError(format!("{key}: {e}")))?;
        entries.push((key, value, None));
    }
    // One transaction for the whole session where the store has them.
    store.put_many(&entries).await
}

/// What [`run_due`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Attempts made.
    pub attempted: usize,
    /// Still pending afterwards (retries scheduled or not yet due).
    pub pending: usize,
    /// When the earliest pending delivery is due (ms), if any.
    pub next_due_ms: Option<u64>,
}

/// The outbox's due deliveries (at most `limit`, skipping those `in_flight` names), and when
/// the earliest of the others is due (ms). Hosts that run each attempt as its own task use
/// this with [`settle`]; [`run_due`] does both in one round.
pub async fn due<H: Host>(
    host: &H,
    in_flight: &dyn Fn(&str) -> bool,
    limit: usize,
) -> Result<(Vec<Delivery>, Option<u64>), Error> {
    let now = host.now_ms();
    let mut out = Vec::new();
    let mut next: Option<u64> = None;
    for key in model::list_all(host, "outbox/", 100_000).await? {
        let Some(d) = model::load::<Delivery, _>(host, &key).await? else {
            continue;
        };
        if in_flight(&d.id) {
            continue;
        }
        if d.next_attempt_ms <= now && out.len() < limit {
            out.push(d);
        } else {
            next = Some(next.map_or(d.next_attempt_ms, |t| t.min(d.next_attempt_ms)));
        }
    }
    Ok((out, next))
}

/// Store what an attempt decided: remove a finished delivery, reschedule a retry, or move an
/// exhausted one to the dead letters.
pub async fn settle<H: Host>(host: &H, d: &Delivery, next: Next) -> Result<(), Error> {
    match next {
        Next::Done(_) => host.delete(&outbox_key(&d.id)).await?,
        Next::RetryAt(_) => model::save(host, &outbox_key(&d.id), d, None).await?,
        Next::Dead => {
            model::save(
                host,
                &dead_key(&d.realm, &d.id),
                d,
                Some(audit::RETENTION_SECS),
            )
            .await?;
            host.delete(&outbox_key(&d.id)).await?;
        }
    }
    Ok(())
}

/// Attempt one delivery and store the result; returns when it is due again, if ever.
pub async fn attempt_and_settle<H: Host>(host: &H, mut d: Delivery) -> Result<Option<u64>, Error> {
    let next = attempt(host, &mut d).await?;
    settle(host, &d, next).await?;
    Ok(match next {
        Next::RetryAt(t) => Some(t),
        _ => None,
    })
}

/// Attempt every due delivery in the outbox, `policy.concurrency` at a time, and store what
/// became of each. One round: it returns when the slowest attempt has finished.
pub async fn run_due<H: Host>(host: &H) -> Result<RunReport, Error> {
    let (due, mut next_due_ms) = due(host, &|_| false, usize::MAX).await?;
    let mut report = RunReport {
        attempted: due.len(),
        pending: 0,
        next_due_ms: None,
    };
    let concurrency = host.config().delivery.concurrency.max(1);
    let results: Vec<Result<Option<u64>, Error>> =
        futures_util::stream::iter(due.into_iter().map(|d| attempt_and_settle(host, d)))
            .buffer_unordered(concurrency)
            .collect()
            .await;
    for r in results {
        if let Some(t) = r? {
            next_due_ms = Some(next_due_ms.map_or(t, |x| x.min(t)));
        }
    }
    // Count what is left rather than track it: the outbox is the truth.
    report.pending = model::list_all(host, "outbox/", 100_000).await?.len();
    report.next_due_ms = next_due_ms.filter(|_| report.pending > 0);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_decide_retries() {
        let p = DeliveryPolicy {
            timeout_ms: 100,
            retry_max: 2,
            retry_base_ms: 1000,
            concurrency: 4,
        };
        assert_eq!(
            next_step(&p, 1, &PostOutcome::Status(200), 0, 0.5),
            Next::Done(DeliveryState::Delivered)
        );
        assert_eq!(
            next_step(&p, 1, &PostOutcome::Status(204), 0, 0.5),
            Next::Done(DeliveryState::Delivered)
        );
        assert_eq!(
            next_step(&p, 1, &PostOutcome::Status(400), 0, 0.5),
            Next::Done(DeliveryState::Rejected)
        );
        assert_eq!(
            next_step(&p, 1, &PostOutcome::Status(404), 0, 0.5),
            Next::Done(DeliveryState::Rejected)
        );
        assert_eq!(
            next_step(&p, 1, &PostOutcome::Status(503), 0, 0.0),
            Next::RetryAt(500)
        );
        assert_eq!(
            next_step(&p, 2, &PostOutcome::Status(429), 0, 0.0),
            Next::RetryAt(1000)
        );
        assert_eq!(
            next_step(&p, 2, &PostOutcome::Timeout, 10, 0.999),
            Next::RetryAt(10 + 1000 + 999)
        );
        assert_eq!(
            next_step(&p, 3, &PostOutcome::Status(408), 0, 0.5),
            Next::Dead
        );
        assert_eq!(
            next_step(&p, 3, &PostOutcome::Failed("refused".into()), 0, 0.5),
            Next::Dead
        );
        // A refusal by the host's policy (SSRF guard) is final from the first attempt.
        assert_eq!(
            next_step(&p, 1, &PostOutcome::Refused("SSRF".into()), 0, 0.5),
            Next::Done(DeliveryState::Rejected)
        );
    }

    #[test]
    fn operations_read_like_am() {
        assert_eq!(
            operation("https://rp/bc", &PostOutcome::Status(200), 5000),
            "Sent logout request to https://rp/bc, which responded with HTTP code 200."
        );
        assert!(operation("https://rp/bc", &PostOutcome::Timeout, 5000).contains("timeout"));
        assert_eq!(
            operation(
                "https://rp/bc",
                &PostOutcome::Failed("connection refused".into()),
                5000
            ),
            "Failed to send logout request to https://rp/bc: connection refused."
        );
    }
}
