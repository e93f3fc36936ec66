//! The authorization endpoint (code flow with PKCE), the sign-in form, the consent page, and
//! the JSON sign-in.
//!
//! A request goes: validate (client and exact redirect URI first; until both are known good,
//! errors are a page, never a redirect) → a live session of an existing, enabled account, fresh
//! enough for `max_age` and not overridden by `prompt=login` (else the sign-in form) →
//! consent, unless the client is first-party or a stored grant covers the scopes (else the
//! consent page) → a code.

use alloc::{format, string::String, vec::Vec};

use serde::Deserialize;
use serde_json::json;

use super::refresh_token::{self, OFFLINE_ACCESS};
use super::request::{Fail, Result, secure_cookies, valid_username};
use super::throttle;
use crate::client_metadata::AuthMethod;
use crate::host::Host;
use crate::http::{Params, Request, Response, encode_params, html_escape};
use crate::keys;
use crate::logout::LogoutCause;
use crate::oauth::{ErrorCode, OAuthError};
use crate::records::{self, AuthorizationCode, Client, Grant, Realm, Session, User};
use crate::{opaque_token, password, realm, session};

/// How long an authorization code is valid, in seconds.
pub const CODE_TTL_SECS: u64 = 60;
/// The CSRF cookie of the sign-in form.
const CSRF_COOKIE: &str = "oidc_edge_csrf";
/// Longest `state` or `nonce` accepted.
const MAX_PARAM: usize = 1024;
/// The scopes the provider knows; others are not granted.
pub(super) const SCOPES: [&str; 4] = ["openid", "profile", "email", OFFLINE_ACCESS];

/// The parameters of an authorization request that survive the sign-in form and the consent
/// page.
const CARRIED: [&str; 10] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
];

/// A request whose client and redirect URI are known good: from here on, errors go back to
/// the client by redirect.
struct Validated {
    client: Client,
    redirect_uri: String,
    state: Option<String>,
    /// The requested scopes the provider knows, in order, without duplicates.
    scopes: Vec<String>,
    prompts: Vec<String>,
    max_age: Option<u64>,
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

    fn error(&self, issuer: &str, error: ErrorCode, description: &str) -> Response {
        self.redirect(
            issuer,
            &[("error", error.code()), ("error_description", description)],
        )
    }

    fn prompted(&self, p: &str) -> bool {
        self.prompts.iter().any(|x| x == p)
    }

    fn scope(&self) -> String {
        self.scopes.join(" ")
    }
}

fn error_page(status: u16, title: &str, detail: &str) -> Response {
    super::request::page(status, title, detail)
}

