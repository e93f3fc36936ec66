//! The back-channel POSTs: a `DeliveryRequest` (see `types.d.ts`) handed to the embedding's
//! deliverer (the global `fetch` by default), bounded by a timer of our own that also aborts
//! the request's `signal`: a deliverer that never settles costs a timeout, not a stuck
//! delivery.
//!
//! SSRF: the realm's `allow_private_uris` reaches the deliverer as `allowPrivate`; URIs whose
//! host is an IP literal that is not globally reachable (or `localhost`) are refused here
//! first, with core's [`check_post`], as at the edge. Resolving names is the deliverer's
//! business (`fetch` resolves inside the runtime), as at the edge.

use std::fmt;

use futures_util::future::{Either, select};
use futures_util::pin_mut;
use js_sys::{Function, Object, Promise, Reflect};
use oidc_edge_core::host::{Post, PostOutcome};
use oidc_edge_core::host_config::check_post;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::interop::{Timer, call, describe, method};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch, catch)]
    fn fetch(uri: &str, init: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = AbortController)]
    type AbortController;
    #[wasm_bindgen(constructor, js_class = "AbortController", catch)]
    fn new() -> Result<AbortController, JsValue>;
    #[wasm_bindgen(method, getter, js_class = "AbortController")]
    fn signal(this: &AbortController) -> JsValue;
    #[wasm_bindgen(method, js_class = "AbortController")]
    fn abort(this: &AbortController);
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
        if let Err(refused) = check_post(&post) {
            return refused;
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
