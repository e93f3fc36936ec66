//! Back-channel logout over real HTTP: the native server runs in-process (memory store) or as
//! the real binary, the relying parties are test RPs listening on 127.0.0.1 that validate
//! every logout token as Back-Channel Logout 1.0 §2.6 asks. Each story: log in, sign in at the
//! RPs, end the session one way, and assert what each RP received, what the audit trail says,
//! and that the session is over.
//!
//! Every wait is bounded (a deadline, polling); delivery timeouts and backoffs are small and
//! set through the server's options.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use oidc_edge::native::server::ServerOptions;
use oidc_edge::native::{NativeClock, OsEntropy, now};
use oidc_edge_core::audit::rfc3339_ms;
use oidc_edge_core::host::Clock as _;
use oidc_edge_core::http::encode_params;
use oidc_edge_core::jose::Jwk;
use oidc_edge_core::logout::delivery::DeliveryPolicy;
use oidc_edge_tests::jose::jose_verify_batch;
use oidc_edge_tests::logout::{
    BCL, EVENT, WAIT, assert_logout_token, expect, operation, ops_for, rp_at, segment_json,
    wait_outbox_empty,
};
use oidc_edge_tests::op::{Op, REALM, Registered, Start, USER, wait};
use oidc_edge_tests::rp::{Answer, TestRp};
use oidc_edge_tests::target::{Target, not_applicable};
use reqwest::Method;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Set-up

/// Delivery settings small enough for tests: 2 s per POST, two retries 100 ms apart or so.
fn quick_delivery() -> DeliveryPolicy {
    DeliveryPolicy {
        timeout_ms: 2000,
        retry_max: 2,
        retry_base_ms: 100,
        concurrency: 16,
    }
}

fn options(clock: NativeClock, delivery: DeliveryPolicy) -> ServerOptions {
    ServerOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        clock,
        delivery,
        // Sweeps happen when a test asks (`sweep_now`), not behind its back.
        sweep_interval: Duration::from_secs(3600),
        ..ServerOptions::default()
    }
}

/// A provider on the system clock with [`quick_delivery`].
fn start() -> Op {
    start_with(quick_delivery())
}

fn start_with(delivery: DeliveryPolicy) -> Op {
    Op::start(Start {
        options: options(NativeClock::system(), delivery),
        realm_config: json!({}),
    })
}

/// A provider on a manual clock (standing at the real time until advanced), whose realm ends
/// sessions after 60 s idle (+ one 6 s touch step of slack) and 120 s in all.
fn start_manual() -> Op {
    Op::start(Start {
        options: options(NativeClock::manual(now()), quick_delivery()),
        realm_config: json!({"session_idle_time_secs": 60, "session_max_time_secs": 120}),
    })
}

/// AM's activity-log shape, for every event.
fn assert_am_shape(e: &Value) {
    for field in [
        "_id",
        "timestamp",
        "eventName",
        "transactionId",
        "userId",
        "trackingIds",
        "realm",
        "component",
        "operation",
    ] {
        assert!(e.get(field).is_some(), "audit event lacks {field}: {e}");
    }
    assert_eq!(e["realm"], format!("/{REALM}"));
    assert_eq!(
        e["userId"],
        format!("id={USER},ou=user,o={REALM},ou=services,ou=am-config")
    );
    assert!(
        e["trackingIds"].as_array().is_some_and(|t| !t.is_empty()),
        "{e}"
    );
    let ts = e["timestamp"].as_str().unwrap();
    assert!(
        oidc_edge_core::audit::parse_rfc3339_ms(ts).is_some() && ts.ends_with('Z'),
        "{ts}"
    );
}

// ---------------------------------------------------------------------------------------------
// Every trigger, with its cause

#[test]
fn sessions_logout_by_cookie_and_by_token_header_is_client_logout() {
    let op = start();
    let (rp, reg) = rp_at(&op, json!({}));

    for as_cookie in [true, false] {
        let session = op.session();
        let (_, id_token) = op.sign_in(&reg, &session);
        let answer = op.sessions_logout(&session, as_cookie);
        assert_eq!(answer["backchannel_logout_deliveries"], 1, "{answer}");
        let n = if as_cookie { 1 } else { 2 };
        let got = rp.wait_answered(n, WAIT);
        assert_eq!(got.len(), n, "exactly one token per logout");
        assert_logout_token(&got[n - 1], &op, &reg, &id_token, "CLIENT_LOGOUT");
        assert_eq!(got[n - 1].answered.unwrap().0, 200);
        assert!(op.shows_login_form(&reg, &session), "the session is over");
        // Logging out of an ended session is refused.
        let r = op.send(
            op.http
                .post(op.endpoint("sessions/logout"))
                .header("x-session-token", &session),
        );
        assert_eq!(r.status, 401, "{}", r.text());
        assert_eq!(r.json()["error"], "invalid_token");
    }
    let ended = op.audit(Some("AM-SESSION-LOGGED_OUT"), None);
    assert_eq!(ended.len(), 2, "{ended:?}");
    for e in &ended {
        assert_am_shape(e);
        assert_eq!(e["component"], "Session");
    }
}

