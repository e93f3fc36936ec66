//! The admin API: realms, their keys, clients and users, behind the host's admin token.

mod lists;

use alloc::{format, string::String};

use serde::Deserialize;
use serde_json::{Value, json};

use super::request::{Fail, Result, json_body, valid_client_id, valid_username};
use crate::client_metadata::{AuthMethod, ClientMetadata};
use crate::host::Host;
use crate::http::{Method, Request, Response};
use crate::keys;
use crate::logout::ledger;
use crate::oauth::ErrorCode;
use crate::records::{self, Client, Realm, RealmConfig, User};
use crate::{opaque_token, password, realm};

/// Check the bearer admin token, in constant time.
pub(super) fn authorize<H: Host>(req: &Request, host: &H) -> Result<()> {
    let expected = &host.config().admin_token;
    match req.bearer() {
        Some(t) if !expected.is_empty() && opaque_token::ct_eq(t, expected) => Ok(()),
        Some(_) => Err(Fail::new(
            ErrorCode::InvalidToken,
            "the admin token is not valid",
        )),
        None => Err(Fail::new(
            ErrorCode::InvalidToken,
            "the admin API needs a bearer token",
        )),
    }
}

pub(super) async fn route<H: Host>(req: &Request, host: &H, segs: &[&str]) -> Result<Response> {
    let m = req.method;
    match segs {
        ["realms", r] => match m {
            Method::Put | Method::Patch => put_realm(req, host, r).await,
            Method::Get => Ok(Response::json(200, &realm_view(&load(host, r).await?))),
            Method::Delete => delete_realm(host, r).await,
            _ => Err(super::request::method_not_allowed()),
        },
        ["realms"] if m == Method::Get => lists::realms(req, host, realm_view).await,
        ["realms", r, "clients"] if m == Method::Get => {
            lists::clients(req, host, &load(host, r).await?, |c| client_view(c, None)).await
        }
        ["realms", r, "users"] if m == Method::Get => {
            lists::users(req, host, &load(host, r).await?, user_view).await
        }
        ["realms", r, "keys", "rotate"] if m == Method::Post => {
            let mut realm = load(host, r).await?;
            realm::rotate(host, &mut realm).await?;
            Ok(Response::json(200, &realm_view(&realm)))
        }
        ["realms", r, "clients", id] => {
            let realm = load(host, r).await?;
            // An id that cannot exist is never made a store key (Workers KV refuses keys
            // over 512 bytes).
            if m != Method::Put && !valid_client_id(id) {
                return Err(not_found("client"));
            }
            match m {
                Method::Put => put_client(req, host, &realm, id).await,
                Method::Get => {
                    let c: Client = records::load(host, &keys::client(r, id))
                        .await?
                        .ok_or_else(|| not_found("client"))?;
                    Ok(Response::json(200, &client_view(&c, None)))
                }
                Method::Delete => delete(host, &keys::client(r, id), "client").await,
                _ => Err(super::request::method_not_allowed()),
            }
        }
        ["realms", r, "clients", id, "backchannel-check"] if m == Method::Post => {
            super::backchannel_check::check(host, r, id).await
        }
        ["realms", r, "users", name, "grants", rest @ ..] if rest.len() <= 1 => {
            let realm = load(host, r).await?;
            let user = load_user(host, &realm, name).await?;
            let client = rest.first().copied();
            match m {
                Method::Get => list_grants(host, &realm, &user, client).await,
                Method::Delete => revoke_grants(host, &realm, &user, client).await,
                _ => Err(super::request::method_not_allowed()),
            }
        }
        ["realms", r, "sessions"] if m == Method::Get => {
            let q = req.query_params();
            list_sessions(host, &load(host, r).await?, q.get("user")).await
        }
        ["realms", r, "users", name, "sessions"] => {
            let realm = load(host, r).await?;
            if !valid_username(name) {
                return Err(Fail::bad_request("invalid user name"));
            }
            match m {
                Method::Get => list_sessions(host, &realm, Some(name)).await,
                // Sign the user out everywhere.
                Method::Delete => {
                    let user = load_user(host, &realm, name).await?;
                    let ended = end_user_sessions(
                        host,
                        &realm,
                        &user.sub,
                        "administrator",
                        crate::logout::end::SidLess::Once,
                    )
                    .await?;
                    Ok(Response::json(
                        200,
                        &json!({"sessions_ended": ended.sessions, "backchannel_logout_deliveries": ended.deliveries}),
                    ))
                }
                _ => Err(super::request::method_not_allowed()),
            }
        }
        ["realms", r, "sessions", id] if m == Method::Delete => {
            let realm = load(host, r).await?;
            // Session ids are 43 base64url characters; nothing else is looked up.
            if !opaque_token::is_token(id) {
                return Err(not_found("session"));
            }
            let s = crate::session::load_any(host, r, id)
                .await?
                .ok_or_else(|| not_found("session"))?;
            crate::logout::end::end_session(
                host,
                &realm,
                &s,
                crate::logout::LogoutCause::SessionTermination,
            )
            .await?;
            Ok(Response::empty(204))
        }
        ["realms", r, "audit"] if m == Method::Get => {
            load(host, r).await?;
            let q = req.query_params();
            let since = match q.get("since") {
                None => 0,
                Some(t) => crate::audit::parse_rfc3339_ms(t)
                    .ok_or_else(|| Fail::bad_request("since must be an RFC 3339 date-time"))?,
            };
            let events = crate::audit::query(host, r, q.get("event"), since).await?;
            Ok(Response::json(
                200,
                &json!({ "result": events, "resultCount": events.len() }),
            ))
        }
        ["realms", r, "deliveries"] if m == Method::Get => {
            list_deliveries(req, host, &load(host, r).await?).await
        }
        ["realms", r, "deliveries", id, "retry"] if m == Method::Post => {
            retry_delivery(host, &load(host, r).await?, id).await
        }
        ["realms", r, "clients", id, "deliveries", "stats"] if m == Method::Get => {
            delivery_stats(req, host, &load(host, r).await?, id).await
        }
        ["realms", r, "users", name] => {
            let realm = load(host, r).await?;
            if !valid_username(name) {
                return Err(Fail::bad_request("invalid user name"));
            }
            match m {
                Method::Put | Method::Patch => put_user(req, host, &realm, name).await,
                Method::Get => Ok(Response::json(
                    200,
                    &user_view(&load_user(host, &realm, name).await?),
                )),
                Method::Delete => delete_user(host, &realm, name).await,
                _ => Err(super::request::method_not_allowed()),
            }
        }
        _ => Err(super::request::not_found()),
    }
}

