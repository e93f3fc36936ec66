//! A test relying party: a small HTTP server on `127.0.0.1:0` that receives back-channel
//! logout POSTs, records each one (path, headers, form body), validates its `logout_token` as
//! an RP must (Back-Channel Logout 1.0 §2.6, with core's verifier and the realm's JWKS fetched
//! from `{issuer}/jwks`), and answers as the test scripted it: a status at once, a status after
//! a delay, a sequence (503, then 200), or nothing at all.
//!
//! One thread accepts; every connection gets a thread of its own (keep-alive honoured), so
//! concurrent deliveries are received concurrently. The one test RP of every HTTP test (the
//! CLI's `send` included), and of the fan-out bench (`benches/fanout.rs`).

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use oidc_edge::native::{NativeClock, OsEntropy};
use oidc_edge_core::host::Clock;
use oidc_edge_core::http::Params;
use oidc_edge_core::jose::{Jwk, JwkSet, JwsAlg};
use oidc_edge_core::logout::logout_token::{
    LogoutTokenClaims, LogoutTokenError, LogoutTokenValidation, verify,
};

/// How often blocked connection threads look up to see whether the RP is shutting down.
const POLL: Duration = Duration::from_millis(50);
/// Largest request head or body accepted.
const MAX_REQUEST: usize = 1024 * 1024;

/// What the RP does with one POST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Answer with this status at once.
    Status(u16),
    /// Answer with this status after a pause.
    After(Duration, u16),
    /// Never answer: hold the request until the caller gives up (or the RP stops).
    Hang,
    /// What a real RP does: 200 when the token passes §2.6, 400 otherwise.
    Verified,
}

/// What the RP expects of its logout tokens (its registration, as it knows it).
#[derive(Clone)]
pub struct Expect {
    /// The OP's issuer; the JWKS is fetched from `{issuer}/jwks`.
    pub issuer: String,
    /// This RP's client id (`aud`).
    pub client_id: String,
    /// The RP's private key when it registered ID-token encryption: tokens must be JWEs.
    pub decrypt_with: Option<Jwk>,
    /// Signature algorithms accepted.
    pub algs: Vec<JwsAlg>,
    /// The clock `exp` and `iat` are checked against: the OP's, when the OP's is manual.
    pub clock: NativeClock,
    /// Clock skew tolerated, in seconds.
    pub leeway_secs: u64,
    /// Record tokens as they come and validate them only when asked
    /// ([`TestRp::validate_received`]): for a bench that times the OP, not the RPs' CPU.
    pub later: bool,
}

impl Expect {
    /// Plain signed tokens from `issuer` for `client_id`, any supported algorithm, checked
    /// against the system clock with 5 s of leeway.
    pub fn new(issuer: &str, client_id: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            decrypt_with: None,
            algs: JwsAlg::ALL.to_vec(),
            clock: NativeClock::system(),
            leeway_secs: 5,
            later: false,
        }
    }

    /// Validate later, when asked ([`Expect::later`]); the answer is the scripted one.
    #[must_use]
    pub fn validated_later(mut self) -> Self {
        self.later = true;
        self
    }

    /// Tokens must be JWEs to `key`.
    #[must_use]
    pub fn decrypting_with(mut self, key: Jwk) -> Self {
        self.decrypt_with = Some(key);
        self
    }

    /// Check times against `clock`.
    #[must_use]
    pub fn on_clock(mut self, clock: NativeClock) -> Self {
        self.clock = clock;
        self
    }
}

impl fmt::Debug for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expect")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("decrypts", &self.decrypt_with.is_some())
            .field("algs", &self.algs)
            .finish_non_exhaustive()
    }
}

/// Why the RP refused a POST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The body has no single `logout_token` form field.
    NoToken,
    /// The test has not told the RP what to expect yet.
    NotConfigured,
    /// The OP's JWKS could not be fetched.
    Jwks(String),
    /// §2.6 failed (including step 7: a `jti` seen before).
    Token(LogoutTokenError),
    /// Not validated yet ([`Expect::later`]).
    Later,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoToken => f.write_str("no logout_token in the form body"),
            Self::NotConfigured => f.write_str("the test RP was not told what to expect"),
            Self::Jwks(e) => write!(f, "fetching the JWKS: {e}"),
            Self::Token(e) => write!(f, "{} ({e})", e.code()),
            Self::Later => f.write_str("not validated yet"),
        }
    }
}

