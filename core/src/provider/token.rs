//! The token endpoint (authorization code grant): ID and access tokens.

use alloc::{format, string::String};

use serde_json::{Map, Value, json};

use super::refresh_token;
use super::request::{Fail, Result};
use crate::client_metadata::AuthMethod;
use crate::host::Host;
use crate::http::{Params, Request, Response, decode_segment};
use crate::jose::JwsAlg;
use crate::jose::jwe::EncryptOptions;
use crate::keys;
use crate::oauth::ErrorCode;
use crate::records::{self, AuthorizationCode, Client, Realm, User};
use crate::{crypto, opaque_token, realm, session};

/// The `typ` of access tokens (RFC 9068).
pub(super) const AT_TYP: &str = "at+jwt";

fn invalid_client(d: &str) -> Fail {
    Fail::new(ErrorCode::InvalidClient, d)
}

fn invalid_grant(d: &str) -> Fail {
    Fail::new(ErrorCode::InvalidGrant, d)
}

/// Authenticate the client as it registered: HTTP Basic, form post, or none (public). The
/// token, revocation and introspection endpoints all authenticate clients this way.
pub(super) async fn authenticate_client<H: Host>(
    req: &Request,
    host: &H,
    realm: &Realm,
    form: &Params,
) -> Result<Client> {
    let basic = req.header("authorization").and_then(|v| {
        let (scheme, cred) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then(|| cred.trim())
    });
    let (client_id, secret, method) = if let Some(cred) = basic {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(cred)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        let (id, secret) = raw
            .split_once(':')
            .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        // RFC 6749 §2.3.1: both halves are form-urlencoded before Basic encoding.
        let id = decode_form_component(id)
            .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        let secret = decode_form_component(secret)
            .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        // RFC 6749 §2.3: one authentication method per request.
        if form.0.iter().any(|(k, _)| {
            matches!(
                k.as_str(),
                "client_secret" | "client_assertion" | "client_assertion_type"
            )
        }) {
            return Err(Fail::bad_request(
                "use one client authentication method, not two",
            ));
        }
        // A client_id in the body must name the client the Basic credentials authenticate.
        match form.one("client_id").map_err(Fail::bad_request)? {
            Some(body_id) if body_id != id => {
                return Err(Fail::bad_request(
                    "client_id in the body differs from the authenticated client",
                ));
            }
            _ => {}
        }
        (id, Some(secret), AuthMethod::ClientSecretBasic)
    } else {
        if form.get("client_assertion").is_some() || form.get("client_assertion_type").is_some() {
            return Err(invalid_client(
                "client assertions are not supported (token_endpoint_auth_methods_supported)",
            ));
        }
        let id = form
            .one("client_id")
            .map_err(Fail::bad_request)?
            .ok_or_else(|| invalid_client("client authentication is required"))?;
        match form.one("client_secret").map_err(Fail::bad_request)? {
            Some(s) => (
                String::from(id),
                Some(String::from(s)),
                AuthMethod::ClientSecretPost,
            ),
            None => (String::from(id), None, AuthMethod::None),
        }
    };
    let client: Option<Client> = if super::request::valid_client_id(&client_id) {
        records::load(host, &keys::client(&realm.name, &client_id)).await?
    } else {
        None
    };
    let client = client.ok_or_else(|| invalid_client("unknown client or bad credentials"))?;
    if client.metadata.token_endpoint_auth_method != method {
        return Err(invalid_client(
            "the client must authenticate as it registered (token_endpoint_auth_method)",
        ));
    }
    if method != AuthMethod::None {
        let ok = match (&secret, &client.secret_hash) {
            (Some(s), Some(h)) => opaque_token::matches_hash(s, h),
            _ => false,
        };
        if !ok {
            return Err(invalid_client("unknown client or bad credentials"));
        }
    }
    Ok(client)
}

fn decode_form_component(s: &str) -> Option<String> {
    decode_segment(&s.replace('+', "%20"))
}

