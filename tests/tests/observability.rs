//! Logout you can see: the logout page and `sessions/logout` wait for the RPs' answers (the
//! realm's `logout_wait_ms`, never longer) and say where each stands; the delivery ledger
//! (`GET /admin/realms/R/deliveries`) with its attempts, filters and cursors; per-client
//! statistics; redelivery; and natively `GET /metrics`. Runs against the native server and,
//! with `OIDC_EDGE_TARGET=worker`, the worker in workerd (metrics are native only).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use oidc_edge::native::NativeClock;
use oidc_edge::native::server::ServerOptions;
use oidc_edge_core::http::encode_params;
use oidc_edge_core::logout::delivery::DeliveryPolicy;
use oidc_edge_tests::logout::{WAIT, rp_at};
use oidc_edge_tests::op::{Op, REALM, Registered, Start, USER, wait};
use oidc_edge_tests::rp::{Answer, TestRp};
use oidc_edge_tests::target::{Target, not_applicable};
use reqwest::Method;
use serde_json::{Value, json};

/// A POST gets 3 s; retries come quickly (100 ms base), two of them.
fn delivery() -> DeliveryPolicy {
    DeliveryPolicy {
        timeout_ms: 3000,
        retry_max: 2,
        retry_base_ms: 100,
        concurrency: 16,
    }
}

fn start(realm_config: Value, metrics_addr: bool) -> Op {
    Op::start(Start {
        options: ServerOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            clock: NativeClock::system(),
            delivery: delivery(),
            sweep_interval: Duration::from_secs(3600),
            metrics_addr: metrics_addr.then(|| "127.0.0.1:0".parse().unwrap()),
            ..ServerOptions::default()
        },
        realm_config,
    })
}

/// An RP at `answer`, registered (with a post-logout redirect URI).
fn rp(op: &Op, answer: Answer) -> (TestRp, Registered) {
    let (rp, reg) = rp_at(
        op,
        json!({"post_logout_redirect_uris": ["https://rp.example/bye"]}),
    );
    rp.answer(answer);
    (rp, reg)
}

