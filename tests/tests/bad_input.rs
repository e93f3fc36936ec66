//! Bad input, proven: a corpus of malformed and hostile requests against every endpoint, run
//! against the native server and (OIDC_EDGE_TARGET=worker) the worker in workerd.
//!
//! Every case gets the protocol's answer: a 4xx with `{"error", "error_description"}` or an
//! error page, never a 5xx, never a hang; a redirect only for an authorization request whose
//! client and redirect URI are valid, carrying `error=`. A case marked `accepted` is harmless
//! input the protocol accepts (2xx). A case marked `known(...)` is a failure of core being
//! fixed: skipped with a note (run with `OIDC_EDGE_BAD_INPUT_KNOWN=1` to send them, checked
//! as refusals). After the corpus the provider still serves a full login.
//!
//! Requests go over a bare socket ([`oidc_edge_tests::raw`]), byte for byte as the table says:
//! no client library re-encodes a path, drops a duplicate or fixes a length.
//!
//! Below the corpus, natively only: abuse at the socket (oversized heads, a trickling client,
//! garbage bytes, lying lengths, many connections, the connection cap, a body over the limit
//! whose 413 the sender must read).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use oidc_edge::native::server::ServerOptions;
use oidc_edge_core::http::{MAX_BODY, encode_params};
use oidc_edge_core::jose::{JwsAlg, b64};
use oidc_edge_tests::op::{Op, Registered, SESSION_COOKIE, Start};
use oidc_edge_tests::raw::{self, RawRequest, RawResponse};
use oidc_edge_tests::target::{Target, not_applicable};
use oidc_edge_tests::test_options;
use reqwest::Method;
use serde_json::{Value, json};

/// The longest any one request may take to be answered.
const PER_REQUEST: Duration = Duration::from_secs(5);
/// A realm with the defaults (private URIs refused), for settings that must not stick.
const SCRATCH: &str = "scratch";
/// Set to 1 to send the `known(...)` cases too (checked as refusals).
const KNOWN_VAR: &str = "OIDC_EDGE_BAD_INPUT_KNOWN";
/// Where the corpus's client is sent back to.
const REDIRECT: &str = "https://rp.corpus.example/cb";
const POST_LOGOUT: &str = "https://rp.corpus.example/bye";
/// The client id and the user name the admin cases try to create (and must not).
const NEW_CLIENT: &str = "corpus-client";
const NEW_USER: &str = "corpus-user";

// ---------------------------------------------------------------------------------------------
// The table

/// What a case must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// A 4xx: the OAuth error JSON or an error page.
    Refused,
    /// A redirect to the client's registered redirect URI with `error=`.
    ErrorRedirect,
    /// A 2xx: harmless input the protocol accepts.
    Accepted,
    /// Should be refused; core does not yet (the reason). Skipped unless [`KNOWN_VAR`] is set.
    Known(&'static str),
}

/// One request of the corpus, named so that a failure says which.
#[derive(Clone, Debug)]
struct Case {
    name: String,
    req: RawRequest,
    expect: Expect,
    /// A method token HTTP does not define: workerd answers 501 itself (RFC 9110 §9.1) and
    /// the worker never sees the request; natively core refuses it (405).
    unrecognized_method: bool,
}

impl Case {
    fn new(name: impl Into<String>, method: &str, target: impl AsRef<[u8]>) -> Self {
        Self {
            name: name.into(),
            req: RawRequest {
                method: method.to_owned(),
                target: target.as_ref().to_vec(),
                ..RawRequest::default()
            },
            expect: Expect::Refused,
            unrecognized_method: false,
        }
    }

    fn get(name: impl Into<String>, target: impl AsRef<[u8]>) -> Self {
        Self::new(name, "GET", target)
    }

    fn post(name: impl Into<String>, target: impl AsRef<[u8]>) -> Self {
        Self::new(name, "POST", target)
    }

    fn put(name: impl Into<String>, target: impl AsRef<[u8]>) -> Self {
        Self::new(name, "PUT", target)
    }

    fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.req
            .headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    fn cookie(self, cookie: &str) -> Self {
        self.header("cookie", cookie)
    }

    /// A body as given, with no content type.
    fn raw_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.req.body = body.into();
        self
    }

    fn body(self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.header("content-type", content_type).raw_body(body)
    }

    fn json(self, body: impl Into<Vec<u8>>) -> Self {
        self.body("application/json", body)
    }

    fn form<'a>(self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        self.body(
            "application/x-www-form-urlencoded",
            encode_params(pairs).into_bytes(),
        )
    }

    fn accepted(mut self) -> Self {
        self.expect = Expect::Accepted;
        self
    }

    fn error_redirect(mut self) -> Self {
        self.expect = Expect::ErrorRedirect;
        self
    }

    /// Mark a case core does not refuse yet (none at the moment: every case the corpus sends
    /// is refused as the protocol says); it is then skipped with a note unless
    /// `OIDC_EDGE_BAD_INPUT_KNOWN=1`.
    #[allow(dead_code)]
    fn known(mut self, why: &'static str) -> Self {
        self.expect = Expect::Known(why);
        self
    }
}

/// What the corpus knows of the provider it runs against.
struct Ctx {
    admin: String,
    /// A confidential client (client_secret_basic) registered dynamically.
    rp: Registered,
    /// Its registration access token (RFC 7592).
    rat: String,
    /// A genuine ID token issued to `rp`.
    id_token: String,
}

impl Ctx {
    /// `/realms/{REALM}/{path}`.
    fn realm(&self, path: &str) -> String {
        format!("/realms/{}/{path}", oidc_edge_tests::op::REALM)
    }

    /// `/admin/realms/{path}`.
    fn admin_path(&self, path: &str) -> String {
        format!("/admin/realms/{path}")
    }

    /// `/admin/realms/{REALM}/{path}`.
    fn admin_realm(&self, path: &str) -> String {
        self.admin_path(&format!("{}/{path}", oidc_edge_tests::op::REALM))
    }

    fn basic(&self) -> String {
        basic(&self.rp.id, &self.rp.secret)
    }

    /// A valid authorization request's parameters, `drop` left out and `extra` added.
    fn authz(&self, drop: &[&str], extra: &[(&str, &str)]) -> String {
        let mut p = vec![
            ("response_type", "code"),
            ("client_id", self.rp.id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "st"),
            ("nonce", "nn"),
        ];
        p.retain(|(k, _)| !drop.contains(k));
        p.extend_from_slice(extra);
        encode_params(p)
    }
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

fn q<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    encode_params(pairs)
}

