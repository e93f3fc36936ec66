//! The end of a session: plan one delivery per relying party that holds an ID token from it,
//! make the deliveries durable, then remove the session and audit its end.

use alloc::collections::BTreeSet;
use alloc::{format, string::String, vec::Vec};

use super::delivery::{Delivery, DeliveryState};
use super::ledger;
use super::logout_token::{LogoutCause, random_uuid};
use crate::audit::{self, AuditEvent};
use crate::error::Error;
use crate::host::{Host, Metric};
use crate::keys;
use crate::records::{self, Client, Realm, Session};
use crate::session;

/// What ending a session did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    /// Deliveries queued (one per RP with a `backchannel_logout_uri`).
    pub deliveries: usize,
    /// The audit transaction id of this logout.
    pub transaction_id: String,
    /// The deliveries queued, as planned (to wait for: [`super::ledger::wait`]).
    pub queued: Vec<Delivery>,
}

/// Record deliveries in the ledger and hand them to the host's durable queue: every delivery
/// of a session's end goes this way. A queue that fails leaves no record behind.
pub async fn queue<H: Host>(host: &H, deliveries: &[Delivery]) -> Result<(), Error> {
    if deliveries.is_empty() {
        return Ok(());
    }
    ledger::open(host, deliveries).await?;
    if let Err(e) = host.enqueue(deliveries.to_vec()).await {
        // Best effort: the error that matters is the queue's.
        let _ = ledger::discard(host, deliveries).await;
        return Err(e.into());
    }
    host.observe(&Metric::DeliveriesQueued(deliveries.len()));
    Ok(())
}

/// AM's event name for a session that ended for `cause`.
pub fn session_event(cause: LogoutCause) -> &'static str {
    match cause {
        LogoutCause::ClientLogout => "AM-SESSION-LOGGED_OUT",
        LogoutCause::SessionTermination => "AM-SESSION-DESTROYED",
        LogoutCause::SessionMaxTimeout => "AM-SESSION-MAX_TIMED_OUT",
        LogoutCause::SessionIdleTimeout => "AM-SESSION-IDLE_TIMED_OUT",
    }
}

/// The deliveries a session's end calls for: one per participant that registered a
/// `backchannel_logout_uri`; `sid` only for those that require it.
pub async fn plan<H: Host>(
    host: &H,
    realm: &Realm,
    s: &Session,
    cause: LogoutCause,
    transaction_id: &str,
) -> Result<Vec<Delivery>, Error> {
    plan_except(host, realm, s, cause, transaction_id, &BTreeSet::new()).await
}

/// [`plan`] for the participants of `s` not in `told` (each delivery's tracking id numbered by
/// its participant's place, so that a later plan for newcomers does not repeat one).
async fn plan_except<H: Host>(
    host: &H,
    realm: &Realm,
    s: &Session,
    cause: LogoutCause,
    transaction_id: &str,
    told: &BTreeSet<String>,
) -> Result<Vec<Delivery>, Error> {
    let now_ms = host.now_ms();
    let mut out = Vec::new();
    for (i, p) in s.participants.iter().enumerate() {
        if told.contains(&p.client_id) {
            continue;
        }
        let Some(client) =
            records::load::<Client, _>(host, &keys::client(&realm.name, &p.client_id)).await?
        else {
            continue;
        };
        let Some(uri) = client.metadata.backchannel_logout_uri.clone() else {
            continue;
        };
        out.push(Delivery {
            id: ledger::new_id(host, now_ms)?,
            realm: realm.name.clone(),
            session_id: s.id.clone(),
            client_id: p.client_id.clone(),
            uri,
            user: s.user.clone(),
            sub: s.sub.clone(),
            sid: client
                .metadata
                .backchannel_logout_session_required
                .then(|| s.sid_for(&p.client_id)),
            cause,
            tracking_id: format!("{transaction_id}-{i}"),
            attempts: 0,
            next_attempt_ms: now_ms,
            state: DeliveryState::Pending,
            last_outcome: None,
        });
    }
    Ok(out)
}

/// End `s` for `cause`: the deliveries are durable (handed to the host's queue) before the
/// session is removed, so a crash in between repeats the logout rather than losing it.
pub async fn end_session<H: Host>(
    host: &H,
    realm: &Realm,
    s: &Session,
    cause: LogoutCause,
) -> Result<Ended, Error> {
    end_session_by(host, realm, s, cause, None).await
}

/// [`end_session`], with the audit event naming who or what ended it (`user deleted`, `user
/// disabled`, `password reset`, `realm deleted`).
pub async fn end_session_by<H: Host>(
    host: &H,
    realm: &Realm,
    s: &Session,
    cause: LogoutCause,
    initiator: Option<&str>,
) -> Result<Ended, Error> {
    let transaction_id = random_uuid(host)?;
    let deliveries = plan(host, realm, s, cause, &transaction_id).await?;
    finish(host, realm, s, cause, initiator, deliveries, transaction_id).await
}

/// How often the end of a session reads it again when it changed meanwhile.
const END_ATTEMPTS: usize = 8;

