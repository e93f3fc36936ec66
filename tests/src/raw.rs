//! HTTP/1.1 over a bare TCP socket, byte for byte: for requests no ordinary client will send
//! (a `..` path segment, invalid UTF-8 in the request line, a header twice, a body that is not
//! what `Content-Length` says) and for reading what the provider answers to them.
//!
//! Every wait is bounded: [`exchange`] gives up at its deadline and says so, so a provider
//! that hangs fails a test instead of stalling it.

use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A request to write: method, request-target and header values as raw bytes.
#[derive(Clone, Debug, Default)]
pub struct RawRequest {
    /// The method token (`GET`, or anything else).
    pub method: String,
    /// The request-target as sent (path and query, not re-encoded).
    pub target: Vec<u8>,
    /// Headers in order; a name may repeat.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body; `Content-Length` is added for it unless a header sets one (or
    /// `Transfer-Encoding`).
    pub body: Vec<u8>,
}

impl RawRequest {
    /// The bytes on the wire, with `Host: {host}` and `Connection: close` first.
    pub fn to_bytes(&self, host: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.target.len() + self.body.len() + 256);
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.target);
        out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        out.extend_from_slice(host.as_bytes());
        out.extend_from_slice(b"\r\nconnection: close\r\n");
        let mut framed = false;
        for (name, value) in &self.headers {
            framed |= name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if !framed && (!self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT")) {
            out.extend_from_slice(format!("content-length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// The request as one line for a failure message: method, target (cut), body size.
    pub fn summary(&self) -> String {
        let target = String::from_utf8_lossy(&self.target);
        let target = cut(&target, 160);
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {}", cut(&String::from_utf8_lossy(v), 60)))
            .collect();
        let body = cut(&String::from_utf8_lossy(&self.body), 160);
        format!(
            "{} {target} [{}] body {} B: {body}",
            self.method,
            headers.join(" | "),
            self.body.len()
        )
    }
}

/// `s` cut to at most `max` bytes (on a character boundary), with `…` when cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let end = (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}…", &s[..end])
}

/// A response as read off the socket.
#[derive(Clone, Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
    /// From the first byte written to the last byte read.
    pub elapsed: Duration,
}

/// An HTTP/1 message head (without its closing blank line): the start line, and the headers
/// with names in lower case, in order.
pub fn parse_head(head: &str) -> (&str, Vec<(String, String)>) {
    let mut lines = head.split("\r\n");
    let start = lines.next().unwrap_or_default();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (start, headers)
}

/// The first value of header `name` (lower case) in `headers` as [`parse_head`] gives them.
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

impl RawResponse {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The body as text, lossily.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What came back when no complete response did.
#[derive(Debug)]
pub enum Failure {
    /// Nothing complete within the deadline; what had arrived.
    Timeout(Vec<u8>),
    /// The server closed (or reset) the connection before a complete response.
    Closed(Vec<u8>, Option<io::Error>),
    /// Connecting failed.
    Connect(io::Error),
    /// The bytes are not an HTTP/1.x response.
    Malformed(Vec<u8>),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |b: &[u8]| cut(&String::from_utf8_lossy(b), 200);
        match self {
            Self::Timeout(got) => write!(f, "no complete answer in time (got {:?})", shown(got)),
            Self::Closed(got, e) => write!(
                f,
                "connection closed before a complete answer (got {:?}; {e:?})",
                shown(got)
            ),
            Self::Connect(e) => write!(f, "cannot connect: {e}"),
            Self::Malformed(got) => write!(f, "not an HTTP response: {:?}", shown(got)),
        }
    }
}

/// Send `req` to `addr` (as host `host`) and read its response, within `timeout` overall.
pub fn send(
    addr: SocketAddr,
    host: &str,
    req: &RawRequest,
    timeout: Duration,
) -> Result<RawResponse, Failure> {
    exchange(addr, &req.to_bytes(host), req.method == "HEAD", timeout)
}

/// Write `bytes` to `addr` and read one response (to a HEAD request when `head`), within
/// `timeout` overall. A write the server cuts short (it answered early and closed) is not an
/// error: the answer is still read.
pub fn exchange(
    addr: SocketAddr,
    bytes: &[u8],
    head: bool,
    timeout: Duration,
) -> Result<RawResponse, Failure> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(Failure::Connect)?;
    let _ = s.set_nodelay(true);
    let _ = s.set_write_timeout(Some(timeout));
    let _ = s.write_all(bytes);
    read_response(&mut s, head, deadline, started)
}