#[test]
fn rp_initiated_logout_redirects_with_state_and_is_client_logout() {
    let op = start();
    let (rp, reg) = rp_at(
        &op,
        json!({"post_logout_redirect_uris": ["https://rp.example/bye?from=op"]}),
    );
    let session = op.session();
    let (raw, id_token) = op.sign_in(&reg, &session);

    let r = op.end_session(
        &session,
        &[
            ("id_token_hint", raw.as_str()),
            ("post_logout_redirect_uri", "https://rp.example/bye?from=op"),
            ("state", "st4te/+="),
        ],
    );
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(
        r.location(),
        "https://rp.example/bye?from=op&state=st4te%2F%2B%3D"
    );
    let got = rp.wait_answered(1, WAIT);
    assert_logout_token(&got[0], &op, &reg, &id_token, "CLIENT_LOGOUT");
    assert!(op.shows_login_form(&reg, &session));
    assert_eq!(op.audit(Some("AM-SESSION-LOGGED_OUT"), None).len(), 1);
}

/// A cross-site link to `end_session` without a hint only asks; nothing is ended or sent
/// until the user confirms on the page, then every RP is told.
#[test]
fn a_logout_link_without_a_hint_asks_and_only_the_confirmation_tells_the_rps() {
    let op = start();
    let (rp, reg) = rp_at(
        &op,
        json!({"post_logout_redirect_uris": ["https://rp.example/bye"]}),
    );
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);
    let cookie = format!("oidc_edge_session={session}");
    let page = op.end_session(
        &session,
        &[
            ("client_id", reg.id.as_str()),
            ("post_logout_redirect_uri", "https://rp.example/bye"),
            ("state", "s1"),
        ],
    );
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("name=\"decision\" value=\"logout\""));
    assert!(
        page.set_cookie("oidc_edge_session").is_none(),
        "nothing cleared"
    );
    assert!(!op.shows_login_form(&reg, &session), "the session lives");
    assert!(rp.received().is_empty());

    let mut fields = oidc_edge_tests::flow::hidden_fields(&page.text());
    fields.push(("decision".into(), "logout".into()));
    let r = op.send(
        op.http
            .post(op.endpoint("end_session"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_params(
                fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )),
    );
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(r.location(), "https://rp.example/bye?state=s1");
    let got = rp.wait_answered(1, WAIT);
    assert_logout_token(&got[0], &op, &reg, &id_token, "CLIENT_LOGOUT");
    assert!(op.shows_login_form(&reg, &session));
}

/// Deleting an account ends its sessions with back-channel logout, and a new account with the
/// same name inherits nothing.
#[test]
fn deleting_a_user_tells_every_rp_and_the_name_reused_inherits_nothing() {
    let op = start();
    let (rp, reg) = rp_at(&op, json!({}));
    let (s1, s2) = (op.session(), op.session());
    let (_, id1) = op.sign_in(&reg, &s1);
    let (_, id2) = op.sign_in(&reg, &s2);
    let r = op.admin(
        Method::DELETE,
        &format!("/admin/realms/{REALM}/users/{USER}"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = rp.wait_answered(2, WAIT);
    let subs: Vec<&Value> = got.iter().map(|g| &g.claims().claims["sub"]).collect();
    assert!(subs.iter().all(|s| **s == id1["sub"] && **s == id2["sub"]));
    for g in &got {
        assert_logout_token(g, &op, &reg, &id1, "SESSION_TERMINATION");
    }
    let r = op.admin(
        Method::PUT,
        &format!("/admin/realms/{REALM}/users/{USER}"),
        Some(&json!({"password": oidc_edge_tests::op::PASSWORD})),
    );
    assert_eq!(r.status, 201);
    assert!(op.shows_login_form(&reg, &s1));
    assert!(op.shows_login_form(&reg, &s2));
    let events = op.audit(Some("AM-SESSION-DESTROYED"), None);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| {
        e["operation"]
            .as_str()
            .unwrap()
            .contains("initiated by: user deleted")
    }));
}

