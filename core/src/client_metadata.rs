//! Client metadata (RFC 7591 §2, OIDC Dynamic Registration, Back-Channel Logout §2.2):
//! parsed, defaulted and validated in one place for the admin API and dynamic registration.

use alloc::{
    format,
    string::{String, ToString},
    vec,
    vec::Vec,
};
use core::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::jose::jwk::{KeyOp, KeyType};
use crate::jose::{ContentEnc, JwkSet, JwsAlg, KeyMgmtAlg};
use crate::net::HttpUri;
use crate::oauth::{ErrorCode, OAuthError};

/// Most redirect URIs (or post-logout redirect URIs) one client may register.
pub const MAX_URIS: usize = 20;
/// Longest URI accepted.
pub const MAX_URI_LEN: usize = 2000;
/// Longest `client_name`.
pub const MAX_NAME_LEN: usize = 200;

/// Why metadata was refused, in RFC 7591 §3.2.2's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataError {
    /// `invalid_redirect_uri`.
    RedirectUri(String),
    /// `invalid_client_metadata`.
    Metadata(String),
}

impl MetadataError {
    /// The OAuth error code.
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }

    fn kind(&self) -> ErrorCode {
        match self {
            Self::RedirectUri(_) => ErrorCode::InvalidRedirectUri,
            Self::Metadata(_) => ErrorCode::InvalidClientMetadata,
        }
    }

    /// The description.
    pub fn description(&self) -> &str {
        match self {
            Self::RedirectUri(d) | Self::Metadata(d) => d,
        }
    }
}

impl From<MetadataError> for OAuthError {
    fn from(e: MetadataError) -> Self {
        let code = e.kind();
        match e {
            MetadataError::RedirectUri(d) | MetadataError::Metadata(d) => code.with(d),
        }
    }
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.description())
    }
}

/// How a client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with client_id and client_secret.
    ClientSecretBasic,
    /// client_id and client_secret in the form body.
    ClientSecretPost,
    /// A public client: no secret; PKCE required.
    None,
}

/// Validated client metadata, with defaults applied.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// Exact-match redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact-match post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// `authorization_code` (the only grant type the provider issues).
    pub grant_types: Vec<String>,
    /// `code`.
    pub response_types: Vec<String>,
    /// Token endpoint authentication.
    pub token_endpoint_auth_method: AuthMethod,
    /// ID-token signing algorithm.
    pub id_token_signed_response_alg: String,
    /// ID-token encryption key management algorithm, if the client wants encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_alg: Option<String>,
    /// ID-token content encryption algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_enc: Option<String>,
    /// The client's public keys (inline JWKS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Where logout tokens are POSTed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Whether logout tokens must carry `sid`.
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
}

#[derive(Deserialize)]
struct Raw {
    redirect_uris: Option<Value>,
    post_logout_redirect_uris: Option<Value>,
    grant_types: Option<Value>,
    response_types: Option<Value>,
    token_endpoint_auth_method: Option<Value>,
    id_token_signed_response_alg: Option<Value>,
    id_token_encrypted_response_alg: Option<Value>,
    id_token_encrypted_response_enc: Option<Value>,
    jwks: Option<Value>,
    jwks_uri: Option<Value>,
    backchannel_logout_uri: Option<Value>,
    backchannel_logout_session_required: Option<Value>,
    client_name: Option<Value>,
}

fn meta(msg: impl Into<String>) -> MetadataError {
    MetadataError::Metadata(msg.into())
}

fn opt_str(v: Option<Value>, name: &str) -> Result<Option<String>, MetadataError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(meta(format!("{name} must be a string"))),
    }
}

fn str_list(
    v: Option<Value>,
    name: &str,
    max: usize,
) -> Result<Option<Vec<String>>, MetadataError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => {
            if a.len() > max {
                return Err(meta(format!("{name} has more than {max} entries")));
            }
            a.into_iter()
                .map(|x| match x {
                    Value::String(s) => Ok(s),
                    _ => Err(meta(format!("{name} must be an array of strings"))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        }
        Some(_) => Err(meta(format!("{name} must be an array of strings"))),
    }
}

/// Parse a URI a client registers: absolute http(s), at most [`MAX_URI_LEN`] long, written
/// without spaces or control characters (the URL parser would drop some silently, and URIs are
/// matched as registered), without a fragment (RFC 6749 §3.1.2) or user information.
fn parse_uri(uri: &str) -> Result<HttpUri, String> {
    if uri.len() > MAX_URI_LEN {
        return Err(format!("URI longer than {MAX_URI_LEN} characters"));
    }
    if uri.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return Err(String::from("URI contains spaces or control characters"));
    }
    let parsed = HttpUri::parse(uri).map_err(|e| e.to_string())?;
    if parsed.url().fragment().is_some() {
        return Err(String::from("URI must not contain a fragment"));
    }
    if !parsed.url().username().is_empty() || parsed.url().password().is_some() {
        return Err(String::from("URI must not contain user information"));
    }
    Ok(parsed)
}

