//! Scenario tests over real HTTP: the native server runs in-process on a free loopback port
//! (memory store), and these tests play the browser and the relying parties against it.
//!
//! The HTTP client never follows redirects and keeps no cookies: every test reads `Location`
//! and `Set-Cookie` itself, so each hop of the story (login form, 303 back to the authorization
//! endpoint, 302 to the client with a code) is asserted, not assumed. Every refusal is checked
//! for its status and its exact OAuth `error` code.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use base64::Engine as _;
use oidc_edge_core::http::{MAX_BODY, encode_params};
use oidc_edge_core::jose::jwe::Decrypter;
use oidc_edge_core::jose::jws::Verifier;
use oidc_edge_core::jose::jwt::{self, Opened, Validation};
use oidc_edge_core::jose::{ContentEnc, Jwk, JwsAlg, KeyMgmtAlg, b64};
use oidc_edge_core::opaque_token::random_token;
use oidc_edge_tests::flow;
use oidc_edge_tests::op::{self, Reply};
use oidc_edge_tests::{OsEntropy, test_options};
use reqwest::Method;
use reqwest::blocking::RequestBuilder;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use oidc_edge_tests::op::{CSRF_COOKIE, EMAIL, NAME, PASSWORD, REALM, SESSION_COOKIE, Start, USER};

// ---------------------------------------------------------------------------------------------
// The provider, a browser's session, relying parties

/// The provider under test ([`op::Op`]: realm [`REALM`], user [`USER`]), with the steps
/// these scenarios take beyond the shared ones: PKCE, every client authentication method, the
/// HTML login form, userinfo.
struct Op(op::Op);

impl std::ops::Deref for Op {
    type Target = op::Op;

    fn deref(&self) -> &op::Op {
        &self.0
    }
}

/// A registered relying party as it knows itself.
#[derive(Clone)]
struct Rp {
    id: String,
    secret: Option<String>,
    auth: String,
    redirect: String,
    alg: JwsAlg,
    registration_uri: String,
    registration_token: String,
    /// Its private key, algorithms, when it asked for encrypted ID tokens.
    decrypt: Option<(Jwk, KeyMgmtAlg, ContentEnc)>,
}

/// One authorization request's secrets: state, nonce and the PKCE verifier.
struct AuthRequest {
    state: String,
    nonce: String,
    verifier: String,
    challenge: String,
    pkce: bool,
}

impl AuthRequest {
    fn new() -> Self {
        let verifier = random_token(&OsEntropy).unwrap();
        // Computed here, independently of the provider's own PKCE code.
        let challenge = b64::encode(Sha256::digest(verifier.as_bytes()));
        Self {
            state: random_token(&OsEntropy).unwrap(),
            nonce: random_token(&OsEntropy).unwrap(),
            verifier,
            challenge,
            pkce: true,
        }
    }

    fn without_pkce() -> Self {
        Self {
            pkce: false,
            ..Self::new()
        }
    }

    fn params<'a>(&'a self, rp: &'a Rp) -> Vec<(&'a str, &'a str)> {
        let mut p = vec![
            ("response_type", "code"),
            ("client_id", rp.id.as_str()),
            ("redirect_uri", rp.redirect.as_str()),
            ("scope", "openid email profile"),
            ("state", self.state.as_str()),
            ("nonce", self.nonce.as_str()),
        ];
        if self.pkce {
            p.push(("code_challenge", self.challenge.as_str()));
            p.push(("code_challenge_method", "S256"));
        }
        p
    }
}

impl Rp {
    /// This client's id with other credentials, as an impostor (or a misconfigured RP) sends.
    fn presenting(&self, auth: &str, secret: &str) -> Self {
        Self {
            secret: Some(secret.to_owned()),
            auth: auth.to_owned(),
            ..self.clone()
        }
    }
}

/// A JSON body (reqwest's `json` feature is not needed for this).
trait JsonBody {
    fn json_body(self, value: &Value) -> Self;
}

impl JsonBody for RequestBuilder {
    fn json_body(self, value: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(value.to_string())
    }
}

fn form_component(s: &str) -> String {
    encode_params([("x", s)])["x=".len()..].to_owned()
}

impl Op {
    /// A fresh server with realm [`REALM`] (defaults: RS256, open registration) and user
    /// [`USER`].
    fn start() -> Self {
        Self(op::Op::start(Start {
            options: test_options(),
            realm_config: json!({}),
        }))
    }

    fn admin(&self, method: Method, path: &str, body: Value) -> Reply {
        self.0.admin(method, path, Some(&body))
    }

    fn discovery(&self) -> Reply {
        self.send(
            self.http
                .get(self.endpoint(".well-known/openid-configuration")),
        )
    }

    /// `POST /register`.
    fn try_register(&self, meta: &Value) -> Reply {
        self.send(self.http.post(self.endpoint("register")).json_body(meta))
    }

