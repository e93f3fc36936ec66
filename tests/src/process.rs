//! The real `oidc-edge` binary as a child process, for tests that must kill the provider
//! (`SIGKILL`, no chance to flush or finish) and start it again on the same data directory.
//!
//! The caller names the binary: `env!("CARGO_BIN_EXE_oidc-edge")`, which cargo builds and sets
//! for the `oidc-edge` package's own integration tests (`edge/tests/restart.rs`).

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The admin token the child gets through `OIDC_EDGE_ADMIN_TOKEN`.
pub const ADMIN_TOKEN: &str = "process-test-admin-token-0123456789";

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
    /// `<bin> serve --data <data> --addr <addr> <extra...>` with [`ADMIN_TOKEN`]; returns once
    /// its banner says it listens (panics after 10 s, with what it printed).
    pub fn serve(bin: &Path, data: &Path, addr: SocketAddr, extra: &[&str]) -> Self {
        let mut child = Command::new(bin)
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
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
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
