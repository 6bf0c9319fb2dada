//! Per-request observability: the request id, the request's log span and its one access-log
//! line, metrics, and the security headers every response carries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use poem::http::{HeaderName, HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use poem_openapi::OperationId;
use tracing::Instrument;

use crate::error::AuthRejection;
use crate::metrics::Metrics;
use crate::routes::routes;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied request id that is echoed instead of replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// What the layers inside learn about a request, for the access log and metrics outside.
#[derive(Default)]
pub struct RequestContext {
    user_id: OnceLock<String>,
    auth_failure: OnceLock<AuthRejection>,
}

impl RequestContext {
    /// Records the verified caller (set by the bearer checker).
    pub fn set_user(&self, user_id: &str) {
        let _ = self.user_id.set(user_id.to_owned());
    }

    /// Records why authentication failed (set by the bearer checker).
    pub fn set_auth_failure(&self, rejection: AuthRejection) {
        let _ = self.auth_failure.set(rejection);
    }
}

/// A client's id is kept when it is short and made of URL-safe characters; otherwise (and when
/// there is none) the service makes one, so log lines can never be forged through it.
fn request_id(req: &Request) -> String {
    let sane = |id: &&str| {
        !id.is_empty()
            && id.len() <= MAX_REQUEST_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    };
    match req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(sane)
    {
        Some(id) => id.to_owned(),
        None => generate_request_id(),
    }
}

/// A random per-process prefix and a counter: unique, unguessable across restarts, no syscall.
fn generate_request_id() -> String {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 8];
        let _ = getrandom::fill(&mut bytes);
        u64::from_le_bytes(bytes)
    });
    format!("{prefix:016x}{:08x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The middleware; see the module docs.
pub struct Observe {
    metrics: Arc<Metrics>,
}

impl Observe {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<E: Endpoint> Middleware<E> for Observe {
    type Output = ObserveEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ObserveEndpoint {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

pub struct ObserveEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
}

impl<E: Endpoint> Endpoint for ObserveEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let started = Instant::now();
        let id = request_id(&req);
        let method = req.method().clone();
        // Kept for requests no operation answered (404, 405, timeouts); a cheap reference count.
        let uri = req.uri().clone();
        let context = Arc::new(RequestContext::default());
        req.extensions_mut().insert(context.clone());

        let span = tracing::info_span!("request", request_id = %id);
        let (mut resp, route) = async {
            let resp = match self.inner.call(req).await {
                Ok(resp) => resp.into_response(),
                Err(err) => err.into_response(),
            };
            let status = resp.status();
            let latency = started.elapsed();
            let operation = resp.data::<OperationId>().map(|id| id.0);
            let route = routes().route_of(operation, uri.path());
            let user_id = context.user_id.get().map(String::as_str).unwrap_or("-");
            let latency_ms = latency.as_secs_f64() * 1000.0;
            if status.is_server_error() {
                tracing::warn!(%method, route, status = status.as_u16(), latency_ms, user_id, "request");
            } else {
                tracing::info!(%method, route, status = status.as_u16(), latency_ms, user_id, "request");
            }
            self.metrics.record_request(route, &method, status.as_u16(), latency);
            if status == StatusCode::UNAUTHORIZED {
                // The checker records why a sent token failed; no record means none was sent.
                self.metrics.record_auth_failure(
                    context
                        .auth_failure
                        .get()
                        .copied()
                        .unwrap_or(AuthRejection::MissingToken),
                );
            }
            (resp, route)
        }
        .instrument(span)
        .await;

        let method_not_allowed = resp.status() == StatusCode::METHOD_NOT_ALLOWED;
        let headers = resp.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&id) {
            headers.insert(REQUEST_ID_HEADER, value);
        }
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        if method_not_allowed && let Some(allow) = routes().allow(route) {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if route.starts_with("/api/") {
            // Task data is per user: no shared or browser cache may keep it.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique() {
        assert_ne!(generate_request_id(), generate_request_id());
        assert_eq!(generate_request_id().len(), 24);
    }
}