    /// Register and check the answer is what RP libraries insist on: 201, the metadata echoed
    /// (with the defaults applied), and the RFC 7592 management credentials.
    fn register(&self, meta: Value) -> Rp {
        let r = self.try_register(&meta);
        assert_eq!(r.status, 201, "register: {}", r.text());
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let v = r.json();
        let id = v["client_id"].as_str().expect("client_id").to_owned();
        let auth = meta["token_endpoint_auth_method"]
            .as_str()
            .unwrap_or("client_secret_basic");
        assert_eq!(v["token_endpoint_auth_method"], auth);
        let alg = meta["id_token_signed_response_alg"]
            .as_str()
            .unwrap_or("RS256");
        assert_eq!(v["id_token_signed_response_alg"], alg, "{v}");
        assert_eq!(v["redirect_uris"], meta["redirect_uris"]);
        assert!(v["client_id_issued_at"].is_u64(), "{v}");
        let secret = v["client_secret"].as_str().map(String::from);
        if auth == "none" {
            assert!(secret.is_none(), "a public client got a secret: {v}");
            assert!(v.get("client_secret_expires_at").is_none(), "{v}");
        } else {
            assert!(secret.is_some(), "{v}");
            assert_eq!(v["client_secret_expires_at"], 0, "{v}");
        }
        let registration_uri = v["registration_client_uri"].as_str().unwrap().to_owned();
        assert_eq!(registration_uri, format!("{}/register/{id}", self.issuer));
        Rp {
            id,
            secret,
            auth: auth.to_owned(),
            redirect: meta["redirect_uris"][0].as_str().unwrap().to_owned(),
            alg: alg.parse().unwrap(),
            registration_uri,
            registration_token: v["registration_access_token"]
                .as_str()
                .expect("registration_access_token")
                .to_owned(),
            decrypt: None,
        }
    }

    /// `GET /authorize` with `req`'s parameters, and the session cookie if any.
    fn authorize(&self, rp: &Rp, req: &AuthRequest, session: Option<&str>) -> Reply {
        self.authorize_with(&req.params(rp), session)
    }

    fn authorize_with(&self, params: &[(&str, &str)], session: Option<&str>) -> Reply {
        let url = format!(
            "{}?{}",
            self.endpoint("authorize"),
            encode_params(params.iter().copied())
        );
        let mut rb = self.http.get(url);
        if let Some(s) = session {
            rb = rb.header("cookie", format!("{SESSION_COOKIE}={s}"));
        }
        self.send(rb)
    }

    /// Authorize with a live session: a 302 to the client's redirect URI with a code, the
    /// request's state and the issuer (RFC 9207).
    fn code(&self, rp: &Rp, req: &AuthRequest, session: &str) -> String {
        let r = self.authorize(rp, req, Some(session));
        let r = self.consent_if_asked(r, session, "allow");
        assert_redirected_with_code(&r, rp, req, &self.issuer)
    }

    /// `POST /token` with the client authenticating as it registered.
    fn token_request<'a>(&self, rp: &'a Rp, mut form: Vec<(&str, &'a str)>) -> Reply {
        let mut rb = self.http.post(self.endpoint("token"));
        match (rp.auth.as_str(), &rp.secret) {
            ("client_secret_basic", Some(s)) => {
                // RFC 6749 §2.3.1: each half form-urlencoded, then Basic.
                let cred = format!("{}:{}", form_component(&rp.id), form_component(s));
                let basic = base64::engine::general_purpose::STANDARD.encode(cred);
                rb = rb.header("authorization", format!("Basic {basic}"));
            }
            ("client_secret_post", Some(s)) => {
                form.push(("client_id", &rp.id));
                form.push(("client_secret", s));
            }
            _ => form.push(("client_id", &rp.id)),
        }
        self.send(
            rb.header("content-type", "application/x-www-form-urlencoded")
                .body(encode_params(form)),
        )
    }

    fn exchange(&self, rp: &Rp, code: &str, verifier: Option<&str>) -> Reply {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", rp.redirect.as_str()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        self.token_request(rp, form)
    }