/// Hand `deliveries` to the host's queue, then remove `s` and audit its end. The session goes
/// in a swap against what was last read of it: a client that joined meanwhile (its tokens
/// issued while the logout was being queued) is planned and queued too before it goes.
async fn finish<H: Host>(
    host: &H,
    realm: &Realm,
    s: &Session,
    cause: LogoutCause,
    initiator: Option<&str>,
    deliveries: Vec<Delivery>,
    transaction_id: String,
) -> Result<Ended, Error> {
    queue(host, &deliveries).await?;
    let mut queued = deliveries;
    let key = keys::session(&realm.name, &s.id);
    let mut told: BTreeSet<String> = s.participants.iter().map(|p| p.client_id.clone()).collect();
    let mut ended = s.clone();
    let mut gone = false;
    for _ in 0..END_ATTEMPTS {
        let Some((current, raw)) = records::load_raw::<Session, _>(host, &key).await? else {
            gone = true;
            break;
        };
        if current
            .participants
            .iter()
            .any(|p| !told.contains(&p.client_id))
        {
            let more = plan_except(host, realm, &current, cause, &transaction_id, &told).await?;
            told.extend(current.participants.iter().map(|p| p.client_id.clone()));
            queue(host, &more).await?;
            queued.extend(more);
        }
        ended = current;
        if host.swap(&key, Some(&raw), None, None).await? {
            gone = true;
            break;
        }
    }
    let s = &ended;
    if !gone {
        // Changed under us every time: remove it all the same (its logout is queued).
        host.delete(&key).await?;
    }
    session::remove_indexes(host, &realm.name, s).await?;
    host.observe(&Metric::SessionEnded(cause));
    let n = queued.len();
    let clients: Vec<&str> = s
        .participants
        .iter()
        .map(|p| p.client_id.as_str())
        .collect();
    let event = AuditEvent {
        id: String::new(),
        timestamp: String::new(),
        event_name: String::from(session_event(cause)),
        transaction_id: transaction_id.clone(),
        user_id: audit::user_id(&realm.name, &s.user),
        tracking_ids: alloc::vec![s.id.clone()],
        realm: String::new(),
        component: String::from("Session"),
        operation: format!(
            "Session ended ({cause}{}); back-channel logout queued for {n} of {} client(s){}{}.",
            initiator.map_or_else(String::new, |i| format!(", initiated by: {i}")),
            clients.len(),
            if clients.is_empty() { "" } else { ": " },
            clients.join(", ")
        ),
    };
    audit::record(host, &realm.name, event).await?;
    Ok(Ended {
        deliveries: n,
        transaction_id,
        queued,
    })
}

/// What [`end_user`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndedAll {
    /// Sessions ended.
    pub sessions: usize,
    /// Logout tokens queued.
    pub deliveries: usize,
    /// The deliveries queued, as planned.
    pub queued: Vec<Delivery>,
}

/// How many logout tokens a relying party that does not require `sid` gets when every session
/// of a user ends at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SidLess {
    /// One for the user (`sub`, no `sid`): "sign out everywhere", by the user or an
    /// administrator. Its first session's token says it all.
    Once,
    /// One per session it took part in, as if each had ended alone (the user deleted or
    /// disabled, the password reset).
    PerSession,
}

/// End every session of the user `sub`, each as [`end_session_by`] does. A relying party that
/// requires `sid` is sent one logout token per session it took part in; one that does not, as
/// `sid_less` says.
pub async fn end_user<H: Host>(
    host: &H,
    realm: &Realm,
    sub: &str,
    cause: LogoutCause,
    initiator: Option<&str>,
    sid_less: SidLess,
) -> Result<EndedAll, Error> {
    let mut told: BTreeSet<String> = BTreeSet::new();
    let mut done = EndedAll::default();
    loop {
        let ids = session::ids_of_user(host, &realm.name, sub, 100).await?;
        if ids.is_empty() {
            return Ok(done);
        }
        for id in ids {
            let Some(s) = session::load_any(host, &realm.name, &id).await? else {
                // An index entry whose session is gone (expired, or ended elsewhere).
                host.delete(&keys::user_session(&realm.name, sub, &id))
                    .await?;
                continue;
            };
            let transaction_id = random_uuid(host)?;
            let mut deliveries = plan(host, realm, &s, cause, &transaction_id).await?;
            if sid_less == SidLess::Once {
                deliveries.retain(|d| d.sid.is_some() || told.insert(d.client_id.clone()));
            }
            let ended = finish(
                host,
                realm,
                &s,
                cause,
                initiator,
                deliveries,
                transaction_id,
            )
            .await?;
            done.sessions += 1;
            done.deliveries += ended.deliveries;
            done.queued.extend(ended.queued);
        }
    }
}

/// End one client's part in a session (its grant was revoked, or its refresh token replayed:
/// `reason` says which, for the audit event): it is sent a logout token for the session, so it
/// ends its own, and it no longer takes part (no further logout token, its access tokens stop
/// working). Returns how many deliveries were queued (0 or 1).
pub async fn end_participation<H: Host>(
    host: &H,
    realm: &Realm,
    s: &mut Session,
    client_id: &str,
    reason: &str,
) -> Result<usize, Error> {
    if !s.has_participant(client_id) {
        return Ok(0);
    }
    let mut only = s.clone();
    only.participants.retain(|p| p.client_id == client_id);
    let transaction_id = random_uuid(host)?;
    let deliveries = plan(
        host,
        realm,
        &only,
        LogoutCause::SessionTermination,
        &transaction_id,
    )
    .await?;
    let n = deliveries.len();
    queue(host, &deliveries).await?;
    session::leave(host, &realm.name, s, client_id).await?;
    let event = AuditEvent {
        id: String::new(),
        timestamp: String::new(),
        event_name: String::from("AM-SESSION-PROPERTY_CHANGED"),
        transaction_id,
        user_id: audit::user_id(&realm.name, &s.user),
        tracking_ids: alloc::vec![s.id.clone()],
        realm: String::new(),
        component: String::from("Session"),
        operation: format!(
            "{reason}: client {client_id} left the session; back-channel logout queued for {n} client(s)."
        ),
    };
    audit::record(host, &realm.name, event).await?;
    Ok(n)
}