/// Validate an authorization request: `Ok(Err(response))` is the answer when it is refused
/// (a page while the client or redirect URI is in doubt, a redirect to the client after).
async fn validate<H: Host>(
    host: &H,
    realm: &Realm,
    params: &Params,
) -> Result<core::result::Result<Validated, Response>> {
    // Until client and redirect URI are verified, errors are shown here, never redirected.
    let one = |name: &str| {
        params
            .one(name)
            .map_err(|e| error_page(400, "Invalid request", &e))
    };
    let (client_id, redirect_uri) = match (one("client_id"), one("redirect_uri")) {
        (Ok(Some(c)), Ok(Some(r))) => (c, r),
        (Err(page), _) | (_, Err(page)) => return Ok(Err(page)),
        _ => {
            return Ok(Err(error_page(
                400,
                "Invalid request",
                "client_id and redirect_uri are required.",
            )));
        }
    };
    let client: Option<Client> = if super::request::valid_client_id(client_id) {
        records::load(host, &keys::client(&realm.name, client_id)).await?
    } else {
        None
    };
    let Some(client) = client else {
        return Ok(Err(error_page(
            400,
            "Unknown client",
            "The application that sent you here is not registered.",
        )));
    };
    // Exact match, character for character (no prefix or pattern matching).
    if !client
        .metadata
        .redirect_uris
        .iter()
        .any(|u| u == redirect_uri)
    {
        return Ok(Err(error_page(
            400,
            "Invalid redirect URI",
            "The redirect URI is not registered for this application.",
        )));
    }
    let state = match params.one("state") {
        Ok(s) => s.map(String::from),
        Err(_) => None,
    };
    let mut v = Validated {
        client,
        redirect_uri: String::from(redirect_uri),
        state,
        scopes: Vec::new(),
        prompts: Vec::new(),
        max_age: None,
    };
    let issuer = realm::issuer(host, &realm.name);
    match check_request(params, &v) {
        Ok(()) => {}
        Err(e) => return Ok(Err(v.error(&issuer, e.code, &e.description))),
    }
    for s in params.get("scope").unwrap_or("").split(' ') {
        if SCOPES.contains(&s) && !v.scopes.iter().any(|x| x == s) {
            v.scopes.push(String::from(s));
        }
    }
    for p in params.get("prompt").unwrap_or("").split(' ') {
        match p {
            "" => {}
            "none" | "login" | "consent" => v.prompts.push(String::from(p)),
            // OIDC Core §3.1.2.1: values the provider does not know are ignored.
            _ => {}
        }
    }
    // OIDC Core §11: `offline_access` only with `prompt=consent` (the user is then asked,
    // whoever the client is), and only for a client that may hold refresh tokens; otherwise
    // it is ignored.
    if !(v.prompted("consent") && refresh_token::allowed(&v.client)) {
        v.scopes.retain(|s| s != OFFLINE_ACCESS);
    }
    if v.prompted("none") && params.get("prompt").is_some_and(|p| p.trim() != "none") {
        return Ok(Err(v.error(
            &issuer,
            ErrorCode::InvalidRequest,
            "prompt=none cannot be combined with other values",
        )));
    }
    if let Some(m) = params.get("max_age") {
        // OIDC Core §3.1.2.1: a non-negative integer number of seconds.
        match m.parse::<u64>() {
            Ok(n) if m.bytes().all(|b| b.is_ascii_digit()) && m.len() <= 10 => {
                v.max_age = Some(n);
            }
            _ => {
                return Ok(Err(v.error(
                    &issuer,
                    ErrorCode::InvalidRequest,
                    "max_age must be a non-negative integer",
                )));
            }
        }
    }
    Ok(Ok(v))
}

/// The live session of the request's cookie, if its account still exists, is the same
/// account, and is enabled.
async fn current_session<H: Host>(
    req: &Request,
    host: &H,
    realm: &Realm,
) -> Result<Option<(Session, User)>> {
    let Some(token) = req.cookie(session::COOKIE) else {
        return Ok(None);
    };
    let Some(s) = session::find(host, &realm.name, token).await? else {
        return Ok(None);
    };
    Ok(session::owner(host, &realm.name, &s).await?.map(|u| (s, u)))
}

/// `GET/POST /realms/{R}/authorize`.
pub(super) async fn authorize<H: Host>(req: &Request, host: &H, realm: &Realm) -> Result<Response> {
    let params = super::request::params(req)?;
    let v = match validate(host, realm, &params).await? {
        Ok(v) => v,
        Err(refusal) => return Ok(refusal),
    };
    let issuer = realm::issuer(host, &realm.name);
    let now = host.now().secs();
    let existing = if v.prompted("login") {
        None
    } else {
        current_session(req, host, realm)
            .await?
            // max_age: an authentication older than that must be done again.
            .filter(|(s, _)| {
                v.max_age
                    .is_none_or(|m| now.saturating_sub(s.auth_time) <= m)
            })
    };
    let Some((mut sess, user)) = existing else {
        if v.prompted("none") {
            return Ok(v.error(
                &issuer,
                ErrorCode::LoginRequired,
                "the user is not logged in",
            ));
        }
        return login_form(host, realm, &params, None, 200).await;
    };
    if !session::touch(host, &realm.name, &mut sess).await? {
        // Ended while this request was read: as if there had been none.
        if v.prompted("none") {
            return Ok(v.error(
                &issuer,
                ErrorCode::LoginRequired,
                "the user is not logged in",
            ));
        }
        return login_form(host, realm, &params, None, 200).await;
    }
    if needs_consent(host, realm, &v, &user).await? {
        if v.prompted("none") {
            return Ok(v.error(
                &issuer,
                ErrorCode::ConsentRequired,
                "the user has not allowed this application to sign them in",
            ));
        }
        return Ok(consent_page(host, realm, &v, &params, &sess));
    }
    issue_code(host, realm, &v, &params, &sess).await
}

