//! The HTTP adapter: hyper in, core's [`Request`] to [`provider::handle`], core's [`Response`]
//! out. What it decides itself is what bounds a client's hold on the server: a body larger
//! than [`MAX_BODY`] is refused before it is buffered (413; up to core's [`MAX_DRAIN`] of it
//! is read and dropped so the client sees the answer), a request head larger than
//! [`MAX_HEAD`] too (431), and headers and body must each arrive within the read timeout.

use std::cell::Cell;
use std::convert::Infallible;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Body as _, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method as HyperMethod, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use oidc_edge_core::host_config::{MAX_DRAIN, loggable_path};
use oidc_edge_core::http::{MAX_BODY, Method, Request, Response};
use oidc_edge_core::oauth::ErrorCode;
use oidc_edge_core::provider;
use tokio::net::TcpStream;

use super::config::Limits;
use super::host::{NativeHost, log};

/// Largest request head (request line and headers) read, in bytes; a larger one gets 431. It
/// also bounds what an idle or trickling connection can make the server hold.
pub const MAX_HEAD: usize = 64 * 1024;
/// How long a client refused a body may go on sending it, so that it gets to read the 413
/// (see [`linger`]).
const LINGER: Duration = Duration::from_secs(5);
pub(super) async fn serve_connection(stream: TcpStream, host: Rc<NativeHost>, limits: Limits) {
    let _ = stream.set_nodelay(true);
    let peer: Option<Rc<str>> = stream.peer_addr().ok().map(|a| a.ip().to_string().into());
    // Set when a body is refused with bytes of it still on their way.
    let unread_body = Rc::new(Cell::new(false));
    let service = service_fn({
        let unread_body = Rc::clone(&unread_body);
        move |req| {
            let host = Rc::clone(&host);
            let unread_body = Rc::clone(&unread_body);
            let peer = peer.clone();
            async move {
                let resp = respond(
                    req,
                    &host,
                    peer.as_deref(),
                    limits.read_timeout,
                    &unread_body,
                )
                .await;
                Ok::<_, Infallible>(resp)
            }
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.read_timeout)
        .max_header_size(MAX_HEAD);
    // Errors here are the client's (reset, timeout, malformed request): nothing to report.
    let served = builder
        .serve_connection(TokioIo::new(stream), service)
        .without_shutdown()
        .await;
    if let Ok(parts) = served
        && unread_body.get()
    {
        linger(parts.io.into_inner()).await;
    }
}

/// Close a connection whose client may still be sending a refused body: most clients write
/// the whole body before they read, and closing with unread bytes resets the connection, the
/// answer lost with it. So the answer goes out with a FIN, and what still comes is read and
/// dropped until the client closes, for at most [`LINGER`].
async fn linger(mut stream: TcpStream) {
    use tokio::io::AsyncWrite;
    let shut = std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_shutdown(cx));
    if shut.await.is_err() {
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    let drained = async {
        loop {
            if stream.readable().await.is_err() {
                return;
            }
            match stream.try_read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drained).await;
}

/// One request, start to finish: translate, let core decide, translate back, log one line.
async fn respond(
    req: hyper::Request<Incoming>,
    host: &NativeHost,
    peer: Option<&str>,
    read_timeout: Duration,
    unread_body: &Cell<bool>,
) -> hyper::Response<Full<Bytes>> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = match into_core(req, read_timeout).await {
        Ok(req) if req.path == "/metrics" => metrics(&req, host),
        Ok(mut req) => {
            req.remote = peer.map(str::to_owned);
            host.delivery()
                .holding_wakes(provider::handle(req, host))
                .await
        }
        Err(refusal) => {
            // A 413 may leave the body unread (beyond MAX_DRAIN, or not yet sent).
            if refusal.status == 413 {
                unread_body.set(true);
            }
            refusal
        }
    };
    let took = started.elapsed();
    host.metrics()
        .request(oidc_edge_core::metrics::endpoint(&path), took.as_secs_f64());
    log(format_args!(
        "{method} {} {} {}ms",
        loggable_path(&path),
        resp.status,
        took.as_millis()
    ));
    from_core(resp)
}

/// `GET /metrics` on the main listener: behind the admin token (a listener of its own,
/// `--metrics-addr`, serves it to whoever reaches it).
fn metrics(req: &Request, host: &NativeHost) -> Response {
    use oidc_edge_core::host::Host as _;
    if req.method != Method::Get {
        return ErrorCode::MethodNotAllowed
            .with("GET /metrics only")
            .into_response();
    }
    let expected = &host.config().admin_token;
    match req.bearer() {
        Some(t) if !expected.is_empty() && oidc_edge_core::opaque_token::ct_eq(t, expected) => {
            metrics_text(host)
        }
        _ => ErrorCode::InvalidToken
            .with("GET /metrics needs the admin token as a bearer token")
            .into_response(),
    }
}

/// The metrics, in the Prometheus text format.
pub(super) fn metrics_text(host: &NativeHost) -> Response {
    Response {
        status: 200,
        headers: vec![
            (
                "content-type".into(),
                "text/plain; version=0.0.4; charset=utf-8".into(),
            ),
            ("cache-control".into(), "no-store".into()),
        ],
        body: host.metrics().render().into_bytes(),
    }
}

/// The hyper request as core's [`Request`], or the answer when its body is refused.
async fn into_core(
    req: hyper::Request<Incoming>,
    read_timeout: Duration,
) -> Result<Request, Response> {
    let (parts, body) = req.into_parts();
    let declared = body.size_hint().lower();
    if declared > MAX_BODY as u64 {
        let expects_continue = parts
            .headers
            .get(hyper::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        // A client waiting for 100 Continue has sent nothing yet: refuse at once.
        if !expects_continue && declared <= MAX_DRAIN as u64 {
            let _ = tokio::time::timeout(read_timeout, read_body(body)).await;
        }
        return Err(too_large());
    }
    let body = match tokio::time::timeout(read_timeout, read_body(body)).await {
        Ok(BodyRead::Complete(body)) => body,
        Ok(BodyRead::TooLarge) => return Err(too_large()),
        Ok(BodyRead::Failed) => {
            return Err(close(
                ErrorCode::InvalidRequest
                    .with("the request body could not be read")
                    .into_response(),
            ));
        }
        Err(_) => {
            return Err(close(
                ErrorCode::RequestTimeout
                    .with("the request body was not received in time")
                    .into_response(),
            ));
        }
    };
    let headers = core_headers(&parts.headers);
    Ok(Request {
        method: core_method(&parts.method),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers,
        body,
        remote: None,
    })
}

/// The headers as core sees them: one entry per name, a repeated header's values joined as
/// the Fetch API joins them for the worker (`, `; cookies with `; `, which is what two cookie
/// lines mean). Core reads one value per name, so two `Authorization` headers must not let it
/// pick the first and ignore the second: joined, they are one value no check accepts.
fn core_headers(map: &hyper::HeaderMap) -> Vec<(String, String)> {
    map.keys()
        .map(|name| {
            let separator = if name == hyper::header::COOKIE {
                "; "
            } else {
                ", "
            };
            let values: Vec<String> = map
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            // `http` keeps header names in lower case already.
            (name.as_str().to_owned(), values.join(separator))
        })
        .collect()
}

fn core_method(m: &HyperMethod) -> Method {
    Method::parse(m.as_str())
}

fn too_large() -> Response {
    close(
        ErrorCode::PayloadTooLarge
            .with("request body too large")
            .into_response(),
    )
}

/// Ask hyper to close the connection after this answer (its request body may be unread).
fn close(resp: Response) -> Response {
    resp.with_header("connection", "close")
}

enum BodyRead {
    Complete(Vec<u8>),
    /// Over [`MAX_BODY`]; read on (and dropped) up to [`MAX_DRAIN`].
    TooLarge,
    Failed,
}

async fn read_body(mut body: Incoming) -> BodyRead {
    let mut buf = Vec::new();
    let mut seen: u64 = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return BodyRead::Failed;
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        seen = seen.saturating_add(data.len() as u64);
        if seen <= MAX_BODY as u64 {
            buf.extend_from_slice(&data);
        } else if seen > MAX_DRAIN as u64 {
            return BodyRead::TooLarge;
        }
    }
    if seen > MAX_BODY as u64 {
        BodyRead::TooLarge
    } else {
        BodyRead::Complete(buf)
    }
}

fn from_core(resp: Response) -> hyper::Response<Full<Bytes>> {
    let mut out = hyper::Response::new(Full::new(Bytes::from(resp.body)));
    *out.status_mut() =
        StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in resp.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            // `append`, not `insert`: repeated headers (set-cookie) must all go out.
            (Ok(name), Ok(value)) => {
                out.headers_mut().append(name, value);
            }
            _ => log(format_args!("dropped an invalid response header ({name})")),
        }
    }
    out
}

