//! Server-side sessions: creation at login, lookup by token, throttled last-access writes,
//! per-client `sid` derivation, and the end of a session.

use alloc::{string::String, vec::Vec};

use crate::UnixTime;
use crate::error::Error;
use crate::host::Host;
use crate::keys;
use crate::opaque_token;
use crate::records::{self, MAX_DEVICE_LEN, Participant, Realm, Session, SidKey, User};

/// The session cookie's name.
pub const COOKIE: &str = "oidc_edge_session";

/// Why a session is over, or `None` while it lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Past `max_expires_at`.
    MaxTime,
    /// Idle past the idle timeout.
    Idle,
}

impl Session {
    /// How far `last_access` may lag behind real activity (see [`touch`]).
    pub fn touch_step(&self) -> u64 {
        (self.idle_timeout_secs / 10).max(1)
    }

    /// When the idle timeout ends it. `last_access` is written lazily (see [`touch`]): the
    /// real last activity lies within one [`Session::touch_step`] after it, so the deadline
    /// adds that slack and a session is never ended early, at most one step late.
    pub fn idle_deadline(&self) -> u64 {
        self.last_access
            .saturating_add(self.idle_timeout_secs)
            .saturating_add(self.touch_step())
    }

    /// Whether, and why, the session has ended by time at `now`.
    pub fn expiry(&self, now: UnixTime) -> Option<Expiry> {
        if now.secs() >= self.max_expires_at {
            Some(Expiry::MaxTime)
        } else if now.secs() >= self.idle_deadline() {
            Some(Expiry::Idle)
        } else {
            None
        }
    }

    /// The earlier of the two deadlines.
    pub fn deadline(&self) -> u64 {
        self.max_expires_at.min(self.idle_deadline())
    }

    /// The `sid` this session presents to `client_id`: base64url(HMAC-SHA-256(sid_key,
    /// client_id)). Stable for one client, different across clients, and not reversible to the
    /// session or to another client's sid.
    pub fn sid_for(&self, client_id: &str) -> String {
        opaque_token::hmac_b64(&self.sid_key.0, client_id.as_bytes())
    }

    /// The CSRF token of this session's forms for `purpose` (`consent`, `logout`): derived
    /// from the session's secret, so only a page this provider served to the session's
    /// browser knows it. The label holds a `/`, which no client id does, so it never equals
    /// a client's `sid`.
    pub fn csrf(&self, purpose: &str) -> String {
        opaque_token::hmac_b64(&self.sid_key.0, alloc::format!("csrf/{purpose}").as_bytes())
    }

    /// Whether `client_id` holds an ID token from this session.
    pub fn has_participant(&self, client_id: &str) -> bool {
        self.participants.iter().any(|p| p.client_id == client_id)
    }

    /// Record that `client_id` received an ID token. Returns whether that is new.
    pub fn add_participant(&mut self, client_id: &str, now: UnixTime) -> bool {
        if self.participants.iter().any(|p| p.client_id == client_id) {
            return false;
        }
        self.participants.push(Participant {
            client_id: String::from(client_id),
            since: now.secs(),
        });
        true
    }
}

/// The public id of the session a token (cookie value) opens.
pub fn id_of(token: &str) -> String {
    opaque_token::hash(token)
}

/// Store TTL for a session: until its maximum lifetime, plus a margin so the sweep (not the
/// store's expiry) is what ends it and tells the relying parties.
fn ttl(session: &Session, now: UnixTime) -> u64 {
    session
        .max_expires_at
        .saturating_sub(now.secs())
        .saturating_add(3600)
}

/// The device a request comes from: its `User-Agent`, cut to [`MAX_DEVICE_LEN`] bytes (at a
/// character boundary), control characters dropped.
pub fn device_of(user_agent: Option<&str>) -> Option<String> {
    let ua = user_agent?.trim();
    let mut out = String::new();
    for c in ua.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_DEVICE_LEN {
            break;
        }
        out.push(c);
    }
    (!out.is_empty()).then_some(out)
}

