//! Nothing but the benches: `cargo bench -p oidc-edge-benches` (see `jose.rs` and
//! `fanout.rs`), and `benches/worker.mjs` for the Worker in workerd.
