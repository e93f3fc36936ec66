//! Full sign-in flows per second over real HTTP, and the provider's CPU time per flow, against
//! the native server in-process (memory store, default realm: RS256, 1.5 s logout wait).
//!
//! One flow is what a user's browser and a confidential relying party do, from a browser
//! without a session to a signed-out one:
//!
//! 1. `GET /authorize` (code flow, PKCE S256): the sign-in form;
//! 2. `POST /login` with the user's password (PBKDF2-SHA256, 50,000 iterations: the count
//!    every new hash gets): a session and a 303 back to the authorization endpoint;
//! 3. `GET /authorize` with the session: a 302 to the RP with a code (the user allowed this RP
//!    once, in the warm-up; a returning user is not asked again);
//! 4. `POST /token` (client_secret_basic, `code_verifier`): an ID token (and an access token);
//! 5. `GET /end_session` with the ID token as `id_token_hint` (RP-initiated logout): the session
//!    ends, its back-channel logout token is signed and delivered to the RP (a test RP on
//!    127.0.0.1 that answers 200 and checks each token as §2.6 says after the row, so that its
//!    pure-Rust verification does not share the cores with the provider), and the provider
//!    redirects to the RP's `post_logout_redirect_uri` once the RP has taken it.
//!
//! Each of `c` clients (threads, one HTTP client each, each its own user) runs flows one after
//! another until N flows are done in all. The provider's CPU time is that of its threads (the
//! serving threads, the event loop and the deliveries' HTTP thread, and its blocking pool,
//! where RSA signatures and password checks run: named `oidc-edge-*`), read from
//! `/proc/self/task/*/schedstat`; the clients and the test RP run in the same process on the
//! same cores but are not counted; the table splits the serving threads (HTTP, routing, the
//! store, JSON, ES256, verification) from the blocking pool (the password check, RSA
//! signatures). The CPU time of one password check
//! is measured in the same run by calling the server's PBKDF2 directly; `cores ÷ that` is the
//! most flows per second the machine could do if everything but the password check were free.
//! The cores slow one another when both work (on this VM a check alone takes less CPU than one
//! of two at once), so the run also measures the password checks per second with every core
//! checking and nothing else: `of checks/s` is the flows' rate against that.
//!
//! Run: `cargo bench -p oidc-edge-benches --bench flows` (add `2>/dev/null` for the table
//! alone). `FLOWS_N=n` sets the flows measured per row (default 400), `FLOWS_CLIENTS=1,8` the
//! concurrent clients of each row, `FLOWS_ALG=ES256` (or PS256) the RP's ID-token algorithm
//! (default RS256, the OIDC default; the logout token is signed with the same key type),
//! `FLOWS_STORE=redb` the embedded on-disk store instead of memory.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use oidc_edge::native::crypto::pbkdf2_now;
use oidc_edge::native::server::ServerOptions;
use oidc_edge_core::http::encode_params;
use oidc_edge_core::opaque_token::random_token;
use oidc_edge_core::password::PASSWORD_ITERATIONS;
use oidc_edge_tests::OsEntropy;
use oidc_edge_tests::flow::{self, Authorize};
use oidc_edge_tests::op::{Op, PASSWORD, REALM, Registered, SESSION_COOKIE, Start, USER};
use oidc_edge_tests::rp::{Answer, Expect, TestRp};
use reqwest::Method;
use serde_json::json;

use oidc_edge_benches::{ServerCpu, env_list, env_or, median, thread_ns};

/// Where the RP sends the user after logout.
const POST_LOGOUT: &str = "https://rp.example/signed-out";
/// The scopes each flow asks for.
const SCOPE: &str = "openid profile email";

