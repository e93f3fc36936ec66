//! The worker's own small rules, free of any Workers API so that they are unit-tested natively
//! too (`lib.rs` compiles this file into native test builds): config parsing, Queue delays,
//! the KV TTL floor and the literal-address SSRF check.

/// Workers KV refuses an `expirationTtl` below this.
pub const MIN_TTL_SECS: u64 = 60;
/// Longest delay the Queue accepts for a message or a retry (12 hours).
pub const MAX_DELAY_SECS: u32 = 12 * 3600;
/// Shortest admin token accepted (as the native server).
const MIN_ADMIN_TOKEN_LEN: usize = 16;

/// The TTL to hand KV for a requested one: at least KV's minimum (core's `Store` allows hosts
/// to round up; core checks the deadlines of codes and sessions itself).
pub fn kv_ttl(ttl_secs: u64) -> u64 {
    ttl_secs.max(MIN_TTL_SECS)
}

/// Whole seconds from `now_ms` until `due_ms`, rounded up (the Queue delays in whole seconds,
/// and early is worse than a little late for a backoff), at most [`MAX_DELAY_SECS`]; 0 when
/// already due.
pub fn delay_secs(due_ms: u64, now_ms: u64) -> u32 {
    let ms = due_ms.saturating_sub(now_ms);
    u32::try_from(ms.div_ceil(1000))
        .unwrap_or(MAX_DELAY_SECS)
        .min(MAX_DELAY_SECS)
}

/// The URI must be absolute http(s); its host must not be a loopback or private address unless
/// the realm allows that. Only literals can be checked here (see `deliver`'s module docs).
/// Errors in the native host's words, so the audit trail reads the same.
pub fn check_target(uri: &str, allow_private: bool) -> Result<(), String> {
    // The WHATWG parser, as `fetch` itself parses: `http://0x7f.1/` is 127.0.0.1 to both.
    let url = url::Url::parse(uri).map_err(|e| format!("the URI is not valid ({e})"))?;
    let host = match url.host() {
        Some(_) if !matches!(url.scheme(), "http" | "https") => None,
        Some(url::Host::Ipv4(a)) => Some(a.to_string()),
        Some(url::Host::Ipv6(a)) => Some(a.to_string()),
        Some(url::Host::Domain(d)) => Some(d.to_owned()),
        None => None,
    };
    let host = host.ok_or_else(|| "the URI is not an absolute http(s) URI".to_owned())?;
    if !allow_private && oidc_edge_core::registry::is_private_host(&host) {
        return Err(format!(
            "refused by the SSRF guard: {host} is a loopback or private address"
        ));
    }
    Ok(())
}

/// A master key: base64url (unpadded) of exactly 32 bytes. The error never repeats the input.
pub fn parse_master_key(s: &str) -> Result<[u8; 32], String> {
    let bytes = oidc_edge_core::jose::b64::decode(s.trim())
        .map_err(|_| "not base64url (unpadded, RFC 4648 §5)".to_owned())?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("{} bytes where 32 are needed", bytes.len()))
}

/// An admin token: at least 16 printable ASCII characters, no spaces.
pub fn check_admin_token(token: &str) -> Result<(), String> {
    if token.len() < MIN_ADMIN_TOKEN_LEN {
        return Err(format!(
            "too short (at least {MIN_ADMIN_TOKEN_LEN} characters)"
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces".into());
    }
    Ok(())
}

/// A base URL: absolute http(s), no query, fragment or credentials; returned without a
/// trailing slash.
pub fn normalize_base_url(s: &str) -> Result<String, String> {
    let url = url::Url::parse(s).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be http or https".into());
    }
    if url.host().is_none() {
        return Err("has no host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Whether a var reads as "on".
pub fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_ttls_have_a_floor() {
        assert_eq!(kv_ttl(1), 60);
        assert_eq!(kv_ttl(60), 60);
        assert_eq!(kv_ttl(3600), 3600);
    }

    #[test]
    fn delays_round_up_to_whole_seconds() {
        assert_eq!(delay_secs(1000, 1000), 0);
        assert_eq!(delay_secs(900, 1000), 0);
        assert_eq!(delay_secs(1001, 1000), 1);
        assert_eq!(delay_secs(2500, 1000), 2);
        assert_eq!(delay_secs(u64::MAX, 0), MAX_DELAY_SECS);
    }

    #[test]
    fn literal_private_addresses_are_refused_unless_allowed() {
        for uri in [
            "http://127.0.0.1:8080/bc",
            "http://[::1]/bc",
            "http://10.0.0.5/bc",
            "http://169.254.169.254/latest/meta-data",
            "http://0x7f.1/bc",
            "http://[::ffff:192.168.1.1]/bc",
            "http://localhost/bc",
        ] {
            let err = check_target(uri, false).unwrap_err();
            assert!(err.starts_with("refused by the SSRF guard"), "{uri}: {err}");
            assert_eq!(check_target(uri, true), Ok(()));
        }
        assert_eq!(
            check_target("http://10.0.0.5/bc", false).unwrap_err(),
            "refused by the SSRF guard: 10.0.0.5 is a loopback or private address"
        );
        assert_eq!(check_target("https://rp.example/bc", false), Ok(()));
        assert_eq!(check_target("https://93.184.215.14/bc", false), Ok(()));
        assert_eq!(
            check_target("ftp://rp.example/bc", true).unwrap_err(),
            "the URI is not an absolute http(s) URI"
        );
        assert!(
            check_target("not a uri", true)
                .unwrap_err()
                .starts_with("the URI is not valid")
        );
    }

    #[test]
    fn secrets_and_urls_are_checked() {
        let key = oidc_edge_core::jose::b64::encode([7u8; 32]);
        assert_eq!(parse_master_key(&key), Ok([7u8; 32]));
        assert_eq!(
            parse_master_key(&oidc_edge_core::jose::b64::encode([7u8; 16])).unwrap_err(),
            "16 bytes where 32 are needed"
        );
        assert!(parse_master_key("not base64!").is_err());
        assert!(check_admin_token("short").is_err());
        assert!(check_admin_token("with spaces in it, long enough").is_err());
        assert_eq!(check_admin_token("0123456789abcdef"), Ok(()));
        assert_eq!(
            normalize_base_url("https://id.example/").as_deref(),
            Ok("https://id.example")
        );
        assert_eq!(
            normalize_base_url("http://127.0.0.1:8787").as_deref(),
            Ok("http://127.0.0.1:8787")
        );
        assert!(normalize_base_url("ftp://id.example").is_err());
        assert!(normalize_base_url("https://id.example/?x=1").is_err());
        assert!(normalize_base_url("https://u:p@id.example").is_err());
        assert!(is_true("true") && is_true(" 1") && !is_true("false") && !is_true(""));
    }
}
