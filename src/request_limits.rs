//! Request-level limits: body size and header size, and the path normalisation that comes with
//! them. The edge layer ([`crate::edge`]) applies them; the request timeout is applied there too.

use poem::Request;
use poem::http::Uri;
use poem::http::uri::PathAndQuery;

use crate::error::ApiError;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Largest accepted sum of header names and values.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Reads the body into memory, refusing more than [`MAX_BODY_BYTES`] with 413 whether or not it
/// declares a `Content-Length` (chunked bodies are read up to the limit). poem has no default
/// limit, and its `SizeLimit` answers 411 to every request without `Content-Length`.
pub async fn read_body_within_limit(req: &mut Request) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    let body = req.take_body();
    if body.is_empty() {
        // No Content-Length and not chunked (most reads): nothing to wait for.
        req.set_body(body);
        return Ok(());
    }
    // Boxed: poem's reader is a 4 KiB future that would otherwise sit, unused, inside the state
    // of every request, and be copied with it.
    let body = Box::pin(body.into_bytes_limit(MAX_BODY_BYTES))
        .await
        .map_err(|err| ApiError::from_framework(err.into()))?;
    req.set_body(body);
    Ok(())
}

/// Refuses requests whose headers add up to more than [`MAX_HEADER_BYTES`] with 431.
pub fn check_header_size(req: &Request) -> Result<(), ApiError> {
    let total: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if total > MAX_HEADER_BYTES {
        return Err(ApiError::HeadersTooLarge);
    }
    Ok(())
}

/// Serves `/api/tasks/` as `/api/tasks` and `//api//tasks` as `/api/tasks`: trailing slashes
/// trimmed and repeated slashes merged, the query kept. Rewritten, not redirected (a redirect
/// would drop the `Authorization` header in some clients and costs a round trip). Most paths are
/// already normal and are left untouched without allocating.
pub fn normalize_path(req: &mut Request) {
    let Some(normal) = normal_path(req.uri().path()) else {
        return;
    };
    let mut parts = req.uri().clone().into_parts();
    let path_and_query = match parts.path_and_query.as_ref().and_then(PathAndQuery::query) {
        Some(query) => format!("{normal}?{query}"),
        None => normal,
    };
    // A path made only of the original's characters is as valid as the original was.
    if let Ok(path_and_query) = PathAndQuery::try_from(path_and_query) {
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
}

/// The normal form of `path`, or `None` when it is normal already.
fn normal_path(path: &str) -> Option<String> {
    let needs_work = path.contains("//") || (path.len() > 1 && path.ends_with('/'));
    if !needs_work {
        return None;
    }
    let mut normal = String::with_capacity(path.len());
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        normal.push('/');
        normal.push_str(segment);
    }
    if normal.is_empty() {
        normal.push('/');
    }
    Some(normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_lose_trailing_and_repeated_slashes_only() {
        assert_eq!(normal_path("/api/tasks"), None);
        assert_eq!(normal_path("/"), None);
        assert_eq!(normal_path("/api/tasks/").as_deref(), Some("/api/tasks"));
        assert_eq!(normal_path("/api//tasks///7/").as_deref(), Some("/api/tasks/7"));
        assert_eq!(normal_path("//").as_deref(), Some("/"));
        assert_eq!(normal_path("/api/tasks%2F").as_deref(), None);
    }

    #[test]
    fn the_query_survives_normalisation() {
        let mut req = Request::builder()
            .uri_str("/api/tasks/?status=pending&sort=title")
            .finish();
        normalize_path(&mut req);
        assert_eq!(req.uri().path(), "/api/tasks");
        assert_eq!(req.uri().query(), Some("status=pending&sort=title"));
    }
}
