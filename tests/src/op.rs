//! The provider as the back-channel tests drive it over real HTTP: the admin API, a user's
//! session, the code flow of a confidential client, and the logout triggers.
//!
//! The HTTP client follows no redirects and keeps no cookies: each hop is read and asserted by
//! the caller. The provider runs where `OIDC_EDGE_TARGET` says ([`crate::target`]). The
//! fan-out bench (`benches/fanout.rs`) drives the provider with it too.

use std::fmt;
use std::time::{Duration, Instant};

use oidc_edge::native::server::ServerOptions;
use oidc_edge::native::{NativeClock, OsEntropy};
use oidc_edge_core::host::Clock as _;
use oidc_edge_core::http::{self, Params, Request, Response, encode_params};
use oidc_edge_core::jose::jwe::Decrypter;
use oidc_edge_core::jose::jws::Verifier;
use oidc_edge_core::jose::jwt::{self, Validation};
use oidc_edge_core::jose::{ContentEnc, Jwk, JwkSet, JwsAlg, KeyMgmtAlg};
use oidc_edge_core::opaque_token::random_token;
use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{Value, json};

use crate::flow::{self, Authorize, Call};
use crate::target::Server;

/// The realm every back-channel test works in.
pub const REALM: &str = "bc";
/// Its user.
pub const USER: &str = "alice";
/// Her password.
pub const PASSWORD: &str = "correct horse battery staple";
/// Her email address.
pub const EMAIL: &str = "alice@example.com";
/// Her name.
pub const NAME: &str = "Alice Liddell";
pub use crate::flow::{CSRF_COOKIE, SESSION_COOKIE};

/// A response read in full.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body.
    pub body: Vec<u8>,
}

impl Reply {
    /// Send `rb` and read the answer in full; panics when the provider cannot be reached.
    pub fn read(rb: RequestBuilder) -> Self {
        let resp = rb.send().expect("the request reaches the provider");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().expect("read the body").to_vec();
        Self {
            status,
            headers,
            body,
        }
    }

    /// The answer as core's [`Response`] (headers in order, names lower-case).
    pub fn into_response(self) -> Response {
        let headers = self
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        Response {
            status: self.status,
            headers,
            body: self.body,
        }
    }

    /// Header `name`, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the status and body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} with a non-JSON body ({e}): {}",
                self.status,
                self.text()
            )
        })
    }

    /// The `Set-Cookie` line that sets cookie `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|line| line.starts_with(&format!("{name}=")))
    }

    /// The value cookie `name` is set to by this answer.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookie(name).map(|line| {
            let pair = line.split(';').next().unwrap_or_default();
            pair[name.len() + 1..].to_owned()
        })
    }

    /// The status and `error` of an OAuth error answer, checking its shape on the way:
    /// JSON `{"error", "error_description"}`, never cached.
    pub fn oauth_error(&self) -> (u16, String) {
        let ct = self.header("content-type").unwrap_or_default();
        assert!(
            ct.starts_with("application/json"),
            "{} error with content-type {ct:?}: {}",
            self.status,
            self.text()
        );
        assert_eq!(self.header("cache-control"), Some("no-store"));
        let v = self.json();
        assert!(v["error_description"].is_string(), "{v}");
        (
            self.status,
            v["error"].as_str().expect("an error code").to_owned(),
        )
    }

    /// The `Location` header; panics when there is none.
    pub fn location(&self) -> &str {
        self.header("location")
            .unwrap_or_else(|| panic!("{} without Location: {}", self.status, self.text()))
    }

    /// The query parameter `name` of `Location`, its first value.
    pub fn location_param(&self, name: &str) -> Option<String> {
        let query = self.location().split_once('?').map_or("", |(_, q)| q);
        Params::parse(query.as_bytes()).get(name).map(str::to_owned)
    }

    /// The query parameters of `Location`.
    pub fn location_params(&self) -> std::collections::BTreeMap<String, String> {
        flow::query_params(self.location())
    }
}

/// A registered relying party as it knows itself.
#[derive(Clone, Debug)]
pub struct Registered {
    /// `client_id`.
    pub id: String,
    /// `client_secret` (client_secret_basic).
    pub secret: String,
    /// Its one redirect URI.
    pub redirect: String,
    /// Its ID-token signing algorithm.
    pub alg: JwsAlg,
    /// Its private key, when it registered ID-token encryption.
    pub decrypt: Option<Jwk>,
}