fn not_found(what: &str) -> Fail {
    Fail::new(ErrorCode::NotFound, format!("no such {what}"))
}

/// A realm that exists and is not being deleted.
async fn load<H: Host>(host: &H, name: &str) -> Result<Realm> {
    if !realm::valid_name(name) {
        return Err(not_found("realm"));
    }
    realm::load(host, name)
        .await?
        .filter(|r| !r.deleting)
        .ok_or_else(|| not_found("realm"))
}

async fn load_user<H: Host>(host: &H, realm: &Realm, name: &str) -> Result<User> {
    if !valid_username(name) {
        return Err(Fail::bad_request("invalid user name"));
    }
    records::load(host, &keys::user(&realm.name, name))
        .await?
        .ok_or_else(|| not_found("user"))
}

async fn delete<H: Host>(host: &H, key: &str, what: &str) -> Result<Response> {
    if host.get(key).await?.is_none() {
        return Err(not_found(what));
    }
    host.delete(key).await?;
    Ok(Response::empty(204))
}

fn realm_view(r: &Realm) -> Value {
    json!({
        "realm": r.name,
        "config": r.config,
        "keys": r.keys.iter().map(|k| json!({"kid": k.kid, "kty": k.kty, "status": k.status})).collect::<alloc::vec::Vec<_>>(),
        "created": r.created,
    })
}

