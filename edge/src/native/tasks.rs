//! The server's background tasks beside the connections, on the same task set: the session
//! sweep and the purge of expired store entries (the delivery worker is `deliver.rs`'s).

use std::rc::Rc;
use std::time::Duration;

use oidc_edge_core::host::{Clock as _, Host as _};
use oidc_edge_core::log::LogEvent;
use oidc_edge_core::provider;
use tokio::sync::mpsc;

use super::host::{NativeHost, log};

/// How often expired entries are swept out of the store.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// A request for one sweep now, and where to send how many sessions it ended.
pub(super) type SweepRequest = std::sync::mpsc::Sender<Result<usize, String>>;

pub(super) async fn purge_loop(host: Rc<NativeHost>) {
    let mut every = tokio::time::interval(PURGE_INTERVAL);
    loop {
        every.tick().await;
        match host.store().purge_expired() {
            Ok(0) => {}
            Ok(n) => log(format_args!("store: purged {n} expired entries")),
            Err(e) => log(format_args!("store: purge failed: {e}")),
        }
    }
}

/// How long until the earliest session timer is due, on the system clock (a manual clock
/// does not run: its sessions end at a sweep).
fn until_next_timer(host: &NativeHost) -> Option<Duration> {
    if host.clock().is_manual() {
        return None;
    }
    let at_ms = host.timers().next()?.saturating_mul(1000);
    Some(Duration::from_millis(
        at_ms.saturating_sub(host.clock().now_ms()),
    ))
}

/// End each session whose timer is due (core's `expire`: it ends the session if it is, and
/// asks again for one used since). How many it ended.
async fn fire_timers(host: &NativeHost) -> usize {
    let mut ended = 0;
    for (realm, id) in host.timers().take_due(host.now().secs()) {
        match provider::expire(host, &realm, &id).await {
            Ok(true) => ended += 1,
            Ok(false) => {}
            Err(e) => host.log(&LogEvent::SweepFailed {
                error: &e.to_string(),
            }),
        }
    }
    ended
}

/// End expired sessions (telling their relying parties) at each one's deadline (the timers
/// core asks for), and as a safety net every `every`, at once at start (for sessions that
/// expired while the server was down), and whenever asked.
pub(super) async fn sweep_loop(
    host: Rc<NativeHost>,
    every: Duration,
    mut requests: mpsc::UnboundedReceiver<SweepRequest>,
) {
    let mut timer = tokio::time::interval(every);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut asked = true;
    loop {
        let next = until_next_timer(&host);
        let reply = tokio::select! {
            _ = timer.tick() => None,
            () = tokio::time::sleep(next.unwrap_or(every)), if next.is_some() => {
                match fire_timers(&host).await {
                    0 => {}
                    ended => host.log(&LogEvent::Swept { ended }),
                }
                continue;
            }
            // A new timer may be earlier than the one slept for.
            () = host.timers().changed() => continue,
            request = requests.recv(), if asked => match request {
                Some(reply) => Some(reply),
                None => {
                    asked = false;
                    continue;
                }
            },
        };
        // The timers due first (a manual clock's, moved on by a test), then the sweep.
        let fired = fire_timers(&host).await;
        let result = provider::sweep(&*host)
            .await
            .map(|ended| ended + fired)
            .map_err(|e| e.to_string());
        match &result {
            Ok(0) => {}
            Ok(ended) => host.log(&LogEvent::Swept { ended: *ended }),
            Err(e) => host.log(&LogEvent::SweepFailed { error: e }),
        }
        if let Some(reply) = reply {
            let _ = reply.send(result);
        }
    }
}
