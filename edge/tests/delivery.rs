//! Back-channel logout through the native server, end to end: a session ends over HTTP and a
//! relying party listening on loopback receives the logout token; failures are retried with
//! fresh tokens and dead-lettered; a server stopped mid-delivery resumes from its outbox; the
//! sweep ends an idle session and a manual clock's advance releases a scheduled retry.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use oidc_edge::native::server::{RunningServer, ServerOptions, spawn_for_test};
use oidc_edge::native::{NativeClock, OsEntropy, now};
use oidc_edge_core::host::Clock as _;
use oidc_edge_core::http::{Params, encode_params};
use oidc_edge_core::jose::{JwkSet, JwsAlg, b64};
use oidc_edge_core::logout::delivery::DeliveryPolicy;
use oidc_edge_core::logout::token::{self, LogoutTokenValidation};
use reqwest::blocking::Client;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

const REALM: &str = "bcl";
const USER: &str = "alice";
const PASSWORD: &str = "alice-password";
const CLIENT: &str = "rp1";
const CLIENT_SECRET: &str = "delivery-test-client-secret-0123";
const REDIRECT: &str = "http://127.0.0.1:9/cb";
const VERIFIER: &str = "delivery-test-code-verifier-0123456789abcdefghijklmnop";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

// ---------------------------------------------------------------------------------------------
// A relying party on loopback

/// One POST the RP received.
struct Received {
    head: String,
    body: String,
}

impl Received {
    fn logout_token(&self) -> String {
        let params = Params::parse(self.body.as_bytes()).0;
        assert_eq!(params.len(), 1, "{}", self.body);
        let (name, value) = &params[0];
        assert_eq!(name, "logout_token");
        value.clone()
    }
}

/// A back-channel logout endpoint: answers every POST with the current status, or never
/// (status 0), and reports each request.
struct Rp {
    addr: SocketAddr,
    status: Arc<AtomicU16>,
    received: mpsc::Receiver<Received>,
}

impl Rp {
    fn start(status: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let status = Arc::new(AtomicU16::new(status));
        let (tx, received) = mpsc::channel();
        let answer = Arc::clone(&status);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (tx, answer) = (tx.clone(), Arc::clone(&answer));
                std::thread::spawn(move || serve_one(stream, &tx, &answer));
            }
        });
        Self {
            addr,
            status,
            received,
        }
    }

    fn uri(&self) -> String {
        format!("http://{}/backchannel-logout", self.addr)
    }

    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn next(&self, within: Duration) -> Received {
        self.received
            .recv_timeout(within)
            .expect("the RP receives a logout token in time")
    }

    fn nothing_for(&self, d: Duration) {
        if let Ok(r) = self.received.recv_timeout(d) {
            panic!("unexpected delivery: {}", r.head);
        }
    }
}