async fn put_realm<H: Host>(req: &Request, host: &H, name: &str) -> Result<Response> {
    if !realm::valid_name(name) {
        return Err(Fail::bad_request(
            "a realm name is 1 to 64 of a-z, 0-9, '-' and '_'",
        ));
    }
    let body = if req.body.is_empty() {
        json!({})
    } else {
        json_body(req)?
    };
    let Value::Object(changes) = body else {
        return Err(Fail::bad_request("realm settings must be a JSON object"));
    };
    let existing = realm::load(host, name).await?;
    if existing.as_ref().is_some_and(|r| r.deleting) {
        return Err(Fail::new(
            ErrorCode::Conflict,
            "the realm is being deleted; try again once its relying parties have been told",
        ));
    }
    // PUT and PATCH both merge: fields not given keep their stored (or default) values.
    let mut merged = match serde_json::to_value(
        existing
            .as_ref()
            .map_or_else(RealmConfig::default, |r| r.config.clone()),
    ) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    for (k, v) in changes {
        merged.insert(k, v);
    }
    let mut config = RealmConfig::deserialize(&Value::Object(merged))
        .map_err(|e| Fail::bad_request(format!("realm config: {e}")))?;
    validate_config(&config)?;
    match existing {
        None => {
            let realm = realm::create(host, name, config).await?;
            Ok(Response::json(201, &realm_view(&realm)))
        }
        Some(mut realm) => {
            if let Some(t) = config.registration_token.take() {
                realm.registration_token_hash = Some(opaque_token::hash(&t));
            }
            realm.config = config;
            records::save(host, &keys::realm(name), &realm, None).await?;
            Ok(Response::json(200, &realm_view(&realm)))
        }
    }
}

fn validate_config(c: &RealmConfig) -> Result<()> {
    let bad = |m: &str| Err(Fail::bad_request(String::from(m)));
    if c.id_token_signing_alg
        .parse::<crate::jose::JwsAlg>()
        .is_err()
    {
        return bad("id_token_signing_alg must be ES256, RS256 or PS256");
    }
    if !(60..=365 * 86400).contains(&c.session_max_time_secs)
        || !(60..=c.session_max_time_secs).contains(&c.session_idle_time_secs)
    {
        return bad(
            "session times: 60 s <= session_idle_time_secs <= session_max_time_secs <= 365 days",
        );
    }
    if !(60..=86400).contains(&c.access_token_ttl_secs)
        || !(60..=86400).contains(&c.id_token_ttl_secs)
    {
        return bad("token lifetimes must be 60 s to one day");
    }
    if !(60..=365 * 86400).contains(&c.refresh_token_ttl_secs)
        || !(60..=730 * 86400).contains(&c.offline_token_ttl_secs)
    {
        return bad(
            "refresh_token_ttl_secs must be 60 s to 365 days; offline_token_ttl_secs 60 s to 730 days",
        );
    }
    if c.logout_wait_ms > 10_000 {
        return bad("logout_wait_ms must be 0 to 10000");
    }
    if c.registration_token.as_ref().is_some_and(|t| t.len() < 16) {
        return bad("registration_token must be at least 16 characters");
    }
    Ok(())
}

/// `DELETE /admin/realms/{R}`: every session ends first, with back-channel logout
/// (`SESSION_TERMINATION`); then the realm's data goes. What the deliveries still need (the
/// realm's keys and clients) stays until they are done: the answer is 204 when nothing was
/// pending, else 202, and the sweep finishes the removal ([`crate::realm::purge_deleted`]).
async fn delete_realm<H: Host>(host: &H, name: &str) -> Result<Response> {
    let mut realm = load(host, name).await?;
    realm.deleting = true;
    records::save(host, &keys::realm(name), &realm, None).await?;
    let mut ended = 0usize;
    let mut deliveries = 0usize;
    let prefix = keys::sessions_of(name);
    loop {
        let ids = records::list_all(host, &prefix, 100).await?;
        if ids.is_empty() {
            break;
        }
        for k in ids {
            let id = &k[prefix.len()..];
            match crate::session::load_any(host, name, id).await? {
                Some(s) => {
                    let e = crate::logout::end::end_session_by(
                        host,
                        &realm,
                        &s,
                        crate::logout::LogoutCause::SessionTermination,
                        Some("realm deleted"),
                    )
                    .await?;
                    ended += 1;
                    deliveries += e.deliveries;
                }
                None => host.delete(&k).await?,
            }
        }
    }
    let done = crate::realm::purge_deleted(host, &realm).await?;
    let body = json!({"sessions_ended": ended, "deliveries": deliveries, "removed": done});
    Ok(Response::json(if done { 200 } else { 202 }, &body))
}

