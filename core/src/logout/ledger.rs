//! The delivery ledger: one record per delivery (one ended session, one RP) with every attempt
//! made for it — when, what the RP answered (or why nothing came back), how long it took, the
//! token's `jti` — kept as long as audit events are ([`audit::RETENTION_SECS`]).
//!
//! The outbox ([`super::outbox`]) and the worker's Queue hold what is still to do; the ledger
//! holds what happened, for the logout page that waits for the RPs' answers ([`wait`]), the
//! admin API's queries ([`list`]), per-client statistics ([`stats`]) and redelivery ([`retry`]).
//!
//! Keys are `ledger/{R}/{id}`, and a delivery's id begins with its session's end time, inverted
//! ([`new_id`]): a realm's ledger lists newest first, and a window of time is a prefix scan that
//! stops where the window ends. The ledger is strongly consistent where the host splits its
//! store ([`keys::STRONG`]): the page that waits reads what the deliverer just wrote.

use alloc::{format, string::String, vec, vec::Vec};

use serde::{Deserialize, Serialize};

use super::record::{Delivery, DeliveryState};
use crate::audit;
use crate::error::Error;
use crate::host::{Entropy, Host, PostOutcome, Store, StoreError};
use crate::keys;
use crate::records;

/// Attempts a record keeps (the latest ones); the count goes on in [`Entry::history_dropped`].
pub const MAX_HISTORY: usize = 20;
/// Most entries one page of [`list`] returns.
pub const MAX_PAGE: usize = 500;
/// Entries one page of [`list`] looks at before it answers with a cursor to go on from.
pub const SCAN_PER_PAGE: usize = 5000;
/// Entries [`stats`] looks at, at most.
pub const STATS_SCAN_MAX: usize = 100_000;
/// Hex digits of the inverted time at the front of an id.
const TIME_DIGITS: usize = 12;
/// The latest time an id can carry (48 bits of milliseconds: the year 10889).
const TIME_MAX: u64 = (1 << 48) - 1;

/// One attempt of a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When the POST was made, in ms since the epoch.
    pub at_ms: u64,
    /// The RP's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why there was no status: `timeout`, `connection_failed`, `refused` (by the SSRF guard or
    /// an unusable URI) or `client_gone` (the client or realm was deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// From the POST to its answer (or the end of waiting), in ms.
    pub latency_ms: u64,
    /// The logout token's `jti`, when one was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl Attempt {
    /// An attempt made at `at_ms` with token `jti`, which came to `outcome` after `latency_ms`.
    pub fn of(at_ms: u64, latency_ms: u64, jti: Option<String>, outcome: &PostOutcome) -> Self {
        let (status, error) = match outcome {
            PostOutcome::Status(s) => (Some(*s), None),
            PostOutcome::Timeout => (None, Some("timeout")),
            PostOutcome::Failed(_) => (None, Some("connection_failed")),
            PostOutcome::Refused(_) => (None, Some("refused")),
        };
        Self {
            at_ms,
            status,
            error: error.map(String::from),
            latency_ms,
            jti,
        }
    }

    /// Whether the RP took the token (200 or 204).
    fn succeeded(&self) -> bool {
        matches!(self.status, Some(200 | 204))
    }
}

/// A delivery as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The delivery as it stands (its state, attempts of the current run, last outcome).
    #[serde(flatten)]
    pub delivery: Delivery,
    /// When the session ended, in ms since the epoch.
    pub ended_ms: u64,
    /// When the RP first answered 2xx, in ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_ms: Option<u64>,
    /// The latest attempts, oldest first (at most [`MAX_HISTORY`]).
    #[serde(default)]
    pub history: Vec<Attempt>,
    /// Attempts made but no longer in `history`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub history_dropped: u32,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
const fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Entry {
    /// A new record for a delivery just planned.
    pub fn new(delivery: Delivery) -> Self {
        let ended_ms = ended_ms_of(&delivery.id).unwrap_or(delivery.next_attempt_ms);
        Self {
            delivery,
            ended_ms,
            delivered_ms: None,
            history: Vec::new(),
            history_dropped: 0,
        }
    }

    /// Time from the session's end to the RP's 2xx, in ms.
    pub fn time_to_notify_ms(&self) -> Option<u64> {
        self.delivered_ms.map(|t| t.saturating_sub(self.ended_ms))
    }

    fn push(&mut self, a: Attempt) {
        if a.succeeded() && self.delivered_ms.is_none() {
            self.delivered_ms = Some(a.at_ms.saturating_add(a.latency_ms));
        }
        self.history.push(a);
        if self.history.len() > MAX_HISTORY {
            self.history.remove(0);
            self.history_dropped = self.history_dropped.saturating_add(1);
        }
    }
}

