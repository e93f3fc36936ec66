//! Back-channel logout at the edge, the doing half (core decides, see
//! [`oidc_edge_core::logout::delivery`]):
//!
//! - [`enqueue`] puts one Queue message per (session, RP) delivery on `LOGOUT_QUEUE`, and
//!   returns only once the Queue has accepted them: the logout call answers after that, so a
//!   crash can repeat a delivery but never lose one.
//! - [`post`] makes one POST with `fetch`, bounded by an `AbortController` timeout.
//!
//! SSRF at the edge: a Worker cannot resolve DNS itself (`fetch` resolves inside the runtime),
//! so it cannot do what the native host does (check every address a name resolves to, then
//! connect to exactly those). It checks what it can see, with core's [`check_post`], the
//! rule core already applied to `backchannel_logout_uri` at registration: when the realm does
//! not allow private URIs, a URI whose host is an IP literal (in any spelling the WHATWG parser
//! accepts, as `fetch` parses) must be globally reachable, and a loopback name is refused;
//! checking again here covers realms whose setting changed since. A public *name* that resolves to a private address is not caught here. What
//! limits that: a deployed Worker's subrequests leave from Cloudflare's network, not from the
//! operator's, so private addresses of the operator's network are not reachable by `fetch`
//! without an explicit binding (a Tunnel or VPC service), which this worker does not have.

use std::time::Duration;

use futures_util::future::{Either, select};
use futures_util::pin_mut;
use oidc_edge_core::host::{Post, PostOutcome, StoreError};
use oidc_edge_core::host_config::check_post;
use oidc_edge_core::logout::delivery::Delivery;
use worker::{
    AbortController, Delay, Fetch, Headers, MessageBuilder, Method, Queue, RequestInit,
    RequestRedirect, ResponseBody, SendMessage,
};

/// At most this many messages per `sendBatch` call (a Queues limit).
const MAX_SEND_BATCH: usize = 100;
/// Longest delay the Queue accepts for a message or a retry (12 hours).
pub const MAX_DELAY_SECS: u32 = 12 * 3600;

/// Whole seconds from `now_ms` until `due_ms`, rounded up (the Queue delays in whole seconds,
/// and early is worse than a little late for a backoff), at most [`MAX_DELAY_SECS`]; 0 when
/// already due.
pub fn delay_secs(due_ms: u64, now_ms: u64) -> u32 {
    let ms = due_ms.saturating_sub(now_ms);
    u32::try_from(ms.div_ceil(1000))
        .unwrap_or(MAX_DELAY_SECS)
        .min(MAX_DELAY_SECS)
}

/// The message for one delivery, delayed until it is due.
pub fn message(d: Delivery, now_ms: u64) -> SendMessage<Delivery> {
    let delay = delay_secs(d.next_attempt_ms, now_ms);
    let builder = MessageBuilder::new(d);
    if delay == 0 {
        builder.build()
    } else {
        builder.delay_seconds(delay).build()
    }
}

/// Put `deliveries` on the queue, one message each, in batches of at most 100.
pub async fn enqueue(
    queue: &Queue,
    deliveries: Vec<Delivery>,
    now_ms: u64,
) -> Result<(), StoreError> {
    let mut messages: Vec<SendMessage<Delivery>> =
        deliveries.into_iter().map(|d| message(d, now_ms)).collect();
    while !messages.is_empty() {
        let rest = messages.split_off(messages.len().min(MAX_SEND_BATCH));
        queue
            .send_batch(std::mem::replace(&mut messages, rest))
            .await
            .map_err(|e| StoreError(format!("Queue send: {e}")))?;
    }
    Ok(())
}

/// POST `post.body` to `post.uri` as a form within `post.timeout_ms` (until the status line;
/// the body of the answer is not read), redirects not followed.
pub async fn post(post: Post<'_>) -> PostOutcome {
    if let Err(refused) = check_post(&post) {
        return refused;
    }
    let request = match build_request(&post) {
        Ok(r) => r,
        Err(e) => return PostOutcome::Failed(format!("the request could not be built ({e})")),
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let send = fetch.send_with_signal(&signal);
    let timer = Delay::from(Duration::from_millis(post.timeout_ms));
    pin_mut!(send);
    pin_mut!(timer);
    match select(send, timer).await {
        Either::Left((Ok(response), _)) => {
            // Only the status matters: cancel the body so the connection is released at once
            // (an invocation keeps at most six open; unread bodies would hold them).
            if let ResponseBody::Stream(body) = response.body() {
                let _ = body.cancel();
            }
            PostOutcome::Status(response.status_code())
        }
        Either::Left((Err(e), _)) => PostOutcome::Failed(describe(&e)),
        Either::Right(((), send)) => {
            controller.abort();
            // Let the aborted fetch settle (at once, with an AbortError) while its future is
            // still alive, rather than leave its promise to reject into a dropped callback.
            let _ = send.await;
            PostOutcome::Timeout
        }
    }
}

fn build_request(post: &Post<'_>) -> worker::Result<worker::Request> {
    let headers = Headers::new();
    headers.set("content-type", "application/x-www-form-urlencoded")?;
    headers.set(
        "user-agent",
        concat!("oidc-edge/", env!("CARGO_PKG_VERSION")),
    )?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(post.body.into()));
    worker::Request::new_with_init(post.uri, &init)
}

/// A failed `fetch` in a few words: the runtime's message without its JS error class
/// (`Error: Network connection lost.` reads `no answer: Network connection lost`). Workers do
/// not say more (no errno, no resolver result), so this is coarser than the native host's.
fn describe(e: &worker::Error) -> String {
    let text = e.to_string();
    let mut text = text.trim();
    for class in ["TypeError: ", "Error: "] {
        text = text.strip_prefix(class).unwrap_or(text);
    }
    let text = text.trim_end_matches('.');
    if text.is_empty() {
        "no answer".into()
    } else {
        format!("no answer: {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_to_whole_seconds() {
        assert_eq!(delay_secs(1000, 1000), 0);
        assert_eq!(delay_secs(900, 1000), 0);
        assert_eq!(delay_secs(1001, 1000), 1);
        assert_eq!(delay_secs(2500, 1000), 2);
        assert_eq!(delay_secs(u64::MAX, 0), MAX_DELAY_SECS);
    }
}
