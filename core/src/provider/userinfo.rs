//! The userinfo endpoint (OIDC Core §5.3): the claims of the user behind a bearer access token,
//! while the session it was issued in lives.

use alloc::string::String;

use serde_json::{Map, Value, json};

use super::access_token;
use super::request::{Fail, Result};
use super::token::add_profile_claims;
use crate::host::Host;
use crate::http::{Request, Response};
use crate::oauth::ErrorCode;
use crate::records::Realm;

/// `GET/POST /realms/{R}/userinfo` with a bearer access token.
pub(super) async fn userinfo<H: Host>(req: &Request, host: &H, realm: &Realm) -> Result<Response> {
    let bearer = match req.bearer() {
        Some(t) => String::from(t),
        None => req
            .form()
            .and_then(|f| f.get("access_token").map(String::from))
            .ok_or_else(|| {
                Fail::new(ErrorCode::InvalidToken, "a bearer access token is required")
            })?,
    };
    let live = access_token::check(host, realm, &bearer)
        .await?
        .map_err(|dead| Fail::new(ErrorCode::InvalidToken, dead.description()))?;
    let (claims, user) = (&live.claims, &live.user);
    let mut out = Map::new();
    out.insert("sub".into(), json!(user.sub));
    add_profile_claims(
        &mut out,
        user,
        claims.get("scope").and_then(Value::as_str).unwrap_or(""),
    );
    Ok(Response::json(200, &Value::Object(out)))
}
