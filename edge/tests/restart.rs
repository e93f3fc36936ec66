//! The built `oidc-edge` binary killed mid fan-out (`SIGKILL`: no chance to flush or finish)
//! and started again on the same data directory: the deliveries resume from its outbox.
//!
//! Here rather than in the end-to-end suites (`tests/tests`) because only this package's tests
//! get the binary cargo built (`CARGO_BIN_EXE_oidc-edge`). Native only: a Worker has no process
//! to kill; each delivery is a Queue message, which the Queue keeps until the consumer acks it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use oidc_edge::native::NativeClock;
use oidc_edge_tests::logout::{
    BCL, WAIT, assert_logout_token, operation, ops_for, rp_at, wait_outbox_empty,
};
use oidc_edge_tests::op::{Op, Registered};
use oidc_edge_tests::process::{ADMIN_TOKEN, Provider, free_port};
use oidc_edge_tests::rp::{Answer, TestRp};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_oidc-edge");

#[test]
fn a_provider_killed_mid_fan_out_delivers_after_restart() {
    let data = tempfile::Builder::new()
        .prefix("oidc-edge-kill-")
        .tempdir()
        .unwrap();
    let addr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let flags = [
        "--retry-base-ms",
        "200",
        "--delivery-timeout-ms",
        "5000",
        "--sweep-interval-secs",
        "3600",
    ];
    let provider = Provider::serve(Path::new(BIN), data.path(), addr, &flags);
    let op = Op::attach(&provider.base_url, ADMIN_TOKEN, NativeClock::system());
    op.create_realm(json!({}));
    let rps: Vec<(TestRp, Registered)> = (0..3).map(|_| rp_at(&op, json!({}))).collect();
    let session = op.session();
    let ids: Vec<Value> = rps
        .iter()
        .map(|(rp, reg)| {
            rp.answer(Answer::Hang);
            op.sign_in(reg, &session).1
        })
        .collect();

    // The answer comes once the outbox is durable; the deliveries are then in flight, each
    // RP holding its request unanswered.
    let answer = op.sessions_logout(&session, true);
    assert_eq!(answer["backchannel_logout_deliveries"], 3);
    for (rp, _) in &rps {
        rp.wait_for(1, WAIT);
    }
    assert_eq!(op.deliveries("pending").len(), 3);
    provider.kill();

    for (rp, _) in &rps {
        rp.answer(Answer::Verified);
    }
    let provider = Provider::serve(Path::new(BIN), data.path(), addr, &flags);
    for ((rp, reg), id_token) in rps.iter().zip(&ids) {
        let got = rp.wait_until(WAIT, "a token answered 200", |r| {
            r.iter().any(|x| x.answered.is_some_and(|a| a.0 == 200))
        });
        let delivered = got
            .iter()
            .find(|x| x.answered.is_some_and(|a| a.0 == 200))
            .unwrap();
        assert_logout_token(delivered, &op, reg, id_token, "CLIENT_LOGOUT");
        // The same delivery as before the crash: same tracking id, fresh token.
        assert_eq!(
            got[0].claim("auditTrackingId"),
            delivered.claim("auditTrackingId")
        );
        assert_ne!(got[0].claim("jti"), delivered.claim("jti"));
    }
    wait_outbox_empty(&op);
    let events = op.audit(Some(BCL), None);
    for (rp, _) in &rps {
        assert!(
            ops_for(&events, &rp.uri()).contains(&operation(&rp.uri(), 200)),
            "{events:?}"
        );
    }
    drop(provider);
}
