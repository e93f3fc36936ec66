//! The provider the end-to-end tests run against, chosen by `OIDC_EDGE_TARGET`:
//!
//! - `native` (the default): the native server in-process ([`spawn_for_test`]), memory store.
//! - `worker`: the Cloudflare Worker as built by `scripts/build-worker.sh` (in `build/`),
//!   served by Miniflare (workerd) on a loopback port through `tests/js/worker-host.mjs`: KV,
//!   the logout Queue with its consumer and dead-letter queue, and the cron trigger, all local.
//!
//! Either way a test gets a [`Server`] with a base URL and an admin token, and drives it over
//! HTTP only; expiry is driven by [`Server::sweep_now`] (the worker: its scheduled handler)
//! and a manual clock by [`Server::advance`] (the worker: its `TEST_CLOCK`). The same
//! scenarios therefore run unchanged against both hosts.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use oidc_edge::native::server::{RunningServer, ServerOptions, spawn_for_test};
use oidc_edge::native::{NativeClock, OsEntropy};
use oidc_edge_core::host::Clock as _;
use oidc_edge_core::jose::b64;
use oidc_edge_core::opaque_token::random_token;
use serde_json::{Value, json};

/// The variable that chooses the target.
pub const TARGET_VAR: &str = "OIDC_EDGE_TARGET";

/// Where the provider under test runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The native server, in-process.
    Native,
    /// The Cloudflare Worker in workerd (Miniflare).
    Worker,
}

impl Target {
    /// The target `OIDC_EDGE_TARGET` names (`native` when unset); panics on anything else.
    pub fn current() -> Self {
        match std::env::var(TARGET_VAR).as_deref() {
            Err(_) | Ok("" | "native") => Self::Native,
            Ok("worker") => Self::Worker,
            Ok(other) => panic!("{TARGET_VAR}={other}: expected native or worker"),
        }
    }

    /// Whether the tests run against the worker. Tests that cannot apply there (killing the
    /// provider's process) say so and return early.
    pub fn is_worker() -> bool {
        Self::current() == Self::Worker
    }
}

/// Print why a test does not apply to the current target (it then returns early).
pub fn not_applicable(why: &str) {
    eprintln!(
        "not applicable to {TARGET_VAR}={}: {why}",
        std::env::var(TARGET_VAR).unwrap_or_default()
    );
}

/// A running provider under test. Stops when dropped.
pub struct Server {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:{port}`.
    pub base_url: String,
    /// The admin API's bearer token.
    pub admin_token: String,
    /// The provider's clock as the tests know it: the native server's own; the worker's
    /// mirror (its `TEST_CLOCK` follows every [`Server::advance`] of a manual clock).
    pub clock: NativeClock,
    host: Host,
}

enum Host {
    Native(RunningServer),
    Worker(WorkerProcess),
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("base_url", &self.base_url)
            .field("target", &self.target())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Start the provider on the current [`Target`] with `opts` (start from
    /// `test_options` in the tests crate). For the worker, these options apply: `demo`, `clock` (a manual
    /// clock becomes its `TEST_CLOCK`), `delivery` (timeout, retries, backoff base); the
    /// address is a free loopback port, the secrets are fresh, there is no periodic sweep.
    pub fn start(opts: ServerOptions) -> Self {
        match Target::current() {
            Target::Native => {
                let server = spawn_for_test(opts).expect("start the native test server");
                Self {
                    addr: server.addr,
                    base_url: server.base_url.clone(),
                    admin_token: server.admin_token.clone(),
                    clock: server.clock.clone(),
                    host: Host::Native(server),
                }
            }
            Target::Worker => {
                let worker = WorkerProcess::start(&opts);
                let server = Self {
                    addr: worker.addr,
                    base_url: format!("http://{}", worker.addr),
                    admin_token: worker.admin_token.clone(),
                    clock: opts.clock,
                    host: Host::Worker(worker),
                };
                server.sync_clock();
                server
            }
        }
    }

    /// Where the native server serves `GET /metrics` without the token (`--metrics-addr`),
    /// when it was given one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        match &self.host {
            Host::Native(s) => s.metrics_addr,
            Host::Worker(_) => None,
        }
    }

    /// Where it runs.
    pub fn target(&self) -> Target {
        match self.host {
            Host::Native(_) => Target::Native,
            Host::Worker(_) => Target::Worker,
        }
    }

    /// `{base_url}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sweep expired sessions now and wait for it; returns how many sessions it ended. The
    /// native server runs its sweep (the deliveries are in its outbox on return); the worker
    /// fires its scheduled handler (the deliveries are on its Queue on return).
    pub fn sweep_now(&self) -> usize {
        match &self.host {
            Host::Native(s) => s.sweep_now().expect("the sweep"),
            Host::Worker(w) => {
                let r = w.command(&json!({"cmd": "scheduled"}));
                r["ended"]
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or_else(|| panic!("the worker's sweep answered {r}"))
            }
        }
    }

