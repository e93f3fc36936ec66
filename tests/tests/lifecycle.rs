//! The README's token lifecycle table ("What ends with a session"), one test per row, over HTTP
//! against the native server or the worker in workerd. Each story: one session, two relying
//! parties registered for refresh tokens — one signed in with `openid` (its access and refresh
//! tokens), one with `offline_access` — then one way of ending things, and what survives it:
//! the first RP's access token (introspected), its refresh token and the offline one (each
//! refreshed once), and the logout tokens each RP received.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use oidc_edge::native::server::ServerOptions;
use oidc_edge::native::{NativeClock, now};
use oidc_edge_core::http::encode_params;
use oidc_edge_core::logout::delivery::DeliveryPolicy;
use oidc_edge_tests::jose::jose_verify_batch;
use oidc_edge_tests::logout::{WAIT, rp_at, wait_outbox_empty};
use oidc_edge_tests::op::{Op, REALM, Registered, Start, USER};
use oidc_edge_tests::rp::TestRp;
use reqwest::Method;
use serde_json::{Value, json};

/// One relying party and what it holds.
struct Held {
    rp: TestRp,
    reg: Registered,
    /// The token endpoint's answer (the refresh token as last rotated).
    tokens: Value,
}

impl Held {
    fn text(&self, name: &str) -> String {
        self.tokens[name].as_str().expect(name).to_owned()
    }
}

struct Story {
    op: Op,
    session: String,
    online: Held,
    offline: Held,
}

/// A provider on a manual clock (its realm: sessions end after 60 s idle and 120 s in all, plus
/// `config`), one session, and both relying parties signed in on it.
fn story(config: Value) -> Story {
    let mut realm_config = json!({"session_idle_time_secs": 60, "session_max_time_secs": 120});
    if let (Value::Object(r), Value::Object(c)) = (&mut realm_config, config) {
        r.extend(c);
    }
    let op = Op::start(Start {
        options: ServerOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            clock: NativeClock::manual(now()),
            delivery: DeliveryPolicy {
                timeout_ms: 2000,
                retry_max: 2,
                retry_base_ms: 100,
                concurrency: 16,
            },
            sweep_interval: Duration::from_secs(3600),
            ..ServerOptions::default()
        },
        realm_config,
    });
    let session = op.session();
    let refreshing = json!({"grant_types": ["authorization_code", "refresh_token"]});
    let (rp, reg) = rp_at(&op, refreshing.clone());
    let (tokens, _) = op.sign_in_for(&reg, &session, "openid", "");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    let online = Held { rp, reg, tokens };
    let (rp, reg) = rp_at(&op, refreshing);
    let (tokens, claims) =
        op.sign_in_for(&reg, &session, "openid offline_access", "&prompt=consent");
    assert_eq!(tokens["scope"], "openid offline_access");
    assert!(claims["sid"].is_string());
    let offline = Held { rp, reg, tokens };
    Story {
        op,
        session,
        online,
        offline,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Lives,
    Ends,
}
use Fate::{Ends, Lives};

/// One row of the table.
#[derive(Clone, Copy, Debug)]
struct Row {
    /// The first RP's access token.
    access: Fate,
    /// The first RP's refresh token.
    refresh: Fate,
    /// The second RP's `offline_access` refresh token.
    offline: Fate,
    /// Whether the session lives on (refreshed ID tokens then keep their `sid`).
    session: Fate,
    /// Logout tokens the first and the second RP received.
    told: (usize, usize),
}

/// Whether `token` is active, as `reg` introspects it (an answer other than 200 — the realm
/// gone — is not).
fn active(op: &Op, reg: &Registered, token: &str) -> bool {
    let r = op.client_post(reg, "introspect", vec![("token", token)]);
    r.status == 200 && r.json()["active"] == true
}

/// A refresh of `held`'s refresh token: `Lives` when it gave new tokens (whose ID token has a
/// `sid` exactly while the session lives), `Ends` when it was refused.
fn refresh(op: &Op, held: &Held, session: Fate) -> Fate {
    let r = op.refresh(&held.reg, &held.text("refresh_token"));
    if r.status != 200 {
        assert!(
            r.status == 400 || r.status == 401 || r.status == 404,
            "{}",
            r.text()
        );
        return Ends;
    }
    let claims = op.open_id_token(&held.reg, r.json()["id_token"].as_str().unwrap());
    assert_eq!(
        claims.get("sid").is_some(),
        session == Lives,
        "a refreshed ID token has a sid while the session lives: {claims}"
    );
    Lives
}

