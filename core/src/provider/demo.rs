//! The demo relying party (`GET /demo`, with `serve --demo` or the worker's `DEMO_REALM`): two
//! applications of realm `demo` on one page, each signing in with the code flow and PKCE (a
//! confidential client, its secret kept server-side like any web application's), showing its
//! ID token's claims and `sid`, signing out by RP-initiated logout, and serving its own
//! back-channel logout URI, where it verifies each logout token as an RP must and keeps it, to
//! list with the audit events of its delivery. No third-party assets; a strict CSP (the page's
//! script and style are files of its own).
//!
//! It exists only where [`seed`] created its clients (`demo-app-1`, `demo-app-2`): an operator's
//! own realm called `demo` gets no `/demo`.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString as _};
use alloc::{format, vec::Vec};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::request::{Fail, Result};
use crate::client_metadata::ClientMetadata;
use crate::host::Host;
use crate::http::{Method, Params, Request, Response, encode_params, html_escape};
use crate::jose::jws::Verifier;
use crate::jose::jwt::{self, Validation};
use crate::jose::{JwsAlg, b64};
use crate::logout::logout_token::{LogoutTokenValidation, verify};
use crate::records::{self, Client, Realm};
use crate::{audit, keys, opaque_token, realm};

/// The demo realm.
const REALM: &str = "demo";
/// Its two applications.
pub const APPS: [&str; 2] = ["demo-app-1", "demo-app-2"];
/// The visitor's cookie (which of the apps it is signed in to).
const COOKIE: &str = "oidc_edge_demo";
/// How many received logout tokens the page lists.
const SHOWN: usize = 20;

const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// What one visitor is signed in to: per app, the ID token and its claims.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Visit {
    apps: BTreeMap<String, SignedIn>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct SignedIn {
    id_token: String,
    claims: Value,
}

/// An authorization request on its way: what the callback checks.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    app: String,
    nonce: String,
    verifier: String,
    visit: String,
}

/// A logout token as the demo RP received it.
#[derive(Debug, Serialize, Deserialize)]
struct Received {
    app: String,
    at_ms: u64,
    valid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    claims: Value,
}

/// `demorp/demo/{kind}/{id}`: the demo RP's own records (strongly consistent, as
/// [`keys::STRONG`] says: the two applications' back-channel logouts change a visit at once).
fn key(kind: &str, id: &str) -> String {
    format!("{}{REALM}/{kind}/{id}", keys::DEMO_RP)
}

fn base<H: Host>(host: &H) -> String {
    host.config().base_url.trim_end_matches('/').into()
}

/// Create the demo applications in realm `demo` (called when the demo realm is made). Where
/// the base URL makes them invalid clients (plain http to a host name, say), there is no demo
/// page: the rest of the demo realm works all the same.
pub(super) async fn seed<H: Host>(
    host: &H,
    realm: &Realm,
) -> core::result::Result<(), crate::error::Error> {
    let base = base(host);
    for app in APPS {
        let secret = opaque_token::random_token(host)?;
        let meta = json!({
            "client_name": format!("Demo application {}", &app[app.len() - 1..]),
            "redirect_uris": [format!("{base}/demo/callback")],
            "post_logout_redirect_uris": [format!("{base}/demo")],
            "backchannel_logout_uri": format!("{base}/demo/backchannel-logout/{app}"),
            "backchannel_logout_session_required": true,
        });
        let Ok(metadata) = ClientMetadata::from_json(
            &meta,
            &realm.config.id_token_signing_alg,
            realm.config.allow_private_uris,
        ) else {
            return Ok(());
        };
        let client = Client {
            metadata,
            client_id: String::from(app),
            secret_hash: Some(opaque_token::hash(&secret)),
            registration_token_hash: None,
            issued_at: host.now().secs(),
            first_party: true,
        };
        records::save(host, &keys::client(REALM, app), &client, None).await?;
        // The application's own copy of its secret, as a web application keeps one.
        host.put(&key("secret", app), secret.as_bytes(), None)
            .await?;
    }
    Ok(())
}

/// Whether this provider has the demo (its realm and applications).
async fn realm_if_seeded<H: Host>(host: &H) -> Result<Option<Realm>> {
    if host.get(&key("secret", APPS[0])).await?.is_none() {
        return Ok(None);
    }
    Ok(realm::load(host, REALM).await?.filter(|r| !r.deleting))
}