/// Start a session for `user` on `device` ([`device_of`]). Returns it and its token (the
/// cookie value, shown once).
pub async fn create<H: Host>(
    host: &H,
    realm: &Realm,
    user: &User,
    device: Option<String>,
) -> Result<(Session, String), Error> {
    let now = host.now();
    let token = opaque_token::random_token(host)?;
    let sid_key: [u8; 32] = crate::jose::rand::random(host)?;
    let session = Session {
        id: id_of(&token),
        user: user.username.clone(),
        sub: user.sub.clone(),
        auth_time: now.secs(),
        created: now.secs(),
        last_access: now.secs(),
        max_expires_at: now.plus(realm.config.session_max_time_secs).secs(),
        idle_timeout_secs: realm.config.session_idle_time_secs,
        sid_key: SidKey(sid_key),
        participants: Vec::new(),
        device,
    };
    save(host, &realm.name, &session).await?;
    let index_ttl = ttl(&session, now);
    host.put(
        &keys::user_session(&realm.name, &user.sub, &session.id),
        b"",
        Some(index_ttl),
    )
    .await?;
    index(host, &realm.name, &session).await?;
    Ok((session, token))
}

/// Write a new session document (a session that exists is changed by [`modify`] only).
async fn save<H: Host>(host: &H, realm: &str, session: &Session) -> Result<(), Error> {
    let ttl = ttl(session, host.now());
    Ok(records::save(host, &keys::session(realm, &session.id), session, Some(ttl)).await?)
}

/// The live session behind `token`, or `None` when there is none or it has ended by time.
pub async fn find<H: Host>(host: &H, realm: &str, token: &str) -> Result<Option<Session>, Error> {
    find_by_id(host, realm, &id_of(token)).await
}

/// The live session with public id `id`.
pub async fn find_by_id<H: Host>(
    host: &H,
    realm: &str,
    id: &str,
) -> Result<Option<Session>, Error> {
    let Some(s) = records::load::<Session, _>(host, &keys::session(realm, id)).await? else {
        return Ok(None);
    };
    Ok(s.expiry(host.now()).is_none().then_some(s))
}

/// How often [`modify`] reads again after losing a race before it gives up.
const MODIFY_ATTEMPTS: usize = 8;

/// Change the live session `id` with `change` (which answers whether it changed anything), in
/// a swap against what was read: a session that ended meanwhile is never written back, and
/// two changes at once both land (the loser reads again and re-applies its change). The
/// session as it now is, or `None` when it has ended.
pub async fn modify<H: Host>(
    host: &H,
    realm: &str,
    id: &str,
    mut change: impl FnMut(&mut Session) -> bool,
) -> Result<Option<Session>, Error> {
    let key = keys::session(realm, id);
    for _ in 0..MODIFY_ATTEMPTS {
        let Some((mut s, raw)) = records::load_raw::<Session, _>(host, &key).await? else {
            return Ok(None);
        };
        if s.expiry(host.now()).is_some() {
            return Ok(None);
        }
        if !change(&mut s) {
            return Ok(Some(s));
        }
        let ttl = ttl(&s, host.now());
        if records::replace(host, &key, &raw, &s, Some(ttl)).await? {
            return Ok(Some(s));
        }
    }
    Err(Error::Store(crate::host::StoreError(alloc::format!(
        "{key}: changed by others {MODIFY_ATTEMPTS} times in a row"
    ))))
}

/// Note activity. KV takes about one write per second per key, so `last_access` is written
/// only when it has moved by a tenth of the idle timeout (at least one second): the idle
/// deadline is then at most that much early, never late. Answers whether the session still
/// lives (it may have ended since it was read; it is not brought back).
pub async fn touch<H: Host>(host: &H, realm: &str, session: &mut Session) -> Result<bool, Error> {
    let now = host.now().secs();
    if now < session.last_access.saturating_add(session.touch_step()) {
        return Ok(true);
    }
    let before = bucket(session.deadline());
    let touched = modify(host, realm, &session.id, |s| {
        if now >= s.last_access.saturating_add(s.touch_step()) {
            s.last_access = now;
            true
        } else {
            false
        }
    })
    .await?;
    let Some(touched) = touched else {
        return Ok(false);
    };
    *session = touched;
    if bucket(session.deadline()) != before {
        index(host, realm, session).await?;
    }
    Ok(true)
}

/// Expiry buckets are minutes: the sweep reads every bucket up to the current one.
pub(crate) fn bucket(deadline_secs: u64) -> u64 {
    deadline_secs / 60
}

