//! The HTTP client of back-channel deliveries: form-encoded POSTs, one timeout per request, no
//! redirects, no proxy, and an SSRF guard for realms that do not allow private URIs.
//!
//! SSRF guard: core's [`check_post`] checks the URI first (an IP literal, in any spelling,
//! must be globally reachable; `localhost` names are refused). A host name is then resolved
//! by the HTTP client's own DNS resolver, which is the guard's second half: it refuses the
//! whole name when any address is not globally reachable (core's [`check_resolved`]), and
//! otherwise hands the client exactly the addresses it checked. The connection therefore goes
//! to a checked address: there is no second lookup between check and connect for a rebinding
//! DNS server to answer differently. The guarded client has a connection pool of its own, so a
//! connection opened for a realm that allows private URIs is never reused for one that does
//! not.

use std::cell::Cell;
use std::error::Error as StdError;
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use oidc_edge_core::host::{Post, PostOutcome};
use oidc_edge_core::host_config::check_post;
use oidc_edge_core::net::{TargetError, check_resolved};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::sync::Notify;

/// Most bytes of an RP's answer read (and dropped) so its connection can be reused.
const MAX_DRAIN: usize = 64 * 1024;
/// Longest wait for those bytes once the status is in (within the request's timeout too).
const DRAIN_WAIT: Duration = Duration::from_secs(1);
/// The native host's delivery machinery: the HTTP client and the worker's wake-up call.
#[derive(Debug)]
pub struct NativeDelivery {
    poster: HttpPoster,
    /// Wakes the delivery worker (`deliver.rs`).
    pub(super) wake: Notify,
}

tokio::task_local! {
    /// Within a request ([`NativeDelivery::holding_wakes`]): whether it enqueued deliveries
    /// whose wake of the worker is held back.
    static HELD: Rc<Cell<bool>>;
}

/// Gives a held wake when the request is over, answered or dropped (its client went away):
/// what it enqueued is durable and must not wait for the worker's next look.
struct WakeWhenDone<'a> {
    wake: &'a Notify,
    held: Rc<Cell<bool>>,
}

impl Drop for WakeWhenDone<'_> {
    fn drop(&mut self) {
        if self.held.get() {
            self.wake.notify_one();
        }
    }
}

impl NativeDelivery {
    /// Build the HTTP clients and their thread.
    pub fn new() -> Result<Self, PosterError> {
        Ok(Self {
            poster: HttpPoster::new()?,
            wake: Notify::new(),
        })
    }

    /// Answer a request with its wakes of the delivery worker held back until it is over (or
    /// until it waits for those deliveries, [`NativeDelivery::release_wakes`]). A logout's
    /// deliveries are durable before the wake either way; holding it lets the request finish
    /// its own few writes (ending the session, the audit event) before a thousand deliveries
    /// take the event loop and the store's writer, and they start the moment it is done.
    pub async fn holding_wakes<F: Future>(&self, request: F) -> F::Output {
        let held = Rc::new(Cell::new(false));
        let _done = WakeWhenDone {
            wake: &self.wake,
            held: Rc::clone(&held),
        };
        HELD.scope(held, request).await
    }

    /// Something was enqueued: wake the worker now, or, within a request, when it is done. A
    /// permit is kept when the worker is busy: it runs again as soon as it is done.
    pub fn wake_after_request(&self) {
        if HELD.try_with(|held| held.set(true)).is_err() {
            self.wake.notify_one();
        }
    }

    /// Wake the worker now if the request held its wake back: it is about to wait for what it
    /// enqueued.
    pub fn release_wakes(&self) {
        if HELD.try_with(|held| held.replace(false)) == Ok(true) {
            self.wake.notify_one();
        }
    }

    /// The HTTP side.
    pub fn poster(&self) -> &HttpPoster {
        &self.poster
    }
}

/// The HTTP client of back-channel deliveries.
#[derive(Debug)]
pub struct HttpPoster {
    /// For realms without `allow_private_uris`: resolves through the SSRF guard.
    guarded: reqwest::Client,
    /// For realms that allow private URIs (local development, `--demo`).
    open: reqwest::Client,
    /// Where the POSTs run.
    thread: HttpThread,
}

