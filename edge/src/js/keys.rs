//! Keys: `generateKey` (RSA keys by WebCrypto) and `publicJwks`.

use js_sys::Promise;
use oidc_edge_core::host::Crypto as _;
use oidc_edge_core::jose::jwk::{KeyType, MAX_KEYS, RSA_MIN_BITS};
use oidc_edge_core::jose::{Jwk, JwsAlg, KeyMgmtAlg};
use serde::Deserialize;
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::host::standalone_crypto;
use super::interop::{core_error, fail, from_js, invalid_argument, to_js};
use crate::web::WebEntropy;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GenerateKeyOptions {
    #[serde(default)]
    modulus_length: Option<usize>,
}

/// What a key is generated for.
#[derive(Clone, Copy, Debug)]
enum Purpose {
    Sign(JwsAlg),
    Encrypt(KeyMgmtAlg),
}

impl Purpose {
    fn parse(alg: &str) -> Option<Self> {
        alg.parse()
            .map(Self::Sign)
            .or_else(|_| alg.parse().map(Self::Encrypt))
            .ok()
    }
}

/// A fresh private JWK for `alg` (`ES256`, `RS256`, `PS256` to sign; `ECDH-ES`,
/// `ECDH-ES+A128KW`, `ECDH-ES+A256KW`, `RSA-OAEP-256` to receive encrypted tokens), with `kid`
/// (its RFC 7638 thumbprint), `alg` and `use` set. RSA keys have 2048 bits unless
/// `options.modulusLength` says otherwise (up to 4096), and are WebCrypto's, as a `Provider`'s
/// realm keys ([`standalone_crypto`]).
#[wasm_bindgen(js_name = generateKey, unchecked_return_type = "Promise<PrivateJwk>")]
pub fn generate_key(
    #[wasm_bindgen(unchecked_param_type = "SigningAlg | KeyManagementAlg")] alg: &str,
    #[wasm_bindgen(unchecked_optional_param_type = "GenerateKeyOptions")] options: JsValue,
) -> Promise {
    let alg = alg.to_owned();
    future_to_promise(async move {
        let options: GenerateKeyOptions = if options.is_undefined() || options.is_null() {
            GenerateKeyOptions::default()
        } else {
            from_js(options, "generateKey options")?
        };
        let purpose = Purpose::parse(&alg).ok_or_else(|| {
            fail(
                "unsupported_algorithm",
                format!(
                    "unsupported algorithm {alg:?}: ES256, RS256, PS256, ECDH-ES, ECDH-ES+A128KW, ECDH-ES+A256KW or RSA-OAEP-256"
                ),
            )
        })?;
        let key_type = match purpose {
            Purpose::Sign(a) => a.key_type(),
            Purpose::Encrypt(a) => a.key_type(),
        };
        let mut key = match key_type {
            KeyType::EcP256 => {
                if options.modulus_length.is_some() {
                    return Err(invalid_argument("modulusLength is for RSA keys only"));
                }
                Jwk::generate_ec(&WebEntropy)
            }
            KeyType::Rsa => {
                let bits = options.modulus_length.unwrap_or(RSA_MIN_BITS);
                standalone_crypto().generate_rsa(bits, &WebEntropy).await
            }
        }
        .map_err(|e| core_error(&e.into()))?;
        let (alg, key_use) = match purpose {
            Purpose::Sign(a) => (a.as_str(), "sig"),
            Purpose::Encrypt(a) => (a.as_str(), "enc"),
        };
        key.alg = Some(alg.to_owned());
        key.key_use = Some(key_use.to_owned());
        to_js(&key.to_value())
    })
}

/// The public JWK Set `{keys: [...]}` of one JWK, an array of them, or a JWK Set; private
/// members are dropped, `kid`, `alg`, `use` and `key_ops` kept.
#[wasm_bindgen(js_name = publicJwks, unchecked_return_type = "Jwks")]
pub fn public_jwks(
    #[wasm_bindgen(unchecked_param_type = "Jwk | Jwk[] | Jwks")] keys: JsValue,
) -> Result<JsValue, JsValue> {
    let keys = parse_keys(from_js(keys, "keys")?)?;
    let public: Vec<Value> = keys.iter().map(|k| k.to_public().to_value()).collect();
    let mut set = Map::new();
    set.insert("keys".to_owned(), Value::Array(public));
    to_js(&Value::Object(set))
}

/// One JWK, an array of JWKs, or a JWK Set, parsed (private or public).
pub(super) fn parse_keys(value: Value) -> Result<Vec<Jwk>, JsValue> {
    let list = match value {
        Value::Array(list) => list,
        Value::Object(mut m) if !m.contains_key("kty") => match m.remove("keys") {
            Some(Value::Array(list)) => list,
            _ => {
                return Err(invalid_argument(
                    "expected a JWK, an array of JWKs or a JWK Set {keys: [...]}",
                ));
            }
        },
        one @ Value::Object(_) => vec![one],
        _ => {
            return Err(invalid_argument(
                "expected a JWK, an array of JWKs or a JWK Set {keys: [...]}",
            ));
        }
    };
    if list.len() > MAX_KEYS {
        return Err(invalid_argument(format!("more than {MAX_KEYS} keys")));
    }
    list.iter()
        .map(|k| Jwk::from_value(k).map_err(|e| core_error(&e.into())))
        .collect()
}

/// One JWK; `what` names it in errors.
pub(super) fn parse_key(value: Value, what: &str) -> Result<Jwk, JsValue> {
    if !value.is_object() {
        return Err(invalid_argument(format!("{what} must be a JWK object")));
    }
    Jwk::from_value(&value).map_err(|e| fail("invalid_key", format!("{what}: {e}")))
}
