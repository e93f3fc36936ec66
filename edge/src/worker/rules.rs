//! The worker's own small rules, free of any Workers API so that they are unit-tested natively
//! too (`lib.rs` compiles this file into native test builds): config parsing, Queue delays and
//! the KV TTL floor. The rules every host shares (the SSRF guard, the admin token and the
//! master key) are core's: [`oidc_edge_core::net`], [`oidc_edge_core::host_secrets`].

/// Workers KV refuses an `expirationTtl` below this.
pub const MIN_TTL_SECS: u64 = 60;
/// Longest delay the Queue accepts for a message or a retry (12 hours).
pub const MAX_DELAY_SECS: u32 = 12 * 3600;

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
    fn urls_and_switches_are_read() {
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