/// A redirect or post-logout redirect URI: https, or plain http to a loopback IP literal
/// (RFC 8252 §7.3; not `localhost`, §8.3).
fn check_redirect_uri(uri: &str, what: &str) -> Result<(), MetadataError> {
    let parsed =
        parse_uri(uri).map_err(|e| MetadataError::RedirectUri(format!("{what} {uri:?}: {e}")))?;
    if !parsed.is_https() && !parsed.is_loopback_literal() {
        return Err(MetadataError::RedirectUri(format!(
            "{what} {uri:?}: plain http is only allowed to a loopback IP address (127.0.0.1 or [::1]); use https"
        )));
    }
    Ok(())
}

/// A `backchannel_logout_uri`: https, or plain http for confidential clients (Back-Channel
/// Logout §2.2); a public host unless the realm allows private URIs (the SSRF guard; hosts
/// check again when they deliver, natively every address the name resolves to).
fn check_backchannel_uri(
    uri: &str,
    auth: AuthMethod,
    allow_private: bool,
) -> Result<(), MetadataError> {
    let parsed =
        parse_uri(uri).map_err(|e| meta(format!("backchannel_logout_uri {uri:?}: {e}")))?;
    if !parsed.is_https() && auth == AuthMethod::None {
        return Err(meta(format!(
            "backchannel_logout_uri {uri:?}: plain http is only allowed for confidential clients; use https"
        )));
    }
    if !allow_private && !parsed.is_public() {
        return Err(meta(format!(
            "backchannel_logout_uri {uri:?} points at a loopback or private address, which this realm does not allow (allow_private_uris)"
        )));
    }
    Ok(())
}