    /// Move the provider's clock `secs` seconds forward (a manual clock stays where it is
    /// put; the system clock is shifted).
    pub fn advance(&self, secs: u64) {
        self.clock.advance(secs);
        self.sync_clock();
    }

    /// Tell the worker where a manual clock stands.
    fn sync_clock(&self) {
        if let Host::Worker(w) = &self.host
            && self.clock.is_manual()
        {
            w.command(&json!({"cmd": "clock", "ms": self.clock.now_ms()}));
        }
    }
}

/// The repository root (the parent of the crate this file is compiled into: `tests` or `edge`).
fn repo_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// A loopback port free at the time of asking.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `node tests/js/worker-host.mjs` with its line protocol (see that file).
struct WorkerProcess {
    child: Child,
    /// The host's stdin (commands) and its answers, line by line (read by a thread of their
    /// own, so that every wait is bounded).
    io: Mutex<(Option<ChildStdin>, mpsc::Receiver<String>)>,
    addr: SocketAddr,
    admin_token: String,
}

/// How long the worker may take to start (Miniflare spawns workerd and compiles the wasm).
const WORKER_START: Duration = Duration::from_secs(60);
/// How long one command may take (a sweep over every session of a test).
const WORKER_COMMAND: Duration = Duration::from_secs(30);

impl WorkerProcess {
    fn start(opts: &ServerOptions) -> Self {
        let root = repo_root();
        let wasm = root.join("build/index_bg.wasm");
        assert!(
            wasm.is_file(),
            "{TARGET_VAR}=worker needs the worker built into build/ (scripts/build-worker.sh)"
        );
        let port = free_port();
        let admin_token = random_token(&OsEntropy).expect("entropy");
        let mut key = [0u8; 32];
        oidc_edge_core::host::Entropy::fill(&OsEntropy, &mut key).expect("entropy");
        let settings = json!({
            "port": port,
            "adminToken": admin_token,
            "masterKey": b64::encode(key),
            "demo": opts.demo,
            "testClock": opts.clock.is_manual(),
            "delivery": {
                "timeoutMs": opts.delivery.timeout_ms,
                "retryMax": opts.delivery.retry_max,
                "retryBaseMs": opts.delivery.retry_base_ms,
            },
        });
        let mut child = Command::new("node")
            .arg(root.join("tests/js/worker-host.mjs"))
            .arg(settings.to_string())
            .current_dir(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run node tests/js/worker-host.mjs");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                // Answers are JSON objects; anything else is Miniflare's own log (verbose).
                if !line.starts_with('{') {
                    eprintln!("{line}");
                } else if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = next_answer(&rx, WORKER_START, "start");
        assert_eq!(ready["ready"], true, "the worker did not start: {ready}");
        Self {
            child,
            io: Mutex::new((stdin, rx)),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            admin_token,
        }
    }

    /// Send one command and wait for its answer; panics on an error answer.
    fn command(&self, command: &Value) -> Value {
        let mut io = self.io.lock().unwrap_or_else(|e| e.into_inner());
        let (stdin, answers) = &mut *io;
        let stdin = stdin.as_mut().expect("the worker host's stdin is open");
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .expect("write to the worker host");
        let answer = next_answer(answers, WORKER_COMMAND, &command.to_string());
        assert_eq!(answer["ok"], true, "{command} failed: {answer}");
        answer
    }
}

/// The worker host's next line, as JSON, within `limit`.
fn next_answer(answers: &mpsc::Receiver<String>, limit: Duration, what: &str) -> Value {
    let line = match answers.recv_timeout(limit) {
        Ok(line) => line,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the worker host did not answer {what} within {limit:?}")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            panic!("the worker host exited before answering {what} (its stderr is above)")
        }
    };
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("the worker host said {line:?} ({e})"))
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        // Closing stdin makes the host dispose Miniflare (and its workerd) and exit.
        let io = self.io.get_mut().unwrap_or_else(|e| e.into_inner());
        drop(io.0.take());
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
