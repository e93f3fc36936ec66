//! The `LOGOUT_QUEUE` consumer: one message is one delivery (one logout token for one RP).
//!
//! For each message: read the [`Delivery`], let core's [`attempt`] mint the token, POST it
//! (through [`WorkerHost`]'s `Deliver::post`), audit the attempt and decide what next;
//! then do what core decided, on the Queue and on the delivery's record in KV (core's outbox,
//! written by `enqueue`; core's [`settle`] keeps it as natively, so the admin API lists
//! pending and dead deliveries alike on both hosts):
//!
//! - `Done` (delivered, or rejected by the RP): settle (the record goes), ack.
//! - `RetryAt(t)`: send the *concluded* delivery again with a delay up to `t`, settle (the
//!   record moves to its new due time), then ack. A Queue retry (`message.retry()`) cannot
//!   carry a new body, and core counts attempts and keeps the last outcome in the delivery
//!   itself, so the next attempt must see the concluded one. Send comes before ack: a crash in
//!   between repeats a delivery (RPs are idempotent, `jti` differs, `auditTrackingId` is
//!   stable) but never loses one. If the send fails, the original message is retried instead
//!   (one attempt then counts again: a repeat, not a loss).
//! - `Dead` (core's retry bound reached): settle (stored under core's dead letters, where the
//!   admin API lists them), then ack.
//! - The attempt itself failed (KV or entropy error): retry the message at core's
//!   [`retry_after_error`]. Such Queue-level retries are bounded by the consumer's
//!   `max_retries`; past it the Queue moves the message to the dead-letter queue, whose
//!   consumer (the `DEAD_LETTER_QUEUE` branch below) records core's [`dead_letter`] too.
//!
//! A failure to update the record after the Queue has its answer is logged, not retried: the
//! Queue, not the record, drives deliveries, and retrying would repeat a finished POST.
//!
//! The handler never fails: an `Err` from a queue handler aborts the wasm instance (NOTES), so
//! every message is acked or retried individually.

use std::cell::Cell;

use futures_util::StreamExt as _;
use oidc_edge_core::host::{Clock as _, Host as _};
use oidc_edge_core::logout::delivery::{Delivery, Next, attempt, dead_letter, retry_after_error};
use oidc_edge_core::logout::ledger;
use oidc_edge_core::logout::outbox::{self, settle};
use worker::{MessageExt as _, QueueRetryOptionsBuilder, RawMessage};

use super::deliver::delay_secs;
use super::deliver::message;
use super::host::WorkerHost;

/// Deliveries in flight at once in one invocation: Workers keeps at most six connections open
/// per invocation and queues the rest, and a queued fetch would spend its timeout waiting.
pub const CONCURRENCY: usize = 6;

/// Handle a batch from `queue`: deliveries from the logout queue, dead letters from the
/// dead-letter queue.
pub async fn consume(host: &WorkerHost, queue: &str, messages: Vec<RawMessage>) {
    migrate_once(host).await;
    let dead_letters = host.dead_letter_queue() == Some(queue);
    futures_util::stream::iter(messages)
        .for_each_concurrent(CONCURRENCY, |m| async move {
            if dead_letters {
                bury(host, &m).await;
            } else {
                deliver(host, &m).await;
            }
        })
        .await;
}

/// Once per isolate: move records an earlier version kept at `outbox/{id}` to core's due
/// keys, where settling finds them (else they would stay listed as pending). A failure is
/// logged and tried again with the next batch.
async fn migrate_once(host: &WorkerHost) {
    thread_local! {
        static MIGRATED: Cell<bool> = const { Cell::new(false) };
    }
    if MIGRATED.get() {
        return;
    }
    match outbox::migrate(host).await {
        Ok(()) => MIGRATED.set(true),
        Err(e) => host.log_line(&format!(
            "queue: moving earlier outbox records failed ({e})"
        )),
    }
}

/// The delivery in a message; a message that is not one is logged and acked (retrying it
/// would not make it one).
fn body(host: &WorkerHost, m: &RawMessage) -> Option<Delivery> {
    match serde_wasm_bindgen::from_value::<Delivery>(m.body()) {
        Ok(d) => Some(d),
        Err(e) => {
            host.log_line(&format!(
                "queue: message {} is not a delivery ({e}); dropped",
                m.id()
            ));
            m.ack();
            None
        }
    }
}

async fn deliver(host: &WorkerHost, m: &RawMessage) {
    let Some(d) = body(host, m) else {
        return;
    };
    let concluded = match attempt(host, &d).await {
        Ok(c) => c,
        Err(e) => {
            host.log_line(&format!(
                "queue: delivery {}: the attempt failed ({e}); retrying the message",
                d.id
            ));
            retry(host, m);
            return;
        }
    };
    let after = &concluded.delivery;
    match concluded.next {
        Next::Done(_) => {
            keep_record(host, &d, after, concluded.next).await;
            m.ack();
        }
        Next::RetryAt(_) => match host
            .queue()
            .send(message(after.clone(), host.now_ms()))
            .await
        {
            Ok(()) => {
                keep_record(host, &d, after, concluded.next).await;
                m.ack();
            }
            Err(e) => {
                host.log_line(&format!(
                    "queue: delivery {}: re-sending for its retry failed ({e}); retrying the message",
                    d.id
                ));
                retry(host, m);
            }
        },
        Next::Dead => record_dead(host, &d, after, m).await,
    }
}

/// Settle a delivery's record after the Queue has done its part; a failure is only logged
/// (see the module docs).
async fn keep_record(host: &WorkerHost, before: &Delivery, after: &Delivery, next: Next) {
    if let Err(e) = settle(host, before, after, next).await {
        host.log_line(&format!(
            "queue: delivery {}: updating its record failed ({e})",
            before.id
        ));
    }
}

/// A message from the dead-letter queue: the consumer failed on it `max_retries` times.
async fn bury(host: &WorkerHost, m: &RawMessage) {
    let Some(d) = body(host, m) else {
        return;
    };
    let dead = dead_letter(d.clone());
    // The ledger says so too (best effort: the dead letter below is what must not be lost).
    if let Err(e) = ledger::record(host, &dead, None).await {
        host.log_line(&format!(
            "queue: delivery {}: recording the dead letter in the ledger failed ({e})",
            d.id
        ));
    }
    record_dead(host, &d, &dead, m).await;
}

/// Store a dead letter where the admin API lists them (core's [`settle`], as natively), then
/// ack; retry the message when the store fails (the dead letter must not be lost).
async fn record_dead(host: &WorkerHost, before: &Delivery, after: &Delivery, m: &RawMessage) {
    match settle(host, before, after, Next::Dead).await {
        Ok(()) => {
            host.log_line(&format!(
                "queue: delivery {} to {} dead-lettered after {} attempts",
                after.id, after.uri, after.attempts
            ));
            m.ack();
        }
        Err(e) => {
            host.log_line(&format!(
                "queue: delivery {}: storing the dead letter failed ({e}); retrying the message",
                after.id
            ));
            retry(host, m);
        }
    }
}

/// Retry a message at core's [`retry_after_error`] (at least one second: the Queue's unit).
fn retry(host: &WorkerHost, m: &RawMessage) {
    let now = host.now_ms();
    let at = retry_after_error(&host.config().delivery, now);
    m.retry_with_options(
        &QueueRetryOptionsBuilder::new()
            .with_delay_seconds(delay_secs(at, now).max(1))
            .build(),
    );
}
