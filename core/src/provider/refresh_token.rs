//! Refresh tokens: opaque, stored by hash, in families (one per redeemed code). Each refresh
//! rotates the family's current token; presenting an older one again is a replay and revokes
//! the family (RFC 9700 §4.14.2). A family is bound to the session it came from: without
//! `offline_access` it dies with it, whatever ended it (Back-Channel Logout 1.0 §2.7); with
//! `offline_access` it outlives it while the realm's `offline_access_survives_logout` says so.
//! Refreshing never brings an ended session back.

use alloc::string::String;

use super::request::Result;
use crate::host::Host;
use crate::keys;
use crate::records::{self, Client, Realm, RefreshFamily, RefreshToken, Session, User};
use crate::{opaque_token, session};

/// The scope that asks for refresh tokens which may outlive the session (OIDC Core §11).
pub(super) const OFFLINE_ACCESS: &str = "offline_access";

/// Whether `client` registered for the `refresh_token` grant.
pub(super) fn allowed(client: &Client) -> bool {
    client
        .metadata
        .grant_types
        .iter()
        .any(|g| g == "refresh_token")
}

/// A family as stored, with its key.
#[derive(Clone, Debug)]
pub(super) struct Family {
    /// Its store key.
    pub key: String,
    /// Its id (the grant id: its access tokens' `jti`s start with it).
    pub id: String,
    /// The record.
    pub record: RefreshFamily,
    /// The bytes it was read from (what a rotation swaps against).
    pub raw: alloc::vec::Vec<u8>,
}

/// The current token of a family that lives.
#[derive(Debug)]
pub(super) struct Live {
    /// Its family.
    pub family: Family,
    /// The token's record.
    pub token: RefreshToken,
    /// The family's session while it lives; `None` for `offline_access` after it ended.
    pub session: Option<Session>,
    /// The account.
    pub user: User,
}

/// What a presented refresh token is.
#[derive(Debug)]
pub(super) enum Verdict {
    /// The current token of a family that lives.
    Live(alloc::boxed::Box<Live>),
    /// An older token of a family: a replay.
    Replayed(alloc::boxed::Box<Family>),
    /// A token of another client.
    OtherClient,
    /// Unknown, expired or revoked, or its session or account is gone: why.
    Dead(&'static str),
}

const INVALID: &str = "the refresh token is invalid, expired or revoked";

/// What `presented` is, for `client`.
pub(super) async fn check<H: Host>(
    host: &H,
    realm: &Realm,
    client: &Client,
    presented: &str,
) -> Result<Verdict> {
    if !opaque_token::is_token(presented) {
        return Ok(Verdict::Dead(INVALID));
    }
    let key = keys::refresh_token(&realm.name, &opaque_token::hash(presented));
    let Some(token) = records::load::<RefreshToken, _>(host, &key).await? else {
        return Ok(Verdict::Dead(INVALID));
    };
    if token.client_id != client.client_id {
        return Ok(Verdict::OtherClient);
    }
    let Some(family) =
        load_family(host, realm, &token.sub, &token.client_id, &token.family).await?
    else {
        return Ok(Verdict::Dead(INVALID));
    };
    if family.record.client_issued_at != client.issued_at {
        return Ok(Verdict::Dead(INVALID));
    }
    if token.generation < family.record.generation {
        return Ok(Verdict::Replayed(alloc::boxed::Box::new(family)));
    }
    if token.generation != family.record.generation || host.now().secs() >= token.expires_at {
        return Ok(Verdict::Dead(INVALID));
    }
    Ok(match standing(host, realm, &family.record).await? {
        Ok((session, user)) => Verdict::Live(alloc::boxed::Box::new(Live {
            family,
            token,
            session,
            user,
        })),
        Err(why) => Verdict::Dead(why),
    })
}

/// The family `family` of `sub` and `client_id`, if it lives in the store.
pub(super) async fn load_family<H: Host>(
    host: &H,
    realm: &Realm,
    sub: &str,
    client_id: &str,
    family: &str,
) -> Result<Option<Family>> {
    let key = keys::refresh_family(&realm.name, sub, client_id, family);
    Ok(records::load_raw::<RefreshFamily, _>(host, &key)
        .await?
        .map(|(record, raw)| Family {
            key,
            id: String::from(family),
            record,
            raw,
        }))
}

/// Whether a family may go on after its session ended: `offline_access`, where the realm lets
/// it outlive logout.
pub(super) fn outlives_session(f: &RefreshFamily, realm: &Realm) -> bool {
    f.offline && realm.config.offline_access_survives_logout
}

/// Whether a family stands: within its absolute lifetime, its account there and enabled, and
/// its session live with the client in it — or, for `offline_access` where the realm lets it
/// outlive logout, its session over. The session (while it lives) and the account, or why not.
pub(super) async fn standing<H: Host>(
    host: &H,
    realm: &Realm,
    f: &RefreshFamily,
) -> Result<core::result::Result<(Option<Session>, User), &'static str>> {
    if f.expires_at.is_some_and(|e| host.now().secs() >= e) {
        return Ok(Err(INVALID));
    }
    let user: Option<User> = records::load(host, &keys::user(&realm.name, &f.user)).await?;
    let Some(user) = user.filter(|u| u.sub == f.sub && !u.disabled) else {
        return Ok(Err("the account no longer exists or is disabled"));
    };
    match session::find_by_id(host, &realm.name, &f.session_id).await? {
        Some(s) if s.sub == f.sub && s.has_participant(&f.client_id) => Ok(Ok((Some(s), user))),
        Some(_) => Ok(Err(INVALID)),
        None if outlives_session(f, realm) => Ok(Ok((None, user))),
        None => Ok(Err("the session has ended")),
    }
}