fn check(st: &Story, row: Row) {
    let op = &st.op;
    let (online, offline) = row.told;
    if online > 0 {
        st.online.rp.wait_answered(online, WAIT);
    }
    if offline > 0 {
        st.offline.rp.wait_answered(offline, WAIT);
    }
    if op
        .admin(Method::GET, &format!("/admin/realms/{REALM}"), None)
        .status
        == 200
    {
        wait_outbox_empty(op);
    }
    let got = (
        st.online.rp.received().len(),
        st.offline.rp.received().len(),
    );
    assert_eq!(got, row.told, "logout tokens received");
    let access = if active(op, &st.online.reg, &st.online.text("access_token")) {
        Lives
    } else {
        Ends
    };
    assert_eq!(access, row.access, "the access token");
    assert_eq!(
        refresh(op, &st.online, row.session),
        row.refresh,
        "the refresh token"
    );
    assert_eq!(
        refresh(op, &st.offline, row.session),
        row.offline,
        "the offline refresh token"
    );
}

/// Every token of the session ends with it, but offline access (without `sid` from then on);
/// every RP is told once.
const SESSION_ENDED: Row = Row {
    access: Ends,
    refresh: Ends,
    offline: Lives,
    session: Ends,
    told: (1, 1),
};

/// Everything ends, offline access included; every RP is told once.
const ALL_ENDED: Row = Row {
    offline: Ends,
    ..SESSION_ENDED
};

#[test]
fn rp_initiated_logout() {
    let st = story(json!({}));
    let hint = st.online.text("id_token");
    let query = encode_params([("id_token_hint", hint.as_str())]);
    let r = st.op.send(
        st.op
            .http
            .get(format!("{}?{query}", st.op.endpoint("end_session")))
            .header("cookie", format!("oidc_edge_session={}", st.session)),
    );
    assert!(r.status < 400, "{}", r.text());
    check(&st, SESSION_ENDED);
}

#[test]
fn the_user_signs_out() {
    let st = story(json!({}));
    st.op.sessions_logout(&st.session, true);
    check(&st, SESSION_ENDED);
}

