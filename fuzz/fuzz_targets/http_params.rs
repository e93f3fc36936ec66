//! Forms, query strings and cookies. The first byte picks a cookie name's length; the rest is
//! the input. Parsed pairs encode and parse back to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oidc_edge_core::http::{Method, Params, Request, encode_params};

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let params = Params::parse(rest);
    let encoded = encode_params(params.0.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert_eq!(Params::parse(encoded.as_bytes()).0, params.0);

    let text = String::from_utf8_lossy(rest);
    let req = Request::new(Method::Post, &format!("/realms/r/token?{text}"))
        .with_header("cookie", &text)
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(rest.to_vec());
    let _ = req.query_params();
    let _ = req.form();
    let name: String = text.chars().take(usize::from(n % 24)).collect();
    if let Some(v) = req.cookie(&name) {
        assert!(
            v.bytes()
                .all(|b| b.is_ascii_graphic() && !b"\",;\\".contains(&b))
        );
    }
    let _ = req.cookie("oidc_edge_session");
});
