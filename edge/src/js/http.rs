//! Translation between the web-standard Fetch `Request`/`Response` and core's sans-I/O types.
//! No route or protocol logic here: every decision is core's
//! [`oidc_edge_core::provider::handle`].

use js_sys::{Array, Reflect, Uint8Array};
use oidc_edge_core::http::{MAX_BODY, Method, Request, Response};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::interop::describe;

/// Core's request for a Fetch request. The body is read only up to one byte past
/// [`MAX_BODY`]: a larger body is never buffered whole, and core answers 413 for it.
pub async fn request(req: &web_sys::Request) -> Result<Request, String> {
    let url = url::Url::parse(&req.url()).map_err(|e| format!("the request URL: {e}"))?;
    let method = Method::parse(&req.method());
    let mut headers = Vec::new();
    let entries = js_sys::try_iter(&req.headers())
        .map_err(|e| describe(&e))?
        .ok_or("the request's headers are not iterable")?;
    for entry in entries {
        let pair: Array = entry.map_err(|e| describe(&e))?.unchecked_into();
        let (name, value) = (pair.get(0).as_string(), pair.get(1).as_string());
        if let (Some(name), Some(value)) = (name, value) {
            headers.push((name.to_ascii_lowercase(), value));
        }
    }
    let body = match req.body() {
        Some(stream) if !matches!(req.method().as_str(), "GET" | "HEAD") => {
            read_capped(&stream).await?
        }
        _ => Vec::new(),
    };
    Ok(Request {
        method,
        path: url.path().to_owned(),
        query: url.query().unwrap_or("").to_owned(),
        headers,
        body,
        remote: None,
    })
}

async fn read_capped(stream: &web_sys::ReadableStream) -> Result<Vec<u8>, String> {
    let reader = web_sys::ReadableStreamDefaultReader::new(stream).map_err(|e| describe(&e))?;
    let mut body = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| describe(&e))?;
        let done = Reflect::get(&chunk, &"done".into()).map_err(|e| describe(&e))?;
        if done.is_truthy() {
            break;
        }
        let value = Reflect::get(&chunk, &"value".into()).map_err(|e| describe(&e))?;
        let bytes = value
            .dyn_into::<Uint8Array>()
            .map_err(|_| "the request body is not a byte stream")?;
        // Never copy more than the cap plus one byte into wasm memory.
        let room = (MAX_BODY + 1).saturating_sub(body.len());
        let take = bytes.length().min(u32::try_from(room).unwrap_or(u32::MAX));
        body.extend_from_slice(&bytes.subarray(0, take).to_vec());
        if body.len() > MAX_BODY {
            // The rest is not wanted; a failed cancel changes nothing for the answer.
            drop(JsFuture::from(reader.cancel()));
            break;
        }
    }
    Ok(body)
}

/// The Fetch response for core's.
pub fn response(resp: Response) -> Result<web_sys::Response, JsValue> {
    let headers = web_sys::Headers::new()?;
    for (name, value) in &resp.headers {
        // `append`: `set-cookie` may repeat.
        headers.append(name, value)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(resp.status);
    init.set_headers(&headers);
    // A null body where there is none: `new Response` refuses a body for 204 and 304.
    let body = (!resp.body.is_empty()).then(|| Uint8Array::from(resp.body.as_slice()));
    web_sys::Response::new_with_opt_js_u8_array_and_init(body.as_ref(), &init)
}
