//! JWK and JWKS from JSON; a key that parses writes out JSON that parses to the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oidc_edge_core::jose::{Jwk, JwkSet};

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = Jwk::from_json(json) {
        let written = key.to_value();
        let back = Jwk::from_value(&written).expect("a key we wrote must parse");
        assert_eq!(back.to_value(), written);
        assert_eq!(back.thumbprint().ok(), key.thumbprint().ok());
    }
    if let Ok(set) = JwkSet::from_json(json) {
        let written = set.to_value();
        let back = JwkSet::from_value(&written).expect("a set we wrote must parse");
        assert_eq!(back.to_value(), written);
    }
});
