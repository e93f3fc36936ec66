//! The session API: `POST /realms/{R}/sessions/logout` ends the caller's own session, or with
//! `{"all": true}` every session of the caller's user ("sign out of all devices"). It answers
//! once the RPs have (or the realm's `logout_wait_ms` has passed), with each one's outcome.

use serde_json::{Value, json};

use super::end_session::clear_cookie;
use super::request::{Fail, Result};
use crate::host::Host;
use crate::http::{Request, Response};
use crate::logout::end::{SidLess, end_session, end_user};
use crate::logout::{LogoutCause, ledger};
use crate::oauth::ErrorCode;
use crate::records::Realm;
use crate::session;

/// `POST /realms/{R}/sessions/logout`: end the caller's own session (cookie or
/// `X-Session-Token`), cause `CLIENT_LOGOUT`; with the JSON body `{"all": true}`, every
/// session of the user (one logout token per session for an RP that requires `sid`, one in
/// all for one that does not).
pub(super) async fn logout<H: Host>(req: &Request, host: &H, realm: &Realm) -> Result<Response> {
    let token = req
        .header("x-session-token")
        .or_else(|| req.cookie(session::COOKIE));
    let Some(token) = token else {
        return Err(Fail::new(
            ErrorCode::InvalidToken,
            "no session: send the session cookie or X-Session-Token",
        ));
    };
    let Some(s) = session::find(host, &realm.name, token).await? else {
        return Err(Fail::new(
            ErrorCode::InvalidToken,
            "the session does not exist or has ended",
        ));
    };
    // No body: this session. A body must be JSON, read before anything ends.
    let all = if req.body.is_empty() {
        false
    } else {
        match super::request::json_body(req)?.get("all") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(Fail::bad_request("all must be true or false")),
        }
    };
    let body = if all {
        let ended = end_user(
            host,
            realm,
            &s.sub,
            LogoutCause::ClientLogout,
            None,
            SidLess::Once,
        )
        .await?;
        let waited = ledger::wait(host, &ended.queued, realm.config.logout_wait_ms).await?;
        json!({"result": "Successfully logged out", "sessions_ended": ended.sessions, "backchannel_logout_deliveries": ended.deliveries, "deliveries": waited.outcomes})
    } else {
        let ended = end_session(host, realm, &s, LogoutCause::ClientLogout).await?;
        let waited = ledger::wait(host, &ended.queued, realm.config.logout_wait_ms).await?;
        json!({"result": "Successfully logged out", "backchannel_logout_deliveries": ended.deliveries, "deliveries": waited.outcomes})
    };
    Ok(Response::json(200, &body).with_header("set-cookie", &clear_cookie(host, realm)))
}
