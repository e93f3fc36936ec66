//! Access tokens as every endpoint that takes one checks them (userinfo, introspection,
//! revocation): an ES256 JWT of type `at+jwt` from this realm, unexpired, not revoked, and
//! alive only while the session it was issued in lives.

use alloc::string::String;

use serde_json::{Map, Value};

use super::refresh_token;
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
/// required and single, as is `token_type_hint` when sent (a hint only: an access token is a
/// JWT, a refresh token is not, so the token itself says which it is).
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
        &Verifier::new(&keys_set, &[JwsAlg::ES256]).checking_with(host.crypto()),
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
    // A token names its session (`sid`) or, issued after it ended, its grant (`jti`).
    let bound = has("sid") || text(&opened.claims, "jti").contains('.');
    Ok((bound && has("client_id") && has("jti") && has("sub")).then_some(opened.claims))
}

/// The grant an access token came from: its `jti` up to the first `.` (`{grant}.{n}`).
pub(super) fn grant_of(jti: &str) -> &str {
    jti.split_once('.').map_or(jti, |(g, _)| g)
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
    let (client_id, jti, sub) = (
        text(&claims, "client_id"),
        text(&claims, "jti"),
        text(&claims, "sub"),
    );
    // Revoked alone (RFC 7009), or with its whole grant (a replayed code, a revoked or
    // replayed refresh token).
    let grant = grant_of(jti);
    let revoked = |id: &str| keys::revoked(&realm.name, id);
    if host.get(&revoked(jti)).await?.is_some()
        || (grant != jti && host.get(&revoked(grant)).await?.is_some())
    {
        return Ok(Err(Dead::Revoked));
    }
    let user = match claims.get("sid").and_then(Value::as_str) {
        Some(sid) => {
            let Some(sess) = session::find_by_sid(host, &realm.name, sid, client_id).await? else {
                return Ok(Err(Dead::SessionEnded));
            };
            session::owner(host, &realm.name, &sess).await?
        }
        // Offline access after the session ended: alive while its refresh token family stands.
        None => {
            let Some(f) = refresh_token::load_family(host, realm, sub, client_id, grant).await?
            else {
                return Ok(Err(Dead::Revoked));
            };
            match refresh_token::standing(host, realm, &f.record).await? {
                Ok((None, user)) => Some(user),
                _ => return Ok(Err(Dead::Revoked)),
            }
        }
    };
    let Some(user) = user.filter(|u| u.sub == sub) else {
        return Ok(Err(Dead::Invalid));
    };
    Ok(Ok(Live { claims, user }))
}