#[test]
fn the_user_signs_out_everywhere() {
    let st = story(json!({}));
    let r = st.op.send(
        st.op
            .http
            .post(st.op.endpoint("sessions/logout"))
            .header("x-session-token", &st.session)
            .header("content-type", "application/json")
            .body(r#"{"all": true}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    check(&st, SESSION_ENDED);
}

#[test]
fn an_administrator_signs_the_user_out_everywhere() {
    let st = story(json!({}));
    let r = st.op.admin(
        Method::DELETE,
        &format!("/admin/realms/{REALM}/users/{USER}/sessions"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    check(&st, SESSION_ENDED);
}

#[test]
fn an_administrator_ends_the_session() {
    let st = story(json!({}));
    let id = st.op.only_session_id(USER);
    let r = st.op.admin(
        Method::DELETE,
        &format!("/admin/realms/{REALM}/sessions/{id}"),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    check(&st, SESSION_ENDED);
}

#[test]
fn the_session_times_out_idle() {
    let st = story(json!({}));
    // 60 s idle plus the 6 s slack of the lazy last-access write.
    st.op.advance(66);
    assert_eq!(st.op.sweep_now(), 1);
    check(&st, SESSION_ENDED);
}

#[test]
fn the_session_reaches_its_maximum_lifetime() {
    let st = story(json!({}));
    for _ in 0..2 {
        st.op.advance(50);
        assert!(!st.op.shows_login_form(&st.online.reg, &st.session));
    }
    st.op.advance(20);
    assert_eq!(st.op.sweep_now(), 1);
    check(&st, SESSION_ENDED);
}

#[test]
fn the_user_signs_out_where_offline_access_ends_with_the_session() {
    let st = story(json!({"offline_access_survives_logout": false}));
    st.op.sessions_logout(&st.session, true);
    check(&st, ALL_ENDED);
}

#[test]
fn the_user_is_disabled() {
    let st = story(json!({}));
    let r = st.op.admin(
        Method::PUT,
        &format!("/admin/realms/{REALM}/users/{USER}"),
        Some(&json!({"disabled": true})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    check(&st, ALL_ENDED);
}

#[test]
fn the_password_is_reset() {
    let st = story(json!({}));
    let r = st.op.admin(
        Method::PUT,
        &format!("/admin/realms/{REALM}/users/{USER}"),
        Some(&json!({"password": "a new password"})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    check(&st, ALL_ENDED);
}

#[test]
fn the_user_is_deleted() {
    let st = story(json!({}));
    let r = st.op.admin(
        Method::DELETE,
        &format!("/admin/realms/{REALM}/users/{USER}"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    check(&st, ALL_ENDED);
}

#[test]
fn the_realm_is_deleted() {
    let st = story(json!({}));
    let r = st
        .op
        .admin(Method::DELETE, &format!("/admin/realms/{REALM}"), None);
    assert!(r.status == 200 || r.status == 202, "{}", r.text());
    check(&st, ALL_ENDED);
}

#[test]
fn consent_to_one_client_is_withdrawn() {
    let st = story(json!({}));
    let r = st.op.admin(
        Method::DELETE,
        &format!(
            "/admin/realms/{REALM}/users/{USER}/grants/{}",
            st.online.reg.id
        ),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    check(
        &st,
        Row {
            access: Ends,
            refresh: Ends,
            offline: Lives,
            session: Lives,
            told: (1, 0),
        },
    );
}

#[test]
fn a_spent_refresh_token_is_replayed() {
    let mut st = story(json!({}));
    let spent = st.online.text("refresh_token");
    let r = st.op.refresh(&st.online.reg, &spent);
    assert_eq!(r.status, 200, "{}", r.text());
    st.online.tokens["refresh_token"] = r.json()["refresh_token"].clone();
    let r = st.op.refresh(&st.online.reg, &spent);
    assert_eq!(r.oauth_error(), (400, "invalid_grant".to_owned()));
    check(
        &st,
        Row {
            access: Ends,
            refresh: Ends,
            offline: Lives,
            session: Lives,
            told: (1, 0),
        },
    );
}

#[test]
fn the_client_revokes_its_refresh_token_and_the_sessions_end_still_tells_it() {
    let st = story(json!({}));
    let r = st.op.client_post(
        &st.online.reg,
        "revoke",
        vec![("token", &st.online.text("refresh_token"))],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    check(
        &st,
        Row {
            access: Ends,
            refresh: Ends,
            offline: Lives,
            session: Lives,
            told: (0, 0),
        },
    );
    st.op.sessions_logout(&st.session, true);
    st.online.rp.wait_answered(1, WAIT);
    st.offline.rp.wait_answered(1, WAIT);
}

#[test]
fn the_client_revokes_its_access_token() {
    let st = story(json!({}));
    let r = st.op.client_post(
        &st.online.reg,
        "revoke",
        vec![("token", &st.online.text("access_token"))],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    check(
        &st,
        Row {
            access: Ends,
            refresh: Lives,
            offline: Lives,
            session: Lives,
            told: (0, 0),
        },
    );
}

/// Every token shape a refresh gives, checked by an independent JOSE implementation (`jose`):
/// refreshed ID tokens with the session's `sid` and, after logout, offline access's without;
/// access tokens (`at+jwt`) with `sid`, and without it after logout.
#[test]
fn jose_verifies_what_refreshing_issues() {
    let st = story(json!({}));
    let op = &st.op;
    let refreshed = |held: &Held| {
        let r = op.refresh(&held.reg, &held.text("refresh_token"));
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };
    let online = refreshed(&st.online);
    st.op.sessions_logout(&st.session, true);
    let offline = refreshed(&st.offline);
    let jwks = op.jwks().to_value();
    let cases = [
        (&st.online.reg, &online, "id_token", true),
        (&st.online.reg, &online, "access_token", true),
        (&st.offline.reg, &offline, "id_token", false),
        (&st.offline.reg, &offline, "access_token", false),
    ];
    let requests: Vec<Value> = cases
        .iter()
        .map(|(reg, tokens, name, _)| {
            let access = *name == "access_token";
            let mut r = json!({
                "token": tokens[*name],
                "jwks": jwks,
                "algorithms": [if access { "ES256" } else { reg.alg.as_str() }],
            });
            if access {
                r["typ"] = json!("at+jwt");
            }
            r
        })
        .collect();
    let Some(results) = jose_verify_batch(&requests) else {
        return;
    };
    for ((reg, _, name, with_sid), result) in cases.iter().zip(&results) {
        assert!(
            result.get("error").is_none(),
            "jose refused {name}: {result}"
        );
        let p = &result["payload"];
        assert_eq!(p["iss"], op.issuer.as_str(), "{p}");
        assert_eq!(p["aud"], reg.id.as_str(), "{p}");
        assert_eq!(p.get("sid").is_some(), *with_sid, "{name}: {p}");
        assert!(p.get("nonce").is_none(), "{p}");
        if *name == "access_token" {
            let jti = p["jti"].as_str().unwrap();
            assert!(jti.ends_with(".1"), "the grant's first refresh: {jti}");
            assert_eq!(p["client_id"], reg.id.as_str());
        } else {
            assert!(p["auth_time"].is_u64(), "{p}");
        }
    }
}
