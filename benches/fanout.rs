//! Fan-out of one session's end to N relying parties over real HTTP: the native server runs
//! in-process with its default delivery policy (5 s timeout, 1024 in flight); N test RPs on
//! 127.0.0.1 each validate their logout token (§2.6) and answer 200 after 100 ms. For N = 1,
//! 10 and 100: register N clients, sign one session in to all N, then time from the logout
//! call to the moment the N-th RP received its token (and answered it). Each N is repeated,
//! the median reported, with the ratio to N = 1 (the goal: at most 1.3 at N = 100: the RPs
//! are notified in parallel, not one after another).
//!
//! Run: `cargo bench -p oidc-edge-benches --bench fanout` (the server's request log goes to stderr;
//! add `2>/dev/null` for the table alone). `FANOUT_REPEAT=n` sets the repetitions (default 7),
//! `FANOUT_STORE=redb` (or `both`) measures the embedded on-disk store instead of memory,
//! `FANOUT_ALG=ES256` (or PS256) registers the RPs with that ID-token algorithm (default
//! RS256, the OIDC default), `FANOUT_N=1,100,1000` sets the sizes (default 1,10,100; the
//! first is the ratios' baseline), `FANOUT_CONCURRENCY=n` the deliveries in flight at once
//! (default: the server's, 1024), and `FANOUT_RP=later` has the RPs record each token as it
//! comes and validate it after the round (every token is still checked): the time is then the
//! OP's alone, not also the RPs' verifying on the same two cores (each ES256 verification
//! with core's pure-Rust code costs an RP about a third of a millisecond of CPU).
//!
//! To profile the rounds alone (not the set-up, which signs every RP in): `mkfifo /tmp/ctl`,
//! then `PERF_CTL=/tmp/ctl perf record -D -1 --control fifo:/tmp/ctl -g <bench binary> --bench`.
//!
//! The table also gives the server's CPU time (its serving thread and blocking pool, from
//! `/proc`) from the logout call to the N-th RP's answer, and that per RP.
//!
//! The test RP and the HTTP driver are the end-to-end tests' own (`oidc_edge_tests::{rp, op}`):
//! the bench measures exactly what the tests check.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use oidc_edge::native::NativeClock;
use oidc_edge::native::server::ServerOptions;
use oidc_edge_core::logout::delivery::DeliveryPolicy;
use serde_json::json;

use oidc_edge_benches::{PerfControl, ServerCpu, env_list, env_or, median, ms};
use oidc_edge_tests::op::{Op, Registered, Start};
use oidc_edge_tests::rp::{Answer, Expect, TestRp};

/// How long each RP takes to answer.
const RP_LATENCY: Duration = Duration::from_millis(100);
/// Longest wait for one round.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);

/// One logout, timed from just before the call.
#[derive(Clone, Copy, Debug)]
struct Round {
    /// The logout call's answer (the outbox is durable by then).
    answered: Duration,
    /// The N-th RP received its token.
    last_received: Duration,
    /// The N-th RP answered 200.
    last_done: Duration,
    /// The server's CPU time (serving thread and blocking pool) from the call to that answer.
    cpu: Duration,
}

struct Bench {
    op: Op,
    rps: Vec<(TestRp, Registered)>,
    /// The RPs validate their tokens after the round, not as they come.
    later: bool,
    /// Profiles the rounds alone when asked (`PERF_CTL`).
    perf: std::cell::RefCell<PerfControl>,
    _data: Option<tempfile::TempDir>,
}

impl Bench {
    fn new(n: usize, on_disk: bool, alg: &str, later: bool) -> Self {
        // The store's directory is made by the server: a fresh path inside a temp dir.
        let data = on_disk.then(|| tempfile::tempdir().expect("a temp dir"));
        let op = Op::start(Start {
            options: ServerOptions {
                addr: "127.0.0.1:0".parse().unwrap(),
                data: data.as_ref().map(|d| d.path().join("data")),
                clock: NativeClock::system(),
                delivery: DeliveryPolicy {
                    concurrency: env_or(
                        "FANOUT_CONCURRENCY",
                        DeliveryPolicy::default().concurrency,
                    ),
                    ..DeliveryPolicy::default()
                },
                sweep_interval: Duration::from_secs(3600),
                ..ServerOptions::default()
            },
            // The logout call answers once the deliveries are durable, without waiting for
            // the RPs' answers (`benches/logout_wait.rs` measures the wait).
            realm_config: json!({"logout_wait_ms": 0}),
        });
        let rps = (0..n)
            .map(|_| {
                let rp = TestRp::start();
                rp.answer(Answer::After(RP_LATENCY, 200));
                let reg = op.register(json!({
                    "backchannel_logout_uri": rp.uri(),
                    "id_token_signed_response_alg": alg,
                }));
                let expect = Expect::new(&op.issuer, &reg.id);
                rp.expect(if later {
                    expect.validated_later()
                } else {
                    expect
                });
                (rp, reg)
            })
            .collect();
        Self {
            op,
            rps,
            later,
            perf: std::cell::RefCell::new(PerfControl::from_env()),
            _data: data,
        }
    }

