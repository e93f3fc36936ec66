//! What core writes to the operator's log, typed: each event knows its one line, so every host
//! writes the same lines and only chooses where they go ([`crate::host::Host::log`]).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

/// One event for the operator's log.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum LogEvent<'a> {
    /// An audit event ([`crate::audit::record`]), written as one JSON line.
    Audit(&'a AuditEvent),
    /// A request the provider could not answer but with a 500: the path and why.
    InternalError {
        /// The request's path.
        path: &'a str,
        /// What failed.
        error: &'a dyn fmt::Display,
    },
    /// A request the host could not read (its body, its headers): it was not handled.
    RequestUnreadable {
        /// What failed.
        error: &'a dyn fmt::Display,
    },
    /// A delivery the host's runner could not attempt (its record could not be read or
    /// settled); core retries it at its next due time.
    DeliveryFailed {
        /// The delivery's id.
        id: &'a str,
        /// What failed.
        error: &'a dyn fmt::Display,
    },
    /// The host's runner could not read the outbox; it looks again shortly.
    OutboxUnreadable {
        /// What failed.
        error: &'a dyn fmt::Display,
    },
    /// An expiry sweep ran: how many sessions it ended.
    Swept {
        /// Sessions ended (each with its back-channel logout).
        ended: usize,
    },
    /// An expiry sweep failed; the next one tries again.
    SweepFailed {
        /// What failed.
        error: &'a dyn fmt::Display,
    },
}

impl fmt::Debug for LogEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogEvent({self})")
    }
}

impl fmt::Display for LogEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Audit(event) => {
                // Strings and a list of strings always serialize.
                f.write_str(&serde_json::to_string(event).unwrap_or_default())
            }
            Self::InternalError { path, error } => write!(f, "internal error on {path}: {error}"),
            Self::RequestUnreadable { error } => write!(f, "reading the request failed: {error}"),
            Self::DeliveryFailed { id, error } => write!(f, "delivery: {id} failed: {error}"),
            Self::OutboxUnreadable { error } => {
                write!(f, "delivery: reading the outbox failed: {error}")
            }
            Self::Swept { ended } => write!(f, "sweep: {ended} expired session(s) ended"),
            Self::SweepFailed { error } => write!(f, "sweep failed: {error}"),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::LogEvent;

    /// Every host writes its background work in these words (native, worker and js alike).
    #[test]
    fn host_events_have_one_wording() {
        let error = "store unavailable";
        let lines = [
            (
                LogEvent::InternalError {
                    path: "/realms/r/token",
                    error: &error,
                },
                "internal error on /realms/r/token: store unavailable",
            ),
            (
                LogEvent::RequestUnreadable { error: &error },
                "reading the request failed: store unavailable",
            ),
            (
                LogEvent::DeliveryFailed {
                    id: "d1",
                    error: &error,
                },
                "delivery: d1 failed: store unavailable",
            ),
            (
                LogEvent::OutboxUnreadable { error: &error },
                "delivery: reading the outbox failed: store unavailable",
            ),
            (
                LogEvent::Swept { ended: 3 },
                "sweep: 3 expired session(s) ended",
            ),
            (
                LogEvent::SweepFailed { error: &error },
                "sweep failed: store unavailable",
            ),
        ];
        for (event, line) in lines {
            assert_eq!(event.to_string(), line);
        }
    }
}
