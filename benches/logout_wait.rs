//! The logout that waits for the relying parties' answers (the realm's `logout_wait_ms`,
//! 1500 ms by default): how long `POST /realms/R/sessions/logout` takes to answer, against the
//! slowest RP's answer, over real HTTP with the native server in-process (memory store) and
//! test RPs on 127.0.0.1 that validate each token (§2.6) and answer 200 after 100 ms.
//!
//! Two cases: N = 10 RPs that all answer (the goal: the call answers within 1.2× the slowest
//! RP), and the same with one more RP that never answers (the goal: the call answers at the
//! bound, not later). Each case is repeated, the median reported.
//!
//! Run: `cargo bench -p oidc-edge-benches --bench logout_wait 2>/dev/null`;
//! `LOGOUT_WAIT_REPEAT=n` sets the repetitions (default 7).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use oidc_edge::native::NativeClock;
use oidc_edge::native::server::ServerOptions;
use oidc_edge_core::logout::delivery::DeliveryPolicy;
use serde_json::json;

use oidc_edge_benches::{median, ms};
use oidc_edge_tests::op::{Op, Registered, Start};
use oidc_edge_tests::rp::{Answer, Expect, TestRp};

/// How long each answering RP takes.
const RP_LATENCY: Duration = Duration::from_millis(100);
/// RPs that answer.
const N: usize = 10;
/// The realm's `logout_wait_ms`.
const BOUND_MS: u64 = 1500;

struct Bench {
    op: Op,
    rps: Vec<(TestRp, Registered)>,
    hanging: Option<(TestRp, Registered)>,
}

impl Bench {
    fn new(with_hanging: bool) -> Self {
        let op = Op::start(Start {
            options: ServerOptions {
                addr: "127.0.0.1:0".parse().unwrap(),
                clock: NativeClock::system(),
                delivery: DeliveryPolicy::default(),
                sweep_interval: Duration::from_secs(3600),
                ..ServerOptions::default()
            },
            realm_config: json!({"logout_wait_ms": BOUND_MS}),
        });
        let make = |answer: Answer| {
            let rp = TestRp::start();
            rp.answer(answer);
            let reg = op.register(json!({"backchannel_logout_uri": rp.uri()}));
            rp.expect(Expect::new(&op.issuer, &reg.id));
            (rp, reg)
        };
        let rps = (0..N)
            .map(|_| make(Answer::After(RP_LATENCY, 200)))
            .collect();
        let hanging = with_hanging.then(|| make(Answer::Hang));
        Self { op, rps, hanging }
    }

    /// One logout: (the call's answer, the slowest answering RP's 200), from the call.
    fn round(&self) -> (Duration, Duration) {
        let session = self.op.session();
        for (_, reg) in self.rps.iter().chain(self.hanging.iter()) {
            self.op.sign_in(reg, &session);
        }
        let before: Vec<usize> = self.rps.iter().map(|(rp, _)| rp.received().len()).collect();
        let t0 = Instant::now();
        let answer = self.op.sessions_logout(&session, true);
        let answered = t0.elapsed();
        let delivered = answer["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["state"] == "delivered")
            .count();
        assert_eq!(delivered, N, "{answer}");
        let mut slowest = Duration::ZERO;
        for ((rp, _), k) in self.rps.iter().zip(before) {
            let got = rp.wait_answered(k + 1, Duration::from_secs(30));
            let this = &got[k];
            assert_eq!(this.answered.map(|a| a.0), Some(200));
            slowest = slowest.max(this.answered.unwrap().1 - t0);
        }
        (answered, slowest)
    }
}

fn main() {
    let repeat: usize = std::env::var("LOGOUT_WAIT_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7)
        .max(1);
    let mut out = format!(
        "\nThe logout that waits: {N} RPs answering 200 after {} ms, logout_wait_ms {BOUND_MS}; \
         median of {repeat} rounds (after one warm-up), times from the sessions/logout call.\n\n",
        RP_LATENCY.as_millis()
    );
    out.push_str("| case | logout answered (ms) | slowest RP answered (ms) | answered / slowest RP | answered / bound |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: |\n");
    for (name, hanging) in [
        ("10 RPs answer", false),
        ("10 RPs answer, 1 never does", true),
    ] {
        let bench = Bench::new(hanging);
        bench.round();
        let rounds: Vec<(Duration, Duration)> = (0..repeat).map(|_| bench.round()).collect();
        let answered = median(rounds.iter().map(|r| r.0).collect());
        let slowest = median(rounds.iter().map(|r| r.1).collect());
        #[allow(clippy::cast_precision_loss)]
        let bound = BOUND_MS as f64 / 1000.0;
        let line = format!(
            "| {name} | {} | {} | {:.2} | {:.2} |\n",
            ms(answered),
            ms(slowest),
            answered.as_secs_f64() / slowest.as_secs_f64(),
            answered.as_secs_f64() / bound,
        );
        eprint!("{line}");
        out.push_str(&line);
    }
    println!("{out}");
}
