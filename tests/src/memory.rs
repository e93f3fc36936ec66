//! The in-memory host: core's provider in process (`provider::handle`), a virtual clock, a
//! store in a map, scripted answers from relying parties, seeded entropy and fixture RSA keys.
//! Core's tests drive it through [`crate::flow`] as the end-to-end suites drive a server, in a
//! realm `r1` made by [`setup`].
#![allow(missing_docs)]

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use oidc_edge_core::UnixTime;
use oidc_edge_core::error::JoseError;
use oidc_edge_core::host::{
    Clock, Crypto, Deliver, Entropy, EntropyError, Host, HostConfig, ListPage, Page, Post,
    PostOutcome, RustCrypto, Store, StoreError,
};
use oidc_edge_core::http::{Method, Request, Response};
use oidc_edge_core::jose::jws::Verifier;
use oidc_edge_core::jose::{Jwk, KeyCache};
use oidc_edge_core::jose::{JwkSet, JwsAlg, jwt};
use oidc_edge_core::keys::OUTBOX;
use oidc_edge_core::logout::delivery::{Delivery, DeliveryPolicy};
use oidc_edge_core::logout::logout_token::{LogoutTokenValidation, verify};
use oidc_edge_core::logout::outbox::{self, Runner};
use oidc_edge_core::provider;
use serde_json::{Value, json};

use crate::flow::{self, Authorize, consent_request};
use crate::seeded::{Seeded, rsa_fixtures};

pub use crate::flow::{Call, json_of, location_params, pkce, urlencode};

/// Futures here never wait on anything outside: poll once more until done.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Value and expiry (unix seconds) per key.
pub type Entries = BTreeMap<String, (Vec<u8>, Option<u64>)>;

#[derive(Debug)]
pub struct TestHost {
    pub store: RefCell<Entries>,
    pub now: Cell<u64>,
    pub entropy: Seeded,
    /// Core's crypto, with RSA keys from fixtures.
    pub crypto: FixtureCrypto,
    pub config: HostConfig,
    /// Every POST made: (uri, body).
    pub posts: RefCell<Vec<(String, String)>>,
    /// Scripted answers per URI, consumed in order; `Status(200)` once exhausted.
    pub answers: RefCell<BTreeMap<String, Vec<PostOutcome>>>,
    /// Reads of the outbox: records loaded, list calls, and keys listed.
    pub outbox_reads: Cell<(usize, usize, usize)>,
    /// Keys handed out by `list`, under any prefix.
    pub listed: Cell<usize>,
    /// Which location the next calls come from (see [`TestHost::eventually`]).
    pub location: Cell<u8>,
    /// When set, keys for which it answers `true` are eventually consistent, as on Workers
    /// KV: a location sees its own writes at once and another's only once they are
    /// `stale_secs` old, and [`Store::swap`] on them reads, compares and writes.
    pub eventual: Cell<Option<KeyFilter>>,
    /// Every write to an eventually consistent key since: (when, where, value and expiry).
    pub writes: RefCell<BTreeMap<String, Vec<Write>>>,
    /// How late the current location sees another's writes (at most [`STALE_SECS`]).
    pub stale_secs: Cell<u64>,
    /// The wakes asked for ([`Host::wake_at`]): (when, realm, session id).
    pub wakes: RefCell<std::collections::BTreeSet<(u64, String, String)>>,
    /// Run once, at the next enqueue, before it: another request arriving while a logout
    /// waits for its queue.
    pub meanwhile: RefCell<Option<Meanwhile>>,
    /// Parsed realm keys, when the test wants them kept ([`Host::key_cache`]); none by default.
    pub key_cache: Option<KeyCache>,
    /// Every key put, in the order of the puts.
    pub puts: RefCell<Vec<String>>,
}

/// See [`TestHost::meanwhile`].
pub struct Meanwhile(pub Box<dyn FnOnce(&TestHost)>);

impl std::fmt::Debug for Meanwhile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Meanwhile(..)")
    }
}

/// Which keys something applies to.
pub type KeyFilter = fn(&str) -> bool;