/// The expiry index entry of a session (the store has no expiry events of its own).
pub fn exp_key(deadline_secs: u64, realm: &str, id: &str) -> String {
    keys::expiry(bucket(deadline_secs), realm, id)
}

/// Index a session under its current deadline (for the sweep), and ask the host to wake at
/// it (for a timer's precision).
pub(crate) async fn index<H: Host>(host: &H, realm: &str, session: &Session) -> Result<(), Error> {
    let ttl = ttl(session, host.now());
    host.put(
        &exp_key(session.deadline(), realm, &session.id),
        b"",
        Some(ttl),
    )
    .await?;
    Ok(host.wake_at(realm, &session.id, session.deadline()).await?)
}

/// Load a session whether or not its time is up (the sweep and the admin API need that).
pub async fn load_any<H: Host>(host: &H, realm: &str, id: &str) -> Result<Option<Session>, Error> {
    Ok(records::load(host, &keys::session(realm, id)).await?)
}

/// Remove a session, its user index and its clients' `sid` index (the expiry index is
/// cleaned by the sweep).
pub async fn remove<H: Host>(host: &H, realm: &str, session: &Session) -> Result<(), Error> {
    host.delete(&keys::session(realm, &session.id)).await?;
    remove_indexes(host, realm, session).await
}

/// Remove a session's user index and its clients' `sid` index (the session itself is gone).
pub(crate) async fn remove_indexes<H: Host>(
    host: &H,
    realm: &str,
    session: &Session,
) -> Result<(), Error> {
    let mut indexes = Vec::with_capacity(session.participants.len() + 1);
    indexes.push(keys::user_session(realm, &session.sub, &session.id));
    indexes.extend(
        session
            .participants
            .iter()
            .map(|p| keys::sid(realm, &session.sid_for(&p.client_id))),
    );
    host.delete_many(&indexes).await?;
    Ok(())
}

