//! Expiry: the sweep that ends sessions whose idle or absolute deadline has passed, from the
//! expiry index (`exp/{minute}/{R}/{id}`) the session module keeps.

use alloc::string::String;

use super::LogoutCause;
use super::end::end_session;
use crate::error::Error;
use crate::host::Host;
use crate::records::Session;
use crate::{keys, realm, session};

/// End every session whose deadline has passed, telling its relying parties: reads the
/// expiry index up to and including the current minute. Returns how many sessions ended.
/// Sessions touched since they were indexed are re-indexed, not ended.
pub async fn sweep<H: Host>(host: &H) -> Result<usize, Error> {
    let now = host.now();
    let current = session::bucket(now.secs());
    let mut ended = 0;
    let mut cursor: Option<String> = None;
    loop {
        let page = host
            .list(
                keys::EXPIRY,
                crate::store::Page::after(cursor.as_deref(), 100),
            )
            .await?;
        for key in &page.keys {
            let mut parts = key.splitn(4, '/');
            let (_, b, realm_name, id) = (parts.next(), parts.next(), parts.next(), parts.next());
            let (Some(Ok(b)), Some(realm_name), Some(id)) =
                (b.map(str::parse::<u64>), realm_name, id)
            else {
                host.delete(key).await?;
                continue;
            };
            if b > current {
                return Ok(ended);
            }
            let keep = match session::load_any(host, realm_name, id).await? {
                None => false,
                Some(s) if end_if_due(host, realm_name, &s).await? => {
                    ended += 1;
                    false
                }
                // Touched since it was indexed here: index it where it is now due.
                Some(s) if session::exp_key(s.deadline(), realm_name, id) != *key => {
                    session::index(host, realm_name, &s).await?;
                    false
                }
                // Due later in the current minute: keep the entry, and wake then.
                Some(s) => {
                    host.wake_at(realm_name, id, s.deadline()).await?;
                    true
                }
            };
            if !keep {
                host.delete(key).await?;
            }
        }
        match page.cursor {
            Some(c) if !page.keys.is_empty() => cursor = Some(c),
            _ => return Ok(ended),
        }
    }
}

/// End `s` when its time is up (telling its relying parties; a session of a realm that is gone
/// is only removed). Whether it did.
async fn end_if_due<H: Host>(host: &H, realm_name: &str, s: &Session) -> Result<bool, Error> {
    let Some(why) = s.expiry(host.now()) else {
        return Ok(false);
    };
    let cause = match why {
        session::Expiry::MaxTime => LogoutCause::SessionMaxTimeout,
        session::Expiry::Idle => LogoutCause::SessionIdleTimeout,
    };
    match realm::load(host, realm_name).await? {
        Some(realm) => {
            end_session(host, &realm, s, cause).await?;
        }
        None => session::remove(host, realm_name, s).await?,
    }
    Ok(true)
}

/// What a host's timer calls at a time it was asked to wake ([`Host::wake_at`]): end session
/// `id` of `realm_name` if it is due; if it is not (it was used since), ask to be woken at its
/// new deadline. Whether it ended.
pub async fn expire<H: Host>(host: &H, realm_name: &str, id: &str) -> Result<bool, Error> {
    let Some(s) = session::load_any(host, realm_name, id).await? else {
        return Ok(false);
    };
    if end_if_due(host, realm_name, &s).await? {
        return Ok(true);
    }
    host.wake_at(realm_name, id, s.deadline()).await?;
    Ok(false)
}
