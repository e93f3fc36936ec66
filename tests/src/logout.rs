//! The vocabulary of back-channel logout stories, shared by every test that ends a session
//! over HTTP (the suites here and the binary's own restart test in `edge/tests`): an RP
//! registered at the provider, what every logout token must look like, and the audit trail's
//! delivery lines.

use std::time::Duration;

use oidc_edge_core::jose::b64;
use serde_json::{Value, json};

use crate::op::{Op, Registered, wait};
use crate::rp::{Expect, Received, TestRp};

/// Longest any one wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(10);
/// The back-channel logout event's URI, the one member of a logout token's `events`.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The audit event name of a delivery attempt.
pub const BCL: &str = "AM-BACK-CHANNEL-LOGOUT";

/// A test RP registered at the provider with `meta` (plus its `backchannel_logout_uri`),
/// told what it registered.
pub fn rp_at(op: &Op, meta: Value) -> (TestRp, Registered) {
    let rp = TestRp::start();
    let mut meta = meta;
    meta["backchannel_logout_uri"] = json!(rp.uri());
    let reg = op.register(meta);
    rp.expect(expect(op, &reg));
    (rp, reg)
}

/// What the RP of `reg` expects of its logout tokens: this provider's issuer and clock, the
/// RP's own algorithm, and its decryption key if it registered one.
pub fn expect(op: &Op, reg: &Registered) -> Expect {
    let mut e = Expect::new(&op.issuer, &reg.id).on_clock(op.clock.clone());
    e.algs = vec![reg.alg];
    if let Some(k) = &reg.decrypt {
        e = e.decrypting_with(k.clone());
    }
    e
}

/// What every logout token must look like, whoever receives it: a form POST to the
/// registered URI; `iss`, `aud`, `sub` as in the RP's ID token; `events` with exactly the
/// back-channel member, empty; `exp` at most 2 min after `iat`; no `nonce`; `cause`; the
/// header's `typ` and the RP's own algorithm.
pub fn assert_logout_token(
    got: &Received,
    op: &Op,
    reg: &Registered,
    id_token: &Value,
    cause: &str,
) {
    assert_eq!(got.target, "/backchannel_logout");
    assert_eq!(
        got.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert!(got.body.starts_with("logout_token="), "{}", got.body);
    let c = got.claims();
    assert_eq!(c.claims["iss"], op.issuer.as_str());
    assert_eq!(c.claims["aud"], reg.id.as_str());
    assert_eq!(c.claims["sub"], id_token["sub"]);
    assert_eq!(c.claims["events"], json!({EVENT: {}}));
    let (iat, exp) = (
        c.claims["iat"].as_u64().unwrap(),
        c.claims["exp"].as_u64().unwrap(),
    );
    assert!(iat < exp && exp <= iat + 120, "iat {iat}, exp {exp}");
    assert!(c.claims.get("nonce").is_none());
    assert_eq!(c.claims["cause"], cause);
    assert!(c.claims["auditTrackingId"].is_string());
    let header = jws_header(got);
    assert_eq!(header["typ"], "logout+jwt");
    assert_eq!(
        header["alg"],
        reg.alg.as_str(),
        "signed with the RP's own alg"
    );
}

/// The protected header of the token's JWS (the token itself when not encrypted).
pub fn jws_header(got: &Received) -> Value {
    let token = got.logout_token.as_deref().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWS, not a JWE");
    segment_json(token)
}

/// The JSON of a compact token's first segment (the protected header).
pub fn segment_json(token: &str) -> Value {
    let first = token.split('.').next().unwrap();
    serde_json::from_slice(&b64::decode(first).unwrap()).unwrap()
}

/// Wait until the outbox holds nothing for this realm (every delivery finished one way or
/// another).
pub fn wait_outbox_empty(op: &Op) {
    wait(WAIT, "an empty outbox", || {
        let pending = op.deliveries("pending");
        if pending.is_empty() {
            Ok(())
        } else {
            Err(pending)
        }
    });
}

/// The audit `operation` of a delivery to `uri` answered with `status`.
pub fn operation(uri: &str, status: u16) -> String {
    format!("Sent logout request to {uri}, which responded with HTTP code {status}.")
}

/// The `operation` lines of `events` about deliveries to `uri`, in order.
pub fn ops_for(events: &[Value], uri: &str) -> Vec<String> {
    events
        .iter()
        .map(|e| e["operation"].as_str().unwrap().to_owned())
        .filter(|o| o.contains(uri))
        .collect()
}
