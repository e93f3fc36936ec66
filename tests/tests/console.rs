//! The admin console (`GET /admin/console`) and the admin API's lists it reads, over HTTP: the
//! page is served without the admin token under a strict CSP, with no inline script or style;
//! the lists of realms, clients and users need the token, page by page, and never show a
//! password hash. Then the console in headless Chromium (`tests/js/console-browser.mjs`) through
//! an operator's whole story, with a user signing in through openid-client, this test's RP
//! receiving the logout tokens, the deliveries in the ledger (one refused, retried from the
//! console), the RP checker and the audit log. Natively and against the worker in workerd.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use oidc_edge_tests::op::{Op, PASSWORD, REALM, Reply, Start, USER, http_client};
use oidc_edge_tests::rp::{Answer, Expect, TestRp};
use oidc_edge_tests::test_options;
use reqwest::Method;
use serde_json::{Value, json};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn get(url: &str, bearer: Option<&str>) -> Reply {
    let mut rb = http_client().get(url);
    if let Some(t) = bearer {
        rb = rb.bearer_auth(t);
    }
    Reply::read(rb)
}

#[test]
fn the_console_page_is_served_without_the_token_under_a_strict_csp() {
    let op = Op::start(Start {
        options: test_options(),
        realm_config: json!({}),
    });
    for bearer in [None, Some("not-the-admin-token")] {
        let page = get(&op.url("/admin/console"), bearer);
        assert_eq!(page.status, 200, "{}", page.text());
        assert_eq!(page.header("content-security-policy"), Some(CSP));
        assert!(
            page.header("content-type")
                .unwrap()
                .starts_with("text/html"),
        );
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(page.header("cache-control"), Some("no-store"));
        let html = page.text();
        // No inline script: every script element is an empty one with a same-origin src.
        let scripts: Vec<&str> = html.split("<script").skip(1).collect();
        assert_eq!(scripts.len(), 1, "{html}");
        for s in scripts {
            let (attrs, rest) = s.split_once('>').unwrap();
            assert!(
                attrs.contains("src=\"/admin/console/console.js\""),
                "{attrs}"
            );
            assert!(rest.starts_with("</script>"), "an inline script: {rest}");
        }
        // No inline style or event handler attribute, no third-party asset.
        let lower = html.to_ascii_lowercase();
        assert!(
            !lower.contains("<style") && !lower.contains(" style="),
            "{html}"
        );
        for handler in [
            " onclick=",
            " onload=",
            " onerror=",
            " onsubmit=",
            "javascript:",
        ] {
            assert!(!lower.contains(handler), "{handler} in the page");
        }
        for attr in ["src=\"", "href=\""] {
            for at in lower.split(attr).skip(1) {
                assert!(at.starts_with("/admin/console/"), "{attr}{at}");
            }
        }
        // The token field is never submitted: it has no name.
        let token_field = html.split("id=\"token\"").nth(1).unwrap();
        let token_field = token_field.split_once('>').unwrap().0;
        assert!(!token_field.contains("name="), "{token_field}");
        assert!(!html.contains(&op.admin_token));
    }
    let js = get(&op.url("/admin/console/console.js"), None);
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(js.header("x-content-type-options"), Some("nosniff"));
    let script = js.text();
    // Data is only ever text: no HTML parsing, no code from strings, no lasting storage.
    for banned in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "localStorage.setItem",
        "document.cookie",
    ] {
        assert!(!script.contains(banned), "console.js uses {banned}");
    }
    assert!(script.contains("sessionStorage.setItem(TOKEN_KEY"));
    let css = get(&op.url("/admin/console/console.css"), None);
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    // Only GET, only these files.
    let r = op.send(http_client().post(op.url("/admin/console")));
    assert_eq!(r.status, 405);
    assert_eq!(get(&op.url("/admin/console/other.js"), None).status, 404);
    // The rest of the admin API still needs the token.
    assert_eq!(
        get(&op.url(&format!("/admin/realms/{REALM}")), None).status,
        401
    );
}

