//! The native HTTP server: core's provider on hyper, one thread, an embedded store.
//!
//! Core's futures are `!Send` (Workers futures are, and core is written once for both), so the
//! server runs on a current-thread tokio runtime and every connection is a `spawn_local` task
//! of a [`LocalSet`](tokio::task::LocalSet). One thread is plenty: the work per request is a
//! few store reads and, at most, one signature.
//!
//! Two ways to run it: [`serve_forever`] (`oidc-edge serve`) and [`spawn_for_test`], a server
//! on a thread of its own for tests. Both [`bind`] first, then run the [`BoundServer`].

use std::fmt;
use std::io::{self, Write as _};
use std::net::SocketAddr;

use tokio::sync::mpsc;

use super::NativeClock;
pub use super::bind::{BoundServer, bind};
pub use super::config::{
    ADMIN_TOKEN_ENV, ADMIN_TOKEN_FILE, DEFAULT_MAX_CONNECTIONS, DEFAULT_READ_TIMEOUT,
    DEFAULT_SWEEP_INTERVAL, MASTER_KEY_ENV, MASTER_KEY_FILE, STORE_FILE, SecretSource,
    ServerOptions,
};
pub use super::host::NativeHost;
use super::host::log;
pub use super::http::MAX_HEAD;
use super::tasks::SweepRequest;

/// Bind and serve on this thread until Ctrl-C or SIGTERM, printing [`BoundServer::banner`]
/// to stdout once listening. This is `oidc-edge serve`.
pub fn serve_forever(opts: ServerOptions) -> io::Result<()> {
    runtime()?.block_on(async {
        let server = bind(opts).await?;
        {
            let mut out = io::stdout().lock();
            out.write_all(server.banner().as_bytes())?;
            out.flush()?;
        }
        server.run_until(termination()).await?;
        log(format_args!("oidc-edge: stopped"));
        Ok(())
    })
}

/// The server's runtime: one thread serves; signatures and password checks go to its
/// blocking pool, whose threads are named `oidc-edge-blocking` (in `top -H`, `perf` and the
/// flows bench, which counts the provider's CPU time by thread name).
fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .thread_name("oidc-edge-blocking")
        .enable_all()
        .build()
}

/// Completes on Ctrl-C, or on SIGTERM where there is one.
async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        // No way to hear a signal: serve until killed.
        std::future::pending::<()>().await;
    }
}
/// A server on its own thread, for tests: stops (and joins its thread) when dropped.
pub struct RunningServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its base URL (`http://127.0.0.1:{port}` unless one was given).
    pub base_url: String,
    /// The admin API's bearer token.
    pub admin_token: String,
    /// Its clock: [`NativeClock::advance`] moves the server's time (and wakes the delivery
    /// worker, so retries due by the new time go out at once).
    pub clock: NativeClock,
    /// Where `GET /metrics` is served without the token, when asked for.
    pub metrics_addr: Option<SocketAddr>,
    sweeps: mpsc::UnboundedSender<SweepRequest>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .field("base_url", &self.base_url)
            .field("admin_token", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// `{base_url}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sweep expired sessions now, as the timer does, and wait for it: returns how many
    /// sessions it ended. Their deliveries are in the outbox when this returns and the
    /// delivery worker is already woken. Call it from a thread other than the server's.
    pub fn sweep_now(&self) -> io::Result<usize> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.sweeps
            .send(tx)
            .map_err(|_| io::Error::other("the server has stopped"))?;
        rx.recv()
            .map_err(|_| io::Error::other("the server stopped before the sweep ended"))?
            .map_err(io::Error::other)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Start a server on a thread of its own (its own current-thread runtime), wait until it
/// listens, and hand back where. Use port 0 in `opts.addr` to get a free port.
pub fn spawn_for_test(opts: ServerOptions) -> io::Result<RunningServer> {
    let clock = opts.clock.clone();
    type Ready = (
        SocketAddr,
        String,
        String,
        mpsc::UnboundedSender<SweepRequest>,
        Option<SocketAddr>,
    );
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<Ready>>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("oidc-edge-server".into())
        .spawn(move || {
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                let server = match bind(opts).await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let info = (
                    server.local_addr(),
                    server.base_url().to_owned(),
                    server.admin_token().to_owned(),
                    server.sweep_requests.clone(),
                    server.metrics_addr(),
                );
                let _ = ready_tx.send(Ok(info));
                let stopped = async {
                    // A dropped sender stops the server too.
                    let _ = stop_rx.await;
                };
                if let Err(e) = server.run_until(stopped).await {
                    log(format_args!("test server: {e}"));
                }
            });
        })?;
    let (addr, base_url, admin_token, sweeps, metrics_addr) = ready_rx
        .recv()
        .map_err(|_| io::Error::other("the server thread ended before it was ready"))??;
    Ok(RunningServer {
        addr,
        base_url,
        admin_token,
        clock,
        metrics_addr,
        sweeps,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use oidc_edge_core::http::MAX_BODY;

    use super::*;

    #[test]
    fn memory_server_answers_and_stops_on_drop() {
        let server = spawn_for_test(ServerOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            ..ServerOptions::default()
        })
        .unwrap();
        assert_ne!(server.addr.port(), 0);
        assert_eq!(server.base_url, format!("http://{}", server.addr));
        let addr = server.addr;
        let resp = raw_request(
            addr,
            "GET /nope?secret=1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        );
        assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
        assert!(resp.contains("\"error\":\"not_found\""), "{resp}");
        drop(server);
        assert!(std::net::TcpStream::connect(addr).is_err(), "stopped");
    }

    #[test]
    fn oversized_bodies_get_413() {
        let server = spawn_for_test(ServerOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            ..ServerOptions::default()
        })
        .unwrap();
        let big = "a".repeat(MAX_BODY + 1);
        // Declared length too large.
        let resp = raw_request(
            server.addr,
            &format!(
                "POST /realms/demo/token HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{big}",
                big.len()
            ),
        );
        assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
        assert!(resp.contains(
            r#"{"error":"invalid_request","error_description":"request body too large"}"#
        ));
        // Chunked, no length declared: found while reading.
        let resp = raw_request(
            server.addr,
            &format!(
                "POST /realms/demo/token HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
                big.len()
            ),
        );
        assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
        // Expect: 100-continue is refused before the body is sent.
        let resp = raw_request(
            server.addr,
            "POST /realms/demo/token HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\nexpect: 100-continue\r\n\r\n",
        );
        assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
        // At the limit is fine (core answers; today 404).
        let ok = "a".repeat(MAX_BODY);
        let resp = raw_request(
            server.addr,
            &format!(
                "POST /nope HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{ok}",
                ok.len()
            ),
        );
        assert!(!resp.starts_with("HTTP/1.1 413"), "{resp}");
    }

    /// Send raw bytes, read until the server closes (or a second passes).
    fn raw_request(addr: SocketAddr, req: &str) -> String {
        use std::io::Read as _;
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}