/// Whether the user must be asked before `v.client` gets a code.
async fn needs_consent<H: Host>(
    host: &H,
    realm: &Realm,
    v: &Validated,
    user: &User,
) -> Result<bool> {
    if v.scopes.iter().any(|s| s == OFFLINE_ACCESS) {
        return Ok(true);
    }
    if v.client.first_party {
        return Ok(false);
    }
    if v.prompted("consent") {
        return Ok(true);
    }
    let grant: Option<Grant> = records::load(
        host,
        &keys::grant(&realm.name, &user.sub, &v.client.client_id),
    )
    .await?;
    Ok(grant.is_none_or(|g| !g.covers(&v.scopes)))
}

/// Issue a code for a validated request on a live session, and send the browser back to the
/// client with it.
async fn issue_code<H: Host>(
    host: &H,
    realm: &Realm,
    v: &Validated,
    params: &Params,
    sess: &Session,
) -> Result<Response> {
    let code = opaque_token::random_token(host)?;
    let now = host.now();
    let record = AuthorizationCode {
        client_id: v.client.client_id.clone(),
        redirect_uri: v.redirect_uri.clone(),
        session_id: sess.id.clone(),
        user: sess.user.clone(),
        sub: sess.sub.clone(),
        nonce: params.get("nonce").map(String::from),
        code_challenge: params.get("code_challenge").map(String::from),
        scope: v.scope(),
        auth_time: sess.auth_time,
        expires_at: now.plus(CODE_TTL_SECS).secs(),
        max_age_sent: v.max_age.is_some(),
        redeemed: None,
    };
    records::save(
        host,
        &keys::code(&realm.name, &opaque_token::hash(&code)),
        &record,
        Some(CODE_TTL_SECS),
    )
    .await?;
    Ok(v.redirect(&realm::issuer(host, &realm.name), &[("code", &code)]))
}

/// The checks of an authorization request once client and redirect URI are known good.
fn check_request(params: &Params, v: &Validated) -> core::result::Result<(), OAuthError> {
    for name in CARRIED {
        params
            .one(name)
            .map_err(|e| ErrorCode::InvalidRequest.with(e))?;
    }
    if params.get("request").is_some() || params.get("request_uri").is_some() {
        return Err(ErrorCode::RequestNotSupported.with("request objects are not supported"));
    }
    match params.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err(
                ErrorCode::UnsupportedResponseType.with("only response_type=code is supported")
            );
        }
        None => {
            return Err(ErrorCode::InvalidRequest.with("response_type is required"));
        }
    }
    if !params
        .get("scope")
        .unwrap_or("")
        .split(' ')
        .any(|s| s == "openid")
    {
        return Err(ErrorCode::InvalidScope.with("scope must include openid"));
    }
    for name in ["state", "nonce", "scope"] {
        if params.get(name).is_some_and(|s| s.len() > MAX_PARAM) {
            return Err(ErrorCode::InvalidRequest
                .with(format!("{name} is longer than {MAX_PARAM} characters")));
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
                return Err(ErrorCode::InvalidRequest.with(String::from(
                    "code_challenge must be a base64url SHA-256 (43 characters)",
                )));
            }
        }
        (Some(_), None | Some("plain")) => {
            return Err(ErrorCode::InvalidRequest.with("code_challenge_method must be S256"));
        }
        (Some(_), Some(_)) => {
            return Err(ErrorCode::InvalidRequest.with("unsupported code_challenge_method"));
        }
        (None, Some(_)) => {
            return Err(
                ErrorCode::InvalidRequest.with("code_challenge_method without code_challenge")
            );
        }
        (None, None) if v.client.metadata.token_endpoint_auth_method == AuthMethod::None => {
            return Err(ErrorCode::InvalidRequest.with(String::from(
                "public clients must use PKCE (code_challenge with S256)",
            )));
        }
        (None, None) => {}
    }
    Ok(())
}

/// Hidden inputs carrying the authorization request through a form; `drop_prompt` leaves out
/// a prompt value already satisfied.
fn hidden_fields(params: &Params, drop_prompt: &str) -> String {
    carried(params, drop_prompt)
        .iter()
        .map(|(name, value)| hidden_input(name, value))
        .collect()
}

