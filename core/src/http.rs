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

    /// The value of cookie `name`: that of the first pair in the `cookie` headers whose name is
    /// exactly `name` (RFC 6265 §5.4). `None` when that value is not an RFC 6265 §4.1.1
    /// `cookie-value` (cookie-octets, optionally in double quotes, which are removed): every
    /// cookie the provider sets is one, and anything else, such as the U+FFFD a host wrote for
    /// bytes that were not UTF-8, must not be able to equal another malformed value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        let value = self
            .headers
            .iter()
            .filter(|(n, _)| n == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|c| c.split_once('='))
            .find(|(k, _)| k.trim_matches(WSP) == name)
            .map(|(_, v)| v.trim_matches(WSP))?;
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        value.bytes().all(is_cookie_octet).then_some(value)
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
    /// Parse `application/x-www-form-urlencoded` bytes (WHATWG URL §5.1: pairs split at `&`,
    /// name from value at the first `=`, `+` a space, `%XX` a byte).
    ///
    /// Names and values must be UTF-8 once decoded. A lossy decoder would turn different
    /// inputs into the same text (`%FE` and `%FF` both become U+FFFD, and would then pass for
    /// each other in a CSRF check), so: a pair whose value is not UTF-8 keeps its name with an
    /// empty value, which readers take as absent (RFC 6749 §3.1) while repeats still show; a
    /// pair whose name is not UTF-8 is dropped, as no parameter has such a name.
    pub fn parse(bytes: &[u8]) -> Self {
        Self(
            bytes
                .split(|b| *b == b'&')
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let mut halves = pair.splitn(2, |b| *b == b'=');
                    let name = decode_form_component(halves.next().unwrap_or_default())?;
                    let value = decode_form_component(halves.next().unwrap_or_default());
                    Some((name, value.unwrap_or_default()))
                })
                .collect(),
        )
    }

    /// Whether every name and value of form-encoded `bytes` decodes to UTF-8 (a request that
    /// carries anything else is malformed, and refused as a whole).
    pub fn is_utf8(bytes: &[u8]) -> bool {
        bytes
            .split(|b| *b == b'&')
            .flat_map(|pair| pair.splitn(2, |b| *b == b'='))
            .all(|part| decode_form_component(part).is_some())
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

/// One form-encoded name or value, decoded; `None` when the bytes are not UTF-8.
fn decode_form_component(raw: &[u8]) -> Option<String> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    String::from_utf8(percent_encoding::percent_decode(&spaced).collect()).ok()
}

/// Space and horizontal tab: what RFC 6265 §5.2 trims around cookie names and values.
const WSP: [char; 2] = [' ', '\t'];

/// RFC 6265 §4.1.1 `cookie-octet`: visible ASCII but `"`, `,`, `;` and `\`.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
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

    /// This page with its own Content Security Policy instead of the default one.
    #[must_use]
    pub fn with_csp(mut self, csp: &str) -> Self {
        for (name, value) in &mut self.headers {
            if name == "content-security-policy" {
                *value = String::from(csp);
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

    /// Percent-escapes that are not UTF-8 used to decode to U+FFFD, so `%FE` and `%FF` were
    /// the same value.
    #[test]
    fn form_values_that_are_not_utf8_are_not_confused() {
        let p = Params::parse(b"csrf=%FE&a=%FF&a=1&%FF=x&b=\xff&c=%C3%A9+%2B");
        assert_eq!(p.get("csrf"), None);
        assert!(p.one("a").is_err(), "the repeat is still seen");
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("\u{e9} +"));
        assert!(
            p.0.iter()
                .all(|(k, v)| !k.contains('\u{fffd}') && !v.contains('\u{fffd}'))
        );
        assert_eq!(Params::parse(b"&&x&=y&z=").0.len(), 3);
    }

    #[test]
    fn cookie_names_are_exact_and_values_are_cookie_octets() {
        let r = Request::new(Method::Get, "/")
            .with_header("cookie", "sid_x=1; xsid=2; sid=\"3\"; sid=4")
            .with_header("cookie", "bad=\u{fffd}; sp =  5 ");
        assert_eq!(r.cookie("sid"), Some("3"));
        assert_eq!(r.cookie("si"), None);
        assert_eq!(r.cookie("bad"), None);
        assert_eq!(r.cookie("sp"), Some("5"));
        assert_eq!(r.cookie("none"), None);
    }
}
