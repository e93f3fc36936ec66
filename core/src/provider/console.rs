//! The admin console (`GET /admin/console`): one static page, its script and its style, compiled
//! in (so the native server and the worker serve the same files). The page itself holds no data
//! and needs no token: the operator types the admin token, the script keeps it in the tab's
//! `sessionStorage` and sends it as a bearer token to the admin JSON API — realms, clients,
//! users and their sessions, the delivery ledger, the audit log. A strict CSP (no inline script
//! or style, no third-party assets; the script builds the page with `textContent` only).

use super::request::Result;
use crate::http::{Method, Request, Response};

/// The page's Content Security Policy: its own script, style and API, nothing else.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `/admin/console...`: the page and its two assets.
pub(super) fn route(req: &Request, rest: &[&str]) -> Result<Response> {
    match (rest, req.method) {
        ([], Method::Get) => Ok(Response::html(
            200,
            alloc::string::String::from(include_str!("console/console.html")),
        )
        .with_header("referrer-policy", "no-referrer")
        .with_header("x-content-type-options", "nosniff")
        .with_csp(PAGE_CSP)),
        (["console.js"], Method::Get) => Ok(super::request::static_asset(
            "text/javascript",
            include_str!("console/console.js"),
        )),
        (["console.css"], Method::Get) => Ok(super::request::static_asset(
            "text/css",
            include_str!("console/console.css"),
        )),
        ([] | ["console.js" | "console.css"], _) => Err(super::request::method_not_allowed()),
        _ => Err(super::request::not_found()),
    }
}