/// The deliveries' HTTP runs on a thread of its own (`oidc-edge-http`, a one-thread tokio
/// runtime): name resolution, connecting, sending and waiting for the status there, while the
/// server's event loop loads, signs and records. A fan-out to 1,000 RPs so works on two cores
/// instead of one: on one thread, the HTTP was about half of each delivery's time.
#[derive(Debug)]
struct HttpThread {
    /// Where the POSTs are spawned.
    handle: tokio::runtime::Handle,
    /// The runtime itself, taken when dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl HttpThread {
    fn new() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("oidc-edge-http")
            .enable_all()
            .build()?;
        Ok(Self {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }
}

impl Drop for HttpThread {
    /// Stopped without waiting: the host may be dropped inside the server's own runtime, where
    /// blocking is not allowed. A POST still running ends with it.
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Aborts a POST whose delivery was dropped (the server stopping), instead of letting it run
/// to its timeout.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl HttpPoster {
    /// Two clients (guarded and open), each with its own connection pool, and the thread they
    /// run on.
    pub fn new() -> Result<Self, PosterError> {
        let client = |allow_private: bool| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                // A proxy would resolve the name itself, out of the guard's sight.
                .no_proxy()
                .dns_resolver(Arc::new(GuardedResolver { allow_private }))
                .user_agent(concat!("oidc-edge/", env!("CARGO_PKG_VERSION")))
                .build()
        };
        Ok(Self {
            guarded: client(false).map_err(PosterError::Client)?,
            open: client(true).map_err(PosterError::Client)?,
            thread: HttpThread::new().map_err(PosterError::Thread)?,
        })
    }

    /// POST `post.body` to `post.uri` as a form, within `post.timeout_ms` (name resolution,
    /// connection, TLS and the status line all count), on the HTTP thread.
    pub async fn post(&self, post: Post<'_>) -> PostOutcome {
        let url = match check_post(&post) {
            Ok(url) => url,
            Err(refused) => return refused,
        };
        let client = if post.allow_private {
            &self.open
        } else {
            &self.guarded
        };
        let task = self.thread.handle.spawn(send(
            client.clone(),
            url,
            post.body.to_owned(),
            post.timeout_ms,
        ));
        let _abort = AbortOnDrop(task.abort_handle());
        task.await
            .unwrap_or_else(|e| PostOutcome::Failed(format!("the HTTP task failed: {e}")))
    }
}

/// Why the delivery client could not be built.
#[derive(Debug)]
pub enum PosterError {
    /// The HTTP client (its TLS roots, say).
    Client(reqwest::Error),
    /// The HTTP thread.
    Thread(std::io::Error),
}

impl fmt::Display for PosterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Client(e) => write!(f, "the delivery HTTP client: {e}"),
            Self::Thread(e) => write!(f, "the delivery HTTP thread: {e}"),
        }
    }
}

impl StdError for PosterError {}

/// One POST (see [`HttpPoster::post`]), wherever it runs.
async fn send(
    client: reqwest::Client,
    url: url::Url,
    body: String,
    timeout_ms: u64,
) -> PostOutcome {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout_ms);
    let request = client
        .post(url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send();
    match tokio::time::timeout_at(deadline, request).await {
        Err(_) => PostOutcome::Timeout,
        Ok(Err(e)) if e.is_timeout() => PostOutcome::Timeout,
        Ok(Err(e)) => match refusal(&e) {
            // The guard refused what the name resolves to: final, like a literal.
            Some(Refusal::Guard(why)) => PostOutcome::Refused(why.to_string()),
            _ => PostOutcome::Failed(describe(&e)),
        },
        Ok(Ok(mut response)) => {
            let status = response.status().as_u16();
            // The status is the answer; the body is read only so the connection can be
            // reused, and an RP that stalls on it does not change the outcome.
            let until = deadline.min(tokio::time::Instant::now() + DRAIN_WAIT);
            let _ = tokio::time::timeout_at(until, drain(&mut response)).await;
            PostOutcome::Status(status)
        }
    }
}