/// How late a location may see another's writes on Workers KV, at most.
pub const STALE_SECS: u64 = 60;

/// One write to an eventually consistent key: when, from where, and what (`None`: deleted).
pub type Write = (u64, u8, Option<(Vec<u8>, Option<u64>)>);

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}

impl Call for TestHost {
    fn call(&self, req: Request) -> Response {
        block_on(provider::handle(req, self))
    }
}

impl TestHost {
    pub fn new() -> Self {
        Self {
            store: RefCell::default(),
            now: Cell::new(1_800_000_000),
            entropy: Seeded::new(),
            crypto: FixtureCrypto::default(),
            config: HostConfig {
                base_url: "https://id.example".into(),
                admin_token: "admin-secret-token".into(),
                master_key: [42; 32],
                delivery: DeliveryPolicy {
                    timeout_ms: 100,
                    retry_max: 2,
                    retry_base_ms: 1000,
                    concurrency: 4,
                },
            },
            posts: RefCell::default(),
            answers: RefCell::default(),
            outbox_reads: Cell::default(),
            listed: Cell::default(),
            location: Cell::new(0),
            eventual: Cell::new(None),
            key_cache: None,
            puts: RefCell::default(),
            writes: RefCell::default(),
            stale_secs: Cell::new(STALE_SECS),
            wakes: RefCell::default(),
            meanwhile: RefCell::default(),
        }
    }

    /// From now on, keys for which `is_eventual` answers `true` behave as on an eventually
    /// consistent store seen from several locations (switch with [`TestHost::location`]).
    pub fn eventually(&self, is_eventual: fn(&str) -> bool) {
        self.eventual.set(Some(is_eventual));
    }

    fn is_eventual(&self, key: &str) -> bool {
        self.eventual.get().is_some_and(|f| f(key))
    }

    /// Log a write to `key` (the value before the first one is kept as written long ago).
    fn log_write(&self, key: &str, value: Option<(Vec<u8>, Option<u64>)>) {
        if !self.is_eventual(key) {
            return;
        }
        let mut writes = self.writes.borrow_mut();
        let log = writes.entry(key.to_owned()).or_insert_with(|| {
            let before = self.store.borrow().get(key).cloned();
            vec![(0, u8::MAX, before)]
        });
        log.push((self.now.get(), self.location.get(), value));
    }

    /// The value of `key` as the current location sees it.
    fn seen(&self, key: &str) -> Option<(Vec<u8>, Option<u64>)> {
        if self.is_eventual(key)
            && let Some(log) = self.writes.borrow().get(key)
        {
            let (here, now) = (self.location.get(), self.now.get());
            return log
                .iter()
                .rev()
                .find(|(at, loc, _)| *loc == here || at + self.stale_secs.get() <= now)
                .and_then(|(_, _, v)| v.clone());
        }
        self.store.borrow().get(key).cloned()
    }

    pub fn admin(&self, method: Method, path: &str, body: Value) -> Response {
        self.call(
            Request::new(method, path)
                .with_header("authorization", "Bearer admin-secret-token")
                .with_header("content-type", "application/json")
                .with_body(body.to_string()),
        )
    }
}

