//! Core's host over plain JS objects: the store and the deliverer the embedding gives, `Date`,
//! `crypto.getRandomValues`, and timers.
//!
//! - [`Store`]: `store.get/put/delete/list`, each returning a value or a promise of it.
//! - [`Deliver`]: `enqueue` is core's store-backed outbox ([`outbox::put`]): durable as soon as
//!   the host's store has the deliveries, and the provider runs them afterwards (see
//!   [`super::provider`]). `post` hands a `DeliveryRequest` (see `types.d.ts`) to the host's
//!   deliverer (the global `fetch` by default), bounded by a timer of our own that also aborts
//!   the request's `signal`: a deliverer that never settles costs a timeout, not a stuck
//!   delivery.
//!
//! Core's crypto seam (`Host::sign`, `Host::pbkdf2_sha256`, `Host::generate_rsa`) keeps its
//! pure-Rust defaults here: the Workers host's WebCrypto answers (`worker/subtle.rs`) reach
//! `js_sys` through the `worker` crate, which this module must not depend on.
//!
//! SSRF: the realm's `allow_private_uris` reaches the deliverer as `allowPrivate`; URIs whose
//! host is an IP literal that is not globally reachable (or `localhost`) are refused here
//! first, with core's [`check_target`], as at the edge. Resolving names is the deliverer's business (`fetch` resolves inside
//! the runtime), as at the edge.
//!
//! [`outbox::put`]: oidc_edge_core::logout::outbox::put

use std::cell::Cell;
use std::fmt;

use futures_util::future::{Either, select};
use futures_util::pin_mut;
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use oidc_edge_core::UnixTime;
use oidc_edge_core::error::JoseError;
use oidc_edge_core::host::{
    Clock, Deliver, Entropy, EntropyError, Host, HostConfig, ListPage, Post, PostOutcome, Store,
    StoreError, StoreVia,
};
use oidc_edge_core::jose::{Jwk, JwsAlg};
use oidc_edge_core::logout::delivery::Delivery;
use oidc_edge_core::logout::outbox;
use oidc_edge_core::net::check_target;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::{JsEntropy, fail};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_name = fetch, catch)]
    fn fetch(uri: &str, init: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn console_log(line: &str);
    #[wasm_bindgen(js_name = AbortController)]
    type AbortController;
    #[wasm_bindgen(constructor, js_class = "AbortController", catch)]
    fn new() -> Result<AbortController, JsValue>;
    #[wasm_bindgen(method, getter, js_class = "AbortController")]
    fn signal(this: &AbortController) -> JsValue;
    #[wasm_bindgen(method, js_class = "AbortController")]
    fn abort(this: &AbortController);
}

/// The longest single timer: `setTimeout` fires at once for delays that do not fit 31 bits.
const MAX_TIMER_MS: u64 = 0x7fff_ffff;

/// A pending `setTimeout`, cleared when dropped (so a finished race leaves no timer keeping a
/// Node process alive).
struct Timer {
    id: JsValue,
    fired: JsFuture,
}