/// The consent page answered "deny" sends `access_denied` to the client; `prompt=none` without
/// a grant is `consent_required`.
#[test]
fn a_user_who_denies_consent_sends_access_denied_and_prompt_none_cannot_skip_it() {
    let op = start();
    let (_rp, reg) = rp_at(&op, json!({}));
    let session = op.session();
    let r = op.authorize(&reg, &session, "st", "n");
    assert!(
        oidc_edge_tests::flow::is_consent_page(&r.text()),
        "{}",
        r.text()
    );
    let r = op.consent_if_asked(r, &session, "deny");
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(r.location_param("error").as_deref(), Some("access_denied"));
    assert_eq!(r.location_param("state").as_deref(), Some("st"));
    let query = encode_params([
        ("response_type", "code"),
        ("client_id", reg.id.as_str()),
        ("redirect_uri", reg.redirect.as_str()),
        ("scope", "openid"),
        ("prompt", "none"),
    ]);
    let r = op.send(
        op.http
            .get(format!("{}?{query}", op.endpoint("authorize")))
            .header("cookie", format!("oidc_edge_session={session}")),
    );
    assert_eq!(
        r.location_param("error").as_deref(),
        Some("consent_required")
    );
}

#[test]
fn admin_termination_lists_then_ends_the_session() {
    let op = start();
    let (rp, reg) = rp_at(&op, json!({}));
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);

    let list = op.sessions(USER);
    assert_eq!(list.len(), 1, "{list:?}");
    let s = &list[0];
    let id = s["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 43, "256 bits, base64url: {id}");
    assert_ne!(id, session, "the listing never shows the session token");
    assert_eq!(s["user"], USER);
    let (created, last) = (
        s["created"].as_u64().unwrap(),
        s["last_access"].as_u64().unwrap(),
    );
    let now = now().0;
    assert!(created <= last && last <= now && now - created < 60, "{s}");
    assert_eq!(s["clients"], json!([reg.id]));
    assert!(op.sessions("nobody").is_empty());

    let r = op.admin(
        Method::DELETE,
        &format!("/admin/realms/{REALM}/sessions/{id}"),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let got = rp.wait_answered(1, WAIT);
    assert_logout_token(&got[0], &op, &reg, &id_token, "SESSION_TERMINATION");
    assert!(op.sessions(USER).is_empty());
    assert!(op.shows_login_form(&reg, &session));
    // Terminating it again: it is gone.
    let r = op.admin(
        Method::DELETE,
        &format!("/admin/realms/{REALM}/sessions/{id}"),
        None,
    );
    assert_eq!(r.status, 404, "{}", r.text());

    let destroyed = op.audit(Some("AM-SESSION-DESTROYED"), None);
    assert_eq!(destroyed.len(), 1);
    assert_am_shape(&destroyed[0]);
    assert_eq!(destroyed[0]["trackingIds"], json!([id]));
}

#[test]
fn idle_sessions_are_ended_by_the_sweep() {
    let op = start_manual();
    let (rp, reg) = rp_at(&op, json!({}));
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);

    // 60 s idle, plus the 6 s slack of the lazy last-access write: not yet.
    op.advance(65);
    assert_eq!(op.sweep_now(), 0);
    op.advance(1);
    assert_eq!(op.sweep_now(), 1);
    let got = rp.wait_answered(1, WAIT);
    assert_logout_token(&got[0], &op, &reg, &id_token, "SESSION_IDLE_TIMEOUT");
    assert!(op.shows_login_form(&reg, &session));
    assert_eq!(op.sweep_now(), 0, "ended once");
    let e = op.audit(Some("AM-SESSION-IDLE_TIMED_OUT"), None);
    assert_eq!(e.len(), 1);
    assert_am_shape(&e[0]);
}

/// No sweep runs (its interval is an hour): the session's own timer ends it, on the real
/// clock, within 2 s of its idle deadline (60 s, plus the 6 s touch step of slack) — natively
/// the server's timer, in workerd the realm's Durable Object alarm.
#[test]
fn an_idle_session_ends_by_its_timer_within_2_s_of_its_deadline() {
    let op = Op::start(Start {
        options: options(NativeClock::system(), quick_delivery()),
        realm_config: json!({"session_idle_time_secs": 60, "session_max_time_secs": 3600}),
    });
    let (rp, reg) = rp_at(&op, json!({}));
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);
    let last_access = op.sessions(USER)[0]["last_access"].as_u64().unwrap();
    let deadline = last_access + 66;
    let got = rp.wait_answered(1, Duration::from_secs(90));
    let at = now().0;
    assert_logout_token(&got[0], &op, &reg, &id_token, "SESSION_IDLE_TIMEOUT");
    assert!(
        at >= deadline && at <= deadline + 2,
        "ended at {at}, its deadline {deadline}"
    );
    assert!(op.shows_login_form(&reg, &session));
}

