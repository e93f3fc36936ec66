//! The authorization endpoint (code flow with PKCE), the login form, and the JSON login.

use alloc::{format, string::String, vec::Vec};

use serde::Deserialize;
use serde_json::json;

use super::{Fail, Result, secure_cookies, valid_username};
use crate::host::Host;
use crate::http::{Params, Request, Response, encode_params, html_escape};
use crate::model::{self, AuthorizationCode, Client, Realm, User, keys};
use crate::registry::AuthMethod;
use crate::{realm, secrets, session};

/// How long an authorization code is valid, in seconds.
pub const CODE_TTL_SECS: u64 = 60;
/// The CSRF cookie of the login form.
const CSRF_COOKIE: &str = "oidc_edge_csrf";
/// Longest `state` or `nonce` accepted.
const MAX_PARAM: usize = 1024;

/// The parameters of an authorization request that survive the login form.
const CARRIED: [&str; 8] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

/// A request whose client and redirect URI are known good: from here on, errors go back to
/// the client by redirect.
struct Validated {
    client: Client,
    redirect_uri: String,
    state: Option<String>,
}

impl Validated {
    fn redirect(&self, issuer: &str, pairs: &[(&str, &str)]) -> Response {
        let mut all: Vec<(&str, &str)> = pairs.to_vec();
        if let Some(s) = &self.state {
            all.push(("state", s));
        }
        // RFC 9207: name the issuer, so a client talking to several cannot be mixed up.
        all.push(("iss", issuer));
        let sep = if self.redirect_uri.contains('?') {
            '&'
        } else {
            '?'
        };
        Response::redirect(&format!("{}{sep}{}", self.redirect_uri, encode_params(all)))
    }

    fn error(&self, issuer: &str, error: &str, description: &str) -> Response {
        self.redirect(
            issuer,
            &[("error", error), ("error_description", description)],
        )
    }
}

fn error_page(status: u16, title: &str, detail: &str) -> Response {
    super::page(status, title, detail)
}