/// A client as the APIs show it: its metadata plus identifiers; the secret only when it was
/// just issued.
pub(super) fn client_view(c: &Client, secret: Option<&str>) -> Value {
    let mut v = serde_json::to_value(&c.metadata).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut v {
        m.insert(
            String::from("client_id"),
            Value::String(c.client_id.clone()),
        );
        m.insert(String::from("client_id_issued_at"), json!(c.issued_at));
        if let Some(s) = secret {
            m.insert(
                String::from("client_secret"),
                Value::String(String::from(s)),
            );
            m.insert(String::from("client_secret_expires_at"), json!(0));
        }
    }
    v
}

async fn put_client<H: Host>(req: &Request, host: &H, realm: &Realm, id: &str) -> Result<Response> {
    if !valid_client_id(id) {
        return Err(Fail::bad_request(
            "a client id is 1 to 128 of A-Z, a-z, 0-9, '-', '.', '_' and '~'",
        ));
    }
    let mut body = json_body(req)?;
    let first_party = match body.as_object_mut().and_then(|m| m.remove("first_party")) {
        None => false,
        Some(Value::Bool(b)) => b,
        Some(_) => {
            return Err(Fail::new(
                ErrorCode::InvalidClientMetadata,
                "first_party must be true or false",
            ));
        }
    };
    let metadata = ClientMetadata::from_json(
        &body,
        &realm.config.id_token_signing_alg,
        realm.config.allow_private_uris,
    )
    .map_err(|e| Fail::OAuth(e.into()))?;
    let key = keys::client(&realm.name, id);
    let existing: Option<Client> = records::load(host, &key).await?;
    // A confidential client keeps its secret unless a new one is given; one is made if none.
    let given = match body.get("client_secret") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            return Err(Fail::new(
                ErrorCode::InvalidClientMetadata,
                "client_secret must be a string",
            ));
        }
    };
    if given.is_some_and(|s| s.len() < 16) {
        return Err(Fail::new(
            ErrorCode::InvalidClientMetadata,
            "client_secret must be at least 16 characters",
        ));
    }
    let (secret_hash, issued_secret) = if metadata.token_endpoint_auth_method == AuthMethod::None {
        (None, None)
    } else if let Some(s) = given {
        (Some(opaque_token::hash(s)), Some(String::from(s)))
    } else if let Some(h) = existing.as_ref().and_then(|c| c.secret_hash.clone()) {
        (Some(h), None)
    } else {
        let s = opaque_token::random_token(host)?;
        (Some(opaque_token::hash(&s)), Some(s))
    };
    let client = Client {
        metadata,
        client_id: String::from(id),
        secret_hash,
        registration_token_hash: existing
            .as_ref()
            .and_then(|c| c.registration_token_hash.clone()),
        issued_at: existing.as_ref().map_or(host.now().secs(), |c| c.issued_at),
        first_party,
    };
    records::save(host, &key, &client, None).await?;
    let status = if existing.is_some() { 200 } else { 201 };
    Ok(Response::json(
        status,
        &client_view(&client, issued_secret.as_deref()),
    ))
}