/// `/demo...`.
pub(super) async fn route<H: Host>(req: &Request, host: &H, rest: &[&str]) -> Result<Response> {
    let Some(realm) = realm_if_seeded(host).await? else {
        return Err(super::request::not_found());
    };
    match (rest, req.method) {
        ([], Method::Get) => page(req, host).await,
        (["app.js"], Method::Get) => Ok(super::request::static_asset(
            "text/javascript",
            include_str!("demo/app.js"),
        )),
        (["app.css"], Method::Get) => Ok(super::request::static_asset(
            "text/css",
            include_str!("demo/app.css"),
        )),
        (["state"], Method::Get) => Ok(Response::json(200, &state(req, host).await?)),
        (["login"], Method::Get) => login(req, host).await,
        (["callback"], Method::Get) => callback(req, host, &realm).await,
        (["logout"], Method::Post) => logout(req, host).await,
        (["backchannel-logout", app], Method::Post) => backchannel(req, host, &realm, app).await,
        ([] | ["app.js" | "app.css" | "state" | "login" | "callback" | "logout"], _)
        | (["backchannel-logout", _], _) => Err(super::request::method_not_allowed()),
        _ => Err(super::request::not_found()),
    }
}

fn app_of(params: &Params) -> Result<&'static str> {
    let app = params.one("app").map_err(Fail::bad_request)?;
    APPS.iter()
        .copied()
        .find(|a| Some(*a) == app)
        .ok_or_else(|| Fail::bad_request("app must be demo-app-1 or demo-app-2"))
}

/// The visitor's id (its cookie), if it has a well-formed one.
fn visit_id(req: &Request) -> Option<&str> {
    req.cookie(COOKIE).filter(|v| opaque_token::is_token(v))
}

async fn load_visit<H: Host>(host: &H, id: Option<&str>) -> Result<Visit> {
    Ok(match id {
        Some(id) => records::load(host, &key("visit", id))
            .await?
            .unwrap_or_default(),
        None => Visit::default(),
    })
}

/// Change visit `id` with `change` in a swap against what was read, so that two changes at
/// once (the back-channel logouts of both applications) both land. The visit as it now is.
async fn modify_visit<H: Host>(
    host: &H,
    id: &str,
    mut change: impl FnMut(&mut Visit),
) -> Result<Visit> {
    let at = key("visit", id);
    for _ in 0..8 {
        let (mut visit, raw) = match records::load_raw::<Visit, _>(host, &at).await? {
            Some((v, raw)) => (v, Some(raw)),
            None => (Visit::default(), None),
        };
        change(&mut visit);
        let bytes = serde_json::to_vec(&visit).unwrap_or_default();
        if host
            .swap(&at, raw.as_deref(), Some(&bytes), Some(28_800))
            .await?
        {
            return Ok(visit);
        }
    }
    Err(Fail::Internal(crate::error::Error::Store(
        crate::host::StoreError(format!("{at}: changed by others 8 times in a row")),
    )))
}

fn visit_cookie<H: Host>(host: &H, id: &str) -> String {
    format!(
        "{COOKIE}={id}; Path=/demo; Max-Age=28800; HttpOnly; SameSite=Lax{}",
        if super::request::secure_cookies(host) {
            "; Secure"
        } else {
            ""
        }
    )
}

