//! The introspection endpoint (RFC 7662): for a confidential client (a resource server, say),
//! whether an access token is active — unexpired, not revoked, and its session alive — and
//! what it stands for; and for the client a refresh token was issued to, whether that one is.

use serde_json::{Map, Value, json};

use super::access_token;
use super::refresh_token;
use super::request::{Fail, Result};
use super::token::authenticate_client;
use crate::client_metadata::AuthMethod;
use crate::host::Host;
use crate::http::{Request, Response};
use crate::oauth::ErrorCode;
use crate::realm;
use crate::records::Realm;

/// The claims an active token's answer repeats from the token.
const REPEATED: [&str; 9] = [
    "scope",
    "client_id",
    "sub",
    "aud",
    "exp",
    "iat",
    "iss",
    "jti",
    "sid",
];

/// `POST /realms/{R}/introspect` with `token`, by a client with a secret.
pub(super) async fn introspect<H: Host>(
    req: &Request,
    host: &H,
    realm: &Realm,
) -> Result<Response> {
    let form = super::request::form(req)?;
    let client = authenticate_client(req, host, realm, &form).await?;
    if client.metadata.token_endpoint_auth_method == AuthMethod::None {
        return Err(Fail::new(
            ErrorCode::InvalidClient,
            "introspection is for confidential clients",
        ));
    }
    let token = access_token::token_param(&form)?;
    let mut out = Map::new();
    if !token.contains('.') {
        // A refresh token: active while it could refresh, and only to its own client.
        match refresh_token::check(host, realm, &client, token).await? {
            refresh_token::Verdict::Live(live) => {
                out.insert("active".into(), json!(true));
                out.insert("scope".into(), json!(live.family.record.scope));
                out.insert("client_id".into(), json!(client.client_id));
                out.insert("sub".into(), json!(live.user.sub));
                out.insert("username".into(), json!(live.user.username));
                out.insert("exp".into(), json!(live.token.expires_at));
                out.insert("iat".into(), json!(live.token.iat));
                out.insert("iss".into(), json!(realm::issuer(host, &realm.name)));
                out.insert("token_type".into(), json!("refresh_token"));
                if let Some(s) = &live.session {
                    out.insert("sid".into(), json!(s.sid_for(&client.client_id)));
                }
            }
            _ => {
                out.insert("active".into(), json!(false));
            }
        }
        return Ok(Response::json(200, &Value::Object(out)));
    }
    match access_token::check(host, realm, token).await? {
        Ok(live) => {
            out.insert("active".into(), json!(true));
            for name in REPEATED {
                if let Some(v) = live.claims.get(name) {
                    out.insert(name.into(), v.clone());
                }
            }
            out.insert("username".into(), json!(live.user.username));
            out.insert("token_type".into(), json!("Bearer"));
        }
        // RFC 7662 §2.2: an inactive token gets nothing but `active: false`.
        Err(_) => {
            out.insert("active".into(), json!(false));
        }
    }
    Ok(Response::json(200, &Value::Object(out)))
}