/// When a token issued now stops being usable: its sliding lifetime, within the family's
/// absolute one (`offline_access`) or the session's (without).
fn expiry<H: Host>(host: &H, realm: &Realm, f: &RefreshFamily, session: Option<&Session>) -> u64 {
    let sliding = host.now().plus(realm.config.refresh_token_ttl_secs).secs();
    let bound = match (f.offline, session) {
        (true, _) => f.expires_at,
        (false, Some(s)) => Some(s.max_expires_at),
        (false, None) => None,
    };
    bound.map_or(sliding, |b| sliding.min(b))
}

/// Write the family (in one swap against what was read of it, when `before` is given) and a
/// new current token of it; returns the token's value, or `None` when the family changed in
/// between (another rotation won).
async fn write<H: Host>(
    host: &H,
    realm: &Realm,
    family: &Family,
    before: Option<&[u8]>,
    session: Option<&Session>,
) -> Result<Option<String>> {
    let now = host.now().secs();
    let expires_at = expiry(host, realm, &family.record, session);
    let ttl = expires_at.saturating_sub(now).max(1);
    let value = opaque_token::random_token(host)?;
    let token = RefreshToken {
        family: family.id.clone(),
        client_id: family.record.client_id.clone(),
        sub: family.record.sub.clone(),
        generation: family.record.generation,
        iat: now,
        expires_at,
    };
    match before {
        Some(b) => {
            if !records::replace(host, &family.key, b, &family.record, Some(ttl)).await? {
                return Ok(None);
            }
        }
        None => records::save(host, &family.key, &family.record, Some(ttl)).await?,
    }
    records::save(
        host,
        &keys::refresh_token(&realm.name, &opaque_token::hash(&value)),
        &token,
        Some(ttl),
    )
    .await?;
    Ok(Some(value))
}

