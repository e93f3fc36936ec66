//! The rules every host's settings meet, the same for the native server, the worker and the
//! npm package, so that a setting one host accepts no other refuses: the admin API's bearer
//! token, the master key that seals the signing keys, the public base URL and the delivery
//! policy ([`crate::host::HostConfig`]); beside them the few rules a host applies to traffic:
//! how much of a refused body it reads ([`MAX_DRAIN`]), how a request's path is logged
//! ([`loggable_path`]) and which back-channel POSTs it refuses to send ([`check_post`]).

use core::fmt;

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};

use crate::host::{Post, PostOutcome};
use crate::jose::b64;
use crate::logout::delivery::DeliveryPolicy;

/// Shortest admin token accepted.
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

/// How the placeholders of `.dev.vars.example` begin (`replace-with-...`): a value that a
/// deployment copied without replacing it is refused, not served with.
const PLACEHOLDER_PREFIX: &str = "replace-with";

/// Why an admin token is refused. The message never repeats the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminTokenError {
    /// Shorter than [`MIN_ADMIN_TOKEN_LEN`].
    TooShort,
    /// Not printable ASCII, or with spaces.
    NotPrintable,
    /// A placeholder (`replace-with-...`), not a secret.
    Placeholder,
}

impl fmt::Display for AdminTokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort => write!(f, "too short (at least {MIN_ADMIN_TOKEN_LEN} characters)"),
            Self::NotPrintable => f.write_str("must be printable ASCII without spaces"),
            Self::Placeholder => f.write_str(
                "the placeholder of .dev.vars.example, not a secret: generate a token of your own",
            ),
        }
    }
}

/// Check an admin token: at least [`MIN_ADMIN_TOKEN_LEN`] printable ASCII characters without
/// spaces, and not a placeholder.
pub fn check_admin_token(token: &str) -> Result<(), AdminTokenError> {
    if is_placeholder(token) {
        return Err(AdminTokenError::Placeholder);
    }
    if token.len() < MIN_ADMIN_TOKEN_LEN {
        return Err(AdminTokenError::TooShort);
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AdminTokenError::NotPrintable);
    }
    Ok(())
}

/// Why a master key is refused. The message never repeats the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MasterKeyError {
    /// Not unpadded base64url.
    NotBase64,
    /// Base64url of this many bytes, not 32.
    Length(usize),
    /// A placeholder (`replace-with-...`), not a secret.
    Placeholder,
}

impl fmt::Display for MasterKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotBase64 => f.write_str("not base64url (unpadded, RFC 4648 §5)"),
            Self::Length(n) => write!(f, "{n} bytes where 32 are needed"),
            Self::Placeholder => f.write_str(
                "the placeholder of .dev.vars.example, not a secret: generate a key of your own",
            ),
        }
    }
}

/// Parse a master key: unpadded base64url of exactly 32 bytes (surrounding whitespace, such
/// as a file's last newline, ignored), and not a placeholder.
pub fn parse_master_key(s: &str) -> Result<[u8; 32], MasterKeyError> {
    let s = s.trim();
    if is_placeholder(s) {
        return Err(MasterKeyError::Placeholder);
    }
    let bytes = b64::decode(s).map_err(|_| MasterKeyError::NotBase64)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| MasterKeyError::Length(bytes.len()))
}

fn is_placeholder(s: &str) -> bool {
    s.get(..PLACEHOLDER_PREFIX.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(PLACEHOLDER_PREFIX))
}

/// Why a base URL is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BaseUrlError {
    /// Not a URL at all; the parser's words.
    Invalid(String),
    /// Not http or https.
    NotHttp,
    /// No host.
    NoHost,
    /// With a query or a fragment.
    QueryOrFragment,
    /// With a user name or password.
    Credentials,
}

impl fmt::Display for BaseUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "not a URL ({e})"),
            Self::NotHttp => f.write_str("must be http or https"),
            Self::NoHost => f.write_str("has no host"),
            Self::QueryOrFragment => f.write_str("must not have a query or fragment"),
            Self::Credentials => f.write_str("must not carry credentials"),
        }
    }
}