/// The CPU time of one password check: the server's own PBKDF2 call, on this thread, timed
/// by this thread's CPU clock; the median of `n`.
fn pbkdf2_cpu(n: usize) -> Duration {
    let me = std::path::Path::new("/proc/thread-self/schedstat");
    let salt = [7u8; 16];
    let times = (0..n)
        .map(|_| {
            let before = thread_ns(me);
            std::hint::black_box(pbkdf2_now(PASSWORD.as_bytes(), &salt, PASSWORD_ITERATIONS));
            Duration::from_nanos(thread_ns(me) - before)
        })
        .collect();
    median(times)
}

/// Password checks per second with every core checking (`cores` threads, `each` checks each):
/// the most flows per second the password check itself allows when the cores slow one another
/// (shared caches, and on a VM a host's sibling threads), measured, not derived.
fn pbkdf2_rate(cores: usize, each: usize) -> f64 {
    let salt = [7u8; 16];
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..cores {
            s.spawn(|| {
                for _ in 0..each {
                    std::hint::black_box(pbkdf2_now(
                        PASSWORD.as_bytes(),
                        &salt,
                        PASSWORD_ITERATIONS,
                    ));
                }
            });
        }
    });
    (cores * each) as f64 / t0.elapsed().as_secs_f64()
}

/// One full flow for `user` (see the module's documentation).
fn one_flow(op: &Op, reg: &Registered, user: &str) {
    let state = random_token(&OsEntropy).unwrap();
    let nonce = random_token(&OsEntropy).unwrap();
    let (verifier, challenge) = flow::pkce();
    let extra = format!("&code_challenge={challenge}&code_challenge_method=S256");
    let a = Authorize {
        scope: SCOPE,
        state: &state,
        nonce: &nonce,
        session: None,
        extra: &extra,
    };
    let page = op.send_request(flow::authorize_request(REALM, &reg.id, &reg.redirect, &a));
    assert_eq!(page.status, 200, "the sign-in form: {}", page.text());
    let r = op.login_with_form(&page, user, PASSWORD);
    assert_eq!(r.status, 303, "login: {}", r.text());
    let session = r.cookie(SESSION_COOKIE).expect("a session cookie");
    let r = op.follow(r.location(), &session);
    let r = op.consent_if_asked(r, &session, "allow");
    let tokens = op.redeem(reg, &r, &state, Some(&verifier));
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    let r = op.end_session(
        &session,
        &[
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", POST_LOGOUT),
            ("state", &state),
        ],
    );
    // A redirect only once the RP took its logout token; else a page saying where it stands.
    assert_eq!(r.status, 302, "end_session: {}", r.text());
    assert_eq!(
        r.location(),
        format!(
            "{POST_LOGOUT}?{}",
            encode_params([("state", state.as_str())])
        )
    );
}

/// Run `n` flows over `clients` concurrent clients; the wall time.
fn run(op: &Op, reg: &Registered, users: &[String], clients: usize, n: usize) -> Duration {
    let next = AtomicUsize::new(0);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for user in &users[..clients] {
            let next = &next;
            s.spawn(move || {
                let me = Op::attach(&op.base_url, &op.admin_token, op.clock.clone());
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    one_flow(&me, reg, user);
                }
            });
        }
    });
    t0.elapsed()
}