/// Start a family for a code just redeemed (grant `grant_id`) by `client` on `session`.
pub(super) async fn start<H: Host>(
    host: &H,
    realm: &Realm,
    client: &Client,
    session: &Session,
    scope: &str,
    grant_id: &str,
) -> Result<String> {
    let now = host.now();
    let offline = scope.split(' ').any(|s| s == OFFLINE_ACCESS);
    let family = Family {
        key: keys::refresh_family(&realm.name, &session.sub, &client.client_id, grant_id),
        id: String::from(grant_id),
        record: RefreshFamily {
            client_id: client.client_id.clone(),
            client_issued_at: client.issued_at,
            user: session.user.clone(),
            sub: session.sub.clone(),
            session_id: session.id.clone(),
            offline,
            scope: String::from(scope),
            auth_time: session.auth_time,
            created: now.secs(),
            generation: 0,
            expires_at: offline.then(|| now.plus(realm.config.offline_token_ttl_secs).secs()),
        },
        raw: alloc::vec::Vec::new(),
    };
    let token = write(host, realm, &family, None, Some(session)).await?;
    // A family written without a swap is always written.
    Ok(token.ok_or_else(|| {
        crate::host::StoreError(String::from("a new refresh token family was not written"))
    })?)
}

/// Rotate: the family's next token becomes current (the presented one is spent). `None` when
/// another rotation of the same token won the race: the caller treats it as a replay.
pub(super) async fn rotate<H: Host>(
    host: &H,
    realm: &Realm,
    live: &mut Live,
) -> Result<Option<String>> {
    live.family.record.generation = live.family.record.generation.saturating_add(1);
    let before = core::mem::take(&mut live.family.raw);
    write(
        host,
        realm,
        &live.family,
        Some(&before),
        live.session.as_ref(),
    )
    .await
}

/// Revoke a family: no token of it refreshes again, and every access token of its grant stops
/// working (RFC 7009 §2.1). The session, and its logout, go on.
pub(super) async fn revoke<H: Host>(host: &H, realm: &Realm, family: &Family) -> Result<()> {
    revoke_at(host, realm, &family.key, &family.id).await
}

/// [`revoke`] by the family's store key and id.
async fn revoke_at<H: Host>(host: &H, realm: &Realm, key: &str, id: &str) -> Result<()> {
    host.put(
        &keys::revoked(&realm.name, id),
        b"",
        Some(realm.config.access_token_ttl_secs),
    )
    .await?;
    host.delete(key).await?;
    Ok(())
}

/// Revoke the family of grant `grant_id`, if it has one (a replayed code).
pub(super) async fn revoke_grant<H: Host>(
    host: &H,
    realm: &Realm,
    sub: &str,
    client_id: &str,
    grant_id: &str,
) -> Result<()> {
    if let Some(f) = load_family(host, realm, sub, client_id, grant_id).await? {
        revoke(host, realm, &f).await?;
    }
    Ok(())
}

/// Revoke every family of the user `sub` (of `client` only, when given): the account was
/// deleted, disabled or its password reset, or the consent withdrawn. Returns how many.
pub(super) async fn revoke_all<H: Host>(
    host: &H,
    realm: &Realm,
    sub: &str,
    client: Option<&str>,
) -> Result<usize> {
    let prefix = keys::refresh_families_of(&realm.name, sub, client);
    let mut n = 0;
    loop {
        let keys = records::list_all(host, &prefix, 100).await?;
        if keys.is_empty() {
            return Ok(n);
        }
        for key in keys {
            let id = key.rsplit('/').next().unwrap_or_default();
            revoke_at(host, realm, &key, id).await?;
            n += 1;
        }
    }
}

/// A replay of `family`'s spent token: the family is revoked and, while its session lives, the
/// client leaves it (it is sent a logout token for it, as when its consent is withdrawn).
pub(super) async fn replayed<H: Host>(host: &H, realm: &Realm, family: &Family) -> Result<()> {
    revoke(host, realm, family).await?;
    if let Some(mut s) = session::find_by_id(host, &realm.name, &family.record.session_id).await? {
        crate::logout::end::end_participation(
            host,
            realm,
            &mut s,
            &family.record.client_id,
            "A spent refresh token was presented again; its grant is revoked",
        )
        .await?;
    }
    Ok(())
}
