//! Translation between the Workers `Request`/`Response` and core's sans-I/O types. No route or
//! protocol logic here: every decision is core's [`oidc_edge_core::provider::handle`].

use futures_util::StreamExt as _;
use oidc_edge_core::host_config::MAX_DRAIN;
use oidc_edge_core::http::{MAX_BODY, Method, Request, Response};
use worker::Headers;

/// Core's request for a Workers request. The body is kept only up to one byte past
/// [`MAX_BODY`]: a larger body is never buffered whole, and core answers 413 for it.
pub async fn request(mut req: worker::Request) -> worker::Result<Request> {
    let url = req.url()?;
    let method = Method::parse(req.method().as_ref());
    let headers: Vec<(String, String)> = req
        .headers()
        .entries()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect();
    let body = if matches!(req.method(), worker::Method::Get | worker::Method::Head) {
        Vec::new()
    } else {
        read_capped(&mut req).await?
    };
    Ok(Request {
        method,
        path: url.path().to_owned(),
        query: url.query().unwrap_or("").to_owned(),
        remote: req.headers().get("cf-connecting-ip").ok().flatten(),
        headers,
        body,
    })
}

async fn read_capped(req: &mut worker::Request) -> worker::Result<Vec<u8>> {
    // A request without a body has no stream.
    let Ok(mut stream) = req.stream() else {
        return Ok(Vec::new());
    };
    let mut body = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        seen = seen.saturating_add(chunk.len());
        if body.len() <= MAX_BODY {
            body.extend_from_slice(&chunk);
            body.truncate(MAX_BODY + 1);
        }
        // Past the limit the rest is read and dropped, up to a bound: a client still sending
        // when the answer comes has its connection reset and never sees the 413. Beyond the
        // bound it is, which is fine for a body that large.
        if seen > MAX_DRAIN {
            break;
        }
    }
    Ok(body)
}

/// The Workers response for core's.
pub fn response(resp: Response) -> worker::Result<worker::Response> {
    let headers = Headers::new();
    for (name, value) in &resp.headers {
        // `append`: `set-cookie` may repeat.
        headers.append(name, value)?;
    }
    let out = if resp.body.is_empty() {
        worker::Response::empty()?
    } else {
        worker::Response::from_bytes(resp.body)?
    };
    Ok(out.with_status(resp.status).with_headers(headers))
}