/// `POST /realms/{R}/token`: the authorization code grant, and the refresh token grant for
/// clients registered for it.
pub(super) async fn token<H: Host>(req: &Request, host: &H, realm: &Realm) -> Result<Response> {
    let form = super::request::form(req)?;
    let client = authenticate_client(req, host, realm, &form).await?;
    match form.one("grant_type").map_err(Fail::bad_request)? {
        Some("authorization_code") => code_grant(host, realm, &client, &form).await,
        Some("refresh_token") => refresh_grant(host, realm, &client, &form).await,
        Some(_) => Err(Fail::new(
            ErrorCode::UnsupportedGrantType,
            "grant_type must be authorization_code or refresh_token",
        )),
        None => Err(Fail::bad_request("grant_type is required")),
    }
}

/// `grant_type=authorization_code`.
async fn code_grant<H: Host>(
    host: &H,
    realm: &Realm,
    client: &Client,
    form: &Params,
) -> Result<Response> {
    let code = form
        .one("code")
        .map_err(Fail::bad_request)?
        .ok_or_else(|| Fail::bad_request("code is required"))?;
    let key = keys::code(&realm.name, &opaque_token::hash(code));
    let record: Option<(AuthorizationCode, alloc::vec::Vec<u8>)> =
        records::load_raw(host, &key).await?;
    let (mut record, raw) =
        record.ok_or_else(|| invalid_grant("the code is invalid, expired or already used"))?;
    if record.redeemed.is_some() {
        replayed_code(host, realm, &key, &record).await?;
        return Err(invalid_grant(
            "the code is invalid, expired or already used",
        ));
    }
    let now = host.now();
    if now.secs() >= record.expires_at {
        host.delete(&key).await?;
        return Err(invalid_grant(
            "the code is invalid, expired or already used",
        ));
    }
    // Single use: marked used before anything else is decided, and kept as long as the
    // access token it may issue lives, so that a replay can revoke what it issued.
    let grant_id = crate::logout::logout_token::random_id(host)?;
    record.redeemed = Some(grant_id.clone());
    let ttl = Some(realm.config.access_token_ttl_secs);
    if !records::replace(host, &key, &raw, &record, ttl).await? {
        // Redeemed at the same moment by another request: one of the two is a replay, and
        // which cannot be told, so what the other issued is revoked as for any replay.
        if let Some((winner, _)) = records::load_raw::<AuthorizationCode, _>(host, &key).await? {
            replayed_code(host, realm, &key, &winner).await?;
        }
        return Err(invalid_grant(
            "the code is invalid, expired or already used",
        ));
    }
    if record.client_id != client.client_id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if form.one("redirect_uri").map_err(Fail::bad_request)? != Some(record.redirect_uri.as_str()) {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    let verifier = form.one("code_verifier").map_err(Fail::bad_request)?;
    match (&record.code_challenge, verifier) {
        (Some(challenge), Some(v)) => {
            let well_formed = (43..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if !well_formed || !opaque_token::pkce_s256_matches(v, challenge) {
                return Err(invalid_grant("PKCE verification failed"));
            }
        }
        (Some(_), None) => return Err(invalid_grant("code_verifier is required")),
        (None, Some(_)) => {
            return Err(invalid_grant(
                "code_verifier given but the request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    let Some(mut sess) = session::find_by_id(host, &realm.name, &record.session_id).await? else {
        return Err(invalid_grant("the session has ended"));
    };
    // The code, the session and the account must be the same account (`sub`), enabled.
    let user = match session::owner(host, &realm.name, &sess).await? {
        Some(u) if u.sub == record.sub && sess.sub == record.sub => u,
        _ => return Err(invalid_grant("the account no longer exists or is disabled")),
    };
    if !session::join(host, &realm.name, &mut sess, &client.client_id).await? {
        return Err(invalid_grant("the session has ended"));
    }
    let refresh = if refresh_token::allowed(client) {
        Some(refresh_token::start(host, realm, client, &sess, &record.scope, &grant_id).await?)
    } else {
        None
    };
    let sid = sess.sid_for(&client.client_id);
    let minted = Mint {
        scope: &record.scope,
        sid: Some(&sid),
        auth_time: record.auth_time,
        nonce: record.nonce.as_deref(),
        jti: &format!("{grant_id}.0"),
    };
    tokens(host, realm, client, &user, &minted, refresh).await
}

/// A code presented again: what its first use issued is revoked (RFC 6749 §4.1.2) — every
/// access token of the grant, and its refresh tokens — and the code goes.
async fn replayed_code<H: Host>(
    host: &H,
    realm: &Realm,
    key: &str,
    record: &AuthorizationCode,
) -> Result<()> {
    if let Some(grant_id) = &record.redeemed {
        host.put(
            &keys::revoked(&realm.name, grant_id),
            b"",
            Some(realm.config.access_token_ttl_secs),
        )
        .await?;
        refresh_token::revoke_grant(host, realm, &record.sub, &record.client_id, grant_id).await?;
    }
    host.delete(key).await?;
    Ok(())
}

/// `grant_type=refresh_token`: rotate the family's token, and issue new tokens — with the
/// client's `sid` while the session lives, without once it has ended (`offline_access`).
async fn refresh_grant<H: Host>(
    host: &H,
    realm: &Realm,
    client: &Client,
    form: &Params,
) -> Result<Response> {
    let presented = form
        .one("refresh_token")
        .map_err(Fail::bad_request)?
        .ok_or_else(|| Fail::bad_request("refresh_token is required"))?;
    let asked = form.one("scope").map_err(Fail::bad_request)?;
    if !refresh_token::allowed(client) {
        return Err(Fail::new(
            ErrorCode::UnauthorizedClient,
            "the client is not registered for the refresh_token grant",
        ));
    }
    let mut live = match refresh_token::check(host, realm, client, presented).await? {
        refresh_token::Verdict::Live(live) => live,
        refresh_token::Verdict::Replayed(family) => {
            refresh_token::replayed(host, realm, &family).await?;
            return Err(invalid_grant(
                "the refresh token was already used: its grant is revoked",
            ));
        }
        refresh_token::Verdict::OtherClient => {
            return Err(invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        refresh_token::Verdict::Dead(why) => return Err(invalid_grant(why)),
    };
    // RFC 6749 §6: a narrower scope may be asked for, never a wider one.
    let granted: alloc::vec::Vec<&str> = live.family.record.scope.split(' ').collect();
    let scope = match asked {
        None => live.family.record.scope.clone(),
        Some(a) => {
            let mut wanted: alloc::vec::Vec<&str> = alloc::vec::Vec::new();
            for s in a.split(' ').filter(|s| !s.is_empty()) {
                if !granted.contains(&s) {
                    return Err(Fail::new(
                        ErrorCode::InvalidScope,
                        "the scope asked for exceeds the one granted",
                    ));
                }
                if !wanted.contains(&s) {
                    wanted.push(s);
                }
            }
            if wanted.is_empty() {
                return Err(Fail::new(ErrorCode::InvalidScope, "scope is empty"));
            }
            wanted.join(" ")
        }
    };
    if let Some(s) = &mut live.session
        && !session::touch(host, &realm.name, s).await?
    {
        // Ended since it was read: as for any refresh after the end.
        live.session = None;
        if !refresh_token::outlives_session(&live.family.record, realm) {
            return Err(invalid_grant("the session has ended"));
        }
    }
    let Some(refresh) = refresh_token::rotate(host, realm, &mut live).await? else {
        // The same token refreshed twice at once: one of the two is a replay.
        refresh_token::replayed(host, realm, &live.family).await?;
        return Err(invalid_grant(
            "the refresh token was already used: its grant is revoked",
        ));
    };
    let sid = live.session.as_ref().map(|s| s.sid_for(&client.client_id));
    let minted = Mint {
        scope: &scope,
        sid: sid.as_deref(),
        auth_time: live.family.record.auth_time,
        nonce: None,
        jti: &format!("{}.{}", live.family.id, live.family.record.generation),
    };
    tokens(host, realm, client, &live.user, &minted, Some(refresh)).await
}

/// What the tokens of one answer of the token endpoint say.
struct Mint<'a> {
    /// The scope they carry.
    scope: &'a str,
    /// The client's `sid`, while the session lives.
    sid: Option<&'a str>,
    /// When the user authenticated.
    auth_time: u64,
    /// The authorization request's `nonce` (never on a refresh: OIDC Core §12.2).
    nonce: Option<&'a str>,
    /// The access token's `jti`: `{grant}.{n}`.
    jti: &'a str,
}

/// The token endpoint's answer: an ID token (with `openid`), an access token, and the refresh
/// token when there is one.
async fn tokens<H: Host>(
    host: &H,
    realm: &Realm,
    client: &Client,
    user: &User,
    m: &Mint<'_>,
    refresh: Option<String>,
) -> Result<Response> {
    let mut body = json!({
        "access_token": access_token(host, realm, client, user, m).await?,
        "token_type": "Bearer",
        "expires_in": realm.config.access_token_ttl_secs,
        "scope": m.scope,
    });
    if m.scope.split(' ').any(|s| s == "openid") {
        body["id_token"] = json!(id_token(host, realm, client, user, m).await?);
    }
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    Ok(Response::json(200, &body))
}

/// An ID token for `client`, signed (and encrypted) as it registered.
async fn id_token<H: Host>(
    host: &H,
    realm: &Realm,
    client: &Client,
    user: &User,
    m: &Mint<'_>,
) -> Result<String> {
    let now = host.now();
    let issuer = realm::issuer(host, &realm.name);
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("sub".into(), json!(user.sub));
    claims.insert("aud".into(), json!(client.client_id));
    claims.insert(
        "exp".into(),
        json!(now.plus(realm.config.id_token_ttl_secs).secs()),
    );
    claims.insert("iat".into(), json!(now.secs()));
    claims.insert("auth_time".into(), json!(m.auth_time));
    if let Some(n) = m.nonce {
        claims.insert("nonce".into(), json!(n));
    }
    if let Some(sid) = m.sid {
        claims.insert("sid".into(), json!(sid));
    }
    add_profile_claims(&mut claims, user, m.scope);
    let alg = client.metadata.signing_alg();
    let signing_key = realm::signing_key(host, realm, alg).await?;
    let encryption = client.metadata.encryption();
    let enc_opts = encryption
        .as_ref()
        .map(|(_, a, e)| EncryptOptions::new(*a, *e));
    let encrypt_to = match (&encryption, &enc_opts) {
        (Some((k, _, _)), Some(o)) => Some((k, o)),
        _ => None,
    };
    Ok(crypto::sign_jwt(
        host.crypto(),
        host,
        &claims,
        &signing_key,
        alg,
        None,
        encrypt_to,
    )
    .await?)
}

pub(super) fn add_profile_claims(claims: &mut Map<String, Value>, user: &User, scope: &str) {
    let scopes: alloc::vec::Vec<&str> = scope.split(' ').collect();
    if scopes.contains(&"email")
        && let Some(e) = &user.email
    {
        claims.insert("email".into(), json!(e));
    }
    if scopes.contains(&"profile") {
        if let Some(n) = &user.name {
            claims.insert("name".into(), json!(n));
        }
        claims.insert("preferred_username".into(), json!(user.username));
    }
}

/// A JWT access token (RFC 9068) signed with the realm's ES256 key. It names its session by
/// the client's own `sid` (never by a handle every client shares), so that it dies with the
/// session; one without `sid` (offline access after the session ended) lives by its refresh
/// token family, named by its `jti`. The user name only with the `profile` scope.
async fn access_token<H: Host>(
    host: &H,
    realm: &Realm,
    client: &Client,
    user: &User,
    m: &Mint<'_>,
) -> Result<String> {
    let now = host.now();
    let issuer = realm::issuer(host, &realm.name);
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("sub".into(), json!(user.sub));
    claims.insert("aud".into(), json!(client.client_id));
    claims.insert("client_id".into(), json!(client.client_id));
    claims.insert("iat".into(), json!(now.secs()));
    claims.insert(
        "exp".into(),
        json!(now.plus(realm.config.access_token_ttl_secs).secs()),
    );
    claims.insert("jti".into(), json!(m.jti));
    claims.insert("scope".into(), json!(m.scope));
    if let Some(sid) = m.sid {
        claims.insert("sid".into(), json!(sid));
    }
    if m.scope.split(' ').any(|s| s == "profile") {
        claims.insert("username".into(), json!(user.username));
    }
    let key = realm::signing_key(host, realm, JwsAlg::ES256).await?;
    Ok(crypto::sign_jwt(
        host.crypto(),
        host,
        &claims,
        &key,
        JwsAlg::ES256,
        Some(AT_TYP),
        None,
    )
    .await?)
}