/// The per-RP outcomes of a logout answer, by client id.
fn outcomes(answer: &Value) -> BTreeMap<String, Value> {
    answer["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("no deliveries in {answer}"))
        .iter()
        .map(|o| (o["client_id"].as_str().unwrap().to_owned(), o.clone()))
        .collect()
}

fn ledger(op: &Op, query: &str) -> Value {
    let r = op.admin(
        Method::GET,
        &format!("/admin/realms/{REALM}/deliveries?{query}"),
        None,
    );
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    r.json()
}

fn entries(op: &Op, query: &str) -> Vec<Value> {
    ledger(op, query)["result"].as_array().unwrap().clone()
}

fn stats(op: &Op, client: &str) -> Value {
    let r = op.admin(
        Method::GET,
        &format!("/admin/realms/{REALM}/clients/{client}/deliveries/stats"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// The ledger entry of `client`'s delivery for session `sid`, once it is no longer pending.
fn settled(op: &Op, sid: &str, client: &str) -> Value {
    wait(WAIT, "the delivery to settle", || {
        let e = entries(op, &encode_params([("session", sid), ("client", client)]));
        match e.as_slice() {
            [one] if one["state"] != "pending" => Ok(one.clone()),
            other => Err(format!("{other:?}")),
        }
    })
}

#[test]
fn sessions_logout_waits_for_the_rps_up_to_the_bound_and_tells_each_outcome() {
    let op = start(json!({}), false);
    let (ok, ok_reg) = rp(&op, Answer::Verified);
    let (_slow, slow_reg) = rp(&op, Answer::After(Duration::from_millis(100), 200));
    let (bad, bad_reg) = rp(&op, Answer::Status(400));
    let (_hang, hang_reg) = rp(&op, Answer::Hang);
    let session = op.session();
    for reg in [&ok_reg, &slow_reg, &bad_reg, &hang_reg] {
        op.sign_in(reg, &session);
    }
    let sid = op.only_session_id(USER);

    let t0 = Instant::now();
    let answer = op.sessions_logout(&session, true);
    let took = t0.elapsed();
    let o = outcomes(&answer);
    assert_eq!(o.len(), 4, "{answer}");
    assert_eq!(o[&ok_reg.id]["state"], "delivered", "{answer}");
    assert_eq!(o[&ok_reg.id]["status"], 200);
    assert_eq!(o[&slow_reg.id]["state"], "delivered", "{answer}");
    assert_eq!(o[&bad_reg.id]["state"], "failed", "{answer}");
    assert_eq!(o[&bad_reg.id]["status"], 400);
    assert_eq!(o[&hang_reg.id]["state"], "pending", "{answer}");
    assert!(o[&hang_reg.id].get("status").is_none(), "{answer}");
    // It waited for the hanging RP up to the realm's bound (1500 ms), and no longer: its
    // delivery goes on in the background (3 s timeout, then retries).
    assert!(
        took >= Duration::from_millis(1400),
        "answered after {took:?}"
    );
    assert!(
        took < Duration::from_millis(3000),
        "answered after {took:?}"
    );

    // The ledger: one record per RP, each attempt with its status, latency and token id.
    let all = entries(&op, &encode_params([("session", sid.as_str())]));
    assert_eq!(all.len(), 4, "{all:?}");
    let first = settled(&op, &sid, &ok_reg.id);
    assert_eq!(first["state"], "delivered");
    let attempt = &first["history"][0];
    assert_eq!(attempt["status"], 200);
    assert!(attempt["latency_ms"].is_u64());
    assert_eq!(
        attempt["jti"],
        ok.received()[0].claim("jti"),
        "the ledger names the token the RP got"
    );
    assert!(first["delivered_ms"].as_u64().unwrap() >= first["ended_ms"].as_u64().unwrap());
    let refused = settled(&op, &sid, &bad_reg.id);
    assert_eq!(refused["state"], "rejected");
    assert_eq!(refused["history"][0]["status"], 400);

    // Filters: state (with `failed` for rejected and dead), user, client.
    let failed = entries(&op, "state=failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["client_id"], bad_reg.id.as_str());
    let delivered = entries(&op, &format!("state=delivered&user={USER}"));
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert_eq!(entries(&op, "user=someone-else").len(), 0);
    assert_eq!(
        entries(&op, &encode_params([("client", hang_reg.id.as_str())])).len(),
        1
    );

    // Cursors: one at a time, every record once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("limit=1&cursor={c}"),
            None => "limit=1".to_owned(),
        };
        let page = ledger(&op, &q);
        for e in page["result"].as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    seen.dedup();
    assert_eq!(seen.len(), 4, "{seen:?}");
    for bad_query in [
        "state=lost",
        "limit=0",
        "limit=501",
        "cursor=..%2Fx",
        "state=dead&state=pending",
    ] {
        let r = op.admin(
            Method::GET,
            &format!("/admin/realms/{REALM}/deliveries?{bad_query}"),
            None,
        );
        assert_eq!(r.oauth_error().0, 400, "{bad_query}");
    }

    // Statistics per client.
    let s = stats(&op, &bad_reg.id);
    assert_eq!(
        (s["total"].as_u64(), s["rejected"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );
    assert_eq!(s["success_rate"], 0.0);
    assert_eq!(s["last_failure"]["status"], 400);
    assert_eq!(s["last_failure"]["id"], refused["id"]);
    let s = stats(&op, &slow_reg.id);
    assert_eq!(s["delivered"], 1, "{s}");
    assert_eq!(s["success_rate"], 1.0);
    assert!(
        s["time_to_notify_ms"]["p50"].as_u64().unwrap() >= 100,
        "{s}"
    );
    assert!(s["last_failure"].is_null());
    let r = op.admin(
        Method::GET,
        &format!("/admin/realms/{REALM}/clients/nobody/deliveries/stats"),
        None,
    );
    assert_eq!(r.oauth_error().0, 404);
    let r = op.admin(
        Method::GET,
        &format!(
            "/admin/realms/{REALM}/clients/{}/deliveries/stats?window=0",
            bad_reg.id
        ),
        None,
    );
    assert_eq!(r.oauth_error().0, 400);

    // Redelivery: the refused one again, now that the RP is fixed; a fresh token, recorded and
    // audited like the first.
    bad.answer(Answer::Verified);
    let retry = |id: &Value| {
        op.admin(
            Method::POST,
            &format!(
                "/admin/realms/{REALM}/deliveries/{}/retry",
                id.as_str().unwrap()
            ),
            None,
        )
    };
    let r = retry(&refused["id"]);
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["state"], "pending");
    let got = bad.wait_answered(2, WAIT);
    assert_eq!(got[1].answered.unwrap().0, 200);
    assert_ne!(got[0].claim("jti"), got[1].claim("jti"));
    assert_eq!(
        got[0].claim("auditTrackingId"),
        got[1].claim("auditTrackingId")
    );
    let again = settled(&op, &sid, &bad_reg.id);
    assert_eq!(again["state"], "delivered", "{again}");
    assert_eq!(again["history"].as_array().unwrap().len(), 2);
    assert_eq!(again["history"][1]["jti"], got[1].claim("jti"));
    let tracking = got[0].claim("auditTrackingId");
    let events: Vec<Value> = op
        .audit(Some("AM-BACK-CHANNEL-LOGOUT"), None)
        .into_iter()
        .filter(|e| e["transactionId"] == tracking)
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    // A delivery still being attempted is not sent twice; an unknown one is not found.
    let hanging = entries(&op, &encode_params([("client", hang_reg.id.as_str())]));
    assert_eq!(hanging[0]["state"], "pending");
    assert_eq!(retry(&hanging[0]["id"]).oauth_error().0, 409);
    assert_eq!(retry(&json!("0000000000000nothing")).oauth_error().0, 404);
}

#[test]
fn without_a_wait_the_logout_answers_at_once() {
    let op = start(json!({"logout_wait_ms": 0}), false);
    let (_hang, hang_reg) = rp(&op, Answer::Hang);
    let session = op.session();
    op.sign_in(&hang_reg, &session);
    let t0 = Instant::now();
    let answer = op.sessions_logout(&session, true);
    assert!(
        t0.elapsed() < Duration::from_millis(1000),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(outcomes(&answer)[&hang_reg.id]["state"], "pending");
    // A wait longer than the bound is refused.
    let r = op.admin(
        Method::PATCH,
        &format!("/admin/realms/{REALM}"),
        Some(&json!({"logout_wait_ms": 10_001})),
    );
    assert_eq!(r.oauth_error().0, 400);
}

#[test]
fn the_logout_page_lists_each_application_and_offers_to_continue() {
    let op = start(json!({}), false);
    let (_ok, ok_reg) = rp(&op, Answer::Verified);
    let (_bad, bad_reg) = rp(&op, Answer::Status(400));
    let session = op.session();
    let (raw, _) = op.sign_in(&ok_reg, &session);
    op.sign_in(&bad_reg, &session);
    let query = encode_params([
        ("id_token_hint", raw.as_str()),
        ("post_logout_redirect_uri", "https://rp.example/bye"),
        ("state", "s<1>"),
    ]);
    let r = op.send(
        op.http
            .get(format!("{}?{query}", op.endpoint("end_session")))
            .header("cookie", format!("oidc_edge_session={session}")),
    );
    // Not every RP took its token: the page says where each stands, and continues on a click.
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.text();
    assert!(
        page.contains(&format!(
            "data-client=\"{}\" data-state=\"delivered\"",
            ok_reg.id
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "data-client=\"{}\" data-state=\"failed\"",
            bad_reg.id
        )),
        "{page}"
    );
    assert!(page.contains("it answered HTTP 400"), "{page}");
    assert!(
        page.contains("href=\"https://rp.example/bye?state=s%3C1%3E\""),
        "{page}"
    );
    assert!(
        r.set_cookie("oidc_edge_session").is_some(),
        "the cookie is cleared"
    );
    assert!(op.sessions(USER).is_empty());

    // When every RP took its token, straight on to the RP.
    let session = op.session();
    let (raw, _) = op.sign_in(&ok_reg, &session);
    let query = encode_params([
        ("id_token_hint", raw.as_str()),
        ("post_logout_redirect_uri", "https://rp.example/bye"),
        ("state", "two"),
    ]);
    let r = op.send(
        op.http
            .get(format!("{}?{query}", op.endpoint("end_session")))
            .header("cookie", format!("oidc_edge_session={session}")),
    );
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(r.location(), "https://rp.example/bye?state=two");
}

#[test]
fn metrics_count_sessions_deliveries_and_requests() {
    if Target::is_worker() {
        return not_applicable(
            "the worker keeps its counts in the ledger (GET .../deliveries and .../stats)",
        );
    }
    let op = start(json!({}), true);
    let (_ok, ok_reg) = rp(&op, Answer::Verified);
    let (_bad, bad_reg) = rp(&op, Answer::Status(503));
    let session = op.session();
    op.sign_in(&ok_reg, &session);
    op.sign_in(&bad_reg, &session);
    op.sessions_logout(&session, true);
    let metrics = |auth: Option<&str>| {
        let mut rb = op.http.get(op.url("/metrics"));
        if let Some(t) = auth {
            rb = rb.bearer_auth(t);
        }
        op.send(rb)
    };
    assert_eq!(metrics(None).oauth_error().0, 401);
    assert_eq!(metrics(Some("not-the-token")).oauth_error().0, 401);
    // The 503 RP: three attempts (two retries), then a dead letter.
    let text = wait(WAIT, "every attempt counted", || {
        let r = metrics(Some(&op.admin_token));
        assert_eq!(r.status, 200);
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        let t = r.text();
        if t.contains("oidc_edge_backchannel_dead_letters_total 1") {
            Ok(t)
        } else {
            Err(t)
        }
    });
    for line in [
        "oidc_edge_backchannel_deliveries_total{outcome=\"delivered\"} 1",
        "oidc_edge_backchannel_deliveries_total{outcome=\"retrying\"} 2",
        "oidc_edge_backchannel_deliveries_total{outcome=\"dead_lettered\"} 1",
        "oidc_edge_backchannel_retries_total 2",
        "oidc_edge_backchannel_deliveries_queued_total 2",
        "oidc_edge_backchannel_time_to_notify_seconds_count 1",
        "oidc_edge_sessions_ended_total{cause=\"CLIENT_LOGOUT\"} 1",
        "oidc_edge_http_request_duration_seconds_count{endpoint=\"sessions_logout\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l
                .starts_with("oidc_edge_http_request_duration_seconds_count{endpoint=\"token\"}")),
        "{text}"
    );
    // No realm, client or user name becomes a label.
    assert!(
        !text.contains(REALM) && !text.contains(&ok_reg.id),
        "{text}"
    );

    // The metrics listener serves the same without the token, and nothing else.
    let addr = op.server().metrics_addr().expect("--metrics-addr");
    let r = op.send(op.http.get(format!("http://{addr}/metrics")));
    assert_eq!(r.status, 200);
    assert!(
        r.text()
            .contains("oidc_edge_backchannel_dead_letters_total 1")
    );
    let r = op.send(op.http.get(format!("http://{addr}/admin/realms/{REALM}")));
    assert_eq!(r.status, 404);
}
