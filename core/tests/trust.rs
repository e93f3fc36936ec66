//! What a security review asked of the provider, each point as a story over `handle` with the
//! in-memory host: consent before identity leaves, logout only when the user asked, sessions
//! that end with their account, and the protocol details a reviewer checks.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use oidc_edge_core::http::{Method, Request, Response, encode_params};
use oidc_edge_core::jose::JwsAlg;
use oidc_edge_tests::memory::*;
use serde_json::{Value, json};

fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn third_party(h: &TestHost) -> Rp {
    register(
        h,
        json!({"redirect_uris": ["https://rp3.example/cb"], "client_name": "Shop <b>&</b> \"Co\"", "backchannel_logout_uri": "https://rp3.example/bc"}),
    )
}

fn code_of(r: &Response) -> String {
    assert_eq!(r.status, 302, "{}", text(r));
    location_params(r)
        .get("code")
        .cloned()
        .unwrap_or_else(|| panic!("no code in {:?}", r.header("location")))
}

fn post_form(h: &TestHost, path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Response {
    let mut req = Request::new(Method::Post, path)
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(encode_params(fields.iter().copied()));
    if let Some(c) = cookie {
        req = req.with_header("cookie", c);
    }
    h.call(req)
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let needle = format!("<input type=\"hidden\" name=\"{name}\" value=\"");
    let rest = html.split_once(&needle)?.1;
    Some(rest.split_once('"')?.0.replace("&amp;", "&"))
}

fn sign_in_as(h: &TestHost, user: &str, password: &str) -> Response {
    h.call(
        Request::new(Method::Post, "/realms/r1/authenticate")
            .with_header("content-type", "application/json")
            .with_body(json!({"username": user, "password": password}).to_string()),
    )
}

fn new_session(h: &TestHost) -> String {
    let r = sign_in_as(h, "alice", "correct horse");
    assert_eq!(r.status, 200, "{}", text(&r));
    json_of(&r)["tokenId"].as_str().unwrap().to_owned()
}

/// The full code flow (consent allowed when asked): the token response.
fn tokens(h: &TestHost, rp: &Rp, session: &str, extra: &str) -> Value {
    let r = authorize(h, rp, Some(session), extra);
    let r = exchange(h, rp, &code_of(&r), None);
    assert_eq!(r.status, 200, "{}", text(&r));
    json_of(&r)
}

fn userinfo(h: &TestHost, at: &str) -> Response {
    h.call(
        Request::new(Method::Get, "/realms/r1/userinfo")
            .with_header("authorization", &format!("Bearer {at}")),
    )
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&oidc_edge_core::jose::b64::decode(payload).unwrap()).unwrap()
}

fn is_live(h: &TestHost, session: &str) -> bool {
    let r = h.admin(
        Method::Get,
        "/admin/realms/r1/sessions?user=alice",
        Value::Null,
    );
    let id = oidc_edge_core::session::id_of(session);
    json_of(&r)["result"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["id"] == id.as_str())
}

fn keys_of(h: &TestHost) -> Vec<String> {
    h.store.borrow().keys().cloned().collect()
}

// ---- 1. Consent -----------------------------------------------------------------------------

#[test]
fn a_third_party_client_gets_no_code_before_the_user_allows_even_after_the_json_sign_in() {
    let (h, session) = setup(); // a session from the JSON sign-in (/authenticate)
    let rp = third_party(&h);

    // prompt=none cannot slip past consent.
    let r = ask(&h, &rp, Some(&session), "&prompt=none");
    assert_eq!(r.status, 302);
    assert_eq!(location_params(&r)["error"], "consent_required");

    let page = ask(&h, &rp, Some(&session), "");
    assert_eq!(page.status, 200);
    let html = text(&page);
    assert!(
        html.contains("Shop &lt;b&gt;&amp;&lt;/b&gt; &quot;Co&quot;"),
        "escaped name: {html}"
    );
    assert!(!html.contains("<b>&</b>"));
    for shown in [
        rp.id.as_str(),
        "https://rp3.example/cb",
        "email",
        "profile",
        "preferred_username",
    ] {
        assert!(html.contains(shown), "{shown} not shown: {html}");
    }
    assert!(!html.contains("<script"), "no script on the page");
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert!(
        csp.contains("form-action 'self' https://rp3.example"),
        "{csp}"
    );
    assert!(html.contains("action=\"https://id.example/realms/r1/consent\""));
    assert!(html.contains("name=\"decision\" value=\"deny\""));

    // Deny: access_denied to the client, no grant.
    let denied = answer_consent(&h, &page, &session, "deny");
    assert_eq!(denied.status, 302);
    let p = location_params(&denied);
    assert_eq!(
        (p["error"].as_str(), p["state"].as_str()),
        ("access_denied", "st4te")
    );
    assert!(!p.contains_key("code"));
    assert_eq!(ask(&h, &rp, Some(&session), "").status, 200, "still asked");

    // Allow: a code, and a grant that covers the same scopes next time.
    let allowed = answer_consent(&h, &page, &session, "allow");
    code_of(&allowed);
    code_of(&ask(&h, &rp, Some(&session), ""));
    code_of(&ask(&h, &rp, Some(&session), "&prompt=none"));
    // prompt=consent always asks.
    let again = ask(&h, &rp, Some(&session), "&prompt=consent");
    assert!(is_consent_page(&again), "{}", text(&again));
}

