//! Refresh tokens on the in-memory host with a virtual clock: rotation and replay, the bond to
//! the session (and `offline_access`, which may outlive it), lifetimes, scope, and what
//! revocation, introspection and the account's lifecycle do to them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use oidc_edge_core::http::{Method, Request, Response};
use oidc_edge_core::jose::JwsAlg;
use oidc_edge_tests::flow;
use oidc_edge_tests::memory::*;
use serde_json::{Value, json};

const BC: &str = "https://rp.example/bc";

/// A client registered for both grants, with a back-channel logout URI.
fn refreshing_client(h: &TestHost, bc: &str) -> Rp {
    register(
        h,
        json!({
            "redirect_uris": ["https://rp.example/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
            "backchannel_logout_uri": bc,
        }),
    )
}

/// The token endpoint's answer for `rp` on `session`, asking for `scope` with `extra`.
fn sign_in(h: &TestHost, rp: &Rp, session: &str, scope: &str, extra: &str) -> Value {
    let a = flow::Authorize {
        scope,
        state: "st4te",
        nonce: "n0nce",
        session: Some(session),
        extra,
    };
    let r = h.call(flow::authorize_request(REALM, &rp.id, &rp.redirect, &a));
    let r = flow::consent_if_asked(h, REALM, r, session, "allow");
    assert_eq!(r.status, 302, "{}", flow::text_of(&r));
    let r = exchange(h, rp, &location_params(&r)["code"], None);
    assert_eq!(r.status, 200, "{}", flow::text_of(&r));
    json_of(&r)
}

fn refresh(h: &TestHost, rp: &Rp, token: &str, scope: Option<&str>) -> Response {
    h.call(flow::refresh_request(
        REALM,
        &rp.id,
        rp.secret.as_deref(),
        token,
        scope,
    ))
}

fn post(h: &TestHost, rp: &Rp, name: &str, token: &str) -> Response {
    h.call(flow::client_request(
        REALM,
        name,
        &rp.id,
        rp.secret.as_deref(),
        vec![("token", token)],
    ))
}

fn introspect(h: &TestHost, rp: &Rp, token: &str) -> Value {
    let r = post(h, rp, "introspect", token);
    assert_eq!(r.status, 200, "{}", flow::text_of(&r));
    json_of(&r)
}

fn error_of(r: &Response) -> (u16, String) {
    (
        r.status,
        json_of(r)["error"].as_str().unwrap_or_default().to_owned(),
    )
}

fn refreshed(h: &TestHost, rp: &Rp, token: &str) -> Value {
    let r = refresh(h, rp, token, None);
    assert_eq!(r.status, 200, "{}", flow::text_of(&r));
    json_of(&r)
}

fn claims(h: &TestHost, tokens: &Value) -> Value {
    id_token_claims(h, tokens["id_token"].as_str().unwrap(), JwsAlg::RS256)
}

fn logout(h: &TestHost, session: &str) {
    let r = h.call(
        Request::new(Method::Post, "/realms/r1/sessions/logout")
            .with_header("x-session-token", session),
    );
    assert_eq!(r.status, 200, "{}", flow::text_of(&r));
}

fn offline(h: &TestHost, rp: &Rp, session: &str) -> Value {
    let t = sign_in(h, rp, session, "openid offline_access", "&prompt=consent");
    assert_eq!(t["scope"], "openid offline_access");
    t
}

#[test]
fn each_refresh_rotates_and_a_replay_revokes_the_family_and_ends_the_clients_part() {
    let (h, session) = setup();
    let discovery = json_of(&h.call(Request::new(
        Method::Get,
        "/realms/r1/.well-known/openid-configuration",
    )));
    assert_eq!(
        discovery["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    let rp = refreshing_client(&h, BC);
    let other = refreshing_client(&h, "https://other.example/bc");
    let first = sign_in(&h, &rp, &session, "openid email", "");
    sign_in(&h, &other, &session, "openid", "");
    let r0 = first["refresh_token"].as_str().unwrap();
    let c0 = claims(&h, &first);

    h.now.set(h.now.get() + 30);
    let second = refreshed(&h, &rp, r0);
    let r1 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r0, r1);
    assert_eq!(second["scope"], "openid email");
    let c1 = claims(&h, &second);
    // OIDC Core §12.2: same sub, auth_time and sid; a new iat; no nonce.
    for same in ["iss", "sub", "aud", "auth_time", "sid", "email"] {
        assert_eq!(c1[same], c0[same], "{same}");
    }
    assert_eq!(c1["iat"].as_u64(), Some(c0["iat"].as_u64().unwrap() + 30));
    assert_eq!(c1.get("nonce"), None);
    let at1 = second["access_token"].as_str().unwrap();
    assert_eq!(introspect(&h, &rp, at1)["active"], true);
    let rt = introspect(&h, &rp, r1);
    assert_eq!(
        (
            &rt["active"],
            &rt["token_type"],
            &rt["client_id"],
            &rt["sid"]
        ),
        (
            &json!(true),
            &json!("refresh_token"),
            &json!(rp.id),
            &c0["sid"]
        ),
        "{rt}"
    );
    // A spent token is not active; another client learns nothing of this one.
    assert_eq!(introspect(&h, &rp, r0), json!({"active": false}));
    assert_eq!(introspect(&h, &other, r1), json!({"active": false}));
    // Nor may it use or revoke it.
    assert_eq!(
        error_of(&refresh(&h, &other, r1, None)),
        (400, "invalid_grant".into())
    );
    assert_eq!(
        error_of(&post(&h, &other, "revoke", r1)),
        (400, "unauthorized_client".into())
    );

    // The spent token again: the whole family goes, with its access tokens, and the client
    // leaves the session (a logout token for it); the other client stays signed in.
    let r = refresh(&h, &rp, r0, None);
    assert_eq!(error_of(&r), (400, "invalid_grant".into()));
    assert!(
        json_of(&r)["error_description"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    assert_eq!(
        error_of(&refresh(&h, &rp, r1, None)),
        (400, "invalid_grant".into())
    );
    assert_eq!(introspect(&h, &rp, at1)["active"], false);
    assert_eq!(
        introspect(&h, &rp, first["access_token"].as_str().unwrap())["active"],
        false
    );
    run_due(&h);
    let got = received(&h, BC, &rp.id, None);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["sub"], c0["sub"]);
    assert!(received(&h, "https://other.example/bc", &other.id, None).is_empty());
    let changed = audit(&h, "AM-SESSION-PROPERTY_CHANGED");
    assert!(
        changed[0]["operation"]
            .as_str()
            .unwrap()
            .contains("spent refresh token"),
        "{changed:?}"
    );
    let sessions = json_of(&h.admin(Method::Get, "/admin/realms/r1/sessions", Value::Null));
    assert_eq!(sessions["resultCount"], 1, "the session lives on");
}

#[test]
fn only_clients_registered_for_the_grant_get_refresh_tokens() {
    let (h, session) = setup();
    let plain = register(&h, json!({"redirect_uris": ["https://rp.example/cb"]}));
    let t = sign_in(
        &h,
        &plain,
        &session,
        "openid offline_access",
        "&prompt=consent",
    );
    assert_eq!(t.get("refresh_token"), None);
    // offline_access is not granted to a client that cannot hold refresh tokens.
    assert_eq!(t["scope"], "openid");
    let r = refresh(
        &h,
        &plain,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        None,
    );
    assert_eq!(error_of(&r), (400, "unauthorized_client".into()));
    let rp = refreshing_client(&h, BC);
    let t = sign_in(&h, &rp, &session, "openid", "");
    assert!(t["refresh_token"].is_string());
    assert_eq!(
        error_of(&refresh(&h, &rp, "", None)),
        (400, "invalid_request".into())
    );
    for bad in [
        "x",
        "not a token at all",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_eq!(
            error_of(&refresh(&h, &rp, bad, None)),
            (400, "invalid_grant".into()),
            "{bad:?}"
        );
    }
}

#[test]
fn offline_access_needs_prompt_consent_and_the_users_yes_even_for_a_first_party_client() {
    let (h, session) = setup();
    let rp = refreshing_client(&h, BC);
    // Without prompt=consent, offline_access is ignored.
    let t = sign_in(&h, &rp, &session, "openid offline_access", "");
    assert_eq!(t["scope"], "openid");
    // With it, the user is asked, and told what it means.
    let first_party = h.admin(
        Method::Put,
        "/admin/realms/r1/clients/mine",
        json!({"redirect_uris": ["https://mine.example/cb"], "grant_types": ["authorization_code", "refresh_token"], "first_party": true}),
    );
    assert_eq!(first_party.status, 201, "{}", flow::text_of(&first_party));
    let mine = Rp {
        id: "mine".into(),
        secret: json_of(&first_party)["client_secret"]
            .as_str()
            .map(String::from),
        redirect: "https://mine.example/cb".into(),
    };
    // A first-party client skips consent for the rest...
    let r = ask(&h, &mine, Some(&session), "&prompt=consent");
    assert_eq!(r.status, 302, "{}", flow::text_of(&r));
    // ...but not for offline access.
    for client in [&rp, &mine] {
        let a = flow::Authorize {
            scope: "openid offline_access",
            state: "s",
            nonce: "n",
            session: Some(&session),
            extra: "&prompt=consent",
        };
        let page = h.call(flow::authorize_request(
            REALM,
            &client.id,
            &client.redirect,
            &a,
        ));
        assert!(is_consent_page(&page), "{}", flow::text_of(&page));
        assert!(flow::text_of(&page).contains("even after you sign out"));
        let denied = answer_consent(&h, &page, &session, "deny");
        assert_eq!(location_params(&denied)["error"], "access_denied");
    }
    let t = offline(&h, &mine, &session);
    assert!(t["refresh_token"].is_string());
}

#[test]
fn without_offline_access_refresh_tokens_end_with_the_session() {
    let (h, session) = setup();
    let rp = refreshing_client(&h, BC);
    let t = sign_in(&h, &rp, &session, "openid", "");
    let rt = t["refresh_token"].as_str().unwrap();
    logout(&h, &session);
    let r = refresh(&h, &rp, rt, None);
    assert_eq!(error_of(&r), (400, "invalid_grant".into()));
    assert_eq!(json_of(&r)["error_description"], "the session has ended");
    assert_eq!(introspect(&h, &rp, rt), json!({"active": false}));
    run_due(&h);
    assert_eq!(received(&h, BC, &rp.id, None).len(), 1);
}

#[test]
fn offline_tokens_outlive_the_session_without_sid_unless_the_realm_ends_them_too() {
    let (h, session) = setup();
    let rp = refreshing_client(&h, BC);
    let t = offline(&h, &rp, &session);
    let sid = claims(&h, &t)["sid"].clone();
    assert!(sid.is_string());
    // While the session lives, refreshed ID tokens keep the client's sid.
    let t = refreshed(&h, &rp, t["refresh_token"].as_str().unwrap());
    assert_eq!(claims(&h, &t)["sid"], sid);
    let online_at = t["access_token"].as_str().unwrap().to_owned();
    logout(&h, &session);
    run_due(&h);
    assert_eq!(received(&h, BC, &rp.id, None).len(), 1, "the RP is told");
    // Its access token ended with the session; the refresh token did not.
    assert_eq!(introspect(&h, &rp, &online_at)["active"], false);
    let after = refreshed(&h, &rp, t["refresh_token"].as_str().unwrap());
    let c = claims(&h, &after);
    assert_eq!(c.get("sid"), None, "no session, no sid: {c}");
    let at = after["access_token"].as_str().unwrap();
    let i = introspect(&h, &rp, at);
    assert_eq!((&i["active"], i.get("sid")), (&json!(true), None), "{i}");
    let u = h.call(
        Request::new(Method::Get, "/realms/r1/userinfo")
            .with_header("authorization", &format!("Bearer {at}")),
    );
    assert_eq!(u.status, 200);
    let rt = after["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&h, &rp, rt).get("sid"), None);
    // Refreshing never brings the session back.
    let sessions = json_of(&h.admin(Method::Get, "/admin/realms/r1/sessions", Value::Null));
    assert_eq!(sessions["resultCount"], 0);

    // The operator's choice: offline access ends with the session too.
    let r = h.admin(
        Method::Patch,
        "/admin/realms/r1",
        json!({"session_idle_time_secs": 600, "offline_access_survives_logout": false}),
    );
    assert_eq!(r.status, 200, "{}", flow::text_of(&r));
    assert_eq!(introspect(&h, &rp, at)["active"], false);
    let r = refresh(&h, &rp, rt, None);
    assert_eq!(error_of(&r), (400, "invalid_grant".into()));
    // And the consent page says so.
    let session = {
        let r = h.call(flow::authenticate_request(REALM, "alice", "correct horse"));
        json_of(&r)["tokenId"].as_str().unwrap().to_owned()
    };
    let a = flow::Authorize {
        scope: "openid offline_access",
        state: "s",
        nonce: "n",
        session: Some(&session),
        extra: "&prompt=consent",
    };
    let page = flow::text_of(&h.call(flow::authorize_request(REALM, &rp.id, &rp.redirect, &a)));
    assert!(page.contains("until you sign out") && !page.contains("even after"));
}

#[test]
fn refresh_tokens_slide_and_offline_families_end_at_their_absolute_lifetime() {
    let (h, session) = setup();
    let r = h.admin(
        Method::Patch,
        "/admin/realms/r1",
        json!({"session_idle_time_secs": 600, "session_max_time_secs": 3600, "refresh_token_ttl_secs": 300, "offline_token_ttl_secs": 1000}),
    );
    assert_eq!(r.status, 200, "{}", flow::text_of(&r));
    let rp = refreshing_client(&h, BC);
    let mut rt = offline(&h, &rp, &session)["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Used within 300 s each time, it lives on...
    for _ in 0..3 {
        h.now.set(h.now.get() + 299);
        rt = refreshed(&h, &rp, &rt)["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    // ...and expires at most at the family's absolute end (1000 s after it began).
    let exp = introspect(&h, &rp, &rt)["exp"].as_u64().unwrap();
    let began = h.now.get() - 3 * 299;
    assert_eq!(exp, began + 1000);
    h.now.set(h.now.get() + 104);
    assert_eq!(
        error_of(&refresh(&h, &rp, &rt, None)),
        (400, "invalid_grant".into())
    );
    // Left unused past 300 s, a token is spent.
    let online = sign_in(&h, &rp, &session, "openid", "");
    h.now.set(h.now.get() + 300);
    assert_eq!(
        error_of(&refresh(
            &h,
            &rp,
            online["refresh_token"].as_str().unwrap(),
            None
        )),
        (400, "invalid_grant".into())
    );
    // Settings out of range are refused.
    let r = h.admin(
        Method::Patch,
        "/admin/realms/r1",
        json!({"refresh_token_ttl_secs": 5}),
    );
    assert_eq!(r.status, 400);
}

#[test]
fn a_refresh_may_narrow_the_scope_never_widen_it() {
    let (h, session) = setup();
    let rp = refreshing_client(&h, BC);
    let t = sign_in(&h, &rp, &session, "openid email", "");
    let rt = t["refresh_token"].as_str().unwrap();
    let r = refresh(&h, &rp, rt, Some("openid profile"));
    assert_eq!(error_of(&r), (400, "invalid_scope".into()));
    let r = refresh(&h, &rp, rt, Some("openid"));
    assert_eq!(r.status, 200, "{}", flow::text_of(&r));
    let t = json_of(&r);
    assert_eq!(t["scope"], "openid");
    assert_eq!(claims(&h, &t).get("email"), None);
}

#[test]
fn revoking_a_refresh_token_ends_its_grant_not_the_session_nor_its_logout() {
    let (h, session) = setup();
    let rp = refreshing_client(&h, BC);
    let first = sign_in(&h, &rp, &session, "openid", "");
    let second = sign_in(&h, &rp, &session, "openid", "");
    let rt = first["refresh_token"].as_str().unwrap();
    let r = post(&h, &rp, "revoke", rt);
    assert_eq!(r.status, 200);
    assert_eq!(
        error_of(&refresh(&h, &rp, rt, None)),
        (400, "invalid_grant".into())
    );
    // RFC 7009 §2.1: the grant's access tokens go with it; another grant's stay.
    assert_eq!(
        introspect(&h, &rp, first["access_token"].as_str().unwrap())["active"],
        false
    );
    assert_eq!(
        introspect(&h, &rp, second["access_token"].as_str().unwrap())["active"],
        true
    );
    // Revoking again, or a token never issued: 200 all the same.
    assert_eq!(post(&h, &rp, "revoke", rt).status, 200);
    // Not a logout: the session's end still tells the RP.
    run_due(&h);
    assert!(received(&h, BC, &rp.id, None).is_empty());
    logout(&h, &session);
    run_due(&h);
    assert_eq!(received(&h, BC, &rp.id, None).len(), 1);
}

#[test]
fn a_replayed_code_revokes_its_refresh_tokens() {
    let (h, session) = setup();
    let rp = refreshing_client(&h, BC);
    let r = authorize(&h, &rp, Some(&session), "");
    let code = location_params(&r)["code"].clone();
    let t = json_of(&exchange(&h, &rp, &code, None));
    let rt = t["refresh_token"].as_str().unwrap();
    assert_eq!(exchange(&h, &rp, &code, None).status, 400);
    assert_eq!(
        error_of(&refresh(&h, &rp, rt, None)),
        (400, "invalid_grant".into())
    );
    assert_eq!(
        introspect(&h, &rp, t["access_token"].as_str().unwrap())["active"],
        false
    );
}

#[test]
fn the_accounts_end_its_password_reset_or_withdrawn_consent_end_offline_access_too() {
    for how in ["disable", "password", "consent", "delete"] {
        let (h, session) = setup();
        let rp = refreshing_client(&h, BC);
        let t = offline(&h, &rp, &session);
        let rt = t["refresh_token"].as_str().unwrap();
        let r = match how {
            "disable" => h.admin(
                Method::Put,
                "/admin/realms/r1/users/alice",
                json!({"disabled": true}),
            ),
            "password" => h.admin(
                Method::Put,
                "/admin/realms/r1/users/alice",
                json!({"password": "another horse"}),
            ),
            "consent" => h.admin(
                Method::Delete,
                &format!("/admin/realms/r1/users/alice/grants/{}", rp.id),
                Value::Null,
            ),
            _ => h.admin(Method::Delete, "/admin/realms/r1/users/alice", Value::Null),
        };
        assert_eq!(r.status, 200, "{how}: {}", flow::text_of(&r));
        assert_eq!(
            error_of(&refresh(&h, &rp, rt, None)),
            (400, "invalid_grant".into()),
            "{how}"
        );
        if how == "disable" {
            // Enabled again, the account does not get its old grants back.
            let r = h.admin(
                Method::Put,
                "/admin/realms/r1/users/alice",
                json!({"disabled": false}),
            );
            assert_eq!(r.status, 200);
            assert_eq!(refresh(&h, &rp, rt, None).status, 400, "{how}");
        }
        run_due(&h);
        assert_eq!(received(&h, BC, &rp.id, None).len(), 1, "{how}");
    }
}