#[test]
fn sessions_past_their_maximum_are_ended_however_active() {
    let op = start_manual();
    let (rp, reg) = rp_at(&op, json!({}));
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);

    // Activity every 50 s keeps the idle timeout away...
    for _ in 0..2 {
        op.advance(50);
        assert!(!op.shows_login_form(&reg, &session), "still signed in");
        assert_eq!(op.sweep_now(), 0);
    }
    // ...but not the maximum: 120 s after login.
    op.advance(19);
    assert_eq!(op.sweep_now(), 0, "one second short");
    assert!(rp.received().is_empty());
    op.advance(1);
    assert_eq!(op.sweep_now(), 1);
    let got = rp.wait_answered(1, WAIT);
    assert_logout_token(&got[0], &op, &reg, &id_token, "SESSION_MAX_TIMEOUT");
    assert!(op.shows_login_form(&reg, &session));
    let e = op.audit(Some("AM-SESSION-MAX_TIMED_OUT"), None);
    assert_eq!(e.len(), 1);
    assert_am_shape(&e[0]);
}

// ---------------------------------------------------------------------------------------------
// Who gets what

#[test]
fn two_rps_on_one_session_get_their_own_sid_or_none_and_a_bystander_gets_nothing() {
    let op = start();
    let (rp1, reg1) = rp_at(&op, json!({"backchannel_logout_session_required": true}));
    let (rp2, reg2) = rp_at(&op, json!({"id_token_signed_response_alg": "ES256"}));
    let (bystander, reg3) = rp_at(&op, json!({"backchannel_logout_session_required": true}));
    let session = op.session();
    let (_, c1) = op.sign_in(&reg1, &session);
    let (_, c2) = op.sign_in(&reg2, &session);
    assert_ne!(c1["sid"], c2["sid"], "two RPs, two sids");
    assert_eq!(c1["sub"], c2["sub"]);
    // The bystander signs in on another session of the same user only.
    let other = op.session();
    op.sign_in(&reg3, &other);

    let answer = op.sessions_logout(&session, true);
    assert_eq!(answer["backchannel_logout_deliveries"], 2, "{answer}");
    let t1 = rp1.wait_answered(1, WAIT);
    let t2 = rp2.wait_answered(1, WAIT);
    assert_logout_token(&t1[0], &op, &reg1, &c1, "CLIENT_LOGOUT");
    assert_logout_token(&t2[0], &op, &reg2, &c2, "CLIENT_LOGOUT");
    assert_eq!(
        t1[0].claim("sid"),
        c1["sid"],
        "session required: the sid of its ID token"
    );
    assert_eq!(t2[0].claim("sid"), Value::Null, "not required: no sid");
    assert_eq!(t1[0].claim("sub"), t2[0].claim("sub"));
    assert_ne!(t1[0].claim("jti"), t2[0].claim("jti"));
    assert_ne!(
        t1[0].claim("auditTrackingId"),
        t2[0].claim("auditTrackingId")
    );

    // Both deliveries are done and audited; the bystander got nothing, and its session lives.
    wait_outbox_empty(&op);
    let events = op.wait_audit(BCL, WAIT, |e| e.len() >= 2);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(bystander.received().is_empty());
    assert!(!op.shows_login_form(&reg3, &other));

    // Each attempt's audit event carries that token's auditTrackingId; both belong to the
    // session's end (AM's transaction id, suffixed per RP).
    let ended = op.audit(Some("AM-SESSION-LOGGED_OUT"), None);
    assert_eq!(ended.len(), 1);
    let tx = ended[0]["transactionId"].as_str().unwrap();
    for (got, uri) in [(&t1[0], rp1.uri()), (&t2[0], rp2.uri())] {
        let e = events
            .iter()
            .find(|e| e["operation"] == operation(&uri, 200))
            .unwrap_or_else(|| panic!("no audit event for {uri}: {events:?}"));
        assert_am_shape(e);
        assert_eq!(e["component"], "OAuth");
        assert_eq!(e["transactionId"], got.claim("auditTrackingId"));
        assert!(
            e["transactionId"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{tx}-")),
            "{e}"
        );
        assert_eq!(e["trackingIds"][0], e["transactionId"]);
    }
}

/// "Sign out everywhere", by the user and by an administrator, over HTTP: every session ends;
/// the RP that requires `sid` is told once per session, the other once for the user.
#[test]
fn signing_out_everywhere_tells_each_rp_as_its_sid_setting_asks() {
    let op = start();
    let (per_session, reg1) = rp_at(&op, json!({"backchannel_logout_session_required": true}));
    let (per_user, reg2) = rp_at(&op, json!({}));
    let (a, b) = (op.session(), op.session());
    let mut sids = Vec::new();
    for s in [&a, &b] {
        sids.push(op.sign_in(&reg1, s).1["sid"].clone());
        op.sign_in(&reg2, s);
    }
    let listed = op.admin_list(&format!("/admin/realms/{REALM}/users/{USER}/sessions"));
    assert_eq!(listed.len(), 2, "{listed:?}");

    let r = op.send(
        op.http
            .post(op.endpoint("sessions/logout"))
            .header("x-session-token", &a)
            .header("content-type", "application/json")
            .body(r#"{"all": true}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (
            v["sessions_ended"].as_u64(),
            v["backchannel_logout_deliveries"].as_u64()
        ),
        (Some(2), Some(3)),
        "{v}"
    );
    let got = per_session.wait_answered(2, WAIT);
    let mut got_sids: Vec<Value> = got.iter().map(|g| g.claim("sid")).collect();
    got_sids.sort_by_key(ToString::to_string);
    sids.sort_by_key(ToString::to_string);
    assert_eq!(got_sids, sids);
    let got = per_user.wait_answered(1, WAIT);
    assert_eq!(got[0].claim("sid"), Value::Null);
    assert_eq!(got[0].claim("cause"), "CLIENT_LOGOUT");
    wait_outbox_empty(&op);
    assert_eq!(per_user.received().len(), 1, "one token for the user");
    assert!(op.shows_login_form(&reg1, &b));

    // The administrator's way.
    let (c, d) = (op.session(), op.session());
    op.sign_in(&reg2, &c);
    op.sign_in(&reg2, &d);
    let r = op.admin(
        Method::DELETE,
        &format!("/admin/realms/{REALM}/users/{USER}/sessions"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["backchannel_logout_deliveries"], 1);
    let got = per_user.wait_answered(2, WAIT);
    assert_eq!(got[1].claim("cause"), "SESSION_TERMINATION");
    wait_outbox_empty(&op);
    assert_eq!(per_user.received().len(), 2);
    assert!(
        op.admin_list(&format!("/admin/realms/{REALM}/users/{USER}/sessions"))
            .is_empty()
    );
}

fn enc_key(alg: &str) -> Jwk {
    let mut key = match alg {
        "ECDH-ES" => Jwk::generate_ec(&OsEntropy).unwrap(),
        _ => Jwk::generate_rsa(2048, &OsEntropy).unwrap(),
    };
    key.key_use = Some("enc".into());
    key.kid = Some(format!("rp-enc-{alg}"));
    key
}

#[test]
fn encrypted_clients_get_a_jwe_they_decrypt() {
    let op = start();
    let mut rps = Vec::new();
    for (alg, enc) in [("ECDH-ES", None), ("RSA-OAEP-256", Some("A256GCM"))] {
        let key = enc_key(alg);
        let mut meta = json!({
            "id_token_encrypted_response_alg": alg,
            "jwks": {"keys": [key.to_public().to_value()]},
        });
        if let Some(enc) = enc {
            meta["id_token_encrypted_response_enc"] = json!(enc);
        }
        let rp = TestRp::start();
        meta["backchannel_logout_uri"] = json!(rp.uri());
        let mut reg = op.register(meta);
        reg.decrypt = Some(key);
        rp.expect(expect(&op, &reg));
        rps.push((rp, reg, alg, enc.unwrap_or("A128CBC-HS256")));
    }
    let session = op.session();
    let ids: Vec<Value> = rps
        .iter()
        .map(|(_, reg, _, _)| op.sign_in(reg, &session).1)
        .collect();
    op.sessions_logout(&session, false);

    for ((rp, reg, alg, enc), id_token) in rps.iter().zip(&ids) {
        let got = rp.wait_answered(1, WAIT);
        assert_eq!(got[0].answered.unwrap().0, 200, "{:?}", got[0].verdict);
        let token = got[0].logout_token.as_deref().unwrap();
        assert_eq!(token.split('.').count(), 5, "a JWE");
        let h = segment_json(token);
        assert_eq!(h["alg"], *alg);
        assert_eq!(h["enc"], *enc);
        assert_eq!(h["cty"], "JWT");
        assert_eq!(h["kid"], format!("rp-enc-{alg}"));
        // iss and aud are replicated into the JWE header.
        assert_eq!(h["iss"], op.issuer.as_str());
        assert_eq!(h["aud"], reg.id.as_str());
        let c = got[0].claims();
        assert_eq!(c.claims["sub"], id_token["sub"]);
        assert_eq!(c.claims["cause"], "CLIENT_LOGOUT");
        assert_eq!(c.claims["aud"], reg.id.as_str());
    }
}

// ---------------------------------------------------------------------------------------------
// Delivery outcomes

/// One RP on one session, logged out through the admin API; returns the RP and its ID token.
fn one_rp_logged_out(op: &Op, answer: Answer) -> (TestRp, Registered, Value) {
    let (rp, reg) = rp_at(op, json!({}));
    rp.answer(answer);
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);
    let id = op.only_session_id(USER);
    let r = op.admin(
        Method::DELETE,
        &format!("/admin/realms/{REALM}/sessions/{id}"),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    (rp, reg, id_token)
}

#[test]
fn a_503_is_retried_with_a_fresh_token_and_the_same_tracking_id() {
    let op = start();
    let (rp, reg) = rp_at(&op, json!({}));
    rp.script([Answer::Status(503)], Answer::Verified);
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);
    op.sessions_logout(&session, true);

    let got = rp.wait_answered(2, WAIT);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].answered.unwrap().0, 503);
    assert_eq!(got[1].answered.unwrap().0, 200);
    for g in &got {
        assert_logout_token(g, &op, &reg, &id_token, "CLIENT_LOGOUT");
    }
    assert_ne!(got[0].claim("jti"), got[1].claim("jti"), "minted afresh");
    assert_eq!(
        got[0].claim("auditTrackingId"),
        got[1].claim("auditTrackingId"),
        "one tracking id across retries"
    );
    let events = op.wait_audit(BCL, WAIT, |e| e.len() >= 2);
    let uri = rp.uri();
    assert_eq!(
        ops_for(&events, &uri),
        [operation(&uri, 503), operation(&uri, 200)]
    );
    assert_eq!(events[0]["transactionId"], events[1]["transactionId"]);
    assert_eq!(events[0]["transactionId"], got[0].claim("auditTrackingId"));
    wait_outbox_empty(&op);
    assert!(op.deliveries("dead").is_empty());
    assert_eq!(rp.received().len(), 2, "nothing after the 200");
}

