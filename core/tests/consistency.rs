//! What the store's consistency means for the promises of this provider, on the in-memory host:
//! a session ends at its deadline by the host's timer; and two locations over an eventually
//! consistent store (Workers KV: one location sees another's writes up to 60 s late) show the
//! two failures it allows — a logout seen late lets the other location issue a code, a code
//! redeemed at one location is redeemed again at the other — and that keeping the strongly
//! consistent prefixes (`keys::STRONG`, the worker's Durable Objects) closes both.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use oidc_edge_core::http::{Method, Request};
use oidc_edge_core::keys;
use oidc_edge_tests::flow;
use oidc_edge_tests::memory::*;
use serde_json::{Value, json};

const BC: &str = "https://rp.example/bc";

fn rp(h: &TestHost) -> Rp {
    register(
        h,
        json!({"redirect_uris": ["https://rp.example/cb"], "backchannel_logout_uri": BC}),
    )
}

/// Everything on Workers KV, as the worker kept it before.
fn all_eventual(_: &str) -> bool {
    true
}

/// The strongly consistent prefixes in a store of their own (the worker's Durable Objects),
/// the rest on KV.
fn strong_split(key: &str) -> bool {
    keys::strong_realm(key).is_none()
}

fn sessions_logout(h: &TestHost, session: &str) {
    let r = h.call(
        Request::new(Method::Post, "/realms/r1/sessions/logout")
            .with_header("x-session-token", session),
    );
    assert_eq!(r.status, 200, "{}", flow::text_of(&r));
}

/// A logout at location A, then the same browser at location B 10 s later: does B still sign
/// it in to a new RP, and does that RP get tokens (that no logout token will ever follow)?
fn late_logout(eventual: fn(&str) -> bool) -> (u16, Option<Value>) {
    let (h, session) = setup();
    let first = rp(&h);
    login(
        &h,
        &first,
        &session,
        oidc_edge_core::jose::JwsAlg::RS256,
        None,
    );
    let second = rp(&h);
    // Consent for the second RP now, so that B's answer is about the session alone.
    let r = authorize(&h, &second, Some(&session), "");
    assert_eq!(r.status, 302);
    h.eventually(eventual);
    h.location.set(0);
    sessions_logout(&h, &session);
    h.now.set(h.now.get() + 10);
    h.location.set(1);
    let r = authorize(&h, &second, Some(&session), "");
    if r.status != 302 {
        return (r.status, None);
    }
    let r = exchange(&h, &second, &location_params(&r)["code"], None);
    (302, (r.status == 200).then(|| json_of(&r)))
}

#[test]
fn on_kv_a_logout_seen_late_lets_another_location_sign_an_rp_in_and_strong_sessions_do_not() {
    let (status, tokens) = late_logout(all_eventual);
    assert_eq!(status, 302, "today: B issues a code for the ended session");
    assert!(
        tokens.is_some_and(|t| t["id_token"].is_string()),
        "today: and the RP gets an ID token no logout token will follow"
    );
    let (status, tokens) = late_logout(strong_split);
    assert_eq!(status, 200, "the login form: B sees the session ended");
    assert_eq!(tokens, None);
}

/// A code issued and redeemed at location A; 5 s later presented at location B, which sees
/// the store as it was 7 s before: is it redeemed a second time?
fn double_redemption(eventual: fn(&str) -> bool) -> (u16, u16) {
    let (h, session) = setup();
    let client = rp(&h);
    // Consent first, so that the code comes at once.
    assert_eq!(authorize(&h, &client, Some(&session), "").status, 302);
    h.eventually(eventual);
    h.location.set(0);
    let r = ask(&h, &client, Some(&session), "");
    let code = location_params(&r)["code"].clone();
    h.now.set(h.now.get() + 5);
    let first = exchange(&h, &client, &code, None).status;
    h.now.set(h.now.get() + 5);
    h.location.set(1);
    h.stale_secs.set(7);
    let second = exchange(&h, &client, &code, None).status;
    (first, second)
}

