//! The two secrets every host is configured with, and the rules they must meet, the same for
//! the native server, the worker and the npm package: the admin API's bearer token and the
//! master key that seals the signing keys ([`crate::host::HostConfig`]).

use core::fmt;

use crate::jose::b64;

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

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

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
}