#[test]
fn a_400_is_final_one_attempt_no_retry() {
    let op = start();
    let (rp, _, _) = one_rp_logged_out(&op, Answer::Status(400));
    let uri = rp.uri();
    let events = op.wait_audit(BCL, WAIT, |e| !e.is_empty());
    assert_eq!(ops_for(&events, &uri), [operation(&uri, 400)]);
    // Finished: out of the outbox (nothing left to retry) and not a dead letter either.
    wait_outbox_empty(&op);
    assert!(op.deliveries("dead").is_empty());
    assert_eq!(rp.received().len(), 1);
    assert_eq!(op.audit(Some(BCL), None).len(), 1);
}

#[test]
fn a_hanging_rp_times_out_is_retried_then_dead_lettered() {
    let op = start_with(DeliveryPolicy {
        timeout_ms: 300,
        retry_max: 1,
        retry_base_ms: 100,
        concurrency: 16,
    });
    let (rp, reg, _) = one_rp_logged_out(&op, Answer::Hang);
    let uri = rp.uri();
    let dead = wait(WAIT, "a dead letter", || {
        let d = op.deliveries("dead");
        if d.is_empty() { Err(d) } else { Ok(d) }
    });
    assert_eq!(dead.len(), 1, "{dead:?}");
    let timeout_op =
        format!("Sent logout request to {uri}, which did not respond within 300 ms (timeout).");
    let d = &dead[0];
    assert_eq!(d["client_id"], reg.id.as_str());
    assert_eq!(d["uri"], uri.as_str());
    assert_eq!(d["state"], "dead");
    assert_eq!(d["attempts"], 2, "the first attempt and retry_max = 1 more");
    assert_eq!(d["cause"], "SESSION_TERMINATION");
    assert_eq!(d["last_outcome"], timeout_op.as_str());
    let events = op.audit(Some(BCL), None);
    assert_eq!(ops_for(&events, &uri), [timeout_op.clone(), timeout_op]);
    assert!(op.deliveries("pending").is_empty());
    // Both attempts reached the RP and carried valid tokens.
    let got = rp.wait_for(2, WAIT);
    assert_eq!(got.len(), 2);
    assert!(
        got.iter()
            .all(|g| g.verdict.is_ok() && g.answered.is_none())
    );
}