fn serve_one(mut s: TcpStream, tx: &mpsc::Sender<Received>, answer: &AtomicU16) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    if s.read_exact(&mut body).is_err() {
        return;
    }
    let status = answer.load(Ordering::SeqCst);
    let _ = tx.send(Received {
        head,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    if status == 0 {
        // Say nothing; hold the connection until the server gives up or goes away.
        let _ = s.read(&mut byte);
        return;
    }
    let _ = write!(
        s,
        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
}

// ---------------------------------------------------------------------------------------------
// The provider

struct Op {
    server: RunningServer,
    http: Client,
}

fn options() -> ServerOptions {
    ServerOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..ServerOptions::default()
    }
}

impl Op {
    fn start(opts: ServerOptions) -> Self {
        Self {
            server: spawn_for_test(opts).unwrap(),
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    fn issuer(&self) -> String {
        self.server.url(&format!("/realms/{REALM}"))
    }

    fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = self
            .http
            .request(
                method,
                self.server.url(&format!("/admin/realms/{REALM}{path}")),
            )
            .bearer_auth(&self.server.admin_token);
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let r = rb.send().unwrap();
        let status = r.status().as_u16();
        let text = r.text().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Realm `bcl` (ES256, loopback URIs allowed, idle timeout 60 s), user alice, and `rp1`, a
    /// confidential client (plain http back-channel URIs are for those only) whose back-channel
    /// logout URI is `rp`'s.
    fn provision(&self, rp: &Rp) {
        let (s, v) = self.admin(
            reqwest::Method::PUT,
            "",
            Some(json!({
                "allow_private_uris": true,
                "id_token_signing_alg": "ES256",
                "session_idle_time_secs": 60,
            })),
        );
        assert_eq!(s, 201, "{v}");
        let (s, v) = self.admin(
            reqwest::Method::PUT,
            &format!("/users/{USER}"),
            Some(json!({"password": PASSWORD})),
        );
        assert_eq!(s, 201, "{v}");
        let (s, v) = self.admin(
            reqwest::Method::PUT,
            &format!("/clients/{CLIENT}"),
            Some(json!({
                "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": "client_secret_post",
                "client_secret": CLIENT_SECRET,
                "backchannel_logout_uri": rp.uri(),
                "backchannel_logout_session_required": true,
                // The operator's own client: no consent page in the way.
                "first_party": true,
            })),
        );
        assert_eq!(s, 201, "{v}");
    }

    /// Log alice in and give `rp1` an ID token from the session: (session token, ID token
    /// claims).
    fn sign_in(&self) -> (String, Map<String, Value>) {
        let r = self
            .http
            .post(format!("{}/authenticate", self.issuer()))
            .header("content-type", "application/json")
            .body(json!({"username": USER, "password": PASSWORD}).to_string())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let session: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        let session = session["tokenId"].as_str().unwrap().to_owned();

        let challenge = b64::encode(Sha256::digest(VERIFIER.as_bytes()));
        let query = encode_params([
            ("response_type", "code"),
            ("client_id", CLIENT),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "s"),
            ("nonce", "n"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]);
        let r = self
            .http
            .get(format!("{}/authorize?{query}", self.issuer()))
            .header("cookie", format!("oidc_edge_session={session}"))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 302);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let params = Params::parse(location.split_once('?').unwrap().1.as_bytes()).0;
        let code = params.iter().find(|(k, _)| k == "code").unwrap().1.clone();

        let r = self
            .http
            .post(format!("{}/token", self.issuer()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_params([
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("client_id", CLIENT),
                ("client_secret", CLIENT_SECRET),
                ("code_verifier", VERIFIER),
            ]))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let tokens: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        let id_token = tokens["id_token"].as_str().unwrap();
        (session, claims_of(id_token))
    }

    /// `POST /sessions/logout` with the session token: returns the deliveries queued.
    fn logout(&self, session: &str) -> u64 {
        let r = self
            .http
            .post(format!("{}/sessions/logout", self.issuer()))
            .header("x-session-token", session)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
        v["backchannel_logout_deliveries"].as_u64().unwrap()
    }

    fn jwks(&self) -> JwkSet {
        let r = self
            .http
            .get(format!("{}/jwks", self.issuer()))
            .send()
            .unwrap();
        JwkSet::from_json(&r.text().unwrap()).unwrap()
    }

    /// Verify a logout token as `rp1` must (Back-Channel Logout 1.0 §2.6); its claims.
    fn verify(&self, token: &str, at: u64) -> Map<String, Value> {
        let jwks = self.jwks();
        let issuer = self.issuer();
        let v = LogoutTokenValidation {
            issuer: &issuer,
            audience: CLIENT,
            jwks: &jwks,
            algs: &[JwsAlg::ES256],
            decrypt_with: None,
            now: oidc_edge_core::UnixTime(at),
            leeway_secs: 5,
        };
        token::verify(token, &v, &OsEntropy, None)
            .unwrap_or_else(|e| panic!("the logout token does not verify: {e}"))
            .claims
    }

    /// Deliveries in `state` (`pending` or `dead`).
    fn deliveries(&self, state: &str) -> Vec<Value> {
        let (s, v) = self.admin(
            reqwest::Method::GET,
            &format!("/deliveries?state={state}"),
            None,
        );
        assert_eq!(s, 200, "{v}");
        v["result"].as_array().unwrap().clone()
    }

    /// The back-channel audit events' operations, oldest first.
    fn audit(&self) -> Vec<String> {
        let (s, v) = self.admin(
            reqwest::Method::GET,
            "/audit?event=AM-BACK-CHANNEL-LOGOUT",
            None,
        );
        assert_eq!(s, 200, "{v}");
        v["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["operation"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn claims_of(jwt: &str) -> Map<String, Value> {
    let payload = b64::decode(jwt.split('.').nth(1).unwrap()).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// Poll `check` until it holds (the worker records outcomes just after the RP has answered).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(10), "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

struct TmpDir(PathBuf);

impl TmpDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("oidc-edge-delivery-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn a_logout_reaches_the_rp_over_the_back_channel() {
    let rp = Rp::start(204);
    let op = Op::start(options());
    op.provision(&rp);
    let (session, id_claims) = op.sign_in();

    let started = Instant::now();
    assert_eq!(op.logout(&session), 1);
    let got = rp.next(Duration::from_secs(10));
    eprintln!("logout answered to token received: {:?}", started.elapsed());

    let head = got.head.to_ascii_lowercase();
    assert!(
        head.starts_with("post /backchannel-logout http/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\ncontent-type: application/x-www-form-urlencoded\r\n"),
        "{head}"
    );
    let claims = op.verify(&got.logout_token(), now().secs());
    assert_eq!(claims["sub"], id_claims["sub"]);
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert_eq!(claims["events"], json!({ EVENT: {} }));
    assert_eq!(claims["cause"], "CLIENT_LOGOUT");

    eventually("the attempt is audited and the outbox empty", || {
        op.audit()
            == [format!(
                "Sent logout request to {}, which responded with HTTP code 204.",
                rp.uri()
            )]
            && op.deliveries("pending").is_empty()
    });
    rp.nothing_for(Duration::from_millis(100));
}

#[test]
fn a_failing_rp_gets_fresh_tokens_then_the_delivery_is_dead_lettered() {
    let rp = Rp::start(503);
    let op = Op::start(ServerOptions {
        delivery: DeliveryPolicy {
            retry_max: 2,
            retry_base_ms: 20,
            ..DeliveryPolicy::default()
        },
        ..options()
    });
    op.provision(&rp);
    let (session, _) = op.sign_in();
    assert_eq!(op.logout(&session), 1);

    let started = Instant::now();
    let tokens: Vec<Map<String, Value>> = (0..3)
        .map(|_| {
            op.verify(
                &rp.next(Duration::from_secs(10)).logout_token(),
                now().secs(),
            )
        })
        .collect();
    eprintln!("three attempts in {:?}", started.elapsed());
    // Re-minted per attempt: a new jti each time, the same auditTrackingId.
    assert_ne!(tokens[0]["jti"], tokens[1]["jti"]);
    assert_ne!(tokens[1]["jti"], tokens[2]["jti"]);
    assert!(tokens[0]["auditTrackingId"].is_string());
    assert!(
        tokens
            .iter()
            .all(|t| t["auditTrackingId"] == tokens[0]["auditTrackingId"])
    );

    eventually("dead-lettered after 1 + 2 attempts", || {
        op.deliveries("dead").len() == 1
    });
    rp.nothing_for(Duration::from_millis(200));
    let dead = &op.deliveries("dead")[0];
    assert_eq!(dead["attempts"], 3, "{dead}");
    assert_eq!(dead["state"], "dead", "{dead}");
    assert_eq!(dead["client_id"], CLIENT, "{dead}");
    assert!(op.deliveries("pending").is_empty());
    let audit = op.audit();
    assert_eq!(audit.len(), 3, "{audit:?}");
    assert!(
        audit.iter().all(|o| o.ends_with("HTTP code 503.")),
        "{audit:?}"
    );
}

#[test]
fn a_restarted_server_resumes_deliveries_from_its_outbox() {
    let dir = TmpDir::new("restart");
    let rp = Rp::start(0); // Accepts, then says nothing.
    let opts = ServerOptions {
        data: Some(dir.0.clone()),
        delivery: DeliveryPolicy {
            timeout_ms: 60_000,
            ..DeliveryPolicy::default()
        },
        ..options()
    };
    let op = Op::start(opts.clone());
    op.provision(&rp);
    let (session, _) = op.sign_in();
    assert_eq!(op.logout(&session), 1);
    // The delivery is in flight when the server goes away.
    let first = op.verify(
        &rp.next(Duration::from_secs(10)).logout_token(),
        now().secs(),
    );
    let stopped = Instant::now();
    drop(op);
    eprintln!("stopped mid-delivery in {:?}", stopped.elapsed());

    rp.answer(200);
    let started = Instant::now();
    let op = Op::start(opts);
    let second = op.verify(
        &rp.next(Duration::from_secs(10)).logout_token(),
        now().secs(),
    );
    eprintln!("restart to token received: {:?}", started.elapsed());
    assert_eq!(second["auditTrackingId"], first["auditTrackingId"]);
    assert_eq!(second["sid"], first["sid"]);
    assert_ne!(second["jti"], first["jti"]);
    eventually("delivered and out of the outbox", || {
        op.deliveries("pending").is_empty()
            && op
                .audit()
                .last()
                .is_some_and(|o| o.ends_with("HTTP code 200."))
    });
    rp.nothing_for(Duration::from_millis(100));
}

#[test]
fn the_sweep_ends_an_idle_session_and_the_clock_releases_its_retry() {
    let rp = Rp::start(503);
    let clock = NativeClock::manual(now());
    let op = Op::start(ServerOptions {
        clock: clock.clone(),
        sweep_interval: Duration::from_secs(3600),
        ..options()
    });
    op.provision(&rp);
    let (_session, id_claims) = op.sign_in();

    assert_eq!(op.server.sweep_now().unwrap(), 0, "not idle yet");
    clock.advance(120);
    assert_eq!(op.server.sweep_now().unwrap(), 1);
    let first = op.verify(
        &rp.next(Duration::from_secs(10)).logout_token(),
        clock.now().secs(),
    );
    assert_eq!(first["cause"], "SESSION_IDLE_TIMEOUT");
    assert_eq!(first["sid"], id_claims["sid"]);

    // The retry is due in about a second of the server's time, which stands still...
    rp.answer(200);
    rp.nothing_for(Duration::from_millis(300));
    assert_eq!(op.deliveries("pending").len(), 1);
    // ...until it moves.
    let moved = Instant::now();
    clock.advance(2);
    let second = op.verify(
        &rp.next(Duration::from_secs(10)).logout_token(),
        clock.now().secs(),
    );
    eprintln!("advance to retry received: {:?}", moved.elapsed());
    assert!(moved.elapsed() < Duration::from_secs(1));
    assert_eq!(second["auditTrackingId"], first["auditTrackingId"]);
    eventually("delivered", || op.deliveries("pending").is_empty());
}

#[test]
fn a_silent_rp_holds_up_no_other_delivery() {
    let rp = Rp::start(0);
    let op = Op::start(options());
    op.provision(&rp);
    let (first, _) = op.sign_in();
    assert_eq!(op.logout(&first), 1);
    // The first POST arrives and is never answered (the timeout is 5 s).
    rp.next(Duration::from_secs(10));
    rp.answer(204);
    let (second, _) = op.sign_in();
    let started = Instant::now();
    assert_eq!(op.logout(&second), 1);
    let got = rp.next(Duration::from_secs(3));
    let waited = started.elapsed();
    eprintln!("second session's token while the first hangs: {waited:?}");
    assert!(
        waited < Duration::from_secs(3),
        "held up behind the silent attempt: {waited:?}"
    );
    op.verify(&got.logout_token(), now().secs());
}