impl Store for TestHost {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if key.starts_with(OUTBOX) {
            let (gets, lists, listed) = self.outbox_reads.get();
            self.outbox_reads.set((gets + 1, lists, listed));
        }
        let now = self.now.get();
        Ok(self
            .seen(key)
            .filter(|(_, exp)| exp.is_none_or(|e| now < e))
            .map(|(v, _)| v))
    }
    async fn put(&self, key: &str, value: &[u8], ttl: Option<u64>) -> Result<(), StoreError> {
        let exp = ttl.map(|t| self.now.get() + t);
        self.log_write(key, Some((value.to_vec(), exp)));
        self.puts.borrow_mut().push(key.to_owned());
        self.store
            .borrow_mut()
            .insert(key.into(), (value.to_vec(), exp));
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.log_write(key, None);
        self.store.borrow_mut().remove(key);
        Ok(())
    }
    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        ttl: Option<u64>,
    ) -> Result<bool, StoreError> {
        // Nothing runs between the comparison and the write here (one thread, these futures
        // never wait): atomic, unless the key is eventually consistent, where the comparison
        // is against what this location sees, as on Workers KV.
        oidc_edge_core::store::swap_by_read(self, key, expected, new, ttl).await
    }
    async fn list(&self, prefix: &str, page: Page<'_>) -> Result<ListPage, StoreError> {
        // An ordered map seeks as the native stores do: from the prefix or `page.start`.
        let from = page.start.filter(|s| *s > prefix).unwrap_or(prefix);
        let limit = page.limit;
        let keys: Vec<String> = self
            .store
            .borrow()
            .range::<str, _>((std::ops::Bound::Included(from), std::ops::Bound::Unbounded))
            .map(|(k, _)| k)
            .skip_while(|k| !page.admits(k))
            .take_while(|k| k.starts_with(prefix))
            .take(limit + 1)
            .cloned()
            .collect();
        let more = keys.len() > limit;
        let keys: Vec<String> = keys.into_iter().take(limit).collect();
        self.listed.set(self.listed.get() + keys.len());
        if prefix.starts_with(OUTBOX) {
            let (gets, lists, listed) = self.outbox_reads.get();
            self.outbox_reads
                .set((gets, lists + 1, listed + keys.len()));
        }
        let cursor = more.then(|| keys.last().cloned()).flatten();
        Ok(ListPage { keys, cursor })
    }
}

impl Clock for TestHost {
    fn now(&self) -> UnixTime {
        UnixTime(self.now.get())
    }
}

impl Entropy for TestHost {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        self.entropy.fill(dest)
    }
}

impl Deliver for TestHost {
    async fn enqueue(&self, deliveries: Vec<Delivery>) -> Result<(), StoreError> {
        // What another request does while this one waits for its queue, once.
        let meanwhile = self.meanwhile.borrow_mut().take();
        if let Some(Meanwhile(f)) = meanwhile {
            f(self);
        }
        outbox::put(self, &deliveries).await
    }
    async fn post(&self, post: Post<'_>) -> PostOutcome {
        self.posts
            .borrow_mut()
            .push((post.uri.to_owned(), post.body.to_owned()));
        let mut answers = self.answers.borrow_mut();
        match answers.get_mut(post.uri) {
            Some(list) if !list.is_empty() => list.remove(0),
            _ => PostOutcome::Status(200),
        }
    }
}

/// Core's pure-Rust crypto, but RSA-2048 keys are the fixtures (`tests/data/rsa-2048.json`)
/// in order instead of fresh ones: key generation would be most of the tests' time. Other sizes
/// are generated. Signature checks are counted, and can be made to fail.
#[derive(Debug, Default)]
pub struct FixtureCrypto {
    /// How many fixture keys have been handed out.
    pub rsa_keys: Cell<usize>,
    /// How many signatures were checked through the seam ([`Crypto::verify`]).
    pub verified: Cell<usize>,
    /// When set, every check through the seam fails, whatever core's code says.
    pub refuse_all: Cell<bool>,
}

impl Crypto for FixtureCrypto {
    fn verify(&self, key: &Jwk, alg: JwsAlg, input: &[u8], sig: &[u8]) -> bool {
        self.verified.set(self.verified.get() + 1);
        !self.refuse_all.get() && RustCrypto.verify(key, alg, input, sig)
    }

    async fn generate_rsa(&self, bits: usize, entropy: &dyn Entropy) -> Result<Jwk, JoseError> {
        let fixtures = rsa_fixtures();
        if bits != 2048 {
            return RustCrypto.generate_rsa(bits, entropy).await;
        }
        let n = self.rsa_keys.get();
        self.rsa_keys.set(n + 1);
        Ok(fixtures[n % fixtures.len()].clone())
    }
}

impl Host for TestHost {
    type Crypto = FixtureCrypto;

    fn config(&self) -> &HostConfig {
        &self.config
    }

    fn crypto(&self) -> &FixtureCrypto {
        &self.crypto
    }

    fn key_cache(&self) -> Option<&KeyCache> {
        self.key_cache.as_ref()
    }