/// How a test starts the provider.
#[derive(Clone, Debug)]
pub struct Start {
    /// The server's options (address, clock, delivery tuning).
    pub options: ServerOptions,
    /// The realm's configuration on top of `{"allow_private_uris": true}`.
    pub realm_config: Value,
}

/// The provider under test: realm [`REALM`] (private back-channel URIs allowed, since the
/// test RPs live on 127.0.0.1) with user [`USER`].
pub struct Op {
    /// The provider this `Op` started, when it started one (dropping it stops it).
    pub server: Option<Server>,
    /// `http://127.0.0.1:{port}`.
    pub base_url: String,
    /// The admin API's bearer token.
    pub admin_token: String,
    /// `{base_url}/realms/{REALM}`.
    pub issuer: String,
    /// The provider's clock, as far as the tests know it.
    pub clock: NativeClock,
    /// A client that follows no redirects.
    pub http: Client,
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Op")
            .field("base_url", &self.base_url)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// A client for the provider: no redirects followed, bounded time per request.
pub fn http_client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("build the HTTP client")
}

impl Call for Op {
    fn call(&self, req: Request) -> Response {
        self.send_request(req).into_response()
    }
}

impl Op {
    /// Start the provider with `start.options` (on the current target), then create the realm
    /// and user.
    pub fn start(start: Start) -> Self {
        let server = Server::start(start.options);
        let mut op = Self::attach(&server.base_url, &server.admin_token, server.clock.clone());
        op.server = Some(server);
        op.create_realm(start.realm_config);
        op
    }

    /// Drive a provider that runs elsewhere (another process); creates nothing.
    pub fn attach(base_url: &str, admin_token: &str, clock: NativeClock) -> Self {
        Self {
            server: None,
            base_url: base_url.to_owned(),
            admin_token: admin_token.to_owned(),
            issuer: format!("{base_url}/realms/{REALM}"),
            clock,
            http: http_client(),
        }
    }

    /// Create realm [`REALM`] with `config` (plus `allow_private_uris`, and no limit on
    /// registrations from one address: every test client registers from loopback) and user
    /// [`USER`].
    pub fn create_realm(&self, config: Value) {
        let mut body = json!({"allow_private_uris": true, "registrations_per_source_per_hour": 0});
        if let (Value::Object(b), Value::Object(c)) = (&mut body, config) {
            b.extend(c);
        }
        let r = self.admin(Method::PUT, &format!("/admin/realms/{REALM}"), Some(&body));
        assert_eq!(r.status, 201, "create realm: {}", r.text());
        let r = self.admin(
            Method::PUT,
            &format!("/admin/realms/{REALM}/users/{USER}"),
            Some(&json!({"password": PASSWORD, "email": EMAIL, "name": NAME})),
        );
        assert_eq!(r.status, 201, "create user: {}", r.text());
    }

    /// The provider this `Op` started; panics for an attached one.
    pub fn server(&self) -> &Server {
        self.server
            .as_ref()
            .expect("a provider started by this Op, not attached")
    }

    /// Move the provider's clock `secs` seconds forward (see [`Server::advance`]).
    pub fn advance(&self, secs: u64) {
        self.server().advance(secs);
    }

    /// Sweep expired sessions now; how many it ended (see [`Server::sweep_now`]).
    pub fn sweep_now(&self) -> usize {
        self.server().sweep_now()
    }

    /// `{base_url}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `{issuer}/{name}`.
    pub fn endpoint(&self, name: &str) -> String {
        format!("{}/{name}", self.issuer)
    }

    /// Send and read in full.
    pub fn send(&self, rb: RequestBuilder) -> Reply {
        Reply::read(rb)
    }

