//! The RP checker over real HTTP (`POST /admin/realms/{R}/clients/{id}/backchannel-check`),
//! against the native server or the worker in workerd: a relying party that validates its
//! logout tokens as Back-Channel Logout 1.0 §2.6 asks passes every case; one that answers 200
//! to everything passes only `valid`; one that answers 503 fails `valid`; the admin API's
//! refusals (no token, unknown client, no back-channel URI).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use oidc_edge::native::server::ServerOptions;
use oidc_edge::native::{NativeClock, OsEntropy};
use oidc_edge_core::jose::Jwk;
use oidc_edge_core::logout::delivery::DeliveryPolicy;
use oidc_edge_core::logout::logout_token::LogoutTokenError;
use oidc_edge_tests::jose::jose_verify_batch;
use oidc_edge_tests::logout::{EVENT, WAIT, expect, rp_at, segment_json};
use oidc_edge_tests::op::{Op, REALM, Reply, Start, USER};
use oidc_edge_tests::rp::{Answer, Rejection, TestRp};
use reqwest::Method;
use serde_json::{Value, json};

/// The case names, in the order they are sent.
const CASES: [&str; 7] = [
    "valid",
    "wrong_signature",
    "alg_none",
    "nonce_present",
    "expired",
    "wrong_aud",
    "missing_events",
];
/// The audit event of a check.
const CHECK_EVENT: &str = "AM-BACK-CHANNEL-LOGOUT-CHECK";

fn start() -> Op {
    Op::start(Start {
        options: ServerOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            clock: NativeClock::system(),
            delivery: DeliveryPolicy {
                timeout_ms: 2000,
                retry_max: 0,
                retry_base_ms: 100,
                concurrency: 16,
            },
            sweep_interval: Duration::from_secs(3600),
            ..ServerOptions::default()
        },
        realm_config: json!({}),
    })
}

fn path(client: &str) -> String {
    format!("/admin/realms/{REALM}/clients/{client}/backchannel-check")
}

/// Run the check against `client`; the report, once its shape is checked.
fn check(op: &Op, client: &str, uri: &str) -> Value {
    let r = op.admin(Method::POST, &path(client), None);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["client_id"], client, "{v}");
    assert_eq!(v["uri"], uri, "{v}");
    assert_eq!(v["total"], 7, "{v}");
    let cases = v["cases"].as_array().expect("cases");
    let names: Vec<&str> = cases.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, CASES, "{v}");
    for c in cases {
        let want = if c["name"] == "valid" { 200 } else { 400 };
        assert_eq!(c["expected"], want, "{c}");
        assert!(c["pass"].is_boolean(), "{c}");
    }
    let passed = cases.iter().filter(|c| c["pass"] == true).count();
    assert_eq!(v["passed"], passed, "{v}");
    v
}

fn statuses(v: &Value) -> Vec<Value> {
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].clone())
        .collect()
}