impl Timer {
    fn new(ms: u64) -> Self {
        let mut id = JsValue::UNDEFINED;
        let promise = Promise::new(&mut |resolve, _reject| {
            id = set_timeout(&resolve, ms.min(MAX_TIMER_MS) as f64);
        });
        Self {
            id,
            fired: JsFuture::from(promise),
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        clear_timeout(&self.id);
    }
}

/// Wait `ms` milliseconds.
pub async fn sleep(ms: u64) {
    let mut timer = Timer::new(ms);
    let _ = (&mut timer.fired).await;
}

/// Call `f` on `this` and await what it returns (a value or a promise).
pub async fn call(f: &Function, this: &JsValue, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let args: Array = args.iter().collect();
    let returned = f.apply(this, &args)?;
    JsFuture::from(Promise::resolve(&returned)).await
}

/// A thrown JS value in a few words: an `Error`'s message (and its `cause`'s, as Node's
/// `fetch failed` hides the reason there), or the value as text.
pub fn describe(e: &JsValue) -> String {
    fn text(v: &JsValue) -> Option<String> {
        if let Some(s) = v.as_string() {
            return Some(s);
        }
        let message = Reflect::get(v, &"message".into()).ok()?.as_string()?;
        let code = Reflect::get(v, &"code".into())
            .ok()
            .and_then(|c| c.as_string());
        Some(match code {
            Some(c) if !message.contains(&c) => format!("{message} ({c})"),
            _ => message,
        })
    }
    let mut out = text(e).unwrap_or_else(|| String::from("an exception"));
    if let Some(cause) = Reflect::get(e, &"cause".into())
        .ok()
        .filter(|c| c.is_object())
        .and_then(|c| text(&c))
    {
        out = format!("{out}: {cause}");
    }
    out
}

/// A method of a host object, checked to be a function; `what` names it in the error.
pub fn method(obj: &JsValue, name: &str, what: &str) -> Result<Function, JsValue> {
    Reflect::get(obj, &name.into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| {
            fail(
                "invalid_config",
                format!("{what}.{name} must be a function"),
            )
        })
}

/// The embedding's store object.
pub struct JsStore {
    this: JsValue,
    get: Function,
    put: Function,
    delete: Function,
    list: Function,
}

impl fmt::Debug for JsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsStore").finish_non_exhaustive()
    }
}

impl JsStore {
    /// The store object `obj`, whose `get`, `put`, `delete` and `list` must be functions.
    pub fn new(obj: JsValue) -> Result<Self, JsValue> {
        if !obj.is_object() {
            return Err(fail("invalid_config", "store must be an object"));
        }
        Ok(Self {
            get: method(&obj, "get", "store")?,
            put: method(&obj, "put", "store")?,
            delete: method(&obj, "delete", "store")?,
            list: method(&obj, "list", "store")?,
            this: obj,
        })
    }

    async fn call(&self, f: &Function, op: &str, args: &[JsValue]) -> Result<JsValue, StoreError> {
        call(f, &self.this, args)
            .await
            .map_err(|e| StoreError(format!("store.{op}: {}", describe(&e))))
    }
}

fn bytes_of(v: &JsValue, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    if v.is_undefined() || v.is_null() {
        Ok(None)
    } else if let Some(s) = v.as_string() {
        Ok(Some(s.into_bytes()))
    } else if let Some(a) = v.dyn_ref::<Uint8Array>() {
        Ok(Some(a.to_vec()))
    } else if let Some(b) = v.dyn_ref::<js_sys::ArrayBuffer>() {
        Ok(Some(Uint8Array::new(b).to_vec()))
    } else {
        Err(StoreError(format!(
            "store.get {key:?} returned neither bytes, a string nor null"
        )))
    }
}

impl Store for JsStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let v = self.call(&self.get, "get", &[key.into()]).await?;
        bytes_of(&v, key)
    }

    async fn put(&self, key: &str, value: &[u8], ttl_secs: Option<u64>) -> Result<(), StoreError> {
        let ttl = ttl_secs.map_or(JsValue::UNDEFINED, |t| JsValue::from(t as f64));
        self.call(
            &self.put,
            "put",
            &[key.into(), Uint8Array::from(value).into(), ttl],
        )
        .await
        .map(drop)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.call(&self.delete, "delete", &[key.into()])
            .await
            .map(drop)
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, StoreError> {
        let cursor = cursor.map_or(JsValue::UNDEFINED, JsValue::from);
        let page = self
            .call(
                &self.list,
                "list",
                &[prefix.into(), cursor, JsValue::from(limit as f64)],
            )
            .await?;
        let malformed = || StoreError(format!("store.list {prefix:?}: expected {{keys, cursor}}"));
        let keys = Reflect::get(&page, &"keys".into()).map_err(|_| malformed())?;
        let keys = keys.dyn_into::<Array>().map_err(|_| malformed())?;
        let keys = keys
            .iter()
            .map(|k| k.as_string().ok_or_else(malformed))
            .collect::<Result<Vec<_>, _>>()?;
        let cursor = Reflect::get(&page, &"cursor".into())
            .ok()
            .and_then(|c| c.as_string())
            .filter(|c| !c.is_empty());
        Ok(ListPage { keys, cursor })
    }
}

