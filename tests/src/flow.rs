//! The steps of the flows, once for every way of reaching the provider: each step builds core's
//! [`Request`] (paths relative to the provider's base URL) or reads its [`Response`], and a
//! [`Call`] sends it — in process on the in-memory host ([`crate::memory`], core's tests) or
//! over HTTP to a native server or the worker in workerd ([`crate::op`], the end-to-end suites).

use std::collections::BTreeMap;

use oidc_edge_core::http::{Method, Params, Request, Response, encode_params};
use oidc_edge_core::jose::b64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "oidc_edge_session";
/// The sign-in form's CSRF cookie.
pub const CSRF_COOKIE: &str = "oidc_edge_csrf";

/// One way to reach a provider: send a request, read the whole answer.
pub trait Call {
    /// Send `req` (its path relative to the provider's base URL) and read the answer.
    fn call(&self, req: Request) -> Response;
}

/// The body as JSON (`null` when it is not JSON).
pub fn json_of(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

/// The body as text.
pub fn text_of(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// The query parameters of a redirect's `Location`; panics when `r` is not a redirect.
pub fn location_params(r: &Response) -> BTreeMap<String, String> {
    let loc = r.header("location").expect("a redirect");
    query_params(loc)
}

/// The query parameters of `uri`.
pub fn query_params(uri: &str) -> BTreeMap<String, String> {
    let q = uri.split_once('?').map_or("", |(_, q)| q);
    Params::parse(q.as_bytes()).0.into_iter().collect()
}

/// `s` form-urlencoded, as one value.
pub fn urlencode(s: &str) -> String {
    encode_params([("x", s)])
        .trim_start_matches("x=")
        .to_owned()
}

/// A fixed PKCE pair: (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let verifier = "a-verifier-of-at-least-forty-three-characters-0123456789".to_owned();
    let challenge = b64::encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The path of endpoint `name` of `realm`.
pub fn realm_path(realm: &str, name: &str) -> String {
    format!("/realms/{realm}/{name}")
}

/// `POST /authenticate` with JSON credentials: the answer carries `tokenId` and the cookie.
pub fn authenticate_request(realm: &str, user: &str, password: &str) -> Request {
    Request::new(Method::Post, &realm_path(realm, "authenticate"))
        .with_header("content-type", "application/json")
        .with_body(json!({"username": user, "password": password}).to_string())
}

/// What an authorization request asks for, beyond the client.
#[derive(Clone, Copy, Debug)]
pub struct Authorize<'a> {
    /// `scope`.
    pub scope: &'a str,
    /// `state`.
    pub state: &'a str,
    /// `nonce`.
    pub nonce: &'a str,
    /// The session (sent as the cookie), if any.
    pub session: Option<&'a str>,
    /// More of the query, already encoded, starting with `&` (PKCE, `prompt`...).
    pub extra: &'a str,
}

/// `GET /authorize` (response type `code`) for `client_id` with `redirect_uri`.
pub fn authorize_request(
    realm: &str,
    client_id: &str,
    redirect_uri: &str,
    a: &Authorize<'_>,
) -> Request {
    let query = encode_params([
        ("response_type", "code"),
        ("scope", a.scope),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("state", a.state),
        ("nonce", a.nonce),
    ]);
    let req = Request::new(
        Method::Get,
        &format!("{}?{query}{}", realm_path(realm, "authorize"), a.extra),
    );
    match a.session {
        Some(s) => with_session(req, s),
        None => req,
    }
}

/// `req` with the session cookie.
pub fn with_session(req: Request, session: &str) -> Request {
    req.with_header("cookie", &format!("{SESSION_COOKIE}={session}"))
}

/// `POST /token` exchanging `code`: client secret by HTTP Basic when there is one, else
/// `client_id` in the form (a public client, with PKCE's `code_verifier`).
pub fn token_request(
    realm: &str,
    client_id: &str,
    secret: Option<&str>,
    redirect_uri: &str,
    code: &str,
    verifier: Option<&str>,
) -> Request {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    client_request(realm, "token", client_id, secret, form)
}

/// `POST /token` with `grant_type=refresh_token` (and a narrower `scope`, when given).
pub fn refresh_request(
    realm: &str,
    client_id: &str,
    secret: Option<&str>,
    refresh_token: &str,
    scope: Option<&str>,
) -> Request {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    client_request(realm, "token", client_id, secret, form)
}

/// A form `POST` to endpoint `name` (token, revoke, introspect) by a client: its secret by
/// HTTP Basic when it has one, else its `client_id` in the form (a public client).
pub fn client_request<'a>(
    realm: &str,
    name: &str,
    client_id: &'a str,
    secret: Option<&str>,
    mut form: Vec<(&'a str, &'a str)>,
) -> Request {
    let mut req = Request::new(Method::Post, &realm_path(realm, name))
        .with_header("content-type", "application/x-www-form-urlencoded");
    match secret {
        Some(s) => {
            use base64::Engine as _;
            let basic =
                base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{s}"));
            req = req.with_header("authorization", &format!("Basic {basic}"));
        }
        None => form.push(("client_id", client_id)),
    }
    req.with_body(encode_params(form))
}

/// Whether `html` is the provider's consent page.
pub fn is_consent_page(html: &str) -> bool {
    html.contains("name=\"decision\" value=\"allow\"")
}

/// The `name`/`value` pairs of a page's hidden inputs (the provider writes them as
/// `<input type="hidden" name="..." value="...">`, values HTML-escaped).
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<input type=\"hidden\" name=\"").skip(1) {
        let Some((name, rest)) = part.split_once("\" value=\"") else {
            continue;
        };
        let Some((value, _)) = rest.split_once('"') else {
            continue;
        };
        out.push((name.to_owned(), html_unescape(value)));
    }
    out
}

/// Undo the provider's HTML escaping of attribute values.
pub fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The consent page's form posted back with `decision` (`allow` or `deny`), as the user's
/// browser would: its hidden fields and the session cookie.
pub fn consent_request(realm: &str, page_html: &str, session: &str, decision: &str) -> Request {
    let mut fields = hidden_fields(page_html);
    fields.push(("decision".to_owned(), decision.to_owned()));
    form_post(
        with_session(
            Request::new(Method::Post, &realm_path(realm, "consent")),
            session,
        ),
        &fields,
    )
}

/// The sign-in form (`page_html`, the page an authorization request without a session gets)
/// posted back as the user's browser would: its hidden fields (the authorization request and
/// the CSRF token), the credentials, and the form's CSRF cookie.
pub fn login_request(
    realm: &str,
    page_html: &str,
    csrf_cookie: &str,
    user: &str,
    password: &str,
) -> Request {
    let mut fields = hidden_fields(page_html);
    fields.push(("username".to_owned(), user.to_owned()));
    fields.push(("password".to_owned(), password.to_owned()));
    form_post(
        Request::new(Method::Post, &realm_path(realm, "login"))
            .with_header("cookie", &format!("{CSRF_COOKIE}={csrf_cookie}")),
        &fields,
    )
}

/// `req` with `fields` as its form-urlencoded body.
fn form_post(req: Request, fields: &[(String, String)]) -> Request {
    req.with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(encode_params(
            fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ))
}

/// When `r` is the consent page, answer it with `decision`; otherwise `r` itself.
pub fn consent_if_asked(
    c: &(impl Call + ?Sized),
    realm: &str,
    r: Response,
    session: &str,
    decision: &str,
) -> Response {
    if r.status == 200 && is_consent_page(&text_of(&r)) {
        c.call(consent_request(realm, &text_of(&r), session, decision))
    } else {
        r
    }
}
