//! The store-backed outbox: pending deliveries under [`keys::outbox`], ordered by due time, so
//! that finding the due ones is a bounded scan from the front. Native and JS hosts run it with
//! a [`Runner`]; the Worker keeps its records here beside its Queue messages (the admin API
//! lists them) and settles them as the Queue consumer concludes.
//!
//! A [`Runner`] is one process's view of the outbox: it claims due deliveries ([`Runner::claim`],
//! which also says when to look again), runs each one claimed ([`Runner::run`]: attempt, then
//! [`settle`]), and remembers which are in flight so that no claim starts one twice. In flight
//! is memory only: a delivery stays at its key until it is concluded, so one whose process
//! died mid-POST is claimed again by the next process at once (at least once, never lost).

use alloc::{
    collections::{BTreeMap, BTreeSet},
    string::String,
    vec::Vec,
};
use core::cell::{Cell, RefCell};

use super::delivery::{Delivery, DeliveryPolicy, Next, attempt, retry_after_error};
use crate::audit;
use crate::error::Error;
use crate::host::{Host, Store, StoreError};
use crate::keys;
use crate::records;

/// Write deliveries to the outbox, all at once ([`Store::put_many`]): what a store-backed
/// [`crate::host::Deliver::enqueue`] does, and the Worker's record beside its Queue messages.
pub async fn put<S: Store + ?Sized>(store: &S, deliveries: &[Delivery]) -> Result<(), StoreError> {
    let mut entries = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let key = keys::outbox(d.next_attempt_ms, &d.id);
        let value = serde_json::to_vec(d).map_err(|e| StoreError(alloc::format!("{key}: {e}")))?;
        entries.push((key, value, None));
    }
    // One transaction for the whole session where the store has them.
    store.put_many(&entries).await
}

/// Store what an attempt decided about `before` (the delivery as it was stored): remove a
/// finished one, move a retry to its new due time, or move an exhausted one to the dead
/// letters. The new record is written before the old is removed: a crash in between repeats
/// a delivery rather than losing it.
pub async fn settle<S: Store + ?Sized>(
    store: &S,
    before: &Delivery,
    after: &Delivery,
    next: Next,
) -> Result<(), StoreError> {
    let old = keys::outbox(before.next_attempt_ms, &before.id);
    match next {
        Next::Done(_) => {}
        Next::RetryAt(_) => {
            let new = keys::outbox(after.next_attempt_ms, &after.id);
            records::save(store, &new, after, None).await?;
            if new == old {
                return Ok(());
            }
        }
        Next::Dead => {
            let dead = keys::dead(&after.realm, &after.id);
            records::save(store, &dead, after, Some(audit::RETENTION_SECS)).await?;
        }
    }
    store.delete(&old).await
}

/// What [`Runner::claim`] handed out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Claimed {
    /// Due deliveries, now in flight: run each ([`Runner::run`]).
    pub deliveries: Vec<Delivery>,
    /// When to claim again at the latest (ms since the epoch): the next due time of a
    /// delivery not in flight. `None` when nothing waits for a time: the outbox holds nothing
    /// else, or what is due waits only for room, which an attempt finishing makes (claim
    /// again then). Hosts also claim again on every enqueue.
    pub next_wake_ms: Option<u64>,
}

/// One process's runner of the outbox (see the module docs).
#[derive(Debug, Default)]
pub struct Runner {
    /// Ids claimed and not yet concluded.
    in_flight: RefCell<BTreeSet<String>>,
    /// Ids whose attempt failed on the host's side, and when they may be claimed again.
    held: RefCell<BTreeMap<String, u64>>,
    /// Whether records of the earlier `outbox/{id}` form were moved to their due keys.
    migrated: Cell<bool>,
}

impl Runner {
    /// A runner with nothing in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// Deliveries in flight (claimed, not yet concluded).
    pub fn in_flight(&self) -> usize {
        self.in_flight.borrow().len()
    }