#[test]
fn a_correct_rp_passes_every_case_and_each_token_is_refused_for_its_own_reason() {
    let op = start();
    let (rp, reg) = rp_at(&op, json!({}));
    let v = check(&op, &reg.id, &rp.uri());
    assert_eq!(v["passed"], 7, "{v}");
    assert_eq!(
        statuses(&v),
        [200, 400, 400, 400, 400, 400, 400].map(Value::from)
    );
    assert!(v["cases"][0].get("error").is_none(), "{v}");

    // What the RP received: seven form POSTs to its URI, the valid one accepted, each other
    // refused by §2.6 for the reason its case names (never as a replay: every jti is fresh).
    let got = rp.wait_answered(7, WAIT);
    assert_eq!(got.len(), 7);
    for g in &got {
        assert_eq!(g.target, "/backchannel_logout");
        assert_eq!(
            g.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            segment_json(g.logout_token.as_deref().unwrap())["typ"],
            "logout+jwt"
        );
    }
    let valid = got[0].claims();
    assert_eq!(valid.claims["iss"], op.issuer.as_str());
    assert_eq!(valid.claims["aud"], reg.id.as_str());
    assert_eq!(valid.claims["events"], json!({EVENT: {}}));
    let sub = valid.sub.as_deref().unwrap();
    assert!(sub.starts_with("rp-check-"), "a synthetic sub: {sub}");
    assert!(valid.sid.is_some());
    let reasons: Vec<&str> = got[1..]
        .iter()
        .map(|g| match &g.verdict {
            Err(Rejection::Token(e)) => e.code(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        [
            LogoutTokenError::InvalidSignature.code(),
            "unsupported_algorithm",
            LogoutTokenError::NoncePresent.code(),
            LogoutTokenError::Expired.code(),
            LogoutTokenError::AudienceMismatch.code(),
            LogoutTokenError::MissingEvents.code(),
        ]
    );
    assert_eq!(
        segment_json(got[2].logout_token.as_deref().unwrap())["alg"],
        "none"
    );

    // No real user's session was touched.
    let session = op.session();
    op.sign_in(&reg, &session);
    check(&op, &reg.id, &rp.uri());
    assert_eq!(op.sessions(USER).len(), 1);

    // One audit event per check.
    let events = op.audit(Some(CHECK_EVENT), None);
    assert_eq!(events.len(), 2, "{events:?}");
    let operation = events[0]["operation"].as_str().unwrap();
    assert!(
        operation.contains(&rp.uri())
            && operation.contains(&reg.id)
            && operation.contains("7 of 7"),
        "{operation}"
    );
    assert_eq!(events[0]["realm"], format!("/{REALM}"));

    // An independent JOSE library accepts the valid token.
    let Some(results) = jose_verify_batch(&[json!({
        "token": got[0].logout_token,
        "jwks": op.jwks().to_value(),
        "typ": "logout+jwt",
        "algorithms": [reg.alg.as_str()],
    })]) else {
        return;
    };
    assert!(results[0].get("error").is_none(), "{}", results[0]);
    assert_eq!(results[0]["payload"]["sub"], sub);
}

#[test]
fn an_rp_that_registered_encryption_gets_every_case_encrypted_and_passes() {
    let op = start();
    let mut key = Jwk::generate_ec(&OsEntropy).unwrap();
    key.key_use = Some("enc".into());
    let rp = TestRp::start();
    let mut reg = op.register(json!({
        "backchannel_logout_uri": rp.uri(),
        "id_token_signed_response_alg": "ES256",
        "id_token_encrypted_response_alg": "ECDH-ES+A128KW",
        "id_token_encrypted_response_enc": "A256GCM",
        "jwks": {"keys": [key.to_public().to_value()]},
    }));
    reg.decrypt = Some(key);
    rp.expect(expect(&op, &reg));
    let v = check(&op, &reg.id, &rp.uri());
    assert_eq!(v["passed"], 7, "{v}");
    let got = rp.wait_answered(7, WAIT);
    for g in &got {
        let token = g.logout_token.as_deref().unwrap();
        assert_eq!(token.split('.').count(), 5, "a JWE");
        assert_eq!(segment_json(token)["cty"], "JWT");
    }
    assert!(got[0].verdict.is_ok(), "{:?}", got[0].verdict);
}

#[test]
fn a_lax_rp_that_accepts_everything_passes_only_valid() {
    let op = start();
    let (rp, reg) = rp_at(&op, json!({}));
    rp.answer(Answer::Status(200));
    let v = check(&op, &reg.id, &rp.uri());
    assert_eq!(v["passed"], 1, "{v}");
    assert_eq!(statuses(&v), [200; 7].map(Value::from));
    let pass: Vec<bool> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["pass"].as_bool().unwrap())
        .collect();
    assert_eq!(pass, [true, false, false, false, false, false, false]);
    let events = op.audit(Some(CHECK_EVENT), None);
    assert!(
        events[0]["operation"].as_str().unwrap().contains("1 of 7"),
        "{events:?}"
    );
}

#[test]
fn an_rp_answering_503_fails_valid_and_one_that_is_gone_has_no_status() {
    let op = start();
    let (rp, reg) = rp_at(&op, json!({}));
    rp.answer(Answer::Status(503));
    let v = check(&op, &reg.id, &rp.uri());
    assert_eq!(v["passed"], 0, "{v}");
    assert_eq!(v["cases"][0]["status"], 503);
    assert_eq!(v["cases"][0]["pass"], false);
    // Nothing was retried: one POST per case.
    assert_eq!(rp.wait_answered(7, WAIT).len(), 7);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rp.received().len(), 7);

    // Nobody listens any more: no status, and why.
    let uri = rp.uri();
    drop(rp);
    let v = check(&op, &reg.id, &uri);
    assert_eq!(v["passed"], 0, "{v}");
    for c in v["cases"].as_array().unwrap() {
        assert_eq!(c["status"], Value::Null, "{c}");
        assert_eq!(c["error"], "connection failed", "{c}");
    }
}

#[test]
fn refusals_need_the_admin_token_a_known_client_and_a_back_channel_uri() {
    let op = start();
    let (rp, reg) = rp_at(&op, json!({}));
    let url = op.url(&path(&reg.id));
    // No admin token, or a wrong one: 401, and nothing is sent.
    let r = op.send(op.http.post(&url));
    assert_eq!(r.oauth_error(), (401, "invalid_token".to_owned()));
    let r = op.send(op.http.post(&url).bearer_auth("not-the-admin-token"));
    assert_eq!(r.oauth_error().0, 401);
    // Unknown client, unknown realm, a client id that cannot exist: 404.
    let r = op.admin(Method::POST, &path("no-such-client"), None);
    assert_eq!(r.oauth_error(), (404, "not_found".to_owned()));
    let r = op.admin(
        Method::POST,
        &format!("/admin/realms/nope/clients/{}/backchannel-check", reg.id),
        None,
    );
    assert_eq!(r.oauth_error().0, 404);
    let long = "x".repeat(600);
    let r = op.admin(Method::POST, &path(&long), None);
    assert_eq!(r.oauth_error().0, 404);
    // A client without a back-channel logout URI: 400.
    let plain = op.register(json!({}));
    let r = op.admin(Method::POST, &path(&plain.id), None);
    assert_eq!(r.oauth_error(), (400, "invalid_request".to_owned()));
    std::thread::sleep(Duration::from_millis(200));
    assert!(rp.received().is_empty());
    assert!(op.audit(Some(CHECK_EVENT), None).is_empty());
    // GET is not a check.
    let r: Reply = op.admin(Method::GET, &path(&reg.id), None);
    assert!(r.status == 404 || r.status == 405, "{}", r.status);
}