#[test]
fn a_wider_scope_asks_again_and_the_grant_keeps_what_was_allowed() {
    let (h, session) = setup();
    let rp = third_party(&h);
    let narrow = |h: &TestHost| {
        h.call(
            Request::new(
                Method::Get,
                &format!(
                    "/realms/r1/authorize?response_type=code&scope=openid&client_id={}&redirect_uri={}&state=s&nonce=n",
                    rp.id,
                    urlencode(&rp.redirect)
                ),
            )
            .with_header("cookie", &format!("oidc_edge_session={session}")),
        )
    };
    let page = narrow(&h);
    assert!(is_consent_page(&page));
    code_of(&answer_consent(&h, &page, &session, "allow"));
    code_of(&narrow(&h));
    // openid email profile is more than was allowed.
    assert!(is_consent_page(&ask(&h, &rp, Some(&session), "")));
    let r = h.admin(
        Method::Get,
        &format!("/admin/realms/r1/users/alice/grants/{}", rp.id),
        Value::Null,
    );
    assert_eq!(json_of(&r)["scopes"], json!(["openid"]));
}

#[test]
fn the_consent_answer_needs_the_sessions_csrf_token() {
    let (h, session) = setup();
    let rp = third_party(&h);
    let page = ask(&h, &rp, Some(&session), "");
    let html = text(&page);
    let csrf = hidden(&html, "csrf").unwrap();
    let base: Vec<(&str, &str)> = vec![
        ("client_id", rp.id.as_str()),
        ("redirect_uri", rp.redirect.as_str()),
        ("response_type", "code"),
        ("scope", "openid email profile"),
        ("state", "st4te"),
        ("decision", "allow"),
    ];
    let cookie = format!("oidc_edge_session={session}");
    let with = |extra: &[(&'static str, &str)], cookie: Option<&str>| {
        let mut f = base.clone();
        f.extend_from_slice(extra);
        post_form(&h, "/realms/r1/consent", cookie, &f)
    };
    // A cross-site form without the token, a forged one, malformed ones: refused, no code.
    for bad in [
        with(&[], Some(&cookie)),
        with(
            &[("csrf", "forged-forged-forged-forged-forged-forged-f")],
            Some(&cookie),
        ),
        with(&[("csrf", "%FF")], Some(&cookie)),
        with(&[("csrf", &csrf)], None),
    ] {
        assert_eq!(bad.status, 400, "{}", text(&bad));
        assert!(bad.header("location").is_none());
    }
    // Another session's token does not work for this one.
    let other = new_session(&h);
    let r = with(
        &[("csrf", &csrf)],
        Some(&format!("oidc_edge_session={other}")),
    );
    assert_eq!(r.status, 400);
    code_of(&with(&[("csrf", &csrf)], Some(&cookie)));
    // The answer is a POST only.
    let r = h.call(Request::new(Method::Get, "/realms/r1/consent"));
    assert_eq!(r.status, 405);
}

#[test]
fn first_party_clients_skip_consent_and_dynamic_registration_cannot_claim_it() {
    let (h, session) = setup();
    let r = h.admin(
        Method::Put,
        "/admin/realms/r1/clients/portal",
        json!({"redirect_uris": ["https://portal.example/cb"], "first_party": true, "client_secret": "portal-secret-0123456789"}),
    );
    assert_eq!(r.status, 201, "{}", text(&r));
    let portal = Rp {
        id: "portal".into(),
        secret: Some("portal-secret-0123456789".into()),
        redirect: "https://portal.example/cb".into(),
    };
    code_of(&ask(&h, &portal, Some(&session), "&prompt=none"));
    let r = h.admin(
        Method::Put,
        "/admin/realms/r1/clients/portal2",
        json!({"redirect_uris": ["https://portal.example/cb"], "first_party": "yes"}),
    );
    assert_eq!(r.status, 400);

    let sneaky = register(
        &h,
        json!({"redirect_uris": ["https://sneaky.example/cb"], "first_party": true}),
    );
    let r = ask(&h, &sneaky, Some(&session), "");
    assert!(
        is_consent_page(&r),
        "a registered client is always a third party"
    );
}

#[test]
fn revoking_a_grant_ends_the_clients_part_in_the_session() {
    let (h, session) = setup();
    let rp = third_party(&h);
    let other = register(
        &h,
        json!({"redirect_uris": ["https://rp4.example/cb"], "backchannel_logout_uri": "https://rp4.example/bc"}),
    );
    let t = tokens(&h, &rp, &session, "");
    tokens(&h, &other, &session, "");
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&h, at).status, 200);

    let list = json_of(&h.admin(
        Method::Get,
        "/admin/realms/r1/users/alice/grants",
        Value::Null,
    ));
    assert_eq!(list["resultCount"], 2, "{list}");

    let r = h.admin(
        Method::Delete,
        &format!("/admin/realms/r1/users/alice/grants/{}", rp.id),
        Value::Null,
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json_of(&r)["backchannel_logout_deliveries"], 1);
    run_due(&h);
    // The client is told to end its session; the other client is not.
    let got = received(&h, "https://rp3.example/bc", &rp.id, None);
    assert_eq!(got.len(), 1);
    assert!(received(&h, "https://rp4.example/bc", &other.id, None).is_empty());
    assert_eq!(
        userinfo(&h, at).status,
        401,
        "its access token died with its grant"
    );
    assert!(
        is_consent_page(&ask(&h, &rp, Some(&session), "")),
        "asked again"
    );
    // The session goes on for the other client, which alone hears of its end.
    assert!(is_live(&h, &session));
    let r = h.call(
        Request::new(Method::Post, "/realms/r1/sessions/logout")
            .with_header("cookie", &format!("oidc_edge_session={session}")),
    );
    assert_eq!(r.status, 200);
    run_due(&h);
    assert_eq!(
        received(&h, "https://rp3.example/bc", &rp.id, None).len(),
        1
    );
    assert_eq!(
        received(&h, "https://rp4.example/bc", &other.id, None).len(),
        1
    );
    let r = h.admin(
        Method::Delete,
        "/admin/realms/r1/users/alice/grants",
        Value::Null,
    );
    assert_eq!(r.status, 200);
    let list = json_of(&h.admin(
        Method::Get,
        "/admin/realms/r1/users/alice/grants",
        Value::Null,
    ));
    assert_eq!(list["resultCount"], 0);
}

