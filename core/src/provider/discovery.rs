//! OpenID Provider Metadata (OIDC Discovery 1.0 §3, Back-Channel Logout §2.1):
//! `GET /realms/{R}/.well-known/openid-configuration`.

use alloc::{format, string::String};

use serde_json::{Value, json};

use crate::host::Host;
use crate::http::Response;
use crate::jose::{ContentEnc, JwsAlg, KeyMgmtAlg};
use crate::realm;
use crate::records::Realm;

/// The realm's discovery document.
pub(super) fn discovery<H: Host>(host: &H, realm: &Realm) -> Response {
    let iss = realm::issuer(host, &realm.name);
    let names =
        |v: &[&str]| Value::Array(v.iter().map(|s| Value::String(String::from(*s))).collect());
    let doc = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "revocation_endpoint": format!("{iss}/revoke"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint": format!("{iss}/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "jwks_uri": format!("{iss}/jwks"),
        "registration_endpoint": format!("{iss}/register"),
        "end_session_endpoint": format!("{iss}/end_session"),
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": names(&JwsAlg::ALL.map(JwsAlg::as_str)),
        "id_token_encryption_alg_values_supported": names(&KeyMgmtAlg::ALL.map(KeyMgmtAlg::as_str)),
        "id_token_encryption_enc_values_supported": names(&ContentEnc::ALL.map(ContentEnc::as_str)),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "email", "name", "preferred_username"],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
    });
    Response::public_json(&doc, 300)
}
