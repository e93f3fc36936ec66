//! The server's background tasks beside the connections, on the same task set: the session
//! sweep and the purge of expired store entries (the delivery worker is `deliver.rs`'s).

use std::rc::Rc;
use std::time::Duration;

use oidc_edge_core::host::Host as _;
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

/// End expired sessions (telling their relying parties) every `every`, at once at start (for
/// sessions that expired while the server was down), and whenever asked.
pub(super) async fn sweep_loop(
    host: Rc<NativeHost>,
    every: Duration,
    mut requests: mpsc::UnboundedReceiver<SweepRequest>,
) {
    let mut timer = tokio::time::interval(every);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut asked = true;
    loop {
        let reply = tokio::select! {
            _ = timer.tick() => None,
            request = requests.recv(), if asked => match request {
                Some(reply) => Some(reply),
                None => {
                    asked = false;
                    continue;
                }
            },
        };
        let result = provider::sweep(&*host).await.map_err(|e| e.to_string());
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