// ---- 2. Logout the user asked for ---------------------------------------------------------------

fn end_session(h: &TestHost, session: &str, query: &str) -> Response {
    h.call(
        Request::new(Method::Get, &format!("/realms/r1/end_session?{query}"))
            .with_header("cookie", &format!("oidc_edge_session={session}")),
    )
}

fn clears_cookie(r: &Response) -> bool {
    r.headers
        .iter()
        .any(|(n, v)| n == "set-cookie" && v.starts_with("oidc_edge_session=;"))
}

fn logout_rp(h: &TestHost) -> Rp {
    register(
        h,
        json!({"redirect_uris": ["https://rp5.example/cb"], "post_logout_redirect_uris": ["https://rp5.example/bye"], "backchannel_logout_uri": "https://rp5.example/bc"}),
    )
}

#[test]
fn a_cross_site_logout_link_only_asks_and_only_the_confirmed_post_ends_the_session() {
    let (h, session) = setup();
    let rp = logout_rp(&h);
    tokens(&h, &rp, &session, "");
    let q = format!(
        "client_id={}&post_logout_redirect_uri={}&state=bye1",
        rp.id,
        urlencode("https://rp5.example/bye")
    );
    let page = end_session(&h, &session, &q);
    assert_eq!(page.status, 200);
    let html = text(&page);
    assert!(html.contains("name=\"decision\" value=\"logout\"") && html.contains("value=\"stay\""));
    assert!(!clears_cookie(&page), "asking must not sign out");
    assert!(is_live(&h, &session));
    run_due(&h);
    assert!(
        h.posts.borrow().is_empty(),
        "no logout token for a question"
    );

    let csrf = hidden(&html, "csrf").unwrap();
    let cookie = format!("oidc_edge_session={session}");
    let fields = |decision: &'static str, csrf: &str| {
        vec![
            ("client_id", rp.id.clone()),
            ("post_logout_redirect_uri", "https://rp5.example/bye".into()),
            ("state", "bye1".into()),
            ("decision", decision.into()),
            ("csrf", csrf.to_owned()),
        ]
    };
    let post = |f: Vec<(&str, String)>, cookie: &str| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post_form(&h, "/realms/r1/end_session", Some(cookie), &f)
    };
    // A forged POST (no valid token) is refused.
    let r = post(fields("logout", "x"), &cookie);
    assert_eq!(r.status, 400);
    assert!(is_live(&h, &session));
    // "Stay": the session lives, the user goes back to the RP.
    let r = post(fields("stay", &csrf), &cookie);
    assert_eq!(r.status, 302);
    assert!(is_live(&h, &session) && !clears_cookie(&r));
    // "Sign out": ended, cookie cleared, back to the RP with its state, RP told.
    let r = post(fields("logout", &csrf), &cookie);
    assert_eq!(r.status, 302, "{}", text(&r));
    assert_eq!(
        r.header("location"),
        Some("https://rp5.example/bye?state=bye1")
    );
    assert!(clears_cookie(&r));
    assert!(!is_live(&h, &session));
    run_due(&h);
    assert_eq!(
        received(&h, "https://rp5.example/bc", &rp.id, None).len(),
        1
    );
}