fn main() {
    let n = env_or("FLOWS_N", 400).max(1);
    let levels = env_list("FLOWS_CLIENTS", &[1, 8]);
    let alg = std::env::var("FLOWS_ALG").unwrap_or_else(|_| "RS256".into());
    let on_disk = std::env::var("FLOWS_STORE").as_deref() == Ok("redb");
    let cores = std::thread::available_parallelism().map_or(1, usize::from);

    let data = on_disk.then(|| tempfile::tempdir().expect("a temp dir"));
    let op = Op::start(Start {
        // The server's defaults (a sweep every 30 s), on a free loopback port.
        options: ServerOptions {
            data: data.as_ref().map(|d| d.path().join("data")),
            ..oidc_edge_tests::test_options()
        },
        realm_config: json!({}),
    });
    let rp = TestRp::start();
    // The RP takes each token at once and checks it after the row (every token is still
    // checked, §2.6): its pure-Rust verification would otherwise share the cores with the OP.
    rp.answer(Answer::Status(200));
    let reg = op.register(json!({
        "backchannel_logout_uri": rp.uri(),
        "post_logout_redirect_uris": [POST_LOGOUT],
        "id_token_signed_response_alg": alg,
    }));
    rp.expect(Expect::new(&op.issuer, &reg.id).validated_later());
    // One user per client: alice, then users of her password.
    let most = levels.iter().copied().max().unwrap_or(1);
    let users: Vec<String> = (0..most)
        .map(|i| {
            if i == 0 {
                return USER.to_owned();
            }
            let name = format!("user{i}");
            let r = op.admin(
                Method::PUT,
                &format!("/admin/realms/{REALM}/users/{name}"),
                Some(&json!({"password": PASSWORD})),
            );
            assert_eq!(r.status, 201, "create {name}: {}", r.text());
            name
        })
        .collect();
    // Every user allows the RP once (the consent page), and every code path runs once.
    run(&op, &reg, &users, most, most);

    let mut out = format!(
        "\nFull flows ({}): sign-in form, password login (PBKDF2-SHA256, {PASSWORD_ITERATIONS} \
         iterations), authorize (code + PKCE S256), token (client_secret_basic; {alg} ID token), \
         RP-initiated logout with the back-channel logout token delivered to the RP; {n} flows \
         per row, one user per client. OP CPU: its serving threads and blocking pool (the \
         clients and the test RP share the {cores} cores but are not counted). The password \
         check is measured just before and just after each row (the mean of the two): `PBKDF2` \
         is one check's CPU time alone (median of 15), `limit` = {cores} cores / that; \
         `checks/s` is the checks per second with all {cores} cores checking and nothing \
         else.\n\n",
        if on_disk { "redb" } else { "memory" },
    );
    out.push_str(
        "| clients | flows/s | OP CPU per flow (ms) | serving threads (ms) | blocking pool (ms) | PBKDF2 (ms) | PBKDF2 share | other OP CPU (ms) | limit (flows/s) | of limit | checks/s | of checks/s |\n",
    );
    out.push_str(
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    // The password check's cost now: one check's CPU time alone, and checks per second on
    // every core. The machine's speed drifts (a VM's host), so each row gets its own.
    let check_now = || (pbkdf2_cpu(15), pbkdf2_rate(cores, 20));
    let mut delivered = rp.received().len();
    for &c in &levels {
        let before = check_now();
        let cpu0 = ServerCpu::now();
        let wall = run(&op, &reg, &users, c, n);
        let cpu = ServerCpu::now().since(cpu0);
        let after = check_now();
        let pbkdf2 = (before.0 + after.0) / 2;
        let checks = f64::midpoint(before.1, after.1);
        let limit = cores as f64 / pbkdf2.as_secs_f64();
        rp.wait_answered(delivered + n, Duration::from_secs(30));
        let got = rp.validate_received();
        assert!(got[delivered..].iter().all(|g| g.verdict.is_ok()));
        delivered += n;
        let rate = n as f64 / wall.as_secs_f64();
        let per = |d: Duration| d.as_secs_f64() * 1e3 / n as f64;
        let per_flow = (cpu.serving + cpu.pool).as_secs_f64() / n as f64;
        let line = format!(
            "| {c} | {rate:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0}% | {:.2} | {limit:.0} | {:.0}% | {checks:.0} | {:.0}% |\n",
            per_flow * 1e3,
            per(cpu.serving),
            per(cpu.pool),
            pbkdf2.as_secs_f64() * 1e3,
            100.0 * pbkdf2.as_secs_f64() / per_flow,
            (per_flow - pbkdf2.as_secs_f64()) * 1e3,
            100.0 * rate / limit,
            100.0 * rate / checks,
        );
        eprint!("{line}");
        out.push_str(&line);
    }
    println!("{out}");
}
