//! Request-level limits: body size, header size, at most one `Authorization` header, and the path
//! normalisation that comes with them. The edge layer ([`crate::edge`]) applies them; the request timeout is applied there too.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use poem::error::ReadBodyError;
use poem::http::Uri;
use poem::http::uri::PathAndQuery;
use poem::{Body, Request};

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
    let body = collect_within(body, MAX_BODY_BYTES)
        .await
        .map_err(|err| ApiError::from_framework(err.into()))?;
    req.set_body(body);
    Ok(())
}

/// The body's bytes, or `PayloadTooLarge` once they pass `limit`. A body that arrives in one
/// frame (a JSON body mostly does) is kept as it came, without a copy: poem's `into_bytes_limit`
/// copied every body through a zeroed 4 KiB buffer behind an `AsyncRead` adapter.
async fn collect_within(body: Body, limit: usize) -> Result<Bytes, ReadBodyError> {
    let mut body = BoxBody::from(body);
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    let mut length = 0usize;
    while let Some(frame) = body.frame().await {
        // Trailers are not data; a request's are dropped, as poem's readers drop them.
        let Ok(data) = frame.map_err(ReadBodyError::Io)?.into_data() else {
            continue;
        };
        length += data.len();
        if length > limit {
            return Err(ReadBodyError::PayloadTooLarge);
        }
        match &mut joined {
            Some(joined) => joined.extend_from_slice(&data),
            None if first.is_empty() => first = data,
            None => {
                let mut both = BytesMut::with_capacity(length);
                both.extend_from_slice(&first);
                both.extend_from_slice(&data);
                joined = Some(both);
            }
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
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

/// Refuses a request with more than one `Authorization` header with 400. Which one counts would
/// be a choice: a proxy or gateway that checks one and a service that reads another could
/// disagree about who is calling, so neither is read.
pub fn check_one_authorization(req: &Request) -> Result<(), ApiError> {
    let mut authorizations = req.headers().get_all(poem::http::header::AUTHORIZATION).iter();
    if authorizations.next().is_some() && authorizations.next().is_some() {
        return Err(ApiError::BadRequest(
            "it carries more than one Authorization header".to_owned(),
        ));
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

    /// A body arriving in frames of at most 4 KiB (poem reads an `AsyncRead` that way).
    fn framed(bytes: Vec<u8>) -> Body {
        Body::from_async_read(std::io::Cursor::new(bytes))
    }

    #[tokio::test]
    async fn a_body_in_one_frame_is_kept_without_a_copy() {
        let sent = Bytes::from(vec![b'x'; 1000]);
        let read = collect_within(Body::from_bytes(sent.clone()), 1000).await.unwrap();
        assert_eq!(read.as_ptr(), sent.as_ptr());
        assert_eq!(read.len(), 1000);
    }

    #[tokio::test]
    async fn a_body_in_many_frames_is_joined_in_order() {
        let sent: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(collect_within(framed(sent.clone()), 10_000).await.unwrap(), sent);
        assert_eq!(collect_within(Body::empty(), 0).await.unwrap(), Bytes::new());
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_refused_in_one_frame_or_many() {
        let refused = |result| matches!(result, Err(ReadBodyError::PayloadTooLarge));
        assert!(refused(collect_within(Body::from_vec(vec![0; 1001]), 1000).await));
        assert!(refused(collect_within(framed(vec![0; 10_001]), 10_000).await));
    }
}