/// A new delivery id for a session that ended at `ended_ms`: the inverted time in hex, then 128
/// random bits, so that a realm's ledger lists newest first.
pub fn new_id(entropy: &dyn Entropy, ended_ms: u64) -> Result<String, Error> {
    Ok(format!(
        "{:012x}{}",
        TIME_MAX - ended_ms.min(TIME_MAX),
        super::logout_token::random_id(entropy)?
    ))
}

/// The session end time an id from [`new_id`] carries.
pub fn ended_ms_of(id: &str) -> Option<u64> {
    let hex = id.get(..TIME_DIGITS)?;
    let inverted = u64::from_str_radix(hex, 16).ok()?;
    (id.len() > TIME_DIGITS && inverted <= TIME_MAX).then(|| TIME_MAX - inverted)
}

/// Whether `id` can be a delivery id (what is looked up by it is never an arbitrary key).
pub fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Record deliveries just planned, all at once ([`Store::put_many`]), before they are queued.
pub async fn open<S: Store + ?Sized>(store: &S, deliveries: &[Delivery]) -> Result<(), StoreError> {
    let mut entries = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let key = keys::ledger(&d.realm, &d.id);
        let value = serde_json::to_vec(&Entry::new(d.clone()))
            .map_err(|e| StoreError(format!("{key}: {e}")))?;
        entries.push((key, value, Some(audit::RETENTION_SECS)));
    }
    store.put_many(&entries).await
}

/// Forget deliveries that were recorded but could not be queued (their logout failed and
/// answered so): the ledger shows only what is being, or was, attempted.
pub async fn discard<S: Store + ?Sized>(
    store: &S,
    deliveries: &[Delivery],
) -> Result<(), StoreError> {
    let keys: Vec<String> = deliveries
        .iter()
        .map(|d| keys::ledger(&d.realm, &d.id))
        .collect();
    store.delete_many(&keys).await
}

/// A delivery's record.
pub async fn load<S: Store + ?Sized>(
    store: &S,
    realm: &str,
    id: &str,
) -> Result<Option<Entry>, StoreError> {
    if !valid_id(id) {
        return Ok(None);
    }
    records::load(store, &keys::ledger(realm, id)).await
}

/// Record an attempt: `after` is the delivery as concluded. Returns the record as stored.
pub async fn record<S: Store + ?Sized>(
    store: &S,
    after: &Delivery,
    attempt: Option<Attempt>,
) -> Result<Entry, StoreError> {
    let key = keys::ledger(&after.realm, &after.id);
    let mut entry = records::load::<Entry, _>(store, &key)
        .await?
        .unwrap_or_else(|| Entry::new(after.clone()));
    entry.delivery = after.clone();
    if let Some(a) = attempt {
        entry.push(a);
    }
    records::save(store, &key, &entry, Some(audit::RETENTION_SECS)).await?;
    Ok(entry)
}

/// What the logout page and `sessions/logout` say of one delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The RP.
    pub client_id: String,
    /// `delivered`, `pending` (still being attempted) or `failed` (refused, or given up on).
    pub state: &'static str,
    /// The RP's last HTTP status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why the last attempt had no status (see [`Attempt::error`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Outcome {
    fn of(client_id: &str, entry: Option<&Entry>) -> Self {
        let last = entry.and_then(|e| e.history.last());
        Self {
            client_id: String::from(client_id),
            state: match entry.map(|e| e.delivery.state) {
                Some(DeliveryState::Delivered) => "delivered",
                Some(DeliveryState::Rejected | DeliveryState::Dead) => "failed",
                Some(DeliveryState::Pending) | None => "pending",
            },
            status: last.and_then(|a| a.status),
            error: last.and_then(|a| a.error.clone()),
        }
    }
}

/// How often [`wait`] looks again, in ms: often at first (RPs answer in tens of ms), then less.
fn poll_step_ms(waited_ms: u64) -> u64 {
    if waited_ms < 300 { 5 } else { 25 }
}

/// What [`wait`] saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waited {
    /// Where each delivery stands, in the order given.
    pub outcomes: Vec<Outcome>,
    /// Whether it could wait: `false` when told not to (0 ms) or the host cannot pause.
    pub waited: bool,
}

