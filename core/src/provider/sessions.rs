//! The session API: `POST /realms/{R}/sessions/logout` ends the caller's own session.

use serde_json::json;

use super::end_session::clear_cookie;
use super::request::{Fail, Result};
use crate::host::Host;
use crate::http::{Request, Response};
use crate::logout::LogoutCause;
use crate::logout::end::end_session;
use crate::oauth::ErrorCode;
use crate::records::Realm;
use crate::session;

/// `POST /realms/{R}/sessions/logout`: end the caller's own session (cookie or
/// `X-Session-Token`), cause `CLIENT_LOGOUT`.
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
    let ended = end_session(host, realm, &s, LogoutCause::ClientLogout).await?;
    let body = json!({"result": "Successfully logged out", "backchannel_logout_deliveries": ended.deliveries});
    Ok(Response::json(200, &body).with_header("set-cookie", &clear_cookie(host, realm)))
}