/// `GET /demo/login?app=...`: to the authorization endpoint, with state, nonce and PKCE.
async fn login<H: Host>(req: &Request, host: &H) -> Result<Response> {
    let app = app_of(&req.query_params())?;
    let visit = match visit_id(req) {
        Some(v) => String::from(v),
        None => opaque_token::random_token(host)?,
    };
    let state = opaque_token::random_token(host)?;
    let pending = Pending {
        app: String::from(app),
        nonce: opaque_token::random_token(host)?,
        verifier: opaque_token::random_token(host)?,
        visit: visit.clone(),
    };
    let challenge = b64::encode(<sha2::Sha256 as sha2::Digest>::digest(
        pending.verifier.as_bytes(),
    ));
    records::save(host, &key("pending", &state), &pending, Some(600)).await?;
    let query = encode_params([
        ("response_type", "code"),
        ("client_id", app),
        ("redirect_uri", &format!("{}/demo/callback", base(host))),
        ("scope", "openid profile email"),
        ("state", &state),
        ("nonce", &pending.nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    Ok(
        Response::redirect(&format!("{}/authorize?{query}", realm::issuer(host, REALM)))
            .with_header("set-cookie", &visit_cookie(host, &visit)),
    )
}

/// `GET /demo/callback`: the code redeemed at the token endpoint (as the application, with its
/// secret), the ID token verified as an RP must, the visitor signed in to the app.
async fn callback<H: Host>(req: &Request, host: &H, realm: &Realm) -> Result<Response> {
    let q = req.query_params();
    let state = q
        .one("state")
        .map_err(Fail::bad_request)?
        .ok_or_else(|| Fail::bad_request("state is required"))?;
    if !opaque_token::is_token(state) {
        return Err(Fail::bad_request("unknown state"));
    }
    let pending: Pending = records::load(host, &key("pending", state))
        .await?
        .ok_or_else(|| Fail::bad_request("unknown or used state"))?;
    host.delete(&key("pending", state)).await?;
    if visit_id(req) != Some(pending.visit.as_str()) {
        return Err(Fail::bad_request(
            "this sign-in was started in another browser",
        ));
    }
    let issuer = realm::issuer(host, REALM);
    if q.get("iss") != Some(issuer.as_str()) {
        return Err(Fail::bad_request("iss does not name the demo realm"));
    }
    if let Some(e) = q.get("error") {
        let page =
            super::request::page(400, "Not signed in", &format!("The provider answered {e}."));
        return Ok(page);
    }
    let code = q
        .one("code")
        .map_err(Fail::bad_request)?
        .ok_or_else(|| Fail::bad_request("code is required"))?;
    let secret = host
        .get(&key("secret", &pending.app))
        .await?
        .and_then(|s| String::from_utf8(s).ok())
        .unwrap_or_default();
    let basic = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{secret}", pending.app))
    };
    let token_req = Request::new(Method::Post, &format!("/realms/{REALM}/token"))
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_header("authorization", &format!("Basic {basic}"))
        .with_body(encode_params([
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &format!("{}/demo/callback", base(host))),
            ("code_verifier", &pending.verifier),
        ]));
    let answer = super::token::token(&token_req, host, realm).await?;
    let tokens: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let id_token = tokens["id_token"]
        .as_str()
        .ok_or_else(|| Fail::bad_request("the token endpoint gave no ID token"))?;
    let keys = realm::public_keys(realm)?;
    let opened = jwt::open(
        id_token,
        &Verifier::new(&keys, &JwsAlg::ALL).checking_with(host.crypto()),
        None,
        host,
    )
    .map_err(|e| Fail::bad_request(format!("the ID token: {e}")))?;
    let mut v = Validation::new(host.now());
    v.issuer = Some(&issuer);
    v.audience = Some(&pending.app);
    jwt::validate(&opened.claims, &v)
        .map_err(|e| Fail::bad_request(format!("the ID token: {e}")))?;
    if opened.claims.get("nonce").and_then(Value::as_str) != Some(pending.nonce.as_str()) {
        return Err(Fail::bad_request(
            "the ID token's nonce is not this sign-in's",
        ));
    }
    let claims = Value::Object(opened.claims);
    if let Some(sid) = claims["sid"].as_str() {
        host.put(
            &key("sid", &format!("{}/{sid}", pending.app)),
            pending.visit.as_bytes(),
            Some(28_800),
        )
        .await?;
    }
    let signed_in = SignedIn {
        id_token: String::from(id_token),
        claims,
    };
    modify_visit(host, &pending.visit, |v| {
        v.apps.insert(pending.app.clone(), signed_in.clone());
    })
    .await?;
    Ok(Response::empty(303)
        .with_header("location", "/demo")
        .with_header("cache-control", "no-store"))
}

/// `POST /demo/logout` (`app`, `csrf`): RP-initiated logout with the app's ID token as the hint.
async fn logout<H: Host>(req: &Request, host: &H) -> Result<Response> {
    let form = super::request::form(req)?;
    let app = app_of(&form)?;
    let Some(id) = visit_id(req) else {
        return Ok(Response::empty(303).with_header("location", "/demo"));
    };
    // Only the page's own form signs out (a cross-site POST carries no SameSite=Lax cookie,
    // and no other page knows this token): a link from elsewhere ends nothing.
    if !super::authorize::form_csrf_ok(&form, &logout_csrf(id)) {
        return Err(Fail::bad_request(
            "this sign-out did not come from the demo page",
        ));
    }
    let mut signed_out = None;
    modify_visit(host, id, |v| signed_out = v.apps.remove(app)).await?;
    let Some(signed_in) = signed_out else {
        return Ok(Response::empty(303).with_header("location", "/demo"));
    };
    let query = encode_params([
        ("id_token_hint", signed_in.id_token.as_str()),
        ("post_logout_redirect_uri", &format!("{}/demo", base(host))),
        ("state", app),
    ]);
    Ok(Response::redirect(&format!(
        "{}/end_session?{query}",
        realm::issuer(host, REALM)
    )))
}

/// The CSRF token of the page's sign-out forms, derived from the visit's secret id.
fn logout_csrf(visit: &str) -> String {
    opaque_token::hmac_b64(visit.as_bytes(), b"csrf/demo-logout")
}

/// `POST /demo/backchannel-logout/{app}`: the application's back-channel logout URI.
async fn backchannel<H: Host>(
    req: &Request,
    host: &H,
    realm: &Realm,
    app: &str,
) -> Result<Response> {
    let Some(app) = APPS.iter().copied().find(|a| *a == app) else {
        return Err(super::request::not_found());
    };
    let form = super::request::form(req)?;
    let token = form.one("logout_token").map_err(Fail::bad_request)?;
    let keys = realm::public_keys(realm)?;
    let issuer = realm::issuer(host, REALM);
    let v = LogoutTokenValidation {
        issuer: &issuer,
        audience: app,
        jwks: &keys,
        algs: &JwsAlg::ALL,
        decrypt_with: None,
        now: host.now(),
        leeway_secs: 60,
    };
    let outcome = match token {
        None => Err(String::from("no logout_token in the form body")),
        Some(t) => {
            // A jti seen before is a replay: the first use of one claims it atomically.
            let mut replay = None;
            let verified = verify(t, &v, host, None);
            if let Ok(c) = &verified {
                let seen = key("jti", &opaque_token::hash(&c.jti));
                replay = Some(!host.swap(&seen, None, Some(b""), Some(600)).await?);
            }
            match (verified, replay) {
                (Ok(_), Some(true)) => Err(String::from("a jti seen before (a replay)")),
                (Ok(c), _) => Ok(c),
                (Err(e), _) => Err(e.to_string()),
            }
        }
    };
    // What an invalid token said is kept only while it is small: the page is a demo, and
    // anyone may post to this URI.
    let claims = match &outcome {
        Ok(c) => Value::Object(c.claims.clone()),
        Err(_) => token
            .filter(|t| t.len() <= 4096)
            .map_or(Value::Null, peek_claims),
    };
    let received = Received {
        app: String::from(app),
        at_ms: host.now_ms(),
        valid: outcome.is_ok(),
        reason: outcome.as_ref().err().cloned(),
        claims,
    };
    let id = crate::logout::logout_token::random_id(host)?;
    records::save(
        host,
        &key("rx", &format!("{:015}/{id}", received.at_ms)),
        &received,
        Some(86_400),
    )
    .await?;
    match outcome {
        Ok(c) => {
            // The application's own session for that sid ends: the page shows it signed out.
            if let Some(sid) = &c.sid {
                let at = key("sid", &format!("{app}/{sid}"));
                if let Some(visit) = host.get(&at).await?
                    && let Ok(visit) = String::from_utf8(visit)
                {
                    modify_visit(host, &visit, |v| {
                        v.apps.remove(app);
                    })
                    .await?;
                    host.delete(&at).await?;
                }
            }
            Ok(Response::empty(200).with_header("cache-control", "no-store"))
        }
        Err(why) => Ok(Response::oauth_error(400, "invalid_request", &why)),
    }
}

/// The claims of a compact JWS, unverified (for showing what an invalid token said).
fn peek_claims(token: &str) -> Value {
    token
        .split('.')
        .nth(1)
        .filter(|_| token.split('.').count() == 3)
        .and_then(|p| b64::decode(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

/// What the page shows: the visitor's apps, and the logout tokens received (newest first),
/// each with the audit events of its delivery.
async fn state<H: Host>(req: &Request, host: &H) -> Result<Value> {
    let visit = load_visit(host, visit_id(req)).await?;
    let apps: Value = APPS
        .iter()
        .map(|a| {
            let v = visit.apps.get(*a).map_or(Value::Null, |s| s.claims.clone());
            (String::from(*a), v)
        })
        .collect::<serde_json::Map<String, Value>>()
        .into();
    let prefix = key("rx", "");
    let all = records::list_all(host, &prefix, 10_000).await?;
    let mut received: Vec<Received> = Vec::new();
    for k in all.iter().rev().take(SHOWN) {
        if let Some(r) = records::load::<Received, _>(host, k).await? {
            received.push(r);
        }
    }
    let since = received.iter().map(|r| r.at_ms).min().unwrap_or(0);
    let events = audit::query(
        host,
        REALM,
        Some(audit::BACK_CHANNEL_LOGOUT),
        since.saturating_sub(300_000),
    )
    .await?;
    let tokens: Vec<Value> = received
        .iter()
        .map(|r| {
            let tracking = r.claims["auditTrackingId"].as_str().unwrap_or("\u{0}");
            let audit: Vec<Value> = events
                .iter()
                .filter(|e| e.transaction_id == tracking)
                .map(|e| json!({"timestamp": e.timestamp, "eventName": e.event_name, "operation": e.operation}))
                .collect();
            json!({
                "app": r.app,
                "received": audit::rfc3339_ms(r.at_ms),
                "verdict": if r.valid { "valid" } else { "invalid" },
                "reason": r.reason,
                "claims": r.claims,
                "audit": audit,
            })
        })
        .collect();
    Ok(json!({"apps": apps, "received": tokens}))
}

/// The apps signed in, as `state` says (the page's script compares its view with this).
fn signed_in_apps(st: &Value) -> Vec<&'static str> {
    APPS.iter()
        .copied()
        .filter(|a| !st["apps"][*a].is_null())
        .collect()
}

/// `GET /demo`: the page, rendered with the visitor's state (the script refreshes the list of
/// received tokens every two seconds).
async fn page<H: Host>(req: &Request, host: &H) -> Result<Response> {
    let st = state(req, host).await?;
    let csrf = visit_id(req).map(logout_csrf).unwrap_or_default();
    let mut apps = String::new();
    for app in APPS {
        let claims = &st["apps"][app];
        let n = &app[app.len() - 1..];
        let body = if claims.is_null() {
            format!(
                "<p class=\"status\">Signed out.</p><p><a class=\"button\" id=\"login-{n}\" href=\"/demo/login?app={app}\">Sign in</a></p>"
            )
        } else {
            let mut rows = String::new();
            if let Some(map) = claims.as_object() {
                for (k, v) in map {
                    let v = v.as_str().map_or_else(|| v.to_string(), String::from);
                    rows.push_str(&format!(
                        "<tr><th>{}</th><td>{}</td></tr>",
                        html_escape(k),
                        html_escape(&v)
                    ));
                }
            }
            format!(
                "<p class=\"status\">Signed in as <strong>{}</strong>, sid <code class=\"sid\" id=\"sid-{n}\">{}</code></p><table>{rows}</table><form method=\"post\" action=\"/demo/logout\"><input type=\"hidden\" name=\"app\" value=\"{app}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><p><button class=\"button\" id=\"logout-{n}\" type=\"submit\">Sign out</button></p></form>",
                html_escape(claims["preferred_username"].as_str().unwrap_or("?")),
                html_escape(claims["sid"].as_str().unwrap_or("")),
            )
        };
        apps.push_str(&format!(
            "<section class=\"app\" id=\"{app}\"><h2>Demo application {n} <small>({app})</small></h2>{body}</section>"
        ));
    }
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>oidc-edge demo relying party</title>\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"stylesheet\" href=\"/demo/app.css\"></head><body>\
<header><h1>oidc-edge demo relying party</h1><p>Two applications of realm <code>demo</code>. Sign in to both (user <code>demo</code>, password <code>changeit</code>): each gets its own <code>sid</code> for the same session. Sign out of one, and both are told by back-channel logout.</p></header>\
<main data-signed-in=\"{signed_in}\"><div class=\"apps\">{apps}</div><section id=\"received\"><h2>Logout tokens received</h2><ol id=\"tokens\"></ol><p id=\"none\">None yet.</p></section></main>\
<script src=\"/demo/app.js\"></script></body></html>",
        signed_in = html_escape(&signed_in_apps(&st).join(" ")),
    );
    Ok(Response::html(200, body)
        .with_header("referrer-policy", "no-referrer")
        .with_csp(PAGE_CSP))
}