/// Who makes the back-channel POSTs.
pub enum Poster {
    /// The global `fetch`.
    Fetch,
    /// The embedding's deliverer: `post` called on `this`.
    Host {
        /// The object the function belongs to (or `undefined`).
        this: JsValue,
        /// The function.
        post: Function,
    },
}

impl fmt::Debug for Poster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fetch => "Poster::Fetch",
            Self::Host { .. } => "Poster::Host",
        })
    }
}

impl Poster {
    /// The `deliver` option: absent, a function, or an object with a `post` method.
    pub fn new(deliver: JsValue) -> Result<Self, JsValue> {
        if deliver.is_undefined() || deliver.is_null() {
            return Ok(Self::Fetch);
        }
        if let Some(f) = deliver.dyn_ref::<Function>() {
            return Ok(Self::Host {
                this: JsValue::UNDEFINED,
                post: f.clone(),
            });
        }
        Ok(Self::Host {
            post: method(&deliver, "post", "deliver")?,
            this: deliver,
        })
    }

    /// The request object for `post` (also a `fetch` init).
    fn request(post: &Post<'_>, signal: &JsValue) -> Result<Object, JsValue> {
        let headers = Object::new();
        Reflect::set(
            &headers,
            &"content-type".into(),
            &"application/x-www-form-urlencoded".into(),
        )?;
        Reflect::set(
            &headers,
            &"user-agent".into(),
            &concat!("oidc-edge/", env!("CARGO_PKG_VERSION")).into(),
        )?;
        let r = Object::new();
        for (name, value) in [
            ("method", JsValue::from("POST")),
            ("uri", post.uri.into()),
            ("headers", headers.into()),
            ("body", post.body.into()),
            ("redirect", "manual".into()),
            ("signal", signal.clone()),
            ("timeoutMs", JsValue::from(post.timeout_ms as f64)),
            ("allowPrivate", post.allow_private.into()),
        ] {
            Reflect::set(&r, &name.into(), &value)?;
        }
        Ok(r)
    }

    /// Make one POST within `post.timeout_ms`.
    pub async fn post(&self, post: Post<'_>) -> PostOutcome {
        if let Err(why) = check_target(post.uri, post.allow_private) {
            return PostOutcome::Refused(why.to_string());
        }
        let controller = match AbortController::new() {
            Ok(c) => c,
            Err(e) => return PostOutcome::Failed(format!("AbortController: {}", describe(&e))),
        };
        let request = match Self::request(&post, &controller.signal()) {
            Ok(r) => r,
            Err(e) => {
                return PostOutcome::Failed(format!(
                    "the request could not be built ({})",
                    describe(&e)
                ));
            }
        };
        let sent = async {
            match self {
                Self::Fetch => JsFuture::from(fetch(post.uri, &request)?).await,
                Self::Host { this, post } => call(post, this, &[request.into()]).await,
            }
        };
        let mut timer = Timer::new(post.timeout_ms);
        pin_mut!(sent);
        match select(sent, &mut timer.fired).await {
            Either::Left((Ok(answer), _)) => status_of(&answer),
            Either::Left((Err(e), _)) if is_abort(&e) => PostOutcome::Timeout,
            Either::Left((Err(e), _)) => {
                PostOutcome::Failed(format!("no answer: {}", describe(&e)))
            }
            Either::Right(_) => {
                // The deliverer may go on, but its answer no longer counts.
                controller.abort();
                PostOutcome::Timeout
            }
        }
    }
}

/// Whether a rejection is the abort of the request's signal, or a timeout of the deliverer's.
fn is_abort(e: &JsValue) -> bool {
    let name = Reflect::get(e, &"name".into())
        .ok()
        .and_then(|n| n.as_string());
    matches!(name.as_deref(), Some("AbortError" | "TimeoutError"))
}

