//! The provider driven through `handle` with an in-memory host and a virtual clock: the
//! code flow end to end, sids per client, and the refusals that matter.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use oidc_edge_core::host::PostOutcome;
use oidc_edge_core::http::{Method, Request, Response};
use oidc_edge_core::jose::{Jwk, JwsAlg, KeyCache};
use oidc_edge_core::provider;
use oidc_edge_core::realm;
use oidc_edge_tests::memory::*;
use serde_json::{Value, json};
use std::rc::Rc;

#[test]
fn code_flow_gives_each_client_its_own_stable_sid() {
    let (h, session) = setup();
    let rp1 = register(
        &h,
        json!({"redirect_uris": ["https://rp1.example/cb"], "backchannel_logout_uri": "https://rp1.example/bc"}),
    );
    let (verifier, challenge) = pkce();
    let rp2 = register(
        &h,
        json!({"redirect_uris": ["http://127.0.0.1:9000/cb?x=1"], "token_endpoint_auth_method": "none", "id_token_signed_response_alg": "ES256"}),
    );

    let r = authorize(&h, &rp1, Some(&session), "");
    assert_eq!(r.status, 302);
    let p = location_params(&r);
    assert_eq!((p["state"].as_str(), p["iss"].as_str()), ("st4te", ISS));
    let r = exchange(&h, &rp1, &p["code"], None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let tok = json_of(&r);
    assert_eq!(tok["token_type"], "Bearer");
    let c1 = id_token_claims(&h, tok["id_token"].as_str().unwrap(), JwsAlg::RS256);
    for claim in [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "sid",
    ] {
        assert!(c1.get(claim).is_some(), "ID token lacks {claim}: {c1}");
    }
    assert_eq!(
        (c1["iss"].as_str(), c1["aud"].as_str(), c1["nonce"].as_str()),
        (Some(ISS), Some(rp1.id.as_str()), Some("n0nce"))
    );
    assert_eq!(c1["email"], "alice@example.com");

    // userinfo with the access token.
    let r = h.call(
        Request::new(Method::Get, "/realms/r1/userinfo").with_header(
            "authorization",
            &format!("Bearer {}", tok["access_token"].as_str().unwrap()),
        ),
    );
    assert_eq!(r.status, 200);
    assert_eq!(json_of(&r)["sub"], c1["sub"]);

    // A second client on the same session: PKCE, ES256, a different sid.
    let r = authorize(
        &h,
        &rp2,
        Some(&session),
        &format!("&code_challenge={challenge}&code_challenge_method=S256"),
    );
    assert_eq!(r.status, 302);
    let loc = r.header("location").unwrap();
    assert!(
        loc.starts_with("http://127.0.0.1:9000/cb?x=1&code="),
        "{loc}"
    );
    let code2 = location_params(&r)["code"].clone();
    let r = exchange(&h, &rp2, &code2, Some(&verifier));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let c2 = id_token_claims(&h, json_of(&r)["id_token"].as_str().unwrap(), JwsAlg::ES256);
    assert_ne!(c1["sid"], c2["sid"]);
    assert_eq!(c1["sub"], c2["sub"]);

    // The first client again: the same sid.
    let r = authorize(&h, &rp1, Some(&session), "");
    let r = exchange(&h, &rp1, &location_params(&r)["code"], None);
    let again = id_token_claims(&h, json_of(&r)["id_token"].as_str().unwrap(), JwsAlg::RS256);
    assert_eq!(c1["sid"], again["sid"]);

    // Code replay fails.
    let r = exchange(&h, &rp2, &code2, Some(&verifier));
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[test]
fn refusals() {
    let (h, session) = setup();
    let public = register(
        &h,
        json!({"redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "none"}),
    );
    let confidential = register(&h, json!({"redirect_uris": ["https://rp.example/cb"]}));
    let (_, challenge) = pkce();

    // Public client without PKCE: error redirected to the (validated) redirect URI.
    let r = authorize(&h, &public, Some(&session), "");
    assert_eq!(r.status, 302);
    assert_eq!(location_params(&r)["error"], "invalid_request");
    // Wrong verifier.
    let r = authorize(
        &h,
        &public,
        Some(&session),
        &format!("&code_challenge={challenge}&code_challenge_method=S256"),
    );
    let r = exchange(
        &h,
        &public,
        &location_params(&r)["code"],
        Some("a-wrong-verifier-of-at-least-forty-three-characters-xx"),
    );
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // plain PKCE refused.
    let r = authorize(
        &h,
        &public,
        Some(&session),
        &format!("&code_challenge={challenge}&code_challenge_method=plain"),
    );
    assert_eq!(location_params(&r)["error"], "invalid_request");
    // Redirect mismatch: an error page here, never a redirect.
    let bad = Rp {
        redirect: "https://rp.example/cb/evil".into(),
        ..Rp {
            id: confidential.id.clone(),
            secret: None,
            redirect: String::new(),
        }
    };
    let r = authorize(&h, &bad, Some(&session), "");
    assert_eq!(r.status, 400);
    assert!(r.header("location").is_none());
    // prompt=none without a session.
    let r = authorize(&h, &confidential, None, "&prompt=none");
    assert_eq!(location_params(&r)["error"], "login_required");
    // No session: the login form, with a CSRF cookie.
    let r = authorize(&h, &confidential, None, "");
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("name=\"csrf\""));
    assert!(r.header("set-cookie").unwrap().contains("oidc_edge_csrf="));
    // Bad client secret.
    let r = authorize(&h, &confidential, Some(&session), "");
    let code = location_params(&r)["code"].clone();
    let wrong = Rp {
        secret: Some("not-the-secret-at-all".into()),
        ..Rp {
            id: confidential.id.clone(),
            secret: None,
            redirect: confidential.redirect.clone(),
        }
    };
    let r = exchange(&h, &wrong, &code, None);
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Invalid metadata.
    let r = h.call(Request::new(Method::Post, "/realms/r1/register").with_header("content-type", "application/json").with_body(r#"{"redirect_uris":["https://rp/cb"],"backchannel_logout_uri":"https://rp/bc#frag"}"#));
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    // Unknown realm, admin without token.
    let r = h.call(Request::new(
        Method::Get,
        "/realms/nope/.well-known/openid-configuration",
    ));
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (404, Some("not_found"))
    );
    let r = h.call(Request::new(Method::Get, "/admin/realms/r1"));
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (401, Some("invalid_token"))
    );
    // Expired code.
    let r = authorize(&h, &confidential, Some(&session), "");
    let code = location_params(&r)["code"].clone();
    h.now.set(h.now.get() + 61);
    let r = exchange(&h, &confidential, &code, None);
    assert_eq!(json_of(&r)["error"], "invalid_grant");
}

#[test]
fn keys_are_sealed_and_rotation_keeps_the_previous_public_key() {
    let (h, _) = setup();
    let before = json_of(&h.call(Request::new(Method::Get, "/realms/r1/jwks")));
    assert_eq!(before["keys"].as_array().unwrap().len(), 2);
    for (k, (v, _)) in h
        .store
        .borrow()
        .iter()
        .filter(|(k, _)| k.starts_with("key/"))
    {
        let text = String::from_utf8_lossy(v);
        assert!(!text.contains("\"d\""), "{k} holds a plain private key");
    }
    let r = h.admin(Method::Post, "/admin/realms/r1/keys/rotate", json!({}));
    assert_eq!(r.status, 200);
    let after = json_of(&h.call(Request::new(Method::Get, "/realms/r1/jwks")));
    let kids = |v: &Value| {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(kids(&after).len(), 4);
    for kid in kids(&before) {
        assert!(kids(&after).contains(&kid), "previous key {kid} dropped");
    }
    let r = h.admin(Method::Post, "/admin/realms/r1/keys/rotate", json!({}));
    assert_eq!(r.status, 200);
    let third = json_of(&h.call(Request::new(Method::Get, "/realms/r1/jwks")));
    assert_eq!(kids(&third).len(), 4);
    assert!(
        kids(&before).iter().all(|k| !kids(&third).contains(k)),
        "two rotations retire the first keys"
    );
}

/// With a key cache, a realm key is unsealed and parsed once: later signatures use the kept
/// key without reading its sealed record; a rotation's new key (a new `kid`) is the one used
/// from then on.
#[test]
fn a_kept_signing_key_is_reused_until_rotation() {
    let (mut h, _) = setup();
    h.key_cache = Some(KeyCache::new());
    let realm = |h: &TestHost| block_on(realm::load(h, "r1")).unwrap().unwrap();
    let key = |h: &TestHost| block_on(realm::signing_key(h, &realm(h), JwsAlg::ES256));
    let first = key(&h).unwrap();
    // The sealed records gone: only a kept key can still sign.
    let sealed: Vec<String> = h
        .store
        .borrow()
        .keys()
        .filter(|k| k.starts_with("key/"))
        .cloned()
        .collect();
    assert!(!sealed.is_empty());
    let saved: Vec<_> = sealed
        .iter()
        .map(|k| (k.clone(), h.store.borrow_mut().remove(k).unwrap()))
        .collect();
    let again = key(&h).unwrap();
    assert!(Rc::ptr_eq(&first, &again), "the key was parsed again");
    h.key_cache = None;
    assert!(
        key(&h).is_err(),
        "without the cache the sealed record is read"
    );
    h.key_cache = Some(KeyCache::new());
    h.store.borrow_mut().extend(saved);
    let r = h.admin(Method::Post, "/admin/realms/r1/keys/rotate", json!({}));
    assert_eq!(r.status, 200);
    let rotated = key(&h).unwrap();
    assert_ne!(rotated.kid, first.kid, "the rotated key signs");
}

#[test]
fn discovery_advertises_back_channel_logout() {
    let (h, _) = setup();
    let d = json_of(&h.call(Request::new(
        Method::Get,
        "/realms/r1/.well-known/openid-configuration",
    )));
    assert_eq!(d["issuer"], ISS);
    assert_eq!(d["backchannel_logout_supported"], true);
    assert_eq!(d["backchannel_logout_session_supported"], true);
    assert_eq!(d["end_session_endpoint"], format!("{ISS}/end_session"));
    assert!(
        d["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("RS256"))
    );
}

/// The sign-in form's POST, with the CSRF cookie exactly as a host hands it to the core (the
/// native host decodes header bytes that are not UTF-8 to U+FFFD) and `body` as the form.
fn post_login(h: &TestHost, csrf_cookie: &[u8], body: &str) -> Response {
    let mut cookie = b"oidc_edge_csrf=".to_vec();
    cookie.extend_from_slice(csrf_cookie);
    h.call(
        Request::new(Method::Post, "/realms/r1/login")
            .with_header("cookie", &String::from_utf8_lossy(&cookie))
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(body.to_owned()),
    )
}

#[test]
fn two_different_malformed_csrf_tokens_do_not_match() {
    let (h, _) = setup();
    let creds = "username=alice&password=correct+horse";
    // The same well-formed token on both sides signs in: the control.
    let t = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN012";
    let r = post_login(&h, t.as_bytes(), &format!("csrf={t}&{creds}"));
    assert_eq!(r.status, 303, "{}", String::from_utf8_lossy(&r.body));
    // Byte FE in the cookie, byte FF in the form: both used to read as U+FFFD, and matched.
    let r = post_login(&h, b"\xfe", &format!("csrf=%FF&{creds}"));
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.header("set-cookie").is_none());
    let r = post_login(&h, b"%FE", &format!("csrf=%FF&{creds}"));
    assert_eq!(r.status, 400);
}

#[test]
fn the_audit_query_refuses_a_since_that_is_not_rfc3339_with_400() {
    let (h, _) = setup();
    let since = |s: &str| {
        h.admin(
            Method::Get,
            &format!("/admin/realms/r1/audit?since={s}"),
            Value::Null,
        )
    };
    // `+0é00` (a non-ASCII offset: this used to panic), `+99:99`, no such day.
    for bad in [
        "2026-11-26T00:00:00%2B0%C3%A900",
        "2026-11-26T00:00:00%2B99:99",
        "2026-02-30T00:00:00Z",
    ] {
        let r = since(bad);
        assert_eq!(
            (r.status, json_of(&r)["error"].as_str()),
            (400, Some("invalid_request")),
            "{bad}"
        );
    }
    let r = since("2026-11-26T00:00:00%2B02:00");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

// ---- Back-channel logout --------------------------------------------------------------------
#[test]
fn logout_reaches_every_rp_that_holds_an_id_token() {
    let (h, session) = setup();
    let rp1 = register(
        &h,
        json!({"redirect_uris": ["https://rp1.example/cb"], "backchannel_logout_uri": "https://rp1.example/bc", "backchannel_logout_session_required": true}),
    );
    let rp2 = register(
        &h,
        json!({"redirect_uris": ["https://rp2.example/cb"], "backchannel_logout_uri": "https://rp2.example/bc", "id_token_signed_response_alg": "ES256"}),
    );
    let rp3 = register(&h, json!({"redirect_uris": ["https://rp3.example/cb"]}));
    let enc_key = Jwk::generate_ec(&h).unwrap();
    let mut public = enc_key.to_public().to_value();
    public["use"] = json!("enc");
    let rp4 = register(
        &h,
        json!({"redirect_uris": ["https://rp4.example/cb"], "backchannel_logout_uri": "https://rp4.example/bc?tenant=4", "id_token_encrypted_response_alg": "ECDH-ES+A128KW", "id_token_encrypted_response_enc": "A256GCM", "jwks": {"keys": [public]}}),
    );
    let _unused = register(
        &h,
        json!({"redirect_uris": ["https://rp5.example/cb"], "backchannel_logout_uri": "https://rp5.example/bc"}),
    );
    let c1 = login(&h, &rp1, &session, JwsAlg::RS256, None);
    let c2 = login(&h, &rp2, &session, JwsAlg::ES256, None);
    login(&h, &rp3, &session, JwsAlg::RS256, None);
    let c4 = login(&h, &rp4, &session, JwsAlg::RS256, Some(&enc_key));

    let r = h.call(
        Request::new(Method::Post, "/realms/r1/sessions/logout")
            .with_header("x-session-token", &session),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        json_of(&r)["backchannel_logout_deliveries"],
        3,
        "rp3 has no URI and rp5 never got an ID token"
    );
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    // Durable before the answer: three entries in the outbox, nothing sent yet.
    assert!(h.posts.borrow().is_empty());
    let report = run_due(&h);
    assert_eq!((report.attempted, report.pending), (3, 0));

    let t1 = received(&h, "https://rp1.example/bc", &rp1.id, None);
    let t2 = received(&h, "https://rp2.example/bc", &rp2.id, None);
    let t4 = received(
        &h,
        "https://rp4.example/bc?tenant=4",
        &rp4.id,
        Some(&enc_key),
    );
    assert_eq!((t1.len(), t2.len(), t4.len()), (1, 1, 1));
    assert_eq!(
        t1[0]["sid"], c1["sid"],
        "session_required: the sid of rp1's ID token"
    );
    assert!(t2[0].get("sid").is_none(), "rp2 did not ask for sid");
    assert!(t4[0].get("sid").is_none());
    for (t, c) in [(&t1[0], &c1), (&t2[0], &c2), (&t4[0], &c4)] {
        assert_eq!(t["sub"], c["sub"]);
        assert_eq!(t["cause"], "CLIENT_LOGOUT");
        assert!(t["auditTrackingId"].is_string());
        assert!(t.get("nonce").is_none());
    }
    let body = &h.posts.borrow()[0].1;
    assert!(body.starts_with("logout_token=ey"), "{body}");

    // One audit event per attempt, in AM's words, and one for the session's end.
    let events = audit(&h, "AM-BACK-CHANNEL-LOGOUT");
    assert_eq!(events.len(), 3);
    assert!(events.iter().any(|e| e["operation"]
        == "Sent logout request to https://rp1.example/bc, which responded with HTTP code 200."));
    for e in &events {
        for f in [
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
            assert!(e.get(f).is_some(), "audit event lacks {f}: {e}");
        }
        assert_eq!(e["realm"], "/r1");
    }
    assert_eq!(audit(&h, "AM-SESSION-LOGGED_OUT").len(), 1);

    // The session is over: authorize asks to log in again; logging out again is refused.
    let r = authorize(&h, &rp1, Some(&session), "");
    assert_eq!(r.status, 200, "the login form");
    let r = h.call(
        Request::new(Method::Post, "/realms/r1/sessions/logout")
            .with_header("x-session-token", &session),
    );
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (401, Some("invalid_token"))
    );
}

#[test]
fn transient_failures_are_retried_rejections_are_not_and_exhaustion_dead_letters() {
    let (h, session) = setup();
    let rps: Vec<Rp> = (1..=3)
        .map(|i| register(&h, json!({"redirect_uris": [format!("https://rp{i}.example/cb")], "backchannel_logout_uri": format!("https://rp{i}.example/bc")})))
        .collect();
    for rp in &rps {
        login(&h, rp, &session, JwsAlg::RS256, None);
    }
    h.answers.borrow_mut().insert(
        "https://rp1.example/bc".into(),
        vec![PostOutcome::Status(503), PostOutcome::Status(200)],
    );
    h.answers.borrow_mut().insert(
        "https://rp2.example/bc".into(),
        vec![PostOutcome::Status(400)],
    );
    h.answers.borrow_mut().insert(
        "https://rp3.example/bc".into(),
        vec![PostOutcome::Timeout; 3],
    );
    let sessions = json_of(&h.admin(
        Method::Get,
        "/admin/realms/r1/sessions?user=alice",
        Value::Null,
    ));
    assert_eq!(sessions["resultCount"], 1);
    assert_eq!(
        sessions["result"][0]["clients"].as_array().unwrap().len(),
        3
    );
    let id = sessions["result"][0]["id"].as_str().unwrap().to_owned();
    let r = h.admin(
        Method::Delete,
        &format!("/admin/realms/r1/sessions/{id}"),
        Value::Null,
    );
    assert_eq!(r.status, 204);

    assert_eq!(run_due(&h).attempted, 3);
    assert_eq!(run_due(&h).attempted, 0, "retries wait for their backoff");
    h.now.set(h.now.get() + 2);
    assert_eq!(
        run_due(&h).attempted,
        2,
        "rp1 and rp3 again; rp2 refused for good"
    );
    h.now.set(h.now.get() + 3);
    assert_eq!(run_due(&h).attempted, 1, "rp3's third and last attempt");
    assert_eq!(run_due(&h).pending, 0);

    let t1 = received(&h, "https://rp1.example/bc", &rps[0].id, None);
    assert_eq!(t1.len(), 2);
    assert_ne!(t1[0]["jti"], t1[1]["jti"], "minted afresh per attempt");
    assert_eq!(
        t1[0]["auditTrackingId"], t1[1]["auditTrackingId"],
        "tracking id kept"
    );
    assert_eq!(t1[0]["cause"], "SESSION_TERMINATION");
    assert_eq!(
        received(&h, "https://rp2.example/bc", &rps[1].id, None).len(),
        1
    );
    assert_eq!(
        h.posts
            .borrow()
            .iter()
            .filter(|(u, _)| u == "https://rp3.example/bc")
            .count(),
        3
    );

    let ops: Vec<String> = audit(&h, "AM-BACK-CHANNEL-LOGOUT")
        .iter()
        .map(|e| e["operation"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ops.len(), 6);
    assert!(
        ops.contains(
            &"Sent logout request to https://rp1.example/bc, which responded with HTTP code 503."
                .to_owned()
        )
    );
    assert!(
        ops.contains(
            &"Sent logout request to https://rp2.example/bc, which responded with HTTP code 400."
                .to_owned()
        )
    );
    assert_eq!(
        ops.iter()
            .filter(|o| o.contains("rp3.example") && o.contains("timeout"))
            .count(),
        3
    );
    let dead = json_of(&h.admin(
        Method::Get,
        "/admin/realms/r1/deliveries?state=dead",
        Value::Null,
    ));
    assert_eq!(dead["resultCount"], 1);
    assert_eq!(dead["result"][0]["client_id"], rps[2].id.as_str());
    assert_eq!(audit(&h, "AM-SESSION-DESTROYED").len(), 1);
}

#[test]
fn the_sweep_ends_idle_and_overlong_sessions() {
    let (h, session) = setup(); // idle 600 s, max 8 h
    let rp = register(
        &h,
        json!({"redirect_uris": ["https://rp.example/cb"], "backchannel_logout_uri": "https://rp.example/bc"}),
    );
    login(&h, &rp, &session, JwsAlg::RS256, None);
    // Activity moves the idle deadline: 300 s, touch, 400 s: still alive.
    h.now.set(h.now.get() + 300);
    assert_eq!(authorize(&h, &rp, Some(&session), "").status, 302);
    h.now.set(h.now.get() + 400);
    assert_eq!(block_on(provider::sweep(&h)).unwrap(), 0);
    // Idle past 600 s (+ one 60 s touch step of slack, + the minute bucket).
    h.now.set(h.now.get() + 400);
    assert_eq!(block_on(provider::sweep(&h)).unwrap(), 1);
    run_due(&h);
    let t = received(&h, "https://rp.example/bc", &rp.id, None);
    assert_eq!(t[0]["cause"], "SESSION_IDLE_TIMEOUT");
    assert_eq!(audit(&h, "AM-SESSION-IDLE_TIMED_OUT").len(), 1);
    h.posts.borrow_mut().clear();

    // Max time: 1200 s, however active.
    assert_eq!(
        h.admin(
            Method::Put,
            "/admin/realms/r1",
            json!({"session_max_time_secs": 1200, "session_idle_time_secs": 600})
        )
        .status,
        200
    );
    let r = h.call(
        Request::new(Method::Post, "/realms/r1/authenticate")
            .with_header("content-type", "application/json")
            .with_body(r#"{"username":"alice","password":"correct horse"}"#),
    );
    let s2 = json_of(&r)["tokenId"].as_str().unwrap().to_owned();
    login(&h, &rp, &s2, JwsAlg::RS256, None);
    for _ in 0..3 {
        h.now.set(h.now.get() + 300);
        assert_eq!(block_on(provider::sweep(&h)).unwrap(), 0);
        assert_eq!(
            authorize(&h, &rp, Some(&s2), "").status,
            302,
            "still signed in"
        );
    }
    h.now.set(h.now.get() + 299);
    assert_eq!(
        block_on(provider::sweep(&h)).unwrap(),
        0,
        "one second short of the maximum"
    );
    h.now.set(h.now.get() + 1);
    assert_eq!(block_on(provider::sweep(&h)).unwrap(), 1);
    run_due(&h);
    let t = received(&h, "https://rp.example/bc", &rp.id, None);
    assert_eq!(
        (t.len(), t[0]["cause"].as_str()),
        (1, Some("SESSION_MAX_TIMEOUT"))
    );
    assert_eq!(
        block_on(provider::sweep(&h)).unwrap(),
        0,
        "nothing left to end"
    );
}

#[test]
fn rp_initiated_logout_redirects_only_to_registered_uris() {
    let (h, session) = setup();
    let rp = register(
        &h,
        json!({"redirect_uris": ["https://rp.example/cb"], "post_logout_redirect_uris": ["https://rp.example/bye"], "backchannel_logout_uri": "https://rp.example/bc"}),
    );
    let (verifier, challenge) = pkce();
    let r = authorize(
        &h,
        &rp,
        Some(&session),
        &format!("&code_challenge={challenge}&code_challenge_method=S256"),
    );
    let r = exchange(&h, &rp, &location_params(&r)["code"], Some(&verifier));
    let id_token = json_of(&r)["id_token"].as_str().unwrap().to_owned();
    let cookie = format!("oidc_edge_session={session}");
    let bad = h.call(Request::new(Method::Get, &format!("/realms/r1/end_session?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F")).with_header("cookie", &cookie));
    assert_eq!(bad.status, 400);
    assert!(bad.header("location").is_none());
    let r = h.call(Request::new(Method::Get, &format!("/realms/r1/end_session?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye&state=s1")).with_header("cookie", &cookie));
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("https://rp.example/bye?state=s1")
    );
    run_due(&h);
    let t = received(&h, "https://rp.example/bc", &rp.id, None);
    assert_eq!(
        (t.len(), t[0]["cause"].as_str()),
        (1, Some("CLIENT_LOGOUT"))
    );
}

#[test]
fn private_backchannel_uris_need_the_realm_to_allow_them() {
    let (h, _) = setup();
    let body = json!({"redirect_uris": ["https://rp.example/cb"], "backchannel_logout_uri": "http://127.0.0.1:9999/bc"});
    let r = h.call(
        Request::new(Method::Post, "/realms/r1/register")
            .with_header("content-type", "application/json")
            .with_body(body.to_string()),
    );
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    assert_eq!(
        h.admin(
            Method::Put,
            "/admin/realms/r1",
            json!({"session_idle_time_secs": 600, "allow_private_uris": true})
        )
        .status,
        200
    );
    register(&h, body);
}

/// The audit log's keys sort by time, and the query hands the store where `since` begins: with
/// 100,000 events retained, the last ten seconds' cost ten keys listed, not 100,000.
#[test]
fn an_audit_query_since_a_time_lists_only_what_it_returns() {
    use oidc_edge_core::audit::{self, AuditEvent};

    let (h, _) = setup();
    let first = h.now.get();
    for i in 0..100_000u32 {
        let event = AuditEvent {
            id: format!("e{i:06}"),
            timestamp: String::new(),
            event_name: "AM-TEST".into(),
            transaction_id: format!("t{i}"),
            user_id: audit::user_id("r1", "alice"),
            tracking_ids: Vec::new(),
            realm: String::new(),
            component: "Test".into(),
            operation: "retained".into(),
        };
        block_on(audit::record(&h, "r1", event)).unwrap();
        h.now.set(h.now.get() + 1);
    }
    let since = audit::rfc3339_ms((h.now.get() - 10) * 1000);
    h.listed.set(0);
    let r = h.admin(
        Method::Get,
        &format!("/admin/realms/r1/audit?event=AM-TEST&since={since}"),
        Value::Null,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let events = json_of(&r)["result"].as_array().unwrap().clone();
    let ids: Vec<&str> = events.iter().map(|e| e["_id"].as_str().unwrap()).collect();
    let expected: Vec<String> = (99_990..100_000).map(|i| format!("e{i:06}")).collect();
    assert_eq!(ids, expected, "the last ten, oldest first");
    assert!(
        h.listed.get() <= 10,
        "{} keys listed for 10 events (of {} retained since {first})",
        h.listed.get(),
        100_000
    );
}

/// A form POST to endpoint `name` of realm r1, the client authenticating with HTTP Basic when
/// it has a secret and by `client_id` otherwise.
fn client_post(h: &TestHost, rp: &Rp, name: &str, form: &[(&str, &str)]) -> Response {
    let mut pairs: Vec<(&str, &str)> = form.to_vec();
    let mut req = Request::new(Method::Post, &format!("/realms/r1/{name}"))
        .with_header("content-type", "application/x-www-form-urlencoded");
    match &rp.secret {
        Some(s) => {
            use base64::Engine as _;
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{s}", rp.id));
            req = req.with_header("authorization", &format!("Basic {basic}"));
        }
        None => pairs.push(("client_id", rp.id.as_str())),
    }
    h.call(req.with_body(oidc_edge_core::http::encode_params(pairs)))
}

/// An access token of `rp` for the session, through the code flow.
fn access_token(
    h: &TestHost,
    rp: &Rp,
    session: &str,
    verifier: Option<&str>,
    extra: &str,
) -> String {
    let r = authorize(h, rp, Some(session), extra);
    assert_eq!(r.status, 302, "{}", String::from_utf8_lossy(&r.body));
    let r = exchange(h, rp, &location_params(&r)["code"], verifier);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    json_of(&r)["access_token"].as_str().unwrap().to_owned()
}

fn userinfo_status(h: &TestHost, token: &str) -> (u16, Value) {
    let r = h.call(
        Request::new(Method::Get, "/realms/r1/userinfo")
            .with_header("authorization", &format!("Bearer {token}")),
    );
    (r.status, json_of(&r))
}

/// RFC 7662 and RFC 7009 for access tokens: active only while unexpired, unrevoked and its
/// session alive; revoked by the client it was issued to only; and a revocation is not a
/// logout: the session's later end still tells the RP.
#[test]
fn introspection_and_revocation_of_access_tokens() {
    let (h, session) = setup();
    let discovery = json_of(&h.call(Request::new(
        Method::Get,
        "/realms/r1/.well-known/openid-configuration",
    )));
    assert_eq!(discovery["revocation_endpoint"], format!("{ISS}/revoke"));
    assert_eq!(
        discovery["introspection_endpoint"],
        format!("{ISS}/introspect")
    );

    let rp = register(
        &h,
        json!({"redirect_uris": ["https://rp1.example/cb"], "backchannel_logout_uri": "https://rp1.example/bc"}),
    );
    let api = register(&h, json!({"redirect_uris": ["https://api.example/cb"]}));
    let (verifier, challenge) = pkce();
    let public = register(
        &h,
        json!({"redirect_uris": ["http://127.0.0.1:9000/cb"], "token_endpoint_auth_method": "none"}),
    );
    let token = access_token(&h, &rp, &session, None, "");

    // Active, for any confidential client of the realm (a resource server).
    let r = client_post(&h, &api, "introspect", &[("token", &token)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let v = json_of(&r);
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["client_id"], rp.id.as_str());
    assert_eq!(v["aud"], rp.id.as_str());
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["iss"], ISS);
    assert!(
        v["sub"].is_string() && v["sid"].is_string() && v["exp"].is_u64(),
        "{v}"
    );
    assert!(v["scope"].as_str().unwrap().contains("openid"), "{v}");
    // Garbage, and a public client, get nothing.
    let v = json_of(&client_post(
        &h,
        &api,
        "introspect",
        &[("token", "not-a-token")],
    ));
    assert_eq!(v, json!({"active": false}));
    let r = client_post(&h, &public, "introspect", &[("token", &token)]);
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let r = client_post(&h, &api, "introspect", &[]);
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let r = client_post(
        &h,
        &api,
        "introspect",
        &[("token", &token), ("token", &token)],
    );
    assert_eq!(r.status, 400, "a repeated token is refused");

    // Another client cannot revoke it; an unknown token is "revoked" without a word.
    let r = client_post(&h, &api, "revoke", &[("token", &token)]);
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    assert_eq!(userinfo_status(&h, &token).0, 200, "still live");
    let r = client_post(&h, &api, "revoke", &[("token", "not-a-token")]);
    assert_eq!((r.status, r.body.len()), (200, 0));
    let r = client_post(&h, &rp, "revoke", &[("token", "x")]);
    assert_eq!(r.status, 200);
    // Bad client credentials are refused before anything else.
    let impostor = Rp {
        secret: Some("wrong".into()),
        ..rp.clone()
    };
    let r = client_post(&h, &impostor, "revoke", &[("token", &token)]);
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // Its own client revokes it: userinfo and introspection see it dead, and again is 200.
    let r = client_post(
        &h,
        &rp,
        "revoke",
        &[("token", &token), ("token_type_hint", "access_token")],
    );
    assert_eq!(
        (r.status, r.header("cache-control")),
        (200, Some("no-store"))
    );
    let (status, body) = userinfo_status(&h, &token);
    assert_eq!(
        (status, body["error_description"].as_str()),
        (401, Some("the access token has been revoked"))
    );
    let v = json_of(&client_post(&h, &api, "introspect", &[("token", &token)]));
    assert_eq!(v, json!({"active": false}));
    assert_eq!(
        client_post(&h, &rp, "revoke", &[("token", &token)]).status,
        200
    );

    // A public client revokes its own token by client_id.
    let public_token = access_token(
        &h,
        &public,
        &session,
        Some(&verifier),
        &format!("&code_challenge={challenge}&code_challenge_method=S256"),
    );
    assert_eq!(
        client_post(&h, &public, "revoke", &[("token", &public_token)]).status,
        200
    );
    assert_eq!(userinfo_status(&h, &public_token).0, 401);

    // Revoking was not a logout: the session lives, and its end tells the RP.
    let fresh = access_token(&h, &rp, &session, None, "");
    assert_eq!(
        json_of(&client_post(&h, &api, "introspect", &[("token", &fresh)]))["active"],
        true
    );
    let r = h.call(
        Request::new(Method::Post, "/realms/r1/sessions/logout")
            .with_header("x-session-token", &session),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    run_due(&h);
    let told = received(&h, "https://rp1.example/bc", &rp.id, None);
    assert_eq!(told.len(), 1, "one logout token for the RP");
    // The session's end ends its tokens.
    let v = json_of(&client_post(&h, &api, "introspect", &[("token", &fresh)]));
    assert_eq!(v, json!({"active": false}));
    // And one an hour later (its lifetime) is inactive too.
    let later = setup_token_expiry(&h, &api);
    assert_eq!(later, json!({"active": false}));
}

/// Introspect a token of a fresh session once the realm's access-token lifetime (an hour) has
/// passed (the session's idle limit of ten minutes has too).
fn setup_token_expiry(h: &TestHost, api: &Rp) -> Value {
    let r = h.call(oidc_edge_tests::flow::authenticate_request(
        "r1",
        "alice",
        "correct horse",
    ));
    assert_eq!(r.status, 200);
    let session = json_of(&r)["tokenId"].as_str().unwrap().to_owned();
    let rp = register(h, json!({"redirect_uris": ["https://rp9.example/cb"]}));
    let token = access_token(h, &rp, &session, None, "");
    assert_eq!(
        json_of(&client_post(h, api, "introspect", &[("token", &token)]))["active"],
        true
    );
    h.now.set(h.now.get() + 3601);
    json_of(&client_post(h, api, "introspect", &[("token", &token)]))
}

/// "Sign out everywhere", by the user (`{"all": true}`) or an administrator (`DELETE
/// .../users/{name}/sessions`): every session ends; an RP that requires `sid` gets one logout
/// token per session it took part in, one that does not gets one token for the user.
#[test]
fn signing_out_everywhere_tells_sid_rps_per_session_and_the_others_once() {
    let (h, first) = setup();
    let second = sign_in_again(&h);
    let with_sid = register(
        &h,
        json!({"redirect_uris": ["https://rp1.example/cb"], "backchannel_logout_uri": "https://rp1.example/bc", "backchannel_logout_session_required": true}),
    );
    let without = register(
        &h,
        json!({"redirect_uris": ["https://rp2.example/cb"], "backchannel_logout_uri": "https://rp2.example/bc"}),
    );
    let mut sids = Vec::new();
    for session in [&first, &second] {
        sids.push(login(&h, &with_sid, session, JwsAlg::RS256, None)["sid"].clone());
        login(&h, &without, session, JwsAlg::RS256, None);
    }
    let listed = |h: &TestHost| {
        let r = h.admin(
            Method::Get,
            "/admin/realms/r1/users/alice/sessions",
            Value::Null,
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        json_of(&r)["resultCount"].as_u64().unwrap()
    };
    assert_eq!(listed(&h), 2);
    // Each with its device (the User-Agent it started from, control characters dropped).
    let r = h.admin(
        Method::Get,
        "/admin/realms/r1/users/alice/sessions",
        Value::Null,
    );
    let mut devices: Vec<Value> = json_of(&r)["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["device"].clone())
        .collect();
    devices.sort_by_key(ToString::to_string);
    assert_eq!(devices, [json!("Alice's phone[31m"), Value::Null]);

    // A body that is not a yes or no ends nothing.
    let all = |session: &str, body: &str| {
        h.call(
            Request::new(Method::Post, "/realms/r1/sessions/logout")
                .with_header("x-session-token", session)
                .with_header("content-type", "application/json")
                .with_body(body.to_owned()),
        )
    };
    assert_eq!(all(&first, r#"{"all": "yes"}"#).status, 400);
    assert_eq!(all(&first, "all").status, 400);
    // What a page of another origin can send without a preflight (a form: urlencoded or
    // text/plain) ends nothing either.
    for ct in ["text/plain", "application/x-www-form-urlencoded"] {
        let r = h.call(
            Request::new(Method::Post, "/realms/r1/sessions/logout")
                .with_header("cookie", &format!("oidc_edge_session={first}"))
                .with_header("content-type", ct)
                .with_body(r#"{"all": true}"#),
        );
        assert_eq!(r.status, 400, "{ct}: {}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(listed(&h), 2);

    let r = all(&first, r#"{"all": true}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = json_of(&r);
    assert_eq!(
        (
            v["sessions_ended"].as_u64(),
            v["backchannel_logout_deliveries"].as_u64()
        ),
        (Some(2), Some(3)),
        "{v}"
    );
    assert_eq!(listed(&h), 0);
    run_due(&h);
    let got = received(&h, "https://rp1.example/bc", &with_sid.id, None);
    let mut got_sids: Vec<Value> = got.iter().map(|c| c["sid"].clone()).collect();
    got_sids.sort_by_key(ToString::to_string);
    sids.sort_by_key(ToString::to_string);
    assert_eq!(got_sids, sids, "one token per session, each with its sid");
    let got = received(&h, "https://rp2.example/bc", &without.id, None);
    assert_eq!(got.len(), 1, "one token for the user");
    assert!(
        got[0].get("sid").is_none() && got[0]["sub"].is_string(),
        "{}",
        got[0]
    );
    assert_eq!(got[0]["cause"], "CLIENT_LOGOUT");

    // The administrator's way: SESSION_TERMINATION, same rule.
    let third = sign_in_again(&h);
    let fourth = sign_in_again(&h);
    for session in [&third, &fourth] {
        login(&h, &without, session, JwsAlg::RS256, None);
    }
    let r = h.admin(
        Method::Delete,
        "/admin/realms/r1/users/alice/sessions",
        Value::Null,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = json_of(&r);
    assert_eq!(
        (
            v["sessions_ended"].as_u64(),
            v["backchannel_logout_deliveries"].as_u64()
        ),
        (Some(2), Some(1)),
        "{v}"
    );
    run_due(&h);
    let got = received(&h, "https://rp2.example/bc", &without.id, None);
    assert_eq!(got.len(), 2, "one more token, not two");
    assert_eq!(got[1]["cause"], "SESSION_TERMINATION");
    assert_eq!(listed(&h), 0);
    let r = h.admin(
        Method::Delete,
        "/admin/realms/r1/users/nobody/sessions",
        Value::Null,
    );
    assert_eq!(r.status, 404);
    let r = h.admin(
        Method::Patch,
        "/admin/realms/r1/users/alice/sessions",
        Value::Null,
    );
    assert_eq!(r.status, 405);
}

/// Another session of alice, through the JSON login.
fn sign_in_again(h: &TestHost) -> String {
    let r = h.call(
        oidc_edge_tests::flow::authenticate_request("r1", "alice", "correct horse")
            .with_header("user-agent", "Alice's phone\u{1b}[31m"),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    json_of(&r)["tokenId"].as_str().unwrap().to_owned()
}

/// The sign-out confirmation page offers "Sign out of all devices": answered with it, every
/// session of the user ends, each RP told as "sign out everywhere" tells it.
#[test]
fn the_confirmation_page_signs_out_of_all_devices() {
    let (h, first) = setup();
    let second = sign_in_again(&h);
    let rp = register(
        &h,
        json!({"redirect_uris": ["https://rp1.example/cb"], "backchannel_logout_uri": "https://rp1.example/bc"}),
    );
    login(&h, &rp, &first, JwsAlg::RS256, None);
    login(&h, &rp, &second, JwsAlg::RS256, None);
    let page = h.call(
        Request::new(Method::Get, "/realms/r1/end_session")
            .with_header("cookie", &format!("oidc_edge_session={first}")),
    );
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body).into_owned();
    assert!(
        html.contains("name=\"decision\" value=\"logout_all\""),
        "{html}"
    );
    let post = |fields: &[(String, String)]| {
        h.call(
            Request::new(Method::Post, "/realms/r1/end_session")
                .with_header("cookie", &format!("oidc_edge_session={first}"))
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body(oidc_edge_core::http::encode_params(
                    fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                )),
        )
    };
    // Without the page's CSRF token (a form on another origin), nothing ends.
    let forged = post(&[("decision".into(), "logout_all".into())]);
    assert!(
        String::from_utf8_lossy(&forged.body).contains("did not come from the sign-out page"),
        "{}",
        String::from_utf8_lossy(&forged.body)
    );
    let r = h.admin(
        Method::Get,
        "/admin/realms/r1/users/alice/sessions",
        Value::Null,
    );
    assert_eq!(
        json_of(&r)["resultCount"],
        2,
        "a forged answer ends nothing"
    );
    let mut fields = oidc_edge_tests::flow::hidden_fields(&html);
    fields.push(("decision".into(), "logout_all".into()));
    let r = post(&fields);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    let r = h.admin(
        Method::Get,
        "/admin/realms/r1/users/alice/sessions",
        Value::Null,
    );
    assert_eq!(json_of(&r)["resultCount"], 0, "both sessions ended");
    run_due(&h);
    let got = received(&h, "https://rp1.example/bc", &rp.id, None);
    assert_eq!(got.len(), 1, "one token for the user: {got:?}");
}