// ---------------------------------------------------------------------------------------------
// The audit trail

#[test]
fn audit_events_have_ams_shape_and_since_filters_by_time() {
    let op = start_manual();
    let (rp, reg) = rp_at(&op, json!({}));
    let first = op.session();
    op.sign_in(&reg, &first);
    op.sessions_logout(&first, true);
    rp.wait_answered(1, WAIT);
    op.wait_audit(BCL, WAIT, |e| e.len() == 1);

    op.advance(10);
    let second_start = op.clock.now_ms();
    let second = op.session();
    op.sign_in(&reg, &second);
    op.sessions_logout(&second, true);
    rp.wait_answered(2, WAIT);
    op.wait_audit(BCL, WAIT, |e| e.len() == 2);

    let all = op.audit(None, None);
    for e in &all {
        assert_am_shape(e);
    }
    let names: Vec<&str> = all
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == "AM-SESSION-LOGGED_OUT")
            .count(),
        2
    );
    assert_eq!(names.iter().filter(|n| **n == BCL).count(), 2);
    let stamps: Vec<&str> = all
        .iter()
        .map(|e| e["timestamp"].as_str().unwrap())
        .collect();
    assert!(stamps.is_sorted(), "oldest first: {stamps:?}");

    // since: the second logout only, however the instant is written.
    let since = rfc3339_ms(second_start);
    let later = op.audit(None, Some(&since));
    assert!(
        !later.is_empty() && later.len() < all.len(),
        "since {since}: {later:?} of {stamps:?}"
    );
    assert!(
        later
            .iter()
            .all(|e| e["timestamp"].as_str().unwrap() >= since.as_str())
    );
    assert_eq!(later.iter().filter(|e| e["eventName"] == BCL).count(), 1);
    let with_offset = offset_form(second_start);
    assert_eq!(op.audit(None, Some(&with_offset)), later);
    assert_eq!(op.audit(Some(BCL), Some(&since)).len(), 1);
    let r = op.admin(
        Method::GET,
        &format!("/admin/realms/{REALM}/audit?since=yesterday"),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_request");
}