/// The status in a deliverer's answer: a number, or an object with a numeric `status` (a
/// `Response`, whose body is then cancelled: only the status matters, and an unread body
/// would hold the connection).
fn status_of(answer: &JsValue) -> PostOutcome {
    let status = answer
        .as_f64()
        .or_else(|| Reflect::get(answer, &"status".into()).ok()?.as_f64());
    if let Ok(body) = Reflect::get(answer, &"body".into())
        && let Ok(cancel) = method(&body, "cancel", "body")
        && let Ok(p) = cancel.call0(&body)
    {
        // Awaited by nobody, but handled: a rejection here must not go unhandled.
        drop(JsFuture::from(Promise::resolve(&p)));
    }
    match status {
        Some(s) if s.fract() == 0.0 && (100.0..=999.0).contains(&s) => {
            PostOutcome::Status(s as u16)
        }
        _ => PostOutcome::Failed(String::from(
            "the deliverer answered without an HTTP status",
        )),
    }
}

/// How the embedding wants log lines.
#[derive(Debug)]
pub enum Log {
    /// `console.log`.
    Console,
    /// Its own function.
    To(Function),
    /// Not at all.
    Off,
}

impl Log {
    /// The `log` option: absent (`console.log`), a function, or `null`/`false` (off).
    pub fn new(log: JsValue) -> Result<Self, JsValue> {
        if log.is_undefined() {
            Ok(Self::Console)
        } else if log.is_null() || log.as_bool() == Some(false) {
            Ok(Self::Off)
        } else {
            log.dyn_into()
                .map(Self::To)
                .map_err(|_| fail("invalid_config", "log must be a function, null or false"))
        }
    }
}

/// Core's host for a [`super::Provider`].
pub struct JsHost {
    store: JsStore,
    poster: Poster,
    log: Log,
    config: HostConfig,
    /// How many times deliveries were enqueued: the provider runs them when this moves.
    enqueued: Cell<u64>,
}

impl fmt::Debug for JsHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsHost")
            .field("config", &self.config)
            .field("poster", &self.poster)
            .finish_non_exhaustive()
    }
}

impl JsHost {
    /// A host over `store` and `poster`.
    pub fn new(store: JsStore, poster: Poster, log: Log, config: HostConfig) -> Self {
        Self {
            store,
            poster,
            log,
            config,
            enqueued: Cell::new(0),
        }
    }

    /// How many times deliveries were enqueued so far.
    pub fn enqueued(&self) -> u64 {
        self.enqueued.get()
    }
}

impl StoreVia for JsHost {
    type Inner = JsStore;

    fn store(&self) -> &JsStore {
        &self.store
    }
}

impl Clock for JsHost {
    fn now(&self) -> UnixTime {
        UnixTime(super::now_secs())
    }

    fn now_ms(&self) -> u64 {
        super::now_ms()
    }
}

impl Entropy for JsHost {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        JsEntropy.fill(dest)
    }
}

impl Deliver for JsHost {
    async fn enqueue(&self, deliveries: Vec<Delivery>) -> Result<(), StoreError> {
        outbox::put(self, &deliveries).await?;
        self.enqueued.set(self.enqueued.get().wrapping_add(1));
        Ok(())
    }

    async fn post(&self, post: Post<'_>) -> PostOutcome {
        self.poster.post(post).await
    }
}

impl Host for JsHost {
    fn config(&self) -> &HostConfig {
        &self.config
    }

    // The costly primitives through WebCrypto, as the Workers host does (core's pure-Rust RSA
    // in wasm costs tens of milliseconds per signature).
    async fn sign(
        &self,
        key: &Jwk,
        alg: JwsAlg,
        signing_input: &[u8],
    ) -> Result<Vec<u8>, JoseError> {
        crate::subtle::sign_or_core(key, alg, signing_input, self, |l| self.log(l)).await
    }

    async fn generate_rsa(&self, bits: usize) -> Result<Jwk, JoseError> {
        crate::subtle::generate_rsa_or_core(bits, self, |l| self.log(l)).await
    }

    async fn pbkdf2_sha256(
        &self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<[u8; 32], JoseError> {
        crate::subtle::pbkdf2_sha256_or_core(password, salt, iterations, |l| self.log(l)).await
    }

    fn log(&self, line: &str) {
        match &self.log {
            Log::Console => console_log(line),
            Log::To(f) => {
                // A throwing logger must not break the provider.
                let _ = f.call1(&JsValue::UNDEFINED, &line.into());
            }
            Log::Off => {}
        }
    }
}