/// `GET/POST /realms/{R}/authorize`.
pub(super) async fn authorize<H: Host>(req: &Request, host: &H, realm: &Realm) -> Result<Response> {
    let params = super::params(req)?;
    let issuer = realm::issuer(host, &realm.name);
    // Until client and redirect URI are verified, errors are shown here, never redirected.
    let one = |name: &str| {
        params
            .one(name)
            .map_err(|e| error_page(400, "Invalid request", &e))
    };
    let (client_id, redirect_uri) = match (one("client_id"), one("redirect_uri")) {
        (Ok(Some(c)), Ok(Some(r))) => (c, r),
        (Err(page), _) | (_, Err(page)) => return Ok(page),
        _ => {
            return Ok(error_page(
                400,
                "Invalid request",
                "client_id and redirect_uri are required.",
            ));
        }
    };
    let client: Option<Client> = if super::admin::valid_client_id(client_id) {
        model::load(host, &keys::client(&realm.name, client_id)).await?
    } else {
        None
    };
    let Some(client) = client else {
        return Ok(error_page(
            400,
            "Unknown client",
            "The application that sent you here is not registered.",
        ));
    };
    // Exact match, character for character (no prefix or pattern matching).
    if !client
        .metadata
        .redirect_uris
        .iter()
        .any(|u| u == redirect_uri)
    {
        return Ok(error_page(
            400,
            "Invalid redirect URI",
            "The redirect URI is not registered for this application.",
        ));
    }
    let state = match params.one("state") {
        Ok(s) => s.map(String::from),
        Err(_) => None,
    };
    let v = Validated {
        client,
        redirect_uri: String::from(redirect_uri),
        state,
    };
    match check_request(&params, &v) {
        Ok(()) => {}
        Err((error, description)) => return Ok(v.error(&issuer, error, &description)),
    }
    let prompt = params.get("prompt").unwrap_or("");
    let prompts: Vec<&str> = prompt.split(' ').filter(|p| !p.is_empty()).collect();
    if prompts.contains(&"none") && prompts.len() > 1 {
        return Ok(v.error(
            &issuer,
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    let existing = match req.cookie(session::COOKIE) {
        Some(token) if !prompts.contains(&"login") => {
            session::find(host, &realm.name, token).await?
        }
        _ => None,
    };
    let Some(mut sess) = existing else {
        if prompts.contains(&"none") {
            return Ok(v.error(&issuer, "login_required", "the user is not logged in"));
        }
        return login_form(host, realm, &params, None).await;
    };
    session::touch(host, &realm.name, &mut sess).await?;
    let code = secrets::random_token(host)?;
    let now = host.now();
    let record = AuthorizationCode {
        client_id: v.client.client_id.clone(),
        redirect_uri: v.redirect_uri.clone(),
        session_id: sess.id.clone(),
        user: sess.user.clone(),
        nonce: params.get("nonce").map(String::from),
        code_challenge: params.get("code_challenge").map(String::from),
        scope: params.get("scope").map(String::from).unwrap_or_default(),
        auth_time: sess.auth_time,
        expires_at: now.plus(CODE_TTL_SECS).secs(),
    };
    model::save(
        host,
        &keys::code(&realm.name, &secrets::hash(&code)),
        &record,
        Some(CODE_TTL_SECS),
    )
    .await?;
    Ok(v.redirect(&issuer, &[("code", &code)]))
}

/// The checks of an authorization request once client and redirect URI are known good.
fn check_request(
    params: &Params,
    v: &Validated,
) -> core::result::Result<(), (&'static str, String)> {
    for name in CARRIED.iter().chain(["prompt"].iter()) {
        params.one(name).map_err(|e| ("invalid_request", e))?;
    }
    if params.get("request").is_some() || params.get("request_uri").is_some() {
        return Err((
            "request_not_supported",
            String::from("request objects are not supported"),
        ));
    }
    match params.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err((
                "unsupported_response_type",
                String::from("only response_type=code is supported"),
            ));
        }
        None => return Err(("invalid_request", String::from("response_type is required"))),
    }
    if !params
        .get("scope")
        .unwrap_or("")
        .split(' ')
        .any(|s| s == "openid")
    {
        return Err(("invalid_scope", String::from("scope must include openid")));
    }
    for name in ["state", "nonce"] {
        if params.get(name).is_some_and(|s| s.len() > MAX_PARAM) {
            return Err((
                "invalid_request",
                format!("{name} is longer than {MAX_PARAM} characters"),
            ));
        }
    }
    match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (Some(c), Some("S256")) => {
            // RFC 7636 §4.2: 43 to 128 characters of base64url (S256 gives exactly 43).
            if c.len() != 43
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err((
                    "invalid_request",
                    String::from("code_challenge must be a base64url SHA-256 (43 characters)"),
                ));
            }
        }
        (Some(_), None | Some("plain")) => {
            return Err((
                "invalid_request",
                String::from("code_challenge_method must be S256"),
            ));
        }
        (Some(_), Some(_)) => {
            return Err((
                "invalid_request",
                String::from("unsupported code_challenge_method"),
            ));
        }
        (None, Some(_)) => {
            return Err((
                "invalid_request",
                String::from("code_challenge_method without code_challenge"),
            ));
        }
        (None, None) if v.client.metadata.token_endpoint_auth_method == AuthMethod::None => {
            return Err((
                "invalid_request",
                String::from("public clients must use PKCE (code_challenge with S256)"),
            ));
        }
        (None, None) => {}
    }
    Ok(())
}

/// The HTML login form, carrying the authorization request and a CSRF token.
async fn login_form<H: Host>(
    host: &H,
    realm: &Realm,
    params: &Params,
    error: Option<&str>,
) -> Result<Response> {
    let csrf = secrets::random_token(host)?;
    let mut hidden = String::new();
    for name in CARRIED {
        if let Some(v) = params.get(name) {
            hidden.push_str(&format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                html_escape(v)
            ));
        }
    }
    let err = error.map_or_else(String::new, |e| {
        format!(
            "<p role=\"alert\" style=\"color:#b00\">{}</p>",
            html_escape(e)
        )
    });
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>Sign in</title></head>\
<body style=\"font-family:sans-serif;max-width:24em;margin:4em auto\"><h1>Sign in</h1>{err}\
<form method=\"post\" action=\"{action}\">{hidden}<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<p><label>User name<br><input name=\"username\" autocomplete=\"username\" required autofocus></label></p>\
<p><label>Password<br><input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
<p><button type=\"submit\">Sign in</button></p></form></body></html>",
        action = html_escape(&format!("{}/login", realm::issuer(host, &realm.name))),
    );
    let secure = if secure_cookies(host) { "; Secure" } else { "" };
    let status = if error.is_some() { 401 } else { 200 };
    Ok(Response::html(status, page).with_header(
        "set-cookie",
        &format!(
            "{CSRF_COOKIE}={csrf}; Path=/realms/{}; Max-Age=900; HttpOnly; SameSite=Strict{secure}",
            realm.name
        ),
    ))
}

