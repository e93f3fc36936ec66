//! The provider driven through `handle` with an in-memory host and a virtual clock: the
//! code flow end to end, sids per client, and the refusals that matter.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use oidc_edge_core::UnixTime;
use oidc_edge_core::host::{
    Clock, Entropy, EntropyError, Host, HostConfig, ListPage, Store, StoreError,
};
use oidc_edge_core::http::{Method, Request, Response};
use oidc_edge_core::jose::jws::Verifier;
use oidc_edge_core::jose::{JwkSet, JwsAlg, b64, jwt};
use oidc_edge_core::provider;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Futures here never wait on anything outside: poll once more until done.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Value and expiry (unix seconds) per key.
type Entries = BTreeMap<String, (Vec<u8>, Option<u64>)>;

struct TestHost {
    store: RefCell<Entries>,
    now: Cell<u64>,
    entropy: common::TimeSeeded,
    config: HostConfig,
}

impl TestHost {
    fn new() -> Self {
        Self {
            store: RefCell::default(),
            now: Cell::new(1_800_000_000),
            entropy: common::TimeSeeded::new(),
            config: HostConfig {
                base_url: "https://id.example".into(),
                admin_token: "admin-secret-token".into(),
                master_key: [42; 32],
            },
        }
    }

    fn call(&self, req: Request) -> Response {
        block_on(provider::handle(req, self))
    }

    fn admin(&self, method: Method, path: &str, body: Value) -> Response {
        self.call(
            Request::new(method, path)
                .with_header("authorization", "Bearer admin-secret-token")
                .with_header("content-type", "application/json")
                .with_body(body.to_string()),
        )
    }
}

impl Store for TestHost {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = self.now.get();
        Ok(self
            .store
            .borrow()
            .get(key)
            .filter(|(_, exp)| exp.is_none_or(|e| now < e))
            .map(|(v, _)| v.clone()))
    }
    async fn put(&self, key: &str, value: &[u8], ttl: Option<u64>) -> Result<(), StoreError> {
        let exp = ttl.map(|t| self.now.get() + t);
        self.store
            .borrow_mut()
            .insert(key.into(), (value.to_vec(), exp));
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store.borrow_mut().remove(key);
        Ok(())
    }
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, StoreError> {
        let keys: Vec<String> = self
            .store
            .borrow()
            .keys()
            .filter(|k| k.starts_with(prefix) && cursor.is_none_or(|c| k.as_str() > c))
            .take(limit + 1)
            .cloned()
            .collect();
        let more = keys.len() > limit;
        let keys: Vec<String> = keys.into_iter().take(limit).collect();
        let cursor = more.then(|| keys.last().cloned()).flatten();
        Ok(ListPage { keys, cursor })
    }
}

impl Clock for TestHost {
    fn now(&self) -> UnixTime {
        UnixTime(self.now.get())
    }
}

impl Entropy for TestHost {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        self.entropy.fill(dest)
    }
}

impl Host for TestHost {
    fn config(&self) -> &HostConfig {
        &self.config
    }
}

