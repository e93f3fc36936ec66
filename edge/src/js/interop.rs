//! Calling JavaScript from the host: methods of the embedding's objects, promises, timers, and
//! a thrown value in a few words.

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::fail;

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
