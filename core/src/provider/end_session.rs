//! RP-initiated logout (OIDC RP-Initiated Logout 1.0): `/end_session` asks the user, and only
//! the confirmed POST ends the session. Then it waits for the RPs' answers (the realm's
//! `logout_wait_ms`, never longer) and says where each application stands, or goes on to the
//! client's `post_logout_redirect_uri` at once when every one took its logout token.

use alloc::{format, string::String};

use serde_json::Value;

use super::authorize::{form_page, hidden_input};
use super::request::{Result, secure_cookies};
use crate::host::Host;
use crate::http::{Method, Request, Response, encode_params, html_escape};
use crate::jose::JwsAlg;
use crate::jose::jws::Verifier;
use crate::keys;
use crate::logout::LogoutCause;
use crate::logout::{end, ledger};
use crate::records::{self, Client, Realm};
use crate::{realm, session};

/// The `Set-Cookie` value that removes the session cookie.
pub(super) fn clear_cookie<H: Host>(host: &H, realm: &Realm) -> String {
    format!(
        "{}=; Path=/realms/{}; Max-Age=0; HttpOnly; SameSite=Lax{}",
        session::COOKIE,
        realm.name,
        if secure_cookies(host) { "; Secure" } else { "" }
    )
}

fn page(title: &str, text: &str) -> Response {
    super::request::page(200, title, text)
}

fn error_page(text: &str) -> Response {
    super::request::page(400, "Logout request refused", text)
}

/// What a valid `id_token_hint` says.
struct Hint {
    sub: String,
    aud: Option<String>,
    sid: Option<String>,
}

/// Read an `id_token_hint`: an ID token this realm signed (expired ones are fine: that is the
/// usual case). Access tokens and logout tokens are not ID tokens and are refused.
fn read_hint<H: Host>(
    host: &H,
    realm: &Realm,
    hint: &str,
) -> Result<core::result::Result<Hint, Response>> {
    if hint.bytes().filter(|b| *b == b'.').count() != 2 {
        return Ok(Err(error_page(
            "id_token_hint must be a signed ID token issued here.",
        )));
    }
    let keys = realm::public_keys(realm)?;
    let Ok(v) = Verifier::new(&keys, &JwsAlg::ALL)
        .checking_with(host.crypto())
        .verify(hint)
    else {
        return Ok(Err(error_page(
            "id_token_hint was not issued by this realm.",
        )));
    };
    let typ = v.header.get("typ").and_then(Value::as_str).unwrap_or("");
    let claims: Value = serde_json::from_slice(&v.payload).unwrap_or(Value::Null);
    if claims.get("iss").and_then(Value::as_str) != Some(realm::issuer(host, &realm.name).as_str())
    {
        return Ok(Err(error_page(
            "id_token_hint was not issued by this realm.",
        )));
    }
    // Access tokens (RFC 9068 `at+jwt`, `client_id`) and logout tokens (`events`) are signed by
    // the same keys; only an ID token is a hint.
    if typ.eq_ignore_ascii_case("at+jwt")
        || typ.eq_ignore_ascii_case("logout+jwt")
        || claims.get("events").is_some()
        || claims.get("client_id").is_some()
    {
        return Ok(Err(error_page("id_token_hint must be an ID token.")));
    }
    let Some(sub) = claims.get("sub").and_then(Value::as_str) else {
        return Ok(Err(error_page("id_token_hint must be an ID token.")));
    };
    let aud = match claims.get("aud") {
        Some(Value::String(a)) => Some(a.clone()),
        Some(Value::Array(a)) if a.len() == 1 => a[0].as_str().map(String::from),
        _ => None,
    };
    Ok(Ok(Hint {
        sub: String::from(sub),
        aud,
        sid: claims.get("sid").and_then(Value::as_str).map(String::from),
    }))
}