/// The authorization request's parameters that go on through a form or a redirect, without
/// the prompt value `drop_prompt` (already satisfied) and without empty values.
fn carried(params: &Params, drop_prompt: &str) -> Vec<(&'static str, String)> {
    CARRIED
        .iter()
        .filter_map(|name| {
            let v = params.get(name)?;
            let value = if *name == "prompt" {
                let rest: Vec<&str> = v.split(' ').filter(|p| *p != drop_prompt).collect();
                rest.join(" ")
            } else {
                String::from(v)
            };
            (!value.is_empty()).then_some((*name, value))
        })
        .collect()
}

/// One hidden form field, its value HTML-escaped.
pub(super) fn hidden_input(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
        html_escape(value)
    )
}

/// The page chrome every form page of the provider shares.
pub(super) fn form_page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title></head>\
<body style=\"font-family:sans-serif;max-width:28em;margin:4em auto\"><h1>{t}</h1>{body}</body></html>",
        t = html_escape(title)
    )
}

/// The HTML sign-in form, carrying the authorization request and a CSRF token.
async fn login_form<H: Host>(
    host: &H,
    realm: &Realm,
    params: &Params,
    error: Option<&str>,
    status: u16,
) -> Result<Response> {
    let csrf = opaque_token::random_token(host)?;
    // `prompt=login` is satisfied by this very sign-in: not carried, or it would loop.
    let hidden = hidden_fields(params, "login");
    let err = error.map_or_else(String::new, |e| {
        format!(
            "<p role=\"alert\" style=\"color:#b00\">{}</p>",
            html_escape(e)
        )
    });
    let page = form_page(
        "Sign in",
        &format!(
            "{err}<form method=\"post\" action=\"{action}\">{hidden}<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<p><label>User name<br><input name=\"username\" autocomplete=\"username\" required autofocus></label></p>\
<p><label>Password<br><input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
<p><button type=\"submit\">Sign in</button></p></form>",
            action = html_escape(&format!("{}/login", realm::issuer(host, &realm.name))),
        ),
    );
    Ok(Response::html(status, page)
        .with_header("set-cookie", &csrf_cookie(host, realm, &csrf, 900)))
}

/// The sign-in form's CSRF cookie; `max_age` 0 clears it (with the same attributes, `Secure`
/// included, so the browser replaces the cookie it holds).
fn csrf_cookie<H: Host>(host: &H, realm: &Realm, value: &str, max_age: u64) -> String {
    format!(
        "{CSRF_COOKIE}={value}; Path=/realms/{}; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        realm.name,
        if secure_cookies(host) { "; Secure" } else { "" }
    )
}

/// What each scope lets the application see, for the consent page.
fn scope_description(scope: &str, realm: &Realm) -> &'static str {
    match scope {
        "openid" => "Who you are: an identifier for your account, and when you signed in",
        "profile" => "Your profile: your name and user name",
        "email" => "Your email address",
        OFFLINE_ACCESS if realm.config.offline_access_survives_logout => {
            "Offline access: it stays connected to your account when you are away, even after you sign out, until you or an administrator revoke it"
        }
        OFFLINE_ACCESS => {
            "Offline access: it stays connected to your account when you are away, until you sign out"
        }
        _ => "",
    }
}

/// The claims each scope releases.
fn scope_claims(scope: &str) -> &'static str {
    match scope {
        "openid" => "sub, auth_time",
        "profile" => "name, preferred_username",
        "email" => "email",
        OFFLINE_ACCESS => "refresh_token",
        _ => "",
    }
}

