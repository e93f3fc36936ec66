//! OAuth 2.0 and OpenID Connect errors: each code knows the HTTP status it answers with, so no
//! call site pairs a status and a string by hand.
//!
//! [`ErrorCode::code`] is the `error` value of RFC 6749 §5.2 (token endpoint), §4.1.2.1 and
//! OIDC Core §3.1.2.6 (authorization responses), RFC 6750 §3.1 (bearer tokens) and RFC 7591
//! §3.2.2 (registration). A few codes differ only in their status (`invalid_request` answers
//! 400, 405, 408, 409, 413, 429 or 431); they are separate variants for that reason.

use alloc::{format, string::String};
use core::fmt;

use crate::http::Response;

/// An OAuth error code together with the status it is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_request`, 400: a parameter is missing, repeated or malformed.
    InvalidRequest,
    /// `invalid_client`, 401 with `WWW-Authenticate: Basic`: client authentication failed.
    InvalidClient,
    /// `invalid_grant`, 400: the code or its binding is not valid.
    InvalidGrant,
    /// `unsupported_grant_type`, 400.
    UnsupportedGrantType,
    /// `invalid_token`, 401 with a `Bearer` challenge: the bearer token is missing or not valid.
    InvalidToken,
    /// `invalid_client_metadata`, 400 (RFC 7591).
    InvalidClientMetadata,
    /// `invalid_redirect_uri`, 400 (RFC 7591).
    InvalidRedirectUri,
    /// `access_denied`, 401: the sign-in was refused.
    AccessDenied,
    /// `access_denied`, 429: too many failed sign-ins; wait and try again.
    Throttled,
    /// `access_denied`, 423: the account is locked.
    Locked,
    /// `not_found`, 404: no such endpoint or resource.
    NotFound,
    /// `invalid_request`, 405: the endpoint does not take this method.
    MethodNotAllowed,
    /// `invalid_request`, 408: the request's body did not arrive in time.
    RequestTimeout,
    /// `invalid_request`, 409: the resource is in a state that refuses the request.
    Conflict,
    /// `invalid_request`, 413: the body is over the limit.
    PayloadTooLarge,
    /// `invalid_request`, 429: a per-source limit was reached.
    TooManyRequests,
    /// `invalid_request`, 431: the request head is over the limit.
    HeadersTooLarge,
    /// `server_error`, 500: the details stay in the provider.
    ServerError,
    /// `login_required` (authorization response): `prompt=none` without a session.
    LoginRequired,
    /// `consent_required` (authorization response): `prompt=none` without the user's consent.
    ConsentRequired,
    /// `request_not_supported` (authorization response).
    RequestNotSupported,
    /// `unsupported_response_type` (authorization response).
    UnsupportedResponseType,
    /// `invalid_scope` (authorization response).
    InvalidScope,
    /// `unauthorized_client`, 400: this client may not do this (RFC 7009 §2.1: revoke a token
    /// issued to another client).
    UnauthorizedClient,
}

impl ErrorCode {
    /// The `error` value.
    pub const fn code(self) -> &'static str {
        match self {
            Self::InvalidRequest
            | Self::MethodNotAllowed
            | Self::RequestTimeout
            | Self::Conflict
            | Self::PayloadTooLarge
            | Self::TooManyRequests
            | Self::HeadersTooLarge => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidToken => "invalid_token",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::AccessDenied | Self::Throttled | Self::Locked => "access_denied",
            Self::NotFound => "not_found",
            Self::ServerError => "server_error",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::UnauthorizedClient => "unauthorized_client",
        }
    }

    /// The HTTP status it answers with when it is not sent back in a redirect.
    pub const fn status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken | Self::AccessDenied => 401,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::RequestTimeout => 408,
            Self::Conflict => 409,
            Self::PayloadTooLarge => 413,
            Self::Locked => 423,
            Self::Throttled | Self::TooManyRequests => 429,
            Self::HeadersTooLarge => 431,
            Self::ServerError => 500,
            Self::InvalidRequest
            | Self::InvalidGrant
            | Self::UnsupportedGrantType
            | Self::InvalidClientMetadata
            | Self::InvalidRedirectUri
            | Self::LoginRequired
            | Self::ConsentRequired
            | Self::RequestNotSupported
            | Self::UnsupportedResponseType
            | Self::InvalidScope
            | Self::UnauthorizedClient => 400,
        }
    }

    /// This code with a description.
    pub fn with(self, description: impl Into<String>) -> OAuthError {
        OAuthError {
            code: self,
            description: description.into(),
        }
    }
}

/// An OAuth error and what to tell the caller about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The code, which fixes the status.
    pub code: ErrorCode,
    /// `error_description`: for the developer of the caller, never a secret.
    pub description: String,
}

impl OAuthError {
    /// The JSON answer `{"error", "error_description"}` with the code's status, and the
    /// challenge RFC 6749 §5.2 and RFC 6750 §3 ask for on a 401.
    pub fn into_response(self) -> Response {
        let r = Response::oauth_error(self.code.status(), self.code.code(), &self.description);
        match self.code {
            ErrorCode::InvalidClient => {
                r.with_header("www-authenticate", "Basic realm=\"oidc-edge\"")
            }
            ErrorCode::InvalidToken => r.with_header(
                "www-authenticate",
                &format!(
                    "Bearer error=\"{}\", error_description=\"{}\"",
                    self.code.code(),
                    self.description.replace('"', "'")
                ),
            ),
            _ => r,
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.code(), self.description)
    }
}

impl core::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_401_carries_the_challenge_of_its_kind() {
        let basic = ErrorCode::InvalidClient.with("no").into_response();
        assert_eq!(basic.status, 401);
        assert_eq!(
            basic.header("www-authenticate"),
            Some("Basic realm=\"oidc-edge\"")
        );
        let bearer = ErrorCode::InvalidToken
            .with("the \"token\" expired")
            .into_response();
        assert_eq!(bearer.status, 401);
        assert_eq!(
            bearer.header("www-authenticate"),
            Some("Bearer error=\"invalid_token\", error_description=\"the 'token' expired\"")
        );
        let denied = ErrorCode::AccessDenied
            .with("wrong password")
            .into_response();
        assert_eq!(denied.status, 401);
        assert_eq!(denied.header("www-authenticate"), None);
    }

    #[test]
    fn variants_of_one_code_differ_only_in_status() {
        for (c, status) in [
            (ErrorCode::InvalidRequest, 400),
            (ErrorCode::MethodNotAllowed, 405),
            (ErrorCode::RequestTimeout, 408),
            (ErrorCode::Conflict, 409),
            (ErrorCode::PayloadTooLarge, 413),
            (ErrorCode::TooManyRequests, 429),
            (ErrorCode::HeadersTooLarge, 431),
        ] {
            assert_eq!(c.code(), "invalid_request");
            assert_eq!(c.status(), status);
            let r = c.with("x").into_response();
            assert_eq!(r.status, status);
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            assert_eq!(body["error"], "invalid_request");
            assert_eq!(body["error_description"], "x");
        }
    }
}