/// `GET/POST /realms/{R}/end_session`: OpenID Connect RP-Initiated Logout 1.0.
///
/// A session ends at once only for a valid `id_token_hint` of the current session (its `sid`
/// is the session's sid for the hint's client). Otherwise the user is asked: a page whose form
/// posts back here with a CSRF token bound to the session and `decision=logout`, `logout_all`
/// (every session of the user) or `stay`.
pub(super) async fn end_session<H: Host>(
    req: &Request,
    host: &H,
    realm: &Realm,
) -> Result<Response> {
    let params = super::request::params(req)?;
    // A redirect URI or hint that does not decode is refused, never read as absent.
    let raw = if req.method == Method::Post {
        req.body.as_slice()
    } else {
        req.query.as_bytes()
    };
    if !crate::http::Params::is_utf8(raw) {
        return Ok(error_page("The request's parameters are not UTF-8."));
    }
    for name in [
        "id_token_hint",
        "client_id",
        "post_logout_redirect_uri",
        "state",
        "decision",
        "csrf",
    ] {
        if let Err(e) = params.one(name) {
            return Ok(error_page(&e));
        }
    }
    if params.get("state").is_some_and(|s| s.len() > 1024) {
        return Ok(error_page("state is longer than 1024 characters."));
    }
    let hint = match params.get("id_token_hint") {
        None => None,
        Some(h) => match read_hint(host, realm, h)? {
            Ok(hint) => Some(hint),
            Err(page) => return Ok(page),
        },
    };
    let client_id = match (
        params.get("client_id"),
        hint.as_ref().and_then(|h| h.aud.as_deref()),
    ) {
        (Some(c), Some(a)) if c != a => {
            return Ok(error_page("client_id does not match id_token_hint."));
        }
        (Some(c), _) => Some(String::from(c)),
        (None, a) => a.map(String::from),
    };
    let client: Option<Client> = match &client_id {
        Some(id) if super::request::valid_client_id(id) => {
            records::load(host, &keys::client(&realm.name, id)).await?
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
    let current = match req.cookie(session::COOKIE) {
        Some(token) => session::find(host, &realm.name, token).await?,
        None => None,
    };
    // Where the user goes next: the client's post-logout URI, with `state`.
    let next = redirect.as_ref().map(|uri| {
        let sep = if uri.contains('?') { '&' } else { '?' };
        match params.get("state") {
            Some(state) => format!("{uri}{sep}{}", encode_params([("state", state)])),
            None => uri.clone(),
        }
    });
    let continue_to = |ended: Option<bool>| -> Response {
        match &next {
            Some(uri) => Response::redirect(uri),
            None => match ended {
                Some(true) => page("Signed out", "You have been signed out."),
                Some(false) => page("Still signed in", "You are still signed in."),
                None => page("Signed out", "There was no session to end."),
            },
        }
    };
    // After a session's end: wait for the RPs (the realm's `logout_wait_ms`), then go on at
    // once if every one took its token, else say where each stands.
    let signed_out = async |queued: &[crate::logout::delivery::Delivery]| -> Result<Response> {
        let waited = ledger::wait(host, queued, realm.config.logout_wait_ms).await?;
        let r = if queued.is_empty() || next.is_some() && (waited.all_delivered() || !waited.waited)
        {
            continue_to(Some(true))
        } else {
            outcome_page(host, realm, &waited.outcomes, next.as_deref()).await?
        };
        Ok(r.with_header("set-cookie", &clear_cookie(host, realm)))
    };
    let Some(s) = current else {
        // Nothing to end; a stale cookie is cleared.
        return Ok(continue_to(None).with_header("set-cookie", &clear_cookie(host, realm)));
    };
    let decision = if req.method == Method::Post {
        params.get("decision")
    } else {
        None
    };
    match decision {
        Some(d) => {
            if !super::authorize::form_csrf_ok(&params, &s.csrf("logout")) {
                return Ok(error_page(
                    "This answer did not come from the sign-out page of your session.",
                ));
            }
            match d {
                "logout" => {
                    let ended =
                        end::end_session(host, realm, &s, LogoutCause::ClientLogout).await?;
                    signed_out(&ended.queued).await
                }
                // "Sign out of all devices": every session of the user.
                "logout_all" => {
                    let ended = end::end_user(
                        host,
                        realm,
                        &s.sub,
                        LogoutCause::ClientLogout,
                        None,
                        end::SidLess::Once,
                    )
                    .await?;
                    signed_out(&ended.queued).await
                }
                "stay" => Ok(continue_to(Some(false))),
                _ => Ok(error_page("decision must be logout, logout_all or stay.")),
            }
        }
        None => {
            let for_this_session = hint.as_ref().is_some_and(|h| {
                h.sub == s.sub
                    && match (&h.aud, &h.sid) {
                        (Some(aud), Some(sid)) => crate::opaque_token::ct_eq(sid, &s.sid_for(aud)),
                        _ => false,
                    }
            });
            if for_this_session {
                let ended = end::end_session(host, realm, &s, LogoutCause::ClientLogout).await?;
                return signed_out(&ended.queued).await;
            }
            Ok(confirmation_page(
                host,
                realm,
                &s,
                client.as_ref(),
                &params,
                redirect.as_deref(),
            ))
        }
    }
}

/// Ask the user whether to sign out; the form carries the request and a CSRF token bound to
/// the session.
fn confirmation_page<H: Host>(
    host: &H,
    realm: &Realm,
    s: &crate::records::Session,
    client: Option<&Client>,
    params: &crate::http::Params,
    redirect: Option<&str>,
) -> Response {
    let mut hidden = String::new();
    let mut field = |name: &str, value: &str| hidden.push_str(&hidden_input(name, value));
    if let Some(c) = client {
        field("client_id", &c.client_id);
    }
    if let Some(r) = redirect {
        field("post_logout_redirect_uri", r);
    }
    if let Some(st) = params.get("state") {
        field("state", st);
    }
    field("csrf", &s.csrf("logout"));
    let who = client.map_or_else(String::new, |c| {
        format!(
            " The application <strong>{}</strong> asked for this.",
            html_escape(c.metadata.client_name.as_deref().unwrap_or(&c.client_id))
        )
    });
    let body = format!(
        "<p>Do you want to sign out of <strong>{realm_name}</strong>, and of every application you signed in to with it?{who}</p>\
<form method=\"post\" action=\"{action}\">{hidden}\
<p><button type=\"submit\" name=\"decision\" value=\"logout\">Sign out</button> \
<button type=\"submit\" name=\"decision\" value=\"logout_all\">Sign out of all devices</button> \
<button type=\"submit\" name=\"decision\" value=\"stay\">Stay signed in</button></p></form>",
        realm_name = html_escape(&realm.name),
        action = html_escape(&format!("{}/end_session", realm::issuer(host, &realm.name))),
    );
    let r = Response::html(200, form_page("Sign out?", &body));
    match redirect {
        Some(uri) => r.allow_form_target(uri),
        None => r,
    }
}

/// The page after a logout that the RPs did not all confirm in time: each application of the
/// session and where its sign-out stands, and a "Continue" link to the client's post-logout URI
/// when one was given.
async fn outcome_page<H: Host>(
    host: &H,
    realm: &Realm,
    outcomes: &[ledger::Outcome],
    next: Option<&str>,
) -> Result<Response> {
    let mut items = String::new();
    for o in outcomes {
        let client: Option<Client> =
            records::load(host, &keys::client(&realm.name, &o.client_id)).await?;
        let name = client
            .as_ref()
            .and_then(|c| c.metadata.client_name.as_deref())
            .unwrap_or(&o.client_id);
        let (class, words) = match o.state {
            "delivered" => ("delivered", String::from("signed out")),
            "pending" => (
                "pending",
                String::from("still being signed out (we keep trying)"),
            ),
            _ => (
                "failed",
                match (o.status, &o.error) {
                    (Some(s), _) => format!("could not be reached (it answered HTTP {s})"),
                    (None, Some(e)) => format!("could not be reached ({})", e.replace('_', " ")),
                    (None, None) => String::from("could not be reached"),
                },
            ),
        };
        items.push_str(&format!(
            "<li data-client=\"{id}\" data-state=\"{class}\"><strong>{name}</strong>: {words}</li>",
            id = html_escape(&o.client_id),
            name = html_escape(name),
            words = html_escape(&words),
        ));
    }
    let pending = outcomes.iter().any(|o| o.state == "pending");
    let note = if pending {
        "<p>Applications still being signed out will be told as soon as they answer.</p>"
    } else {
        ""
    };
    let link = next.map_or_else(String::new, |uri| {
        format!(
            "<p><a id=\"continue\" href=\"{}\">Continue</a></p>",
            html_escape(uri)
        )
    });
    let body = format!(
        "<p>You have been signed out of <strong>{realm_name}</strong>. Your applications:</p><ul id=\"applications\">{items}</ul>{note}{link}",
        realm_name = html_escape(&realm.name),
    );
    Ok(Response::html(200, form_page("Signed out", &body)))
}
