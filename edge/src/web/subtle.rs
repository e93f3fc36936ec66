//! WebCrypto (`crypto.subtle`), which the runtime runs natively: the calls behind
//! [`super::WebCrypto`], the JavaScript hosts' answer to core's crypto seam. Used by the Workers
//! host and by the npm package (Node, Deno, Bun, browsers): its `Provider`, `mintLogoutToken`
//! and `generateKey`.
//!
//! Why: in wasm, an RS256 signature with core's pure-Rust `rsa` costs about 21 ms of CPU and a
//! 50,000-iteration PBKDF2 about 50 ms (README, "What a request costs in workerd"), over the
//! Workers free plan's 10 ms per invocation; WebCrypto does the same work in a fraction of
//! that. The results are the same by definition (RSASSA-PKCS1-v1_5 and ECDSA P-256 are checked
//! by every verifier; PSS with a 32-byte salt as RFC 7518 asks; PBKDF2 is deterministic), and
//! the end-to-end tests verify every token the worker signs with core's and jose's verifiers.
//!
//! Imported keys are cached per isolate by RFC 7638 thumbprint and algorithm (importing a
//! private RSA key costs about as much as a signature). When WebCrypto refuses (a key it
//! cannot import, an iteration count over the platform's limit), the host falls back to core's
//! own code, and says so in the log.

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use oidc_edge_core::jose::{Jwk, JwsAlg};
use serde_json::Value;
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Imported keys kept per isolate, at most.
const MAX_CACHED_KEYS: usize = 32;

thread_local! {
    static KEYS: RefCell<HashMap<String, JsValue>> = RefCell::new(HashMap::new());
}

/// Why WebCrypto could not do it, in a few words for the log.
#[derive(Debug)]
pub struct SubtleError(pub String);

impl std::fmt::Display for SubtleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebCrypto: {}", self.0)
    }
}

fn js_error(what: &str, e: &JsValue) -> SubtleError {
    let message = Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_default();
    SubtleError(format!("{what}: {message}"))
}

fn subtle() -> Result<JsValue, SubtleError> {
    let crypto =
        Reflect::get(&js_sys::global(), &"crypto".into()).map_err(|e| js_error("crypto", &e))?;
    Reflect::get(&crypto, &"subtle".into()).map_err(|e| js_error("crypto.subtle", &e))
}

/// `await crypto.subtle[method](...args)`.
async fn call(method: &str, args: &[JsValue]) -> Result<JsValue, SubtleError> {
    let subtle = subtle()?;
    let f: Function = Reflect::get(&subtle, &method.into())
        .and_then(JsValue::dyn_into)
        .map_err(|e| js_error(method, &e))?;
    let args: Array = args.iter().collect();
    let promise: Promise = f
        .apply(&subtle, &args)
        .and_then(JsValue::dyn_into)
        .map_err(|e| js_error(method, &e))?;
    JsFuture::from(promise)
        .await
        .map_err(|e| js_error(method, &e))
}

/// A plain JS object from `(name, value)` pairs.
fn object(members: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (name, value) in members {
        // Setting a member of a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &JsValue::from_str(name), value);
    }
    o
}

/// The JS value of a JSON value (objects, strings: what a JWK holds).
fn js_json(value: &Value) -> Result<JsValue, SubtleError> {
    js_sys::JSON::parse(&value.to_string()).map_err(|e| js_error("JSON", &e))
}

/// `(importKey algorithm, sign algorithm)` for a JWS algorithm.
fn algorithms(alg: JwsAlg) -> (Object, Object) {
    match alg {
        JwsAlg::ES256 => (
            object(&[("name", "ECDSA".into()), ("namedCurve", "P-256".into())]),
            object(&[("name", "ECDSA".into()), ("hash", "SHA-256".into())]),
        ),
        JwsAlg::RS256 => (
            object(&[
                ("name", "RSASSA-PKCS1-v1_5".into()),
                ("hash", "SHA-256".into()),
            ]),
            object(&[("name", "RSASSA-PKCS1-v1_5".into())]),
        ),
        JwsAlg::PS256 => (
            object(&[("name", "RSA-PSS".into()), ("hash", "SHA-256".into())]),
            // RFC 7518 §3.5: the salt is as long as the hash.
            object(&[("name", "RSA-PSS".into()), ("saltLength", 32.into())]),
        ),
    }
}

