//! Request-level middleware: body and header limits, the request timeout, trailing slashes.

use std::time::Duration;

use poem::http::Uri;
use poem::http::uri::PathAndQuery;
use poem::{Endpoint, IntoResponse, Request, Response, Result};

use crate::error::{ApiError, MAX_BODY_BYTES, MAX_HEADER_BYTES};

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

/// `/api/tasks/` is served as `/api/tasks` (rewritten, not redirected: a redirect would drop the
/// `Authorization` header in some clients and costs a round trip).
pub async fn trim_trailing_slash<E: Endpoint>(next: E, mut req: Request) -> Result<Response> {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let path_and_query = match req.uri().query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_owned(),
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(path_and_query) = PathAndQuery::try_from(path_and_query) {
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
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
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(result) => result.map(IntoResponse::into_response),
        Err(_) => {
            tracing::warn!(limit_ms = limit.as_millis() as u64, "request timed out");
            Err(ApiError::RequestTimeout.into())
        }
    }
}
