//! The OpenID Provider: routing and every endpoint, over [`crate::host::Host`].
//!
//! Every HTTP error is built by [`Fail::into_response`], the one place that maps failures to
//! the OAuth shape `{"error", "error_description"}`.

mod admin;
mod authorize;
mod logout;
mod register;
mod throttle;
mod token;

use alloc::{format, string::String, vec::Vec};

use serde_json::{Value, json};

use crate::error::Error;
use crate::host::Host;
use crate::http::{MAX_BODY, Method, Request, Response, decode_segment};
use crate::jose::{ContentEnc, JwsAlg, KeyMgmtAlg};
use crate::model::{Realm, RealmConfig, Registration, User};
use crate::{realm, secrets};

/// Why a request failed; turned into a response in exactly one place.
#[derive(Debug)]
pub(crate) enum Fail {
    /// An OAuth-shaped error with its status.
    OAuth {
        status: u16,
        error: &'static str,
        description: String,
    },
    /// A failure of the host or of a primitive: 500, details kept out of the response.
    Internal(Error),
}

impl Fail {
    pub(crate) fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self::OAuth {
            status,
            error,
            description: description.into(),
        }
    }

    pub(crate) fn bad_request(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", description)
    }

    fn into_response(self) -> Response {
        match self {
            Self::OAuth {
                status,
                error,
                description,
            } => {
                let r = Response::oauth_error(status, error, &description);
                match (status, error) {
                    (401, "invalid_client") => {
                        r.with_header("www-authenticate", "Basic realm=\"oidc-edge\"")
                    }
                    (401, _) => r.with_header(
                        "www-authenticate",
                        &format!(
                            "Bearer error=\"{error}\", error_description=\"{}\"",
                            description.replace('"', "'")
                        ),
                    ),
                    _ => r,
                }
            }
            Self::Internal(_) => Response::oauth_error(500, "server_error", "internal error"),
        }
    }
}

impl<E: Into<Error>> From<E> for Fail {
    fn from(e: E) -> Self {
        Self::Internal(e.into())
    }
}

pub(crate) type Result<T> = core::result::Result<T, Fail>;

/// Handle one HTTP request. Every decision of the provider is made here; hosts only translate
/// HTTP to and from [`Request`]/[`Response`].
pub async fn handle<H: Host>(req: Request, host: &H) -> Response {
    if req.body.len() > MAX_BODY {
        return Fail::new(413, "invalid_request", "request body too large").into_response();
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

fn method_not_allowed() -> Fail {
    Fail::new(405, "invalid_request", "method not allowed")
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
                    Ok(discovery(host, &realm))
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
                (["userinfo"], Method::Get | Method::Post) => {
                    token::userinfo(req, host, &realm).await
                }
                (["register"], Method::Post) => register::create(req, host, &realm).await,
                (["register", id], Method::Get | Method::Put | Method::Delete) => {
                    register::manage(req, host, &realm, id).await
                }
                (["sessions", "logout"], Method::Post) => {
                    logout::sessions_logout(req, host, &realm).await
                }
                (["end_session"], Method::Get | Method::Post) => {
                    logout::end_session_endpoint(req, host, &realm).await
                }
                (
                    [".well-known", "openid-configuration"]
                    | ["jwks"]
                    | ["authorize"]
                    | ["login"]
                    | ["consent"]
                    | ["authenticate"]
                    | ["token"]
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

fn not_found() -> Fail {
    Fail::new(404, "not_found", "no such endpoint")
}

async fn load_realm<H: Host>(host: &H, name: &str) -> Result<Realm> {
    if !realm::valid_name(name) {
        return Err(Fail::new(404, "not_found", "no such realm"));
    }
    realm::load(host, name)
        .await?
        .filter(|r| !r.deleting)
        .ok_or_else(|| Fail::new(404, "not_found", format!("no realm named {name:?}")))
}

fn discovery<H: Host>(host: &H, realm: &Realm) -> Response {
    let iss = realm::issuer(host, &realm.name);
    let names =
        |v: &[&str]| Value::Array(v.iter().map(|s| Value::String(String::from(*s))).collect());
    let doc = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "jwks_uri": format!("{iss}/jwks"),
        "registration_endpoint": format!("{iss}/register"),
        "end_session_endpoint": format!("{iss}/end_session"),
        "scopes_supported": ["openid", "profile", "email"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": names(&JwsAlg::ALL.map(JwsAlg::as_str)),
        "id_token_encryption_alg_values_supported": names(&KeyMgmtAlg::ALL.map(KeyMgmtAlg::as_str)),
        "id_token_encryption_enc_values_supported": names(&ContentEnc::ALL.map(ContentEnc::as_str)),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "email", "name", "preferred_username"],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
    });
    Response::public_json(&doc, 300)
}

/// The body's form parameters; anything but `application/x-www-form-urlencoded` is refused.
pub(crate) fn form(req: &Request) -> Result<crate::http::Params> {
    req.form()
        .ok_or_else(|| Fail::bad_request("the body must be application/x-www-form-urlencoded"))
}

/// The request's parameters: the query for GET, the form body for POST.
pub(crate) fn params(req: &Request) -> Result<crate::http::Params> {
    if req.method == Method::Post {
        form(req)
    } else {
        Ok(req.query_params())
    }
}

/// A small HTML page with a title and one paragraph.
pub(crate) fn page(status: u16, title: &str, text: &str) -> Response {
    Response::html(
        status,
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body style=\"font-family:sans-serif;max-width:32em;margin:4em auto\"><h1>{t}</h1><p>{x}</p></body></html>",
            t = crate::http::html_escape(title),
            x = crate::http::html_escape(text)
        ),
    )
}

/// Whether cookies must carry `Secure`: always, unless the provider is served over plain http.
pub(crate) fn secure_cookies<H: Host>(host: &H) -> bool {
    !host.config().base_url.starts_with("http://")
}

/// Whether a user name is acceptable: 1–128 printable characters, no `/`, and not `.` or `..`
/// (which URLs and paths read as directories).
pub(crate) fn valid_username(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name != "."
        && name != ".."
        && name.chars().all(|c| !c.is_control() && c != '/')
}

/// Run one expiry sweep (hosts call this on a timer or cron): ends every session past its
/// deadline with `SESSION_MAX_TIMEOUT` or `SESSION_IDLE_TIMEOUT`. Returns how many ended.
pub async fn sweep<H: Host>(host: &H) -> core::result::Result<usize, Error> {
    let ended = crate::session::sweep(host).await?;
    crate::realm::purge_all_deleted(host).await?;
    Ok(ended)
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
    realm::create(host, "demo", config).await?;
    let user = User {
        username: String::from("demo"),
        password_hash: secrets::hash_password_with(host, "changeit").await?,
        sub: crate::logout::token::random_id(host)?,
        email: Some(String::from("demo@example.com")),
        name: Some(String::from("Demo User")),
        created: host.now().secs(),
        disabled: false,
    };
    crate::model::save(host, &crate::model::keys::user("demo", "demo"), &user, None).await?;
    Ok(true)
}