/// Every page of an admin list, following `next_cursor`; the pages' sizes.
fn all_pages(op: &Op, path: &str, limit: usize) -> (Vec<Value>, Vec<usize>) {
    let mut out = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{path}?limit={limit}");
        if let Some(c) = &cursor {
            url.push_str(&format!(
                "&cursor={}",
                oidc_edge_core::http::encode_params([("c", c.as_str())])
                    .strip_prefix("c=")
                    .unwrap()
            ));
        }
        let r = op.admin(Method::GET, &url, None);
        assert_eq!(r.status, 200, "GET {url}: {}", r.text());
        let v = r.json();
        let page = v["result"].as_array().unwrap().clone();
        assert_eq!(v["resultCount"], page.len(), "{v}");
        sizes.push(page.len());
        out.extend(page);
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => {
                assert!(v["next_cursor"].is_null(), "{v}");
                return (out, sizes);
            }
        }
        assert!(sizes.len() < 20, "no end to {path}");
    }
}

#[test]
fn the_lists_need_the_token_and_go_page_by_page() {
    let op = Op::start(Start {
        options: test_options(),
        realm_config: json!({}),
    });
    let lists = [
        String::from("/admin/realms"),
        format!("/admin/realms/{REALM}/clients"),
        format!("/admin/realms/{REALM}/users"),
    ];
    for path in &lists {
        for bearer in [None, Some("not-the-admin-token"), Some("")] {
            let r = get(&op.url(path), bearer);
            assert_eq!(r.status, 401, "{path} with {bearer:?}: {}", r.text());
            assert!(!r.text().contains("\"result\""));
        }
    }
    // Realms: the test's, and three more; one being deleted is not listed.
    for r in ["zeta", "alpha", "mid", "gone"] {
        let reply = op.admin(Method::PUT, &format!("/admin/realms/{r}"), Some(&json!({})));
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    let r = op.admin(Method::DELETE, "/admin/realms/gone", None);
    assert!(r.status < 300, "{}", r.text());
    let (realms, sizes) = all_pages(&op, "/admin/realms", 2);
    let names: Vec<&str> = realms
        .iter()
        .map(|r| r["realm"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", REALM, "mid", "zeta"]);
    assert_eq!(sizes, [2, 2]);
    // Each as GET /admin/realms/{R} shows it.
    let one = op
        .admin(Method::GET, &format!("/admin/realms/{REALM}"), None)
        .json();
    assert_eq!(realms[1], one);
    assert_eq!(realms[1]["config"]["allow_private_uris"], true);

    // Clients, with their back-channel settings.
    for (id, bc) in [("c-3", true), ("c-1", false), ("c-2", true)] {
        let mut meta = json!({"redirect_uris": ["https://rp.example/cb"], "client_name": id});
        if bc {
            meta["backchannel_logout_uri"] = json!(format!("https://rp.example/{id}/bc"));
            meta["backchannel_logout_session_required"] = json!(true);
        }
        let r = op.admin(
            Method::PUT,
            &format!("/admin/realms/{REALM}/clients/{id}"),
            Some(&meta),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let (clients, sizes) = all_pages(&op, &format!("/admin/realms/{REALM}/clients"), 2);
    assert_eq!(sizes, [2, 1]);
    let ids: Vec<&str> = clients
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c-1", "c-2", "c-3"]);
    assert_eq!(
        clients[1]["backchannel_logout_uri"],
        "https://rp.example/c-2/bc"
    );
    assert_eq!(clients[1]["backchannel_logout_session_required"], true);
    assert!(clients[0].get("backchannel_logout_uri").is_none());
    assert_eq!(clients[0]["first_party"], false);
    for c in &clients {
        assert!(c.get("client_secret").is_none(), "{c}");
    }

    // Users, never with a password hash.
    for name in ["zoe", "<em>bob"] {
        let r = op.admin(
            Method::PUT,
            &format!(
                "/admin/realms/{REALM}/users/{}",
                oidc_edge_core::http::encode_params([("u", name)])
                    .strip_prefix("u=")
                    .unwrap()
            ),
            Some(&json!({"password": PASSWORD})),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let (users, sizes) = all_pages(&op, &format!("/admin/realms/{REALM}/users"), 1);
    assert_eq!(sizes, [1, 1, 1]);
    let names: Vec<&str> = users
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["<em>bob", USER, "zoe"]);
    let raw = op
        .admin(Method::GET, &format!("/admin/realms/{REALM}/users"), None)
        .text();
    assert!(
        !raw.contains("password") && !raw.contains("$argon2"),
        "{raw}"
    );
    for u in &users {
        assert!(u["sub"].as_str().is_some_and(|s| !s.is_empty()), "{u}");
    }

    // Bounded: a page holds 1 to 200.
    for bad in ["0", "201", "x", "-1"] {
        let r = op.admin(
            Method::GET,
            &format!("/admin/realms/{REALM}/users?limit={bad}"),
            None,
        );
        assert_eq!(r.status, 400, "limit={bad}: {}", r.text());
    }
    // Unknown realms.
    for path in ["/admin/realms/nope/clients", "/admin/realms/nope/users"] {
        assert_eq!(op.admin(Method::GET, path, None).status, 404, "{path}");
    }
}

/// The console in headless Chromium, through the operator's whole story (see
/// `tests/js/console-browser.mjs`); its screenshots go to `target/console/`.
#[test]
fn the_console_works_in_headless_chromium() {
    let Some(chromium) = oidc_edge_tests::chromium() else {
        return;
    };
    for package in ["puppeteer-core", "openid-client"] {
        if !oidc_edge_tests::node_package_available(package, "tests/js/console-browser.mjs") {
            return;
        }
    }
    let server = oidc_edge_tests::start_server(false);
    let rp = TestRp::start();
    let realm = "console";
    let out_dir = oidc_edge_tests::repo_root().join("target/console");
    let _ = std::fs::remove_dir_all(&out_dir);
    let mut child = Command::new("node")
        .arg("tests/js/console-browser.mjs")
        .arg(&server.base_url)
        .arg(realm)
        .arg(rp.uri())
        .arg(&out_dir)
        .env("CHROMIUM", &chromium)
        .env("ADMIN_TOKEN", &server.admin_token)
        .current_dir(oidc_edge_tests::repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut report = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v["event"] == "realm-ready" {
            // The realm the console created: the RP verifies its logout tokens with its keys.
            rp.expect(Expect::new(
                &format!("{}/realms/{realm}", server.base_url),
                "rp-app",
            ));
            writeln!(stdin, "go").unwrap();
        } else if v["event"] == "reject-next" {
            // The next logout token is refused once (a 400: the delivery is rejected), and
            // every later one verified.
            rp.script([Answer::Status(400)], Answer::Verified);
            writeln!(stdin, "go").unwrap();
        } else {
            report = Some(v);
        }
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "console-browser.mjs failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = report.expect("the script's report");

    // Sign-in: a wrong token refused; the right one never in a URL, a cookie or localStorage.
    assert!(
        v["wrong_token"].as_str().unwrap().contains("refused"),
        "{v}"
    );
    assert_eq!(v["token_in_url"], json!([]), "{v}");
    assert!(
        v["urls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| !u.as_str().unwrap().contains(&server.admin_token))
    );
    // In this tab's session storage: the token, and the realm last shown; nothing else.
    let kept = v["storage"]["session"].as_array().unwrap();
    assert!(kept.contains(&json!("oidc-edge-admin-token")), "{v}");
    assert!(
        kept.iter()
            .all(|k| k == "oidc-edge-admin-token" || k == "oidc-edge-admin-realm"),
        "{v}"
    );
    assert_eq!(v["storage"]["local"], 0);
    assert_eq!(v["storage"]["cookie"], "");
    assert_eq!(v["cookies"], 0);
    assert_eq!(
        v["storage"]["href"],
        format!("{}/admin/console", server.base_url)
    );

    // Realms: created by the console, its settings changed.
    assert_eq!(v["realm_config"]["session_idle_time_secs"], 900, "{v}");
    assert_eq!(v["realm_config"]["session_max_time_secs"], 7200, "{v}");
    assert_eq!(v["realm_config"]["allow_private_uris"], true, "{v}");
    assert!(v["realm_row"].as_str().unwrap().contains("2 h"), "{v}");
    // Clients: the RP with its back-channel settings; the deleted one gone.
    assert_eq!(v["clients"], json!(["rp-app", "xss-app"]), "{v}");
    assert_eq!(v["rp_client"]["backchannel_logout_uri"], rp.uri());
    assert_eq!(v["rp_client"]["backchannel_logout_session_required"], true);
    assert_eq!(v["rp_client"]["first_party"], true);
    assert!(v["client_row"].as_str().unwrap().contains(&rp.uri()));
    // Users: created, no password hash anywhere.
    let users = v["users"].as_array().unwrap();
    assert_eq!(users.len(), 2, "{v}");
    assert!(!v["users"].to_string().contains("password"));

    // Injection-shaped names are shown as text, and nothing ran.
    assert_eq!(
        v["xss_user_cell"], r#"<img src=x onerror="window.__xss=1">"#,
        "{v}"
    );
    assert_eq!(
        v["xss_client_cell"],
        r#"<img src=x onerror="window.__xss=2"><script>window.__xss=3</script>"#,
        "{v}"
    );
    assert_eq!(v["xss"], Value::Null, "an injected handler ran: {v}");
    assert_eq!(v["images"], 0, "{v}");

    // The session terminated in the console: the RP was told, with a verified logout token
    // for that session's sid; then sign out everywhere told it of the second, refused once
    // (400) and accepted when the operator retried.
    let sid = v["sid"].as_str().unwrap();
    let sid2 = v["sid2"].as_str().unwrap();
    assert_ne!(sid, sid2);
    assert!(
        v["sessions_after_terminate"]
            .as_str()
            .unwrap()
            .contains("No live sessions")
    );
    let answered = |r: &oidc_edge_tests::rp::Received, sid: &str, status: u16| {
        r.verdict.is_ok() && r.claim("sid") == sid && r.answered.is_some_and(|(s, _)| s == status)
    };
    let got = rp.wait_until(Duration::from_secs(30), "the logout tokens", |r| {
        [(sid, 200), (sid2, 400), (sid2, 200)]
            .iter()
            .all(|(s, status)| r.iter().any(|x| answered(x, s, *status)))
    });
    for r in got.iter().filter(|r| r.verdict.is_ok()) {
        if r.claim("sid") == sid || r.claim("sid") == sid2 {
            assert_eq!(r.claim("aud"), "rp-app");
            assert_eq!(r.claim("cause"), "SESSION_TERMINATION", "{:?}", r.claims());
        }
    }
    assert!(
        v["everywhere"]
            .as_str()
            .unwrap()
            .contains("1 back-channel logout deliveries"),
        "{v}"
    );

    // The ledger: the first delivery, delivered, its attempt a 200; the client's statistics;
    // the filters by session and by state.
    let rows = v["ledger_rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(rows[0]["state"], "delivered");
    let row = rows[0]["text"].as_str().unwrap();
    assert!(
        row.contains("rp-app")
            && row.contains(USER)
            && row.contains(v["session_id"].as_str().unwrap()),
        "{row}"
    );
    assert!(v["history"].as_str().unwrap().contains("200"), "{v}");
    assert!(v["history"].as_str().unwrap().contains(&rp.uri()), "{v}");
    assert_eq!(v["stats"]["Total"], "1", "{v}");
    assert_eq!(v["stats"]["Delivered"], "1", "{v}");
    assert_eq!(v["stats"]["Success rate"], "100.0 %", "{v}");
    assert!(
        v["stats"]["Time to notify p50"]
            .as_str()
            .unwrap()
            .ends_with(" ms"),
        "{v}"
    );
    assert_eq!(v["stats_failure"], "No failure in this window.");
    assert_eq!(v["by_session"].as_array().unwrap().len(), 1);
    assert_eq!(v["by_session"][0]["id"], rows[0]["id"]);
    // The second: rejected, retried from the console, delivered; two attempts in its history.
    assert_eq!(v["rejected"]["state"], "rejected", "{v}");
    assert!(
        v["rejected"]["text"]
            .as_str()
            .unwrap()
            .contains(v["session_id2"].as_str().unwrap())
    );
    let retried = v["retried_history"].as_array().unwrap();
    assert_eq!(retried.len(), 2, "{v}");
    assert!(retried[0].as_str().unwrap().contains("400"), "{v}");
    assert!(retried[1].as_str().unwrap().contains("200"), "{v}");
    // Next page by cursor: the two deliveries, one a page, newest first.
    assert_eq!(v["pages"]["first"], v["rejected"]["id"], "{v}");
    assert_eq!(v["pages"]["second"], rows[0]["id"], "{v}");
    assert_eq!(v["pages"]["later"], json!([]), "{v}");
    assert_eq!(v["pages"]["ends"], true, "{v}");
    // The RP checker: the RP verifies as it must, so every case passes.
    let title = v["check_title"].as_str().unwrap();
    let cases = v["check_cases"].as_array().unwrap();
    assert!(cases.len() >= 2, "{v}");
    assert!(
        title.ends_with(&format!("{n} of {n} passed", n = cases.len())),
        "{title}"
    );

    // The audit screen: the session's end, and its back-channel logout to the RP.
    let destroyed = v["destroyed"].as_array().unwrap();
    assert!(
        destroyed.iter().any(|e| e
            .as_str()
            .unwrap()
            .contains(v["session_id"].as_str().unwrap())),
        "{v}"
    );
    let events = v["audit_events"].as_array().unwrap();
    assert!(
        events.contains(&json!("AM-SESSION-DESTROYED"))
            && events.contains(&json!("AM-BACK-CHANNEL-LOGOUT")),
        "{v}"
    );
    let bc = v["backchannel"].as_array().unwrap();
    assert!(
        bc.iter().any(|e| {
            let e = e.as_str().unwrap();
            e.contains(&rp.uri()) && e.contains("200")
        }),
        "{v}"
    );

    // Signing out forgot the token and cleared the page.
    assert_eq!(v["after_sign_out"]["session"], 0, "{v}");
    assert_eq!(v["after_sign_out"]["app_hidden"], true);
    assert_eq!(v["after_sign_out"]["shown"], "");

    // No script error, no CSP violation: the favicon's 404 aside, the one error logged is the
    // refused token's 401.
    let errors = v["errors"].as_array().unwrap();
    for e in errors {
        let e = e.as_str().unwrap();
        assert!(
            (e.contains("404") || e.contains("401")) && !e.contains("Content Security Policy"),
            "the page logged: {e}"
        );
    }
    assert_eq!(
        errors
            .iter()
            .filter(|e| e.as_str().unwrap().contains("401"))
            .count(),
        1,
        "{v}"
    );
    for shot in v["shots"].as_array().unwrap() {
        assert!(
            std::fs::metadata(shot.as_str().unwrap()).unwrap().len() > 10_000,
            "{shot}"
        );
    }
    assert_eq!(v["shots"].as_array().unwrap().len(), 9);
}