/// One POST as the RP received it.
#[derive(Clone, Debug)]
pub struct Received {
    /// When its body was in.
    pub at: Instant,
    /// Path and query, as sent.
    pub target: String,
    /// Header names in lower case, values as sent, in order.
    pub headers: Vec<(String, String)>,
    /// The body (a form).
    pub body: String,
    /// The `logout_token` field.
    pub logout_token: Option<String>,
    /// The outcome of §2.6 validation.
    pub verdict: Result<LogoutTokenClaims, Rejection>,
    /// The status answered and when; `None` while (or when never) answered.
    pub answered: Option<(u16, Instant)>,
}

impl Received {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::raw::header(&self.headers, name)
    }

    /// The validated claims; panics with the reason when validation failed.
    pub fn claims(&self) -> &LogoutTokenClaims {
        match &self.verdict {
            Ok(c) => c,
            Err(e) => panic!(
                "the logout token POSTed to {} was refused: {e}",
                self.target
            ),
        }
    }

    /// Claim `name` of the validated token, as JSON (`Null` when absent).
    pub fn claim(&self, name: &str) -> serde_json::Value {
        self.claims()
            .claims
            .get(name)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }
}

struct State {
    script: VecDeque<Answer>,
    steady: Answer,
    received: Vec<Received>,
    expect: Option<Expect>,
    jwks: Option<JwkSet>,
    seen_jti: HashSet<String>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide what the RP recorded.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A relying party's back-channel logout endpoint. Stops when dropped.
pub struct TestRp {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl fmt::Debug for TestRp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestRp")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl TestRp {
    /// Listen on a free loopback port; answers [`Answer::Verified`] until told otherwise.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the test RP");
        let addr = listener.local_addr().expect("the test RP's address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                script: VecDeque::new(),
                steady: Answer::Verified,
                received: Vec::new(),
                expect: None,
                jwks: None,
                seen_jti: HashSet::new(),
            }),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let for_accept = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name(format!("test-rp-{}", addr.port()))
            .spawn(move || accept_loop(&listener, &for_accept))
            .expect("spawn the test RP");
        Self {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:{port}/backchannel_logout`: what the RP registers.
    pub fn uri(&self) -> String {
        format!("http://{}/backchannel_logout", self.addr)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Tell the RP what it registered; fetches the OP's JWKS now (and again when a token
    /// names a key not in it).
    pub fn expect(&self, expect: Expect) {
        let jwks = fetch_jwks(&expect.issuer).expect("fetch the OP's JWKS");
        let mut st = self.shared.lock();
        st.expect = Some(expect);
        st.jwks = Some(jwks);
    }

    /// Tell the RP what it registered, with the OP's public keys given rather than fetched
    /// (an OP that is only a key, as the CLI's); a token naming another key is still looked
    /// up at `{issuer}/jwks`, and refused when that fails.
    pub fn expect_keys(&self, expect: Expect, jwks: JwkSet) {
        let mut st = self.shared.lock();
        st.expect = Some(expect);
        st.jwks = Some(jwks);
    }

    /// Answer every POST from now on with `answer` (a script in progress is dropped).
    pub fn answer(&self, answer: Answer) {
        let mut st = self.shared.lock();
        st.script.clear();
        st.steady = answer;
    }

    /// Answer the next POSTs with `first`, one each, then every later one with `then`.
    pub fn script(&self, first: impl IntoIterator<Item = Answer>, then: Answer) {
        let mut st = self.shared.lock();
        st.script = first.into_iter().collect();
        st.steady = then;
    }

    /// Everything received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().received.clone()
    }

    /// Wait until at least `n` POSTs were received; panics after `timeout` with what did
    /// arrive.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        self.wait_until(timeout, &format!("{n} POST(s)"), |r| r.len() >= n)
    }

    /// Wait until at least `n` POSTs were answered; panics after `timeout`.
    pub fn wait_answered(&self, n: usize, timeout: Duration) -> Vec<Received> {
        self.wait_until(timeout, &format!("{n} answered POST(s)"), |r| {
            r.iter().filter(|x| x.answered.is_some()).count() >= n
        })
    }

    /// Validate the tokens recorded without validation ([`Expect::validated_later`]), in the
    /// order they came; every POST received so far.
    pub fn validate_received(&self) -> Vec<Received> {
        let (expect, jwks, waiting) = {
            let st = self.shared.lock();
            let waiting: Vec<(usize, Option<String>)> = st
                .received
                .iter()
                .enumerate()
                .filter(|(_, r)| matches!(r.verdict, Err(Rejection::Later)))
                .map(|(i, r)| (i, r.logout_token.clone()))
                .collect();
            (st.expect.clone(), st.jwks.clone(), waiting)
        };
        for (i, token) in waiting {
            let verdict = match (token, &expect, &jwks) {
                (Some(t), Some(expect), Some(jwks)) => validate(&t, expect, jwks, &self.shared),
                _ => Err(Rejection::NotConfigured),
            };
            let mut st = self.shared.lock();
            st.received[i].verdict = not_replayed(&mut st, verdict);
        }
        self.shared.lock().received.clone()
    }

    /// Wait until `done` holds of the received POSTs; panics after `timeout`.
    pub fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            if done(&st.received) {
                return st.received.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "the test RP at {} waited {timeout:?} for {what}; it received {}: {:#?}",
                self.addr,
                st.received.len(),
                st.received
                    .iter()
                    .map(|r| (&r.target, r.answered.map(|a| a.0), &r.verdict))
                    .collect::<Vec<_>>()
            );
            st = self
                .shared
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for TestRp {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop; connection threads see `stop` within `POLL`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn fetch_jwks(issuer: &str) -> Result<JwkSet, String> {
    let url = format!("{issuer}/jwks");
    let resp = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .and_then(|c| c.get(&url).send())
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status();
    let text = resp.text().map_err(|e| format!("GET {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status}: {text}"));
    }
    JwkSet::from_json(&text).map_err(|e| format!("GET {url}: {e}"))
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = conn else { continue };
        let shared = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name("test-rp-conn".into())
            .spawn(move || {
                // A connection that breaks is the client's business; nothing to report.
                let _ = serve_connection(stream, &shared);
            });
        if spawned.is_err() {
            // Out of threads: the connection is dropped and the OP sees a failure.
            continue;
        }
    }
}

/// One parsed HTTP/1.1 request.
struct HttpRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn serve_connection(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(POLL))?;
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    loop {
        let Some(req) = read_request(&mut stream, &mut buf, shared)? else {
            return Ok(());
        };
        let close = req
            .headers
            .iter()
            .any(|(n, v)| n == "connection" && v.eq_ignore_ascii_case("close"));
        if req.method != "POST" {
            write_response(&mut stream, 405, "")?;
        } else {
            let (index, answer, verdict_ok) = record(shared, req);
            let status = match answer {
                Answer::Status(s) => s,
                Answer::After(pause, s) => {
                    thread::sleep(pause);
                    s
                }
                Answer::Verified if verdict_ok => 200,
                Answer::Verified => 400,
                Answer::Hang => return hang(&stream, shared),
            };
            let body = if status == 400 {
                r#"{"error":"invalid_request","error_description":"logout token refused"}"#
            } else {
                ""
            };
            write_response(&mut stream, status, body)?;
            let mut st = shared.lock();
            st.received[index].answered = Some((status, Instant::now()));
            shared.changed.notify_all();
        }
        if close {
            return Ok(());
        }
    }
}

/// Hold the request unanswered until the client hangs up or the RP stops.
fn hang(stream: &TcpStream, shared: &Shared) -> io::Result<()> {
    let mut probe = [0u8; 1];
    while !shared.stop.load(Ordering::SeqCst) {
        match stream.peek(&mut probe) {
            Ok(0) => return Ok(()),
            // More bytes (a pipelined request): still not answering.
            Ok(_) => thread::sleep(POLL),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    Ok(())
}

/// Store what arrived, validate its token, and pick the answer. Returns the record's index.
fn record(shared: &Shared, req: HttpRequest) -> (usize, Answer, bool) {
    let body = String::from_utf8_lossy(&req.body).into_owned();
    let form = Params::parse(body.as_bytes());
    let token = form.one("logout_token").ok().flatten().map(str::to_owned);
    let (expect, jwks) = {
        let st = shared.lock();
        (st.expect.clone(), st.jwks.clone())
    };
    let verdict = match (&token, expect, jwks) {
        (None, _, _) => Err(Rejection::NoToken),
        (Some(_), None, _) | (Some(_), _, None) => Err(Rejection::NotConfigured),
        (Some(_), Some(expect), Some(_)) if expect.later => Err(Rejection::Later),
        (Some(t), Some(expect), Some(jwks)) => validate(t, &expect, &jwks, shared),
    };
    let mut st = shared.lock();
    let verdict = not_replayed(&mut st, verdict);
    let answer = st.script.pop_front().unwrap_or(st.steady);
    let ok = verdict.is_ok();
    st.received.push(Received {
        at: Instant::now(),
        target: req.target,
        headers: req.headers,
        body,
        logout_token: token,
        verdict,
        answered: None,
    });
    shared.changed.notify_all();
    (st.received.len() - 1, answer, ok)
}

/// §2.6 step 7: a jti seen before is a replay (the OP mints a fresh one per attempt).
fn not_replayed(
    st: &mut State,
    verdict: Result<LogoutTokenClaims, Rejection>,
) -> Result<LogoutTokenClaims, Rejection> {
    match verdict {
        Ok(c) if !st.seen_jti.insert(c.jti.clone()) => {
            Err(Rejection::Token(LogoutTokenError::Replayed))
        }
        other => other,
    }
}

fn validate(
    token: &str,
    expect: &Expect,
    jwks: &JwkSet,
    shared: &Shared,
) -> Result<LogoutTokenClaims, Rejection> {
    let run = |jwks: &JwkSet| {
        let v = LogoutTokenValidation {
            issuer: &expect.issuer,
            audience: &expect.client_id,
            jwks,
            algs: &expect.algs,
            decrypt_with: expect.decrypt_with.as_ref(),
            now: expect.clock.now(),
            leeway_secs: expect.leeway_secs,
        };
        verify(token, &v, &OsEntropy, None)
    };
    match run(jwks) {
        // Keys rotate: fetch the JWKS again once, as an RP library does.
        Err(LogoutTokenError::NoMatchingKey) => {
            let fresh = fetch_jwks(&expect.issuer).map_err(Rejection::Jwks)?;
            let out = run(&fresh);
            shared.lock().jwks = Some(fresh);
            out.map_err(Rejection::Token)
        }
        other => other.map_err(Rejection::Token),
    }
}

/// Read one request from `stream` (`buf` keeps bytes read past it). `None` when the client
/// closed the connection between requests, or the RP stops.
fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    shared: &Shared,
) -> io::Result<Option<HttpRequest>> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_REQUEST {
            return Err(io::Error::other("request head too large"));
        }
        if !fill(stream, buf, shared)? {
            return Ok(None);
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end + 4);
    let (start, headers) = crate::raw::parse_head(&head);
    let mut first = start.split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let target = first.next().unwrap_or_default().to_owned();
    let header = |name: &str| crate::raw::header(&headers, name);
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(stream, buf, shared)?
    } else {
        let len: usize = header("content-length")
            .map_or(Ok(0), str::parse)
            .map_err(|_| io::Error::other("bad content-length"))?;
        if len > MAX_REQUEST {
            return Err(io::Error::other("body too large"));
        }
        while buf.len() < len {
            if !fill(stream, buf, shared)? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        buf.drain(..len).collect()
    };
    Ok(Some(HttpRequest {
        method,
        target,
        headers,
        body,
    }))
}

fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>, shared: &Shared) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = find(buf, b"\r\n") {
                break i;
            }
            if !fill(stream, buf, shared)? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| io::Error::other("bad chunk size"))?;
        buf.drain(..line_end + 2);
        if body.len() + size > MAX_REQUEST {
            return Err(io::Error::other("body too large"));
        }
        // The chunk and its CRLF (after the last chunk: the empty trailer line).
        while buf.len() < size + 2 {
            if !fill(stream, buf, shared)? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        body.extend(buf.drain(..size));
        buf.drain(..2);
        if size == 0 {
            return Ok(body);
        }
    }
}

/// Read more bytes into `buf`; `false` at end of stream or when the RP stops.
fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>, shared: &Shared) -> io::Result<bool> {
    let mut chunk = [0u8; 8192];
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(false);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(true);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn write_response(stream: &mut TcpStream, status: u16, body: &str) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    // §2.8: the RP's answer is not to be cached.
    let mut out = format!("HTTP/1.1 {status} {reason}\r\ncache-control: no-store\r\n");
    if status != 204 {
        out.push_str(&format!("content-length: {}\r\n", body.len()));
        if !body.is_empty() {
            out.push_str("content-type: application/json\r\n");
        }
    }
    out.push_str("\r\n");
    if status != 204 {
        out.push_str(body);
    }
    stream.write_all(out.as_bytes())?;
    stream.flush()
}