/// Check a user's password; an unknown user costs the same time as a wrong password.
async fn check_password<H: Host>(
    host: &H,
    realm: &Realm,
    username: &str,
    password: &str,
) -> Result<Option<User>> {
    if !valid_username(username) || password.len() > secrets::MAX_PASSWORD {
        let _ = secrets::verify_password_with(host, password, secrets::DUMMY_PASSWORD_HASH).await;
        return Ok(None);
    }
    let user: Option<User> = model::load(host, &keys::user(&realm.name, username)).await?;
    let hash = user
        .as_ref()
        .map_or(secrets::DUMMY_PASSWORD_HASH, |u| u.password_hash.as_str());
    let ok = secrets::verify_password_with(host, password, hash).await;
    Ok(user.filter(|_| ok))
}

/// `POST /realms/{R}/login`: the form's answer. On success: a session cookie and back to the
/// authorization endpoint with the original request.
pub(super) async fn login<H: Host>(req: &Request, host: &H, realm: &Realm) -> Result<Response> {
    let form = super::form(req)?;
    let csrf_ok = match (req.cookie(CSRF_COOKIE), form.get("csrf")) {
        (Some(c), Some(f)) => secrets::ct_eq(c, f),
        _ => false,
    };
    if !csrf_ok {
        return Ok(error_page(
            400,
            "Session expired",
            "The sign-in form has expired. Go back to the application and try again.",
        ));
    }
    let username = form.get("username").unwrap_or("");
    let password = form.get("password").unwrap_or("");
    let Some(user) = check_password(host, realm, username, password).await? else {
        return login_form(host, realm, &form, Some("Invalid user name or password.")).await;
    };
    let (_, token) = session::create(host, realm, &user).await?;
    let carried: Vec<(&str, &str)> = CARRIED
        .iter()
        .filter_map(|n| form.get(n).map(|v| (*n, v)))
        .collect();
    let location = format!(
        "{}/authorize?{}",
        realm::issuer(host, &realm.name),
        encode_params(carried)
    );
    let cookie = session::cookie(
        &realm.name,
        &token,
        secure_cookies(host),
        realm.config.session_max_time_secs,
    );
    let mut r = Response::redirect(&location).with_header("set-cookie", &cookie);
    r.status = 303;
    Ok(r.with_header(
        "set-cookie",
        &format!(
            "{CSRF_COOKIE}=; Path=/realms/{}; Max-Age=0; HttpOnly; SameSite=Strict",
            realm.name
        ),
    ))
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// `POST /realms/{R}/authenticate`: JSON `{"username","password"}` (or AM's
/// `X-OpenAM-Username`/`X-OpenAM-Password` headers) → `{"tokenId"}` and the session cookie.
pub(super) async fn authenticate<H: Host>(
    req: &Request,
    host: &H,
    realm: &Realm,
) -> Result<Response> {
    let creds = match (
        req.header("x-openam-username"),
        req.header("x-openam-password"),
    ) {
        (Some(u), Some(p)) => Credentials {
            username: String::from(u),
            password: String::from(p),
        },
        _ => serde_json::from_value(super::admin::json_body(req)?)
            .map_err(|_| Fail::bad_request("expected {\"username\": ..., \"password\": ...}"))?,
    };
    let Some(user) = check_password(host, realm, &creds.username, &creds.password).await? else {
        return Err(Fail::new(
            401,
            "access_denied",
            "invalid user name or password",
        ));
    };
    let (_, token) = session::create(host, realm, &user).await?;
    let cookie = session::cookie(
        &realm.name,
        &token,
        secure_cookies(host),
        realm.config.session_max_time_secs,
    );
    let body = json!({"tokenId": token, "successUrl": format!("/realms/{}", realm.name), "realm": format!("/{}", realm.name)});
    Ok(Response::json(200, &body).with_header("set-cookie", &cookie))
}
