//! Delivery of logout tokens as a state machine, with time passed in and work handed out:
//!
//! - [`prepare`] gets an attempt ready (a fresh token for the RP's current keys), or says the
//!   delivery has nowhere to go any more ([`Gone`]);
//! - the host makes the POST ([`crate::host::Deliver::post`]);
//! - [`conclude`] turns what came of it into the delivery's next state, its retry time and
//!   the attempt's audit event, a pure function of (policy, delivery, outcome, now, jitter).
//!
//! [`attempt`] chains the three for a host. Where pending deliveries wait, and which are due,
//! is [`super::outbox`]'s part.

use alloc::{format, string::String};
use core::fmt;

use super::ledger::{self, Attempt};
use super::logout_token::{self, LogoutTokenKeys, LogoutTokenParams};
use crate::audit::{self, AuditEvent};
use crate::error::Error;
use crate::host::{Entropy, Host, Metric, Post, PostOutcome};
use crate::keys;
use crate::metrics::AttemptOutcome;
use crate::records::{self, Client};
use crate::{http, realm};

pub use super::record::{Delivery, DeliveryPolicy, DeliveryState};

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

/// Why a delivery has nowhere to go any more: final, and audited as a failure to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gone {
    /// The realm was deleted.
    Realm,
    /// The client was deleted.
    Client,
}

impl fmt::Display for Gone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One wording for both, as the audit trail has always said it.
        f.write_str("the client or realm no longer exists")
    }
}

/// What came of an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The host made the POST; this came of it.
    Posted(PostOutcome),
    /// Nothing was sent: the delivery has nowhere to go.
    Gone(Gone),
}

/// An attempt, ready for the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prepared {
    /// POST this form body to the delivery's URI.
    Post {
        /// `logout_token=...`, with a token minted for this attempt.
        body: String,
        /// The token's `jti`.
        jti: String,
        /// The realm's `allow_private_uris` (see [`Post::allow_private`]).
        allow_private: bool,
    },
    /// Nothing to send: conclude with [`Outcome::Gone`].
    Gone(Gone),
}

/// What [`conclude`] decided.
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct Concluded {
    /// The delivery after the attempt: attempts counted, state, retry time and last outcome.
    pub delivery: Delivery,
    /// What to do with it.
    pub next: Next,
    /// The attempt's audit event, in AM's words.
    pub audit: AuditEvent,
}

/// Get an attempt ready: mint this delivery's token now (fresh `iat`, `exp`, `jti`) with the
/// RP's current keys, or find that its realm or client is gone.
pub async fn prepare<H: Host>(host: &H, d: &Delivery) -> Result<Prepared, Error> {
    let Some(realm) = realm::load(host, &d.realm).await? else {
        return Ok(Prepared::Gone(Gone::Realm));
    };
    let Some(client) =
        records::load::<Client, _>(host, &keys::client(&d.realm, &d.client_id)).await?
    else {
        return Ok(Prepared::Gone(Gone::Client));
    };
    let alg = client.metadata.signing_alg();
    let key = realm::signing_key(host, &realm, alg).await?;
    let encryption = client.metadata.encryption();
    let issuer = realm::issuer(host, &d.realm);
    let jti = logout_token::random_id(host)?;
    let params = LogoutTokenParams {
        issuer: &issuer,
        audience: &d.client_id,
        subject: Some(&d.sub),
        sid: d.sid.as_deref(),
        cause: Some(d.cause),
        audit_tracking_id: Some(&d.tracking_id),
        jti: Some(&jti),
        now: host.now(),
        lifetime_secs: logout_token::MAX_LIFETIME_SECS,
    };
    let keys = LogoutTokenKeys {
        signing_key: &key,
        alg,
        encrypt_to: encryption.as_ref().map(|(k, a, e)| (k, *a, *e)),
    };
    let token = logout_token::mint_with(host, &params, &keys).await?;
    Ok(Prepared::Post {
        body: format!(
            "logout_token={}",
            http::encode_params([("x", token.as_str())]).trim_start_matches("x=")
        ),
        jti,
        allow_private: realm.config.allow_private_uris,
    })
}