/// Read one response (to a HEAD request when `head`) from `s` until `deadline` (`started` is
/// when the request began).
pub fn read_response(
    s: &mut TcpStream,
    head: bool,
    deadline: Instant,
    started: Instant,
) -> Result<RawResponse, Failure> {
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(resp) = parse(&got, false, head) {
            let mut resp = resp.map_err(|()| Failure::Malformed(got.clone()))?;
            resp.elapsed = started.elapsed();
            return Ok(resp);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Failure::Timeout(got));
        }
        let _ = s.set_read_timeout(Some(deadline - now));
        match s.read(&mut buf) {
            Ok(0) => {
                // Closed: a response framed by the close is complete now.
                return match parse(&got, true, head) {
                    Some(Ok(mut resp)) => {
                        resp.elapsed = started.elapsed();
                        Ok(resp)
                    }
                    Some(Err(())) => Err(Failure::Malformed(got)),
                    None => Err(Failure::Closed(got, None)),
                };
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return match parse(&got, true, head) {
                    Some(Ok(mut resp)) => {
                        resp.elapsed = started.elapsed();
                        Ok(resp)
                    }
                    _ => Err(Failure::Closed(got, Some(e))),
                };
            }
        }
    }
}

/// Whether the peer has closed `s` (EOF or reset) by `deadline`; bytes it sends meanwhile
/// are read and dropped.
pub fn closed_by(s: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        let _ = s.set_read_timeout(Some(deadline - now));
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

/// Half-close: no more bytes from this side.
pub fn finish_writing(s: &TcpStream) {
    let _ = s.shutdown(Shutdown::Write);
}

/// A complete response in `got`, `Some(Err)` when it cannot be one, `None` when more bytes are
/// needed. `closed`: the connection has ended, so a body without framing ends here; `head`:
/// the answer to a HEAD request, which has no body whatever its headers say.
fn parse(got: &[u8], closed: bool, head: bool) -> Option<Result<RawResponse, ()>> {
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head_text = String::from_utf8_lossy(&got[..head_end]);
    let (status_line, headers) = parse_head(&head_text);
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let Some(status) = parts.next().and_then(|s| s.parse::<u16>().ok()) else {
        return Some(Err(()));
    };
    if !version.starts_with("HTTP/1.") {
        return Some(Err(()));
    }
    let rest = &got[head_end + 4..];
    let find = |name: &str| header(&headers, name);
    // 1xx (100 Continue) precedes the real answer: skip it.
    if (100..200).contains(&status) {
        return parse(rest, closed, head);
    }
    let no_body = head || status == 204 || status == 304;
    let body = if no_body {
        Some(Vec::new())
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        match dechunk(rest) {
            Some(Ok(b)) => Some(b),
            Some(Err(())) => return Some(Err(())),
            None if closed => return Some(Err(())),
            None => None,
        }
    } else if let Some(len) = find("content-length") {
        let Ok(len) = len.parse::<usize>() else {
            return Some(Err(()));
        };
        if rest.len() >= len {
            Some(rest[..len].to_vec())
        } else if closed {
            return Some(Err(()));
        } else {
            None
        }
    } else if closed {
        Some(rest.to_vec())
    } else {
        None
    };
    body.map(|body| {
        Ok(RawResponse {
            status,
            headers,
            body,
            elapsed: Duration::ZERO,
        })
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Result<Vec<u8>, ()>> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return Some(Err(()));
        };
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(Ok(out));
        }
        if rest.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}
