//! Access tokens as every endpoint that takes one checks them (userinfo, introspection,
//! revocation): an ES256 JWT of type `at+jwt` from this realm, unexpired, not revoked, and
//! alive only while the session it was issued in lives.

use alloc::string::String;

use serde_json::{Map, Value};

use super::request::{Fail, Result};
use super::token::AT_TYP;
use crate::host::Host;
use crate::http::Params;
use crate::jose::JwsAlg;
use crate::jose::jws::Verifier;
use crate::jose::jwt::{self, Validation};
use crate::keys;
use crate::records::{Realm, User};
use crate::{realm, session};

/// An access token that passed every check.
#[derive(Debug)]
pub(super) struct Live {
    /// Its claims.
    pub claims: Map<String, Value>,
    /// Its user.
    pub user: User,
}

/// Why an access token is not live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dead {
    /// Not an access token of this realm (signature, type, issuer), or expired.
    Invalid,
    /// Revoked before its expiry (RFC 7009, or its code was replayed).
    Revoked,
    /// Its session has ended.
    SessionEnded,
}

impl Dead {
    /// Why, for an `error_description`.
    pub(super) const fn description(self) -> &'static str {
        match self {
            Self::Invalid => "the access token is invalid or expired",
            Self::Revoked => "the access token has been revoked",
            Self::SessionEnded => "the session behind this access token has ended",
        }
    }
}

/// The `token` of a revocation or introspection request (RFC 7009 §2.1, RFC 7662 §2.1):
/// required and single, as is `token_type_hint` when sent (a hint only: one kind of token is
/// revocable and introspectable here).
pub(super) fn token_param(form: &Params) -> Result<&str> {
    form.one("token_type_hint").map_err(Fail::bad_request)?;
    form.one("token")
        .map_err(Fail::bad_request)?
        .ok_or_else(|| Fail::bad_request("token is required"))
}

/// The claims of `token` when it is an access token of `realm`, signed and unexpired (whether
/// revoked or its session alive is not looked at); `None` when it is not. A realm whose key set
/// cannot be read is an error, not an invalid token.
pub(super) fn open<H: Host>(
    host: &H,
    realm: &Realm,
    token: &str,
) -> Result<Option<Map<String, Value>>> {
    let keys_set = realm::public_keys(realm)?;
    let Ok(opened) = jwt::open(
        token,
        &Verifier::new(&keys_set, &[JwsAlg::ES256]),
        None,
        host,
    ) else {
        return Ok(None);
    };
    if opened.header.get("typ").and_then(Value::as_str) != Some(AT_TYP) {
        return Ok(None);
    }
    let mut v = Validation::new(host.now());
    v.leeway_secs = 0;
    let issuer = realm::issuer(host, &realm.name);
    v.issuer = Some(&issuer);
    if jwt::validate(&opened.claims, &v).is_err() {
        return Ok(None);
    }
    let has = |name: &str| opened.claims.get(name).and_then(Value::as_str).is_some();
    Ok((has("sid") && has("client_id") && has("jti") && has("sub")).then_some(opened.claims))
}

/// Claim `name` as text (present: [`open`] checked it).
pub(super) fn text<'c>(claims: &'c Map<String, Value>, name: &str) -> &'c str {
    claims.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// Every check: signature, type, issuer, expiry, revocation, the session and the user.
pub(super) async fn check<H: Host>(
    host: &H,
    realm: &Realm,
    token: &str,
) -> Result<core::result::Result<Live, Dead>> {
    let Some(claims) = open(host, realm, token)? else {
        return Ok(Err(Dead::Invalid));
    };
    let (sid, client_id, jti, sub) = (
        text(&claims, "sid"),
        text(&claims, "client_id"),
        text(&claims, "jti"),
        text(&claims, "sub"),
    );
    if host.get(&keys::revoked(&realm.name, jti)).await?.is_some() {
        return Ok(Err(Dead::Revoked));
    }
    let Some(sess) = session::find_by_sid(host, &realm.name, sid, client_id).await? else {
        return Ok(Err(Dead::SessionEnded));
    };
    let Some(user) = session::owner(host, &realm.name, &sess)
        .await?
        .filter(|u| u.sub == sub)
    else {
        return Ok(Err(Dead::Invalid));
    };
    Ok(Ok(Live { claims, user }))
}