    /// A successful token response: JSON, `Bearer`, `no-store`.
    fn tokens(&self, rp: &Rp, req: &AuthRequest, code: &str) -> Value {
        let r = self.exchange(rp, code, req.pkce.then_some(req.verifier.as_str()));
        assert_eq!(r.status, 200, "token: {}", r.text());
        assert!(
            r.header("content-type")
                .unwrap_or_default()
                .starts_with("application/json")
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let v = r.json();
        assert_eq!(v["token_type"], "Bearer", "{v}");
        assert!(
            v["access_token"].is_string() && v["expires_in"].is_u64(),
            "{v}"
        );
        v
    }

    /// Open an ID token as `rp` must: decrypt when it registered encryption, verify the
    /// signature with the realm's JWKS accepting only `rp`'s algorithm, then check `iss`, `aud`,
    /// `exp`, `iat` and the request's `nonce`, and that `sid` and `auth_time` are there.
    fn open_id_token(&self, rp: &Rp, req: &AuthRequest, token: &str) -> Opened {
        let set = self.jwks();
        let algs = [rp.alg];
        let verifier = Verifier::new(&set, &algs);
        let opened = match &rp.decrypt {
            Some((key, alg, enc)) => {
                let (algs, encs) = ([*alg], [*enc]);
                let decrypter = Decrypter::new(key, &algs, &encs);
                jwt::open(token, &verifier, Some(&decrypter), &OsEntropy)
            }
            None => jwt::open(token, &verifier, None, &OsEntropy),
        }
        .unwrap_or_else(|e| panic!("ID token for {} does not open: {e}", rp.id));
        let mut v = Validation::new(oidc_edge::native::now());
        v.issuer = Some(&self.issuer);
        v.audience = Some(&rp.id);
        jwt::validate(&opened.claims, &v).unwrap();
        let c = &opened.claims;
        assert_eq!(c["nonce"], req.nonce.as_str());
        assert!(c["sid"].as_str().is_some_and(|s| !s.is_empty()), "{c:?}");
        assert!(c["sub"].as_str().is_some_and(|s| !s.is_empty()), "{c:?}");
        let (iat, exp, auth_time) = (
            c["iat"].as_u64().unwrap(),
            c["exp"].as_u64().unwrap(),
            c["auth_time"].as_u64().unwrap(),
        );
        assert!(auth_time <= iat && iat < exp, "{c:?}");
        assert_eq!(opened.header["alg"], rp.alg.as_str());
        opened
    }

    /// The whole code flow for `rp` on `session`: its ID token's claims and the token response.
    fn sign_in(&self, rp: &Rp, session: &str) -> (Value, Value) {
        let req = AuthRequest::new();
        let code = self.code(rp, &req, session);
        let tokens = self.tokens(rp, &req, &code);
        let opened = self.open_id_token(rp, &req, tokens["id_token"].as_str().unwrap());
        (Value::Object(opened.claims), tokens)
    }

    /// Log in through the HTML form as a browser does, starting from an authorization request
    /// of `rp`. Returns the session cookie's value and the `Location` of the 303 (the
    /// authorization request again).
    fn login_with_form(&self, rp: &Rp, req: &AuthRequest) -> (String, String) {
        let page = self.authorize(rp, req, None);
        assert_eq!(page.status, 200, "{}", page.text());
        assert!(
            page.header("content-type")
                .unwrap_or_default()
                .starts_with("text/html")
        );
        let csrf_line = page.set_cookie(CSRF_COOKIE).expect("a CSRF cookie");
        assert!(
            csrf_line.contains("HttpOnly") && !csrf_line.contains("Secure"),
            "{csrf_line}"
        );
        let csrf_cookie = page.cookie(CSRF_COOKIE).expect("the CSRF cookie");
        let form = LoginForm::parse(&page.text());
        assert_eq!(form.action, self.endpoint("login"));
        // The form carries the authorization request and the CSRF token.
        for (name, value) in req.params(rp) {
            assert_eq!(form.field(name), Some(value), "hidden {name}");
        }
        let csrf = form.field("csrf").expect("a csrf field");
        assert_eq!(
            csrf, csrf_cookie,
            "double-submit: the field matches the cookie"
        );

        let r = self.0.login_with_form(&page, USER, PASSWORD);
        assert_eq!(r.status, 303, "login: {}", r.text());
        let line = r.set_cookie(SESSION_COOKIE).expect("a session cookie");
        for attr in ["HttpOnly", "SameSite=Lax", &format!("Path=/realms/{REALM}")] {
            assert!(line.contains(attr), "session cookie lacks {attr}: {line}");
        }
        assert!(
            !line.contains("Secure"),
            "Secure on a plain-http issuer: {line}"
        );
        // The CSRF cookie is spent.
        let spent = r.set_cookie(CSRF_COOKIE).expect("the CSRF cookie cleared");
        assert!(spent.contains("Max-Age=0"), "{spent}");
        (
            r.cookie(SESSION_COOKIE).expect("the session cookie"),
            r.location().to_owned(),
        )
    }

    /// `POST /authenticate` with JSON credentials.
    fn authenticate(&self, user: &str, password: &str) -> Reply {
        self.send_request(flow::authenticate_request(REALM, user, password))
    }

    fn userinfo(&self, access_token: &str) -> Reply {
        self.send(
            self.http
                .get(self.endpoint("userinfo"))
                .bearer_auth(access_token),
        )
    }
}

/// A 302 to the client with a code, the request's state and `iss`; returns the code.
fn assert_redirected_with_code(r: &Reply, rp: &Rp, req: &AuthRequest, issuer: &str) -> String {
    assert_eq!(r.status, 302, "{}", r.text());
    // The registered URI exactly, its own query kept, the response appended.
    let sep = if rp.redirect.contains('?') { '&' } else { '?' };
    assert!(
        r.location().starts_with(&format!("{}{sep}", rp.redirect)),
        "{}",
        r.location()
    );
    let p = r.location_params();
    assert!(!p.contains_key("error"), "{p:?}");
    assert_eq!(p["state"], req.state);
    assert_eq!(p["iss"], issuer);
    p["code"].clone()
}

/// The login page's form: where it posts, and its hidden fields.
struct LoginForm {
    action: String,
    fields: Vec<(String, String)>,
}

impl LoginForm {
    fn parse(html: &str) -> Self {
        let form_tag = tag_at(html, html.find("<form").expect("a form"));
        let action = flow::html_unescape(attr(form_tag, "action").expect("a form action"));
        let fields = html
            .match_indices("<input")
            .map(|(i, _)| tag_at(html, i))
            .filter(|t| attr(t, "type") == Some("hidden"))
            .map(|t| {
                (
                    flow::html_unescape(attr(t, "name").unwrap()),
                    flow::html_unescape(attr(t, "value").unwrap_or("")),
                )
            })
            .collect();
        Self { action, fields }
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn tag_at(html: &str, start: usize) -> &str {
    let end = html[start..].find('>').expect("a closed tag");
    &html[start..start + end]
}

/// An attribute's raw value in a tag (values are quoted, with quotes escaped inside).
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    let len = tag[at..].find('"')?;
    Some(&tag[at..at + len])
}

fn rp1_metadata() -> Value {
    json!({
        "client_name": "RP one",
        "redirect_uris": ["https://rp1.example/cb"],
        "backchannel_logout_uri": "https://rp1.example/backchannel",
        "backchannel_logout_session_required": true,
    })
}

// ---------------------------------------------------------------------------------------------
// Stories

#[test]
fn discovery_names_the_endpoints_and_back_channel_logout() {
    let op = Op::start();
    let r = op.discovery();
    assert_eq!(r.status, 200);
    assert!(
        r.header("cache-control")
            .is_some_and(|c| c.starts_with("public"))
    );
    let d = r.json();
    let iss = format!("{}/realms/{REALM}", op.base_url);
    assert_eq!(d["issuer"], iss.as_str());
    assert_eq!(d["backchannel_logout_supported"], true);
    assert_eq!(d["backchannel_logout_session_supported"], true);
    assert_eq!(d["registration_endpoint"], format!("{iss}/register"));
    assert_eq!(d["end_session_endpoint"], format!("{iss}/end_session"));
    assert_eq!(d["authorization_endpoint"], format!("{iss}/authorize"));
    assert_eq!(d["token_endpoint"], format!("{iss}/token"));
    assert_eq!(d["userinfo_endpoint"], format!("{iss}/userinfo"));
    assert_eq!(d["jwks_uri"], format!("{iss}/jwks"));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    let algs = d["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    for alg in ["RS256", "ES256"] {
        assert!(algs.contains(&json!(alg)), "{alg} not advertised");
    }
    let enc_algs = d["id_token_encryption_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(enc_algs.contains(&json!("ECDH-ES+A256KW")));
    // The JWKS holds public keys only.
    let jwks = op.jwks();
    assert!(!jwks.keys.is_empty());
    assert!(jwks.keys.iter().all(|k| !k.is_private()));
}

/// Story 1: a browser signs in through the HTML form on RP1's behalf; RP1 redeems the code
/// and reads userinfo.
#[test]
fn browser_login_code_flow_id_token_and_userinfo() {
    let op = Op::start();
    let rp1 = op.register(rp1_metadata());

    let req = AuthRequest::new();
    let (session, back_to) = op.login_with_form(&rp1, &req);
    assert!(
        back_to.starts_with(&format!("{}?", op.endpoint("authorize"))),
        "{back_to}"
    );
    // The browser follows the 303 with its new cookie; RP1 is a third party, so the user is
    // asked first, and allows.
    let r = op.send(
        op.http
            .get(&back_to)
            .header("cookie", format!("{SESSION_COOKIE}={session}")),
    );
    assert!(flow::is_consent_page(&r.text()), "{}", r.text());
    let r = op.consent_if_asked(r, &session, "allow");
    let code = assert_redirected_with_code(&r, &rp1, &req, &op.issuer);

    let tokens = op.tokens(&rp1, &req, &code);
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(id_token.split('.').count(), 3, "a JWS");
    let opened = op.open_id_token(&rp1, &req, id_token);
    assert_eq!(opened.header["alg"], "RS256", "the OIDC default");
    let claims = &opened.claims;
    assert_eq!(claims["email"], EMAIL);
    assert_eq!(claims["name"], NAME);
    assert_eq!(claims["preferred_username"], USER);

    let r = op.userinfo(tokens["access_token"].as_str().unwrap());
    assert_eq!(r.status, 200, "{}", r.text());
    let info = r.json();
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["email"], EMAIL);
    assert_eq!(info["name"], NAME);
}

/// Story 2: one session, several relying parties. Each RP's `sid` is its own and stable; a
/// new session gives new sids; an RP that registered encryption gets a JWE.
#[test]
fn one_session_gives_each_rp_its_own_stable_sid() {
    let op = Op::start();
    let rp1 = op.register(rp1_metadata());
    let rp2 = op.register(json!({
        "redirect_uris": ["http://127.0.0.1:9/rp2/cb?tenant=2"],
        "token_endpoint_auth_method": "none",
        "id_token_signed_response_alg": "ES256",
    }));
    let mut enc_key = Jwk::generate_ec(&OsEntropy).unwrap();
    enc_key.key_use = Some("enc".into());
    let mut rp3 = op.register(json!({
        "redirect_uris": ["https://rp3.example/cb"],
        "token_endpoint_auth_method": "client_secret_post",
        "id_token_encrypted_response_alg": "ECDH-ES+A256KW",
        "id_token_encrypted_response_enc": "A256GCM",
        "jwks": {"keys": [enc_key.to_public().to_value()]},
    }));
    rp3.decrypt = Some((enc_key, KeyMgmtAlg::EcdhEsA256Kw, ContentEnc::A256Gcm));

    let req = AuthRequest::new();
    let (session, back_to) = op.login_with_form(&rp1, &req);
    let r = op.send(
        op.http
            .get(&back_to)
            .header("cookie", format!("{SESSION_COOKIE}={session}")),
    );
    let r = op.consent_if_asked(r, &session, "allow");
    let code = assert_redirected_with_code(&r, &rp1, &req, &op.issuer);
    let tokens = op.tokens(&rp1, &req, &code);
    let c1 = op
        .open_id_token(&rp1, &req, tokens["id_token"].as_str().unwrap())
        .claims;

    // RP2: public client, PKCE, ES256, a redirect URI with a query of its own.
    let (c2, _) = op.sign_in(&rp2, &session);
    assert_eq!(c2["sub"], c1["sub"]);
    assert_ne!(c2["sid"], c1["sid"], "two RPs on one session share a sid");

    // RP1 again on the same session: the same sid.
    let (again, _) = op.sign_in(&rp1, &session);
    assert_eq!(again["sid"], c1["sid"]);

    // RP3: the ID token is a JWE (5 parts) to its key, nesting the signed token.
    let req3 = AuthRequest::new();
    let code3 = op.code(&rp3, &req3, &session);
    let tokens3 = op.tokens(&rp3, &req3, &code3);
    let jwe = tokens3["id_token"].as_str().unwrap();
    assert_eq!(jwe.split('.').count(), 5, "an encrypted ID token");
    let opened = op.open_id_token(&rp3, &req3, jwe);
    let jwe_header = opened.jwe_header.as_ref().expect("a JWE header");
    assert_eq!(jwe_header["alg"], "ECDH-ES+A256KW");
    assert_eq!(jwe_header["enc"], "A256GCM");
    assert_eq!(jwe_header["cty"], "JWT");
    assert_eq!(opened.header["alg"], "RS256");
    let c3 = opened.claims;
    assert_eq!(c3["sub"], c1["sub"]);
    assert!(c3["sid"] != c1["sid"] && c3["sid"] != c2["sid"], "{c3:?}");

    // Another session of the same user: RP1 sees a different sid.
    let other = op.session();
    assert_ne!(other, session);
    let (fresh, _) = op.sign_in(&rp1, &other);
    assert_eq!(fresh["sub"], c1["sub"]);
    assert_ne!(fresh["sid"], c1["sid"], "sid is per session, not per user");
}

#[test]
fn json_authenticate_starts_a_session_and_refuses_a_wrong_password() {
    let op = Op::start();
    let rp = op.register(rp1_metadata());

    let r = op.authenticate(USER, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["tokenId"].as_str().expect("tokenId").to_owned();
    assert_eq!(r.cookie(SESSION_COOKIE).as_deref(), Some(token.as_str()));
    let line = r.set_cookie(SESSION_COOKIE).unwrap();
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Lax") && !line.contains("Secure"),
        "{line}"
    );
    // The session works at the authorization endpoint, with no login form.
    let (claims, _) = op.sign_in(&rp, &token);
    assert_eq!(claims["preferred_username"], USER);

    let r = op.authenticate(USER, "not the password");
    assert_eq!(r.oauth_error(), (401, "access_denied".into()));
    assert!(r.set_cookie(SESSION_COOKIE).is_none());
    let r = op.authenticate("nobody", PASSWORD);
    assert_eq!(r.oauth_error(), (401, "access_denied".into()));
}

#[test]
fn login_form_refuses_a_missing_csrf_cookie_and_a_wrong_password() {
    let op = Op::start();
    let rp = op.register(rp1_metadata());
    let req = AuthRequest::new();
    let page = op.authorize(&rp, &req, None);
    let csrf_cookie = page.cookie(CSRF_COOKIE).expect("the CSRF cookie");
    let form = LoginForm::parse(&page.text());
    let post = |cookie: Option<&str>, password: &str| {
        let mut fields = form.fields.clone();
        fields.push(("username".into(), USER.into()));
        fields.push(("password".into(), password.into()));
        let mut rb = op
            .http
            .post(&form.action)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_params(
                fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            ));
        if let Some(c) = cookie {
            rb = rb.header("cookie", format!("{CSRF_COOKIE}={c}"));
        }
        op.send(rb)
    };