/// `ms` as an RFC 3339 time two hours east of UTC, without fractions (it is a whole second).
fn offset_form(ms: u64) -> String {
    let utc = rfc3339_ms(ms + 2 * 3600 * 1000);
    format!("{}+02:00", &utc[..19])
}

// ---------------------------------------------------------------------------------------------
// Interop: an independent JOSE library verifies what the RPs received

#[test]
fn jose_verifies_and_decrypts_the_logout_tokens_of_a_real_run() {
    let op = start();
    let (plain_rp, plain) = rp_at(&op, json!({"backchannel_logout_session_required": true}));
    let (es_rp, es) = rp_at(&op, json!({"id_token_signed_response_alg": "ES256"}));
    let (ps_rp, ps) = rp_at(&op, json!({"id_token_signed_response_alg": "PS256"}));
    let key = enc_key("ECDH-ES");
    let enc_rp = TestRp::start();
    let mut enc = op.register(json!({
        "backchannel_logout_uri": enc_rp.uri(),
        "id_token_encrypted_response_alg": "ECDH-ES+A128KW",
        "id_token_encrypted_response_enc": "A256GCM",
        "jwks": {"keys": [key.to_public().to_value()]},
    }));
    enc.decrypt = Some(key.clone());
    enc_rp.expect(expect(&op, &enc));
    let session = op.session();
    for reg in [&plain, &es, &ps, &enc] {
        op.sign_in(reg, &session);
    }
    op.sessions_logout(&session, true);
    let token = |rp: &TestRp| {
        let got = rp.wait_answered(1, WAIT);
        assert!(got[0].verdict.is_ok(), "{:?}", got[0].verdict);
        got[0].logout_token.clone().unwrap()
    };
    let jwks = op.jwks().to_value();
    let cases = [
        (&plain, token(&plain_rp), None),
        (&es, token(&es_rp), None),
        (&ps, token(&ps_rp), None),
        (&enc, token(&enc_rp), Some(key.to_value())),
    ];
    let requests: Vec<Value> = cases
        .iter()
        .map(|(reg, token, decrypt)| {
            let mut r = json!({
                "token": token,
                "jwks": jwks,
                "typ": "logout+jwt",
                "algorithms": [reg.alg.as_str()],
            });
            if let Some(k) = decrypt {
                r["decryptKey"] = k.clone();
            }
            r
        })
        .collect();
    let Some(results) = jose_verify_batch(&requests) else {
        return;
    };
    assert_eq!(results.len(), cases.len());
    for ((reg, _, decrypt), result) in cases.iter().zip(&results) {
        assert!(
            result.get("error").is_none(),
            "jose refused {}: {result}",
            reg.id
        );
        let p = &result["payload"];
        assert_eq!(p["iss"], op.issuer.as_str());
        assert_eq!(p["aud"], reg.id.as_str());
        assert_eq!(p["events"], json!({EVENT: {}}));
        assert_eq!(p["cause"], "CLIENT_LOGOUT");
        assert!(p.get("nonce").is_none());
        assert_eq!(result["protectedHeader"]["typ"], "logout+jwt");
        assert_eq!(result["protectedHeader"]["alg"], reg.alg.as_str());
        match decrypt {
            Some(_) => {
                assert_eq!(result["jweHeader"]["alg"], "ECDH-ES+A128KW");
                assert_eq!(result["jweHeader"]["enc"], "A256GCM");
                assert_eq!(result["jweHeader"]["cty"], "JWT");
            }
            None => assert!(result.get("jweHeader").is_none()),
        }
    }
    assert!(results[0]["payload"]["sid"].is_string(), "session required");
    assert!(results[1]["payload"].get("sid").is_none());
}

