//! The compact serialization shared by JWS and JWE: the size bound, splitting into parts, and
//! the protected header.

use alloc::string::String;

use serde_json::{Map, Value};

use super::b64;
use super::error::JoseError;

/// The largest compact token (JWS or JWE) accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// A decoded JOSE header: the JSON object as sent.
pub type Header = Map<String, Value>;

/// Split a compact serialization into exactly `N` parts.
pub(crate) fn split_compact<const N: usize>(token: &str) -> Result<[&str; N], JoseError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JoseError::TooLarge);
    }
    let mut parts = [""; N];
    let mut it = token.split('.');
    for part in parts.iter_mut() {
        *part = it
            .next()
            .ok_or(JoseError::Malformed("wrong number of parts"))?;
    }
    if it.next().is_some() {
        return Err(JoseError::Malformed("wrong number of parts"));
    }
    Ok(parts)
}

/// Decode a protected header: base64url of a JSON object, parameters we cannot honour refused.
pub(crate) fn decode_header(b64: &str) -> Result<Header, JoseError> {
    let bytes = b64::decode(b64)?;
    let header: Header = serde_json::from_slice(&bytes)
        .map_err(|_| JoseError::Malformed("header is not a JSON object"))?;
    // We understand no extension parameters, so any `crit` must be refused (RFC 7515 §4.1.11).
    if header.contains_key("crit") {
        return Err(JoseError::UnsupportedHeader("crit"));
    }
    if header.contains_key("zip") {
        return Err(JoseError::UnsupportedHeader("zip"));
    }
    Ok(header)
}

/// A string-valued header parameter, or `None` when absent; a non-string is malformed.
pub(crate) fn header_str<'h>(
    header: &'h Header,
    name: &'static str,
) -> Result<Option<&'h str>, JoseError> {
    match header.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JoseError::Malformed(name)),
    }
}