impl ClientMetadata {
    /// Parse and validate client metadata from JSON. `default_alg` is the realm's ID-token
    /// signing algorithm. Unknown members are ignored (RFC 7591 §2).
    ///
    /// `allow_private` is the realm's `allow_private_uris`: without it, a
    /// `backchannel_logout_uri` whose host is not public ([`HttpUri::is_public`]) is refused
    /// (SSRF guard; hosts check resolved addresses again when they deliver).
    pub fn from_json(
        body: &Value,
        default_alg: &str,
        allow_private: bool,
    ) -> Result<Self, MetadataError> {
        let raw =
            Raw::deserialize(body).map_err(|_| meta("client metadata must be a JSON object"))?;
        let redirect_uris = str_list(raw.redirect_uris, "redirect_uris", MAX_URIS)?
            .filter(|v| !v.is_empty())
            .ok_or_else(|| MetadataError::RedirectUri(String::from("redirect_uris is required")))?;
        for u in &redirect_uris {
            check_redirect_uri(u, "redirect_uri")?;
        }
        let post_logout_redirect_uris = str_list(
            raw.post_logout_redirect_uris,
            "post_logout_redirect_uris",
            MAX_URIS,
        )?
        .unwrap_or_default();
        for u in &post_logout_redirect_uris {
            check_redirect_uri(u, "post_logout_redirect_uri")?;
        }
        let response_types = str_list(raw.response_types, "response_types", 4)?
            .unwrap_or_else(|| vec![String::from("code")]);
        if response_types.iter().any(|r| r != "code") || response_types.is_empty() {
            return Err(meta("only the response type \"code\" is supported"));
        }
        let grant_types = str_list(raw.grant_types, "grant_types", 4)?
            .unwrap_or_else(|| vec![String::from("authorization_code")]);
        if let Some(g) = grant_types
            .iter()
            .find(|g| *g != "authorization_code" && *g != "refresh_token")
        {
            return Err(meta(format!("unsupported grant type {g:?}")));
        }
        if !grant_types.iter().any(|g| g == "authorization_code") {
            return Err(meta(
                "response type \"code\" needs the authorization_code grant type",
            ));
        }
        let token_endpoint_auth_method =
            match opt_str(raw.token_endpoint_auth_method, "token_endpoint_auth_method")?.as_deref()
            {
                None | Some("client_secret_basic") => AuthMethod::ClientSecretBasic,
                Some("client_secret_post") => AuthMethod::ClientSecretPost,
                Some("none") => AuthMethod::None,
                Some(other) => {
                    return Err(meta(format!(
                        "unsupported token_endpoint_auth_method {other:?}"
                    )));
                }
            };
        let alg = opt_str(
            raw.id_token_signed_response_alg,
            "id_token_signed_response_alg",
        )?
        .unwrap_or_else(|| String::from(default_alg));
        if alg.parse::<JwsAlg>().is_err() {
            return Err(meta(format!(
                "id_token_signed_response_alg {alg:?} is not supported (ES256, RS256, PS256)"
            )));
        }
        if raw.jwks_uri.is_some_and(|v| !v.is_null()) {
            return Err(meta(
                "jwks_uri is not supported: register the keys inline with jwks",
            ));
        }
        let jwks = match raw.jwks {
            None | Some(Value::Null) => None,
            Some(v) => {
                JwkSet::from_value(&v).map_err(|e| meta(format!("jwks: {e}")))?;
                Some(v)
            }
        };
        let enc_alg = opt_str(
            raw.id_token_encrypted_response_alg,
            "id_token_encrypted_response_alg",
        )?;
        let enc_enc = opt_str(
            raw.id_token_encrypted_response_enc,
            "id_token_encrypted_response_enc",
        )?;
        let (enc_alg, enc_enc) = match (enc_alg, enc_enc) {
            (None, None) => (None, None),
            (None, Some(_)) => {
                return Err(meta(
                    "id_token_encrypted_response_enc needs id_token_encrypted_response_alg",
                ));
            }
            (Some(a), e) => {
                let kalg: KeyMgmtAlg = a.parse().map_err(|_| {
                    meta(format!(
                        "id_token_encrypted_response_alg {a:?} is not supported"
                    ))
                })?;
                // OIDC Registration §2: enc defaults to A128CBC-HS256 when alg is given.
                let e = e.unwrap_or_else(|| String::from(ContentEnc::A128CbcHs256.as_str()));
                e.parse::<ContentEnc>().map_err(|_| {
                    meta(format!(
                        "id_token_encrypted_response_enc {e:?} is not supported"
                    ))
                })?;
                let set = jwks
                    .as_ref()
                    .map(JwkSet::from_value)
                    .transpose()
                    .map_err(|e| meta(format!("jwks: {e}")))?;
                let usable = set.is_some_and(|s| {
                    s.keys.iter().any(|k| {
                        k.key_type() == kalg.key_type() && k.allows(KeyOp::Encrypt, kalg.as_str())
                    })
                });
                if !usable {
                    let kind = match kalg.key_type() {
                        KeyType::EcP256 => "EC P-256",
                        KeyType::Rsa => "RSA",
                    };
                    return Err(meta(format!(
                        "ID-token encryption with {a} needs an {kind} encryption key in jwks"
                    )));
                }
                (Some(a), Some(e))
            }
        };
        let backchannel_logout_uri = opt_str(raw.backchannel_logout_uri, "backchannel_logout_uri")?;
        if let Some(u) = &backchannel_logout_uri {
            check_backchannel_uri(u, token_endpoint_auth_method, allow_private)?;
        }
        let backchannel_logout_session_required = match raw.backchannel_logout_session_required {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(_) => {
                return Err(meta(
                    "backchannel_logout_session_required must be a boolean",
                ));
            }
        };
        let client_name = opt_str(raw.client_name, "client_name")?;
        if client_name.as_ref().is_some_and(|n| n.len() > MAX_NAME_LEN) {
            return Err(meta(format!(
                "client_name is longer than {MAX_NAME_LEN} characters"
            )));
        }
        Ok(Self {
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            response_types,
            token_endpoint_auth_method,
            id_token_signed_response_alg: alg,
            id_token_encrypted_response_alg: enc_alg,
            id_token_encrypted_response_enc: enc_enc,
            jwks,
            backchannel_logout_uri,
            backchannel_logout_session_required,
            client_name,
        })
    }

    /// The signing algorithm (validated at registration).
    pub fn signing_alg(&self) -> JwsAlg {
        self.id_token_signed_response_alg
            .parse()
            .unwrap_or(JwsAlg::RS256)
    }