    /// Send one of [`flow`]'s requests (its path relative to [`Op::base_url`]) over HTTP.
    pub fn send_request(&self, req: Request) -> Reply {
        let method = match req.method {
            http::Method::Get => Method::GET,
            http::Method::Post => Method::POST,
            http::Method::Put => Method::PUT,
            http::Method::Delete => Method::DELETE,
            http::Method::Patch => Method::PATCH,
            http::Method::Other => Method::OPTIONS,
        };
        let mut url = self.url(&req.path);
        if !req.query.is_empty() {
            url = format!("{url}?{}", req.query);
        }
        let mut rb = self.http.request(method, url);
        for (name, value) in &req.headers {
            rb = rb.header(name, value);
        }
        self.send(rb.body(req.body))
    }

    /// A call to the admin API, with a JSON body when given.
    pub fn admin(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut rb = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.admin_token);
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        self.send(rb)
    }

    /// `GET` an admin listing (`{"result": [...], "resultCount": n}`) and return `result`.
    pub fn admin_list(&self, path: &str) -> Vec<Value> {
        let r = self.admin(Method::GET, path, None);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        let v = r.json();
        let list = v["result"].as_array().cloned().unwrap_or_default();
        assert_eq!(v["resultCount"], list.len(), "{v}");
        list
    }

    /// Audit events of the realm, oldest first: of one `event` name, at or after `since`
    /// (RFC 3339), when given.
    pub fn audit(&self, event: Option<&str>, since: Option<&str>) -> Vec<Value> {
        let mut q = Vec::new();
        if let Some(e) = event {
            q.push(("event", e));
        }
        if let Some(s) = since {
            q.push(("since", s));
        }
        self.admin_list(&format!("/admin/realms/{REALM}/audit?{}", encode_params(q)))
    }

    /// Poll the audit trail until `done` holds of the events named `event`; panics after
    /// `timeout` with what there is.
    pub fn wait_audit(
        &self,
        event: &str,
        timeout: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        wait(timeout, &format!("audit events {event}"), || {
            let events = self.audit(Some(event), None);
            if done(&events) {
                Ok(events)
            } else {
                Err(events)
            }
        })
    }

    /// The user's live sessions (admin listing).
    pub fn sessions(&self, user: &str) -> Vec<Value> {
        self.admin_list(&format!("/admin/realms/{REALM}/sessions?user={user}"))
    }

    /// Deliveries queued (`pending`) or dead-lettered (`dead`).
    pub fn deliveries(&self, state: &str) -> Vec<Value> {
        self.admin_list(&format!("/admin/realms/{REALM}/deliveries?state={state}"))
    }

    /// Register a confidential client (RFC 7591) with `meta` plus a redirect URI of its own.
    pub fn register(&self, mut meta: Value) -> Registered {
        let redirect = format!(
            "https://rp-{}.example/cb",
            random_token(&OsEntropy).unwrap_or_default()
        );
        meta["redirect_uris"] = json!([redirect]);
        let r = self.send(
            self.http
                .post(self.endpoint("register"))
                .header("content-type", "application/json")
                .body(meta.to_string()),
        );
        assert_eq!(r.status, 201, "register: {}", r.text());
        let v = r.json();
        Registered {
            id: v["client_id"].as_str().expect("client_id").to_owned(),
            secret: v["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_owned(),
            redirect,
            alg: v["id_token_signed_response_alg"]
                .as_str()
                .and_then(|a| a.parse().ok())
                .expect("id_token_signed_response_alg"),
            decrypt: None,
        }
    }

    /// Log [`USER`] in through the JSON endpoint: the session token (the cookie's value).
    pub fn session(&self) -> String {
        let r = self.send_request(flow::authenticate_request(REALM, USER, PASSWORD));
        assert_eq!(r.status, 200, "authenticate: {}", r.text());
        let token = r.json()["tokenId"].as_str().expect("tokenId").to_owned();
        assert_eq!(r.cookie(SESSION_COOKIE).as_deref(), Some(token.as_str()));
        token
    }

    /// `GET /authorize` for `rp` with the session cookie; `state` and `nonce` as given.
    pub fn authorize(&self, rp: &Registered, session: &str, state: &str, nonce: &str) -> Reply {
        let a = Authorize {
            scope: "openid",
            state,
            nonce,
            session: Some(session),
            extra: "",
        };
        self.send_request(flow::authorize_request(REALM, &rp.id, &rp.redirect, &a))
    }

    /// A form `POST` by `rp` (client_secret_basic) to endpoint `name`.
    pub fn client_post(&self, rp: &Registered, name: &str, form: Vec<(&str, &str)>) -> Reply {
        self.send_request(flow::client_request(
            REALM,
            name,
            &rp.id,
            Some(&rp.secret),
            form,
        ))
    }

    /// `grant_type=refresh_token` for `rp`.
    pub fn refresh(&self, rp: &Registered, refresh_token: &str) -> Reply {
        self.send_request(flow::refresh_request(
            REALM,
            &rp.id,
            Some(&rp.secret),
            refresh_token,
            None,
        ))
    }

    /// RFC 7662 introspection of `token` by `rp`: the answer's JSON (after checking it is 200).
    pub fn introspect(&self, rp: &Registered, token: &str) -> Value {
        let r = self.client_post(rp, "introspect", vec![("token", token)]);
        assert_eq!(r.status, 200, "introspect: {}", r.text());
        r.json()
    }

    /// Whether `session` is over: authorization shows the login form instead of a code (or
    /// the consent page, which only a live session gets).
    pub fn shows_login_form(&self, rp: &Registered, session: &str) -> bool {
        let r = self.authorize(rp, session, "s", "n");
        match r.status {
            200 if flow::is_consent_page(&r.text()) => false,
            200 => {
                let html = r.text();
                assert!(
                    html.contains("<form") && html.contains("password"),
                    "{html}"
                );
                true
            }
            302 => {
                assert!(r.location_param("code").is_some(), "{}", r.location());
                false
            }
            s => panic!("authorize answered {s}: {}", r.text()),
        }
    }

    /// The code flow for `rp` on `session`: returns the raw ID token and its validated claims
    /// (decrypted with `rp`'s key, signature by the realm's JWKS, `iss`, `aud`, `nonce`).
    pub fn sign_in(&self, rp: &Registered, session: &str) -> (String, Value) {
        let (tokens, claims) = self.sign_in_for(rp, session, "openid", "");
        (
            tokens["id_token"].as_str().expect("id_token").to_owned(),
            claims,
        )
    }

    /// [`Op::sign_in`] for `scope`, with `extra` in the authorization request (`&prompt=...`):
    /// the token endpoint's whole answer, and the ID token's claims.
    pub fn sign_in_for(
        &self,
        rp: &Registered,
        session: &str,
        scope: &str,
        extra: &str,
    ) -> (Value, Value) {
        let state = random_token(&OsEntropy).expect("entropy");
        let nonce = random_token(&OsEntropy).expect("entropy");
        let a = Authorize {
            scope,
            state: &state,
            nonce: &nonce,
            session: Some(session),
            extra,
        };
        let r = self.send_request(flow::authorize_request(REALM, &rp.id, &rp.redirect, &a));
        let r = self.consent_if_asked(r, session, "allow");
        let tokens = self.redeem(rp, &r, &state, None);
        let claims = self.open_id_token(rp, tokens["id_token"].as_str().expect("id_token"));
        assert_eq!(claims["nonce"], nonce.as_str());
        (tokens, claims)
    }

    /// Sign `user` in through the HTML form of `page` (the sign-in page an authorization
    /// request without a session answered), as the user's browser would: the answer, a 303
    /// back to the authorization endpoint with the session cookie when the password is right.
    pub fn login_with_form(&self, page: &Reply, user: &str, password: &str) -> Reply {
        let csrf = page
            .cookie(CSRF_COOKIE)
            .unwrap_or_else(|| panic!("a sign-in form with a CSRF cookie: {}", page.text()));
        self.send_request(flow::login_request(
            REALM,
            &page.text(),
            &csrf,
            user,
            password,
        ))
    }

    /// `GET` the provider's own URL `location` (a redirect to one of its endpoints) with the
    /// session cookie.
    pub fn follow(&self, location: &str, session: &str) -> Reply {
        let path = location
            .strip_prefix(&self.base_url)
            .unwrap_or_else(|| panic!("{location} is not at {}", self.base_url));
        self.send_request(flow::with_session(
            Request::new(http::Method::Get, path),
            session,
        ))
    }

    /// `GET /end_session` (RP-initiated logout) with `params` and the session cookie.
    pub fn end_session(&self, session: &str, params: &[(&str, &str)]) -> Reply {
        let path = format!(
            "{}?{}",
            flow::realm_path(REALM, "end_session"),
            encode_params(params.iter().copied())
        );
        self.send_request(flow::with_session(
            Request::new(http::Method::Get, &path),
            session,
        ))
    }

    /// The authorization endpoint's answer `r` (a 302 to `rp` with a code and `state`)
    /// redeemed at the token endpoint by `rp` (client_secret_basic, with the PKCE `verifier`
    /// when the request had a challenge): the token endpoint's answer, after checking it is 200.
    pub fn redeem(&self, rp: &Registered, r: &Reply, state: &str, verifier: Option<&str>) -> Value {
        assert_eq!(r.status, 302, "authorize: {}", r.text());
        assert_eq!(r.location_param("state").as_deref(), Some(state));
        let code = r.location_param("code").expect("a code");
        let r = self.send_request(flow::token_request(
            REALM,
            &rp.id,
            Some(&rp.secret),
            &rp.redirect,
            &code,
            verifier,
        ));
        assert_eq!(r.status, 200, "token: {}", r.text());
        r.json()
    }

    /// When `r` is the consent page, answer it with `decision` (`allow` or `deny`) as the
    /// user's browser would (its hidden fields, the session cookie); otherwise `r` itself.
    pub fn consent_if_asked(&self, r: Reply, session: &str, decision: &str) -> Reply {
        if r.status == 200 && flow::is_consent_page(&r.text()) {
            self.send_request(flow::consent_request(REALM, &r.text(), session, decision))
        } else {
            r
        }
    }

    /// The realm's public keys.
    pub fn jwks(&self) -> JwkSet {
        let r = self.send(self.http.get(self.endpoint("jwks")));
        assert_eq!(r.status, 200, "jwks: {}", r.text());
        JwkSet::from_json(&r.text()).expect("a JWKS")
    }

    /// Open and validate an ID token as `rp` must.
    pub fn open_id_token(&self, rp: &Registered, token: &str) -> Value {
        let set = self.jwks();
        let algs = [rp.alg];
        let verifier = Verifier::new(&set, &algs);
        let decrypter = rp
            .decrypt
            .as_ref()
            .map(|k| Decrypter::new(k, &KeyMgmtAlg::ALL, &ContentEnc::ALL));
        let opened = jwt::open(token, &verifier, decrypter.as_ref(), &OsEntropy)
            .unwrap_or_else(|e| panic!("the ID token for {} does not open: {e}", rp.id));
        let mut v = Validation::new(self.clock.now());
        v.issuer = Some(&self.issuer);
        v.audience = Some(&rp.id);
        jwt::validate(&opened.claims, &v).expect("a valid ID token");
        Value::Object(opened.claims)
    }

    /// `POST /sessions/logout` with the session as a cookie (`as_cookie`) or as
    /// `X-Session-Token`; returns the answer's JSON after checking the cookie is cleared.
    pub fn sessions_logout(&self, session: &str, as_cookie: bool) -> Value {
        let rb = self.http.post(self.endpoint("sessions/logout"));
        let rb = if as_cookie {
            rb.header("cookie", format!("{SESSION_COOKIE}={session}"))
        } else {
            rb.header("x-session-token", session)
        };
        let r = self.send(rb);
        assert_eq!(r.status, 200, "sessions/logout: {}", r.text());
        let cleared = r
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|l| l.starts_with(&format!("{SESSION_COOKIE}=;")) && l.contains("Max-Age=0"));
        assert!(cleared, "the session cookie is cleared: {:?}", r.headers);
        r.json()
    }

    /// The admin listing's id of the user's only live session.
    pub fn only_session_id(&self, user: &str) -> String {
        let list = self.sessions(user);
        assert_eq!(list.len(), 1, "{list:?}");
        list[0]["id"].as_str().expect("id").to_owned()
    }
}

/// Poll `attempt` (every 20 ms) until it gives `Ok`; panics after `timeout` with the last
/// `Err` it gave.
pub fn wait<T, E: fmt::Debug>(
    timeout: Duration,
    what: &str,
    mut attempt: impl FnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match attempt() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("waited {timeout:?} for {what}; last seen: {last:#?}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