fn user_view(u: &User) -> Value {
    json!({"username": u.username, "sub": u.sub, "email": u.email, "name": u.name, "created": u.created, "disabled": u.disabled})
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBody {
    password: Option<String>,
    email: Option<String>,
    name: Option<String>,
    disabled: Option<bool>,
}

/// End every session of the user with `sub`, with back-channel logout
/// (`SESSION_TERMINATION`), the audit events naming `initiator`; an RP that does not require
/// `sid` gets a logout token per session or one in all, as `sid_less` says.
async fn end_user_sessions<H: Host>(
    host: &H,
    realm: &Realm,
    sub: &str,
    initiator: &str,
    sid_less: crate::logout::end::SidLess,
) -> Result<crate::logout::end::EndedAll> {
    Ok(crate::logout::end::end_user(
        host,
        realm,
        sub,
        crate::logout::LogoutCause::SessionTermination,
        Some(initiator),
        sid_less,
    )
    .await?)
}

/// `DELETE /admin/realms/{R}/users/{name}`: the user's sessions end (back-channel logout), then
/// the account and its grants go. Its `sub` is never given to anyone again.
async fn delete_user<H: Host>(host: &H, realm: &Realm, name: &str) -> Result<Response> {
    let user = load_user(host, realm, name).await?;
    let ended = end_user_sessions(
        host,
        realm,
        &user.sub,
        "user deleted",
        crate::logout::end::SidLess::PerSession,
    )
    .await?;
    records::delete_prefix(host, &keys::grants_of(&realm.name, &user.sub)).await?;
    super::refresh_token::revoke_all(host, realm, &user.sub, None).await?;
    super::throttle::reset_account(host, &realm.name, name).await?;
    host.delete(&keys::user(&realm.name, name)).await?;
    Ok(Response::json(
        200,
        &json!({"deleted": name, "sessions_ended": ended.sessions}),
    ))
}

fn grant_view(g: &crate::records::Grant) -> Value {
    json!({"client_id": g.client_id, "scopes": g.scopes, "created": g.created, "updated": g.updated})
}

/// `GET /admin/realms/{R}/users/{name}/grants[/{client_id}]`.
async fn list_grants<H: Host>(
    host: &H,
    realm: &Realm,
    user: &User,
    client: Option<&str>,
) -> Result<Response> {
    if let Some(c) = client {
        let g: crate::records::Grant = records::load(host, &keys::grant(&realm.name, &user.sub, c))
            .await?
            .ok_or_else(|| not_found("grant"))?;
        return Ok(Response::json(200, &grant_view(&g)));
    }
    let mut out = alloc::vec::Vec::new();
    for k in records::list_all(host, &keys::grants_of(&realm.name, &user.sub), 1000).await? {
        if let Some(g) = records::load::<crate::records::Grant, _>(host, &k).await? {
            out.push(grant_view(&g));
        }
    }
    Ok(Response::json(
        200,
        &json!({ "result": out, "resultCount": out.len() }),
    ))
}

/// `DELETE /admin/realms/{R}/users/{name}/grants[/{client_id}]`: the grant goes, and with it
/// the client's part in the user's sessions: each such client is sent a logout token for each
/// session it took part in (so it ends its own session), its access tokens stop working, and
/// the next authorization asks for consent again.
async fn revoke_grants<H: Host>(
    host: &H,
    realm: &Realm,
    user: &User,
    client: Option<&str>,
) -> Result<Response> {
    let clients: alloc::vec::Vec<String> = match client {
        Some(c) => {
            let key = keys::grant(&realm.name, &user.sub, c);
            if host.get(&key).await?.is_none() {
                return Err(not_found("grant"));
            }
            alloc::vec![String::from(c)]
        }
        None => {
            let prefix = keys::grants_of(&realm.name, &user.sub);
            records::list_all(host, &prefix, 1000)
                .await?
                .into_iter()
                .map(|k| String::from(&k[prefix.len()..]))
                .collect()
        }
    };
    let mut told = 0;
    for c in &clients {
        host.delete(&keys::grant(&realm.name, &user.sub, c)).await?;
        super::refresh_token::revoke_all(host, realm, &user.sub, Some(c)).await?;
        for id in crate::session::ids_of_user(host, &realm.name, &user.sub, 1000).await? {
            if let Some(mut s) = crate::session::find_by_id(host, &realm.name, &id).await? {
                told += crate::logout::end::end_participation(
                    host,
                    realm,
                    &mut s,
                    c,
                    "Consent revoked",
                )
                .await?;
            }
        }
    }
    Ok(Response::json(
        200,
        &json!({"revoked": clients, "backchannel_logout_deliveries": told}),
    ))
}

async fn put_user<H: Host>(req: &Request, host: &H, realm: &Realm, name: &str) -> Result<Response> {
    let body: UserBody = serde_json::from_value(json_body(req)?)
        .map_err(|e| Fail::bad_request(format!("user: {e}")))?;
    if body
        .password
        .as_ref()
        .is_some_and(|p| p.is_empty() || p.len() > password::MAX_PASSWORD)
    {
        return Err(Fail::bad_request("password must be 1 to 1024 bytes"));
    }
    if body
        .email
        .as_ref()
        .is_some_and(|e| e.len() > 254 || !e.contains('@'))
        || body.name.as_ref().is_some_and(|n| n.len() > 200)
    {
        return Err(Fail::bad_request(
            "email must be an address of at most 254 characters; name at most 200",
        ));
    }
    let key = keys::user(&realm.name, name);
    let existing: Option<User> = records::load(host, &key).await?;
    let disabled = body
        .disabled
        .unwrap_or_else(|| existing.as_ref().is_some_and(|u| u.disabled));
    let password_hash = match (&body.password, &existing) {
        (Some(p), _) => password::hash_password_with(host, p).await?,
        (None, Some(u)) => u.password_hash.clone(),
        (None, None) => return Err(Fail::bad_request("a new user needs a password")),
    };
    let user = User {
        username: String::from(name),
        password_hash,
        sub: match &existing {
            Some(u) => u.sub.clone(),
            None => crate::logout::logout_token::random_id(host)?,
        },
        email: body
            .email
            .or_else(|| existing.as_ref().and_then(|u| u.email.clone())),
        name: body
            .name
            .or_else(|| existing.as_ref().and_then(|u| u.name.clone())),
        created: existing.as_ref().map_or(host.now().secs(), |u| u.created),
        disabled,
    };
    records::save(host, &key, &user, None).await?;
    // Disabling an account or resetting its password ends its sessions (back-channel
    // logout): whoever held them must sign in again, if they still can.
    if let Some(old) = &existing {
        let initiator = if disabled && !old.disabled {
            Some("user disabled")
        } else if body.password.is_some() {
            super::throttle::reset_account(host, &realm.name, name).await?;
            Some("password reset")
        } else {
            None
        };
        if let Some(i) = initiator {
            // Refresh tokens too, offline access included: whoever held the account may
            // hold them.
            super::refresh_token::revoke_all(host, realm, &user.sub, None).await?;
            end_user_sessions(
                host,
                realm,
                &user.sub,
                i,
                crate::logout::end::SidLess::PerSession,
            )
            .await?;
        }
    }
    Ok(Response::json(
        if existing.is_some() { 200 } else { 201 },
        &user_view(&user),
    ))
}

fn session_view(s: &crate::records::Session) -> Value {
    json!({
        "id": s.id,
        "user": s.user,
        "created": s.created,
        "last_access": s.last_access,
        "expires": s.deadline(),
        "device": s.device,
        "clients": s.participants.iter().map(|p| p.client_id.as_str()).collect::<alloc::vec::Vec<_>>(),
    })
}

/// `GET /admin/realms/{R}/sessions[?user=NAME]` and `GET /admin/realms/{R}/users/{name}/sessions`:
/// live sessions (at most 1000).
async fn list_sessions<H: Host>(host: &H, realm: &Realm, user: Option<&str>) -> Result<Response> {
    let now = host.now();
    let mut out = alloc::vec::Vec::new();
    let ids: alloc::vec::Vec<String> = match user {
        Some(user) => {
            if !valid_username(user) {
                return Err(Fail::bad_request("invalid user name"));
            }
            match records::load::<User, _>(host, &keys::user(&realm.name, user)).await? {
                Some(u) => crate::session::ids_of_user(host, &realm.name, &u.sub, 1000).await?,
                None => alloc::vec::Vec::new(),
            }
        }
        None => {
            let prefix = keys::sessions_of(&realm.name);
            records::list_all(host, &prefix, 1000)
                .await?
                .into_iter()
                .map(|k| String::from(&k[prefix.len()..]))
                .collect()
        }
    };
    for id in ids {
        if let Some(s) = crate::session::load_any(host, &realm.name, &id).await?
            && s.expiry(now).is_none()
        {
            out.push(session_view(&s));
        }
    }
    Ok(Response::json(
        200,
        &json!({ "result": out, "resultCount": out.len() }),
    ))
}

/// `GET /admin/realms/{R}/deliveries?session=&user=&client=&state=&cursor=&limit=`: the
/// delivery ledger, newest first, a page at a time.
async fn list_deliveries<H: Host>(req: &Request, host: &H, realm: &Realm) -> Result<Response> {
    let q = req.query_params();
    for name in ["session", "user", "client", "state", "cursor", "limit"] {
        if let Err(e) = q.one(name) {
            return Err(Fail::bad_request(e));
        }
    }
    let state = q.get("state");
    if state.is_some_and(|s| !ledger::STATES.contains(&s)) {
        return Err(Fail::bad_request(
            "state must be pending, delivered, rejected, dead or failed",
        ));
    }
    let cursor = q.get("cursor");
    if cursor.is_some_and(|c| !ledger::valid_id(c)) {
        return Err(Fail::bad_request("cursor is not one this API gave"));
    }
    let limit = match q.get("limit") {
        None => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=ledger::MAX_PAGE).contains(n))
            .ok_or_else(|| Fail::bad_request("limit must be 1 to 500"))?,
    };
    let listed = ledger::list(
        host,
        &realm.name,
        &ledger::Query {
            session: q.get("session"),
            user: q.get("user"),
            client: q.get("client"),
            state,
            cursor,
            limit,
        },
    )
    .await?;
    Ok(Response::json(
        200,
        &json!({ "result": listed.entries, "resultCount": listed.entries.len(), "next_cursor": listed.next_cursor }),
    ))
}

