//! The native server answers over real HTTP: unknown paths and oversized bodies get the OAuth
//! error shape, and the server goes away when dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use oidc_edge_core::http::MAX_BODY;
use oidc_edge_tests::start_server;
use serde_json::Value;

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn oauth_error(resp: reqwest::blocking::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("application/json"), "content-type {ct:?}");
    let body: Value = serde_json::from_slice(&resp.bytes().unwrap()).unwrap();
    assert!(body["error"].is_string(), "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    (status, body)
}

#[test]
fn unknown_path_and_oversized_body_get_oauth_errors() {
    let server = start_server(false);
    let http = client();

    let (status, _) = oauth_error(
        http.get(server.url("/no/such/endpoint?x=1"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 404);

    let big = vec![b'a'; 100 * 1024];
    assert!(big.len() > MAX_BODY);
    let resp = http
        .post(server.url("/realms/demo/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .unwrap();
    let (status, body) = oauth_error(resp);
    assert_eq!(status, 413);
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_description"], "request body too large");

    let addr = server.addr;
    drop(server);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the server stops when dropped"
    );
}

#[test]
fn demo_realm_is_served_with_its_issuer() {
    let server = start_server(true);
    let resp = client()
        .get(server.url("/realms/demo/.well-known/openid-configuration"))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let doc: Value = serde_json::from_slice(&resp.bytes().unwrap()).unwrap();
    assert_eq!(doc["issuer"], server.url("/realms/demo"));
}