    // No CSRF cookie (a cross-site post): an error page, no session.
    let r = post(None, PASSWORD);
    assert_eq!(r.status, 400);
    assert!(r.header("location").is_none());
    assert!(r.set_cookie(SESSION_COOKIE).is_none());
    // A CSRF cookie that does not match the field.
    let r = post(Some("forged-csrf-value"), PASSWORD);
    assert_eq!(r.status, 400);
    assert!(r.set_cookie(SESSION_COOKIE).is_none());
    // Wrong password: the form again, 401, with a fresh CSRF token and no session.
    let r = post(Some(&csrf_cookie), "wrong");
    assert_eq!(r.status, 401);
    assert!(r.text().contains("Invalid user name or password."));
    assert!(r.set_cookie(SESSION_COOKIE).is_none());
    assert_ne!(r.cookie(CSRF_COOKIE), Some(csrf_cookie));
}

// ---------------------------------------------------------------------------------------------
// Refusals

#[test]
fn token_endpoint_refusals() {
    let op = Op::start();
    let session = op.session();
    let rp = op.register(rp1_metadata());

    // Wrong PKCE verifier; the failed attempt spends the code.
    let req = AuthRequest::new();
    let code = op.code(&rp, &req, &session);
    let wrong = AuthRequest::new().verifier;
    let r = op.exchange(&rp, &code, Some(&wrong));
    assert_eq!(r.oauth_error(), (400, "invalid_grant".into()));
    let r = op.exchange(&rp, &code, Some(&req.verifier));
    assert_eq!(r.oauth_error(), (400, "invalid_grant".into()));

    // A verifier is required once a challenge was sent.
    let code = op.code(&rp, &req, &session);
    let r = op.exchange(&rp, &code, None);
    assert_eq!(r.oauth_error(), (400, "invalid_grant".into()));

    // Code replay: the first redemption succeeds, the second fails.
    let code = op.code(&rp, &req, &session);
    op.tokens(&rp, &req, &code);
    let r = op.exchange(&rp, &code, Some(&req.verifier));
    assert_eq!(r.oauth_error(), (400, "invalid_grant".into()));

    // redirect_uri other than the authorization request's.
    let code = op.code(&rp, &req, &session);
    let r = op.token_request(
        &rp,
        vec![
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://rp1.example/other"),
            ("code_verifier", &req.verifier),
        ],
    );
    assert_eq!(r.oauth_error(), (400, "invalid_grant".into()));

    // Bad client secret: 401 invalid_client with a Basic challenge.
    let code = op.code(&rp, &req, &session);
    let impostor = rp.presenting("client_secret_basic", "not-the-secret-at-all");
    let r = op.exchange(&impostor, &code, Some(&req.verifier));
    assert_eq!(r.oauth_error(), (401, "invalid_client".into()));
    let challenge = r.header("www-authenticate").expect("WWW-Authenticate");
    assert!(challenge.starts_with("Basic"), "{challenge}");
    // The code survived the unauthenticated attempt: the real client still redeems it.
    op.tokens(&rp, &req, &code);

    // The right secret, but in the body from a client registered for Basic.
    let code = op.code(&rp, &req, &session);
    let as_post = rp.presenting("client_secret_post", rp.secret.as_deref().unwrap());
    let r = op.exchange(&as_post, &code, Some(&req.verifier));
    assert_eq!(r.oauth_error(), (401, "invalid_client".into()));

    // Unsupported grant type.
    let r = op.token_request(
        &rp,
        vec![
            ("grant_type", "password"),
            ("username", USER),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(r.oauth_error(), (400, "unsupported_grant_type".into()));

    // Userinfo without, or with a forged, bearer token.
    let r = op.send(op.http.get(op.endpoint("userinfo")));
    assert_eq!(r.oauth_error(), (401, "invalid_token".into()));
    assert!(
        r.header("www-authenticate")
            .is_some_and(|c| c.starts_with("Bearer"))
    );
    let r = op.userinfo("eyJhbGciOiJFUzI1NiJ9.e30.AAAA");
    assert_eq!(r.oauth_error(), (401, "invalid_token".into()));
}

#[test]
fn authorization_endpoint_refusals() {
    let op = Op::start();
    let session = op.session();
    let rp = op.register(rp1_metadata());
    let public = op.register(json!({
        "redirect_uris": ["http://127.0.0.1:8765/cb"],
        "token_endpoint_auth_method": "none",
    }));
    let req = AuthRequest::new();

    // A redirect URI that is not registered: an error page here, never a redirect.
    let evil = Rp {
        redirect: "https://rp1.example/cb/../evil".into(),
        ..rp.clone()
    };
    let r = op.authorize(&evil, &req, Some(&session));
    assert_eq!(r.status, 400);
    assert!(
        r.header("location").is_none(),
        "redirected to an unregistered URI"
    );
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html")
    );
    assert!(r.text().contains("Invalid redirect URI"));
    // An unknown client: the same.
    let ghost = Rp {
        id: "no-such-client".into(),
        ..rp.clone()
    };
    let r = op.authorize(&ghost, &req, Some(&session));
    assert_eq!(r.status, 400);
    assert!(r.header("location").is_none());
    assert!(r.text().contains("Unknown client"));

    // prompt=none without a session: login_required, back to the client with state and iss.
    let mut params = req.params(&rp);
    params.push(("prompt", "none"));
    let r = op.authorize_with(&params, None);
    assert_eq!(r.status, 302);
    let p = r.location_params();
    assert_eq!(p["error"], "login_required");
    assert_eq!(p["state"], req.state);
    assert_eq!(p["iss"], op.issuer);
    assert!(!p.contains_key("code"));
    // prompt=none with a session but no consent yet: consent_required, never a code.
    let r = op.authorize_with(&params, Some(&session));
    assert_eq!(
        r.location_params().get("error").map(String::as_str),
        Some("consent_required")
    );
    assert!(!r.location_params().contains_key("code"));
    // Once the user allowed the client, prompt=none gets a code straight away.
    op.code(&rp, &AuthRequest::new(), &session);
    let r = op.authorize_with(&params, Some(&session));
    assert_redirected_with_code(&r, &rp, &req, &op.issuer);

    // A public client without PKCE.
    let r = op.authorize(&public, &AuthRequest::without_pkce(), Some(&session));
    assert_eq!(r.status, 302);
    assert!(r.location().starts_with("http://127.0.0.1:8765/cb?"));
    assert_eq!(r.location_params()["error"], "invalid_request");
    // PKCE "plain" is refused.
    let plain = AuthRequest::without_pkce();
    let mut params = plain.params(&public);
    params.push(("code_challenge", &req.verifier));
    params.push(("code_challenge_method", "plain"));
    let r = op.authorize_with(&params, Some(&session));
    assert_eq!(r.location_params()["error"], "invalid_request");
    // scope without openid, response_type other than code.
    let params: Vec<(&str, &str)> = req
        .params(&rp)
        .into_iter()
        .map(|(k, v)| if k == "scope" { (k, "email") } else { (k, v) })
        .collect();
    let r = op.authorize_with(&params, Some(&session));
    assert_eq!(r.location_params()["error"], "invalid_scope");
    let params: Vec<(&str, &str)> = req
        .params(&rp)
        .into_iter()
        .map(|(k, v)| {
            if k == "response_type" {
                (k, "token")
            } else {
                (k, v)
            }
        })
        .collect();
    let r = op.authorize_with(&params, Some(&session));
    assert_eq!(r.location_params()["error"], "unsupported_response_type");
}

#[test]
fn registration_refusals_and_rfc7592_management() {
    let op = Op::start();

    // Invalid metadata: a back-channel logout URI with a fragment.
    let r = op.try_register(&json!({
        "redirect_uris": ["https://rp.example/cb"],
        "backchannel_logout_uri": "https://rp.example/bc#frag",
    }));
    assert_eq!(r.oauth_error(), (400, "invalid_client_metadata".into()));
    // Plain http to a host that is not this machine.
    let r = op.try_register(&json!({"redirect_uris": ["http://rp.example/cb"]}));
    assert_eq!(r.oauth_error(), (400, "invalid_redirect_uri".into()));
    // Encryption without a key to encrypt to.
    let r = op.try_register(&json!({
        "redirect_uris": ["https://rp.example/cb"],
        "id_token_encrypted_response_alg": "ECDH-ES",
    }));
    assert_eq!(r.oauth_error(), (400, "invalid_client_metadata".into()));
    // Not JSON.
    let r = op.send(
        op.http
            .post(op.endpoint("register"))
            .header("content-type", "application/json")
            .body("{not json"),
    );
    assert_eq!(r.oauth_error(), (400, "invalid_request".into()));

    // Oversized body: refused before it is read.
    let big = format!(
        "{{\"redirect_uris\":[\"https://rp.example/cb\"],\"client_name\":\"{}\"}}",
        "x".repeat(100 * 1024)
    );
    assert!(big.len() > MAX_BODY);
    let r = op.send(
        op.http
            .post(op.endpoint("register"))
            .header("content-type", "application/json")
            .body(big),
    );
    assert_eq!(r.oauth_error(), (413, "invalid_request".into()));

    // RFC 7592: read with the registration access token, not with another.
    let rp = op.register(rp1_metadata());
    let other = op.register(rp1_metadata());
    for token in [
        None,
        Some("wrong-token"),
        Some(other.registration_token.as_str()),
    ] {
        let mut rb = op.http.get(&rp.registration_uri);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        let r = op.send(rb);
        assert_eq!(r.oauth_error(), (401, "invalid_token".into()), "{token:?}");
    }
    let r = op.send(
        op.http
            .get(&rp.registration_uri)
            .bearer_auth(&rp.registration_token),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["client_id"], rp.id.as_str());
    assert_eq!(
        v["backchannel_logout_uri"],
        "https://rp1.example/backchannel"
    );
    assert_eq!(v["backchannel_logout_session_required"], true);
    assert!(v.get("client_secret").is_none(), "the secret is shown once");

    // Update: new metadata, same client and secret.
    let mut meta = rp1_metadata();
    meta["client_id"] = json!(rp.id);
    meta["redirect_uris"] = json!(["https://rp1.example/cb", "https://rp1.example/cb2"]);
    let r = op.send(
        op.http
            .put(&rp.registration_uri)
            .bearer_auth(&rp.registration_token)
            .json_body(&meta),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["redirect_uris"][1], "https://rp1.example/cb2");
    let session = op.session();
    let (claims, _) = op.sign_in(&rp, &session);
    assert_eq!(claims["aud"], rp.id.as_str());

    // Delete: the client is gone for every purpose.
    let r = op.send(
        op.http
            .delete(&rp.registration_uri)
            .bearer_auth(&rp.registration_token),
    );
    assert_eq!(r.status, 204);
    let r = op.send(
        op.http
            .get(&rp.registration_uri)
            .bearer_auth(&rp.registration_token),
    );
    assert_eq!(r.oauth_error(), (401, "invalid_token".into()));
    let r = op.authorize(&rp, &AuthRequest::new(), Some(&session));
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Unknown client"));
    let r = op.exchange(&rp, "some-code", None);
    assert_eq!(r.oauth_error(), (401, "invalid_client".into()));
    let r = op.admin(
        Method::GET,
        &format!("/admin/realms/{REALM}/clients/{}", rp.id),
        json!({}),
    );
    assert_eq!(r.oauth_error(), (404, "not_found".into()));
}

#[test]
fn unknown_realm_and_admin_without_a_valid_token() {
    let op = Op::start();

    for path in [
        "/realms/nope/.well-known/openid-configuration",
        "/realms/nope/jwks",
        "/realms/NOT~VALID/.well-known/openid-configuration",
    ] {
        let r = op.send(op.http.get(op.url(path)));
        assert_eq!(r.oauth_error(), (404, "not_found".into()), "{path}");
    }
    let r = op.send(
        op.http
            .post(op.url("/realms/nope/register"))
            .json_body(&json!({})),
    );
    assert_eq!(r.oauth_error(), (404, "not_found".into()));

    let realm = format!("/admin/realms/{REALM}");
    // No token.
    let r = op.send(op.http.get(op.url(&realm)));
    assert_eq!(r.oauth_error(), (401, "invalid_token".into()));
    assert!(
        r.header("www-authenticate")
            .is_some_and(|c| c.starts_with("Bearer error=\"invalid_token\""))
    );
    // A wrong token, and a wrong scheme, also for writes.
    let r = op.send(
        op.http
            .get(op.url(&realm))
            .bearer_auth("not-the-admin-token"),
    );
    assert_eq!(r.oauth_error(), (401, "invalid_token".into()));
    let r = op.send(
        op.http
            .put(op.url("/admin/realms/evil"))
            .bearer_auth("not-the-admin-token")
            .json_body(&json!({})),
    );
    assert_eq!(r.oauth_error(), (401, "invalid_token".into()));
    let r = op.send(
        op.http
            .get(op.url(&realm))
            .basic_auth("admin", Some(&op.admin_token)),
    );
    assert_eq!(r.oauth_error(), (401, "invalid_token".into()));
    // Nothing was created by the refused write.
    let r = op.send(op.http.get(op.url("/realms/evil/jwks")));
    assert_eq!(r.oauth_error(), (404, "not_found".into()));
    // The right token works.
    let r = op.admin(Method::GET, &realm, json!({}));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["realm"], REALM);
}
