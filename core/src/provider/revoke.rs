//! The revocation endpoint (RFC 7009): a client revokes an access token or a refresh token it
//! was issued. A refresh token takes its whole family with it, and every access token of its
//! grant. Revoking a token is not a logout: the session goes on, and so does the back-channel
//! logout its end will send.

use serde_json::Value;

use super::access_token;
use super::refresh_token;
use super::request::{Fail, Result};
use super::token::authenticate_client;
use crate::host::Host;
use crate::http::{Request, Response};
use crate::keys;
use crate::oauth::ErrorCode;
use crate::records::Realm;

/// `POST /realms/{R}/revoke` with `token` (and an optional `token_type_hint`), the client
/// authenticated as at the token endpoint. 200 for a token revoked, already dead or unknown
/// (RFC 7009 §2.2: the client cannot act on the difference); `unauthorized_client` for a
/// token of another client.
pub(super) async fn revoke<H: Host>(req: &Request, host: &H, realm: &Realm) -> Result<Response> {
    let form = super::request::form(req)?;
    let client = authenticate_client(req, host, realm, &form).await?;
    let token = access_token::token_param(&form)?;
    if !token.contains('.') {
        return match refresh_token::check(host, realm, &client, token).await? {
            refresh_token::Verdict::Live(live) => {
                refresh_token::revoke(host, realm, &live.family).await?;
                Ok(revoked())
            }
            refresh_token::Verdict::Replayed(family) => {
                refresh_token::revoke(host, realm, &family).await?;
                Ok(revoked())
            }
            refresh_token::Verdict::OtherClient => Err(another_client()),
            refresh_token::Verdict::Dead(_) => Ok(revoked()),
        };
    }
    let Some(claims) = access_token::open(host, realm, token)? else {
        return Ok(revoked());
    };
    if access_token::text(&claims, "client_id") != client.client_id {
        return Err(another_client());
    }
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    let ttl = exp.saturating_sub(host.now().secs()).max(1);
    host.put(
        &keys::revoked(&realm.name, access_token::text(&claims, "jti")),
        b"",
        Some(ttl),
    )
    .await?;
    Ok(revoked())
}

fn another_client() -> Fail {
    Fail::new(
        ErrorCode::UnauthorizedClient,
        "the token was issued to another client",
    )
}

/// RFC 7009 §2.2: an empty 200, never cached.
fn revoked() -> Response {
    Response::empty(200).with_header("cache-control", "no-store")
}