/// Read at most [`MAX_DRAIN`] bytes of the body, and drop them.
async fn drain(response: &mut reqwest::Response) {
    let mut seen = 0;
    while let Ok(Some(chunk)) = response.chunk().await {
        seen += chunk.len();
        if seen > MAX_DRAIN {
            break;
        }
    }
}

/// Why a delivery could not even be sent, in the words of the audit trail.
#[derive(Debug)]
enum Refusal {
    /// The name did not resolve.
    Dns(String),
    /// Core's guard refused an address the name resolves to ([`check_resolved`]).
    Guard(TargetError),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(host) => write!(f, "DNS lookup failed for {host}"),
            Self::Guard(why) => why.fmt(f),
        }
    }
}

impl StdError for Refusal {}

/// The delivery clients' DNS resolver: the system's, plus the SSRF guard when private
/// addresses are not allowed (see the module docs).
#[derive(Debug, Clone, Copy)]
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = check(&host, lookup(&host).await, allow_private)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The addresses of `host` (port 0: the client puts the URI's port in).
async fn lookup(host: &str) -> Vec<SocketAddr> {
    match tokio::net::lookup_host((host, 0)).await {
        Ok(addrs) => addrs.collect(),
        Err(_) => Vec::new(),
    }
}

/// The guard's decision on `host`'s addresses: all of them, or a refusal when there are none
/// or any is not globally reachable (and that is not allowed).
fn check(
    host: &str,
    addrs: Vec<SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, Refusal> {
    if addrs.is_empty() {
        return Err(Refusal::Dns(host.to_owned()));
    }
    check_resolved(host, addrs.iter().map(SocketAddr::ip), allow_private)
        .map_err(Refusal::Guard)?;
    Ok(addrs)
}

/// A failed request in a few words: the guard's refusal, the socket error, or the innermost
/// cause.
/// The guard's refusal behind a failed request, if that is why it failed.
fn refusal(e: &reqwest::Error) -> Option<&Refusal> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<Refusal>() {
            return Some(r);
        }
        cur = err.source();
    }
    None
}