/// The consent page: who asks, for what, and two buttons posting to `consent` with the
/// request and a CSRF token bound to the session.
fn consent_page<H: Host>(
    host: &H,
    realm: &Realm,
    v: &Validated,
    params: &Params,
    sess: &Session,
) -> Response {
    let client = &v.client;
    let name = client
        .metadata
        .client_name
        .clone()
        .unwrap_or_else(|| client.client_id.clone());
    let mut items = String::new();
    for s in &v.scopes {
        items.push_str(&format!(
            "<li><strong>{}</strong> ({}): {}</li>",
            html_escape(s),
            html_escape(scope_claims(s)),
            html_escape(scope_description(s, realm))
        ));
    }
    let body = format!(
        "<p>The application <strong>{name}</strong> (client id <code>{id}</code>) asks to sign you in and to see:</p>\
<ul>{items}</ul>\
<p>After you answer, you will be sent to <code>{redirect}</code>.</p>\
<form method=\"post\" action=\"{action}\">{hidden}<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<p><button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button> \
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></p></form>",
        name = html_escape(&name),
        id = html_escape(&client.client_id),
        redirect = html_escape(&v.redirect_uri),
        action = html_escape(&format!("{}/consent", realm::issuer(host, &realm.name))),
        // `prompt=consent` stays: this answer is the consent it asked for, and what it
        // allows (`offline_access`) depends on it.
        hidden = hidden_fields(params, ""),
        csrf = sess.csrf("consent"),
    );
    Response::html(200, form_page("Allow access?", &body)).allow_form_target(&v.redirect_uri)
}

/// `POST /realms/{R}/consent`: the consent page's answer. `decision=allow` stores the grant
/// and continues with a code; `decision=deny` sends `access_denied` to the client.
pub(super) async fn consent<H: Host>(req: &Request, host: &H, realm: &Realm) -> Result<Response> {
    let form = super::request::form(req)?;
    let v = match validate(host, realm, &form).await? {
        Ok(v) => v,
        Err(refusal) => return Ok(refusal),
    };
    let Some((mut sess, user)) = current_session(req, host, realm).await? else {
        return Ok(error_page(
            400,
            "Session expired",
            "Your session has ended. Go back to the application and sign in again.",
        ));
    };
    if !form_csrf_ok(&form, &sess.csrf("consent")) {
        return Ok(error_page(
            400,
            "Request refused",
            "This answer did not come from the consent page of your session. Go back to the application and try again.",
        ));
    }
    let issuer = realm::issuer(host, &realm.name);
    match form.one("decision") {
        Ok(Some("allow")) => {}
        Ok(Some("deny")) => {
            return Ok(v.error(
                &issuer,
                ErrorCode::AccessDenied,
                "the user did not allow this application",
            ));
        }
        _ => {
            return Ok(error_page(
                400,
                "Invalid request",
                "decision must be allow or deny.",
            ));
        }
    }
    let key = keys::grant(&realm.name, &user.sub, &v.client.client_id);
    let now = host.now().secs();
    let mut grant: Grant = records::load(host, &key).await?.unwrap_or(Grant {
        client_id: v.client.client_id.clone(),
        scopes: Vec::new(),
        created: now,
        updated: now,
    });
    for s in &v.scopes {
        if !grant.scopes.contains(s) {
            grant.scopes.push(s.clone());
        }
    }
    grant.updated = now;
    records::save(host, &key, &grant, None).await?;
    if !session::touch(host, &realm.name, &mut sess).await? {
        return Ok(error_page(
            400,
            "Session expired",
            "Your session has ended. Go back to the application and sign in again.",
        ));
    }
    issue_code(host, realm, &v, &form, &sess).await
}

/// Whether the form's `csrf` field is `expected`: both must be well-formed tokens (43
/// base64url characters) before they are compared, in constant time, so that two malformed
/// values (say, bytes that decode to the same replacement character) never match.
pub(super) fn form_csrf_ok(form: &Params, expected: &str) -> bool {
    match form.one("csrf") {
        Ok(Some(given)) => csrf_match(given, expected),
        _ => false,
    }
}

/// Constant-time comparison of two CSRF tokens that must both be well formed.
pub(super) fn csrf_match(a: &str, b: &str) -> bool {
    opaque_token::is_token(a) && opaque_token::is_token(b) && opaque_token::ct_eq(a, b)
}