    fn round(&self) -> Round {
        let session = self.op.session();
        for (_, reg) in &self.rps {
            self.op.sign_in(reg, &session);
        }
        let before: Vec<usize> = self.rps.iter().map(|(rp, _)| rp.received().len()).collect();
        let cpu0 = ServerCpu::now();
        self.perf.borrow_mut().enable();
        let t0 = Instant::now();
        let answer = self.op.sessions_logout(&session, true);
        let answered = t0.elapsed();
        assert_eq!(answer["backchannel_logout_deliveries"], self.rps.len());
        let mut last_received = Duration::ZERO;
        let mut last_done = Duration::ZERO;
        for ((rp, _), &k) in self.rps.iter().zip(&before) {
            rp.wait_answered(k + 1, ROUND_TIMEOUT);
        }
        let cpu = ServerCpu::now().since(cpu0);
        self.perf.borrow_mut().disable();
        for ((rp, _), k) in self.rps.iter().zip(before) {
            let mut got = rp.received();
            if self.later {
                got = rp.validate_received();
            }
            let this = &got[k];
            assert_eq!(this.answered.map(|a| a.0), Some(200));
            assert!(this.verdict.is_ok(), "{:?}", this.verdict);
            last_received = last_received.max(this.at - t0);
            last_done = last_done.max(this.answered.unwrap().1 - t0);
        }
        Round {
            answered,
            last_received,
            last_done,
            cpu: cpu.serving + cpu.pool,
        }
    }
}

fn main() {
    let repeat: usize = env_or("FANOUT_REPEAT", 7).max(1);
    let stores: &[bool] = match std::env::var("FANOUT_STORE").as_deref() {
        Ok("redb") => &[true],
        Ok("both") => &[false, true],
        _ => &[false],
    };
    let alg: String = env_or("FANOUT_ALG", "RS256".into());
    let later = std::env::var("FANOUT_RP").as_deref() == Ok("later");
    // The first N is the baseline of the ratios.
    let ns = env_list("FANOUT_N", &[1, 10, 100]);
    let mut out = String::new();
    out.push_str(&format!(
        "\nBack-channel fan-out: one session, N RPs ({alg}) answering after {} ms, {}; median \
         of {repeat} rounds (after one warm-up), times from the logout call.\n\n",
        RP_LATENCY.as_millis(),
        if later {
            "each token validated after the round"
        } else {
            "each token validated as it comes"
        }
    ));
    out.push_str("| store | N | logout answered (ms) | N-th RP received (ms) | N-th RP answered (ms) | received / N=1 | answered / N=1 | OP CPU (ms) | OP CPU per RP (µs) |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for &on_disk in stores {
        let mut base: Option<(Duration, Duration)> = None;
        for &n in &ns {
            let bench = Bench::new(n, on_disk, &alg, later);
            bench.round();
            let rounds: Vec<Round> = (0..repeat).map(|_| bench.round()).collect();
            let answered = median(rounds.iter().map(|r| r.answered).collect());
            let received = median(rounds.iter().map(|r| r.last_received).collect());
            let done = median(rounds.iter().map(|r| r.last_done).collect());
            let cpu = median(rounds.iter().map(|r| r.cpu).collect());
            let (b_recv, b_done) = *base.get_or_insert((received, done));
            let line = format!(
                "| {} | {n} | {} | {} | {} | {:.2} | {:.2} | {} | {:.0} |\n",
                if on_disk { "redb" } else { "memory" },
                ms(answered),
                ms(received),
                ms(done),
                received.as_secs_f64() / b_recv.as_secs_f64(),
                done.as_secs_f64() / b_done.as_secs_f64(),
                ms(cpu),
                cpu.as_secs_f64() * 1e6 / n as f64,
            );
            eprint!("{line}");
            out.push_str(&line);
        }
    }
    println!("{out}");
}
