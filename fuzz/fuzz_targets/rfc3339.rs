//! RFC 3339 date-times: parsing any text, and formatting reads back for what parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oidc_edge_core::audit::{MAX_RFC3339_MS, parse_rfc3339_ms, rfc3339_ms};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(ms) = parse_rfc3339_ms(s) {
        assert!(s.is_ascii());
        if ms <= MAX_RFC3339_MS {
            assert_eq!(parse_rfc3339_ms(&rfc3339_ms(ms)), Some(ms));
        }
    }
});
