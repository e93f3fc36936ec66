//! The OpenID Provider: routing and every endpoint, over [`crate::host::Host`].
//!
//! One file per endpoint (`authorize`, `token`, `revoke`, `introspect`, `userinfo`,
//! `end_session`, `sessions`, `register`, `discovery`, `admin`); `access_token` is how the
//! endpoints that take an access token check it, `refresh_token` how refresh token families
//! are kept, rotated and revoked; `demo` is the demo relying party at `/demo`, `console` the admin console at `/admin/console`. Every HTTP error is a `Fail`, turned into a response in
//! one place by [`crate::oauth::OAuthError::into_response`].

mod access_token;
mod admin;
mod authorize;
mod backchannel_check;
mod console;
mod demo;
mod discovery;
mod end_session;
mod introspect;
mod refresh_token;
mod register;
mod request;
mod revoke;
mod sessions;
mod throttle;
mod token;
mod userinfo;

use alloc::{format, string::String, vec::Vec};

use request::{Fail, Result, method_not_allowed, not_found};

use crate::error::Error;
use crate::host::Host;
use crate::http::{MAX_BODY, Method, Request, Response, decode_segment};
use crate::oauth::ErrorCode;
use crate::records::{Realm, RealmConfig, Registration, User};
use crate::{password, realm};

/// Handle one HTTP request. Every decision of the provider is made here; hosts only translate
/// HTTP to and from [`Request`]/[`Response`].
pub async fn handle<H: Host>(req: Request, host: &H) -> Response {
    if req.body.len() > MAX_BODY {
        return Fail::new(ErrorCode::PayloadTooLarge, "request body too large").into_response();
    }
    match route(&req, host).await {
        Ok(r) => r,
        Err(Fail::Internal(e)) => {
            host.log(&crate::host::LogEvent::InternalError {
                path: &req.path,
                error: &e,
            });
            Fail::Internal(e).into_response()
        }
        Err(f) => f.into_response(),
    }
}

async fn route<H: Host>(req: &Request, host: &H) -> Result<Response> {
    let segments: Vec<String> = req
        .path
        .split('/')
        .skip(1)
        .map(|s| decode_segment(s).ok_or_else(|| Fail::bad_request("path is not UTF-8")))
        .collect::<Result<_>>()?;
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let m = req.method;
    match segs.as_slice() {
        ["realms", r, rest @ ..] => {
            let realm = load_realm(host, r).await?;
            match (rest, m) {
                ([".well-known", "openid-configuration"], Method::Get) => {
                    Ok(discovery::discovery(host, &realm))
                }
                (["jwks"], Method::Get) => Ok(Response::public_json(&realm::jwks(&realm), 300)),
                (["authorize"], Method::Get | Method::Post) => {
                    authorize::authorize(req, host, &realm).await
                }
                (["login"], Method::Post) => authorize::login(req, host, &realm).await,
                (["consent"], Method::Post) => authorize::consent(req, host, &realm).await,
                (["authenticate"], Method::Post) => {
                    authorize::authenticate(req, host, &realm).await
                }
                (["token"], Method::Post) => token::token(req, host, &realm).await,
                (["revoke"], Method::Post) => revoke::revoke(req, host, &realm).await,
                (["introspect"], Method::Post) => introspect::introspect(req, host, &realm).await,
                (["userinfo"], Method::Get | Method::Post) => {
                    userinfo::userinfo(req, host, &realm).await
                }
                (["register"], Method::Post) => register::create(req, host, &realm).await,
                (["register", id], Method::Get | Method::Put | Method::Delete) => {
                    register::manage(req, host, &realm, id).await
                }
                (["sessions", "logout"], Method::Post) => sessions::logout(req, host, &realm).await,
                (["end_session"], Method::Get | Method::Post) => {
                    end_session::end_session(req, host, &realm).await
                }
                (
                    [".well-known", "openid-configuration"]
                    | ["jwks"]
                    | ["authorize"]
                    | ["login"]
                    | ["consent"]
                    | ["authenticate"]
                    | ["token"]
                    | ["revoke"]
                    | ["introspect"]
                    | ["userinfo"]
                    | ["register"]
                    | ["register", _]
                    | ["sessions", "logout"]
                    | ["end_session"],
                    _,
                ) => Err(method_not_allowed()),
                _ => Err(not_found()),
            }
        }
        ["demo", rest @ ..] => demo::route(req, host, rest).await,
        // The console's page and assets hold no data: they are served without the token.
        ["admin", "console", rest @ ..] => console::route(req, rest),
        ["admin", rest @ ..] => {
            admin::authorize(req, host)?;
            // A filter that does not decode is refused, never read as no filter.
            if !crate::http::Params::is_utf8(req.query.as_bytes()) {
                return Err(Fail::bad_request("query parameters must be UTF-8"));
            }
            admin::route(req, host, rest).await
        }
        _ => Err(not_found()),
    }
}

async fn load_realm<H: Host>(host: &H, name: &str) -> Result<Realm> {
    if !realm::valid_name(name) {
        return Err(Fail::new(ErrorCode::NotFound, "no such realm"));
    }
    realm::load(host, name)
        .await?
        .filter(|r| !r.deleting)
        .ok_or_else(|| Fail::new(ErrorCode::NotFound, format!("no realm named {name:?}")))
}

/// Run one expiry sweep (hosts call this on a timer or cron): ends every session past its
/// deadline with `SESSION_MAX_TIMEOUT` or `SESSION_IDLE_TIMEOUT`. Returns how many ended.
pub async fn sweep<H: Host>(host: &H) -> core::result::Result<usize, Error> {
    let ended = crate::logout::expiry::sweep(host).await?;
    crate::realm::purge_all_deleted(host).await?;
    Ok(ended)
}

/// End session `id` of `realm` if it is due (hosts call this when a timer they were asked for
/// with [`Host::wake_at`] fires); else ask for a wake at its new deadline. Whether it ended.
pub async fn expire<H: Host>(host: &H, realm: &str, id: &str) -> core::result::Result<bool, Error> {
    crate::logout::expiry::expire(host, realm, id).await
}

/// Provision the demo realm (`demo`, open registration, private URIs allowed, user `demo` /
/// `changeit`) when it does not exist yet. Returns whether it was created.
pub async fn seed_demo<H: Host>(host: &H) -> core::result::Result<bool, Error> {
    if realm::load(host, "demo").await?.is_some() {
        return Ok(false);
    }
    let config = RealmConfig {
        registration: Registration::Open,
        allow_private_uris: true,
        // The demo's RPs (mock RPs, the fan-out bench) all register from this machine.
        registrations_per_source_per_hour: 10_000,
        ..RealmConfig::default()
    };
    let demo_realm = realm::create(host, "demo", config).await?;
    demo::seed(host, &demo_realm).await?;
    let user = User {
        username: String::from("demo"),
        password_hash: password::hash_password_with(host, "changeit").await?,
        sub: crate::logout::logout_token::random_id(host)?,
        email: Some(String::from("demo@example.com")),
        name: Some(String::from("Demo User")),
        created: host.now().secs(),
        disabled: false,
    };
    crate::records::save(host, &crate::keys::user("demo", "demo"), &user, None).await?;
    Ok(true)
}
