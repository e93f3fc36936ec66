//! The OpenID Provider: routing and every endpoint, over [`crate::host::Host`].

use crate::host::Host;
use crate::http::{MAX_BODY, Request, Response};

/// Handle one HTTP request. Every decision of the provider is made here; hosts only translate
/// HTTP to and from [`Request`]/[`Response`].
pub async fn handle<H: Host>(req: Request, host: &H) -> Response {
    if req.body.len() > MAX_BODY {
        return Response::oauth_error(413, "invalid_request", "request body too large");
    }
    let _ = host;
    Response::oauth_error(404, "not_found", "no such endpoint")
}

/// Provision the demo realm (`demo`, open registration, user `demo` / `changeit`, private
/// URIs allowed) when it does not exist yet. Returns whether it was created.
pub async fn seed_demo<H: Host>(host: &H) -> Result<bool, crate::Error> {
    let _ = host;
    Ok(false)
}