    /// The client's encryption key and algorithms, when it registered ID-token encryption.
    pub fn encryption(&self) -> Option<(crate::jose::Jwk, KeyMgmtAlg, ContentEnc)> {
        let alg: KeyMgmtAlg = self
            .id_token_encrypted_response_alg
            .as_deref()?
            .parse()
            .ok()?;
        let enc: ContentEnc = self
            .id_token_encrypted_response_enc
            .as_deref()?
            .parse()
            .ok()?;
        let set = JwkSet::from_value(self.jwks.as_ref()?).ok()?;
        let key = set
            .keys
            .into_iter()
            .find(|k| k.key_type() == alg.key_type() && k.allows(KeyOp::Encrypt, alg.as_str()))?;
        Some((key, alg, enc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> Result<ClientMetadata, MetadataError> {
        ClientMetadata::from_json(&v, "RS256", false)
    }

    #[test]
    fn defaults_and_limits() {
        let m = check(json!({"redirect_uris": ["https://rp.example/cb"]})).unwrap();
        assert_eq!(m.grant_types, ["authorization_code"]);
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(m.id_token_signed_response_alg, "RS256");
        assert!(!m.backchannel_logout_session_required);
        assert_eq!(check(json!({})).unwrap_err().code(), "invalid_redirect_uri");
        assert_eq!(
            check(json!({"redirect_uris": ["https://rp.example/cb#x"]}))
                .unwrap_err()
                .code(),
            "invalid_redirect_uri"
        );
        assert_eq!(
            check(json!({"redirect_uris": ["http://rp.example/cb"]}))
                .unwrap_err()
                .code(),
            "invalid_redirect_uri"
        );
        assert!(check(json!({"redirect_uris": ["http://127.0.0.1:8080/cb"]})).is_ok());
        assert_eq!(
            check(json!({"redirect_uris": ["https://a/cb"], "response_types": ["token"]}))
                .unwrap_err()
                .code(),
            "invalid_client_metadata"
        );
        assert_eq!(
            check(
                json!({"redirect_uris": ["https://a/cb"], "id_token_signed_response_alg": "none"})
            )
            .unwrap_err()
            .code(),
            "invalid_client_metadata"
        );
        assert_eq!(
            check(
                json!({"redirect_uris": ["https://a/cb"], "backchannel_logout_uri": "rp/logout"})
            )
            .unwrap_err()
            .code(),
            "invalid_client_metadata"
        );
        assert_eq!(check(json!({"redirect_uris": ["https://a/cb"], "backchannel_logout_uri": "https://rp:8443/bc?x=1#f"})).unwrap_err().code(), "invalid_client_metadata");
        let m = check(json!({"redirect_uris": ["https://a/cb"], "backchannel_logout_uri": "https://rp:8443/bc?x=1", "backchannel_logout_session_required": true})).unwrap();
        assert!(m.backchannel_logout_session_required);
        for private in [
            "http://127.0.0.1:9/bc",
            "http://localhost/bc",
            "https://10.1.2.3/bc",
            "https://[::1]/bc",
            "http://192.168.0.1/bc",
            "http://169.254.169.254/latest",
            "http://[::ffff:10.0.0.1]/bc",
        ] {
            let err = check(
                json!({"redirect_uris": ["https://a/cb"], "backchannel_logout_uri": private}),
            )
            .unwrap_err();
            assert!(
                err.description().contains("allow_private_uris"),
                "{private}: {err}"
            );
            assert!(
                ClientMetadata::from_json(
                    &json!({"redirect_uris": ["https://a/cb"], "backchannel_logout_uri": private}),
                    "RS256",
                    true
                )
                .is_ok()
            );
        }
        assert!(check(json!({"redirect_uris": ["https://a/cb"], "backchannel_logout_uri": "https://8.8.8.8/bc"})).is_ok());
        let many: Vec<String> = (0..21).map(|i| format!("https://a/{i}")).collect();
        assert!(check(json!({"redirect_uris": many})).is_err());
    }

    fn with(allow_private: bool, v: Value) -> Result<ClientMetadata, MetadataError> {
        ClientMetadata::from_json(&v, "RS256", allow_private)
    }

    /// RFC 8252 §7.3 and §8.3: plain http only to a loopback IP literal, never to a name.
    #[test]
    fn plain_http_redirect_uris_only_for_loopback_ip_literals() {
        for (uri, ok) in [
            ("http://127.0.0.1:8080/cb", true),
            ("http://127.0.0.2/cb", true),
            ("http://[::1]:8080/cb", true),
            ("https://localhost/cb", true),
            ("http://localhost/cb", false),
            ("http://localhost:8080/cb", false),
            ("http://app.localhost/cb", false),
            ("http://127.evil.example/cb", false),
            ("http://127.0.0.1.evil.example/cb", false),
            ("http://[::ffff:127.0.0.1]/cb", false),
            ("http://10.0.0.1/cb", false),
        ] {
            for field in ["redirect_uris", "post_logout_redirect_uris"] {
                let mut v = json!({"redirect_uris": ["https://rp.example/cb"]});
                v[field] = json!([uri]);
                let got = with(true, v);
                assert_eq!(got.is_ok(), ok, "{field} {uri}: {got:?}");
                if let Err(e) = got {
                    assert_eq!(e.code(), "invalid_redirect_uri", "{field} {uri}");
                }
            }
        }
    }

    /// Back-Channel Logout §2.2: plain http only for confidential clients.
    #[test]
    fn plain_http_backchannel_logout_uris_only_for_confidential_clients() {
        for (auth, uri, ok) in [
            ("none", "http://127.0.0.1:9000/bc", false),
            ("none", "http://rp.example/bc", false),
            ("none", "https://rp.example/bc", true),
            ("none", "https://127.0.0.1:9000/bc", true),
            ("client_secret_basic", "http://127.0.0.1:9000/bc", true),
            ("client_secret_post", "http://rp.example/bc", true),
        ] {
            let got = with(
                true,
                json!({"redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": auth, "backchannel_logout_uri": uri}),
            );
            assert_eq!(got.is_ok(), ok, "{auth} {uri}: {got:?}");
            if let Err(e) = got {
                assert_eq!(e.code(), "invalid_client_metadata");
                assert!(e.description().contains("confidential"), "{e}");
            }
        }
    }

    /// Whatever the spelling, an address is judged as the address it is, by the allow-list.
    #[test]
    fn backchannel_logout_uris_must_be_public_unless_the_realm_allows_private_ones() {
        for uri in [
            "http://2130706433/bc",
            "http://0x7f.1/bc",
            "http://0177.0.0.1/bc",
            "http://127.1/bc",
            "http://[::ffff:127.0.0.1]/bc",
            "http://[::10.0.0.1]/bc",
            "http://[64:ff9b::a00:1]/bc",
            "http://[64:ff9b:1::a00:1]/bc",
            "http://[2002:7f00:1::]/bc",
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/bc",
            "https://0.0.0.0/bc",
            "https://100.64.0.1/bc",
            "https://192.0.0.1/bc",
            "https://192.0.2.1/bc",
            "https://198.18.0.1/bc",
            "https://198.51.100.1/bc",
            "https://203.0.113.1/bc",
            "https://224.0.0.1/bc",
            "https://240.0.0.1/bc",
            "https://[::]/bc",
            "https://[100::1]/bc",
            "https://[fd00::1]/bc",
            "https://[fe80::1]/bc",
            "https://[fec0::1]/bc",
            "https://[ff02::1]/bc",
            "https://[2001:db8::1]/bc",
            "https://rp.localhost/bc",
            "https://LOCALHOST./bc",
        ] {
            let v = json!({"redirect_uris": ["https://a/cb"], "backchannel_logout_uri": uri});
            let err = with(false, v.clone()).unwrap_err();
            assert!(
                err.description().contains("allow_private_uris"),
                "{uri}: {err}"
            );
            assert!(with(true, v).is_ok(), "{uri}");
        }
        for uri in [
            "https://rp.example/bc",
            "https://8.8.8.8/bc",
            "https://[2606:4700:4700::1111]/bc",
            "https://[2002:808:808::1]/bc",
            "https://[64:ff9b::808:808]/bc",
            "http://rp.example/bc",
        ] {
            let v = json!({"redirect_uris": ["https://a/cb"], "backchannel_logout_uri": uri});
            assert!(with(false, v).is_ok(), "{uri}");
        }
    }

    #[test]
    fn encryption_needs_a_fitting_key() {
        let err = check(json!({"redirect_uris": ["https://a/cb"], "id_token_encrypted_response_alg": "RSA-OAEP-256"})).unwrap_err();
        assert!(err.description().contains("RSA encryption key"), "{err}");
        let jwks = json!({"keys": [{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","use":"enc"}]});
        let m = check(json!({"redirect_uris": ["https://a/cb"], "id_token_encrypted_response_alg": "ECDH-ES", "jwks": jwks})).unwrap();
        assert_eq!(
            m.id_token_encrypted_response_enc.as_deref(),
            Some("A128CBC-HS256")
        );
        assert!(m.encryption().is_some());
    }
}
