//! `oidc-edge mock-rp` against the native server: it registers itself, receives the logout
//! token of each way a session ends and says it is valid (answering 200), refuses a forged
//! token and a form without one (400, with the reason), and answers 503 when told to, so the provider
//! retries and then dead-letters. Drives the built binary (`CARGO_BIN_EXE_oidc-edge`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use oidc_edge::native::NativeClock;
use oidc_edge::native::server::ServerOptions;
use oidc_edge_core::http::encode_params;
use oidc_edge_core::jose::JwsAlg;
use oidc_edge_core::logout::delivery::DeliveryPolicy;
use oidc_edge_tests::op::{Op, REALM, Registered, Start, USER};
use reqwest::Method;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_oidc-edge");
const WAIT: Duration = Duration::from_secs(15);

/// A running `mock-rp --json`: its first line, then each line it prints.
struct MockRp {
    child: Child,
    lines: mpsc::Receiver<Value>,
    first: Value,
}

impl Drop for MockRp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl MockRp {
    fn start(issuer: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["mock-rp", "--issuer", issuer, "--json"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let v = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("mock-rp printed {line:?}: {e}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let first = lines.recv_timeout(WAIT).expect("mock-rp's first line");
        Self {
            child,
            lines,
            first,
        }
    }

    fn next(&self) -> Value {
        self.lines.recv_timeout(WAIT).expect("a line from mock-rp")
    }

    /// The client it registered, as the test's OP driver knows clients.
    fn registered(&self) -> Registered {
        let uri = self.first["backchannel_logout_uri"].as_str().unwrap();
        let port = uri
            .trim_start_matches("http://127.0.0.1:")
            .split('/')
            .next()
            .unwrap();
        Registered {
            id: self.first["client_id"].as_str().unwrap().to_owned(),
            secret: self.first["client_secret"].as_str().unwrap().to_owned(),
            redirect: format!("http://127.0.0.1:{port}/cb"),
            alg: JwsAlg::RS256,
            decrypt: None,
        }
    }
}

fn start_op(retry_max: u32) -> Op {
    start_op_on(NativeClock::system(), json!({}), retry_max)
}

fn start_op_on(clock: NativeClock, realm_config: Value, retry_max: u32) -> Op {
    Op::start(Start {
        options: ServerOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            clock,
            delivery: DeliveryPolicy {
                timeout_ms: 2000,
                retry_max,
                retry_base_ms: 100,
                concurrency: 16,
            },
            sweep_interval: Duration::from_secs(3600),
            ..ServerOptions::default()
        },
        realm_config,
    })
}

fn assert_valid(line: &Value, cause: &str, id_token: &Value) {
    assert_eq!(line["verdict"], "valid", "{line}");
    assert_eq!(line["answered"], 200, "{line}");
    assert_eq!(line["claims"]["cause"], cause, "{line}");
    assert_eq!(line["claims"]["sub"], id_token["sub"], "{line}");
    assert_eq!(line["claims"]["sid"], id_token["sid"], "{line}");
    assert_eq!(line["header"]["typ"], "logout+jwt", "{line}");
}

#[test]
fn mock_rp_verifies_the_token_of_each_way_a_session_ends_and_refuses_forgeries() {
    let op = start_op(2);
    let rp = MockRp::start(&op.issuer, &[]);
    let uri = rp.first["backchannel_logout_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(uri.ends_with("/backchannel-logout"), "{uri}");
    let reg = rp.registered();

    // The user signs out.
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);
    op.sessions_logout(&session, true);
    let first = rp.next();
    assert_valid(&first, "CLIENT_LOGOUT", &id_token);

    // RP-initiated logout with a hint.
    let session = op.session();
    let (raw, id_token) = op.sign_in(&reg, &session);
    let query = encode_params([("id_token_hint", raw.as_str())]);
    let r = op.send(
        op.http
            .get(format!("{}?{query}", op.endpoint("end_session")))
            .header("cookie", format!("oidc_edge_session={session}")),
    );
    assert!(r.status < 400, "{}", r.text());
    assert_valid(&rp.next(), "CLIENT_LOGOUT", &id_token);

    // An administrator ends the session.
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);
    let id = op.only_session_id(USER);
    let r = op.admin(
        Method::DELETE,
        &format!("/admin/realms/{REALM}/sessions/{id}"),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_valid(&rp.next(), "SESSION_TERMINATION", &id_token);

    // An administrator signs the user out everywhere (this RP requires sid: one token for
    // its one session).
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);
    let r = op.admin(
        Method::DELETE,
        &format!("/admin/realms/{REALM}/users/{USER}/sessions"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_valid(&rp.next(), "SESSION_TERMINATION", &id_token);

    // The password is reset.
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);
    let r = op.admin(
        Method::PUT,
        &format!("/admin/realms/{REALM}/users/{USER}"),
        Some(&json!({"password": oidc_edge_tests::op::PASSWORD})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_valid(&rp.next(), "SESSION_TERMINATION", &id_token);

    // The user's consent to this client is withdrawn: it alone is told.
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);
    let r = op.admin(
        Method::DELETE,
        &format!("/admin/realms/{REALM}/users/{USER}/grants/{}", reg.id),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_valid(&rp.next(), "SESSION_TERMINATION", &id_token);

    // The account is disabled.
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);
    let r = op.admin(
        Method::PUT,
        &format!("/admin/realms/{REALM}/users/{USER}"),
        Some(&json!({"disabled": true})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_valid(&rp.next(), "SESSION_TERMINATION", &id_token);

    // Enabled again, then deleted.
    let r = op.admin(
        Method::PUT,
        &format!("/admin/realms/{REALM}/users/{USER}"),
        Some(&json!({"disabled": false})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);
    let r = op.admin(
        Method::DELETE,
        &format!("/admin/realms/{REALM}/users/{USER}"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_valid(&rp.next(), "SESSION_TERMINATION", &id_token);

    let seen = first["claims"].clone();
    assert!(seen["jti"].is_string());
    let post = |token: &str| {
        op.send(
            op.http
                .post(&uri)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encode_params([("logout_token", token)])),
        )
    };
    // A forgery: the claims of a token it received, signed by a key that is not the
    // provider's: refused, with the reason, and 400.
    let key = oidc_edge_core::jose::Jwk::generate_ec(&oidc_edge::native::OsEntropy).unwrap();
    let forged = oidc_edge_core::jose::jws::sign(
        &key,
        JwsAlg::ES256,
        &serde_json::to_vec(&first["claims"]).unwrap(),
        oidc_edge_core::jose::jws::SignOptions {
            typ: Some("logout+jwt"),
            cty: None,
        },
        &oidc_edge::native::OsEntropy,
    )
    .unwrap();
    let r = post(&forged);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_request");
    let line = rp.next();
    assert_eq!(
        (&line["verdict"], &line["answered"]),
        (&json!("invalid"), &json!(400)),
        "{line}"
    );
    assert!(
        line["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{line}"
    );
    assert_eq!(line["claims"]["jti"], seen["jti"], "the claims as received");
    // No token at all.
    let r = post("");
    assert_eq!(r.status, 400);
    assert_eq!(rp.next()["verdict"], "invalid");
}

#[test]
fn mock_rp_answering_503_sees_every_retry_until_the_dead_letter() {
    let op = start_op(2);
    let rp = MockRp::start(&op.issuer, &["--answer", "503"]);
    let reg = rp.registered();
    let session = op.session();
    op.sign_in(&reg, &session);
    op.sessions_logout(&session, true);
    // The first attempt and two retries, each a fresh token, each valid, each answered 503.
    let mut jtis = Vec::new();
    for _ in 0..3 {
        let line = rp.next();
        assert_eq!(
            (&line["verdict"], &line["answered"]),
            (&json!("valid"), &json!(503)),
            "{line}"
        );
        jtis.push(line["claims"]["jti"].clone());
    }
    jtis.dedup();
    assert_eq!(jtis.len(), 3, "minted afresh for each attempt");
    oidc_edge_tests::op::wait(WAIT, "a dead letter", || {
        let dead = op.deliveries("dead");
        if dead.len() == 1 { Ok(()) } else { Err(dead) }
    });
}

/// The sessions' own deadlines: idle, then maximum. The provider's clock is a manual one set
/// back so that, once moved past each deadline, it stands near the real time again: the mock
/// RP checks `iat` and `exp` against the real clock, as any RP does.
#[test]
fn mock_rp_verifies_the_tokens_of_sessions_that_timed_out() {
    let config = json!({"session_idle_time_secs": 60, "session_max_time_secs": 120});
    let real = oidc_edge::native::now().0;
    // Idle: 60 s plus the 6 s touch step.
    let op = start_op_on(
        NativeClock::manual(oidc_edge_core::UnixTime(real - 66)),
        config.clone(),
        2,
    );
    let rp = MockRp::start(&op.issuer, &[]);
    let reg = rp.registered();
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);
    op.advance(66);
    assert_eq!(op.sweep_now(), 1);
    assert_valid(&rp.next(), "SESSION_IDLE_TIMEOUT", &id_token);
    drop(rp);
    // Maximum: kept busy every 50 s, it ends 120 s after it began all the same.
    let op = start_op_on(
        NativeClock::manual(oidc_edge_core::UnixTime(real - 120)),
        config,
        2,
    );
    let rp = MockRp::start(&op.issuer, &[]);
    let reg = rp.registered();
    let session = op.session();
    let (_, id_token) = op.sign_in(&reg, &session);
    for _ in 0..2 {
        op.advance(50);
        assert!(!op.shows_login_form(&reg, &session));
    }
    op.advance(20);
    assert_eq!(op.sweep_now(), 1);
    assert_valid(&rp.next(), "SESSION_MAX_TIMEOUT", &id_token);
}

/// `--encrypt`: the mock RP registers an ID-token encryption key, the provider encrypts its
/// logout tokens to it (a nested JWT), and the mock RP decrypts and verifies them.
#[test]
fn mock_rp_with_an_encryption_key_decrypts_its_logout_tokens() {
    use oidc_edge_tests::flow;
    let op = start_op(2);
    let rp = MockRp::start(&op.issuer, &["--encrypt"]);
    let reg = rp.registered();
    let session = op.session();
    let a = flow::Authorize {
        scope: "openid",
        state: "s",
        nonce: "n",
        session: Some(&session),
        extra: "",
    };
    let r = op.send_request(flow::authorize_request(REALM, &reg.id, &reg.redirect, &a));
    let r = op.consent_if_asked(r, &session, "allow");
    let code = r.location_param("code").expect("a code");
    let r = op.send_request(flow::token_request(
        REALM,
        &reg.id,
        Some(&reg.secret),
        &reg.redirect,
        &code,
        None,
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    let id_token = r.json()["id_token"].as_str().unwrap().to_owned();
    assert_eq!(id_token.split('.').count(), 5, "an encrypted ID token");
    op.sessions_logout(&session, true);
    let line = rp.next();
    assert_eq!(
        (&line["verdict"], &line["answered"]),
        (&json!("valid"), &json!(200)),
        "{line}"
    );
    assert_eq!(line["header"]["alg"], "ECDH-ES+A128KW", "{line}");
    assert_eq!(line["header"]["cty"], "JWT", "{line}");
    assert_eq!(line["claims"]["cause"], "CLIENT_LOGOUT", "{line}");
    assert!(line["claims"]["sid"].is_string(), "{line}");
}
