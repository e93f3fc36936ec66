//! Audit events in ForgeRock AM's activity-log shape, written to the log as JSON lines and to
//! the store (`audit/{R}/{ts}/{id}`) for the admin API.

use alloc::{format, string::String, vec::Vec};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::error::Error;
use crate::host::{Host, LogEvent};
pub use crate::log::AuditEvent;
use crate::{keys, records};

/// The event of one back-channel logout attempt.
pub const BACK_CHANNEL_LOGOUT: &str = "AM-BACK-CHANNEL-LOGOUT";
/// How long audit events stay queryable, in seconds.
pub const RETENTION_SECS: u64 = 30 * 86400;
/// Most events one query returns.
pub const MAX_RESULTS: usize = 1000;

/// AM's user DN for `user` in `realm`.
pub fn user_id(realm: &str, user: &str) -> String {
    format!("id={user},ou=user,o={realm},ou=services,ou=am-config")
}

/// Record an event: one JSON line to the host's log and a stored copy for the admin API.
pub async fn record<H: Host>(host: &H, realm: &str, mut event: AuditEvent) -> Result<(), Error> {
    let ms = host.now_ms();
    event.timestamp = rfc3339_ms(ms);
    if event.id.is_empty() {
        event.id = crate::logout::logout_token::random_uuid(host)?;
    }
    event.realm = format!("/{realm}");
    host.log(&LogEvent::Audit(&event));
    let key = keys::audit(realm, ms, &event.id);
    records::save(host, &key, &event, Some(RETENTION_SECS)).await?;
    Ok(())
}

/// Events of `realm`, oldest first, optionally of one `event_name` and at or after `since_ms`.
pub async fn query<H: Host>(
    host: &H,
    realm: &str,
    event_name: Option<&str>,
    since_ms: u64,
) -> Result<Vec<AuditEvent>, Error> {
    let prefix = keys::audit_of(realm);
    // Keys sort by time: a store that can seek starts at `audit/{R}/{since}`; one that cannot
    // (Workers KV) lists from the prefix, and the keys below it are skipped unread.
    let start = keys::audit_since(realm, since_ms);
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = host
            .list(
                &prefix,
                crate::store::Page::after(cursor.as_deref(), 100).starting_at(&start),
            )
            .await?;
        for k in page.keys.iter().filter(|k| **k >= start) {
            if let Some(e) = records::load::<AuditEvent, _>(host, k).await?
                && event_name.is_none_or(|n| n == e.event_name)
            {
                out.push(e);
                if out.len() >= MAX_RESULTS {
                    return Ok(out);
                }
            }
        }
        match page.cursor {
            Some(c) if !page.keys.is_empty() => cursor = Some(c),
            _ => return Ok(out),
        }
    }
}

/// The last instant RFC 3339 can write (its years have four digits): 9999-12-31T23:59:59.999Z.
pub const MAX_RFC3339_MS: u64 = 253_402_300_799_999;

/// `2026-11-26T09:15:02.123Z` for a time in milliseconds since the epoch. Times past
/// [`MAX_RFC3339_MS`] have no RFC 3339 form and are written as that last instant.
pub fn rfc3339_ms(ms: u64) -> String {
    let ms = ms.min(MAX_RFC3339_MS) as i64;
    // chrono's years go to 262,143: after the clamp this is always `Some`.
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parse an RFC 3339 date-time (`2026-11-26T09:15:02Z`, fractions and offsets allowed) to
/// milliseconds since the epoch; `None` when it is not one, or is before the epoch.
///
/// The grammar is RFC 3339 §5.6's, checked by chrono (dates that exist, offsets within
/// ±23:59, a `T`, `t` or space between date and time); fractions past milliseconds are cut.
/// RFC 3339 text is ASCII: anything else is refused before chrono sees it, which also keeps
/// out the Unicode minus sign chrono takes in offsets.
pub fn parse_rfc3339_ms(s: &str) -> Option<u64> {
    if !s.is_ascii() {
        return None;
    }
    let t = DateTime::parse_from_rfc3339(s).ok()?;
    u64::try_from(t.timestamp_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_795_681_587_123), "2026-11-26T08:26:27.123Z");
        assert_eq!(
            parse_rfc3339_ms("2026-11-26T08:26:27.123Z"),
            Some(1_795_681_587_123)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-11-26T10:26:27+02:00"),
            Some(1_795_681_587_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2000-02-29T00:00:00Z"),
            Some(951_782_400_000)
        );
        assert_eq!(parse_rfc3339_ms("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
        assert_eq!(rfc3339_ms(MAX_RFC3339_MS), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_ms(u64::MAX), "9999-12-31T23:59:59.999Z");
    }

    /// A non-ASCII character where the offset is expected used to panic (a byte index that
    /// was not a character boundary).
    #[test]
    fn a_non_ascii_offset_is_an_error() {
        for s in [
            "2026-11-26T00:00:00+0\u{e9}00",
            "2026-11-26T00:00:00\u{e9}0:00",
            "2026-11-26T00:00:00.1+0\u{e9}00",
            "2026-11-26T00:00:00\u{2212}02:00",
            "2026-11-26T00:00:0\u{e9}Z",
        ] {
            assert_eq!(parse_rfc3339_ms(s), None, "{s}");
        }
    }

    /// Offsets are ±00:00 to ±23:59 (RFC 3339 §5.6 `time-numoffset`).
    #[test]
    fn offsets_out_of_range_are_refused() {
        for s in [
            "2026-11-26T00:00:00+99:99",
            "2026-11-26T00:00:00+24:00",
            "2026-11-26T00:00:00-00:60",
            "2026-11-26T00:00:00+0200",
            "2026-11-26T00:00:00+2:00",
        ] {
            assert_eq!(parse_rfc3339_ms(s), None, "{s}");
        }
        assert_eq!(
            parse_rfc3339_ms("2026-11-27T00:00:00+23:59"),
            parse_rfc3339_ms("2026-11-26T00:01:00Z")
        );
    }

    /// The date must exist and every field be plain digits.
    #[test]
    fn impossible_dates_and_signed_fields_are_refused() {
        for s in [
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-+1T00:00:00Z",
            "+026-11-26T00:00:00Z",
            "2026-11-26T24:00:00Z",
            "2026-11-26T00:00:00.Z",
            "2026-11-26T00:00:00",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_rfc3339_ms(s), None, "{s}");
        }
        assert_eq!(
            parse_rfc3339_ms("2026-11-26t08:26:27.1239z"),
            Some(1_795_681_587_123)
        );
    }
}
