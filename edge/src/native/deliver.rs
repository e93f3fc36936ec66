//! Back-channel logout on the native host: core decides, this module does.
//!
//! - The durable queue is the store: [`Deliver::enqueue`] writes core's outbox
//!   ([`outbox_put`]; redb commits before it returns) and wakes the worker.
//! - The delivery worker claims core's due deliveries ([`due`]) on the server's task set: once
//!   at start (which resumes whatever a stopped or killed server left in the outbox), then
//!   whenever a delivery is due, something was enqueued, an attempt finished, or a test moved
//!   the clock. Each attempt runs as its own task ([`attempt_and_settle`]), so one silent RP
//!   delays no other delivery.
//! - The POSTs themselves are [`super::client`]'s, behind the SSRF guard.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use oidc_edge_core::host::{Clock as _, Deliver, Host as _, Post, PostOutcome, StoreError};
use oidc_edge_core::logout::delivery::{Delivery, attempt_and_settle, due, outbox_put};

use super::host::NativeHost;

/// Longest sleep while deliveries are pending: the wall clock can jump (NTP), so the worker
/// looks at the outbox again at least this often.
const MAX_WAIT: Duration = Duration::from_secs(5);
/// Longest sleep with nothing pending; enqueues wake the worker sooner.
const IDLE_WAIT: Duration = Duration::from_secs(60);
/// Wait after a failed run (a store error) before the next.
const ERROR_WAIT: Duration = Duration::from_secs(1);

impl Deliver for NativeHost {
    async fn enqueue(&self, deliveries: Vec<Delivery>) -> Result<(), StoreError> {
        outbox_put(self, &deliveries).await?;
        // A permit is kept when the worker is busy: it runs again as soon as it is done.
        self.delivery().wake.notify_one();
        Ok(())
    }

    async fn post(&self, post: Post<'_>) -> PostOutcome {
        self.delivery().poster().post(post).await
    }
}

/// Run due deliveries until the task is dropped: at once (resuming the outbox after a
/// restart), then at the earliest retry, on every enqueue, and on every advance of the host's
/// clock. Each attempt is a task of its own, so a slow or silent RP holds up nobody else; the
/// worker never starts a delivery that is already in flight, and keeps at most the policy's
/// `concurrency` in flight. Errors are logged; the loop never ends by itself.
pub(crate) async fn delivery_worker(host: Rc<NativeHost>) {
    let in_flight: Rc<RefCell<HashSet<String>>> = Rc::default();
    loop {
        // Enabled before the run reads the time: an advance during the run is not missed.
        let advanced = host.clock().advanced();
        tokio::pin!(advanced);
        advanced.as_mut().enable();
        let room = host
            .config()
            .delivery
            .concurrency
            .saturating_sub(in_flight.borrow().len());
        let claimed = due(&*host, &|id| in_flight.borrow().contains(id), room).await;
        let wait = match claimed {
            Ok((deliveries, next_due)) => {
                for d in deliveries {
                    in_flight.borrow_mut().insert(d.id.clone());
                    let (host, in_flight) = (Rc::clone(&host), Rc::clone(&in_flight));
                    tokio::task::spawn_local(async move {
                        let id = d.id.clone();
                        if let Err(e) = attempt_and_settle(&*host, d).await {
                            host.log(&format!("delivery: {id} failed: {e}"));
                        }
                        in_flight.borrow_mut().remove(&id);
                        // Its retry time, or the room it frees, may matter to the worker.
                        host.delivery().wake.notify_one();
                    });
                }
                match next_due {
                    Some(t) => Duration::from_millis(t.saturating_sub(host.now_ms())).min(MAX_WAIT),
                    None => IDLE_WAIT,
                }
            }
            Err(e) => {
                host.log(&format!("delivery: reading the outbox failed: {e}"));
                ERROR_WAIT
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = host.delivery().wake.notified() => {}
            () = &mut advanced => {}
        }
    }
}