/// Check a user's password, throttled per account and per source; an unknown user costs the
/// same time as a wrong password. `Err` carries the refusal when the caller is throttled.
async fn check_password<H: Host>(
    host: &H,
    realm: &Realm,
    req: &Request,
    username: &str,
    password: &str,
) -> Result<core::result::Result<User, throttle::Refusal>> {
    let guard = throttle::Guard::for_sign_in(realm, username, req.remote.as_deref());
    if let Some(refusal) = guard.check(host).await? {
        return Ok(Err(refusal));
    }
    let user: Option<User> = if valid_username(username) && password.len() <= password::MAX_PASSWORD
    {
        records::load(host, &keys::user(&realm.name, username)).await?
    } else {
        None
    };
    let hash = user
        .as_ref()
        .map_or(password::DUMMY_PASSWORD_HASH, |u| u.password_hash.as_str());
    let ok = password::verify_password_with(host, password, hash).await;
    match user {
        Some(u) if ok && !u.disabled => {
            guard.succeeded(host).await?;
            Ok(Ok(u))
        }
        other => {
            let why = match other {
                Some(u) if ok && u.disabled => "the account is disabled",
                _ => "invalid user name or password",
            };
            Ok(Err(guard.failed(host, realm, why).await?))
        }
    }
}

/// `POST /realms/{R}/login`: the form's answer. On success: a session cookie and back to the
/// authorization endpoint with the original request.
pub(super) async fn login<H: Host>(req: &Request, host: &H, realm: &Realm) -> Result<Response> {
    let form = super::request::form(req)?;
    let csrf_ok = match (req.cookie(CSRF_COOKIE), form.one("csrf")) {
        (Some(c), Ok(Some(f))) => csrf_match(c, f),
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
    let user = match check_password(host, realm, req, username, password).await? {
        Ok(u) => u,
        Err(refusal) => {
            let r = login_form(
                host,
                realm,
                &form,
                Some(&refusal.message),
                refusal.code.status(),
            )
            .await?;
            return Ok(refusal.decorate(r));
        }
    };
    // One session per browser: signing in again as the same account re-authenticates that
    // session (its relying parties keep their sids); as another account it ends the old one.
    let mut token = None;
    if let Some(old) = req.cookie(session::COOKIE)
        && let Some(s) = session::find(host, &realm.name, old).await?
    {
        if s.sub == user.sub {
            let now = host.now().secs();
            let renewed = session::modify(host, &realm.name, &s.id, |s| {
                s.auth_time = now;
                s.last_access = now;
                true
            })
            .await?;
            // Ended meanwhile: a new session below, not the old one written back.
            if renewed.is_some() {
                token = Some(String::from(old));
            }
        } else {
            crate::logout::end::end_session(host, realm, &s, LogoutCause::ClientLogout).await?;
        }
    }
    let token = match token {
        Some(t) => t,
        None => {
            let device = session::device_of(req.header("user-agent"));
            session::create(host, realm, &user, device).await?.1
        }
    };
    let carried = carried(&form, "login");
    let location = format!(
        "{}/authorize?{}",
        realm::issuer(host, &realm.name),
        encode_params(carried.iter().map(|(k, v)| (*k, v.as_str())))
    );
    let cookie = session::cookie(
        &realm.name,
        &token,
        secure_cookies(host),
        realm.config.session_max_time_secs,
    );
    let mut r = Response::redirect(&location).with_header("set-cookie", &cookie);
    r.status = 303;
    Ok(r.with_header("set-cookie", &csrf_cookie(host, realm, "", 0)))
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// `POST /realms/{R}/authenticate`: JSON `{"username","password"}` (or AM's
/// `X-OpenAM-Username`/`X-OpenAM-Password` headers) → `{"tokenId"}` and the session cookie.
/// The session it starts is an ordinary one: third-party clients still ask for consent.
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
        _ => serde_json::from_value(super::request::json_body(req)?)
            .map_err(|_| Fail::bad_request("expected {\"username\": ..., \"password\": ...}"))?,
    };
    let user = match check_password(host, realm, req, &creds.username, &creds.password).await? {
        Ok(u) => u,
        Err(refusal) => {
            let r = refusal.code.with(refusal.message.clone()).into_response();
            return Ok(refusal.decorate(r));
        }
    };
    let device = session::device_of(req.header("user-agent"));
    let (_, token) = session::create(host, realm, &user, device).await?;
    let cookie = session::cookie(
        &realm.name,
        &token,
        secure_cookies(host),
        realm.config.session_max_time_secs,
    );
    let body = json!({"tokenId": token, "successUrl": format!("/realms/{}", realm.name), "realm": format!("/{}", realm.name)});
    Ok(Response::json(200, &body).with_header("set-cookie", &cookie))
}
