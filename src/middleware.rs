//! Request-level middleware that is not CORS: the body limit, trailing slashes and the access log.

use std::time::Instant;

use poem::http::Uri;
use poem::http::uri::PathAndQuery;
use poem::{Endpoint, IntoResponse, Request, Response, Result};

use crate::error::{ApiError, MAX_BODY_BYTES};

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

/// One line per request: method, path (never the query, which could carry secrets), status and
/// latency.
pub async fn access_log<E: Endpoint>(next: E, req: Request) -> Result<Response> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = match next.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(err) => err.into_response(),
    };
    let status = resp.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(%method, path, status, latency_ms, "request");
    } else {
        tracing::info!(%method, path, status, latency_ms, "request");
    }
    Ok(resp)
}
