//! Request-level limits: body size, header size and the request timeout.

use std::time::Duration;

use poem::{Endpoint, IntoResponse, Request, Response, Result};

use crate::error::ApiError;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Largest accepted sum of header names and values.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Refuses bodies over [`MAX_BODY_BYTES`] with 413, whether or not they declare a
/// `Content-Length` (chunked bodies are read up to the limit). poem has no default limit, and its
/// `SizeLimit` answers 411 to every request without `Content-Length`.
pub async fn limit_body<E: Endpoint>(next: E, mut req: Request) -> Result<Response> {
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge.into());
    }
    let body = req
        .take_body()
        .into_bytes_limit(MAX_BODY_BYTES)
        .await
        .map_err(|err| ApiError::from_framework(err.into()))?;
    req.set_body(body);
    next.call(req).await.map(IntoResponse::into_response)
}

/// Refuses requests whose headers add up to more than [`MAX_HEADER_BYTES`] with 431.
pub async fn limit_headers<E: Endpoint>(next: E, req: Request) -> Result<Response> {
    let total: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if total > MAX_HEADER_BYTES {
        return Err(ApiError::HeadersTooLarge.into());
    }
    next.call(req).await.map(IntoResponse::into_response)
}

/// Answers 503 `request_timeout` when the request is still running after `limit`, so a hung
/// database or a slow client never holds a caller for ever. The abandoned work is dropped: a
/// statement in flight may still complete (each change is a single statement, never half-done).
pub async fn time_limit<E: Endpoint>(next: E, req: Request, limit: Duration) -> Result<Response> {
    // Boxed: the future of everything inside (limits, error rendering, the API) is large, and
    // every layer outside would otherwise move it again when it wraps it (measured: copying
    // futures was a tenth of the server's CPU on small requests; specs/performance.md).
    match tokio::time::timeout(limit, Box::pin(next.call(req))).await {
        Ok(result) => result.map(IntoResponse::into_response),
        Err(_) => {
            tracing::warn!(limit_ms = limit.as_millis() as u64, "request timed out");
            Err(ApiError::RequestTimeout.into())
        }
    }
}
