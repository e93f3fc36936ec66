//! Client registration metadata (RFC 7591 and Back-Channel Logout members) from JSON. The first
//! byte says whether the realm allows private URIs; the rest is the JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oidc_edge_core::client_metadata::ClientMetadata;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, json)) = data.split_first() else {
        return;
    };
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    let _ = ClientMetadata::from_json(&body, "RS256", flags & 1 == 1);
});
