//! The benches (`cargo bench -p oidc-edge-benches`: see `jose.rs`, `fanout.rs` and
//! `logout_wait.rs`; `benches/worker.mjs` for the Worker in workerd) and what they share.

use std::time::Duration;

/// The median of some timings.
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

/// A timing in milliseconds, one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}
