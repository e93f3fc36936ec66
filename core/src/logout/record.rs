//! What a delivery is, as stored in the outbox and handed to hosts: the record, its state,
//! and the policy that bounds its attempts.

use alloc::string::String;

use serde::{Deserialize, Serialize};

use super::cause::LogoutCause;

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

impl DeliveryPolicy {
    /// Deliveries in flight at once by default: enough for a session held by a thousand RPs
    /// to reach them all in one wave.
    pub const DEFAULT_CONCURRENCY: usize = 1024;
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            timeout_ms: 5000,
            retry_max: 5,
            retry_base_ms: 1000,
            concurrency: Self::DEFAULT_CONCURRENCY,
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