impl Waited {
    /// Whether every RP took its token.
    pub fn all_delivered(&self) -> bool {
        self.outcomes.iter().all(|o| o.state == "delivered")
    }
}

/// Wait until every one of `deliveries` is finished (delivered, refused or given up on), or
/// `wait_ms` has passed, whichever comes first; then say where each stands. The deliveries go on
/// in the background either way. A host that cannot pause ([`Host::sleep_ms`]) does not wait.
pub async fn wait<H: Host>(
    host: &H,
    deliveries: &[Delivery],
    wait_ms: u64,
) -> Result<Waited, Error> {
    // Bounded by the time slept as well as by the clock: a host's clock may stand still (a
    // manual one in tests) while real time passes.
    let started = host.now_ms();
    let deadline = started.saturating_add(wait_ms);
    let mut slept = 0;
    let mut seen: Vec<Option<Entry>> = vec![None; deliveries.len()];
    let mut waited = wait_ms > 0;
    loop {
        let mut open = 0;
        for (d, slot) in deliveries.iter().zip(seen.iter_mut()) {
            if slot
                .as_ref()
                .is_some_and(|e| e.delivery.state != DeliveryState::Pending)
            {
                continue;
            }
            *slot = load(host, &d.realm, &d.id).await?;
            if slot
                .as_ref()
                .is_none_or(|e| e.delivery.state == DeliveryState::Pending)
            {
                open += 1;
            }
        }
        let now = host.now_ms();
        if open == 0 || now >= deadline || slept >= wait_ms {
            break;
        }
        let step = poll_step_ms(slept).min(deadline - now).min(wait_ms - slept);
        if !host.sleep_ms(step).await {
            waited = false;
            break;
        }
        slept += step;
    }
    Ok(Waited {
        outcomes: deliveries
            .iter()
            .zip(&seen)
            .map(|(d, e)| Outcome::of(&d.client_id, e.as_ref()))
            .collect(),
        waited,
    })
}

/// Which records [`list`] returns.
#[derive(Clone, Debug, Default)]
pub struct Query<'a> {
    /// The ended session's public id.
    pub session: Option<&'a str>,
    /// The user's login name or `sub`.
    pub user: Option<&'a str>,
    /// The RP.
    pub client: Option<&'a str>,
    /// A state: `pending`, `delivered`, `rejected`, `dead`, or `failed` (rejected or dead).
    pub state: Option<&'a str>,
    /// Go on after this record (a page's `next_cursor`).
    pub cursor: Option<&'a str>,
    /// Records in one page (at most [`MAX_PAGE`]).
    pub limit: usize,
}

/// The states [`Query::state`] takes.
pub const STATES: [&str; 5] = ["pending", "delivered", "rejected", "dead", "failed"];

fn state_matches(want: &str, s: DeliveryState) -> bool {
    matches!(
        (want, s),
        ("pending", DeliveryState::Pending)
            | ("delivered", DeliveryState::Delivered)
            | ("rejected" | "failed", DeliveryState::Rejected)
            | ("dead" | "failed", DeliveryState::Dead)
    )
}

impl Query<'_> {
    fn matches(&self, e: &Entry) -> bool {
        let d = &e.delivery;
        self.session.is_none_or(|s| d.session_id == s)
            && self.user.is_none_or(|u| d.user == u || d.sub == u)
            && self.client.is_none_or(|c| d.client_id == c)
            && self.state.is_none_or(|s| state_matches(s, d.state))
    }
}

/// One page of [`list`].
#[derive(Clone, Debug, Default)]
pub struct Listed {
    /// Matching records, newest first.
    pub entries: Vec<Entry>,
    /// Where the next page starts, if there may be more.
    pub next_cursor: Option<String>,
}

/// A realm's records matching `q`, newest first, a page at a time: at most `q.limit` of them,
/// from at most [`SCAN_PER_PAGE`] looked at (then `next_cursor` says where to go on).
pub async fn list<S: Store + ?Sized>(
    store: &S,
    realm: &str,
    q: &Query<'_>,
) -> Result<Listed, StoreError> {
    let prefix = keys::ledger_of(realm);
    let limit = q.limit.clamp(1, MAX_PAGE);
    let mut cursor = q.cursor.map(|c| format!("{prefix}{c}"));
    let mut out = Listed::default();
    let mut scanned = 0;
    loop {
        let page = store
            .list(
                &prefix,
                crate::store::Page::after(cursor.as_deref(), 100.min(SCAN_PER_PAGE - scanned)),
            )
            .await?;
        for key in &page.keys {
            scanned += 1;
            cursor = Some(key.clone());
            if let Some(e) = records::load::<Entry, _>(store, key).await?
                && q.matches(&e)
            {
                out.entries.push(e);
            }
            if out.entries.len() == limit || scanned == SCAN_PER_PAGE {
                out.next_cursor = cursor.as_deref().map(|k| String::from(&k[prefix.len()..]));
                return Ok(out);
            }
        }
        if page.cursor.is_none() || page.keys.is_empty() {
            return Ok(out);
        }
    }
}