// ---------------------------------------------------------------------------------------------
// Independence: one slow RP must not hold up everyone else

/// A regression test: when the native worker awaited a whole batch of attempts before it
/// looked at the outbox again, a logout enqueued meanwhile waited for the slowest RP of the
/// batch (the full delivery timeout). The hanging attempt's timeout here is far beyond the
/// wait: the second session's RP is told while the first attempt is still open.
#[test]
fn a_hanging_rp_does_not_delay_another_sessions_logout() {
    if Target::is_worker() {
        // Named in the README: Miniflare's local Queue hands its consumer one batch at a time;
        // on Cloudflare a backlog scales the consumer out to concurrent invocations.
        return not_applicable(
            "Miniflare's local Queue runs one consumer batch at a time (Cloudflare runs them concurrently)",
        );
    }
    let op = start_with(DeliveryPolicy {
        timeout_ms: 60_000,
        retry_max: 0,
        retry_base_ms: 100,
        concurrency: 16,
    });
    let (slow, slow_reg) = rp_at(&op, json!({}));
    slow.answer(Answer::Hang);
    let (fast, fast_reg) = rp_at(&op, json!({}));
    let first = op.session();
    op.sign_in(&slow_reg, &first);
    let second = op.session();
    op.sign_in(&fast_reg, &second);

    op.sessions_logout(&first, true);
    slow.wait_for(1, WAIT);
    op.sessions_logout(&second, true);
    fast.wait_answered(1, WAIT);
    let events = op.wait_audit(BCL, WAIT, |e| !ops_for(e, &fast.uri()).is_empty());
    assert_eq!(ops_for(&events, &fast.uri()), [operation(&fast.uri(), 200)]);
    // The first session's attempt has not concluded: unanswered, unaudited, still pending.
    assert!(ops_for(&events, &slow.uri()).is_empty(), "{events:?}");
    assert!(slow.received().iter().all(|r| r.answered.is_none()));
    let pending = op.deliveries("pending");
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["client_id"], slow_reg.id.as_str());
}

/// The provider's clock, not the wall clock, says when a retry is due: on a manual clock that
/// stands still the retry waits, however long, and goes once the clock moves past its time.
#[test]
fn a_retry_waits_for_the_providers_clock_not_the_wall_clock() {
    if Target::is_worker() {
        return not_applicable(
            "a Worker's retry is a Queue message delayed by the Queue in real seconds",
        );
    }
    let op = Op::start(Start {
        options: options(
            NativeClock::manual(now()),
            // The first retry is due 0.5 to 1 s after the failure, on the provider's clock.
            DeliveryPolicy {
                retry_base_ms: 1000,
                ..quick_delivery()
            },
        ),
        realm_config: json!({}),
    });
    let (rp, reg) = rp_at(&op, json!({}));
    rp.script([Answer::Status(503)], Answer::Verified);
    let session = op.session();
    op.sign_in(&reg, &session);
    op.sessions_logout(&session, true);
    let first = rp.wait_answered(1, WAIT);
    assert_eq!(first[0].answered.unwrap().0, 503);

    // Past the retry's time on the wall clock, not on the provider's.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(rp.received().len(), 1, "retried on the wall clock");
    assert_eq!(op.deliveries("pending").len(), 1);

    op.advance(2);
    let got = rp.wait_answered(2, WAIT);
    assert_eq!(got[1].answered.unwrap().0, 200);
    assert_eq!(
        got[0].claim("auditTrackingId"),
        got[1].claim("auditTrackingId")
    );
    assert_ne!(got[0].claim("jti"), got[1].claim("jti"));
    wait_outbox_empty(&op);
}

#[test]
fn the_ssrf_guard_refuses_loopback_once_the_realm_stops_allowing_it() {
    let op = start();
    let (rp, reg) = rp_at(&op, json!({}));
    let session = op.session();
    op.sign_in(&reg, &session);
    // Registered while private URIs were allowed; then the realm stops allowing them.
    let r = op.admin(
        Method::PUT,
        &format!("/admin/realms/{REALM}"),
        Some(&json!({"allow_private_uris": false})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    op.sessions_logout(&session, true);
    let uri = rp.uri();
    let refused = format!(
        "Failed to send logout request to {uri}: refused by the SSRF guard: 127.0.0.1 is a \
         loopback or private address."
    );
    // A refusal by policy is final: one attempt, audited, neither retried nor dead-lettered.
    let events = op.wait_audit(BCL, WAIT, |e| !e.is_empty());
    assert_eq!(ops_for(&events, &uri), [refused]);
    wait_outbox_empty(&op);
    assert!(op.deliveries("dead").is_empty());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(op.audit(Some(BCL), None).len(), 1, "not retried");
    assert!(rp.received().is_empty(), "nothing reached the RP");
}
