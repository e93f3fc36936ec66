//! The real `oidc-edge` binary as a child process, for tests that must kill the provider
//! (`SIGKILL`, no chance to flush or finish) and start it again on the same data directory.
//!
//! `env!("CARGO_BIN_EXE_oidc-edge")` exists only in the `oidc-edge` package's own tests, so the
//! binary is found next to the test executable: `target/<profile>/oidc-edge`, the grandparent
//! of `target/<profile>/deps/<test>`. It is (re)built with cargo first, once per test process,
//! so a stale binary is never tested.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

/// The admin token the child gets through `OIDC_EDGE_ADMIN_TOKEN`.
pub const ADMIN_TOKEN: &str = "process-test-admin-token-0123456789";

/// The `oidc-edge` binary of this build profile, built (or brought up to date) on first use.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(build_binary)
}

fn build_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/<profile>/deps/<test> -> target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps")
        .to_path_buf();
    let bin = profile_dir.join(format!("oidc-edge{}", std::env::consts::EXE_SUFFIX));
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug")
        .to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(crate::repo_root()).args([
        "build",
        "--quiet",
        "-p",
        "oidc-edge",
        "--bin",
        "oidc-edge",
    ]);
    // Cargo gave this test process the variables of the tests crate (CARGO_MANIFEST_DIR, ...).
    // Passed on, they count as changed inputs of crates that read them (ring), which would be
    // rebuilt here and again by the next ordinary build.
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let per_crate = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_EXE_")
            || matches!(
                name,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
                    | "OUT_DIR"
            );
        if per_crate {
            cmd.env_remove(name);
        }
    }
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    // The same target directory as this test executable's.
    if let Some(target_dir) = profile_dir.parent() {
        cmd.arg("--target-dir").arg(target_dir);
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "`{cargo} build -p oidc-edge --bin oidc-edge` ({profile}) failed with {s}: the test \
             needs the real binary at {}",
            bin.display()
        ),
        Err(e) if bin.is_file() => {
            eprintln!(
                "warning: cannot run {cargo} ({e}); testing the existing {} as it is",
                bin.display()
            );
        }
        Err(e) => panic!(
            "the oidc-edge binary is missing at {} and cargo could not be run to build it ({e}): \
             run `cargo build -p oidc-edge --bin oidc-edge` first",
            bin.display()
        ),
    }
    assert!(
        bin.is_file(),
        "cargo built oidc-edge but it is not at {}",
        bin.display()
    );
    bin
}

/// A free loopback port (bound, then released: the child binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running `oidc-edge serve`. Killed (`SIGKILL`) when dropped.
#[derive(Debug)]
pub struct Provider {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://{addr}`.
    pub base_url: String,
}

impl Provider {
    /// `oidc-edge serve --data <data> --addr <addr> <extra...>` with [`ADMIN_TOKEN`]; returns
    /// once its banner says it listens (panics after 10 s, with what it printed).
    pub fn serve(data: &Path, addr: SocketAddr, extra: &[&str]) -> Self {
        let mut child = Command::new(binary())
            .arg("serve")
            .arg("--data")
            .arg(data)
            .arg("--addr")
            .arg(addr.to_string())
            .args(extra)
            .env("OIDC_EDGE_ADMIN_TOKEN", ADMIN_TOKEN)
            .env_remove("OIDC_EDGE_MASTER_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary().display()));
        // Both streams are read to their end on threads of their own, so the child never
        // blocks on a full pipe; the first stdout line tells us it listens.
        let (tx, rx) = mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let tx_err = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(format!("stdout: {line}"));
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // Keep the child's log visible in the test output (captured unless it fails).
                eprintln!("[oidc-edge] {line}");
                let _ = tx_err.send(format!("stderr: {line}"));
            }
        });
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.starts_with("stdout: oidc-edge listening on ") => break,
                Ok(line) => seen.push(line),
                Err(_) => {
                    let status = child.try_wait().ok().flatten();
                    let _ = child.kill();
                    panic!(
                        "oidc-edge serve did not say it listens within 10 s (exit: {status:?}); \
                         it printed: {seen:#?}"
                    );
                }
            }
        }
        Self {
            child,
            addr,
            base_url: format!("http://{addr}"),
        }
    }

    /// `SIGKILL` (what `Child::kill` sends on Unix) and reap it.
    pub fn kill(mut self) {
        self.kill_now();
    }

    fn kill_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// A fresh directory under the system's temp dir, removed when dropped.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `{tmp}/oidc-edge-{name}-{pid}-{n}`, empty.
    pub fn new(name: &str) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("oidc-edge-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
