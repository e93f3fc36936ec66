//! Audit events in ForgeRock AM's activity-log shape, written to the log as JSON lines and to
//! the store (`audit/{R}/{ts}/{id}`) for the admin API.

use alloc::{format, string::String, vec::Vec};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::host::Host;
use crate::model;

/// The event of one back-channel logout attempt.
pub const BACK_CHANNEL_LOGOUT: &str = "AM-BACK-CHANNEL-LOGOUT";
/// How long audit events stay queryable, in seconds.
pub const RETENTION_SECS: u64 = 30 * 86400;
/// Most events one query returns.
pub const MAX_RESULTS: usize = 1000;

/// One audit event (AM's activity log: `_id`, `timestamp`, `eventName`, `transactionId`,
/// `userId`, `trackingIds`, `realm`, `component`, `operation`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unique id.
    #[serde(rename = "_id")]
    pub id: String,
    /// RFC 3339 UTC time with milliseconds.
    pub timestamp: String,
    /// `AM-BACK-CHANNEL-LOGOUT`, `AM-SESSION-LOGGED_OUT`, ...
    #[serde(rename = "eventName")]
    pub event_name: String,
    /// Ties together the events of one logout (the logout token's `auditTrackingId`).
    #[serde(rename = "transactionId")]
    pub transaction_id: String,
    /// The user, as AM names it.
    #[serde(rename = "userId")]
    pub user_id: String,
    /// Related tracking ids (the session id).
    #[serde(rename = "trackingIds")]
    pub tracking_ids: Vec<String>,
    /// `/R`.
    pub realm: String,
    /// `OAuth` or `Session`.
    pub component: String,
    /// What happened, in words.
    pub operation: String,
}

/// AM's user DN for `user` in `realm`.
pub fn user_id(realm: &str, user: &str) -> String {
    format!("id={user},ou=user,o={realm},ou=services,ou=am-config")
}

/// Record an event: one JSON line to the host's log and a stored copy for the admin API.
pub async fn record<H: Host>(host: &H, realm: &str, mut event: AuditEvent) -> Result<(), Error> {
    let ms = host.now_ms();
    event.timestamp = rfc3339_ms(ms);
    if event.id.is_empty() {
        event.id = crate::logout::token::random_uuid(host)?;
    }
    event.realm = format!("/{realm}");
    let line = serde_json::to_string(&event).unwrap_or_default();
    host.log(&line);
    let key = format!("audit/{realm}/{ms:015}/{}", event.id);
    model::save(host, &key, &event, Some(RETENTION_SECS)).await?;
    Ok(())
}

/// Events of `realm`, oldest first, optionally of one `event_name` and at or after `since_ms`.
pub async fn query<H: Host>(
    host: &H,
    realm: &str,
    event_name: Option<&str>,
    since_ms: u64,
) -> Result<Vec<AuditEvent>, Error> {
    let prefix = format!("audit/{realm}/");
    // Keys sort by time: those below `audit/{R}/{since}` are skipped unread. (A store's list
    // cursor is opaque — Workers KV's is not a key — so the listing starts at the prefix.)
    let start = format!("{prefix}{since_ms:015}");
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = host.list(&prefix, cursor.as_deref(), 100).await?;
        for k in page.keys.iter().filter(|k| **k >= start) {
            if let Some(e) = model::load::<AuditEvent, _>(host, k).await?
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

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-26T09:15:02.123Z` for a time in milliseconds since the epoch.
pub fn rfc3339_ms(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86400));
    let rem = secs.rem_euclid(86400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ms % 1000
    )
}

/// Parse an RFC 3339 date-time (`2026-11-26T09:15:02Z`, fractions and offsets allowed) to
/// milliseconds since the epoch.
pub fn parse_rfc3339_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: core::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0u64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let f = &frac[..digits];
        millis = f
            .chars()
            .chain(core::iter::repeat('0'))
            .take(3)
            .collect::<String>()
            .parse()
            .ok()?;
        rest = &frac[digits..];
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
            let oh: i64 = o[1..3].parse().ok()?;
            let om: i64 = o[4..6].parse().ok()?;
            let v = oh * 3600 + om * 60;
            if o.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(y), mo, d);
    let secs =
        days * 86400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(se) - offset_secs;
    u64::try_from(secs).ok().map(|s| s * 1000 + millis)
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
    }
}