fn json_of(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

fn location_params(r: &Response) -> BTreeMap<String, String> {
    let loc = r.header("location").expect("a redirect");
    let q = loc.split_once('?').map_or("", |(_, q)| q);
    oidc_edge_core::http::Params::parse(q.as_bytes())
        .0
        .into_iter()
        .collect()
}

const ISS: &str = "https://id.example/realms/r1";

struct Rp {
    id: String,
    secret: Option<String>,
    redirect: String,
}

fn setup() -> (TestHost, String) {
    let h = TestHost::new();
    let r = h.admin(
        Method::Put,
        "/admin/realms/r1",
        json!({"session_idle_time_secs": 600}),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = h.admin(
        Method::Put,
        "/admin/realms/r1/users/alice",
        json!({"password": "correct horse", "email": "alice@example.com", "name": "Alice"}),
    );
    assert_eq!(r.status, 201);
    let r = h.call(
        Request::new(Method::Post, "/realms/r1/authenticate")
            .with_header("content-type", "application/json")
            .with_body(json!({"username": "alice", "password": "correct horse"}).to_string()),
    );
    assert_eq!(r.status, 200);
    let cookie = r.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("; Secure"),
        "{cookie}"
    );
    let token = json_of(&r)["tokenId"].as_str().unwrap().to_owned();
    (h, token)
}

fn register(h: &TestHost, meta: Value) -> Rp {
    let r = h.call(
        Request::new(Method::Post, "/realms/r1/register")
            .with_header("content-type", "application/json")
            .with_body(meta.to_string()),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let v = json_of(&r);
    assert!(v["registration_access_token"].is_string());
    assert_eq!(
        v["registration_client_uri"],
        format!("{ISS}/register/{}", v["client_id"].as_str().unwrap())
    );
    Rp {
        id: v["client_id"].as_str().unwrap().into(),
        secret: v["client_secret"].as_str().map(String::from),
        redirect: v["redirect_uris"][0].as_str().unwrap().into(),
    }
}

fn pkce() -> (String, String) {
    let verifier = "a-verifier-of-at-least-forty-three-characters-0123456789".to_owned();
    let challenge = b64::encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn authorize(h: &TestHost, rp: &Rp, session: Option<&str>, extra: &str) -> Response {
    let mut req = Request::new(
        Method::Get,
        &format!(
            "/realms/r1/authorize?response_type=code&scope=openid%20email%20profile&client_id={}&redirect_uri={}&state=st4te&nonce=n0nce{extra}",
            rp.id,
            urlencode(&rp.redirect)
        ),
    );
    if let Some(s) = session {
        req = req.with_header("cookie", &format!("oidc_edge_session={s}"));
    }
    h.call(req)
}

fn urlencode(s: &str) -> String {
    oidc_edge_core::http::encode_params([("x", s)])
        .trim_start_matches("x=")
        .to_owned()
}

fn exchange(h: &TestHost, rp: &Rp, code: &str, verifier: Option<&str>) -> Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", rp.redirect.as_str()),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    let mut req = Request::new(Method::Post, "/realms/r1/token")
        .with_header("content-type", "application/x-www-form-urlencoded");
    match &rp.secret {
        Some(s) => {
            use base64::Engine as _;
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{s}", rp.id));
            req = req.with_header("authorization", &format!("Basic {basic}"));
        }
        None => form.push(("client_id", rp.id.as_str())),
    }
    h.call(req.with_body(oidc_edge_core::http::encode_params(form)))
}

fn id_token_claims(h: &TestHost, token: &str, alg: JwsAlg) -> Value {
    let jwks = h.call(Request::new(Method::Get, "/realms/r1/jwks"));
    let set = JwkSet::from_json(std::str::from_utf8(&jwks.body).unwrap()).unwrap();
    let opened = jwt::open(token, &Verifier::new(&set, &[alg]), None, h).unwrap();
    Value::Object(opened.claims)
}

#[test]
fn code_flow_gives_each_client_its_own_stable_sid() {
    let (h, session) = setup();
    let rp1 = register(
        &h,
        json!({"redirect_uris": ["https://rp1.example/cb"], "backchannel_logout_uri": "https://rp1.example/bc"}),
    );
    let (verifier, challenge) = pkce();
    let rp2 = register(
        &h,
        json!({"redirect_uris": ["http://127.0.0.1:9000/cb?x=1"], "token_endpoint_auth_method": "none", "id_token_signed_response_alg": "ES256"}),
    );

    let r = authorize(&h, &rp1, Some(&session), "");
    assert_eq!(r.status, 302);
    let p = location_params(&r);
    assert_eq!((p["state"].as_str(), p["iss"].as_str()), ("st4te", ISS));
    let r = exchange(&h, &rp1, &p["code"], None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let tok = json_of(&r);
    assert_eq!(tok["token_type"], "Bearer");
    let c1 = id_token_claims(&h, tok["id_token"].as_str().unwrap(), JwsAlg::RS256);
    for claim in [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "sid",
    ] {
        assert!(c1.get(claim).is_some(), "ID token lacks {claim}: {c1}");
    }
    assert_eq!(
        (c1["iss"].as_str(), c1["aud"].as_str(), c1["nonce"].as_str()),
        (Some(ISS), Some(rp1.id.as_str()), Some("n0nce"))
    );
    assert_eq!(c1["email"], "alice@example.com");

    // userinfo with the access token.
    let r = h.call(
        Request::new(Method::Get, "/realms/r1/userinfo").with_header(
            "authorization",
            &format!("Bearer {}", tok["access_token"].as_str().unwrap()),
        ),
    );
    assert_eq!(r.status, 200);
    assert_eq!(json_of(&r)["sub"], c1["sub"]);

    // A second client on the same session: PKCE, ES256, a different sid.
    let r = authorize(
        &h,
        &rp2,
        Some(&session),
        &format!("&code_challenge={challenge}&code_challenge_method=S256"),
    );
    assert_eq!(r.status, 302);
    let loc = r.header("location").unwrap();
    assert!(
        loc.starts_with("http://127.0.0.1:9000/cb?x=1&code="),
        "{loc}"
    );
    let code2 = location_params(&r)["code"].clone();
    let r = exchange(&h, &rp2, &code2, Some(&verifier));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let c2 = id_token_claims(&h, json_of(&r)["id_token"].as_str().unwrap(), JwsAlg::ES256);
    assert_ne!(c1["sid"], c2["sid"]);
    assert_eq!(c1["sub"], c2["sub"]);

    // The first client again: the same sid.
    let r = authorize(&h, &rp1, Some(&session), "");
    let r = exchange(&h, &rp1, &location_params(&r)["code"], None);
    let again = id_token_claims(&h, json_of(&r)["id_token"].as_str().unwrap(), JwsAlg::RS256);
    assert_eq!(c1["sid"], again["sid"]);

    // Code replay fails.
    let r = exchange(&h, &rp2, &code2, Some(&verifier));
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[test]
fn refusals() {
    let (h, session) = setup();
    let public = register(
        &h,
        json!({"redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "none"}),
    );
    let confidential = register(&h, json!({"redirect_uris": ["https://rp.example/cb"]}));
    let (_, challenge) = pkce();

    // Public client without PKCE: error redirected to the (validated) redirect URI.
    let r = authorize(&h, &public, Some(&session), "");
    assert_eq!(r.status, 302);
    assert_eq!(location_params(&r)["error"], "invalid_request");
    // Wrong verifier.
    let r = authorize(
        &h,
        &public,
        Some(&session),
        &format!("&code_challenge={challenge}&code_challenge_method=S256"),
    );
    let r = exchange(
        &h,
        &public,
        &location_params(&r)["code"],
        Some("a-wrong-verifier-of-at-least-forty-three-characters-xx"),
    );
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // plain PKCE refused.
    let r = authorize(
        &h,
        &public,
        Some(&session),
        &format!("&code_challenge={challenge}&code_challenge_method=plain"),
    );
    assert_eq!(location_params(&r)["error"], "invalid_request");
    // Redirect mismatch: an error page here, never a redirect.
    let bad = Rp {
        redirect: "https://rp.example/cb/evil".into(),
        ..Rp {
            id: confidential.id.clone(),
            secret: None,
            redirect: String::new(),
        }
    };
    let r = authorize(&h, &bad, Some(&session), "");
    assert_eq!(r.status, 400);
    assert!(r.header("location").is_none());
    // prompt=none without a session.
    let r = authorize(&h, &confidential, None, "&prompt=none");
    assert_eq!(location_params(&r)["error"], "login_required");
    // No session: the login form, with a CSRF cookie.
    let r = authorize(&h, &confidential, None, "");
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("name=\"csrf\""));
    assert!(r.header("set-cookie").unwrap().contains("oidc_edge_csrf="));
    // Bad client secret.
    let r = authorize(&h, &confidential, Some(&session), "");
    let code = location_params(&r)["code"].clone();
    let wrong = Rp {
        secret: Some("not-the-secret-at-all".into()),
        ..Rp {
            id: confidential.id.clone(),
            secret: None,
            redirect: confidential.redirect.clone(),
        }
    };
    let r = exchange(&h, &wrong, &code, None);
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Invalid metadata.
    let r = h.call(Request::new(Method::Post, "/realms/r1/register").with_header("content-type", "application/json").with_body(r#"{"redirect_uris":["https://rp/cb"],"backchannel_logout_uri":"https://rp/bc#frag"}"#));
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    // Unknown realm, admin without token.
    let r = h.call(Request::new(
        Method::Get,
        "/realms/nope/.well-known/openid-configuration",
    ));
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (404, Some("not_found"))
    );
    let r = h.call(Request::new(Method::Get, "/admin/realms/r1"));
    assert_eq!(
        (r.status, json_of(&r)["error"].as_str()),
        (401, Some("invalid_token"))
    );
    // Expired code.
    let r = authorize(&h, &confidential, Some(&session), "");
    let code = location_params(&r)["code"].clone();
    h.now.set(h.now.get() + 61);
    let r = exchange(&h, &confidential, &code, None);
    assert_eq!(json_of(&r)["error"], "invalid_grant");
}

#[test]
fn keys_are_sealed_and_rotation_keeps_the_previous_public_key() {
    let (h, _) = setup();
    let before = json_of(&h.call(Request::new(Method::Get, "/realms/r1/jwks")));
    assert_eq!(before["keys"].as_array().unwrap().len(), 2);
    for (k, (v, _)) in h
        .store
        .borrow()
        .iter()
        .filter(|(k, _)| k.starts_with("key/"))
    {
        let text = String::from_utf8_lossy(v);
        assert!(!text.contains("\"d\""), "{k} holds a plain private key");
    }
    let r = h.admin(Method::Post, "/admin/realms/r1/keys/rotate", json!({}));
    assert_eq!(r.status, 200);
    let after = json_of(&h.call(Request::new(Method::Get, "/realms/r1/jwks")));
    let kids = |v: &Value| {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(kids(&after).len(), 4);
    for kid in kids(&before) {
        assert!(kids(&after).contains(&kid), "previous key {kid} dropped");
    }
    let r = h.admin(Method::Post, "/admin/realms/r1/keys/rotate", json!({}));
    assert_eq!(r.status, 200);
    let third = json_of(&h.call(Request::new(Method::Get, "/realms/r1/jwks")));
    assert_eq!(kids(&third).len(), 4);
    assert!(
        kids(&before).iter().all(|k| !kids(&third).contains(k)),
        "two rotations retire the first keys"
    );
}

#[test]
fn discovery_advertises_back_channel_logout() {
    let (h, _) = setup();
    let d = json_of(&h.call(Request::new(
        Method::Get,
        "/realms/r1/.well-known/openid-configuration",
    )));
    assert_eq!(d["issuer"], ISS);
    assert_eq!(d["backchannel_logout_supported"], true);
    assert_eq!(d["backchannel_logout_session_supported"], true);
    assert_eq!(d["end_session_endpoint"], format!("{ISS}/end_session"));
    assert!(
        d["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("RS256"))
    );
}