    /// Claim the deliveries due at `now_ms`, so many that at most `policy.concurrency` are in
    /// flight, and say when to look again. It reads the outbox from the front and stops at the
    /// first delivery not yet due (or when there is no more room), so it lists at most the
    /// in-flight and held deliveries plus the room plus one, and loads only what it claims.
    pub async fn claim<S: Store + ?Sized>(
        &self,
        store: &S,
        policy: &DeliveryPolicy,
        now_ms: u64,
    ) -> Result<Claimed, StoreError> {
        if !self.migrated.get() {
            migrate(store).await?;
            self.migrated.set(true);
        }
        self.held.borrow_mut().retain(|_, until| *until > now_ms);
        let room = policy.concurrency.max(1).saturating_sub(self.in_flight());
        let skipped = self.in_flight() + self.held.borrow().len();
        let mut out = Claimed {
            deliveries: Vec::new(),
            next_wake_ms: self.held.borrow().values().min().copied(),
        };
        let mut cursor: Option<String> = None;
        'scan: loop {
            let page = store
                .list(
                    keys::OUTBOX,
                    crate::store::Page::after(cursor.as_deref(), skipped + room + 1),
                )
                .await?;
            for key in &page.keys {
                // Another key form (an earlier version's, written since the migration): it
                // is moved on the next process's first claim.
                let Some((due, id)) = keys::parse_outbox(key) else {
                    continue;
                };
                if self.in_flight.borrow().contains(id) || self.held.borrow().contains_key(id) {
                    continue;
                }
                if due > now_ms {
                    out.next_wake_ms = Some(out.next_wake_ms.map_or(due, |t| t.min(due)));
                    break 'scan;
                }
                if out.deliveries.len() == room {
                    break 'scan;
                }
                // Gone since it was listed: concluded by another runner of the same store.
                let Some(d) = records::load::<Delivery, _>(store, key).await? else {
                    continue;
                };
                self.in_flight.borrow_mut().insert(String::from(id));
                out.deliveries.push(d);
            }
            match page.cursor {
                Some(c) if !page.keys.is_empty() => cursor = Some(c),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Run one claimed delivery: attempt it ([`attempt`]) and [`settle`] what was decided.
    /// Returns when it is due again, if ever. On an error (the store's, say) the delivery stays
    /// in the outbox as it was, held back until [`retry_after_error`].
    pub async fn run<H: Host>(&self, host: &H, d: Delivery) -> Result<Option<u64>, Error> {
        let result = async {
            let c = attempt(host, &d).await?;
            settle(host, &d, &c.delivery, c.next).await?;
            Ok(match c.next {
                Next::RetryAt(t) => Some(t),
                Next::Done(_) | Next::Dead => None,
            })
        }
        .await;
        let held_until = result
            .is_err()
            .then(|| retry_after_error(&host.config().delivery, host.now_ms()));
        self.release(&d.id, held_until);
        result
    }

    /// A delivery is no longer in flight; claim it again no sooner than `held_until`, if given.
    fn release(&self, id: &str, held_until: Option<u64>) {
        self.in_flight.borrow_mut().remove(id);
        if let Some(until) = held_until {
            self.held.borrow_mut().insert(String::from(id), until);
        }
    }
}

/// Move records an earlier version wrote at `outbox/{id}` to their due keys: a whole scan of
/// the outbox's keys, for once per process ([`Runner::claim`] does it on its first claim).
pub async fn migrate<S: Store + ?Sized>(store: &S) -> Result<(), StoreError> {
    for key in records::list_all(store, keys::OUTBOX, usize::MAX).await? {
        if keys::parse_outbox(&key).is_some() {
            continue;
        }
        if let Some(d) = records::load::<Delivery, _>(store, &key).await? {
            records::save(store, &keys::outbox(d.next_attempt_ms, &d.id), &d, None).await?;
        }
        store.delete(&key).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_keys_sort_by_due_time() {
        assert_eq!(keys::outbox(42, "x"), "outbox/00000000000000000042/x");
        assert!(keys::outbox(9, "z") < keys::outbox(10, "a"));
        assert_eq!(
            keys::parse_outbox(&keys::outbox(u64::MAX, "x")),
            Some((u64::MAX, "x"))
        );
        assert_eq!(keys::parse_outbox("outbox/d001"), None);
        assert_eq!(keys::parse_outbox("outbox/12/x"), None);
    }
}