/// Conclude attempt number `d.attempts + 1` from its outcome: the delivery's next state and
/// retry time ([`next_step`]; a delivery whose client or realm is gone is finished, rejected),
/// and the attempt's audit event. `jitter` in [0, 1) spreads retries ([`jitter`]).
pub fn conclude(
    policy: &DeliveryPolicy,
    d: &Delivery,
    outcome: &Outcome,
    now_ms: u64,
    jitter: f64,
) -> Concluded {
    let mut d = d.clone();
    d.attempts = d.attempts.saturating_add(1);
    let (next, words) = match outcome {
        Outcome::Posted(o) => (
            next_step(policy, d.attempts, o, now_ms, jitter),
            operation(&d.uri, o, policy.timeout_ms),
        ),
        Outcome::Gone(why) => (
            Next::Done(DeliveryState::Rejected),
            format!("Failed to send logout request to {}: {why}.", d.uri),
        ),
    };
    d.state = match next {
        Next::Done(s) => s,
        Next::RetryAt(t) => {
            d.next_attempt_ms = t;
            DeliveryState::Pending
        }
        Next::Dead => DeliveryState::Dead,
    };
    let audit = AuditEvent {
        id: String::new(),
        timestamp: String::new(),
        event_name: String::from(audit::BACK_CHANNEL_LOGOUT),
        transaction_id: d.tracking_id.clone(),
        user_id: audit::user_id(&d.realm, &d.user),
        tracking_ids: alloc::vec![d.tracking_id.clone(), d.session_id.clone()],
        realm: String::new(),
        component: String::from("OAuth"),
        operation: words.clone(),
    };
    d.last_outcome = Some(words);
    Concluded {
        delivery: d,
        next,
        audit,
    }
}

/// A jitter in [0, 1) for [`conclude`], from the host's entropy.
pub fn jitter(entropy: &dyn Entropy) -> Result<f64, Error> {
    let b: [u8; 2] = crate::jose::rand::random(entropy)?;
    Ok(f64::from(u16::from_le_bytes(b)) / 65536.0)
}

/// When to try again a delivery whose attempt failed on the host's side (its store, its
/// entropy) rather than the RP's: after the policy's base backoff. Not counted as an attempt.
pub fn retry_after_error(policy: &DeliveryPolicy, now_ms: u64) -> u64 {
    now_ms.saturating_add(policy.retry_base_ms.max(1))
}

/// A delivery given up on by the host's queue (its consumer failed on every try), as a dead
/// letter.
pub fn dead_letter(mut d: Delivery) -> Delivery {
    d.state = DeliveryState::Dead;
    if d.last_outcome.is_none() {
        d.last_outcome = Some(String::from("the queue consumer failed on every attempt"));
    }
    d
}

