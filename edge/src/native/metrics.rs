//! The native server's metrics: what core counts ([`Metric`]) and each request's latency, kept
//! in memory and written in the Prometheus text format (version 0.0.4) at `GET /metrics`, behind
//! the admin token, or without it on a listener of its own (`--metrics-addr`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use oidc_edge_core::logout::LogoutCause;
use oidc_edge_core::metrics::{AttemptOutcome, Metric};

/// Bucket bounds of the time from a session's end to an RP's 2xx, in seconds.
const NOTIFY_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Bucket bounds of request and attempt latency, in seconds.
const LATENCY_BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A histogram with fixed buckets.
#[derive(Clone, Debug)]
struct Histogram {
    bounds: &'static [f64],
    /// Per bucket, not cumulative; the last is +Inf.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, v: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i] += 1;
        self.sum += v;
        self.count += 1;
    }

    /// Its series, with `labels` (`k="v",` pairs or empty) on each.
    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c;
            let le = self
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), ToString::to_string);
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{le}\"}} {cumulative}");
        }
        let labels = labels.trim_end_matches(',');
        let braces = |l: &str| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{{{l}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), self.sum);
        let _ = writeln!(out, "{name}_count{} {}", braces(labels), self.count);
    }
}

#[derive(Debug)]
struct Counts {
    attempts: BTreeMap<&'static str, u64>,
    retries: u64,
    dead_letters: u64,
    queued: u64,
    sessions_ended: BTreeMap<&'static str, u64>,
    time_to_notify: Histogram,
    attempt_latency: Histogram,
    requests: BTreeMap<&'static str, Histogram>,
}

/// The metrics of one server.
#[derive(Debug)]
pub struct Metrics {
    counts: Mutex<Counts>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            counts: Mutex::new(Counts {
                attempts: AttemptOutcome::ALL
                    .iter()
                    .map(|o| (o.as_str(), 0))
                    .collect(),
                retries: 0,
                dead_letters: 0,
                queued: 0,
                sessions_ended: LogoutCause::ALL.iter().map(|c| (c.as_str(), 0)).collect(),
                time_to_notify: Histogram::new(&NOTIFY_BUCKETS),
                attempt_latency: Histogram::new(&LATENCY_BUCKETS),
                requests: BTreeMap::new(),
            }),
        }
    }
}

#[allow(clippy::cast_precision_loss)] // milliseconds, far below 2^52
fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

impl Metrics {
    /// Count what core says happened.
    pub fn observe(&self, m: &Metric) {
        let Ok(mut c) = self.counts.lock() else {
            return;
        };
        match *m {
            Metric::SessionEnded(cause) => {
                *c.sessions_ended.entry(cause.as_str()).or_default() += 1
            }
            Metric::DeliveriesQueued(n) => c.queued += n as u64,
            Metric::Attempt {
                outcome,
                retry,
                latency_ms,
                time_to_notify_ms,
            } => {
                *c.attempts.entry(outcome.as_str()).or_default() += 1;
                if retry {
                    c.retries += 1;
                }
                if outcome == AttemptOutcome::DeadLettered {
                    c.dead_letters += 1;
                }
                c.attempt_latency.observe(secs(latency_ms));
                if let Some(t) = time_to_notify_ms {
                    c.time_to_notify.observe(secs(t));
                }
            }
        }
    }

