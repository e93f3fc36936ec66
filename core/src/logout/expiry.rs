//! Expiry: the sweep that ends sessions whose idle or absolute deadline has passed, from the
//! expiry index (`exp/{minute}/{R}/{id}`) the session module keeps.

use alloc::string::String;

use super::LogoutCause;
use super::end::end_session;
use crate::error::Error;
use crate::host::Host;
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
                Some(s) => match s.expiry(now) {
                    Some(why) => {
                        let cause = match why {
                            session::Expiry::MaxTime => LogoutCause::SessionMaxTimeout,
                            session::Expiry::Idle => LogoutCause::SessionIdleTimeout,
                        };
                        match realm::load(host, realm_name).await? {
                            Some(realm) => {
                                end_session(host, &realm, &s, cause).await?;
                                ended += 1;
                            }
                            None => session::remove(host, realm_name, &s).await?,
                        }
                        false
                    }
                    // Touched since it was indexed here: index it where it is now due.
                    None if session::exp_key(s.deadline(), realm_name, id) != *key => {
                        session::index(host, realm_name, &s).await?;
                        false
                    }
                    // Due later in the current minute: keep the entry.
                    None => true,
                },
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