/// One attempt, start to end: [`prepare`], the host's POST, [`conclude`], the audit event
/// recorded, the attempt in the delivery's ledger record ([`super::ledger::record`]) and the
/// attempt counted ([`Metric::Attempt`]). The caller stores the concluded delivery (the
/// outbox's [`super::outbox::settle`], or a Queue message).
pub async fn attempt<H: Host>(host: &H, d: &Delivery) -> Result<Concluded, Error> {
    let policy = host.config().delivery;
    let started = host.now_ms();
    let (outcome, jti) = match prepare(host, d).await? {
        Prepared::Gone(why) => (Outcome::Gone(why), None),
        Prepared::Post {
            body,
            jti,
            allow_private,
        } => (
            Outcome::Posted(
                host.post(Post {
                    uri: &d.uri,
                    body: &body,
                    timeout_ms: policy.timeout_ms,
                    allow_private,
                })
                .await,
            ),
            Some(jti),
        ),
    };
    let now = host.now_ms();
    let concluded = conclude(&policy, d, &outcome, now, jitter(host)?);
    let latency_ms = now.saturating_sub(started);
    let tried = match &outcome {
        Outcome::Posted(o) => Attempt::of(started, latency_ms, jti, o),
        Outcome::Gone(_) => Attempt {
            at_ms: started,
            status: None,
            error: Some(String::from("client_gone")),
            latency_ms,
            jti: None,
        },
    };
    // The audit event first: once the ledger says how the attempt ended, the event is there
    // for whoever reads the ledger and then the audit log (a crash between the two leaves
    // the ledger pending and the attempt is made again, audited twice, never not at all).
    audit::record(host, &d.realm, concluded.audit.clone()).await?;
    let entry = ledger::record(host, &concluded.delivery, Some(tried)).await?;
    host.observe(&Metric::Attempt {
        outcome: match concluded.next {
            Next::Done(DeliveryState::Delivered) => AttemptOutcome::Delivered,
            Next::Done(_) => AttemptOutcome::Rejected,
            Next::RetryAt(_) => AttemptOutcome::Retrying,
            Next::Dead => AttemptOutcome::DeadLettered,
        },
        retry: d.attempts > 0,
        latency_ms,
        time_to_notify_ms: (concluded.delivery.state == DeliveryState::Delivered)
            .then(|| entry.time_to_notify_ms())
            .flatten(),
    });
    Ok(concluded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logout::cause::LogoutCause;

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

    fn pending() -> Delivery {
        Delivery {
            id: "d1".into(),
            realm: "r1".into(),
            session_id: "s1".into(),
            client_id: "rp1".into(),
            uri: "https://rp/bc".into(),
            user: "alice".into(),
            sub: "sub-alice".into(),
            sid: None,
            cause: LogoutCause::ClientLogout,
            tracking_id: "t-0".into(),
            attempts: 0,
            next_attempt_ms: 0,
            state: DeliveryState::Pending,
            last_outcome: None,
        }
    }

    #[test]
    fn conclude_counts_the_attempt_schedules_the_retry_and_audits_it() {
        let p = DeliveryPolicy {
            retry_max: 1,
            ..DeliveryPolicy::default()
        };
        let c = conclude(
            &p,
            &pending(),
            &Outcome::Posted(PostOutcome::Status(503)),
            10_000,
            0.0,
        );
        assert_eq!(c.next, Next::RetryAt(10_500));
        assert_eq!(
            (
                c.delivery.attempts,
                c.delivery.state,
                c.delivery.next_attempt_ms
            ),
            (1, DeliveryState::Pending, 10_500)
        );
        let words = "Sent logout request to https://rp/bc, which responded with HTTP code 503.";
        assert_eq!(c.delivery.last_outcome.as_deref(), Some(words));
        assert_eq!(c.audit.operation, words);
        assert_eq!(c.audit.event_name, audit::BACK_CHANNEL_LOGOUT);
        assert_eq!(c.audit.transaction_id, "t-0");
        assert_eq!(c.audit.tracking_ids, ["t-0", "s1"]);
        assert_eq!(c.audit.component, "OAuth");

        // The second attempt is past the bound: dead, its due time left as it was.
        let dead = conclude(
            &p,
            &c.delivery,
            &Outcome::Posted(PostOutcome::Timeout),
            11_000,
            0.0,
        );
        assert_eq!(dead.next, Next::Dead);
        assert_eq!(
            (
                dead.delivery.attempts,
                dead.delivery.state,
                dead.delivery.next_attempt_ms
            ),
            (2, DeliveryState::Dead, 10_500)
        );

        let ok = conclude(
            &p,
            &pending(),
            &Outcome::Posted(PostOutcome::Status(204)),
            0,
            0.0,
        );
        assert_eq!(ok.next, Next::Done(DeliveryState::Delivered));
        assert_eq!(ok.delivery.state, DeliveryState::Delivered);
    }

    #[test]
    fn a_delivery_whose_client_or_realm_is_gone_is_rejected_at_once() {
        for why in [Gone::Client, Gone::Realm] {
            let c = conclude(
                &DeliveryPolicy::default(),
                &pending(),
                &Outcome::Gone(why),
                0,
                0.5,
            );
            assert_eq!(c.next, Next::Done(DeliveryState::Rejected));
            assert_eq!(c.delivery.state, DeliveryState::Rejected);
            assert_eq!(c.delivery.attempts, 1);
            assert_eq!(
                c.audit.operation,
                "Failed to send logout request to https://rp/bc: the client or realm no longer exists."
            );
        }
    }

    #[test]
    fn host_errors_wait_the_base_backoff_and_queue_failures_dead_letter() {
        let p = DeliveryPolicy::default();
        assert_eq!(retry_after_error(&p, 5), 5 + p.retry_base_ms);
        let d = dead_letter(pending());
        assert_eq!(d.state, DeliveryState::Dead);
        assert_eq!(
            d.last_outcome.as_deref(),
            Some("the queue consumer failed on every attempt")
        );
        let mut tried = pending();
        tried.last_outcome = Some("earlier".into());
        assert_eq!(dead_letter(tried).last_outcome.as_deref(), Some("earlier"));
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