    /// Count a request to `endpoint` (a label from [`oidc_edge_core::metrics::endpoint`]) that
    /// took `seconds`.
    pub fn request(&self, endpoint: &'static str, seconds: f64) {
        if let Ok(mut c) = self.counts.lock() {
            c.requests
                .entry(endpoint)
                .or_insert_with(|| Histogram::new(&LATENCY_BUCKETS))
                .observe(seconds);
        }
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let Ok(c) = self.counts.lock() else {
            return String::new();
        };
        let mut out = String::new();
        let head = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(
            &mut out,
            "oidc_edge_backchannel_deliveries_total",
            "counter",
            "Back-channel logout delivery attempts, by what came of them.",
        );
        for (outcome, n) in &c.attempts {
            let _ = writeln!(
                out,
                "oidc_edge_backchannel_deliveries_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        for (name, help, n) in [
            (
                "oidc_edge_backchannel_deliveries_queued_total",
                "Deliveries queued: one per relying party of each ended session, and redeliveries.",
                c.queued,
            ),
            (
                "oidc_edge_backchannel_retries_total",
                "Delivery attempts that were retries.",
                c.retries,
            ),
            (
                "oidc_edge_backchannel_dead_letters_total",
                "Deliveries given up on after every retry.",
                c.dead_letters,
            ),
        ] {
            head(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {n}");
        }
        head(
            &mut out,
            "oidc_edge_backchannel_time_to_notify_seconds",
            "histogram",
            "From a session's end to the relying party's 2xx.",
        );
        c.time_to_notify
            .write(&mut out, "oidc_edge_backchannel_time_to_notify_seconds", "");
        head(
            &mut out,
            "oidc_edge_backchannel_attempt_duration_seconds",
            "histogram",
            "How long one back-channel POST took.",
        );
        c.attempt_latency.write(
            &mut out,
            "oidc_edge_backchannel_attempt_duration_seconds",
            "",
        );
        head(
            &mut out,
            "oidc_edge_sessions_ended_total",
            "counter",
            "Sessions ended, by cause.",
        );
        for (cause, n) in &c.sessions_ended {
            let _ = writeln!(
                out,
                "oidc_edge_sessions_ended_total{{cause=\"{cause}\"}} {n}"
            );
        }
        head(
            &mut out,
            "oidc_edge_http_request_duration_seconds",
            "histogram",
            "Time to answer a request, by endpoint.",
        );
        for (endpoint, h) in &c.requests {
            h.write(
                &mut out,
                "oidc_edge_http_request_duration_seconds",
                &format!("endpoint=\"{endpoint}\","),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_as_prometheus_text() {
        let m = Metrics::default();
        m.observe(&Metric::SessionEnded(LogoutCause::ClientLogout));
        m.observe(&Metric::DeliveriesQueued(2));
        m.observe(&Metric::Attempt {
            outcome: AttemptOutcome::Retrying,
            retry: false,
            latency_ms: 3,
            time_to_notify_ms: None,
        });
        m.observe(&Metric::Attempt {
            outcome: AttemptOutcome::Delivered,
            retry: true,
            latency_ms: 40,
            time_to_notify_ms: Some(120),
        });
        m.request("token", 0.004);
        let text = m.render();
        for line in [
            "oidc_edge_backchannel_deliveries_total{outcome=\"delivered\"} 1",
            "oidc_edge_backchannel_deliveries_total{outcome=\"retrying\"} 1",
            "oidc_edge_backchannel_deliveries_total{outcome=\"dead_lettered\"} 0",
            "oidc_edge_backchannel_retries_total 1",
            "oidc_edge_backchannel_deliveries_queued_total 2",
            "oidc_edge_sessions_ended_total{cause=\"CLIENT_LOGOUT\"} 1",
            "oidc_edge_sessions_ended_total{cause=\"SESSION_IDLE_TIMEOUT\"} 0",
            "oidc_edge_backchannel_time_to_notify_seconds_bucket{le=\"0.1\"} 0",
            "oidc_edge_backchannel_time_to_notify_seconds_bucket{le=\"0.25\"} 1",
            "oidc_edge_backchannel_time_to_notify_seconds_bucket{le=\"+Inf\"} 1",
            "oidc_edge_backchannel_time_to_notify_seconds_count 1",
            "oidc_edge_http_request_duration_seconds_bucket{endpoint=\"token\",le=\"0.005\"} 1",
            "oidc_edge_http_request_duration_seconds_count{endpoint=\"token\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing in:\n{text}"
            );
        }
    }
}
