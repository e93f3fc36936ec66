//! The demo relying party (`GET /demo`, with `serve --demo` or the worker's `DEMO_REALM`) over
//! HTTP, as a browser drives it: both applications sign in on one session (each its own
//! `sid`), one signs out by RP-initiated logout, and both are told by back-channel logout —
//! the page's state lists the two logout tokens, verified, with the audit events of their
//! delivery, and both applications signed out. A forged token is listed as invalid. Natively
//! and against the worker in workerd.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::time::Duration;

use oidc_edge_tests::op::{Reply, http_client, wait};
use oidc_edge_tests::start_server;
use serde_json::Value;

/// A browser: cookies by name, no redirects followed.
struct Browser {
    http: reqwest::blocking::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn get(&mut self, url: &str) -> Reply {
        let url = if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        };
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let r = Reply::read(self.http.get(url).header("cookie", cookie.join("; ")));
        for line in r.headers.get_all("set-cookie") {
            let line = line.to_str().unwrap();
            let (pair, _) = line.split_once(';').unwrap_or((line, ""));
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.insert(k.to_owned(), v.to_owned());
        }
        r
    }

    /// A form POST with the browser's cookies.
    fn post_form(&mut self, path: &str, form: &[(&str, &str)]) -> Reply {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        Reply::read(
            self.http
                .post(format!("{}{path}", self.base))
                .header("cookie", cookie.join("; "))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(oidc_edge_core::http::encode_params(form.iter().copied())),
        )
    }

    /// Follow redirects from `url` until a page (or the `stop` prefix) is reached.
    fn follow(&mut self, url: &str, stop: &str) -> Reply {
        let mut next = url.to_owned();
        for _ in 0..10 {
            let r = self.get(&next);
            if !(300..400).contains(&r.status) {
                return r;
            }
            let loc = r.location().to_owned();
            if loc.starts_with(stop) {
                return r;
            }
            next = loc;
        }
        panic!("too many redirects from {url}");
    }

    fn state(&mut self) -> Value {
        let r = self.get("/demo/state");
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }
}