/// The metrics listener (`--metrics-addr`): `GET /metrics` to whoever reaches it, nothing
/// else.
pub(super) async fn serve_metrics(listener: tokio::net::TcpListener, host: Rc<NativeHost>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let host = Rc::clone(&host);
        let service = service_fn(move |req: hyper::Request<Incoming>| {
            let host = Rc::clone(&host);
            async move {
                let resp = if req.uri().path() != "/metrics" {
                    ErrorCode::NotFound
                        .with("only /metrics is here")
                        .into_response()
                } else if req.method() != HyperMethod::GET {
                    ErrorCode::MethodNotAllowed
                        .with("GET /metrics only")
                        .into_response()
                } else {
                    metrics_text(&host)
                };
                Ok::<_, Infallible>(from_core(resp))
            }
        });
        tokio::task::spawn_local(async move {
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(super::config::DEFAULT_READ_TIMEOUT)
                .max_header_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use hyper::header::HeaderValue;

    use super::*;

    #[test]
    fn repeated_headers_reach_core_as_one_value() {
        let mut map = hyper::HeaderMap::new();
        map.append("authorization", HeaderValue::from_static("Bearer right"));
        map.append("x-one", HeaderValue::from_static("1"));
        map.append("authorization", HeaderValue::from_static("Bearer wrong"));
        map.append("cookie", HeaderValue::from_static("a=1"));
        map.append("cookie", HeaderValue::from_static("b=2"));
        let headers = core_headers(&map);
        assert_eq!(
            headers,
            [
                ("authorization".into(), "Bearer right, Bearer wrong".into()),
                ("x-one".into(), "1".into()),
                ("cookie".into(), "a=1; b=2".into()),
            ]
        );
        let req = Request {
            headers,
            ..Request::new(Method::Get, "/")
        };
        assert_eq!(req.cookie("b"), Some("2"));
    }
}