/// The last failed attempt of a client's deliveries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The delivery.
    pub id: String,
    /// When, in ms since the epoch.
    pub at_ms: u64,
    /// The RP's status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why there was no status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// p50 and p95 of the time from a session's end to the RP's 2xx.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// Median, in ms.
    pub p50: Option<u64>,
    /// 95th percentile, in ms.
    pub p95: Option<u64>,
}

/// One client's deliveries over a window of time ([`stats`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    /// The RP.
    pub client_id: String,
    /// The window: sessions that ended this many seconds ago or since.
    pub window_secs: u64,
    /// Deliveries in the window.
    pub total: usize,
    /// ... delivered.
    pub delivered: usize,
    /// ... still being attempted.
    pub pending: usize,
    /// ... refused by the RP (or with nowhere to go).
    pub rejected: usize,
    /// ... given up on after every retry.
    pub dead: usize,
    /// `delivered / (delivered + rejected + dead)`; none while nothing is finished.
    pub success_rate: Option<f64>,
    /// From the session's end to the RP's 2xx.
    pub time_to_notify_ms: Percentiles,
    /// The latest attempt that was not a 2xx.
    pub last_failure: Option<Failure>,
    /// Whether the window held more than [`STATS_SCAN_MAX`] records of the realm (the
    /// figures are of the newest ones).
    pub truncated: bool,
}

/// The nearest-rank `p`-th percentile of sorted values.
fn percentile(sorted: &[u64], p: u64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let rank = (p * n).div_ceil(100).clamp(1, n);
    sorted.get(usize::try_from(rank - 1).ok()?).copied()
}

/// Statistics of `client`'s deliveries for sessions that ended within `window_secs` of
/// `now_ms`.
pub async fn stats<S: Store + ?Sized>(
    store: &S,
    realm: &str,
    client: &str,
    window_secs: u64,
    now_ms: u64,
) -> Result<Stats, StoreError> {
    let since = now_ms.saturating_sub(window_secs.saturating_mul(1000));
    let prefix = keys::ledger_of(realm);
    let mut s = Stats {
        client_id: String::from(client),
        window_secs,
        ..Stats::default()
    };
    let mut times = Vec::new();
    let mut cursor: Option<String> = None;
    let mut scanned = 0;
    'scan: loop {
        let page = store
            .list(&prefix, crate::store::Page::after(cursor.as_deref(), 100))
            .await?;
        for key in &page.keys {
            let id = &key[prefix.len()..];
            // Newest first: past the window, the rest is older still.
            if ended_ms_of(id).is_some_and(|t| t < since) {
                break 'scan;
            }
            if scanned == STATS_SCAN_MAX {
                s.truncated = true;
                break 'scan;
            }
            scanned += 1;
            let Some(e) = records::load::<Entry, _>(store, key).await? else {
                continue;
            };
            if e.delivery.client_id != client || e.ended_ms < since {
                continue;
            }
            s.total += 1;
            match e.delivery.state {
                DeliveryState::Pending => s.pending += 1,
                DeliveryState::Delivered => s.delivered += 1,
                DeliveryState::Rejected => s.rejected += 1,
                DeliveryState::Dead => s.dead += 1,
            }
            times.extend(e.time_to_notify_ms());
            if let Some(a) = e.history.iter().rev().find(|a| !a.succeeded())
                && s.last_failure.as_ref().is_none_or(|f| f.at_ms < a.at_ms)
            {
                s.last_failure = Some(Failure {
                    id: e.delivery.id.clone(),
                    at_ms: a.at_ms,
                    status: a.status,
                    error: a.error.clone(),
                });
            }
        }
        match page.cursor {
            Some(c) if !page.keys.is_empty() => cursor = Some(c),
            _ => break,
        }
    }
    let finished = s.delivered + s.rejected + s.dead;
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    {
        s.success_rate = (finished > 0).then(|| s.delivered as f64 / finished as f64);
    }
    times.sort_unstable();
    s.time_to_notify_ms = Percentiles {
        p50: percentile(&times, 50),
        p95: percentile(&times, 95),
    };
    Ok(s)
}