#[test]
fn two_demo_apps_sign_in_with_their_own_sid_and_both_hear_of_the_logout() {
    let server = start_server(true);
    let mut b = Browser {
        http: http_client(),
        base: server.base_url.clone(),
        cookies: BTreeMap::new(),
    };
    let page = b.get("/demo");
    assert_eq!(page.status, 200, "{}", page.text());
    let csp = page.header("content-security-policy").unwrap().to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(page.text().contains("id=\"login-1\""));
    assert_eq!(b.get("/demo/app.js").status, 200);
    assert_eq!(b.get("/demo/app.css").status, 200);

    // A session at the provider (the JSON sign-in stands for the login form here).
    let r = Reply::read(
        b.http
            .post(format!("{}/realms/demo/authenticate", b.base))
            .header("content-type", "application/json")
            .body(r#"{"username":"demo","password":"changeit"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["tokenId"].as_str().unwrap().to_owned();
    b.cookies.insert("oidc_edge_session".into(), token);

    for app in ["demo-app-1", "demo-app-2"] {
        let done = b.follow(&format!("/demo/login?app={app}"), "/demo");
        assert_eq!(done.status, 303, "{}", done.text());
        assert_eq!(done.location(), "/demo");
    }
    let st = b.state();
    let (sid1, sid2) = (
        st["apps"]["demo-app-1"]["sid"].as_str().unwrap().to_owned(),
        st["apps"]["demo-app-2"]["sid"].as_str().unwrap().to_owned(),
    );
    assert_ne!(sid1, sid2, "two RPs of one session get different sids");
    assert!(b.get("/demo").text().contains(&sid1));

    // A sign-out from elsewhere ends nothing: a link (GET), a form without the page's token,
    // or with another visitor's.
    assert_eq!(b.get("/demo/logout?app=demo-app-1").status, 405);
    let page = b.get("/demo").text();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    for forged in ["", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        let r = b.post_form("/demo/logout", &[("app", "demo-app-1"), ("csrf", forged)]);
        assert_eq!(r.status, 400, "{}", r.text());
    }
    let st = b.state();
    assert!(
        st["apps"]["demo-app-1"].is_object(),
        "still signed in: {st}"
    );

    // Sign out of app 1 with the page's form: RP-initiated logout, back to the page.
    let r = b.post_form("/demo/logout", &[("app", "demo-app-1"), ("csrf", &csrf)]);
    assert_eq!(r.status, 302, "{}", r.text());
    let back = b.follow(r.location(), "never");
    assert_eq!(back.status, 200, "{}", back.text());
    let st = wait(Duration::from_secs(15), "both logout tokens", || {
        let st = b.state();
        let received = st["received"].as_array().cloned().unwrap_or_default();
        let delivered = received
            .iter()
            .filter(|t| {
                t["verdict"] == "valid" && t["audit"].as_array().is_some_and(|a| !a.is_empty())
            })
            .count();
        if delivered == 2 { Ok(st) } else { Err(st) }
    });
    let received = st["received"].as_array().unwrap();
    let mut sids: Vec<&str> = received
        .iter()
        .map(|t| t["claims"]["sid"].as_str().unwrap())
        .collect();
    sids.sort_unstable();
    let mut expected = vec![sid1.as_str(), sid2.as_str()];
    expected.sort_unstable();
    assert_eq!(sids, expected);
    for t in received {
        assert_eq!(t["claims"]["cause"], "CLIENT_LOGOUT", "{t}");
        let op = t["audit"][0]["operation"].as_str().unwrap();
        assert!(op.contains("responded with HTTP code 200"), "{op}");
    }
    assert!(
        st["apps"]["demo-app-1"].is_null() && st["apps"]["demo-app-2"].is_null(),
        "{st}"
    );

    // A forgery, at app 2's back-channel URI: refused, and listed as invalid.
    let r = Reply::read(
        b.http
            .post(format!("{}/demo/backchannel-logout/demo-app-2", b.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("logout_token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let st = b.state();
    assert_eq!(st["received"][0]["verdict"], "invalid", "{st}");
    // Unknown apps and methods.
    assert_eq!(b.get("/demo/login?app=other").status, 400);
    assert_eq!(b.get("/demo/backchannel-logout/demo-app-1").status, 405);
}

#[test]
fn without_the_demo_there_is_no_demo_page() {
    let server = start_server(false);
    let r = Reply::read(http_client().get(format!("{}/demo", server.base_url)));
    assert_eq!(r.status, 404);
}

/// The page in headless Chromium (`tests/js/demo-browser.mjs`, puppeteer-core): sign in to both
/// applications through the provider's sign-in form, sign out of one, and the page — reloading
/// its list by itself — shows both logout tokens and both applications signed out, with no
/// Content Security Policy violation. Its screenshot is `target/demo-page.png` (the README's).
#[test]
fn the_demo_page_works_in_headless_chromium() {
    let Some(chromium) = oidc_edge_tests::chromium() else {
        return;
    };
    if !oidc_edge_tests::node_package_available("puppeteer-core", "tests/js/demo-browser.mjs") {
        return;
    }
    let server = start_server(true);
    let shot = oidc_edge_tests::repo_root().join("target/demo-page.png");
    let out = std::process::Command::new("node")
        .arg("tests/js/demo-browser.mjs")
        .arg(&server.base_url)
        .arg(&shot)
        .env("CHROMIUM", &chromium)
        .current_dir(oidc_edge_tests::repo_root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "demo-browser.mjs failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(v["sid1"], v["sid2"], "{v}");
    let tokens = v["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2, "{v}");
    for t in tokens {
        assert!(t.as_str().unwrap().contains("valid"), "{t}");
    }
    // The favicon's 404 is the only error a browser may log here.
    for e in v["errors"].as_array().unwrap() {
        let e = e.as_str().unwrap();
        assert!(
            e.contains("404") && !e.contains("Content Security Policy"),
            "the page logged: {e}"
        );
    }
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
}
