//! Back-channel logout on the native host: core decides, this module does.
//!
//! - The durable queue is the store: [`Deliver::enqueue`] writes core's outbox
//!   ([`outbox::put`]; redb commits before it returns) and wakes the worker.
//! - The delivery worker spawns what core's [`Runner`] says is due, each attempt a task of its
//!   own ([`Runner::run`]), so one silent RP delays no other delivery, and sleeps until core's
//!   next wake: once at start (which resumes whatever a stopped or killed server left in the
//!   outbox), then when a delivery is due, something was enqueued, an attempt finished, or a
//!   test moved the clock.
//! - The POSTs themselves are [`super::client`]'s, behind the SSRF guard.

use std::rc::Rc;
use std::time::Duration;

use oidc_edge_core::host::{Clock as _, Deliver, Host as _, Post, PostOutcome, StoreError};
use oidc_edge_core::log::LogEvent;
use oidc_edge_core::logout::delivery::Delivery;
use oidc_edge_core::logout::outbox::{self, Runner};

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
        outbox::put(self, &deliveries).await?;
        self.delivery().wake_after_request();
        Ok(())
    }

    async fn post(&self, post: Post<'_>) -> PostOutcome {
        self.delivery().poster().post(post).await
    }
}

/// Run due deliveries until the task is dropped: spawn each that core's [`Runner`] claims
/// (it never hands out one already in flight, nor more than the policy's `concurrency` at
/// once), then sleep until core's next wake, an enqueue, a finished attempt or an advance of
/// the host's clock. Errors are logged; the loop never ends by itself.
pub(crate) async fn delivery_worker(host: Rc<NativeHost>) {
    let runner = Rc::new(Runner::new());
    loop {
        // Enabled before the claim reads the time: an advance during the claim is not missed.
        let advanced = host.clock().advanced();
        tokio::pin!(advanced);
        advanced.as_mut().enable();
        let claimed = runner
            .claim(&*host, &host.config().delivery, host.now_ms())
            .await;
        let wait = match claimed {
            Ok(claimed) => {
                for d in claimed.deliveries {
                    let (host, runner) = (Rc::clone(&host), Rc::clone(&runner));
                    tokio::task::spawn_local(async move {
                        let id = d.id.clone();
                        if let Err(e) = runner.run(&*host, d).await {
                            host.log(&LogEvent::DeliveryFailed { id: &id, error: &e });
                        }
                        // Its retry time, or the room it frees, may matter to the worker.
                        host.delivery().wake.notify_one();
                    });
                }
                claimed.next_wake_ms.map_or(IDLE_WAIT, |t| {
                    Duration::from_millis(t.saturating_sub(host.now_ms())).min(MAX_WAIT)
                })
            }
            Err(e) => {
                host.log(&LogEvent::OutboxUnreadable { error: &e });
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