/// `GET /admin/realms/{R}/clients/{id}/deliveries/stats?window=<seconds>` (default a day).
async fn delivery_stats<H: Host>(
    req: &Request,
    host: &H,
    realm: &Realm,
    client: &str,
) -> Result<Response> {
    if !valid_client_id(client)
        || host
            .get(&keys::client(&realm.name, client))
            .await?
            .is_none()
    {
        return Err(not_found("client"));
    }
    let q = req.query_params();
    let window = match q.one("window").map_err(Fail::bad_request)? {
        None => 86_400,
        Some(w) => w
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=crate::audit::RETENTION_SECS).contains(n))
            .ok_or_else(|| Fail::bad_request("window must be 1 to 2592000 seconds"))?,
    };
    let stats = ledger::stats(host, &realm.name, client, window, host.now_ms()).await?;
    Ok(Response::json(200, &stats))
}

/// `POST /admin/realms/{R}/deliveries/{id}/retry`: send a finished delivery again.
async fn retry_delivery<H: Host>(host: &H, realm: &Realm, id: &str) -> Result<Response> {
    match ledger::retry(host, &realm.name, id).await? {
        Ok(entry) => Ok(Response::json(202, &entry)),
        Err(ledger::NoRetry::Unknown) => Err(not_found("delivery")),
        Err(ledger::NoRetry::Pending) => Err(Fail::new(
            ErrorCode::Conflict,
            "the delivery is still being attempted",
        )),
        Err(ledger::NoRetry::NowhereToGo) => Err(Fail::new(
            ErrorCode::Conflict,
            "the client is gone or no longer has a backchannel_logout_uri",
        )),
    }
}