fn describe(e: &reqwest::Error) -> String {
    let mut root = e.to_string();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(refusal) = err.downcast_ref::<Refusal>() {
            return refusal.to_string();
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            let words = match io.kind() {
                K::ConnectionRefused => Some("connection refused"),
                K::ConnectionReset => Some("connection reset by the peer"),
                K::ConnectionAborted => Some("connection aborted"),
                K::HostUnreachable => Some("host unreachable"),
                K::NetworkUnreachable => Some("network unreachable"),
                K::AddrNotAvailable => Some("address not available"),
                _ => None,
            };
            if let Some(words) = words {
                return words.to_owned();
            }
        }
        root = err.to_string();
        cur = err.source();
    }
    let root = root.trim_end_matches('.');
    if e.is_connect() {
        format!("could not connect: {root}")
    } else {
        format!("no answer: {root}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};
    use std::net::TcpListener;
    use std::sync::mpsc;

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A one-shot RP on a free loopback port: reads one request and sends it on the channel,
    /// then answers `reply` (or never, when `None`).
    fn rp(reply: Option<&'static str>) -> (SocketAddr, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let req = read_request(&mut s);
            let _ = tx.send(req);
            match reply {
                Some(r) => {
                    let _ = s.write_all(r.as_bytes());
                }
                // Hold the connection open, answering nothing, until the client gives up.
                None => {
                    let mut buf = [0u8; 1];
                    let _ = s.read(&mut buf);
                }
            }
        });
        (addr, rx)
    }

    fn read_request(s: &mut std::net::TcpStream) -> String {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            if s.read(&mut byte).unwrap_or(0) == 0 {
                break;
            }
            buf.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&buf).into_owned();
        let len = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).unwrap();
        head + &String::from_utf8_lossy(&body)
    }

    fn post(uri: &str, timeout_ms: u64, allow_private: bool) -> PostOutcome {
        let poster = HttpPoster::new().unwrap();
        block(poster.post(Post {
            uri,
            body: "logout_token=a.b.c",
            timeout_ms,
            allow_private,
        }))
    }

    /// A request's wake is held until it is over, answered or dropped; outside a request, and
    /// when the request starts waiting, it is given at once; a request that enqueued nothing
    /// gives none.
    #[test]
    fn a_request_holds_its_wake_until_it_is_over() {
        let d = NativeDelivery::new().unwrap();
        let woken = || async {
            tokio::time::timeout(Duration::from_millis(50), d.wake.notified())
                .await
                .is_ok()
        };
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(async {
                d.holding_wakes(async {
                    d.wake_after_request();
                    assert!(!woken().await, "woken mid-request");
                })
                .await;
                assert!(woken().await, "not woken once answered");
                d.holding_wakes(async {}).await;
                assert!(!woken().await, "woken with nothing enqueued");
                let dropped = d.holding_wakes(async {
                    d.wake_after_request();
                    std::future::pending::<()>().await;
                });
                assert!(
                    tokio::time::timeout(Duration::from_millis(10), dropped)
                        .await
                        .is_err()
                );
                assert!(woken().await, "not woken when the request was dropped");
                d.wake_after_request();
                assert!(woken().await, "not woken outside a request");
                d.holding_wakes(async {
                    d.wake_after_request();
                    d.release_wakes();
                    assert!(woken().await, "not woken when the request waits");
                })
                .await;
                assert!(!woken().await, "woken twice");
            });
    }

    /// The POSTs run on the HTTP thread, not the caller's; and the poster, dropped inside the
    /// caller's runtime (as the server drops its host), stops that thread without a panic.
    #[test]
    fn posts_run_on_the_http_thread_and_stop_with_the_poster() {
        let (addr, _rx) = rp(Some("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
        block(async {
            let poster = HttpPoster::new().unwrap();
            let thread = poster.thread.handle.clone();
            let uri = format!("http://{addr}/bc");
            let out = poster.post(Post {
                uri: &uri,
                body: "logout_token=a.b.c",
                timeout_ms: 2000,
                allow_private: true,
            });
            assert_eq!(out.await, PostOutcome::Status(200));
            let name = thread
                .spawn(async { std::thread::current().name().map(str::to_owned) })
                .await
                .unwrap();
            assert_eq!(name.as_deref(), Some("oidc-edge-http"));
            assert_eq!(thread.metrics().num_workers(), 1);
            drop(poster);
        });
    }

    #[test]
    fn posts_a_form_and_reports_the_status() {
        let (addr, rx) = rp(Some("HTTP/1.1 204 No Content\r\n\r\n"));
        let out = post(&format!("http://{addr}/bc?x=1"), 2000, true);
        assert_eq!(out, PostOutcome::Status(204));
        let req = rx.recv().unwrap();
        assert!(req.starts_with("POST /bc?x=1 HTTP/1.1\r\n"), "{req}");
        assert!(
            req.to_ascii_lowercase()
                .contains("content-type: application/x-www-form-urlencoded\r\n"),
            "{req}"
        );
        assert!(req.ends_with("\r\n\r\nlogout_token=a.b.c"), "{req}");

        let (addr, _rx) = rp(Some(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 5\r\n\r\nlater",
        ));
        assert_eq!(
            post(&format!("http://{addr}/bc"), 2000, true),
            PostOutcome::Status(503)
        );
        // A redirect is an answer, not followed.
        let (addr, _rx) = rp(Some(
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/\r\ncontent-length: 0\r\n\r\n",
        ));
        assert_eq!(
            post(&format!("http://{addr}/bc"), 2000, true),
            PostOutcome::Status(302)
        );
    }

    #[test]
    fn a_silent_rp_times_out() {
        let (addr, rx) = rp(None);
        let started = std::time::Instant::now();
        let out = post(&format!("http://{addr}/bc"), 200, true);
        let took = started.elapsed();
        assert_eq!(out, PostOutcome::Timeout);
        assert!(rx.recv().is_ok(), "the request was sent");
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_millis(1500),
            "{took:?}"
        );
    }

    #[test]
    fn a_closed_port_is_connection_refused() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        assert_eq!(
            post(&format!("http://127.0.0.1:{port}/bc"), 2000, true),
            PostOutcome::Failed("connection refused".into())
        );
    }

    #[test]
    fn the_ssrf_guard_refuses_private_addresses_unless_allowed() {
        let (addr, _rx) = rp(Some("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
        let uri = format!("http://{addr}/bc");
        assert_eq!(
            post(&uri, 2000, false),
            PostOutcome::Refused(
                "refused by the SSRF guard: 127.0.0.1 is a loopback or private address".into()
            )
        );
        // A loopback name is refused before it is resolved.
        assert_eq!(
            post(&format!("http://localhost:{}/bc", addr.port()), 2000, false),
            PostOutcome::Refused(
                "refused by the SSRF guard: localhost is a loopback or private address".into()
            )
        );
        for uri in [
            "http://[::1]/bc",
            "http://10.0.0.5/bc",
            "http://100.64.0.1/bc",
            "http://198.18.0.1/bc",
            "http://169.254.169.254/latest/meta-data",
            "http://0x7f.1/bc",
            &format!("http://2130706433:{}/bc", addr.port()),
            "http://[::ffff:192.168.1.1]/bc",
            "http://[64:ff9b::7f00:1]/bc",
            "http://[2002:7f00:1::]/bc",
        ] {
            let out = post(uri, 2000, false);
            assert!(
                matches!(&out, PostOutcome::Refused(w) if w.starts_with("refused by the SSRF guard")),
                "{uri}: {out:?}"
            );
        }
        // Allowed: the same RP gets it.
        assert_eq!(post(&uri, 2000, true), PostOutcome::Status(200));
    }

    #[test]
    fn the_guard_decides_on_every_address() {
        let public: SocketAddr = "93.184.215.14:0".parse().unwrap();
        let private: SocketAddr = "10.0.0.5:0".parse().unwrap();
        assert_eq!(
            check("rp.example", vec![public], false).unwrap(),
            vec![public]
        );
        let err = check("rp.example", vec![public, private], false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refused by the SSRF guard: rp.example resolves to 10.0.0.5"
        );
        assert_eq!(
            check("rp.example", vec![public, private], true).unwrap(),
            vec![public, private]
        );
        // The allow-list: shared (carrier-grade NAT), benchmarking, reserved, documentation,
        // and IPv6 addresses that carry a private IPv4 address are no public addresses.
        for bad in [
            "100.64.0.1",
            "198.18.0.1",
            "240.0.0.1",
            "192.0.2.1",
            "[::ffff:10.0.0.1]",
            "[64:ff9b::a00:1]",
            "[2002:a00:1::]",
            "[2001:db8::1]",
            "[fec0::1]",
        ] {
            let addr: SocketAddr = format!("{bad}:0").parse().unwrap();
            let err = check("rp.example", vec![public, addr], false).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "refused by the SSRF guard: rp.example resolves to {}",
                    addr.ip()
                )
            );
        }
        let v6: SocketAddr = "[2606:4700:4700::1111]:0".parse().unwrap();
        assert_eq!(check("rp.example", vec![v6], false).unwrap(), vec![v6]);
        assert_eq!(
            check("rp.example", vec![], true).unwrap_err().to_string(),
            "DNS lookup failed for rp.example"
        );
    }

    #[test]
    fn bad_uris_and_unknown_names_fail_in_words() {
        assert!(matches!(
            post("not a uri", 500, true),
            PostOutcome::Refused(w) if w.starts_with("the URI is not valid")
        ));
        assert!(matches!(
            post("ftp://rp.example/bc", 500, true),
            PostOutcome::Refused(w) if w.contains("http(s)")
        ));
        // `.invalid` never resolves (RFC 6761).
        assert_eq!(
            post("http://rp.invalid/bc", 2000, false),
            PostOutcome::Failed("DNS lookup failed for rp.invalid".into())
        );
    }
}
