//! Between Rust and JavaScript: JS errors with a stable `code` ([`fail`]), values in and out
//! ([`from_js`], [`to_js`]), methods of the embedding's objects, promises, timers, and a thrown
//! value in a few words.

use std::fmt::Display;

use js_sys::{Array, Function, Promise, Reflect};
use oidc_edge_core::error::{ClaimsError, Error, JoseError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// The longest single timer: `setTimeout` fires at once for delays that do not fit 31 bits.
pub const MAX_TIMER_MS: u64 = 0x7fff_ffff;

/// A pending `setTimeout`, cleared when dropped (so a finished race leaves no timer keeping a
/// Node process alive).
#[derive(Debug)]
pub struct Timer {
    id: JsValue,
    /// Resolves when the timer fires.
    pub fired: JsFuture,
}

impl Timer {
    /// A timer of `ms` milliseconds (at most [`MAX_TIMER_MS`]).
    pub fn new(ms: u64) -> Self {
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

/// A JS `Error` with `message` and a stable `code` property.
pub fn fail(code: &str, message: impl Display) -> JsValue {
    let e = js_sys::Error::new(&message.to_string());
    // Setting a property on a fresh Error cannot fail.
    let _ = js_sys::Reflect::set(&e, &"code".into(), &code.into());
    e.into()
}

/// An argument that is not what the declarations say.
pub fn invalid_argument(message: impl Display) -> JsValue {
    fail("invalid_argument", message)
}

/// The JS error for a core error, outside token validation (which has codes of its own).
pub fn core_error(e: &Error) -> JsValue {
    let code = match e {
        Error::Jose(JoseError::InvalidKey(_) | JoseError::NoMatchingKey) => "invalid_key",
        Error::Jose(JoseError::UnsupportedAlgorithm(_) | JoseError::AlgorithmNotAllowed(_)) => {
            "unsupported_algorithm"
        }
        Error::Jose(JoseError::Entropy) | Error::Entropy(_) => "entropy",
        Error::Jose(JoseError::Malformed(_) | JoseError::TooLarge) => "invalid_argument",
        Error::Claims(ClaimsError::Missing(_) | ClaimsError::Invalid(_)) => "invalid_argument",
        Error::Store(_) => "store",
        _ => "crypto",
    };
    fail(code, e)
}

/// Read a JS value into `T` (options objects, JWKs); `what` names it in the error.
///
/// Through JSON's data model: serde-wasm-bindgen reads a struct's fields by name and never
/// sees other members, so `deny_unknown_fields` (a misspelt option must not pass silently)
/// needs the object's own members first.
pub fn from_js<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsValue> {
    let json: serde_json::Value = serde_wasm_bindgen::from_value(value)
        .map_err(|e| invalid_argument(format!("{what}: {e}")))?;
    serde_json::from_value(json).map_err(|e| invalid_argument(format!("{what}: {e}")))
}

/// `value` as plain JS (objects, not `Map`s; numbers, not `BigInt`s).
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| fail("crypto", format!("encoding the result: {e}")))
}
