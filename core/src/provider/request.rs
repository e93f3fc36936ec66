//! What every endpoint shares: the failure type and its one mapping to a response, reading
//! forms and JSON bodies, names that are valid in paths, and the small HTML page.

use alloc::{format, string::String};

use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::host::Host;
use crate::http::{Method, Request, Response};
use crate::oauth::{ErrorCode, OAuthError};

/// Why a request failed; turned into a response in exactly one place.
#[derive(Debug)]
pub(crate) enum Fail {
    /// An OAuth-shaped error; its code fixes the status.
    OAuth(OAuthError),
    /// A failure of the host or of a primitive: 500, details kept out of the response.
    Internal(Error),
}

impl Fail {
    pub(crate) fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self::OAuth(code.with(description))
    }

    pub(crate) fn bad_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub(super) fn into_response(self) -> Response {
        match self {
            Self::OAuth(e) => e.into_response(),
            Self::Internal(_) => ErrorCode::ServerError
                .with("internal error")
                .into_response(),
        }
    }
}

impl<E: Into<Error>> From<E> for Fail {
    fn from(e: E) -> Self {
        Self::Internal(e.into())
    }
}

pub(crate) type Result<T> = core::result::Result<T, Fail>;

pub(super) fn method_not_allowed() -> Fail {
    Fail::new(ErrorCode::MethodNotAllowed, "method not allowed")
}

pub(super) fn not_found() -> Fail {
    Fail::new(ErrorCode::NotFound, "no such endpoint")
}

/// The body's form parameters; anything but `application/x-www-form-urlencoded` is refused.
pub(crate) fn form(req: &Request) -> Result<crate::http::Params> {
    req.form()
        .ok_or_else(|| Fail::bad_request("the body must be application/x-www-form-urlencoded"))
}

/// The request's parameters: the query for GET, the form body for POST.
pub(crate) fn params(req: &Request) -> Result<crate::http::Params> {
    if req.method == Method::Post {
        form(req)
    } else {
        Ok(req.query_params())
    }
}

/// A small HTML page with a title and one paragraph.
pub(crate) fn page(status: u16, title: &str, text: &str) -> Response {
    Response::html(
        status,
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body style=\"font-family:sans-serif;max-width:32em;margin:4em auto\"><h1>{t}</h1><p>{x}</p></body></html>",
            t = crate::http::html_escape(title),
            x = crate::http::html_escape(text)
        ),
    )
}

/// Whether cookies must carry `Secure`: always, unless the provider is served over plain http.
pub(crate) fn secure_cookies<H: Host>(host: &H) -> bool {
    !host.config().base_url.starts_with("http://")
}

/// Whether a user name is acceptable: 1–128 printable characters, no `/`, and not `.` or `..`
/// (which URLs and paths read as directories).
pub(crate) fn valid_username(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name != "."
        && name != ".."
        && name.chars().all(|c| !c.is_control() && c != '/')
}

/// The body as a JSON object; anything but `application/json`, or a member named twice, is
/// refused.
pub(super) fn json_body(req: &Request) -> Result<Value> {
    let ct = req.header("content-type").unwrap_or("");
    if !ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/json")
    {
        return Err(Fail::bad_request("the body must be application/json"));
    }
    let strict: StrictObject = serde_json::from_slice(&req.body).map_err(|e| {
        Fail::bad_request(if e.is_data() {
            format!("the body must be a JSON object without repeated members ({e})")
        } else {
            String::from("the body is not valid JSON")
        })
    })?;
    Ok(Value::Object(strict.0))
}

/// A JSON object whose members (at every depth) are named once: a repeated name is refused
/// rather than letting the last one silently win, as two parsers may disagree on which wins.
struct StrictObject(serde_json::Map<String, Value>);

/// A JSON value read with the same rule.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        match StrictValue::deserialize(d)?.0 {
            Value::Object(m) => Ok(Self(m)),
            _ => Err(serde::de::Error::custom("expected a JSON object")),
        }
    }
}

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Self)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> core::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> core::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> core::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> core::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> core::result::Result<Value, E> {
        Ok(Value::String(String::from(v)))
    }
    fn visit_string<E>(self, v: String) -> core::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> core::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> core::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> core::result::Result<Value, A::Error> {
        let mut out = alloc::vec::Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> core::result::Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if out.contains_key(&k) {
                return Err(serde::de::Error::custom(format!(
                    "member {k:?} is repeated"
                )));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// Whether `id` is a usable client id: 1–128 URL-safe characters, and not `.` or `..` (which
/// URLs and paths would read as directories).
pub(super) fn valid_client_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// A static file of a page the provider serves (the demo RP's, the admin console's): compiled
/// in, revalidated on each load, never sniffed as another type.
pub(super) fn static_asset(content_type: &str, body: &str) -> Response {
    Response::empty(200)
        .with_header("content-type", &format!("{content_type}; charset=utf-8"))
        .with_header("cache-control", "no-cache")
        .with_header("x-content-type-options", "nosniff")
        .with_body(body.as_bytes().to_vec())
}