/// Why [`retry`] did not send a delivery again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoRetry {
    /// No such delivery.
    Unknown,
    /// It is still being attempted.
    Pending,
    /// Its client is gone, or no longer has a back-channel logout URI.
    NowhereToGo,
}

/// Send a finished delivery again (a dead letter, or one the RP refused): a new run of attempts
/// to the client's current `backchannel_logout_uri`, each with a fresh token, recorded and
/// audited like the first. Returns the record as queued.
pub async fn retry<H: Host>(
    host: &H,
    realm: &str,
    id: &str,
) -> Result<Result<Entry, NoRetry>, Error> {
    let Some(mut entry) = load(host, realm, id).await? else {
        return Ok(Err(NoRetry::Unknown));
    };
    if entry.delivery.state == DeliveryState::Pending {
        return Ok(Err(NoRetry::Pending));
    }
    let client: Option<records::Client> =
        records::load(host, &keys::client(realm, &entry.delivery.client_id)).await?;
    let Some(uri) = client.and_then(|c| c.metadata.backchannel_logout_uri) else {
        return Ok(Err(NoRetry::NowhereToGo));
    };
    let d = &mut entry.delivery;
    d.uri = uri;
    d.state = DeliveryState::Pending;
    d.attempts = 0;
    d.next_attempt_ms = host.now_ms();
    records::save(
        host,
        &keys::ledger(realm, id),
        &entry,
        Some(audit::RETENTION_SECS),
    )
    .await?;
    host.delete(&keys::dead(realm, id)).await?;
    host.enqueue(vec![entry.delivery.clone()]).await?;
    host.observe(&crate::host::Metric::DeliveriesQueued(1));
    Ok(Ok(entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Entropy for Fixed {
        fn fill(&self, dest: &mut [u8]) -> Result<(), crate::host::EntropyError> {
            dest.fill(7);
            Ok(())
        }
    }

    #[test]
    fn ids_carry_their_time_and_sort_newest_first() {
        let old = new_id(&Fixed, 1_700_000_000_000).unwrap();
        let new = new_id(&Fixed, 1_700_000_000_001).unwrap();
        assert!(new < old);
        assert_eq!(ended_ms_of(&old), Some(1_700_000_000_000));
        assert_eq!(ended_ms_of(&new), Some(1_700_000_000_001));
        assert!(valid_id(&old));
        assert_eq!(ended_ms_of("zz"), None);
        assert_eq!(ended_ms_of("0123456789ab"), None);
        assert!(!valid_id("../x") && !valid_id(""));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), Some(50));
        assert_eq!(percentile(&v, 95), Some(95));
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[1, 2, 3], 50), Some(2));
    }

    #[test]
    fn attempts_say_what_came_back_and_history_is_bounded() {
        let a = Attempt::of(10, 3, Some("j".into()), &PostOutcome::Timeout);
        assert_eq!((a.status, a.error.as_deref()), (None, Some("timeout")));
        let b = Attempt::of(10, 3, None, &PostOutcome::Refused("ssrf".into()));
        assert_eq!(b.error.as_deref(), Some("refused"));
        let d = Delivery {
            id: new_id(&Fixed, 1000).unwrap(),
            realm: "r".into(),
            session_id: "s".into(),
            client_id: "c".into(),
            uri: "https://rp/bc".into(),
            user: "u".into(),
            sub: "sub".into(),
            sid: None,
            cause: super::super::cause::LogoutCause::ClientLogout,
            tracking_id: "t".into(),
            attempts: 0,
            next_attempt_ms: 1000,
            state: DeliveryState::Pending,
            last_outcome: None,
        };
        let mut e = Entry::new(d);
        for i in 0..25 {
            e.push(Attempt::of(2000 + i, 5, None, &PostOutcome::Status(503)));
        }
        e.push(Attempt::of(3000, 40, None, &PostOutcome::Status(204)));
        e.push(Attempt::of(4000, 40, None, &PostOutcome::Status(200)));
        assert_eq!(e.history.len(), MAX_HISTORY);
        assert_eq!(e.history_dropped, 7);
        assert_eq!(e.time_to_notify_ms(), Some(3040 - e.ended_ms));
    }
}
