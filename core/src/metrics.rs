//! What the provider counts, for the host to keep ([`crate::host::Host::observe`]): the native
//! server exports it at `GET /metrics` in the Prometheus text format. Core only says what
//! happened; the counters, histograms and their names are the host's.

use crate::logout::cause::LogoutCause;

/// What an attempt of a delivery came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The RP answered 200 or 204.
    Delivered,
    /// The RP refused it, or it had nowhere to go: not retried.
    Rejected,
    /// A transient failure; a retry is scheduled.
    Retrying,
    /// A transient failure past the retry bound: dead-lettered.
    DeadLettered,
}

impl AttemptOutcome {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Rejected => "rejected",
            Self::Retrying => "retrying",
            Self::DeadLettered => "dead_lettered",
        }
    }

    /// Every outcome, in a fixed order.
    pub const ALL: [Self; 4] = [
        Self::Delivered,
        Self::Rejected,
        Self::Retrying,
        Self::DeadLettered,
    ];
}

/// One thing the provider counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// A session ended, for this cause.
    SessionEnded(LogoutCause),
    /// Deliveries queued for an ended session (or a redelivery).
    DeliveriesQueued(usize),
    /// One attempt of a delivery.
    Attempt {
        /// What came of it.
        outcome: AttemptOutcome,
        /// Whether it was a retry (not the first attempt of its run).
        retry: bool,
        /// How long the POST took, in ms.
        latency_ms: u64,
        /// For a delivered one: from the session's end to the RP's 2xx, in ms.
        time_to_notify_ms: Option<u64>,
    },
}

/// The endpoint a request path is for, as a metric label: the route's last fixed segment
/// (`token`, `authorize`, `end_session`, ...), `admin`, `demo`, or `other`. Never a realm name or
/// an id: labels stay few.
pub fn endpoint(path: &str) -> &'static str {
    /// Endpoints of a realm that are one segment after `/realms/{R}/`.
    const ONE_SEGMENT: [&str; 11] = [
        "jwks",
        "authorize",
        "login",
        "consent",
        "authenticate",
        "token",
        "revoke",
        "introspect",
        "userinfo",
        "register",
        "end_session",
    ];
    let segs: alloc::vec::Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["realms", _, ".well-known", "openid-configuration"] => "discovery",
        ["realms", _, "sessions", "logout"] => "sessions_logout",
        ["realms", _, "register", _] => "register",
        ["realms", _, one] => ONE_SEGMENT
            .iter()
            .find(|e| *e == one)
            .copied()
            .unwrap_or("other"),
        ["admin", ..] => "admin",
        ["demo", ..] => "demo",
        ["metrics"] => "metrics",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn endpoints_are_few_and_never_carry_ids() {
        assert_eq!(endpoint("/realms/acme/token"), "token");
        assert_eq!(
            endpoint("/realms/acme/.well-known/openid-configuration"),
            "discovery"
        );
        assert_eq!(endpoint("/realms/acme/sessions/logout"), "sessions_logout");
        assert_eq!(endpoint("/realms/acme/register/abc"), "register");
        assert_eq!(endpoint("/realms/acme/end_session"), "end_session");
        assert_eq!(endpoint("/realms/acme/whatever"), "other");
        assert_eq!(endpoint("/admin/realms/acme/clients/x"), "admin");
        assert_eq!(endpoint("/demo/state"), "demo");
        assert_eq!(endpoint("/nope"), "other");
    }
}