    async fn wake_at(&self, realm: &str, id: &str, at: u64) -> Result<(), StoreError> {
        self.wakes
            .borrow_mut()
            .insert((at, realm.to_owned(), id.to_owned()));
        Ok(())
    }
}

impl TestHost {
    /// What a host with a timer does: call `expire` for every wake asked for at or before
    /// now, once. How many sessions ended.
    pub fn fire_wakes(&self) -> usize {
        let now = self.now.get();
        let due: Vec<(u64, String, String)> = {
            let mut wakes = self.wakes.borrow_mut();
            let later = wakes.split_off(&(now + 1, String::new(), String::new()));
            std::mem::replace(&mut *wakes, later).into_iter().collect()
        };
        due.iter()
            .filter(|(_, realm, id)| block_on(provider::expire(self, realm, id)).unwrap())
            .count()
    }
}

/// The realm [`setup`] makes.
pub const REALM: &str = "r1";
/// Its issuer.
pub const ISS: &str = "https://id.example/realms/r1";

#[derive(Clone, Debug)]
pub struct Rp {
    pub id: String,
    pub secret: Option<String>,
    pub redirect: String,
}

pub fn setup() -> (TestHost, String) {
    let h = TestHost::new();
    let r = h.admin(
        Method::Put,
        "/admin/realms/r1",
        json!({"session_idle_time_secs": 600}),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = h.admin(
        Method::Put,
        "/admin/realms/r1/users/alice",
        json!({"password": "correct horse", "email": "alice@example.com", "name": "Alice"}),
    );
    assert_eq!(r.status, 201);
    let r = h.call(flow::authenticate_request(REALM, "alice", "correct horse"));
    assert_eq!(r.status, 200);
    let cookie = r.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("; Secure"),
        "{cookie}"
    );
    let token = json_of(&r)["tokenId"].as_str().unwrap().to_owned();
    (h, token)
}