/// Record that `client_id` received an ID token from `session`, and index the client's `sid`
/// so that its access tokens can name the session without a handle shared by all clients.
/// Answers whether the session still lives: one that ended meanwhile is not brought back, and
/// the client must not be given tokens for it (its logout has been sent without it).
pub async fn join<H: Host>(
    host: &H,
    realm: &str,
    session: &mut Session,
    client_id: &str,
) -> Result<bool, Error> {
    if session.has_participant(client_id) {
        return Ok(true);
    }
    let now = host.now();
    // The index first: a sid that names no session (the join lost) leads nowhere.
    let ttl = ttl(session, now);
    host.put(
        &keys::sid(realm, &session.sid_for(client_id)),
        session.id.as_bytes(),
        Some(ttl),
    )
    .await?;
    let joined = modify(host, realm, &session.id, |s| {
        s.add_participant(client_id, now)
    })
    .await?;
    match joined {
        Some(s) => {
            *session = s;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// The live session behind a client's `sid`, if that client still takes part in it.
pub async fn find_by_sid<H: Host>(
    host: &H,
    realm: &str,
    sid: &str,
    client_id: &str,
) -> Result<Option<Session>, Error> {
    let Some(id) = host.get(&keys::sid(realm, sid)).await? else {
        return Ok(None);
    };
    let Ok(id) = core::str::from_utf8(&id) else {
        return Ok(None);
    };
    let s = find_by_id(host, realm, id).await?;
    Ok(s.filter(|s| {
        s.has_participant(client_id) && opaque_token::ct_eq(&s.sid_for(client_id), sid)
    }))
}

/// Drop `client_id` from the session (its grant was revoked): it gets no logout token for
/// this session any more, and its access tokens stop working. Returns whether it took part.
pub async fn leave<H: Host>(
    host: &H,
    realm: &str,
    session: &mut Session,
    client_id: &str,
) -> Result<bool, Error> {
    if !session.has_participant(client_id) {
        return Ok(false);
    }
    let left = modify(host, realm, &session.id, |s| {
        let before = s.participants.len();
        s.participants.retain(|p| p.client_id != client_id);
        s.participants.len() != before
    })
    .await?;
    if let Some(s) = left {
        *session = s;
    } else {
        session.participants.retain(|p| p.client_id != client_id);
    }
    host.delete(&keys::sid(realm, &session.sid_for(client_id)))
        .await?;
    Ok(true)
}

/// The ids of every session indexed for the user with `sub` (live or not yet swept), at most
/// `max`.
pub async fn ids_of_user<H: Host>(
    host: &H,
    realm: &str,
    sub: &str,
    max: usize,
) -> Result<Vec<String>, Error> {
    let prefix = keys::user_sessions(realm, sub);
    Ok(records::list_all(host, &prefix, max)
        .await?
        .into_iter()
        .map(|k| String::from(&k[prefix.len()..]))
        .collect())
}

/// The user a session belongs to, if that account still exists, is the same account (same
/// `sub`: a deleted user's name given to someone else does not inherit the session) and is
/// not disabled.
pub async fn owner<H: Host>(host: &H, realm: &str, s: &Session) -> Result<Option<User>, Error> {
    let user: Option<User> = records::load(host, &keys::user(realm, &s.user)).await?;
    Ok(user.filter(|u| u.sub == s.sub && !u.disabled))
}

/// The `Set-Cookie` value for a session token.
pub fn cookie(realm: &str, token: &str, secure: bool, max_age: u64) -> String {
    alloc::format!(
        "{COOKIE}={token}; Path=/realms/{realm}; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn session() -> Session {
        Session {
            id: String::from("id"),
            user: String::from("u"),
            sub: String::from("s"),
            auth_time: 100,
            created: 100,
            last_access: 100,
            max_expires_at: 1100,
            idle_timeout_secs: 300,
            sid_key: SidKey([1u8; 32]),
            participants: Vec::new(),
            device: None,
        }
    }

    #[test]
    fn a_device_is_its_user_agent_bounded_and_printable() {
        assert_eq!(device_of(None), None);
        assert_eq!(device_of(Some("  ")), None);
        assert_eq!(
            device_of(Some(" Mozilla/5.0 (X11)\u{7}\n ")).as_deref(),
            Some("Mozilla/5.0 (X11)")
        );
        let long = "é".repeat(200);
        let cut = device_of(Some(&long)).unwrap();
        assert_eq!(cut.len(), MAX_DEVICE_LEN);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn sid_is_per_client_and_stable() {
        let s = session();
        assert_eq!(s.sid_for("rp1"), s.sid_for("rp1"));
        assert_ne!(s.sid_for("rp1"), s.sid_for("rp2"));
        let mut other = session();
        other.sid_key = SidKey([2u8; 32]);
        assert_ne!(s.sid_for("rp1"), other.sid_for("rp1"));
    }

    #[test]
    fn csrf_tokens_are_per_purpose_and_never_a_clients_sid() {
        let s = session();
        assert_ne!(s.csrf("consent"), s.csrf("logout"));
        assert!(crate::opaque_token::is_token(&s.csrf("consent")));
        for client in ["consent", "logout", "csrf", "csrf.consent"] {
            assert_ne!(s.sid_for(client), s.csrf("consent"));
            assert_ne!(s.sid_for(client), s.csrf("logout"));
        }
    }

    #[test]
    fn a_stored_sid_key_is_32_bytes_or_the_session_does_not_load() {
        let mut doc = serde_json::to_value(session()).unwrap_or_default();
        let back = serde_json::from_value::<Session>(doc.clone()).ok();
        assert_eq!(back.map(|b| b.sid_key), Some(SidKey([1u8; 32])));
        for bad in ["", "AAAA", "not base64!"] {
            doc["sid_key"] = serde_json::Value::String(String::from(bad));
            assert!(
                serde_json::from_value::<Session>(doc.clone()).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(format!("{:?}", SidKey([7; 32])), "SidKey([redacted])");
    }

    #[test]
    fn expiry_by_idle_and_max() {
        let mut s = session();
        // Idle 300 s plus one touch step (30 s) of slack.
        assert_eq!(s.expiry(UnixTime(429)), None);
        assert_eq!(s.expiry(UnixTime(430)), Some(Expiry::Idle));
        s.last_access = 1000;
        assert_eq!(s.expiry(UnixTime(1099)), None);
        assert_eq!(s.expiry(UnixTime(1100)), Some(Expiry::MaxTime));
    }
}