/// `[[[…]]]`, `depth` deep.
fn deep_array(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// `{"a":{"a":…1…}}`, `depth` deep.
fn deep_object(depth: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

// ---------------------------------------------------------------------------------------------
// The families

/// Every endpoint with every method it does not serve.
fn wrong_methods(c: &Ctx) -> Vec<Case> {
    const METHODS: [&str; 10] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO", "get",
    ];
    let realm = |p: &str| c.realm(p);
    let admin = |p: &str| c.admin_realm(p);
    let endpoints: Vec<(&str, String, &[&str], bool)> = vec![
        (
            "discovery",
            realm(".well-known/openid-configuration"),
            &["GET", "HEAD"],
            false,
        ),
        ("jwks", realm("jwks"), &["GET", "HEAD"], false),
        (
            "authorize",
            realm("authorize"),
            &["GET", "HEAD", "POST"],
            false,
        ),
        ("login", realm("login"), &["POST"], false),
        ("consent", realm("consent"), &["POST"], false),
        ("authenticate", realm("authenticate"), &["POST"], false),
        ("token", realm("token"), &["POST"], false),
        ("revoke", realm("revoke"), &["POST"], false),
        ("introspect", realm("introspect"), &["POST"], false),
        (
            "userinfo",
            realm("userinfo"),
            &["GET", "HEAD", "POST"],
            false,
        ),
        ("register", realm("register"), &["POST"], false),
        (
            "register_id",
            realm(&format!("register/{}", c.rp.id)),
            &["GET", "HEAD", "PUT", "DELETE"],
            false,
        ),
        (
            "sessions_logout",
            realm("sessions/logout"),
            &["POST"],
            false,
        ),
        (
            "end_session",
            realm("end_session"),
            &["GET", "HEAD", "POST"],
            false,
        ),
        (
            "admin_realm",
            c.admin_path(oidc_edge_tests::op::REALM),
            &["GET", "HEAD", "PUT", "PATCH", "DELETE"],
            true,
        ),
        ("admin_rotate", admin("keys/rotate"), &["POST"], true),
        (
            "admin_client",
            admin(&format!("clients/{}", c.rp.id)),
            &["GET", "HEAD", "PUT", "DELETE"],
            true,
        ),
        (
            "admin_user",
            admin(&format!("users/{}", oidc_edge_tests::op::USER)),
            &["GET", "HEAD", "PUT", "PATCH", "DELETE"],
            true,
        ),
        (
            "admin_user_sessions",
            admin(&format!("users/{}/sessions", oidc_edge_tests::op::USER)),
            &["GET", "HEAD", "DELETE"],
            true,
        ),
        (
            "admin_grants",
            admin(&format!("users/{}/grants", oidc_edge_tests::op::USER)),
            &["GET", "HEAD", "DELETE"],
            true,
        ),
        ("admin_sessions", admin("sessions"), &["GET", "HEAD"], true),
        (
            "admin_session_id",
            admin("sessions/nosuch"),
            &["DELETE"],
            true,
        ),
        ("admin_audit", admin("audit"), &["GET", "HEAD"], true),
        (
            "admin_deliveries",
            admin("deliveries"),
            &["GET", "HEAD"],
            true,
        ),
    ];
    let mut out = Vec::new();
    for (label, path, allowed, needs_admin) in endpoints {
        // `get` is GET to a Fetch runtime (method names are normalised there): sent only
        // where GET itself is refused.
        for m in METHODS
            .iter()
            .filter(|m| !allowed.contains(&m.to_ascii_uppercase().as_str()))
        {
            let mut case = Case::new(format!("wrong_method/{label}/{m}"), m, &path);
            case.unrecognized_method = matches!(*m, "FOO" | "get");
            if needs_admin {
                case = case.bearer(&c.admin);
            }
            out.push(case);
        }
    }
    out
}

/// Parameters given twice where OAuth says they must not repeat, and headers given twice.
fn duplicated_parameters(c: &Ctx) -> Vec<Case> {
    let mut out = Vec::new();
    let authorize = c.realm("authorize");
    for (name, value) in [("client_id", c.rp.id.as_str()), ("redirect_uri", REDIRECT)] {
        out.push(Case::get(
            format!("duplicate/authorize/{name}"),
            format!("{authorize}?{}", c.authz(&[], &[(name, value)])),
        ));
    }
    for (name, value) in [
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st2"),
        ("nonce", "nn2"),
        ("prompt", "login"),
        ("code_challenge_method", "S256"),
    ] {
        out.push(
            Case::get(
                format!("duplicate/authorize/{name}"),
                format!(
                    "{authorize}?{}",
                    c.authz(&[], &[(name, value), (name, value)])
                ),
            )
            .error_redirect(),
        );
    }
    out.push(
        Case::post("duplicate/authorize_post/nonce", &authorize)
            .body(
                "application/x-www-form-urlencoded",
                c.authz(&[], &[("nonce", "x")]),
            )
            .error_redirect(),
    );
    for endpoint in ["revoke", "introspect"] {
        let path = c.realm(endpoint);
        for name in ["token", "token_type_hint", "client_id"] {
            out.push(
                Case::post(format!("duplicate/{endpoint}/{name}"), &path)
                    .header("authorization", c.basic())
                    .form([
                        ("token", "t"),
                        ("token_type_hint", "access_token"),
                        (name, "x"),
                    ]),
            );
        }
        out.push(
            Case::post(format!("missing/{endpoint}/token"), &path)
                .header("authorization", c.basic())
                .form([("token_type_hint", "access_token")]),
        );
        out.push(Case::post(format!("missing/{endpoint}/client"), &path).form([("token", "t")]));
    }
    let token = c.realm("token");
    for name in ["grant_type", "code", "redirect_uri", "code_verifier"] {
        out.push(
            Case::post(format!("duplicate/token/{name}"), &token)
                .header("authorization", c.basic())
                .form([
                    ("grant_type", "authorization_code"),
                    ("code", "c"),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", "v"),
                    (name, "again"),
                ]),
        );
    }
    out.push(Case::post("duplicate/token/client_id", &token).form([
        ("grant_type", "authorization_code"),
        ("code", "c"),
        ("client_id", c.rp.id.as_str()),
        ("client_id", c.rp.id.as_str()),
        ("client_secret", c.rp.secret.as_str()),
    ]));
    out.push(Case::post("duplicate/token/client_secret", &token).form([
        ("grant_type", "authorization_code"),
        ("code", "c"),
        ("client_id", c.rp.id.as_str()),
        ("client_secret", c.rp.secret.as_str()),
        ("client_secret", "another-secret-of-some-length"),
    ]));
    out.push(
        Case::post("duplicate/token/two_auth_methods", &token)
            .header("authorization", c.basic())
            .form([
                ("grant_type", "authorization_code"),
                ("code", "c"),
                ("client_secret", c.rp.secret.as_str()),
            ]),
    );
    out.push(
        Case::post("duplicate/token/two_authorization_headers", &token)
            .header(
                "authorization",
                basic(&c.rp.id, "wrong-secret-wrong-secret"),
            )
            .header("authorization", c.basic())
            .form([("grant_type", "authorization_code"), ("code", "c")]),
    );
    out.push(
        Case::post("duplicate/token/two_content_types", &token)
            .header("authorization", c.basic())
            .header("content-type", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .raw_body("grant_type=authorization_code&code=c"),
    );
    let end = c.realm("end_session");
    for name in [
        "id_token_hint",
        "client_id",
        "post_logout_redirect_uri",
        "state",
    ] {
        let v = match name {
            "id_token_hint" => c.id_token.as_str(),
            "client_id" => c.rp.id.as_str(),
            "post_logout_redirect_uri" => POST_LOGOUT,
            _ => "s",
        };
        out.push(Case::get(
            format!("duplicate/end_session/{name}"),
            format!("{end}?{}", q([(name, v), (name, v)])),
        ));
        out.push(
            Case::post(format!("duplicate/end_session_post/{name}"), &end)
                .form([(name, v), (name, v)]),
        );
    }
    out.push(
        Case::post(
            "duplicate/authenticate/json_member",
            c.realm("authenticate"),
        )
        .json(format!(
            r#"{{"username":"nobody","username":"{}","password":"x"}}"#,
            oidc_edge_tests::op::USER
        )),
    );
    out.push(
        Case::post("duplicate/register/json_member", c.realm("register"))
            .json(r#"{"redirect_uris":["https://a.example/cb"],"redirect_uris":["https://b.example/cb"]}"#),
    );
    out.push(
        Case::get(
            "duplicate/admin/two_bearers_wrong_first",
            c.admin_realm("sessions"),
        )
        .bearer("wrong-admin-token")
        .bearer(&c.admin),
    );
    out.push(
        Case::get(
            "duplicate/admin/two_bearers_right_first",
            c.admin_realm("sessions"),
        )
        .bearer(&c.admin)
        .bearer("wrong-admin-token"),
    );
    out.push(
        Case::post(
            "duplicate/sessions_logout/two_session_tokens",
            c.realm("sessions/logout"),
        )
        .header("x-session-token", "nosuch-1")
        .header("x-session-token", "nosuch-2"),
    );
    out.push(
        Case::post("duplicate/login/csrf_cookie", c.realm("login"))
            .cookie("oidc_edge_csrf=aaaa; oidc_edge_csrf=bbbb")
            .form([("csrf", "bbbb"), ("username", "alice"), ("password", "x")]),
    );
    out
}

/// Invalid JSON, invalid UTF-8, the wrong shape, 10,000-deep nesting, on every JSON endpoint.
fn malformed_json(c: &Ctx) -> Vec<Case> {
    let endpoints: Vec<(&str, &str, String, Option<String>)> = vec![
        ("authenticate", "POST", c.realm("authenticate"), None),
        ("register", "POST", c.realm("register"), None),
        (
            "register_id",
            "PUT",
            c.realm(&format!("register/{}", c.rp.id)),
            Some(c.rat.clone()),
        ),
        (
            "admin_realm",
            "PUT",
            c.admin_path(SCRATCH),
            Some(c.admin.clone()),
        ),
        (
            "admin_client",
            "PUT",
            c.admin_realm(&format!("clients/{NEW_CLIENT}")),
            Some(c.admin.clone()),
        ),
        (
            "admin_user",
            "PUT",
            c.admin_realm(&format!("users/{NEW_USER}")),
            Some(c.admin.clone()),
        ),
    ];
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("deep_array_10000", deep_array(10_000).into_bytes()),
        ("deep_object_10000", deep_object(10_000).into_bytes()),
        ("deep_array_200", deep_array(200).into_bytes()),
        ("truncated", br#"{"username":"#.to_vec()),
        ("trailing_garbage", b"{} x".to_vec()),
        ("bare_string", br#""x""#.to_vec()),
        ("number", b"1".to_vec()),
        ("null", b"null".to_vec()),
        ("true", b"true".to_vec()),
        (
            "invalid_utf8",
            b"{\"username\":\"\xff\xfe\",\"password\":\"\xc3\"}".to_vec(),
        ),
        ("overlong_utf8", b"{\"a\":\"\xc0\xaf\"}".to_vec()),
        ("bom", b"\xef\xbb\xbf{}".to_vec()),
        ("utf16", b"\xff\xfe{\x00}\x00".to_vec()),
        (
            "lone_surrogate",
            br#"{"username":"\ud800","password":"x"}"#.to_vec(),
        ),
        ("nul_member", br#"{"\u0000":"\u0000"}"#.to_vec()),
        ("huge_number", br#"{"a":1e999999}"#.to_vec()),
        (
            "long_integer",
            format!(r#"{{"a":{}}}"#, "9".repeat(5000)).into_bytes(),
        ),
        ("form_instead", b"username=alice&password=x".to_vec()),
        ("single_quotes", b"{'username':'alice'}".to_vec()),
        ("comment", b"/* */ {}".to_vec()),
    ];
    let mut out = Vec::new();
    for (label, method, path, token) in &endpoints {
        for (body_label, body) in &bodies {
            let mut case =
                Case::new(format!("json/{label}/{body_label}"), method, path).json(body.clone());
            if let Some(t) = token {
                case = case.bearer(t);
            }
            out.push(case);
        }
        // The right JSON under the wrong content type, or none.
        for (ct_label, ct) in [
            ("text_plain", Some("text/plain")),
            ("form_type", Some("application/x-www-form-urlencoded")),
            ("no_type", None),
            ("json_suffix_lookalike", Some("application/jsonx")),
        ] {
            let body =
                br#"{"username":"alice","password":"x","redirect_uris":["https://a.example/cb"]}"#;
            let mut case = Case::new(
                format!("json/{label}/content_type_{ct_label}"),
                method,
                path,
            )
            .raw_body(body.to_vec());
            if let Some(ct) = ct {
                case = case.header("content-type", ct);
            }
            if let Some(t) = token {
                case = case.bearer(t);
            }
            out.push(case);
        }
    }
    // A JSON array where an object is expected: serde reads a struct from a sequence.
    out.push(
        Case::put("json/admin_realm/array_empty", c.admin_path(SCRATCH))
            .bearer(&c.admin)
            .json("[]"),
    );
    out.push(
        Case::put("json/admin_realm/array_values", c.admin_path(SCRATCH))
            .bearer(&c.admin)
            .json("[3600, 60]"),
    );
    out.push(
        Case::put(
            "json/admin_user/array",
            c.admin_realm(&format!("users/{NEW_USER}-array")),
        )
        .bearer(&c.admin)
        .json(r#"["a password of some length", "user@a.example", "A User"]"#),
    );
    out.push(
        Case::post("json/authenticate/array", c.realm("authenticate"))
            .json(json!([oidc_edge_tests::op::USER, oidc_edge_tests::op::PASSWORD]).to_string()),
    );
    out.push(
        Case::post("json/register/array", c.realm("register"))
            .json(r#"[["https://a.example/cb"]]"#),
    );
    out.push(
        Case::put(
            "json/admin_client/array",
            c.admin_realm(&format!("clients/{NEW_CLIENT}")),
        )
        .bearer(&c.admin)
        .json(r#"[["https://a.example/cb"]]"#),
    );
    out
}

/// Bodies at and over the limit, on every endpoint that reads one.
fn oversized(c: &Ctx) -> Vec<Case> {
    let over = vec![b'a'; MAX_BODY + 1];
    let at = vec![b'a'; MAX_BODY];
    let endpoints: Vec<(&str, &str, String, Option<&str>)> = vec![
        ("authorize", "POST", c.realm("authorize"), None),
        ("login", "POST", c.realm("login"), None),
        ("authenticate", "POST", c.realm("authenticate"), None),
        ("token", "POST", c.realm("token"), None),
        ("revoke", "POST", c.realm("revoke"), None),
        ("introspect", "POST", c.realm("introspect"), None),
        ("userinfo", "POST", c.realm("userinfo"), None),
        ("register", "POST", c.realm("register"), None),
        (
            "register_id",
            "PUT",
            c.realm(&format!("register/{}", c.rp.id)),
            Some(c.rat.as_str()),
        ),
        ("sessions_logout", "POST", c.realm("sessions/logout"), None),
        ("end_session", "POST", c.realm("end_session"), None),
        (
            "admin_realm",
            "PUT",
            c.admin_path(SCRATCH),
            Some(c.admin.as_str()),
        ),
        (
            "admin_client",
            "PUT",
            c.admin_realm(&format!("clients/{NEW_CLIENT}")),
            Some(c.admin.as_str()),
        ),
        (
            "admin_user",
            "PUT",
            c.admin_realm(&format!("users/{NEW_USER}")),
            Some(c.admin.as_str()),
        ),
        ("unknown_path", "POST", "/nowhere".to_owned(), None),
    ];
    let mut out = Vec::new();
    for (label, method, path, token) in endpoints {
        let ct = if method == "PUT" || label == "authenticate" || label == "register" {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        let mut big =
            Case::new(format!("oversized/{label}/64KiB+1"), method, &path).body(ct, over.clone());
        let mut chunked = Case::new(format!("oversized/{label}/chunked_64KiB+1"), method, &path)
            .header("content-type", ct)
            .header("transfer-encoding", "chunked")
            .raw_body(chunked_body(&over, 8192));
        let mut limit =
            Case::new(format!("oversized/{label}/at_64KiB"), method, &path).body(ct, at.clone());
        if let Some(t) = token {
            big = big.bearer(t);
            chunked = chunked.bearer(t);
            limit = limit.bearer(t);
        }
        if label == "end_session" {
            // One unknown parameter, ignored: nobody to sign out, the signed-out page.
            limit = limit.accepted();
        }
        out.extend([big, chunked, limit]);
    }
    // Long values inside the limit.
    out.push(
        Case::get(
            "oversized/authorize/state_2000",
            format!(
                "{}?{}",
                c.realm("authorize"),
                c.authz(&["state"], &[("state", &"s".repeat(2000))])
            ),
        )
        .error_redirect(),
    );
    out.push(
        Case::get(
            "oversized/authorize/nonce_2000",
            format!(
                "{}?{}",
                c.realm("authorize"),
                c.authz(&["nonce"], &[("nonce", &"n".repeat(2000))])
            ),
        )
        .error_redirect(),
    );
    out.push(Case::get(
        "oversized/authorize/client_id_10000",
        format!(
            "{}?{}",
            c.realm("authorize"),
            q([
                ("client_id", "c".repeat(10_000).as_str()),
                ("redirect_uri", REDIRECT)
            ])
        ),
    ));
    out.push(
        Case::post("oversized/token/code_10000", c.realm("token"))
            .header("authorization", c.basic())
            .form([
                ("grant_type", "authorization_code"),
                ("code", "c".repeat(10_000).as_str()),
                ("redirect_uri", REDIRECT),
            ]),
    );
    out.push(
        Case::post("oversized/token/basic_20000", c.realm("token"))
            .header("authorization", format!("Basic {}", "Q".repeat(20_000)))
            .form([("grant_type", "authorization_code"), ("code", "c")]),
    );
    out.push(
        Case::post(
            "oversized/authenticate/username_20000",
            c.realm("authenticate"),
        )
        .json(json!({"username": "u".repeat(20_000), "password": "x"}).to_string()),
    );
    out.push(
        Case::post(
            "oversized/authenticate/password_20000",
            c.realm("authenticate"),
        )
        .json(
            json!({"username": oidc_edge_tests::op::USER, "password": "p".repeat(20_000)})
                .to_string(),
        ),
    );
    out.push(
        Case::post(
            "oversized/authenticate/openam_headers_8000",
            c.realm("authenticate"),
        )
        .header("x-openam-username", "u".repeat(8000))
        .header("x-openam-password", "p".repeat(8000)),
    );
    out.push(
        Case::get(
            "oversized/discovery/cookie_8000",
            c.realm(".well-known/openid-configuration"),
        )
        .cookie(&format!("{SESSION_COOKIE}={}", "x".repeat(8000)))
        .accepted(),
    );
    out.push(
        Case::get("oversized/authorize/many_cookies", c.realm("authorize")).cookie(
            &(0..1000)
                .map(|i| format!("c{i}=v"))
                .collect::<Vec<_>>()
                .join("; "),
        ),
    );
    out.push(
        Case::post(
            "oversized/sessions_logout/token_20000",
            c.realm("sessions/logout"),
        )
        .header("x-session-token", "t".repeat(20_000)),
    );
    out.push(
        Case::get("oversized/admin/bearer_20000", c.admin_realm("sessions"))
            .bearer(&"t".repeat(20_000)),
    );
    out.push(
        Case::get(
            "oversized/audit/event_10000",
            format!(
                "{}?{}",
                c.admin_realm("audit"),
                q([("event", "e".repeat(10_000).as_str())])
            ),
        )
        .bearer(&c.admin)
        .accepted(),
    );
    out.push(
        Case::put(
            "oversized/admin_client/1000_redirect_uris",
            c.admin_realm(&format!("clients/{NEW_CLIENT}")),
        )
        .bearer(&c.admin)
        .json(
            json!({"redirect_uris": (0..1000).map(|i| format!("https://a.example/{i}")).collect::<Vec<_>>()})
                .to_string(),
        ),
    );
    out.push(
        Case::post("oversized/register/uri_5000", c.realm("register")).json(
            json!({"redirect_uris": [format!("https://a.example/{}", "x".repeat(5000))]})
                .to_string(),
        ),
    );
    out.push(
        Case::post("oversized/register/client_name_5000", c.realm("register")).json(
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": "n".repeat(5000)})
                .to_string(),
        ),
    );
    out
}

fn chunked_body(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for part in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// JWTs that are not what they claim, with whether they may travel in a header.
fn garbled_jwts(real: &str) -> Vec<(&'static str, String)> {
    let seg = |v: &str| b64::encode(v.as_bytes());
    let mut parts = real.split('.');
    let (h, p, s) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let payload =
        seg(r#"{"iss":"https://op.example","sub":"alice","aud":"x","exp":4102444800,"iat":0}"#);
    let sig = b64::encode([7u8; 64]);
    let with_header = |header: &str| format!("{}.{payload}.{sig}", seg(header));
    let flipped = {
        let mut s = s.to_owned();
        let first = if s.starts_with('A') { "B" } else { "A" };
        s.replace_range(..1, first);
        format!("{h}.{p}.{s}")
    };
    let swapped_payload = {
        let mut claims: Value = serde_json::from_slice(&b64::decode(p).unwrap_or_default())
            .unwrap_or_else(|_| json!({}));
        claims["sub"] = json!("someone-else");
        format!("{h}.{}.{s}", seg(&claims.to_string()))
    };
    vec![
        ("empty", String::new()),
        ("one_segment", seg(r#"{"alg":"RS256"}"#)),
        (
            "two_segments",
            format!("{}.{payload}", seg(r#"{"alg":"RS256"}"#)),
        ),
        ("dots_only", "..".to_owned()),
        ("four_segments", "a.b.c.d".to_owned()),
        (
            "five_segments_jwe_shaped",
            format!(
                "{}.AAAA.AAAA.AAAA.AAAA",
                seg(r#"{"alg":"RSA-OAEP-256","enc":"A128GCM"}"#)
            ),
        ),
        ("not_base64", "!!!.@@@.###".to_owned()),
        ("header_not_json", with_header("not json")),
        ("header_array", with_header("[]")),
        ("header_deep_10000", with_header(&deep_array(10_000))),
        (
            "alg_none",
            format!("{}.{payload}.", seg(r#"{"alg":"none","typ":"JWT"}"#)),
        ),
        ("alg_hs256", with_header(r#"{"alg":"HS256","typ":"JWT"}"#)),
        ("alg_missing", with_header(r#"{"typ":"JWT"}"#)),
        ("alg_number", with_header(r#"{"alg":256}"#)),
        (
            "kid_traversal",
            with_header(r#"{"alg":"RS256","kid":"../../../../etc/passwd"}"#),
        ),
        (
            "kid_huge",
            with_header(&json!({"alg": "RS256", "kid": "k".repeat(8000)}).to_string()),
        ),
        (
            "jku_x5u",
            with_header(
                r#"{"alg":"RS256","jku":"http://127.0.0.1:9/jwks","x5u":"http://127.0.0.1:9/x5u"}"#,
            ),
        ),
        (
            "embedded_jwk",
            with_header(
                r#"{"alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}}"#,
            ),
        ),
        (
            "crit",
            with_header(r#"{"alg":"RS256","crit":["urn:x"],"urn:x":1}"#),
        ),
        ("zip", with_header(r#"{"alg":"RS256","zip":"DEF"}"#)),
        ("signature_flipped", flipped),
        ("payload_swapped", swapped_payload),
        ("signature_stripped", format!("{h}.{p}.")),
        ("padded", format!("{real}==")),
        ("signature_huge", format!("{h}.{p}.{}", "A".repeat(20_000))),
    ]
}

/// Garbled JWTs as ID token hints, access tokens, admin and registration tokens, session
/// tokens, codes and client assertions.
fn garbled_tokens(c: &Ctx) -> Vec<Case> {
    let mut out = Vec::new();
    let end = c.realm("end_session");
    for (label, jwt) in garbled_jwts(&c.id_token) {
        let hint = Case::get(
            format!("jwt/end_session_hint/{label}"),
            format!("{end}?{}", q([("id_token_hint", jwt.as_str())])),
        );
        // An empty hint is an absent one: the signed-out page.
        out.push(if jwt.is_empty() {
            hint.accepted()
        } else {
            hint
        });
        // With a post-logout URI the hint must name the client: refused either way.
        out.push(
            Case::post(format!("jwt/end_session_hint_post/{label}"), &end).form([
                ("id_token_hint", jwt.as_str()),
                ("post_logout_redirect_uri", POST_LOGOUT),
                ("state", "s"),
            ]),
        );
        out.push(
            Case::get(format!("jwt/userinfo_bearer/{label}"), c.realm("userinfo")).bearer(&jwt),
        );
        out.push(
            Case::post(format!("jwt/userinfo_form/{label}"), c.realm("userinfo"))
                .form([("access_token", jwt.as_str())]),
        );
        // Revocation and introspection read any token as "not one of ours": 200, nothing
        // done; an empty one is a missing parameter.
        for endpoint in ["revoke", "introspect"] {
            let case = Case::post(format!("jwt/{endpoint}/{label}"), c.realm(endpoint))
                .header("authorization", c.basic())
                .form([("token", jwt.as_str())]);
            out.push(if jwt.is_empty() {
                case
            } else {
                case.accepted()
            });
        }
        out.push(
            Case::get(
                format!("jwt/admin_bearer/{label}"),
                c.admin_realm("sessions"),
            )
            .bearer(&jwt),
        );
        out.push(
            Case::get(
                format!("jwt/registration_token/{label}"),
                c.realm(&format!("register/{}", c.rp.id)),
            )
            .bearer(&jwt),
        );
        out.push(
            Case::post(
                format!("jwt/session_token/{label}"),
                c.realm("sessions/logout"),
            )
            .header("x-session-token", &jwt),
        );
        out.push(
            Case::post(format!("jwt/client_assertion/{label}"), c.realm("token")).form([
                ("grant_type", "authorization_code"),
                ("code", "c"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", jwt.as_str()),
            ]),
        );
        out.push(
            Case::post(format!("jwt/code/{label}"), c.realm("token"))
                .header("authorization", c.basic())
                .form([
                    ("grant_type", "authorization_code"),
                    ("code", jwt.as_str()),
                    ("redirect_uri", REDIRECT),
                ]),
        );
    }
    // A genuine ID token where an access or registration token belongs.
    out.push(Case::get("jwt/userinfo_bearer/id_token", c.realm("userinfo")).bearer(&c.id_token));
    out.push(Case::get("jwt/admin_bearer/id_token", c.admin_realm("sessions")).bearer(&c.id_token));
    out.push(
        Case::get(
            "jwt/registration_token/id_token",
            c.realm(&format!("register/{}", c.rp.id)),
        )
        .bearer(&c.id_token),
    );
    // A genuine hint without a session: nothing to end, the signed-out page.
    out.push(
        Case::get(
            "jwt/end_session_hint/genuine_without_session",
            format!("{end}?{}", q([("id_token_hint", c.id_token.as_str())])),
        )
        .accepted(),
    );
    out.push(Case::get(
        "jwt/end_session_hint/genuine_with_other_client",
        format!(
            "{end}?{}",
            q([
                ("id_token_hint", c.id_token.as_str()),
                ("client_id", "another-client")
            ])
        ),
    ));
    out
}

/// `.`, `..`, encoded slashes and NULs, long and non-ASCII names in every path parameter.
fn path_traversal(c: &Ctx) -> Vec<Case> {
    let mut out = Vec::new();
    let client_body = json!({"redirect_uris": ["https://a.example/cb"]}).to_string();
    for (label, id) in [
        ("dot", "."),
        ("dotdot", ".."),
        ("encoded_dot", "%2e"),
        ("encoded_dotdot", "%2e%2e"),
    ] {
        out.push(
            Case::put(
                format!("traversal/admin_client_put/{label}"),
                c.admin_path(&format!("{SCRATCH}/clients/{id}")),
            )
            .bearer(&c.admin)
            .json(client_body.clone()),
        );
    }
    for (label, id) in [
        ("encoded_slash", "a%2Fb"),
        ("encoded_dotdot_slash", "%2e%2e%2F%2e%2e%2Fusers%2Falice"),
        ("nul", "a%00b"),
        ("crlf", "a%0d%0ab"),
        ("space", "a%20b"),
        ("invalid_utf8", "%ff%fe"),
        ("non_ascii", "%C3%A9"),
        ("long_200", &"c".repeat(200)),
        ("backslash", "..%5C..%5Cx"),
        ("empty", ""),
    ] {
        out.push(
            Case::put(
                format!("traversal/admin_client_put/{label}"),
                c.admin_path(&format!("{SCRATCH}/clients/{id}")),
            )
            .bearer(&c.admin)
            .json(client_body.clone()),
        );
    }
    let user_body = json!({"password": "a password of some length"}).to_string();
    for (label, name) in [("dot", "."), ("dotdot", ".."), ("encoded_dotdot", "%2e%2e")] {
        out.push(
            Case::put(
                format!("traversal/admin_user_put/{label}"),
                c.admin_path(&format!("{SCRATCH}/users/{name}")),
            )
            .bearer(&c.admin)
            .json(user_body.clone()),
        );
    }
    for (label, name) in [
        ("encoded_slash", "a%2Fb"),
        ("nul", "a%00b"),
        ("crlf", "a%0d%0ab"),
        ("tab", "a%09b"),
        ("invalid_utf8", "%ff"),
        ("long_200", &"u".repeat(200)),
        ("empty", ""),
    ] {
        out.push(
            Case::put(
                format!("traversal/admin_user_put/{label}"),
                c.admin_path(&format!("{SCRATCH}/users/{name}")),
            )
            .bearer(&c.admin)
            .json(user_body.clone()),
        );
    }
    for (label, name) in [
        ("dotdot", ".."),
        ("encoded_dotdot", "%2e%2e"),
        ("upper", "UPPER"),
        ("space", "a%20b"),
        ("nul", "a%00"),
        ("invalid_utf8", "%ff"),
        ("long_65", &"r".repeat(65)),
        ("dots", "a.b"),
        ("non_ascii", "r%C3%A9alm"),
    ] {
        out.push(
            Case::put(
                format!("traversal/admin_realm_put/{label}"),
                c.admin_path(name),
            )
            .bearer(&c.admin)
            .json("{}"),
        );
        out.push(Case::get(
            format!("traversal/realm_discovery/{label}"),
            format!("/realms/{name}/.well-known/openid-configuration"),
        ));
    }
    for (label, id) in [
        ("dotdot", ".."),
        ("encoded_slash", "a%2Fb"),
        ("long_10000", &"s".repeat(10_000)),
        ("invalid_utf8", "%ff"),
        ("nul", "%00"),
    ] {
        // Workers KV refuses keys over 512 bytes: an id that long must be refused before it
        // becomes one.
        let long = |case: Case| case;
        out.push(long(
            Case::new(
                format!("traversal/admin_session_delete/{label}"),
                "DELETE",
                c.admin_realm(&format!("sessions/{id}")),
            )
            .bearer(&c.admin),
        ));
        out.push(long(
            Case::get(
                format!("traversal/register_id/{label}"),
                c.realm(&format!("register/{id}")),
            )
            .bearer(&c.rat),
        ));
        out.push(long(
            Case::get(
                format!("traversal/admin_client_get/{label}"),
                c.admin_realm(&format!("clients/{id}")),
            )
            .bearer(&c.admin),
        ));
        out.push(long(
            Case::new(
                format!("traversal/admin_client_delete/{label}"),
                "DELETE",
                c.admin_realm(&format!("clients/{id}")),
            )
            .bearer(&c.admin),
        ));
    }
    for (label, user) in [
        ("slash", "a/b"),
        ("nul", "a\0b"),
        ("long_200", &"u".repeat(200)),
        ("newline", "a\nb"),
    ] {
        out.push(
            Case::get(
                format!("traversal/admin_sessions_user/{label}"),
                format!("{}?{}", c.admin_realm("sessions"), q([("user", user)])),
            )
            .bearer(&c.admin),
        );
    }
    // Dot segments in the path: natively kept as they are, in a Fetch runtime resolved.
    out.push(Case::get(
        "traversal/path/realm_to_admin",
        format!(
            "{}../../admin/realms/{}",
            c.realm(""),
            oidc_edge_tests::op::REALM
        ),
    ));
    out.push(Case::get(
        "traversal/path/realm_to_admin_encoded",
        format!(
            "{}%2e%2e/%2e%2e/admin/realms/{}",
            c.realm(""),
            oidc_edge_tests::op::REALM
        ),
    ));
    out.push(Case::get(
        "traversal/path/etc_passwd",
        "/realms/../../../../etc/passwd",
    ));
    out.push(Case::get(
        "traversal/path/encoded_slashes",
        "/realms%2Fbc%2Fjwks",
    ));
    out
}

/// Numbers out of range, wrong types and unknown values in settings, metadata and queries.
fn out_of_range(c: &Ctx) -> Vec<Case> {
    let mut out = Vec::new();
    let realm_path = c.admin_path(SCRATCH);
    for (label, body) in [
        ("max_time_negative", r#"{"session_max_time_secs": -1}"#),
        ("max_time_zero", r#"{"session_max_time_secs": 0}"#),
        (
            "max_time_u64_overflow",
            r#"{"session_max_time_secs": 18446744073709551616}"#,
        ),
        (
            "max_time_u64_max",
            r#"{"session_max_time_secs": 18446744073709551615}"#,
        ),
        ("max_time_float", r#"{"session_max_time_secs": 3600.5}"#),
        ("max_time_exponent", r#"{"session_max_time_secs": 1e30}"#),
        ("max_time_string", r#"{"session_max_time_secs": "3600"}"#),
        ("max_time_null", r#"{"session_max_time_secs": null}"#),
        ("max_time_bool", r#"{"session_max_time_secs": true}"#),
        ("idle_below_60", r#"{"session_idle_time_secs": 10}"#),
        (
            "idle_above_max",
            r#"{"session_max_time_secs": 3600, "session_idle_time_secs": 7200}"#,
        ),
        ("access_ttl_zero", r#"{"access_token_ttl_secs": 0}"#),
        (
            "access_ttl_two_days",
            r#"{"access_token_ttl_secs": 172800}"#,
        ),
        ("id_ttl_huge", r#"{"id_token_ttl_secs": 9999999999999}"#),
        ("alg_none", r#"{"id_token_signing_alg": "none"}"#),
        ("alg_hs256", r#"{"id_token_signing_alg": "HS256"}"#),
        ("alg_lower_case", r#"{"id_token_signing_alg": "rs256"}"#),
        ("alg_empty", r#"{"id_token_signing_alg": ""}"#),
        ("registration_bogus", r#"{"registration": "bogus"}"#),
        (
            "registration_token_short",
            r#"{"registration": "token", "registration_token": "short"}"#,
        ),
        (
            "registration_token_number",
            r#"{"registration_token": 1234567890123456789}"#,
        ),
        ("private_uris_string", r#"{"allow_private_uris": "yes"}"#),
        ("logout_wait_too_long", r#"{"logout_wait_ms": 10001}"#),
        ("logout_wait_negative", r#"{"logout_wait_ms": -1}"#),
        ("logout_wait_string", r#"{"logout_wait_ms": "1500"}"#),
        ("unknown_field", r#"{"admin": true}"#),
    ] {
        out.push(
            Case::put(format!("range/realm_settings/{label}"), &realm_path)
                .bearer(&c.admin)
                .json(body),
        );
    }
    let secret = "a-secret-of-sixteen-or-more";
    let client_bodies: Vec<(&str, Value)> = vec![
        ("empty_object", json!({})),
        (
            "redirect_uris_string",
            json!({"redirect_uris": "https://a.example/cb"}),
        ),
        ("redirect_uris_empty", json!({"redirect_uris": []})),
        ("redirect_uris_number", json!({"redirect_uris": [1]})),
        (
            "redirect_uris_null_member",
            json!({"redirect_uris": [null]}),
        ),
        (
            "redirect_javascript",
            json!({"redirect_uris": ["javascript:alert(1)"]}),
        ),
        (
            "redirect_data",
            json!({"redirect_uris": ["data:text/html,<script>alert(1)</script>"]}),
        ),
        (
            "redirect_fragment",
            json!({"redirect_uris": ["https://a.example/cb#f"]}),
        ),
        ("redirect_relative", json!({"redirect_uris": ["/cb"]})),
        (
            "redirect_plain_http",
            json!({"redirect_uris": ["http://a.example/cb"]}),
        ),
        (
            "redirect_userinfo",
            json!({"redirect_uris": ["https://user:pw@a.example/cb"]}),
        ),
        (
            "redirect_21_uris",
            json!({"redirect_uris": (0..21).map(|i| format!("https://a.example/{i}")).collect::<Vec<_>>()}),
        ),
        (
            "post_logout_javascript",
            json!({"redirect_uris": ["https://a.example/cb"], "post_logout_redirect_uris": ["javascript:x"]}),
        ),
        (
            "auth_method_unknown",
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
        ),
        (
            "auth_method_number",
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": 1}),
        ),
        (
            "alg_none",
            json!({"redirect_uris": ["https://a.example/cb"], "id_token_signed_response_alg": "none"}),
        ),
        (
            "alg_hs256",
            json!({"redirect_uris": ["https://a.example/cb"], "id_token_signed_response_alg": "HS256"}),
        ),
        (
            "jwks_uri",
            json!({"redirect_uris": ["https://a.example/cb"], "jwks_uri": "https://a.example/jwks"}),
        ),
        (
            "jwks_string",
            json!({"redirect_uris": ["https://a.example/cb"], "jwks": "keys"}),
        ),
        (
            "jwks_oct_key_for_encryption",
            json!({"redirect_uris": ["https://a.example/cb"], "jwks": {"keys": [{"kty": "oct", "k": "AAAA"}]}, "id_token_encrypted_response_alg": "ECDH-ES"}),
        ),
        (
            "jwks_bad_point",
            json!({"redirect_uris": ["https://a.example/cb"], "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}]}}),
        ),
        (
            "enc_alg_rsa1_5",
            json!({"redirect_uris": ["https://a.example/cb"], "id_token_encrypted_response_alg": "RSA1_5"}),
        ),
        (
            "enc_without_alg",
            json!({"redirect_uris": ["https://a.example/cb"], "id_token_encrypted_response_enc": "A128GCM"}),
        ),
        (
            "enc_without_key",
            json!({"redirect_uris": ["https://a.example/cb"], "id_token_encrypted_response_alg": "ECDH-ES"}),
        ),
        (
            "response_type_token",
            json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
        ),
        (
            "grant_type_password",
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]}),
        ),
        (
            "grant_types_without_code",
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["refresh_token"]}),
        ),
        (
            "backchannel_metadata_ip",
            json!({"redirect_uris": ["https://a.example/cb"], "backchannel_logout_uri": "http://169.254.169.254/latest/meta-data"}),
        ),
        (
            "backchannel_loopback",
            json!({"redirect_uris": ["https://a.example/cb"], "backchannel_logout_uri": "http://127.0.0.1:9/bc"}),
        ),
        (
            "backchannel_hex_loopback",
            json!({"redirect_uris": ["https://a.example/cb"], "backchannel_logout_uri": "http://0x7f.1/bc"}),
        ),
        (
            "backchannel_decimal_loopback",
            json!({"redirect_uris": ["https://a.example/cb"], "backchannel_logout_uri": "http://2130706433/bc"}),
        ),
        (
            "backchannel_octal_loopback",
            json!({"redirect_uris": ["https://a.example/cb"], "backchannel_logout_uri": "http://0177.0.0.1/bc"}),
        ),
        (
            "backchannel_ipv6_loopback",
            json!({"redirect_uris": ["https://a.example/cb"], "backchannel_logout_uri": "http://[::1]/bc"}),
        ),
        (
            "backchannel_file",
            json!({"redirect_uris": ["https://a.example/cb"], "backchannel_logout_uri": "file:///etc/passwd"}),
        ),
        (
            "backchannel_session_required_string",
            json!({"redirect_uris": ["https://a.example/cb"], "backchannel_logout_session_required": "yes"}),
        ),
        (
            "client_name_number",
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": 1}),
        ),
    ];
    for (label, body) in &client_bodies {
        out.push(
            Case::put(
                format!("range/admin_client/{label}"),
                c.admin_path(&format!("{SCRATCH}/clients/{NEW_CLIENT}")),
            )
            .bearer(&c.admin)
            .json(body.to_string()),
        );
    }
    // Dynamic registration in the scratch realm: private back-channel URIs refused there.
    for (label, body) in client_bodies
        .iter()
        .filter(|(l, _)| !l.starts_with("backchannel"))
    {
        out.push(
            Case::post(format!("range/register/{label}"), c.realm("register"))
                .json(body.to_string()),
        );
    }
    for (label, body) in client_bodies
        .iter()
        .filter(|(l, _)| l.starts_with("backchannel"))
    {
        out.push(
            Case::post(
                format!("range/register_scratch/{label}"),
                format!("/realms/{SCRATCH}/register"),
            )
            .json(body.to_string()),
        );
    }
    for (label, body) in client_bodies.iter().take(8) {
        out.push(
            Case::put(
                format!("range/register_id/{label}"),
                c.realm(&format!("register/{}", c.rp.id)),
            )
            .bearer(&c.rat)
            .json(body.to_string()),
        );
    }
    out.push(
        Case::put(
            "range/register_id/other_client_id",
            c.realm(&format!("register/{}", c.rp.id)),
        )
        .bearer(&c.rat)
        .json(json!({"client_id": "someone-else", "redirect_uris": [REDIRECT]}).to_string()),
    );
    for (label, body) in [
        (
            "secret_number",
            json!({"redirect_uris": ["https://a.example/cb"], "client_secret": 12345678901234567890u64}),
        ),
        (
            "secret_array",
            json!({"redirect_uris": ["https://a.example/cb"], "client_secret": [secret]}),
        ),
        (
            "secret_object",
            json!({"redirect_uris": ["https://a.example/cb"], "client_secret": {"value": secret}}),
        ),
        (
            "secret_bool",
            json!({"redirect_uris": ["https://a.example/cb"], "client_secret": true}),
        ),
    ] {
        out.push(
            Case::put(
                format!("range/admin_client/{label}"),
                c.admin_path(&format!("{SCRATCH}/clients/{NEW_CLIENT}")),
            )
            .bearer(&c.admin)
            .json(body.to_string()),
        );
    }
    out.push(
        Case::put(
            "range/admin_client/secret_short",
            c.admin_path(&format!("{SCRATCH}/clients/{NEW_CLIENT}")),
        )
        .bearer(&c.admin)
        .json(
            json!({"redirect_uris": ["https://a.example/cb"], "client_secret": "short"})
                .to_string(),
        ),
    );
    for (label, body) in [
        ("empty_object", json!({})),
        ("password_empty", json!({"password": ""})),
        ("password_2000", json!({"password": "p".repeat(2000)})),
        ("password_number", json!({"password": 12345678})),
        ("password_null_new_user", json!({"password": null})),
        (
            "email_without_at",
            json!({"password": secret, "email": "nobody"}),
        ),
        (
            "email_300",
            json!({"password": secret, "email": format!("{}@a.example", "e".repeat(300))}),
        ),
        (
            "name_300",
            json!({"password": secret, "name": "n".repeat(300)}),
        ),
        (
            "unknown_field",
            json!({"password": secret, "role": "admin"}),
        ),
        ("email_number", json!({"password": secret, "email": 1})),
    ] {
        out.push(
            Case::put(
                format!("range/admin_user/{label}"),
                c.admin_realm(&format!("users/{NEW_USER}")),
            )
            .bearer(&c.admin)
            .json(body.to_string()),
        );
    }
    let audit = c.admin_realm("audit");
    for (label, since, expect) in [
        ("garbage", "yesterday", Expect::Refused),
        ("offset_99_99", "2020-01-01T00:00:00+99:99", Expect::Refused),
        (
            "offset_non_ascii",
            "2020-01-01T00:00:00+\u{20ac}ab",
            Expect::Refused,
        ),
        (
            "offset_non_ascii_2",
            "2020-01-01T00:00:00.5\u{e9}\u{e9}:0",
            Expect::Refused,
        ),
        ("month_13", "2020-13-01T00:00:00Z", Expect::Refused),
        ("hour_24", "2020-01-01T24:00:00Z", Expect::Refused),
        ("february_31", "2020-02-31T00:00:00Z", Expect::Refused),
        ("year_zero", "0000-01-01T00:00:00Z", Expect::Refused),
        ("empty_fraction", "2020-01-01T00:00:00.Z", Expect::Refused),
        ("no_offset", "2020-01-01T00:00:00", Expect::Refused),
        ("unix_seconds", "1577836800", Expect::Refused),
        ("negative", "-1", Expect::Refused),
        (
            "long_fraction",
            "2020-01-01T00:00:00.1234567890123456789012345Z",
            Expect::Accepted,
        ),
        ("leap_second", "2016-12-31T23:59:60Z", Expect::Accepted),
        ("year_9999", "9999-12-31T23:59:59Z", Expect::Accepted),
    ] {
        let mut case = Case::get(
            format!("range/audit_since/{label}"),
            format!("{audit}?{}", q([("since", since)])),
        )
        .bearer(&c.admin);
        case.expect = expect;
        out.push(case);
    }
    out.push(
        Case::get("range/audit_since/empty", format!("{audit}?since="))
            .bearer(&c.admin)
            .accepted(),
    );
    out.push(
        Case::get(
            "range/audit_since/invalid_utf8",
            format!("{audit}?since=%ff%fe"),
        )
        .bearer(&c.admin),
    );
    let deliveries = c.admin_realm("deliveries");
    out.push(
        Case::get(
            "range/deliveries/state_bogus",
            format!("{deliveries}?state=bogus"),
        )
        .bearer(&c.admin),
    );
    out.push(
        Case::get(
            "range/deliveries/state_upper",
            format!("{deliveries}?state=PENDING"),
        )
        .bearer(&c.admin),
    );
    out.push(
        Case::get(
            "range/deliveries/state_dead",
            format!("{deliveries}?state=dead"),
        )
        .bearer(&c.admin)
        .accepted(),
    );
    for (name, query) in [
        ("state_failed", "state=failed"),
        (
            "every_filter",
            "session=x&user=y&client=z&state=delivered&limit=500",
        ),
        ("cursor_unknown", "cursor=ffffffffffffnothing"),
    ] {
        out.push(
            Case::get(
                format!("range/deliveries/{name}"),
                format!("{deliveries}?{query}"),
            )
            .bearer(&c.admin)
            .accepted(),
        );
    }
    for (name, query) in [
        ("cursor_path", "cursor=..%2F..%2Fsession"),
        ("cursor_long", &format!("cursor={}", "a".repeat(200))),
        ("limit_zero", "limit=0"),
        ("limit_huge", "limit=99999999999999999999999"),
        ("limit_text", "limit=ten"),
        ("state_repeated", "state=dead&state=pending"),
        ("client_invalid_utf8", "client=%ff"),
    ] {
        out.push(
            Case::get(
                format!("range/deliveries/{name}"),
                format!("{deliveries}?{query}"),
            )
            .bearer(&c.admin),
        );
    }
    let stats = c.admin_realm("clients/nosuch/deliveries/stats");
    out.push(Case::get("range/delivery_stats/unknown_client", stats.clone()).bearer(&c.admin));
    out.push(
        Case::get(
            "range/delivery_stats/long_client",
            c.admin_realm(&format!("clients/{}/deliveries/stats", "c".repeat(600))),
        )
        .bearer(&c.admin),
    );
    for (name, id) in [
        ("unknown", "ffffffffffffnothing".to_owned()),
        ("dots", "..".to_owned()),
        ("long", "d".repeat(600)),
        ("encoded_slash", "a%2Fb".to_owned()),
    ] {
        out.push(
            Case::post(
                format!("range/delivery_retry/{name}"),
                c.admin_realm(&format!("deliveries/{id}/retry")),
            )
            .bearer(&c.admin),
        );
    }
    out.push(Case::post(
        "admin_auth/delivery_retry_without_token",
        c.admin_realm("deliveries/ffffffffffffnothing/retry"),
    ));
    out.push(
        Case::get(
            "range/sessions/unknown_user",
            format!("{}?user=nobody", c.admin_realm("sessions")),
        )
        .bearer(&c.admin)
        .accepted(),
    );
    out
}

/// The authorization endpoint: refusals shown as a page until client and redirect URI are
/// known good, redirected with `error=` after.
fn authorization_requests(c: &Ctx) -> Vec<Case> {
    let ep = c.realm("authorize");
    let mut out = Vec::new();
    let page =
        |name: &str, query: String| Case::get(format!("authorize/{name}"), format!("{ep}?{query}"));
    out.push(Case::get("authorize/no_parameters", &ep));
    out.push(page("client_id_only", q([("client_id", c.rp.id.as_str())])));
    out.push(page("redirect_uri_only", q([("redirect_uri", REDIRECT)])));
    out.push(page(
        "unknown_client",
        c.authz(&["client_id"], &[("client_id", "nosuch")]),
    ));
    out.push(page(
        "client_id_dotdot",
        c.authz(&["client_id"], &[("client_id", "..")]),
    ));
    out.push(page(
        "client_id_nul",
        c.authz(&["client_id"], &[("client_id", "a\0b")]),
    ));
    for (label, uri) in [
        ("unregistered", "https://evil.example/cb"),
        ("trailing_slash", "https://rp.corpus.example/cb/"),
        ("upper_case_host", "https://RP.corpus.example/cb"),
        ("extra_query", "https://rp.corpus.example/cb?x=1"),
        ("fragment", "https://rp.corpus.example/cb#x"),
        (
            "userinfo_trick",
            "https://rp.corpus.example@evil.example/cb",
        ),
        ("javascript", "javascript:alert(1)"),
        ("empty", ""),
    ] {
        out.push(page(
            &format!("redirect_uri/{label}"),
            c.authz(&["redirect_uri"], &[("redirect_uri", uri)]),
        ));
    }
    out.push(Case::get(
        "authorize/redirect_uri/invalid_utf8",
        format!(
            "{ep}?{}&redirect_uri=%ff%fe",
            c.authz(&["redirect_uri"], &[])
        ),
    ));
    let redirect = |name: &str, query: String| {
        Case::get(format!("authorize/{name}"), format!("{ep}?{query}")).error_redirect()
    };
    out.push(redirect(
        "response_type_missing",
        c.authz(&["response_type"], &[]),
    ));
    out.push(redirect(
        "response_type_token",
        c.authz(&["response_type"], &[("response_type", "token")]),
    ));
    out.push(redirect(
        "response_type_hybrid",
        c.authz(&["response_type"], &[("response_type", "code id_token")]),
    ));
    out.push(redirect("scope_missing", c.authz(&["scope"], &[])));
    out.push(redirect(
        "scope_without_openid",
        c.authz(&["scope"], &[("scope", "profile email")]),
    ));
    out.push(redirect(
        "scope_openid_lookalike",
        c.authz(&["scope"], &[("scope", "openidx")]),
    ));
    out.push(redirect(
        "code_challenge_short",
        c.authz(
            &[],
            &[("code_challenge", "abc"), ("code_challenge_method", "S256")],
        ),
    ));
    out.push(redirect(
        "code_challenge_bad_chars",
        c.authz(
            &[],
            &[
                ("code_challenge", &"+".repeat(43)),
                ("code_challenge_method", "S256"),
            ],
        ),
    ));
    out.push(redirect(
        "code_challenge_plain",
        c.authz(
            &[],
            &[
                ("code_challenge", &"a".repeat(43)),
                ("code_challenge_method", "plain"),
            ],
        ),
    ));
    out.push(redirect(
        "code_challenge_no_method",
        c.authz(&[], &[("code_challenge", &"a".repeat(43))]),
    ));
    out.push(redirect(
        "code_challenge_method_bogus",
        c.authz(
            &[],
            &[
                ("code_challenge", &"a".repeat(43)),
                ("code_challenge_method", "S512"),
            ],
        ),
    ));
    out.push(redirect(
        "code_challenge_method_alone",
        c.authz(&[], &[("code_challenge_method", "S256")]),
    ));
    out.push(redirect(
        "request_object",
        c.authz(&[], &[("request", "eyJhbGciOiJub25lIn0.e30.")]),
    ));
    out.push(redirect(
        "request_uri",
        c.authz(&[], &[("request_uri", "https://evil.example/req")]),
    ));
    out.push(redirect(
        "prompt_none_and_login",
        c.authz(&[], &[("prompt", "none login")]),
    ));
    out.push(redirect(
        "prompt_none_without_session",
        c.authz(&[], &[("prompt", "none")]),
    ));
    out.push(redirect(
        "state_invalid_utf8_and_no_scope",
        format!("{}&state=%ff", c.authz(&["state", "scope"], &[])),
    ));
    // Unknown parameters are ignored (OIDC Core 3.1.2.1): the sign-in form.
    out.push(
        Case::get(
            "authorize/unknown_parameters_ignored",
            format!("{ep}?{}&foo=bar&ui_locales=%00", c.authz(&[], &[])),
        )
        .accepted(),
    );
    // ... and max_age is a non-negative integer (OIDC Core §3.1.2.1).
    for (label, v) in [
        ("negative", "-1"),
        ("fraction", "1.5"),
        ("huge", "99999999999999999999"),
    ] {
        out.push(
            Case::get(
                format!("authorize/max_age_{label}"),
                format!("{ep}?{}&max_age={v}", c.authz(&[], &[])),
            )
            .error_redirect(),
        );
    }
    // POST: the same as a form; anything else refused.
    out.push(
        Case::post("authorize_post/response_type_token", &ep)
            .body(
                "application/x-www-form-urlencoded",
                c.authz(&["response_type"], &[("response_type", "token")]),
            )
            .error_redirect(),
    );
    out.push(Case::post(
        "authorize_post/query_only",
        format!("{ep}?{}", c.authz(&[], &[])),
    ));
    out.push(
        Case::post("authorize_post/json_body", &ep)
            .json(json!({"client_id": c.rp.id, "redirect_uri": REDIRECT}).to_string()),
    );
    out.push(Case::post("authorize_post/unknown_client", &ep).body(
        "application/x-www-form-urlencoded",
        c.authz(&["client_id"], &[("client_id", "nosuch")]),
    ));
    out.push(Case::post("authorize_post/invalid_utf8_form", &ep).body(
        "application/x-www-form-urlencoded",
        b"client_id=\xff\xfe&redirect_uri=\xc0\xaf".to_vec(),
    ));
    out
}

/// The sign-in form's answer, the JSON login, the token endpoint and userinfo.
fn credentials(c: &Ctx) -> Vec<Case> {
    let mut out = Vec::new();
    let login = c.realm("login");
    let user = oidc_edge_tests::op::USER;
    out.push(Case::post("login/no_body", &login));
    out.push(Case::post("login/no_csrf", &login).form([("username", user), ("password", "x")]));
    out.push(
        Case::post("login/csrf_mismatch", &login)
            .cookie("oidc_edge_csrf=aaaa")
            .form([("csrf", "bbbb"), ("username", user), ("password", "x")]),
    );
    out.push(Case::post("login/csrf_without_cookie", &login).form([
        ("csrf", "aaaa"),
        ("username", user),
        ("password", "x"),
    ]));
    out.push(
        Case::post("login/csrf_empty", &login)
            .cookie("oidc_edge_csrf=")
            .form([("csrf", ""), ("username", user), ("password", "x")]),
    );
    let with_csrf = |name: &str, pairs: &[(&str, &str)]| {
        let mut all = vec![("csrf", "cccc")];
        all.extend_from_slice(pairs);
        Case::post(format!("login/{name}"), &login)
            .cookie("oidc_edge_csrf=cccc")
            .form(all)
    };
    out.push(with_csrf("no_credentials", &[]));
    out.push(with_csrf(
        "wrong_password",
        &[("username", user), ("password", "wrong")],
    ));
    out.push(with_csrf(
        "unknown_user",
        &[("username", "nobody"), ("password", "x")],
    ));
    out.push(with_csrf(
        "username_traversal",
        &[("username", "../alice"), ("password", "x")],
    ));
    out.push(with_csrf(
        "username_5000",
        &[("username", &"u".repeat(5000)), ("password", "x")],
    ));
    out.push(with_csrf(
        "password_5000",
        &[("username", user), ("password", &"p".repeat(5000))],
    ));
    out.push(with_csrf(
        "username_nul",
        &[("username", "ali\0ce"), ("password", "x")],
    ));
    out.push(with_csrf(
        "carried_redirect_tampered",
        &[
            ("username", user),
            ("password", "wrong"),
            ("redirect_uri", "https://evil.example/cb"),
        ],
    ));
    out.push(
        Case::post("login/invalid_utf8_form", &login)
            .cookie("oidc_edge_csrf=cccc")
            .body(
                "application/x-www-form-urlencoded",
                b"csrf=cccc&username=\xff\xfe&password=\xc0\xaf".to_vec(),
            ),
    );
    out.push(
        Case::post("login/json_body", &login)
            .cookie("oidc_edge_csrf=cccc")
            .json(json!({"csrf": "cccc", "username": user, "password": "x"}).to_string()),
    );

    let auth = c.realm("authenticate");
    for (label, body) in [
        ("empty_object", json!({})),
        ("password_missing", json!({"username": user})),
        ("username_number", json!({"username": 1, "password": 2})),
        (
            "wrong_password",
            json!({"username": user, "password": "wrong"}),
        ),
        (
            "unknown_user",
            json!({"username": "nobody", "password": "x"}),
        ),
        ("empty_strings", json!({"username": "", "password": ""})),
        (
            "username_slash",
            json!({"username": "a/b", "password": "x"}),
        ),
        (
            "username_control",
            json!({"username": "a\u{7}b", "password": "x"}),
        ),
        (
            "password_2000",
            json!({"username": user, "password": "p".repeat(2000)}),
        ),
        (
            "extra_members_wrong_password",
            json!({"username": user, "password": "wrong", "admin": true}),
        ),
        (
            "nested_credentials",
            json!({"username": {"$ne": null}, "password": {"$ne": null}}),
        ),
    ] {
        out.push(Case::post(format!("authenticate/{label}"), &auth).json(body.to_string()));
    }
    out.push(Case::post("authenticate/no_body", &auth));
    out.push(
        Case::post("authenticate/openam_username_only", &auth).header("x-openam-username", user),
    );
    out.push(
        Case::post("authenticate/openam_wrong_password", &auth)
            .header("x-openam-username", user)
            .header("x-openam-password", "wrong"),
    );
    out.push(
        Case::post("authenticate/openam_empty", &auth)
            .header("x-openam-username", "")
            .header("x-openam-password", ""),
    );

    let token = c.realm("token");
    let with_client = |name: &str, pairs: &[(&str, &str)]| {
        Case::post(format!("token/{name}"), &token)
            .header("authorization", c.basic())
            .form(pairs.iter().copied())
    };
    out.push(with_client("no_grant_type", &[("code", "c")]));
    for grant in [
        "password",
        "client_credentials",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:device_code",
        "implicit",
        "AUTHORIZATION_CODE",
    ] {
        out.push(with_client(
            &format!("grant_type/{grant}"),
            &[
                ("grant_type", grant),
                ("code", "c"),
                ("username", user),
                ("password", "x"),
            ],
        ));
    }
    out.push(with_client(
        "code_missing",
        &[("grant_type", "authorization_code")],
    ));
    // The refresh grant: the token missing, repeated, malformed, unknown, far too long; a
    // scope repeated or unknown.
    let a_token = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let long = "A".repeat(60_000);
    for (name, pairs) in [
        ("refresh/missing", vec![]),
        ("refresh/empty", vec![("refresh_token", "")]),
        (
            "refresh/repeated",
            vec![("refresh_token", a_token), ("refresh_token", a_token)],
        ),
        ("refresh/unknown", vec![("refresh_token", a_token)]),
        ("refresh/short", vec![("refresh_token", "abc")]),
        ("refresh/nul", vec![("refresh_token", "\0")]),
        ("refresh/jwt", vec![("refresh_token", c.id_token.as_str())]),
        ("refresh/long", vec![("refresh_token", long.as_str())]),
        (
            "refresh/scope_repeated",
            vec![
                ("refresh_token", a_token),
                ("scope", "openid"),
                ("scope", "openid"),
            ],
        ),
        (
            "refresh/scope_unknown",
            vec![("refresh_token", a_token), ("scope", "openid admin")],
        ),
        (
            "refresh/scope_empty",
            vec![("refresh_token", a_token), ("scope", " ")],
        ),
    ] {
        let mut form = vec![("grant_type", "refresh_token")];
        form.extend(pairs);
        out.push(with_client(name, &form));
    }
    // A refresh token's shape at revocation and introspection: not one of ours, 200.
    for endpoint in ["revoke", "introspect"] {
        out.push(
            Case::post(format!("refresh/{endpoint}/unknown"), c.realm(endpoint))
                .header("authorization", c.basic())
                .form([("token", a_token), ("token_type_hint", "refresh_token")])
                .accepted(),
        );
    }
    out.push(with_client(
        "code_unknown",
        &[
            ("grant_type", "authorization_code"),
            ("code", "nosuch"),
            ("redirect_uri", REDIRECT),
        ],
    ));
    out.push(with_client(
        "code_nul",
        &[
            ("grant_type", "authorization_code"),
            ("code", "\0"),
            ("redirect_uri", REDIRECT),
        ],
    ));
    out.push(with_client(
        "code_verifier_garbage",
        &[
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("code_verifier", "!!"),
        ],
    ));
    out.push(
        Case::post("token/code_invalid_utf8", &token)
            .header("authorization", c.basic())
            .body(
                "application/x-www-form-urlencoded",
                b"grant_type=authorization_code&code=\xff\xfe%ff".to_vec(),
            ),
    );
    out.push(
        Case::post("token/json_body", &token)
            .header("authorization", c.basic())
            .json(json!({"grant_type": "authorization_code", "code": "c"}).to_string()),
    );
    out.push(
        Case::post("token/no_content_type", &token)
            .header("authorization", c.basic())
            .raw_body("grant_type=authorization_code&code=c"),
    );
    out.push(
        Case::post("token/multipart", &token)
            .header("authorization", c.basic())
            .body(
                "multipart/form-data; boundary=x",
                "--x\r\ncontent-disposition: form-data; name=\"grant_type\"\r\n\r\nauthorization_code\r\n--x--\r\n",
            ),
    );
    out.push(Case::get(
        "token/get_with_query",
        format!(
            "{token}?{}",
            q([("grant_type", "authorization_code"), ("code", "c")])
        ),
    ));
    for (label, auth_header) in [
        ("basic_empty", "Basic".to_owned()),
        ("basic_not_base64", "Basic !!!!".to_owned()),
        ("basic_no_colon", format!("Basic {}", b64_std("nocolon"))),
        ("basic_empty_pair", format!("Basic {}", b64_std(":"))),
        (
            "basic_wrong_secret",
            basic(&c.rp.id, "wrong-secret-of-some-length"),
        ),
        ("basic_unknown_client", basic("nosuch", "x")),
        (
            "basic_invalid_utf8_escapes",
            format!("Basic {}", b64_std("%ff:%fe")),
        ),
        ("basic_dotdot_client", basic("..", "x")),
        ("bearer_admin_token", format!("Bearer {}", c.admin)),
        ("digest", "Digest username=\"x\", realm=\"y\"".to_owned()),
        ("scheme_only", "Basic ".to_owned()),
    ] {
        out.push(
            Case::post(format!("token/client_auth/{label}"), &token)
                .header("authorization", auth_header)
                .form([
                    ("grant_type", "authorization_code"),
                    ("code", "c"),
                    ("redirect_uri", REDIRECT),
                ]),
        );
    }
    out.push(
        Case::post("token/client_auth/none", &token)
            .form([("grant_type", "authorization_code"), ("code", "c")]),
    );
    out.push(
        Case::post("token/client_auth/post_for_basic_client", &token).form([
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("client_id", c.rp.id.as_str()),
            ("client_secret", c.rp.secret.as_str()),
        ]),
    );
    out.push(
        Case::post("token/client_auth/public_claim_for_confidential", &token).form([
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("client_id", c.rp.id.as_str()),
        ]),
    );

    let userinfo = c.realm("userinfo");
    out.push(Case::get("userinfo/no_token", &userinfo));
    out.push(Case::get(
        "userinfo/token_in_query",
        format!("{userinfo}?access_token=abc"),
    ));
    out.push(Case::get("userinfo/basic", &userinfo).header("authorization", c.basic()));
    out.push(Case::get("userinfo/admin_token", &userinfo).bearer(&c.admin));
    out.push(Case::post("userinfo/json_body", &userinfo).json(r#"{"access_token":"abc"}"#));

    let logout = c.realm("sessions/logout");
    out.push(Case::post("sessions_logout/no_token", &logout));
    out.push(
        Case::post("sessions_logout/empty_cookie", &logout).cookie(&format!("{SESSION_COOKIE}=")),
    );
    out.push(
        Case::post("sessions_logout/unknown_cookie", &logout)
            .cookie(&format!("{SESSION_COOKIE}=nosuch")),
    );
    out.push(Case::post("sessions_logout/empty_header", &logout).header("x-session-token", ""));
    out.push(
        Case::post("sessions_logout/session_id_as_token", &logout)
            .header("x-session-token", "0".repeat(64)),
    );
    out
}

fn b64_std(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// RP-initiated logout without a valid pairing of client and post-logout URI.
fn end_session(c: &Ctx) -> Vec<Case> {
    let ep = c.realm("end_session");
    let mut out = Vec::new();
    let get = |name: &str, pairs: &[(&str, &str)]| {
        Case::get(
            format!("end_session/{name}"),
            format!("{ep}?{}", q(pairs.iter().copied())),
        )
    };
    out.push(get(
        "redirect_without_client",
        &[("post_logout_redirect_uri", POST_LOGOUT)],
    ));
    out.push(get(
        "redirect_unregistered",
        &[
            ("client_id", c.rp.id.as_str()),
            ("post_logout_redirect_uri", "https://evil.example/bye"),
        ],
    ));
    out.push(get(
        "redirect_javascript",
        &[
            ("client_id", c.rp.id.as_str()),
            ("post_logout_redirect_uri", "javascript:alert(1)"),
        ],
    ));
    out.push(get(
        "redirect_prefix",
        &[
            ("client_id", c.rp.id.as_str()),
            (
                "post_logout_redirect_uri",
                "https://rp.corpus.example/bye/x",
            ),
        ],
    ));
    out.push(get(
        "redirect_unknown_client",
        &[
            ("client_id", "nosuch"),
            ("post_logout_redirect_uri", POST_LOGOUT),
        ],
    ));
    out.push(get(
        "redirect_dotdot_client",
        &[
            ("client_id", ".."),
            ("post_logout_redirect_uri", POST_LOGOUT),
        ],
    ));
    out.push(get(
        "redirect_client_as_registered_for_redirect_uri",
        &[
            ("client_id", c.rp.id.as_str()),
            ("post_logout_redirect_uri", REDIRECT),
        ],
    ));
    out.push(get(
        "hint_and_client_mismatch",
        &[
            ("id_token_hint", c.id_token.as_str()),
            ("client_id", "nosuch"),
            ("post_logout_redirect_uri", POST_LOGOUT),
        ],
    ));
    out.push(Case::get(
        "end_session/invalid_utf8_redirect",
        format!("{ep}?client_id={}&post_logout_redirect_uri=%ff%fe", c.rp.id),
    ));
    out.push(
        Case::post("end_session/json_body", &ep).json(json!({"client_id": c.rp.id}).to_string()),
    );
    out.push(
        Case::post("end_session/unknown_session_cookie", &ep)
            .cookie(&format!("{SESSION_COOKIE}=nosuch"))
            .form([("post_logout_redirect_uri", POST_LOGOUT)]),
    );
    // No parameters: a logout page (RP-Initiated Logout 1.0 §2 allows it without a hint).
    out.push(get("no_parameters", &[]).accepted());
    out.push(get("only_state", &[("state", "s")]).accepted());
    out
}

/// The admin API's door, and paths nobody serves.
fn admin_and_unknown(c: &Ctx) -> Vec<Case> {
    let mut out = Vec::new();
    let target = c.admin_path(oidc_edge_tests::op::REALM);
    out.push(Case::get("admin_auth/none", &target));
    out.push(Case::get("admin_auth/wrong", &target).bearer("wrong-admin-token"));
    out.push(Case::get("admin_auth/prefix", &target).bearer(&c.admin[..c.admin.len() - 1]));
    out.push(Case::get("admin_auth/suffix", &target).bearer(&format!("{}x", c.admin)));
    out.push(
        Case::get("admin_auth/basic", &target).header("authorization", basic("admin", &c.admin)),
    );
    out.push(
        Case::get("admin_auth/token_as_cookie", &target).cookie(&format!("admin={}", c.admin)),
    );
    out.push(Case::get(
        "admin_auth/token_in_query",
        format!("{target}?access_token={}", c.admin),
    ));
    out.push(Case::get("admin_auth/empty_bearer", &target).header("authorization", "Bearer"));
    out.push(Case::new(
        "admin_auth/delete_realm_without_token",
        "DELETE",
        &target,
    ));
    out.push(Case::post(
        "admin_auth/rotate_without_token",
        c.admin_realm("keys/rotate"),
    ));
    out.push(
        Case::post(
            "admin/rotate_unknown_realm",
            c.admin_path("nosuch/keys/rotate"),
        )
        .bearer(&c.admin),
    );
    out.push(Case::get("admin/unknown_realm", c.admin_path("nosuch")).bearer(&c.admin));
    out.push(
        Case::new(
            "admin/delete_unknown_realm",
            "DELETE",
            c.admin_path("nosuch"),
        )
        .bearer(&c.admin),
    );
    out.push(Case::get("admin/unknown_client", c.admin_realm("clients/nosuch")).bearer(&c.admin));
    out.push(
        Case::new(
            "admin/delete_unknown_user",
            "DELETE",
            c.admin_realm("users/nosuch"),
        )
        .bearer(&c.admin),
    );
    // The listings (the console's): well-formed queries answer, others get their 400.
    for (name, path) in [
        ("clients", c.admin_realm("clients")),
        ("users", c.admin_realm("users")),
        ("realms", "/admin/realms".to_owned()),
        (
            "realms_paged",
            "/admin/realms?limit=1&cursor=zzz".to_owned(),
        ),
    ] {
        out.push(
            Case::get(format!("admin/listing/{name}"), path)
                .bearer(&c.admin)
                .accepted(),
        );
    }
    for (name, query) in [
        ("limit_zero", "limit=0"),
        ("limit_over", "limit=201"),
        ("limit_text", "limit=all"),
        ("limit_repeated", "limit=1&limit=2"),
    ] {
        out.push(
            Case::get(
                format!("range/listing/{name}"),
                format!("{}?{query}", c.admin_realm("users")),
            )
            .bearer(&c.admin),
        );
    }
    out.push(Case::get(
        "admin_auth/realms_listing_without_token",
        "/admin/realms",
    ));
    out.push(Case::get("admin/root", "/admin").bearer(&c.admin));
    out.push(Case::get("admin/root_slash", "/admin/").bearer(&c.admin));
    out.push(
        Case::get(
            "admin/trailing_slash",
            format!("{}/", c.admin_realm("sessions")),
        )
        .bearer(&c.admin),
    );
    out.push(Case::get("admin/unknown_subresource", c.admin_realm("secrets")).bearer(&c.admin));

    for (label, path) in [
        ("root", "/".to_owned()),
        ("realms", "/realms".to_owned()),
        ("realms_slash", "/realms/".to_owned()),
        (
            "realm_root",
            format!("/realms/{}", oidc_edge_tests::op::REALM),
        ),
        ("realm_slash", c.realm("")),
        (
            "unknown_realm",
            "/realms/nosuch/.well-known/openid-configuration".to_owned(),
        ),
        (
            "upper_case",
            format!("/REALMS/{}/jwks", oidc_edge_tests::op::REALM),
        ),
        (
            "double_slash",
            format!("/realms//{}/jwks", oidc_edge_tests::op::REALM),
        ),
        (
            "leading_double_slash",
            format!("//realms/{}/jwks", oidc_edge_tests::op::REALM),
        ),
        ("trailing_slash", format!("{}/", c.realm("jwks"))),
        (
            "discovery_extra",
            c.realm(".well-known/openid-configuration/x"),
        ),
        ("well_known_root", c.realm(".well-known/")),
        (
            "oauth_metadata",
            c.realm(".well-known/oauth-authorization-server"),
        ),
        ("token_suffix", c.realm("token.json")),
        ("matrix_params", c.realm("jwks;jsessionid=x")),
        ("nul_segment", c.realm("jwks%00")),
        ("invalid_utf8_segment", c.realm("%ff")),
        ("favicon", "/favicon.ico".to_owned()),
        ("dotenv", "/.env".to_owned()),
        ("git", "/.git/config".to_owned()),
        ("long_path", format!("/{}", "x/".repeat(4000))),
        ("many_segments", c.realm(&"a/".repeat(2000))),
        ("percent_garbage", "/%zz%".to_owned()),
    ] {
        out.push(Case::get(format!("unknown_path/{label}"), path));
    }
    out.push(Case::post("unknown_path/post_root", "/").json("{}"));
    out.push(Case::new(
        "unknown_path/delete_realm_endpoint",
        "DELETE",
        format!("/realms/{}", oidc_edge_tests::op::REALM),
    ));
    // Harmless oddities the protocol accepts.
    out.push(
        Case::get(
            "accepted/discovery_with_junk_query",
            format!(
                "{}?x=%ff%fe&x=1&%00=%00",
                c.realm(".well-known/openid-configuration")
            ),
        )
        .accepted(),
    );
    out.push(
        Case::get("accepted/jwks_with_junk_headers", c.realm("jwks"))
            .header("accept", "text/html;q=0.1, */*")
            .header("user-agent", "u".repeat(4000))
            .header("x-forwarded-host", "evil.example")
            .header("origin", "https://evil.example")
            .accepted(),
    );
    out.push(
        Case::new(
            "accepted/head_discovery",
            "HEAD",
            c.realm(".well-known/openid-configuration"),
        )
        .accepted(),
    );
    out.push(Case::new("accepted/head_jwks", "HEAD", c.realm("jwks")).accepted());
    out
}

fn corpus(c: &Ctx) -> Vec<Case> {
    let mut all = Vec::new();
    for family in [
        wrong_methods,
        duplicated_parameters,
        malformed_json,
        oversized,
        garbled_tokens,
        path_traversal,
        out_of_range,
        authorization_requests,
        credentials,
        end_session,
        admin_and_unknown,
    ] {
        all.extend(family(c));
    }
    all
}

// ---------------------------------------------------------------------------------------------
// Checking

/// Why `r` is not the answer `case` must get, if it is not.
fn check(case: &Case, r: &RawResponse, target: Target) -> Result<(), String> {
    if case.unrecognized_method && target == Target::Worker && r.status == 501 {
        return Ok(());
    }
    if r.status >= 500 {
        return Err(format!("{} (a server error)", r.status));
    }
    let ct = r
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let head = case.req.method == "HEAD";
    match case.expect {
        Expect::Accepted => {
            if !(200..300).contains(&r.status) {
                return Err(format!(
                    "{} where the input is harmless and accepted (2xx)",
                    r.status
                ));
            }
            return Ok(());
        }
        Expect::ErrorRedirect => {
            if !matches!(r.status, 302 | 303) {
                return Err(format!(
                    "{} where an error redirect to the client was due",
                    r.status
                ));
            }
            let location = r.header("location").unwrap_or_default();
            let Some(query) = location.strip_prefix(&format!("{REDIRECT}?")) else {
                return Err(format!(
                    "redirected to {location:?}, not the registered redirect URI"
                ));
            };
            let params = oidc_edge_core::http::Params::parse(query.as_bytes());
            if params.get("error").is_none() || params.get("code").is_some() {
                return Err(format!(
                    "redirect without error= (or with a code): {location}"
                ));
            }
            return Ok(());
        }
        Expect::Refused | Expect::Known(_) => {}
    }
    if !(400..500).contains(&r.status) {
        let location = r.header("location").unwrap_or_default();
        return Err(format!(
            "{} {location} where a refusal (4xx) was due",
            r.status
        ));
    }
    if ct.starts_with("application/json") {
        if head {
            return Ok(());
        }
        let v: Value = serde_json::from_slice(&r.body)
            .map_err(|e| format!("{} with a body that is not JSON ({e})", r.status))?;
        if !(v["error"].is_string() && v["error_description"].is_string()) {
            return Err(format!(
                "{} without error and error_description: {v}",
                r.status
            ));
        }
        Ok(())
    } else if ct.starts_with("text/html") {
        let body = r.text().to_ascii_lowercase();
        if head || body.starts_with("<!doctype html") {
            Ok(())
        } else {
            Err(format!("{} text/html that is not a page", r.status))
        }
    } else {
        Err(format!(
            "{} with content-type {ct:?}: neither the OAuth error nor an error page: {}",
            r.status,
            raw::cut(&r.text(), 200)
        ))
    }
}

/// How the corpus went.
#[derive(Default)]
struct Tally {
    total: usize,
    accepted: usize,
    refused: usize,
    redirects: usize,
    known: usize,
    slowest: (Duration, String),
    failures: Vec<String>,
    notes: Vec<String>,
}

fn run_corpus(addr: SocketAddr, host: &str, cases: &[Case]) -> Tally {
    let send_known = oidc_edge_tests::required(KNOWN_VAR);
    let mut t = Tally {
        total: cases.len(),
        ..Tally::default()
    };
    for case in cases {
        match case.expect {
            Expect::Accepted => t.accepted += 1,
            Expect::Refused => t.refused += 1,
            Expect::ErrorRedirect => t.redirects += 1,
            Expect::Known(_) => t.known += 1,
        }
        if let Expect::Known(why) = case.expect
            && !send_known
        {
            t.notes.push(format!(
                "known core failure, skipped: {}: {why}\n    {}",
                case.name,
                case.req.summary()
            ));
            continue;
        }
        let outcome = raw::send(addr, host, &case.req, PER_REQUEST)
            .map_err(|f| f.to_string())
            .and_then(|r| {
                if r.elapsed > t.slowest.0 {
                    t.slowest = (r.elapsed, case.name.clone());
                }
                let verdict = check(case, &r, Target::current());
                if let Expect::Known(why) = case.expect {
                    t.notes.push(format!(
                        "known case {} ({why}) got {} {}: {}",
                        case.name,
                        r.status,
                        r.header("content-type").unwrap_or_default(),
                        raw::cut(&r.text(), 200)
                    ));
                }
                verdict
            });
        if let Err(why) = outcome {
            t.failures.push(format!(
                "{}: {why}\n    request: {}",
                case.name,
                case.req.summary()
            ));
        }
    }
    t
}

// ---------------------------------------------------------------------------------------------
// The corpus, on both targets

#[test]
fn every_malformed_or_hostile_request_gets_the_protocols_error_and_a_full_login_still_works() {
    let started = Instant::now();
    let op = Op::start(Start {
        options: test_options(),
        realm_config: json!({}),
    });
    let r = op.admin(
        Method::PUT,
        &format!("/admin/realms/{SCRATCH}"),
        Some(&json!({})),
    );
    assert_eq!(r.status, 201, "scratch realm: {}", r.text());
    let r = op.send(
        op.http
            .post(op.endpoint("register"))
            .header("content-type", "application/json")
            .body(
                json!({"redirect_uris": [REDIRECT], "post_logout_redirect_uris": [POST_LOGOUT], "grant_types": ["authorization_code", "refresh_token"]})
                    .to_string(),
            ),
    );
    assert_eq!(r.status, 201, "register: {}", r.text());
    let v = r.json();
    let rp = Registered {
        id: v["client_id"].as_str().unwrap().to_owned(),
        secret: v["client_secret"].as_str().unwrap().to_owned(),
        redirect: REDIRECT.to_owned(),
        alg: JwsAlg::RS256,
        decrypt: None,
    };
    let rat = v["registration_access_token"].as_str().unwrap().to_owned();
    let session = op.session();
    let (id_token, _) = op.sign_in(&rp, &session);
    let ctx = Ctx {
        admin: op.admin_token.clone(),
        rp,
        rat,
        id_token,
    };

    let cases = corpus(&ctx);
    let mut names = std::collections::HashSet::new();
    for case in &cases {
        assert!(
            names.insert(case.name.as_str()),
            "two cases named {}",
            case.name
        );
    }
    let addr = op.server().addr;
    let host = op.base_url.trim_start_matches("http://").to_owned();
    let corpus_started = Instant::now();
    let t = run_corpus(addr, &host, &cases);
    let corpus_time = corpus_started.elapsed();
    for note in &t.notes {
        eprintln!("{note}");
    }
    println!(
        "bad input corpus: {} cases ({} refused, {} error redirects, {} accepted, {} known core failures) in {:.1} s against {:?}; slowest answer {} ms ({})",
        t.total,
        t.refused,
        t.redirects,
        t.accepted,
        t.known,
        corpus_time.as_secs_f64(),
        Target::current(),
        t.slowest.0.as_millis(),
        t.slowest.1,
    );
    assert!(
        t.total >= 250,
        "the corpus has {} cases; at least 250 wanted",
        t.total
    );

    // Whatever came before, a full login still works: a new client, a password login, the
    // code flow and a validated ID token.
    let r = op.send(op.http.get(op.endpoint(".well-known/openid-configuration")));
    assert_eq!(r.status, 200, "discovery after the corpus: {}", r.text());
    let fresh = op.register(json!({}));
    // The corpus guessed alice's password wrong several times: the account now makes every
    // attempt wait (a 429 with Retry-After). An administrator's password reset clears that.
    let r = op.admin(
        Method::PUT,
        &format!(
            "/admin/realms/{}/users/{}",
            oidc_edge_tests::op::REALM,
            oidc_edge_tests::op::USER
        ),
        Some(&json!({"password": oidc_edge_tests::op::PASSWORD})),
    );
    assert_eq!(r.status, 200, "password reset: {}", r.text());
    let session = op.session();
    let (_, claims) = op.sign_in(&fresh, &session);
    assert_eq!(claims["aud"], fresh.id.as_str());
    // Nothing the corpus tried to create exists.
    let mut failures = t.failures;
    for path in [
        format!(
            "/admin/realms/{}/clients/{NEW_CLIENT}",
            oidc_edge_tests::op::REALM
        ),
        format!(
            "/admin/realms/{}/users/{NEW_USER}",
            oidc_edge_tests::op::REALM
        ),
        format!("/admin/realms/{SCRATCH}/clients/{NEW_CLIENT}"),
        format!("/admin/realms/{SCRATCH}/users/{NEW_USER}"),
        format!(
            "/admin/realms/{}/users/{NEW_USER}-array",
            oidc_edge_tests::op::REALM
        ),
    ] {
        let r = op.admin(Method::GET, &path, None);
        if r.status != 404 {
            failures.push(format!("{path} was created by the corpus: {}", r.text()));
        }
    }

    if !failures.is_empty() {
        let mut msg = format!("{} failures over {} cases:\n", failures.len(), t.total);
        for f in &failures {
            let _ = writeln!(msg, "  {f}");
        }
        panic!("{msg}");
    }
    println!("whole test: {:.1} s", started.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------------
// At the socket, natively (workerd owns its sockets and answers these itself)

/// Whether the test applies; prints why not under the worker.
fn natively() -> bool {
    if Target::is_worker() {
        not_applicable("abuse at the socket: workerd, not this server, reads the bytes there");
        return false;
    }
    true
}

/// A native server with realm `demo`, `read_timeout` and `max_connections` as given.
fn native_server(
    read_timeout: Duration,
    max_connections: usize,
) -> oidc_edge_tests::target::Server {
    oidc_edge_tests::start_server_with(ServerOptions {
        demo: true,
        read_timeout,
        max_connections,
        ..test_options()
    })
}

const DISCOVERY: &str = "/realms/demo/.well-known/openid-configuration";

fn get_discovery(addr: SocketAddr) -> Result<RawResponse, raw::Failure> {
    raw::exchange(
        addr,
        format!("GET {DISCOVERY} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
        false,
        PER_REQUEST,
    )
}

/// The server answers an ordinary request (within [`PER_REQUEST`], or the exchange fails).
fn assert_still_serves(addr: SocketAddr, after: &str) {
    let r = get_discovery(addr).unwrap_or_else(|e| panic!("after {after}: {e}"));
    assert_eq!(r.status, 200, "after {after}: {}", r.text());
}

/// Bytes that are not a request a server should serve: answered with a 4xx, or the connection
/// closed, promptly; never a 5xx, never a hang.
fn assert_refused_or_closed(addr: SocketAddr, label: &str, bytes: &[u8]) -> Option<u16> {
    match raw::exchange(addr, bytes, false, PER_REQUEST) {
        Ok(r) => {
            assert!(
                (400..500).contains(&r.status),
                "{label}: {} {}",
                r.status,
                raw::cut(&r.text(), 200)
            );
            Some(r.status)
        }
        Err(raw::Failure::Closed(..)) => None,
        Err(e) => panic!("{label}: {e}"),
    }
}

#[test]
fn a_request_head_over_64_kib_gets_431_and_the_server_carries_on() {
    if !natively() {
        return;
    }
    let server = native_server(Duration::from_secs(30), 1024);
    let filler = "a".repeat(100_000);
    let r = raw::exchange(
        server.addr,
        format!("GET {DISCOVERY} HTTP/1.1\r\nhost: x\r\nx-filler: {filler}\r\n\r\n").as_bytes(),
        false,
        PER_REQUEST,
    )
    .expect("an answer to a 100 KB header");
    assert_eq!(r.status, 431, "{}", r.text());
    // Many small headers add up the same way.
    let many: String = (0..3000)
        .map(|i| format!("x-h{i}: {}\r\n", "v".repeat(20)))
        .collect();
    let r = raw::exchange(
        server.addr,
        format!("GET {DISCOVERY} HTTP/1.1\r\nhost: x\r\n{many}\r\n").as_bytes(),
        false,
        PER_REQUEST,
    )
    .expect("an answer to 3000 headers");
    assert_eq!(r.status, 431, "{}", r.text());
    // Just under the limit is a request like any other.
    let r = raw::exchange(
        server.addr,
        format!(
            "GET {DISCOVERY} HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-filler: {}\r\n\r\n",
            "a".repeat(60_000)
        )
        .as_bytes(),
        false,
        PER_REQUEST,
    )
    .expect("an answer to a 60 KB header");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_still_serves(server.addr, "oversized heads");
}

#[test]
fn a_request_line_of_100_kb_is_refused() {
    if !natively() {
        return;
    }
    let server = native_server(Duration::from_secs(30), 1024);
    let long = "x".repeat(100_000);
    for (label, line) in [
        ("query", format!("GET {DISCOVERY}?q={long} HTTP/1.1")),
        ("path", format!("GET /{long} HTTP/1.1")),
        ("method", format!("{long} / HTTP/1.1")),
    ] {
        let status = assert_refused_or_closed(
            server.addr,
            label,
            format!("{line}\r\nhost: x\r\n\r\n").as_bytes(),
        );
        assert!(
            matches!(status, Some(400 | 414 | 431)),
            "{label}: {status:?}"
        );
    }
    assert_still_serves(server.addr, "100 KB request lines");
}

#[test]
fn a_slowloris_client_holds_no_worker_and_is_closed_within_the_read_timeout() {
    if !natively() {
        return;
    }
    // Long enough that the requests below are all served while the slow clients still hold
    // their connections, whatever the machine's load.
    let timeout = Duration::from_secs(5);
    let server = native_server(timeout, 1024);
    let started = Instant::now();
    // One header line every 100 ms: never a complete head.
    let mut trickler = TcpStream::connect(server.addr).unwrap();
    trickler
        .write_all(format!("GET {DISCOVERY} HTTP/1.1\r\nhost: x\r\n").as_bytes())
        .unwrap();
    let mut writer = trickler.try_clone().unwrap();
    let trickling = std::thread::spawn(move || {
        for i in 0..200 {
            if writer
                .write_all(format!("x-{i}: y\r\n").as_bytes())
                .is_err()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    // And one that connects and says nothing at all.
    let mut silent = TcpStream::connect(server.addr).unwrap();
    // Meanwhile everyone else is served as usual: while both slow clients hold their
    // connections, not once they are gone.
    for i in 0..10 {
        let r = get_discovery(server.addr).unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(r.status, 200);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !trickling.is_finished(),
        "the trickling client was cut off before the others were served"
    );
    assert!(
        !raw::closed_by(&mut silent, Instant::now() + Duration::from_millis(10)),
        "the silent client was closed before the others were served"
    );
    let bound = started + timeout + Duration::from_secs(3);
    assert!(
        raw::closed_by(&mut trickler, bound),
        "the trickling client was not closed within {:?}",
        bound - started
    );
    assert!(
        raw::closed_by(&mut silent, bound),
        "the silent client was not closed within {:?}",
        bound - started
    );
    assert!(started.elapsed() >= timeout, "closed before its time");
    trickling.join().unwrap();
    assert_still_serves(server.addr, "slow clients");
}

#[test]
fn garbage_bytes_get_a_4xx_or_a_close_and_the_server_carries_on() {
    if !natively() {
        return;
    }
    let server = native_server(Duration::from_secs(2), 1024);
    let mut noise = Vec::with_capacity(4096);
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push(x.to_le_bytes()[0]);
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("random_bytes", noise),
        ("tls_client_hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00\x01\x02\x03".to_vec()),
        ("http2_preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()),
        ("http_9_9", b"GET / HTTP/9.9\r\nhost: x\r\n\r\n".to_vec()),
        ("http_0_9", b"GET /\r\n\r\n".to_vec()),
        ("empty_lines", b"\r\n\r\n\r\n\r\n".to_vec()),
        ("nul_bytes", vec![0u8; 64]),
        ("no_target", b"GET HTTP/1.1\r\nhost: x\r\n\r\n".to_vec()),
        ("header_without_colon", b"GET / HTTP/1.1\r\nhost x\r\n\r\n".to_vec()),
        ("space_before_colon", b"GET / HTTP/1.1\r\nhost : x\r\n\r\n".to_vec()),
        ("obsolete_line_folding", b"GET / HTTP/1.1\r\nhost: x\r\nx-a: b\r\n c\r\n\r\n".to_vec()),
        ("nul_in_header_value", b"GET / HTTP/1.1\r\nhost: x\r\nx-a: b\x00c\r\n\r\n".to_vec()),
        ("cr_in_header_value", b"GET / HTTP/1.1\r\nhost: x\r\nx-a: b\rc\r\n\r\n".to_vec()),
        ("raw_0xff_in_path", b"GET /realms/\xff\xfe HTTP/1.1\r\nhost: x\r\n\r\n".to_vec()),
        ("space_in_path", b"GET /realms/a b HTTP/1.1\r\nhost: x\r\n\r\n".to_vec()),
        ("lower_case_version", b"GET / http/1.1\r\nhost: x\r\n\r\n".to_vec()),
        ("bare_lf", format!("GET {DISCOVERY}/x HTTP/1.1\nhost: x\nconnection: close\n\n").into_bytes()),
        ("connect", b"CONNECT evil.example:443 HTTP/1.1\r\nhost: evil.example:443\r\n\r\n".to_vec()),
        ("options_star", b"OPTIONS * HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_vec()),
        ("upgrade_websocket", format!("GET {DISCOVERY}/x HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n").into_bytes()),
        ("upgrade_h2c", format!("GET {DISCOVERY}/x HTTP/1.1\r\nhost: x\r\nconnection: upgrade, http2-settings\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAAQAAP__\r\n\r\n").into_bytes()),
        ("two_hosts", b"GET /nope HTTP/1.1\r\nhost: a\r\nhost: b\r\nconnection: close\r\n\r\n".to_vec()),
        ("long_method", format!("{} / HTTP/1.1\r\nhost: x\r\n\r\n", "M".repeat(5000)).into_bytes()),
        ("half_a_request_then_close", b"GET / HT".to_vec()),
    ];
    // Each refused or closed within PER_REQUEST (else the exchange fails).
    for (label, bytes) in &cases {
        assert_refused_or_closed(server.addr, label, bytes);
    }
    assert_still_serves(server.addr, "garbage bytes");
}

#[test]
fn http_1_0_without_host_and_absolute_targets_are_served() {
    if !natively() {
        return;
    }
    let server = native_server(Duration::from_secs(30), 1024);
    for (label, request) in [
        (
            "http_1_0_no_host",
            format!("GET {DISCOVERY} HTTP/1.0\r\n\r\n"),
        ),
        (
            "http_1_0_head",
            format!("HEAD {DISCOVERY} HTTP/1.0\r\n\r\n"),
        ),
        (
            "absolute_form_other_authority",
            format!(
                "GET http://evil.example{DISCOVERY} HTTP/1.1\r\nhost: evil.example\r\nconnection: close\r\n\r\n"
            ),
        ),
    ] {
        let r = raw::exchange(
            server.addr,
            request.as_bytes(),
            request.starts_with("HEAD"),
            PER_REQUEST,
        )
        .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(r.status, 200, "{label}: {}", r.text());
        if !request.starts_with("HEAD") {
            // The issuer is the provider's own, whatever authority the request named.
            let doc: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(
                doc["issuer"],
                format!("{}/realms/demo", server.base_url),
                "{label}"
            );
        }
    }
}

#[test]
fn a_body_that_is_not_what_its_length_says_gets_a_4xx_promptly() {
    if !natively() {
        return;
    }
    let timeout = Duration::from_secs(2);
    let server = native_server(timeout, 1024);
    let head = |framing: &str| {
        format!(
            "POST /realms/demo/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\n{framing}\r\n"
        )
    };
    // Shorter than declared, then silence: the body times out (408).
    let started = Instant::now();
    let r = raw::exchange(
        server.addr,
        format!("{}grant_type", head("content-length: 100\r\n")).as_bytes(),
        false,
        timeout + Duration::from_secs(3),
    )
    .expect("an answer to a body that never arrives");
    assert_eq!(r.status, 408, "{}", r.text());
    assert!(started.elapsed() >= timeout, "{:?}", started.elapsed());
    // Shorter than declared, then the end of the stream: refused or closed for that, not left
    // to the read timeout (whose answer is the 408 above).
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(format!("{}grant_type", head("content-length: 100\r\n")).as_bytes())
        .unwrap();
    raw::finish_writing(&s);
    let started = Instant::now();
    match raw::read_response(&mut s, false, started + PER_REQUEST, started) {
        Ok(r) => assert!(
            (400..500).contains(&r.status) && r.status != 408,
            "{} {}",
            r.status,
            r.text()
        ),
        Err(raw::Failure::Closed(..)) => {}
        Err(e) => panic!("a truncated body: {e}"),
    }
    // Longer than declared: the rest is read as the next request and refused.
    let status = assert_refused_or_closed(
        server.addr,
        "longer_than_declared",
        format!(
            "{}grant_type=authorization_code&code=x",
            head("content-length: 5\r\n")
        )
        .as_bytes(),
    );
    assert!(status.is_some(), "the first request is answered");
    for (label, framing, body) in [
        ("length_not_a_number", "content-length: abc\r\n", "x"),
        ("length_negative", "content-length: -1\r\n", "x"),
        ("length_plus_sign", "content-length: +1\r\n", "x"),
        (
            "length_overflow",
            "content-length: 99999999999999999999999\r\n",
            "x",
        ),
        (
            "two_different_lengths",
            "content-length: 1\r\ncontent-length: 2\r\n",
            "xx",
        ),
        ("length_list", "content-length: 1, 2\r\n", "xx"),
        (
            "length_and_chunked",
            "content-length: 3\r\ntransfer-encoding: chunked\r\n",
            "1\r\nx\r\n0\r\n\r\n",
        ),
        (
            "chunked_not_last",
            "transfer-encoding: chunked, gzip\r\n",
            "1\r\nx\r\n0\r\n\r\n",
        ),
        ("unknown_coding", "transfer-encoding: gzip\r\n", "x"),
        (
            "chunk_size_not_hex",
            "transfer-encoding: chunked\r\n",
            "zz\r\nx\r\n0\r\n\r\n",
        ),
        (
            "chunk_size_overflow",
            "transfer-encoding: chunked\r\n",
            "ffffffffffffffffffff\r\nx\r\n0\r\n\r\n",
        ),
        (
            "chunk_shorter_than_size",
            "transfer-encoding: chunked\r\n",
            "10\r\nx\r\n0\r\n\r\n",
        ),
    ] {
        assert_refused_or_closed(
            server.addr,
            label,
            format!("{}{body}", head(framing)).as_bytes(),
        );
    }
    assert_still_serves(server.addr, "lying lengths");
}

#[test]
fn a_body_over_64_kib_gets_its_413_read_by_a_client_that_sends_it_all() {
    if !natively() {
        return;
    }
    let server = native_server(Duration::from_secs(30), 1024);
    let url = server.url("/realms/demo/token");
    let http = oidc_edge_tests::op::http_client();
    for size in [MAX_BODY + 1, 100 * 1024, 1024 * 1024] {
        // reqwest sends the whole body, then reads: it must find the 413 there.
        for round in 0..5 {
            let r = http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(vec![b'a'; size])
                .send()
                .unwrap_or_else(|e| panic!("{size} bytes, round {round}: no answer read: {e}"));
            assert_eq!(r.status(), 413, "{size} bytes");
            assert_eq!(
                r.headers().get("connection").and_then(|v| v.to_str().ok()),
                Some("close")
            );
            let v: Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
            assert_eq!(v["error"], "invalid_request", "{v}");
        }
        // The same with a bare socket, the whole body written before anything is read.
        let mut request = format!(
            "POST /realms/demo/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {size}\r\n\r\n"
        )
        .into_bytes();
        request.extend(std::iter::repeat_n(b'a', size));
        let r = raw::exchange(server.addr, &request, false, PER_REQUEST)
            .unwrap_or_else(|e| panic!("{size} bytes over a socket: {e}"));
        assert_eq!(r.status, 413, "{size} bytes over a socket");
    }
    // Past the drain bound (1 MiB) the server answers at once and reads on only to let the
    // sender finish and see the answer (a bounded lingering close).
    for round in 0..3 {
        let r = http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![b'a'; 16 * 1024 * 1024])
            .send()
            .unwrap_or_else(|e| panic!("16 MiB, round {round}: no answer read: {e:?}"));
        assert_eq!(r.status(), 413, "16 MiB");
    }
    // Chunked, so no length to judge by: found while reading, past the drain bound too.
    let mut request =
        b"POST /realms/demo/token HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..64 {
        request.extend_from_slice(format!("{:x}\r\n", 64 * 1024).as_bytes());
        request.extend(std::iter::repeat_n(b'a', 64 * 1024));
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let r = raw::exchange(server.addr, &request, false, PER_REQUEST)
        .unwrap_or_else(|e| panic!("4 MiB chunked over a socket: {e}"));
    assert_eq!(r.status, 413, "4 MiB chunked over a socket");
    // A client that declares a huge body and sends none has nothing to linger for: answered
    // within PER_REQUEST, not kept waiting for the body.
    let r = raw::exchange(
        server.addr,
        b"POST /realms/demo/token HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000000\r\n\r\n",
        false,
        PER_REQUEST,
    )
    .expect("an answer to a declared gigabyte");
    assert_eq!(r.status, 413);
    assert_still_serves(server.addr, "oversized bodies");
}

#[test]
fn many_connections_at_once_are_all_answered() {
    if !natively() {
        return;
    }
    let server = native_server(Duration::from_secs(30), 1024);
    let n = 300;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
    let addr = server.addr;
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let request =
                    format!("GET {DISCOVERY} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
                let mut s = TcpStream::connect(addr).expect("connect");
                barrier.wait();
                s.write_all(request.as_bytes()).expect("write");
                let started = Instant::now();
                raw::read_response(&mut s, false, started + Duration::from_secs(10), started)
                    .map(|r| r.status)
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let statuses: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let bad: Vec<_> = statuses.iter().filter(|s| !matches!(s, Ok(200))).collect();
    assert!(
        bad.is_empty(),
        "{} of {n} not answered 200: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    assert_still_serves(server.addr, "300 connections at once");
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_slot() {
    if !natively() {
        return;
    }
    let cap = 4;
    let server = native_server(Duration::from_secs(30), cap);
    // `cap` clients that connect and hold their connection open, idle.
    let mut holders: Vec<TcpStream> = (0..cap)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    // Give the server time to accept them all.
    std::thread::sleep(Duration::from_millis(300));
    let mut waiting = TcpStream::connect(server.addr).expect("the kernel queues the connection");
    waiting
        .write_all(
            format!("GET {DISCOVERY} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let started = Instant::now();
    match raw::read_response(
        &mut waiting,
        false,
        started + Duration::from_secs(1),
        started,
    ) {
        Err(raw::Failure::Timeout(got)) => assert!(got.is_empty()),
        Ok(r) => panic!(
            "a connection beyond the cap was served at once: {}",
            r.status
        ),
        Err(e) => panic!("a connection beyond the cap: {e}"),
    }
    // One holder leaves: the waiting request is served.
    drop(holders.pop());
    let started = Instant::now();
    let r = raw::read_response(&mut waiting, false, started + PER_REQUEST, started)
        .expect("served once a slot is free");
    assert_eq!(r.status, 200);
    drop(holders);
    std::thread::sleep(Duration::from_millis(100));
    assert_still_serves(server.addr, "the connection cap");
}