pub fn register(h: &TestHost, meta: Value) -> Rp {
    let r = h.call(
        Request::new(Method::Post, "/realms/r1/register")
            .with_header("content-type", "application/json")
            .with_body(meta.to_string()),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let v = json_of(&r);
    assert!(v["registration_access_token"].is_string());
    assert_eq!(
        v["registration_client_uri"],
        format!("{ISS}/register/{}", v["client_id"].as_str().unwrap())
    );
    Rp {
        id: v["client_id"].as_str().unwrap().into(),
        secret: v["client_secret"].as_str().map(String::from),
        redirect: v["redirect_uris"][0].as_str().unwrap().into(),
    }
}

/// `GET /authorize` for `rp`, answering the consent page with "allow" when it shows.
pub fn authorize(h: &TestHost, rp: &Rp, session: Option<&str>, extra: &str) -> Response {
    let r = ask(h, rp, session, extra);
    match session {
        Some(s) => flow::consent_if_asked(h, REALM, r, s, "allow"),
        None => r,
    }
}

/// `GET /authorize` for `rp` (scopes openid, email and profile), the page or redirect as is.
pub fn ask(h: &TestHost, rp: &Rp, session: Option<&str>, extra: &str) -> Response {
    let a = Authorize {
        scope: "openid email profile",
        state: "st4te",
        nonce: "n0nce",
        session,
        extra,
    };
    h.call(flow::authorize_request(REALM, &rp.id, &rp.redirect, &a))
}

/// Whether `r` is the consent page.
pub fn is_consent_page(r: &Response) -> bool {
    r.status == 200 && flow::is_consent_page(&flow::text_of(r))
}

/// Post the consent page's form back with `decision`, as the browser would.
pub fn answer_consent(h: &TestHost, page: &Response, session: &str, decision: &str) -> Response {
    h.call(consent_request(
        REALM,
        &flow::text_of(page),
        session,
        decision,
    ))
}

/// `POST /token` exchanging `code` for `rp`.
pub fn exchange(h: &TestHost, rp: &Rp, code: &str, verifier: Option<&str>) -> Response {
    h.call(flow::token_request(
        REALM,
        &rp.id,
        rp.secret.as_deref(),
        &rp.redirect,
        code,
        verifier,
    ))
}

pub fn id_token_claims(h: &TestHost, token: &str, alg: JwsAlg) -> Value {
    let jwks = h.call(Request::new(Method::Get, "/realms/r1/jwks"));
    let set = JwkSet::from_json(std::str::from_utf8(&jwks.body).unwrap()).unwrap();
    let opened = jwt::open(token, &Verifier::new(&set, &[alg]), None, h).unwrap();
    Value::Object(opened.claims)
}

/// Log `session` in to `rp` through authorize + token; returns the ID token's claims.
pub fn login(h: &TestHost, rp: &Rp, session: &str, alg: JwsAlg, decrypt: Option<&Jwk>) -> Value {
    let (verifier, challenge) = pkce();
    let r = authorize(
        h,
        rp,
        Some(session),
        &format!("&code_challenge={challenge}&code_challenge_method=S256"),
    );
    assert_eq!(r.status, 302, "{}", String::from_utf8_lossy(&r.body));
    let r = exchange(h, rp, &location_params(&r)["code"], Some(&verifier));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let token = json_of(&r)["id_token"].as_str().unwrap().to_owned();
    let jwks = h.call(Request::new(Method::Get, "/realms/r1/jwks"));
    let set = JwkSet::from_json(std::str::from_utf8(&jwks.body).unwrap()).unwrap();
    let decrypter = decrypt.map(|k| {
        oidc_edge_core::jose::jwe::Decrypter::new(
            k,
            &oidc_edge_core::jose::KeyMgmtAlg::ALL,
            &oidc_edge_core::jose::ContentEnc::ALL,
        )
    });
    Value::Object(
        jwt::open(&token, &Verifier::new(&set, &[alg]), decrypter.as_ref(), h)
            .unwrap()
            .claims,
    )
}

/// The logout tokens POSTed so far, by URI, verified as the RP would (§2.6).
pub fn received(h: &TestHost, uri: &str, aud: &str, decrypt: Option<&Jwk>) -> Vec<Value> {
    let jwks = h.call(Request::new(Method::Get, "/realms/r1/jwks"));
    let set = JwkSet::from_json(std::str::from_utf8(&jwks.body).unwrap()).unwrap();
    h.posts
        .borrow()
        .iter()
        .filter(|(u, _)| u == uri)
        .map(|(_, body)| {
            let form = oidc_edge_core::http::Params::parse(body.as_bytes());
            let token = form.get("logout_token").expect("logout_token field");
            let v = LogoutTokenValidation {
                issuer: ISS,
                audience: aud,
                jwks: &set,
                algs: &JwsAlg::ALL,
                decrypt_with: decrypt,
                now: h.now(),
                leeway_secs: 0,
            };
            Value::Object(
                verify(token, &v, h, None)
                    .unwrap_or_else(|e| panic!("{uri}: {e}"))
                    .claims,
            )
        })
        .collect()
}

/// What [`run_due`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunReport {
    /// Attempts made.
    pub attempted: usize,
    /// Deliveries left in the outbox afterwards.
    pub pending: usize,
}

/// One round of the host's part in delivery, as the native and JS hosts do it: claim what
/// core says is due, run each, one after the other.
pub fn run_due(h: &TestHost) -> RunReport {
    let runner = Runner::new();
    let claimed = block_on(runner.claim(h, &h.config.delivery, h.now_ms())).unwrap();
    let attempted = claimed.deliveries.len();
    for d in claimed.deliveries {
        block_on(runner.run(h, d)).unwrap();
    }
    let pending = block_on(h.list(OUTBOX, oidc_edge_core::host::Page::first(100_000)))
        .unwrap()
        .keys
        .len();
    RunReport { attempted, pending }
}

pub fn audit(h: &TestHost, event: &str) -> Vec<Value> {
    let r = h.admin(
        Method::Get,
        &format!("/admin/realms/r1/audit?event={event}"),
        Value::Null,
    );
    assert_eq!(r.status, 200);
    json_of(&r)["result"].as_array().unwrap().clone()
}