/// A public base URL as configured: absolute http(s), no query, fragment or credentials.
/// Returned as the WHATWG parser writes it (scheme and host in lower case, default port
/// dropped), without a trailing slash: the issuer of realm R is `{base_url}/realms/{R}`.
pub fn normalize_base_url(s: &str) -> Result<String, BaseUrlError> {
    let url = url::Url::parse(s).map_err(|e| BaseUrlError::Invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(BaseUrlError::NotHttp);
    }
    if url.host().is_none() {
        return Err(BaseUrlError::NoHost);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(BaseUrlError::QueryOrFragment);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(BaseUrlError::Credentials);
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Why a delivery policy is refused: a setting that would make deliveries spin or never go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryPolicyError {
    /// A timeout of 0 ms: every POST would time out before it is sent.
    ZeroTimeout,
    /// A backoff base of 0 ms: retries would follow each other at once.
    ZeroRetryBase,
    /// No delivery may be in flight: none would ever go.
    ZeroConcurrency,
}

impl fmt::Display for DeliveryPolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ZeroTimeout => "the delivery timeout must be at least 1 ms",
            Self::ZeroRetryBase => "the retry backoff base must be at least 1 ms",
            Self::ZeroConcurrency => "the delivery concurrency must be at least 1",
        })
    }
}

/// Check a delivery policy: a positive timeout, backoff base and concurrency.
pub fn check_delivery_policy(policy: &DeliveryPolicy) -> Result<(), DeliveryPolicyError> {
    if policy.timeout_ms == 0 {
        return Err(DeliveryPolicyError::ZeroTimeout);
    }
    if policy.retry_base_ms == 0 {
        return Err(DeliveryPolicyError::ZeroRetryBase);
    }
    if policy.concurrency == 0 {
        return Err(DeliveryPolicyError::ZeroConcurrency);
    }
    Ok(())
}

/// A request body larger than [`crate::http::MAX_BODY`] but at most this is read and
/// dropped before the 413 goes out: closing on unread bytes resets the connection, and the
/// client would never see the answer. Anything larger is cut off at once.
pub const MAX_DRAIN: usize = 1024 * 1024;

/// A request's path as logged: session ids are credentials, so the one path that carries one
/// (`/admin/realms/{R}/sessions/{id}`) is logged without it; long paths are cut.
pub fn loggable_path(path: &str) -> String {
    const MAX: usize = 200;
    let path = match path.split_once("/sessions/") {
        Some((head, tail)) if path.starts_with("/admin/") && !tail.is_empty() => {
            format!("{head}/sessions/[redacted]")
        }
        _ => path.to_owned(),
    };
    if path.len() > MAX {
        let cut = (0..=MAX)
            .rev()
            .find(|&i| path.is_char_boundary(i))
            .unwrap_or(0);
        format!("{}...", &path[..cut])
    } else {
        path
    }
}