#[test]
fn on_kv_a_code_redeemed_at_one_location_is_redeemed_again_at_another_and_strong_codes_are_not() {
    assert_eq!(double_redemption(all_eventual), (200, 200), "today");
    assert_eq!(double_redemption(strong_split), (200, 400));
}

#[test]
fn a_session_ends_when_its_timer_fires_at_its_deadline() {
    let (h, session) = setup();
    let client = rp(&h);
    login(
        &h,
        &client,
        &session,
        oidc_edge_core::jose::JwsAlg::RS256,
        None,
    );
    let listed = json_of(&h.admin(Method::Get, "/admin/realms/r1/sessions", Value::Null));
    let last_access = listed["result"][0]["last_access"].as_u64().unwrap();
    // Idle 600 s plus one touch step (60 s) of slack.
    let deadline = last_access + 660;
    assert!(
        h.wakes.borrow().iter().any(|(at, _, _)| *at == deadline),
        "{:?}",
        h.wakes.borrow()
    );
    h.now.set(deadline - 1);
    assert_eq!(h.fire_wakes(), 0);
    h.now.set(deadline);
    assert_eq!(h.fire_wakes(), 1);
    run_due(&h);
    assert_eq!(received(&h, BC, &client.id, None).len(), 1);
    assert_eq!(h.fire_wakes(), 0, "ended once");
    assert_eq!(audit(&h, "AM-SESSION-IDLE_TIMED_OUT").len(), 1);
}

#[test]
fn a_timer_for_a_session_used_since_waits_for_its_new_deadline() {
    let (h, session) = setup();
    let client = rp(&h);
    let first = h.now.get();
    h.now.set(first + 300);
    // Activity moves the idle deadline on.
    login(
        &h,
        &client,
        &session,
        oidc_edge_core::jose::JwsAlg::RS256,
        None,
    );
    h.now.set(first + 660);
    assert_eq!(h.fire_wakes(), 0, "not due: it asks again");
    assert!(h.wakes.borrow().iter().any(|(at, _, _)| *at == first + 960));
    h.now.set(first + 960);
    assert_eq!(h.fire_wakes(), 1);
}

/// A client whose code is redeemed while the session's logout is being queued: it joined a
/// session that is ending, and it must be told too (before, the end removed the session as it
/// had read it, and the newcomer never got a logout token).
#[test]
fn a_client_that_joins_while_the_session_ends_is_told_too() {
    let (h, session) = setup();
    let first = rp(&h);
    login(
        &h,
        &first,
        &session,
        oidc_edge_core::jose::JwsAlg::RS256,
        None,
    );
    let late_bc = "https://late.example/bc";
    let late = register(
        &h,
        json!({"redirect_uris": ["https://late.example/cb"], "backchannel_logout_uri": late_bc}),
    );
    let r = authorize(&h, &late, Some(&session), "");
    let code = location_params(&r)["code"].clone();
    let redeemed = std::rc::Rc::new(std::cell::Cell::new(0u16));
    let seen = redeemed.clone();
    let client = late.clone();
    *h.meanwhile.borrow_mut() = Some(Meanwhile(Box::new(move |h: &TestHost| {
        seen.set(exchange(h, &client, &code, None).status);
    })));
    sessions_logout(&h, &session);
    assert_eq!(
        redeemed.get(),
        200,
        "the code was redeemed while the session still lived"
    );
    run_due(&h);
    assert_eq!(received(&h, BC, &first.id, None).len(), 1);
    assert_eq!(
        received(&h, late_bc, &late.id, None).len(),
        1,
        "the newcomer is told"
    );
    let sessions = json_of(&h.admin(Method::Get, "/admin/realms/r1/sessions", Value::Null));
    assert_eq!(sessions["resultCount"], 0);
}
