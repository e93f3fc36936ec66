//! The userinfo endpoint (OIDC Core §5.3): the claims of the user behind a bearer access token,
//! while the session it was issued in lives.

use alloc::string::String;

use serde_json::{Map, Value, json};

use super::request::{Fail, Result};
use super::token::{AT_TYP, add_profile_claims};
use crate::host::Host;
use crate::http::{Request, Response};
use crate::jose::JwsAlg;
use crate::jose::jws::Verifier;
use crate::jose::jwt::{self, Validation};
use crate::keys;
use crate::oauth::ErrorCode;
use crate::records::Realm;
use crate::{realm, session};

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
    let invalid = || {
        Fail::new(
            ErrorCode::InvalidToken,
            "the access token is invalid or expired",
        )
    };
    let keys_set = realm::public_keys(realm)?;
    let opened = jwt::open(
        &bearer,
        &Verifier::new(&keys_set, &[JwsAlg::ES256]),
        None,
        host,
    )
    .map_err(|_| invalid())?;
    if opened.header.get("typ").and_then(Value::as_str) != Some(AT_TYP) {
        return Err(invalid());
    }
    let mut v = Validation::new(host.now());
    v.leeway_secs = 0;
    let issuer = realm::issuer(host, &realm.name);
    v.issuer = Some(&issuer);
    jwt::validate(&opened.claims, &v).map_err(|_| invalid())?;
    let claims = &opened.claims;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).ok_or_else(invalid);
    let (sid, client_id, jti, sub) = (text("sid")?, text("client_id")?, text("jti")?, text("sub")?);
    if host.get(&keys::revoked(&realm.name, jti)).await?.is_some() {
        return Err(Fail::new(
            ErrorCode::InvalidToken,
            "the access token has been revoked",
        ));
    }
    let Some(sess) = session::find_by_sid(host, &realm.name, sid, client_id).await? else {
        return Err(Fail::new(
            ErrorCode::InvalidToken,
            "the session behind this access token has ended",
        ));
    };
    let user = session::owner(host, &realm.name, &sess)
        .await?
        .filter(|u| u.sub == sub)
        .ok_or_else(invalid)?;
    let mut out = Map::new();
    out.insert("sub".into(), json!(user.sub));
    add_profile_claims(
        &mut out,
        &user,
        claims.get("scope").and_then(Value::as_str).unwrap_or(""),
    );
    Ok(Response::json(200, &Value::Object(out)))
}
