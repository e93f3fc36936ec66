//! The audit query with a long history: a realm holding 100,000 retained events (one a second,
//! the last 28 hours), queried for the events after a recent `since`, on both native stores.
//!
//! Events are kept at `audit/{R}/{ms}/{id}`, so the query seeks to `audit/{R}/{since}` and
//! reads only what it returns (`audit::query`). The baseline, measured in the same run over the
//! same store, is what a query did when it could not seek: list every key of the realm from
//! the front (pages of 100, as the query pages) and load those at or after `since`. Each
//! figure is the median of several queries.
//!
//! Run: `cargo bench -p oidc-edge-benches --bench audit`; `AUDIT_EVENTS=n` sets the history
//! (default 100,000), `AUDIT_STORE=memory|redb|both` the stores (default both).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use oidc_edge::native::NativeClock;
use oidc_edge::native::host::NativeHost;
use oidc_edge::native::store::{MemStore, NativeStore, RedbStore};
use oidc_edge_core::UnixTime;
use oidc_edge_core::audit::{self, AuditEvent};
use oidc_edge_core::host::{HostConfig, Store};
use oidc_edge_core::keys;
use oidc_edge_core::logout::delivery::DeliveryPolicy;
use oidc_edge_core::store::Page;

use oidc_edge_benches::{median, ms};

const REALM: &str = "bench";
/// One event a second, ending now.
const SPACING_MS: u64 = 1000;
/// Events written per transaction while filling.
const FILL_BATCH: usize = 1000;
/// Queries per figure.
const REPEAT: usize = 15;

fn event(i: usize) -> AuditEvent {
    AuditEvent {
        id: format!("{i:08x}-0000-4000-8000-000000000000"),
        timestamp: String::new(),
        event_name: audit::BACK_CHANNEL_LOGOUT.into(),
        transaction_id: format!("tracking-{i}"),
        user_id: audit::user_id(REALM, "alice"),
        tracking_ids: vec![format!("session-{i}")],
        realm: format!("/{REALM}"),
        component: "OAuth".into(),
        operation: "Sent logout request to https://rp.example/backchannel, which responded with \
                    HTTP 200."
            .into(),
    }
}

/// Fill the realm's history: `n` events, the last at `now_ms`.
fn fill(host: &NativeHost, n: usize, now_ms: u64) {
    let first = now_ms - (n as u64 - 1) * SPACING_MS;
    let mut batch = Vec::with_capacity(FILL_BATCH);
    for i in 0..n {
        let at = first + i as u64 * SPACING_MS;
        let mut e = event(i);
        e.timestamp = audit::rfc3339_ms(at);
        batch.push((
            keys::audit(REALM, at, &e.id),
            serde_json::to_vec(&e).unwrap(),
            Some(audit::RETENTION_SECS),
        ));
        if batch.len() == FILL_BATCH || i + 1 == n {
            block(host.put_many(&batch)).unwrap();
            batch.clear();
        }
    }
}

/// What the query did before it could seek: every key of the realm, from the front.
async fn scan_from_front(host: &NativeHost, since_ms: u64) -> Vec<AuditEvent> {
    let prefix = keys::audit_of(REALM);
    let start = keys::audit_since(REALM, since_ms);
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = host
            .list(&prefix, Page::after(cursor.as_deref(), 100))
            .await
            .unwrap();
        for k in page.keys.iter().filter(|k| **k >= start) {
            let raw = host.get(k).await.unwrap().unwrap();
            out.push(serde_json::from_slice(&raw).unwrap());
        }
        match page.cursor {
            Some(c) if !page.keys.is_empty() => cursor = Some(c),
            _ => return out,
        }
    }
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The median time of `REPEAT` runs of `f`, which must return `expect` events each time.
fn time(expect: usize, mut f: impl FnMut() -> usize) -> Duration {
    median(
        (0..REPEAT)
            .map(|_| {
                let t0 = Instant::now();
                let got = f();
                let took = t0.elapsed();
                assert_eq!(got, expect);
                took
            })
            .collect(),
    )
}

fn main() {
    let n: usize = std::env::var("AUDIT_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
        .max(1000);
    let stores: &[&str] = match std::env::var("AUDIT_STORE").as_deref() {
        Ok("memory") => &["memory"],
        Ok("redb") => &["redb"],
        _ => &["memory", "redb"],
    };
    let mut out = format!(
        "\nAudit query over {n} retained events of one realm (one a second); median of \
         {REPEAT} queries.\n\n| store | events returned | seeks to `since` (ms) | lists from the \
         front (ms) | speed-up |\n| --- | ---: | ---: | ---: | ---: |\n"
    );
    for &kind in stores {
        let dir = tempfile::tempdir().unwrap();
        let now_ms = 1_800_000_000_000;
        let clock = NativeClock::manual(UnixTime(now_ms / 1000));
        let store = match kind {
            "redb" => NativeStore::Redb(
                RedbStore::open(&dir.path().join("store.redb"), clock.clone()).unwrap(),
            ),
            _ => NativeStore::Mem(MemStore::new(clock.clone())),
        };
        let config = HostConfig {
            base_url: "https://id.example".into(),
            admin_token: "bench".into(),
            master_key: [7; 32],
            delivery: DeliveryPolicy::default(),
        };
        let host = NativeHost::new(store, config, clock).unwrap();
        fill(&host, n, now_ms);
        for returned in [100, 1000] {
            let since = now_ms - (returned as u64 - 1) * SPACING_MS;
            let seek = time(returned, || {
                block(audit::query(&host, REALM, None, since))
                    .unwrap()
                    .len()
            });
            let front = time(returned, || block(scan_from_front(&host, since)).len());
            let line = format!(
                "| {kind} | {returned} | {} | {} | {:.0}x |\n",
                ms(seek),
                ms(front),
                front.as_secs_f64() / seek.as_secs_f64()
            );
            eprint!("{line}");
            out.push_str(&line);
        }
    }
    println!("{out}");
}
