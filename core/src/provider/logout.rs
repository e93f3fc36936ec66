//! User-initiated logout (`/sessions/logout`) and RP-initiated logout (`/end_session`).

use alloc::{format, string::String};

use serde_json::{Value, json};

use super::{Fail, Result, secure_cookies};
use crate::host::Host;
use crate::http::{Request, Response, encode_params};
use crate::jose::JwsAlg;
use crate::jose::jws::Verifier;
use crate::logout::LogoutCause;
use crate::logout::end::end_session;
use crate::model::{self, Client, Realm, keys};
use crate::{realm, session};

fn clear_cookie<H: Host>(host: &H, realm: &Realm) -> String {
    format!(
        "{}=; Path=/realms/{}; Max-Age=0; HttpOnly; SameSite=Lax{}",
        session::COOKIE,
        realm.name,
        if secure_cookies(host) { "; Secure" } else { "" }
    )
}

/// `POST /realms/{R}/sessions/logout`: end the caller's own session (cookie or
/// `X-Session-Token`), cause `CLIENT_LOGOUT`.
pub(super) async fn sessions_logout<H: Host>(
    req: &Request,
    host: &H,
    realm: &Realm,
) -> Result<Response> {
    let token = req
        .header("x-session-token")
        .or_else(|| req.cookie(session::COOKIE));
    let Some(token) = token else {
        return Err(Fail::new(
            401,
            "invalid_token",
            "no session: send the session cookie or X-Session-Token",
        ));
    };
    let Some(s) = session::find(host, &realm.name, token).await? else {
        return Err(Fail::new(
            401,
            "invalid_token",
            "the session does not exist or has ended",
        ));
    };
    let ended = end_session(host, realm, &s, LogoutCause::ClientLogout).await?;
    let body = json!({"result": "Successfully logged out", "backchannel_logout_deliveries": ended.deliveries});
    Ok(Response::json(200, &body).with_header("set-cookie", &clear_cookie(host, realm)))
}

fn page(title: &str, text: &str) -> Response {
    super::page(200, title, text)
}

fn error_page(text: &str) -> Response {
    super::page(400, "Logout request refused", text)
}

/// `GET/POST /realms/{R}/end_session`: OpenID Connect RP-Initiated Logout 1.0.
pub(super) async fn end_session_endpoint<H: Host>(
    req: &Request,
    host: &H,
    realm: &Realm,
) -> Result<Response> {
    let params = super::params(req)?;
    for name in [
        "id_token_hint",
        "client_id",
        "post_logout_redirect_uri",
        "state",
    ] {
        if let Err(e) = params.one(name) {
            return Ok(error_page(&e));
        }
    }
    // The hint is an ID token this realm issued (expired ones are fine: that is the usual case).
    let mut hint_sub = None;
    let mut hint_aud = None;
    if let Some(hint) = params.get("id_token_hint") {
        if hint.bytes().filter(|b| *b == b'.').count() != 2 {
            return Ok(error_page(
                "id_token_hint must be a signed ID token issued here.",
            ));
        }
        let keys = realm::public_keys(realm)?;
        let Ok(v) = Verifier::new(&keys, &JwsAlg::ALL).verify(hint) else {
            return Ok(error_page("id_token_hint was not issued by this realm."));
        };
        let claims: Value = serde_json::from_slice(&v.payload).unwrap_or(Value::Null);
        if claims.get("iss").and_then(Value::as_str)
            != Some(realm::issuer(host, &realm.name).as_str())
        {
            return Ok(error_page("id_token_hint was not issued by this realm."));
        }
        hint_sub = claims.get("sub").and_then(Value::as_str).map(String::from);
        hint_aud = match claims.get("aud") {
            Some(Value::String(a)) => Some(a.clone()),
            Some(Value::Array(a)) if a.len() == 1 => a[0].as_str().map(String::from),
            _ => None,
        };
    }
    let client_id = match (params.get("client_id"), hint_aud.as_deref()) {
        (Some(c), Some(a)) if c != a => {
            return Ok(error_page("client_id does not match id_token_hint."));
        }
        (Some(c), _) => Some(String::from(c)),
        (None, a) => a.map(String::from),
    };
    let client: Option<Client> = match &client_id {
        Some(id) if super::admin::valid_client_id(id) => {
            model::load(host, &keys::client(&realm.name, id)).await?
        }
        _ => None,
    };
    // post_logout_redirect_uri: exactly one of the client's registered ones, or nowhere.
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => match &client {
            Some(c)
                if c.metadata
                    .post_logout_redirect_uris
                    .iter()
                    .any(|u| u == uri) =>
            {
                Some(String::from(uri))
            }
            Some(_) => {
                return Ok(error_page(
                    "post_logout_redirect_uri is not registered for this client.",
                ));
            }
            None => {
                return Ok(error_page(
                    "post_logout_redirect_uri needs a known client (client_id or id_token_hint).",
                ));
            }
        },
    };
    let mut ended = false;
    if let Some(token) = req.cookie(session::COOKIE)
        && let Some(s) = session::find(host, &realm.name, token).await?
    {
        // A hint for another user does not end this user's session.
        if hint_sub.as_deref().is_none_or(|sub| sub == s.sub) {
            end_session(host, realm, &s, LogoutCause::ClientLogout).await?;
            ended = true;
        }
    }
    let response = match redirect {
        Some(uri) => {
            let sep = if uri.contains('?') { '&' } else { '?' };
            match params.get("state") {
                Some(state) => {
                    Response::redirect(&format!("{uri}{sep}{}", encode_params([("state", state)])))
                }
                None => Response::redirect(&uri),
            }
        }
        None if ended => page("Signed out", "You have been signed out."),
        None => page("Signed out", "There was no session to end."),
    };
    Ok(response.with_header("set-cookie", &clear_cookie(host, realm)))
}