/// Check a back-channel POST before anything is sent ([`crate::net::check_target`]): the URL
/// to send to, or the outcome to report, [`PostOutcome::Refused`] in the audit trail's words.
/// Every host calls this first; a host that resolves names also checks each address
/// ([`crate::net::check_resolved`]).
pub fn check_post(post: &Post<'_>) -> Result<url::Url, PostOutcome> {
    crate::net::check_target(post.uri, post.allow_private)
        .map_err(|why| PostOutcome::Refused(why.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values `.dev.vars.example` holds for `name`.
    fn example_value(name: &str) -> &'static str {
        include_str!("../../.dev.vars.example")
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .unwrap()
    }

    #[test]
    fn admin_tokens_are_long_printable_and_not_the_example_placeholder() {
        assert_eq!(check_admin_token("0123456789abcdef"), Ok(()));
        assert_eq!(
            check_admin_token("0123456789abcde"),
            Err(AdminTokenError::TooShort)
        );
        assert_eq!(check_admin_token(""), Err(AdminTokenError::TooShort));
        assert_eq!(
            check_admin_token("with spaces in it, long enough"),
            Err(AdminTokenError::NotPrintable)
        );
        assert_eq!(
            check_admin_token("0123456789abcdef\u{e9}"),
            Err(AdminTokenError::NotPrintable)
        );
        for placeholder in [
            example_value("ADMIN_TOKEN"),
            "replace-with-16-or-more-printable-characters",
            "REPLACE-WITH-a-real-token-please",
            "replace-with",
        ] {
            assert_eq!(
                check_admin_token(placeholder),
                Err(AdminTokenError::Placeholder),
                "{placeholder}"
            );
        }
        assert_eq!(check_admin_token("please-replace-with-0123"), Ok(()));
    }

    #[test]
    fn master_keys_are_32_bytes_of_base64url_and_not_the_example_placeholder() {
        let key = b64::encode([7u8; 32]);
        assert_eq!(parse_master_key(&key), Ok([7u8; 32]));
        assert_eq!(parse_master_key(&alloc::format!("{key}\n")), Ok([7u8; 32]));
        assert_eq!(
            parse_master_key(&b64::encode([7u8; 16])),
            Err(MasterKeyError::Length(16))
        );
        assert_eq!(
            parse_master_key("not base64!"),
            Err(MasterKeyError::NotBase64)
        );
        // 43 base64url characters, 32 bytes: a placeholder that would otherwise parse.
        let shaped = "replace-with-base64url-of-32-random-bytes00";
        assert_eq!(b64::decode(shaped).map(|b| b.len()), Ok(32));
        for placeholder in [example_value("MASTER_KEY"), shaped] {
            assert_eq!(
                parse_master_key(placeholder),
                Err(MasterKeyError::Placeholder),
                "{placeholder}"
            );
        }
        // The errors never echo the key.
        let err = parse_master_key("c2VjcmV0").unwrap_err().to_string();
        assert!(!err.contains("c2VjcmV0"), "{err}");
    }

    #[test]
    fn base_urls_are_absolute_http_without_query_or_credentials() {
        assert_eq!(
            normalize_base_url("https://ID.example/").as_deref(),
            Ok("https://id.example")
        );
        assert_eq!(
            normalize_base_url("https://id.example/op/").as_deref(),
            Ok("https://id.example/op")
        );
        assert_eq!(
            normalize_base_url("http://127.0.0.1:8787").as_deref(),
            Ok("http://127.0.0.1:8787")
        );
        for (bad, why) in [
            ("ftp://id.example", BaseUrlError::NotHttp),
            ("https://id.example/?x=1", BaseUrlError::QueryOrFragment),
            ("https://id.example/#f", BaseUrlError::QueryOrFragment),
            ("https://u:p@id.example", BaseUrlError::Credentials),
        ] {
            assert_eq!(normalize_base_url(bad), Err(why), "{bad}");
        }
        assert!(matches!(
            normalize_base_url("id.example"),
            Err(BaseUrlError::Invalid(_))
        ));
    }

    #[test]
    fn delivery_policies_need_a_timeout_a_backoff_and_room() {
        let ok = DeliveryPolicy::default();
        assert_eq!(check_delivery_policy(&ok), Ok(()));
        for (bad, why) in [
            (
                DeliveryPolicy {
                    timeout_ms: 0,
                    ..ok
                },
                DeliveryPolicyError::ZeroTimeout,
            ),
            (
                DeliveryPolicy {
                    retry_base_ms: 0,
                    ..ok
                },
                DeliveryPolicyError::ZeroRetryBase,
            ),
            (
                DeliveryPolicy {
                    concurrency: 0,
                    ..ok
                },
                DeliveryPolicyError::ZeroConcurrency,
            ),
        ] {
            assert_eq!(check_delivery_policy(&bad), Err(why));
        }
        // No retries at all is a policy, not a mistake.
        assert_eq!(
            check_delivery_policy(&DeliveryPolicy { retry_max: 0, ..ok }),
            Ok(())
        );
    }

    #[test]
    fn session_ids_are_not_logged() {
        assert_eq!(
            loggable_path("/admin/realms/demo/sessions/abcdef"),
            "/admin/realms/demo/sessions/[redacted]"
        );
        assert_eq!(
            loggable_path("/admin/realms/demo/sessions"),
            "/admin/realms/demo/sessions"
        );
        assert_eq!(
            loggable_path("/realms/demo/sessions/logout"),
            "/realms/demo/sessions/logout"
        );
        assert!(loggable_path(&"/x".repeat(500)).len() < 210);
    }

    #[test]
    fn posts_to_private_targets_are_refused_in_the_audit_trails_words() {
        let post = |uri, allow_private| Post {
            uri,
            body: "logout_token=x",
            timeout_ms: 1000,
            allow_private,
        };
        assert_eq!(
            check_post(&post("http://127.0.0.1:9/bc", false)),
            Err(PostOutcome::Refused(
                "refused by the SSRF guard: 127.0.0.1 is a loopback or private address".into()
            ))
        );
        assert!(check_post(&post("http://127.0.0.1:9/bc", true)).is_ok());
        assert!(matches!(
            check_post(&post("mailto:rp@example.com", true)),
            Err(PostOutcome::Refused(_))
        ));
    }
}
