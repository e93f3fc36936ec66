//! Interoperability with a real relying-party library: `openid-client` (panva, the exact
//! version pinned in `tests/js/package.json`) runs `tests/js/rp-interop.mjs` against the native
//! server's demo realm: discovery, dynamic registration, the authorization code flow with PKCE
//! (the script plays the browser through the login form), ID token validation by the library
//! itself, userinfo, and introspection and revocation of the access token — twice, for two
//! clients on one browser session.
//!
//! When node or `node_modules/openid-client` is missing the test skips loudly, or
//! fails when `OIDC_EDGE_REQUIRE_INTEROP=1` (run `npm ci` at the repository root first).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oidc_edge_tests::{repo_root, start_server};
use serde_json::{Value, json};

/// Longest the script may take; it makes a dozen local requests.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Whether node and openid-client are installed; a loud skip (or a panic) when not.
fn openid_client_available() -> bool {
    oidc_edge_tests::node_package_available("openid-client", "tests/js/rp-interop.mjs")
}

/// Run the script against `issuer`; its stdout as JSON, or a panic with its stderr.
fn run_rp(issuer: &str) -> Value {
    let started = Instant::now();
    let mut child = Command::new("node")
        .arg("tests/js/rp-interop.mjs")
        .arg(issuer)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).map(|_| s)
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            // Our own child, by its handle.
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "rp-interop.mjs did not finish within {TIMEOUT:?}; stderr: {}",
                err.join().unwrap().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap().unwrap();
    let stderr = err.join().unwrap().unwrap();
    assert!(
        status.success(),
        "rp-interop.mjs failed ({status}):\n{stderr}\nstdout: {stdout}"
    );
    eprintln!("openid-client flows done in {:?}", started.elapsed());
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("rp-interop.mjs printed no JSON ({e}): {stdout}\n{stderr}"))
}

#[test]
fn openid_client_registers_signs_in_and_validates_id_tokens() {
    if !openid_client_available() {
        return;
    }
    let server = start_server(true);
    let issuer = server.url("/realms/demo");
    let out = run_rp(&issuer);
    eprintln!("{out:#}");
    let flows = out["flows"].as_array().expect("flows");
    assert_eq!(flows.len(), 2, "{out}");

    for (flow, (auth, alg)) in flows.iter().zip([
        ("client_secret_basic", "RS256"),
        ("client_secret_post", "ES256"),
    ]) {
        let client_id = flow["client_id"].as_str().expect("client_id");
        // Registration as the library stored it.
        let reg = &flow["registration"];
        assert_eq!(reg["token_endpoint_auth_method"], auth, "{flow}");
        assert_eq!(reg["id_token_signed_response_alg"], alg, "{flow}");
        assert_eq!(reg["client_secret_expires_at"], 0, "{flow}");
        assert_eq!(reg["backchannel_logout_session_required"], true, "{flow}");
        assert!(reg["backchannel_logout_uri"].is_string(), "{flow}");
        assert_eq!(reg["has_registration_access_token"], true, "{flow}");
        assert_eq!(flow["discovered_issuer"], issuer.as_str());
        // The ID token openid-client validated.
        assert!(
            flow["token_type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
            "{flow}"
        );
        assert_eq!(flow["id_token_alg"], alg, "{flow}");
        let claims = &flow["claims"];
        assert_eq!(claims["iss"], issuer.as_str(), "{flow}");
        assert_eq!(claims["aud"], client_id, "{flow}");
        assert!(claims["nonce"].is_string(), "{flow}");
        assert!(
            claims["sid"].as_str().is_some_and(|s| !s.is_empty()),
            "{flow}"
        );
        assert!(claims["auth_time"].is_u64(), "{flow}");
        assert_eq!(claims["preferred_username"], "demo", "{flow}");
        // Userinfo agrees (openid-client checked sub as well).
        assert_eq!(flow["userinfo"]["sub"], claims["sub"], "{flow}");
        assert_eq!(flow["userinfo"]["email"], "demo@example.com", "{flow}");
        // Introspected by the client itself (RFC 7662), then revoked (RFC 7009): inactive.
        let i = &flow["introspection"];
        assert_eq!(i["active"], true, "{flow}");
        assert_eq!(i["client_id"], flow["client_id"], "{flow}");
        assert_eq!(i["sub"], claims["sub"], "{flow}");
        assert_eq!(i["token_type"], "Bearer", "{flow}");
        assert_eq!(flow["active_after_revocation"], false, "{flow}");
        // And the library does check: a token for another nonce is refused.
        assert_eq!(
            flow["wrong_nonce_rejected_with"], "OAUTH_JWT_CLAIM_COMPARISON_FAILED",
            "{flow}"
        );
    }

    let (one, two) = (&flows[0], &flows[1]);
    // RP one registered for refresh tokens: rotated, the same session's sid, no nonce; a
    // replay of the spent token is refused and takes the family with it.
    let r = &one["refresh"];
    assert_eq!(r["rotated"], true, "{r}");
    assert_eq!(r["claims"]["sid"], one["claims"]["sid"], "{r}");
    assert_eq!(r["claims"]["sub"], one["claims"]["sub"], "{r}");
    assert_eq!(r["claims"].get("nonce"), None, "{r}");
    assert_eq!(
        r["introspection"],
        json!({"active": true, "token_type": "refresh_token", "client_id": one["client_id"]}),
        "{r}"
    );
    assert_eq!(r["replay_rejected_with"], "invalid_grant", "{r}");
    assert_eq!(r["family_revoked_with"], "invalid_grant", "{r}");
    assert_eq!(
        two["refresh"],
        Value::Null,
        "RP two did not register for them"
    );
    assert_eq!(one["login_form"], true, "the first RP needs a login");
    assert_eq!(
        two["login_form"], false,
        "the second RP rides the browser's session"
    );
    for flow in [one, two] {
        assert_eq!(
            flow["consent_page"], true,
            "a registered client is a third party: the user is asked first"
        );
    }
    assert_ne!(one["client_id"], two["client_id"]);
    assert_eq!(one["claims"]["sub"], two["claims"]["sub"]);
    assert_ne!(
        one["claims"]["sid"], two["claims"]["sid"],
        "two RPs on one session must see different sids"
    );
}