/// The private `key` imported for signing with `alg`, from the cache when it is there.
async fn signing_key(key: &Jwk, alg: JwsAlg, import_alg: &Object) -> Result<JsValue, SubtleError> {
    let id = key
        .thumbprint()
        .map(|t| format!("{t}/{}", alg.as_str()))
        .map_err(|e| SubtleError(format!("thumbprint: {e}")))?;
    if let Some(k) = KEYS.with(|c| c.borrow().get(&id).cloned()) {
        return Ok(k);
    }
    // The JWK as WebCrypto wants it: `alg` the one used (core checked the key allows it),
    // without `use` and `key_ops`, which core has already enforced.
    let mut jwk = key.to_value();
    if let Value::Object(m) = &mut jwk {
        m.remove("use");
        m.remove("key_ops");
        m.insert("alg".into(), Value::String(alg.as_str().into()));
    }
    let usages: Array = std::iter::once(JsValue::from_str("sign")).collect();
    let imported = call(
        "importKey",
        &[
            "jwk".into(),
            js_json(&jwk)?,
            import_alg.into(),
            false.into(),
            usages.into(),
        ],
    )
    .await?;
    KEYS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= MAX_CACHED_KEYS {
            c.clear();
        }
        c.insert(id, imported.clone());
    });
    Ok(imported)
}

/// The JWS signature of `signing_input` (ECDSA: `r || s`, 64 bytes, as JWS wants it).
pub async fn sign(key: &Jwk, alg: JwsAlg, signing_input: &[u8]) -> Result<Vec<u8>, SubtleError> {
    let (import_alg, sign_alg) = algorithms(alg);
    let key = signing_key(key, alg, &import_alg).await?;
    let data = Uint8Array::from(signing_input);
    let sig = call("sign", &[sign_alg.into(), key, data.into()]).await?;
    Ok(Uint8Array::new(&sig).to_vec())
}

/// A fresh RSA private key (e = 65537) as core's [`Jwk`]: generated by WebCrypto, exported as
/// a JWK and parsed (and checked) by core like any imported key; `kid` its thumbprint, no other
/// metadata, as core's own generator gives.
pub async fn generate_rsa(bits: usize) -> Result<Jwk, SubtleError> {
    let exponent = Uint8Array::from(&[1u8, 0, 1][..]);
    let params = object(&[
        ("name", "RSASSA-PKCS1-v1_5".into()),
        ("modulusLength", (bits as u32).into()),
        ("publicExponent", exponent.into()),
        ("hash", "SHA-256".into()),
    ]);
    let usages: Array = ["sign", "verify"]
        .iter()
        .map(|u| JsValue::from_str(u))
        .collect();
    let pair = call("generateKey", &[params.into(), true.into(), usages.into()]).await?;
    let private =
        Reflect::get(&pair, &"privateKey".into()).map_err(|e| js_error("generateKey", &e))?;
    let exported = call("exportKey", &["jwk".into(), private]).await?;
    let json = js_sys::JSON::stringify(&exported)
        .map_err(|e| js_error("JSON", &e))?
        .as_string()
        .unwrap_or_default();
    let parsed =
        Jwk::from_json(&json).map_err(|e| SubtleError(format!("the generated key: {e}")))?;
    if !parsed.is_private() {
        return Err(SubtleError("the generated key has no private part".into()));
    }
    Ok(Jwk::from_material(parsed.material))
}

/// PBKDF2-HMAC-SHA256, 32 bytes.
pub async fn pbkdf2_sha256(
    password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Result<[u8; 32], SubtleError> {
    let usages: Array = std::iter::once(JsValue::from_str("deriveBits")).collect();
    let base = call(
        "importKey",
        &[
            "raw".into(),
            Uint8Array::from(password).into(),
            "PBKDF2".into(),
            false.into(),
            usages.into(),
        ],
    )
    .await?;
    let params = object(&[
        ("name", "PBKDF2".into()),
        ("hash", "SHA-256".into()),
        ("salt", Uint8Array::from(salt).into()),
        ("iterations", iterations.into()),
    ]);
    let bits = call("deriveBits", &[params.into(), base, 256.into()]).await?;
    let bytes = Uint8Array::new(&bits).to_vec();
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| SubtleError(format!("deriveBits gave {} bytes", bytes.len())))
}