#[test]
fn a_hint_of_the_current_session_ends_it_at_once_and_an_older_one_asks() {
    let (h, first) = setup();
    let rp = logout_rp(&h);
    let old_hint = tokens(&h, &rp, &first, "")["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = h.call(
        Request::new(Method::Post, "/realms/r1/sessions/logout")
            .with_header("cookie", &format!("oidc_edge_session={first}")),
    );
    assert_eq!(r.status, 200);

    let session = new_session(&h);
    let hint = tokens(&h, &rp, &session, "")["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The same user's ID token from an earlier session: asked, not ended.
    let r = end_session(&h, &session, &format!("id_token_hint={old_hint}"));
    assert_eq!(r.status, 200);
    assert!(text(&r).contains("value=\"logout\""));
    assert!(is_live(&h, &session));
    // This session's own ID token: ended at once.
    let r = end_session(
        &h,
        &session,
        &format!(
            "id_token_hint={hint}&post_logout_redirect_uri={}",
            urlencode("https://rp5.example/bye")
        ),
    );
    assert_eq!(r.status, 302);
    assert!(clears_cookie(&r));
    assert!(!is_live(&h, &session));
}

/// An `id_token_hint` and an access token are checked by the host's crypto seam (natively,
/// AWS-LC), not by core's code behind its back: a seam that refuses them all is obeyed.
#[test]
fn hints_and_access_tokens_are_checked_through_the_crypto_seam() {
    let (h, session) = setup();
    let rp = logout_rp(&h);
    let t = tokens(&h, &rp, &session, "");
    let (at, hint) = (
        t["access_token"].as_str().unwrap(),
        t["id_token"].as_str().unwrap(),
    );
    let checked = h.crypto.verified.get();
    assert_eq!(userinfo(&h, at).status, 200);
    assert!(
        h.crypto.verified.get() > checked,
        "userinfo checked its token past the seam"
    );

    h.crypto.refuse_all.set(true);
    assert_eq!(userinfo(&h, at).status, 401);
    let r = end_session(&h, &session, &format!("id_token_hint={hint}"));
    assert_eq!(r.status, 400, "{}", text(&r));
    assert!(
        text(&r).contains("not issued by this realm"),
        "{}",
        text(&r)
    );
    assert!(is_live(&h, &session));

    h.crypto.refuse_all.set(false);
    let checked = h.crypto.verified.get();
    let r = end_session(&h, &session, &format!("id_token_hint={hint}"));
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(
        h.crypto.verified.get() > checked,
        "the hint checked past the seam"
    );
    assert!(!is_live(&h, &session));
}

#[test]
fn access_tokens_and_logout_tokens_are_not_id_token_hints() {
    let (h, session) = setup();
    let rp = logout_rp(&h);
    let t = tokens(&h, &rp, &session, "");
    let at = t["access_token"].as_str().unwrap();
    let r = end_session(&h, &session, &format!("id_token_hint={at}"));
    assert_eq!(r.status, 400, "{}", text(&r));
    assert!(is_live(&h, &session));
    // A logout token of this realm (another session's end) is no hint either.
    let s2 = new_session(&h);
    tokens(&h, &rp, &s2, "");
    let r = h.admin(
        Method::Delete,
        &format!(
            "/admin/realms/r1/sessions/{}",
            oidc_edge_core::session::id_of(&s2)
        ),
        Value::Null,
    );
    assert_eq!(r.status, 204);
    run_due(&h);
    let lt = h.posts.borrow()[0]
        .1
        .trim_start_matches("logout_token=")
        .to_owned();
    let r = end_session(&h, &session, &format!("id_token_hint={lt}"));
    assert_eq!(r.status, 400, "{}", text(&r));
    assert!(is_live(&h, &session));
}

#[test]
fn a_hint_for_another_user_neither_ends_nor_orphans_the_session() {
    let (h, session) = setup();
    let rp = logout_rp(&h);
    let r = h.admin(
        Method::Put,
        "/admin/realms/r1/users/bob",
        json!({"password": "bob password"}),
    );
    assert_eq!(r.status, 201);
    let bob = sign_in_as(&h, "bob", "bob password");
    let bob = json_of(&bob)["tokenId"].as_str().unwrap().to_owned();
    let bob_hint = tokens(&h, &rp, &bob, "")["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = end_session(&h, &session, &format!("id_token_hint={bob_hint}"));
    assert_eq!(r.status, 200);
    assert!(!clears_cookie(&r), "the cookie of a live session is kept");
    assert!(is_live(&h, &session));
}

// ---- 3. Accounts and realms -------------------------------------------------------------------

fn session_events(h: &TestHost) -> Vec<String> {
    audit(h, "AM-SESSION-DESTROYED")
        .iter()
        .map(|e| e["operation"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_deleted_users_name_given_again_does_not_inherit_the_old_sessions() {
    let (h, session) = setup();
    let rp = logout_rp(&h);
    let t = tokens(&h, &rp, &session, "");
    let old_sub = claims_of(t["id_token"].as_str().unwrap())["sub"].clone();
    // A code issued before the deletion is worthless after it.
    let pending = code_of(&authorize(&h, &rp, Some(&session), ""));

    let r = h.admin(Method::Delete, "/admin/realms/r1/users/alice", Value::Null);
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json_of(&r)["sessions_ended"], 1);
    run_due(&h);
    assert_eq!(
        received(&h, "https://rp5.example/bc", &rp.id, None).len(),
        1
    );
    assert!(
        session_events(&h)
            .iter()
            .any(|o| o.contains("initiated by: user deleted"))
    );

    let r = h.admin(
        Method::Put,
        "/admin/realms/r1/users/alice",
        json!({"password": "new alice pw"}),
    );
    assert_eq!(r.status, 201);
    assert_ne!(json_of(&r)["sub"], old_sub);
    let r = ask(&h, &rp, Some(&session), "");
    assert!(
        text(&r).contains("password"),
        "the old cookie opens nothing: {}",
        text(&r)
    );
    assert_eq!(exchange(&h, &rp, &pending, None).status, 400);
    assert_eq!(
        userinfo(&h, t["access_token"].as_str().unwrap()).status,
        401
    );
}

#[test]
fn disabling_an_account_or_resetting_its_password_ends_every_session_with_backchannel_logout() {
    let (h, s1) = setup();
    let rp = logout_rp(&h);
    let s2 = new_session(&h);
    tokens(&h, &rp, &s1, "");
    tokens(&h, &rp, &s2, "");
    let r = h.admin(
        Method::Patch,
        "/admin/realms/r1/users/alice",
        json!({"disabled": true}),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(!is_live(&h, &s1) && !is_live(&h, &s2));
    run_due(&h);
    assert_eq!(
        received(&h, "https://rp5.example/bc", &rp.id, None).len(),
        2
    );
    let ops = session_events(&h);
    assert_eq!(
        ops.iter()
            .filter(|o| o.contains("initiated by: user disabled"))
            .count(),
        2,
        "{ops:?}"
    );
    assert_eq!(
        sign_in_as(&h, "alice", "correct horse").status,
        401,
        "disabled: no sign-in"
    );

    let r = h.admin(
        Method::Patch,
        "/admin/realms/r1/users/alice",
        json!({"disabled": false}),
    );
    assert_eq!(r.status, 200);
    let s3 = new_session(&h);
    tokens(&h, &rp, &s3, "");
    // An email change alone ends nothing; a password reset does.
    h.admin(
        Method::Patch,
        "/admin/realms/r1/users/alice",
        json!({"email": "a@example.org"}),
    );
    assert!(is_live(&h, &s3));
    h.admin(
        Method::Put,
        "/admin/realms/r1/users/alice",
        json!({"password": "reset by admin"}),
    );
    assert!(!is_live(&h, &s3));
    assert!(
        session_events(&h)
            .iter()
            .any(|o| o.contains("initiated by: password reset"))
    );
}

#[test]
fn deleting_a_realm_ends_its_sessions_then_removes_everything_under_it() {
    let (h, session) = setup();
    let rp = logout_rp(&h);
    tokens(&h, &rp, &session, "");
    let _ = third_party(&h);
    // Something of every kind: a grant, a throttle counter, a dead letter, audit events.
    assert_eq!(sign_in_as(&h, "alice", "wrong").status, 401);
    // A second realm that must be left alone.
    assert_eq!(
        h.admin(Method::Put, "/admin/realms/r2", json!({})).status,
        201
    );

    let r = h.admin(Method::Delete, "/admin/realms/r1", Value::Null);
    assert_eq!(r.status, 202, "{}", text(&r));
    assert_eq!(json_of(&r)["sessions_ended"], 1);
    // Gone for the world at once, and it cannot be re-created while deliveries are pending.
    let r = h.call(Request::new(
        Method::Get,
        "/realms/r1/.well-known/openid-configuration",
    ));
    assert_eq!(r.status, 404);
    assert_eq!(
        h.admin(Method::Put, "/admin/realms/r1", json!({})).status,
        409
    );
    // The RP is told (the realm's keys, still kept, sign its logout token)...
    run_due(&h);
    let posts = h.posts.borrow().clone();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].0, "https://rp5.example/bc");
    let lt = claims_of(posts[0].1.trim_start_matches("logout_token="));
    assert_eq!(lt["aud"], rp.id.as_str());
    assert_eq!(lt["cause"], "SESSION_TERMINATION");
    // ... and then nothing of the realm remains.
    block_on(oidc_edge_core::provider::sweep(&h)).unwrap();
    let left: Vec<String> = keys_of(&h)
        .into_iter()
        .filter(|k| k.contains("/r1/") || k.ends_with("/r1"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(keys_of(&h).iter().any(|k| k == "realm/r2"));
    assert_eq!(
        h.admin(Method::Put, "/admin/realms/r1", json!({})).status,
        201
    );
}

#[test]
fn realm_updates_merge_with_what_is_stored_and_patch_does_the_same() {
    let (h, _) = setup();
    let r = h.admin(
        Method::Put,
        "/admin/realms/r1",
        json!({"registration": "token", "registration_token": "initial-access-token-123"}),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    let r = h.admin(
        Method::Put,
        "/admin/realms/r1",
        json!({"session_idle_time_secs": 900}),
    );
    assert_eq!(r.status, 200);
    let cfg = &json_of(&r)["config"];
    assert_eq!(cfg["registration"], "token", "{cfg}");
    assert_eq!(cfg["session_idle_time_secs"], 900);
    let r = h.admin(
        Method::Patch,
        "/admin/realms/r1",
        json!({"access_token_ttl_secs": 600}),
    );
    let cfg = &json_of(&r)["config"];
    assert_eq!(
        (
            cfg["registration"].as_str(),
            cfg["session_idle_time_secs"].as_u64()
        ),
        (Some("token"), Some(900))
    );
    // Registration is still closed to anonymous callers.
    let r = h.call(
        Request::new(Method::Post, "/realms/r1/register")
            .with_header("content-type", "application/json")
            .with_body(json!({"redirect_uris": ["https://x.example/cb"]}).to_string()),
    );
    assert_eq!(r.status, 401);
    for bad in [
        json!([]),
        json!([1, 2]),
        json!("x"),
        json!(7),
        json!({"no_such_setting": 1}),
    ] {
        let r = h.admin(Method::Put, "/admin/realms/r1", bad.clone());
        assert_eq!(r.status, 400, "{bad}: {}", text(&r));
    }
    assert_eq!(
        json_of(&h.admin(Method::Get, "/admin/realms/r1", Value::Null))["config"]["session_idle_time_secs"],
        900
    );
}

// ---- 5. Protocol details ----------------------------------------------------------------------

#[test]
fn max_age_and_prompt_login_ask_for_the_password_again_and_auth_time_is_reported() {
    let (h, session) = setup();
    let rp = logout_rp(&h);
    tokens(&h, &rp, &session, ""); // consent given
    h.now.set(h.now.get() + 120);
    let r = ask(&h, &rp, Some(&session), "&max_age=60");
    assert!(text(&r).contains("type=\"password\""), "{}", text(&r));
    assert!(
        text(&r).contains("name=\"max_age\" value=\"60\""),
        "carried through the form"
    );
    let r = ask(&h, &rp, Some(&session), "&prompt=login");
    assert!(text(&r).contains("type=\"password\""));
    assert!(
        !text(&r).contains("name=\"prompt\""),
        "prompt=login is not carried, or it loops"
    );
    let r = ask(&h, &rp, Some(&session), "&max_age=abc");
    assert_eq!(location_params(&r)["error"], "invalid_request");
    let t = tokens(&h, &rp, &session, "&max_age=600");
    let c = claims_of(t["id_token"].as_str().unwrap());
    assert_eq!(c["auth_time"].as_u64(), Some(h.now.get() - 120));

    // Signing in again through the form re-authenticates the same session: same sid.
    let sid_before = c["sid"].clone();
    let page = ask(&h, &rp, Some(&session), "&max_age=60");
    let csrf = hidden(&text(&page), "csrf").unwrap();
    let mut f: Vec<(&str, String)> = vec![
        ("client_id", rp.id.clone()),
        ("redirect_uri", rp.redirect.clone()),
        ("response_type", "code".into()),
        ("scope", "openid email profile".into()),
        ("state", "st4te".into()),
        ("nonce", "n0nce".into()),
        ("max_age", "60".into()),
        ("username", "alice".into()),
        ("password", "correct horse".into()),
    ];
    f.push(("csrf", csrf.clone()));
    let f2: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_form(
        &h,
        "/realms/r1/login",
        Some(&format!(
            "oidc_edge_csrf={csrf}; oidc_edge_session={session}"
        )),
        &f2,
    );
    assert_eq!(r.status, 303, "{}", text(&r));
    assert!(r.header("location").unwrap().contains("max_age=60"));
    let t = tokens(&h, &rp, &session, "&max_age=60");
    let c = claims_of(t["id_token"].as_str().unwrap());
    assert_eq!(c["sid"], sid_before);
    assert_eq!(c["auth_time"].as_u64(), Some(h.now.get()));
}

#[test]
fn access_tokens_carry_no_username_without_profile_and_no_session_handle_shared_by_clients() {
    let (h, session) = setup();
    let rp = logout_rp(&h);
    let narrow = h.call(
        Request::new(
            Method::Get,
            &format!(
                "/realms/r1/authorize?response_type=code&scope=openid&client_id={}&redirect_uri={}&nonce=n",
                rp.id,
                urlencode(&rp.redirect)
            ),
        )
        .with_header("cookie", &format!("oidc_edge_session={session}")),
    );
    let r = answer_consent(&h, &narrow, &session, "allow");
    let r = exchange(&h, &rp, &code_of(&r), None);
    let t = json_of(&r);
    let at = claims_of(t["access_token"].as_str().unwrap());
    let id = claims_of(t["id_token"].as_str().unwrap());
    assert!(at.get("username").is_none(), "{at}");
    assert!(at.get("sess").is_none(), "{at}");
    assert_eq!(at["sid"], id["sid"], "the client's own sid");
    assert_ne!(
        at["sid"].as_str(),
        Some(oidc_edge_core::session::id_of(&session).as_str())
    );
    assert_eq!(
        userinfo(&h, t["access_token"].as_str().unwrap()).status,
        200
    );
    let wide = claims_of(
        tokens(&h, &rp, &session, "")["access_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(wide["username"], "alice");
}

#[test]
fn a_replayed_code_revokes_the_access_token_of_its_first_use() {
    let (h, session) = setup();
    let rp = logout_rp(&h);
    let code = code_of(&authorize(&h, &rp, Some(&session), ""));
    let first = exchange(&h, &rp, &code, None);
    assert_eq!(first.status, 200);
    let at = json_of(&first)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&h, &at).status, 200);
    let again = exchange(&h, &rp, &code, None);
    assert_eq!(again.status, 400);
    assert_eq!(json_of(&again)["error"], "invalid_grant");
    assert_eq!(userinfo(&h, &at).status, 401);
    assert!(text(&userinfo(&h, &at)).contains("revoked"));
}

#[test]
fn client_authentication_is_one_method_for_one_client() {
    let (h, session) = setup();
    let rp = logout_rp(&h);
    let other = third_party(&h);
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        rp.id,
        rp.secret.as_deref().unwrap()
    ));
    let token = |fields: &[(&str, &str)]| {
        h.call(
            Request::new(Method::Post, "/realms/r1/token")
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_header("authorization", &format!("Basic {basic}"))
                .with_body(encode_params(fields.iter().copied())),
        )
    };
    let code = code_of(&authorize(&h, &rp, Some(&session), ""));
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", rp.redirect.as_str()),
    ];
    let mut f = base.to_vec();
    f.push(("client_id", other.id.as_str()));
    assert_eq!(json_of(&token(&f))["error"], "invalid_request");
    let mut f = base.to_vec();
    f.push(("client_secret", rp.secret.as_deref().unwrap()));
    assert_eq!(json_of(&token(&f))["error"], "invalid_request");
    // The same client_id in the body is fine.
    let mut f = base.to_vec();
    f.push(("client_id", rp.id.as_str()));
    assert_eq!(token(&f).status, 200);
}

fn sign_in_from(h: &TestHost, user: &str, password: &str, remote: &str) -> Response {
    h.call(
        Request::new(Method::Post, "/realms/r1/authenticate")
            .with_header("content-type", "application/json")
            .with_remote(remote)
            .with_body(json!({"username": user, "password": password}).to_string()),
    )
}

#[test]
fn password_guessing_is_throttled_per_account_and_per_source_and_each_failure_is_audited() {
    let (h, _) = setup();
    for i in 0..5 {
        let r = sign_in_from(&h, "alice", "guess", &format!("198.51.100.{i}"));
        assert_eq!(r.status, 401, "{}", text(&r));
    }
    // The account now makes every source wait, the right password included.
    let r = sign_in_from(&h, "alice", "correct horse", "203.0.113.9");
    assert_eq!(r.status, 429, "{}", text(&r));
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(json_of(&r)["error"], "access_denied");
    assert_eq!(audit(&h, "AM-LOGIN-COMPLETED").len(), 5);
    h.now.set(h.now.get() + 1);
    assert_eq!(
        sign_in_from(&h, "alice", "correct horse", "203.0.113.9").status,
        200
    );
    // Success clears the account's count.
    assert_eq!(
        sign_in_from(&h, "alice", "guess", "203.0.113.9").status,
        401
    );
    assert_eq!(
        sign_in_from(&h, "alice", "correct horse", "203.0.113.9").status,
        200
    );

    // One source spraying many accounts is slowed down after 20 failures.
    for i in 0..20 {
        assert_eq!(
            sign_in_from(&h, &format!("user{i}"), "pw", "192.0.2.66").status,
            401
        );
    }
    assert_eq!(sign_in_from(&h, "user99", "pw", "192.0.2.66").status, 429);
    assert_eq!(
        sign_in_from(&h, "alice", "correct horse", "192.0.2.77").status,
        200
    );
}

#[test]
fn an_account_locks_after_one_hundred_consecutive_failures_until_its_password_is_reset() {
    let (h, session) = setup();
    for _ in 0..100 {
        h.now.set(h.now.get() + 901);
        assert_eq!(
            sign_in_from(&h, "alice", "guess", "198.51.100.1").status,
            401
        );
    }
    h.now.set(h.now.get() + 901);
    let r = sign_in_from(&h, "alice", "correct horse", "198.51.100.2");
    assert_eq!(r.status, 423, "{}", text(&r));
    let _ = session;
    h.admin(
        Method::Patch,
        "/admin/realms/r1/users/alice",
        json!({"password": "a new password"}),
    );
    assert_eq!(
        sign_in_from(&h, "alice", "a new password", "198.51.100.2").status,
        200
    );
}

#[test]
fn anonymous_registration_is_limited_per_source() {
    let (h, _) = setup();
    let reg = |remote: &str| {
        h.call(
            Request::new(Method::Post, "/realms/r1/register")
                .with_header("content-type", "application/json")
                .with_remote(remote)
                .with_body(json!({"redirect_uris": ["https://x.example/cb"]}).to_string()),
        )
    };
    for _ in 0..20 {
        assert_eq!(reg("198.51.100.7").status, 201);
    }
    let r = reg("198.51.100.7");
    assert_eq!(r.status, 429, "{}", text(&r));
    assert_eq!(reg("198.51.100.8").status, 201);
    h.now.set(h.now.get() + 3600);
    assert_eq!(reg("198.51.100.7").status, 201);
}

// ---- Input accepted before that must not be ----------------------------------------------------

#[test]
fn malformed_admin_input_is_refused() {
    let (h, _) = setup();
    for id in [".", ".."] {
        let r = h.admin(
            Method::Put,
            &format!("/admin/realms/r1/clients/{id}"),
            json!({"redirect_uris": ["https://x.example/cb"]}),
        );
        assert_eq!(r.status, 400, "client id {id:?}: {}", text(&r));
    }
    for secret in [
        json!(12345678901234567890u64),
        json!(["a"]),
        json!({"s": 1}),
        json!(true),
    ] {
        let r = h.admin(
            Method::Put,
            "/admin/realms/r1/clients/c1",
            json!({"redirect_uris": ["https://x.example/cb"], "client_secret": secret}),
        );
        assert_eq!(r.status, 400, "client_secret {secret}: {}", text(&r));
    }
    for name in [".", ".."] {
        let r = h.admin(
            Method::Put,
            &format!("/admin/realms/r1/users/{name}"),
            json!({"password": "a password"}),
        );
        assert_eq!(r.status, 400, "user name {name:?}: {}", text(&r));
    }
    // Arrays where objects belong, and members named twice, are refused everywhere.
    let raw = |method, path: &str, body: &str, admin: bool| {
        let mut req = Request::new(method, path)
            .with_header("content-type", "application/json")
            .with_body(body.to_owned());
        if admin {
            req = req.with_header("authorization", "Bearer admin-secret-token");
        }
        h.call(req)
    };
    for (method, path, body, admin) in [
        (
            Method::Put,
            "/admin/realms/r1/users/carol",
            r#"["a password", "c@example.com"]"#,
            true,
        ),
        (
            Method::Post,
            "/realms/r1/authenticate",
            r#"["alice", "correct horse"]"#,
            false,
        ),
        (
            Method::Post,
            "/realms/r1/register",
            r#"{"redirect_uris":["https://a.example/cb"],"redirect_uris":["https://b.example/cb"]}"#,
            false,
        ),
        (
            Method::Put,
            "/admin/realms/r1",
            r#"{"session_idle_time_secs":600,"session_idle_time_secs":900}"#,
            true,
        ),
        (
            Method::Post,
            "/realms/r1/authenticate",
            r#"{"username":"mallory","username":"alice","password":"correct horse"}"#,
            false,
        ),
    ] {
        let r = raw(method, path, body, admin);
        assert_eq!(r.status, 400, "{path} {body}: {}", text(&r));
        assert_eq!(json_of(&r)["error"], "invalid_request");
    }
    let r = h.admin(
        Method::Get,
        "/admin/realms/r1/deliveries?state=bogus",
        Value::Null,
    );
    assert_eq!(r.status, 400);
    assert_eq!(json_of(&r)["error"], "invalid_request");
}

#[test]
fn two_different_malformed_csrf_tokens_never_match_and_the_cleared_csrf_cookie_keeps_secure() {
    let (h, _) = setup();
    let rp = logout_rp(&h);
    let login = |cookie_csrf: &str, field_csrf: &str| {
        h.call(
            Request::new(Method::Post, "/realms/r1/login")
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_header("cookie", &format!("oidc_edge_csrf={cookie_csrf}"))
                .with_body(format!(
                    "csrf={field_csrf}&username=alice&password=correct+horse&client_id={}&redirect_uri={}&response_type=code&scope=openid",
                    rp.id,
                    urlencode(&rp.redirect)
                )),
        )
    };
    // Bytes that are not UTF-8 decode to the same replacement character: still no match.
    let r = login("\u{FFFD}", "%FE");
    assert_eq!(r.status, 400, "{}", text(&r));
    let r = login("\u{FFFD}\u{FFFD}", "%FF%FE");
    assert_eq!(r.status, 400);
    let good = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
    let r = login(good, good);
    assert_eq!(r.status, 303, "{}", text(&r));
    let cleared = r
        .headers
        .iter()
        .find(|(n, v)| n == "set-cookie" && v.starts_with("oidc_edge_csrf=;"))
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(
        cleared.contains("Max-Age=0") && cleared.contains("; Secure"),
        "{cleared}"
    );
}

#[test]
fn discovery_lists_the_consent_relevant_prompt_values() {
    let (h, _) = setup();
    let d = json_of(&h.call(Request::new(
        Method::Get,
        "/realms/r1/.well-known/openid-configuration",
    )));
    assert_eq!(
        d["prompt_values_supported"],
        json!(["none", "login", "consent"])
    );
    let _ = JwsAlg::RS256;
}
