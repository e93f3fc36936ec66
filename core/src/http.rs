//! Sans-I/O HTTP: the request and response types the hosts translate to and from, and the
//! helpers every endpoint shares (forms, query strings, cookies, JSON and OAuth errors).

use alloc::{format, string::String, vec::Vec};

use serde::Serialize;

/// Largest request body the provider reads, in bytes. Hosts should refuse larger bodies
/// before buffering them; [`crate::provider::handle`] checks again.
pub const MAX_BODY: usize = 64 * 1024;

/// An HTTP method the provider distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET (and HEAD, answered as GET).
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
    /// PATCH.
    Patch,
    /// Anything else.
    Other,
}

impl Method {
    /// Parse a method name.
    pub fn parse(s: &str) -> Self {
        match s {
            "GET" | "HEAD" => Self::Get,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "DELETE" => Self::Delete,
            "PATCH" => Self::Patch,
            _ => Self::Other,
        }
    }
}

/// An HTTP request as the host received it.
#[derive(Clone, Debug)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path, percent-encoded as received, without the query (`/realms/demo/token`).
    pub path: String,
    /// The raw query string without `?` (may be empty).
    pub query: String,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The client's address as the host knows it (the peer's IP natively, `CF-Connecting-IP`
    /// at the edge), for per-source limits; `None` when the host cannot tell.
    pub remote: Option<String>,
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, path_and_query: &str) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Self {
            method,
            path: String::from(path),
            query: String::from(query),
            headers: Vec::new(),
            body: Vec::new(),
            remote: None,
        }
    }

    /// Set the client's address.
    #[must_use]
    pub fn with_remote(mut self, remote: &str) -> Self {
        self.remote = Some(String::from(remote));
        self
    }

    /// Add a header (the name is lower-cased).
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), String::from(value)));
        self
    }

    /// Set the body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The query string's parameters.
    pub fn query_params(&self) -> Params {
        Params::parse(self.query.as_bytes())
    }

    /// The body's parameters when it is `application/x-www-form-urlencoded`.
    pub fn form(&self) -> Option<Params> {
        let ct = self.header("content-type")?;
        let mime = ct.split(';').next().unwrap_or("").trim();
        mime.eq_ignore_ascii_case("application/x-www-form-urlencoded")
            .then(|| Params::parse(&self.body))
    }

    /// The `Authorization: Bearer` token, if any.
    pub fn bearer(&self) -> Option<&str> {
        let v = self.header("authorization")?;
        let (scheme, token) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }
}

/// Decoded `name=value` pairs. A name given twice is kept twice, so callers can refuse that
/// where OAuth says parameters must not repeat.
#[derive(Clone, Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parse `application/x-www-form-urlencoded` bytes.
    pub fn parse(bytes: &[u8]) -> Self {
        Self(
            form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The value of `name` when it occurs exactly once; `Err` when it repeats.
    pub fn one(&self, name: &str) -> Result<Option<&str>, String> {
        let mut it = self.0.iter().filter(|(k, _)| k == name);
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() {
            return Err(format!("parameter {name} is repeated"));
        }
        Ok(first.filter(|v| !v.is_empty()))
    }

    /// The value of `name`, ignoring repeats (first wins) and empty values.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// The origin (`scheme://host[:port]`) of an absolute http(s) URI, when it is made only of
/// characters that are safe inside a header value and a CSP source expression.
pub fn origin_of(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let ok = !authority.is_empty()
        && !authority.contains('@')
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    ok.then(|| format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// Form-encode pairs (for query strings of redirects).
pub fn encode_params<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// An HTTP response for the host to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers, in order; `set-cookie` may repeat.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// An empty response with `status`.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A JSON response. Every JSON answer of the provider is `no-store`: most carry tokens or
    /// secrets, and none is worth caching.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        Self::empty(status)
            .with_header("content-type", "application/json")
            .with_header("cache-control", "no-store")
            .with_header("pragma", "no-cache")
            .with_body(body)
    }

    /// A cacheable public JSON document (discovery, JWKS).
    pub fn public_json<T: Serialize + ?Sized>(value: &T, max_age_secs: u32) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_default();
        Self::empty(200)
            .with_header("content-type", "application/json")
            .with_header("cache-control", &format!("public, max-age={max_age_secs}"))
            .with_header("access-control-allow-origin", "*")
            .with_body(body)
    }

    /// An HTML page.
    pub fn html(status: u16, body: String) -> Self {
        Self::empty(status)
            .with_header("content-type", "text/html; charset=utf-8")
            .with_header("cache-control", "no-store")
            .with_header("x-frame-options", "DENY")
            .with_header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
            .with_body(body.into_bytes())
    }

    /// Let the page's forms lead to `uri`'s origin too (CSP `form-action` also governs the
    /// redirects that follow a form's submission, and the consent and logout forms end at the
    /// client). Nothing is added unless the origin is a plain `scheme://host[:port]`.
    #[must_use]
    pub fn allow_form_target(mut self, uri: &str) -> Self {
        let Some(origin) = origin_of(uri) else {
            return self;
        };
        for (name, value) in &mut self.headers {
            if name == "content-security-policy" {
                *value = value.replace(
                    "form-action 'self'",
                    &format!("form-action 'self' {origin}"),
                );
            }
        }
        self
    }

    /// A redirect (302 Found) to `location`.
    pub fn redirect(location: &str) -> Self {
        Self::empty(302)
            .with_header("location", location)
            .with_header("cache-control", "no-store")
    }

    /// The OAuth error shape: `{"error", "error_description"}`.
    pub fn oauth_error(status: u16, error: &str, description: &str) -> Self {
        #[derive(Serialize)]
        struct E<'a> {
            error: &'a str,
            error_description: &'a str,
        }
        Self::json(
            status,
            &E {
                error,
                error_description: description,
            },
        )
    }

    /// Add a header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((String::from(name), String::from(value)));
        self
    }

    /// Set the body.
    #[must_use]
    pub fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Escape text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-decode one path segment; `None` when it is not UTF-8.
pub fn decode_segment(seg: &str) -> Option<String> {
    percent_encoding::percent_decode_str(seg)
        .decode_utf8()
        .ok()
        .map(|c| String::from(c.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_cookies_and_bearer() {
        let r = Request::new(Method::Post, "/x?a=1&b=%20two&a=3")
            .with_header("Cookie", "one=1; oidc_edge_session=abc")
            .with_header("Authorization", "Bearer  t0k ")
            .with_header(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=UTF-8",
            )
            .with_body("grant_type=authorization_code&code=c%2B1");
        let q = r.query_params();
        assert!(q.one("a").is_err());
        assert_eq!(q.one("b").unwrap(), Some(" two"));
        assert_eq!(r.cookie("oidc_edge_session"), Some("abc"));
        assert_eq!(r.bearer(), Some("t0k"));
        assert_eq!(r.form().unwrap().get("code"), Some("c+1"));
        assert_eq!(
            html_escape("<a href=\"x\">'&'"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;"
        );
    }
}
