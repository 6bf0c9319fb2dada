//! The edge: the one layer every request passes through before the routes, and every answer on
//! its way out. In order:
//!
//! - a request id (the client's, when sane) and the request's log span;
//! - CORS: a preflight from an allowed origin is answered here;
//! - the path normalised (`/api/tasks/` is served as `/api/tasks`);
//! - the header limit (431) and at most one `Authorization` header (400), then the request timeout (503 `request_timeout`) around the rest;
//! - a panic in a handler answered as a 500, and any error that escaped an operation rendered
//!   in the one JSON shape;
//! - the body read up to its limit (413);
//!
//! and on the way out: the access-log line and metrics, `X-Request-Id`, `nosniff`,
//! `Cache-Control: no-store` on `/api/`, `Allow` on a 405, the CORS headers, and
//! `Connection: close` while draining.
//!
//! One layer, not a stack of middleware: each layer moved the request and every future inside
//! it once more and allocated on its own (measured: specs/performance.md).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use poem::error::ResponseError;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use poem_openapi::OperationId;
use tracing::Instrument;

use crate::auth::TokenVerifier;
use crate::cors::{self, CorsPolicy};
use crate::drain::Drain;
use crate::error::{ApiError, AuthRejection, render_error};
use crate::metrics::Metrics;
use crate::request_context::{REQUEST_ID_HEADER, RequestContext, request_id};
use crate::request_limits::{check_header_size, check_one_authorization, normalize_path, read_body_within_limit};
use crate::routes::routes;

/// The middleware; see the module docs.
pub struct Edge {
    pub metrics: Arc<Metrics>,
    pub verifier: Arc<TokenVerifier>,
    pub cors: CorsPolicy,
    pub drain: Drain,
    pub request_timeout: Duration,
}

impl<E: Endpoint> Middleware<E> for Edge {
    type Output = EdgeEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        EdgeEndpoint {
            inner,
            metrics: self.metrics.clone(),
            verifier: self.verifier.clone(),
            cors: self.cors.clone(),
            drain: self.drain.clone(),
            request_timeout: self.request_timeout,
        }
    }
}

pub struct EdgeEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
    verifier: Arc<TokenVerifier>,
    cors: CorsPolicy,
    drain: Drain,
    request_timeout: Duration,
}

impl<E: Endpoint> Endpoint for EdgeEndpoint<E> {
    type Output = Response;

    // Not an `async fn`: what can be done before the first await is done here, and the request is
    // moved once, into the boxed future that answers it ([`EdgeEndpoint::start`]). The future
    // returned holds only the bookkeeping, so it is small wherever it is moved (hyper boxes it).
    fn call(&self, mut req: Request) -> impl Future<Output = Result<Response>> + Send {
        let started = Instant::now();
        let id = request_id(&req);
        let method = req.method().clone();
        // Kept for requests no operation answered (404, 405, timeouts); a cheap reference count.
        let uri = req.uri().clone();
        let origin = self.cors.allowed_origin(&req);
        let context = Arc::new(RequestContext::new(self.verifier.clone()));
        req.extensions_mut().insert(context.clone());

        // A preflight from an allowed origin is answered here: it carries no token.
        let preflight_origin = origin.clone().filter(|_| cors::is_preflight(&req));
        let answered_preflight = preflight_origin.is_some();
        let answer = match preflight_origin {
            Some(origin) => Answer::Ready(cors::preflight_response(origin)),
            None => self.start(req),
        };

        let span = tracing::info_span!("request", request_id = id.to_str().unwrap_or_default());
        async move {
            let (mut resp, route) = async {
                let resp = match answer {
                    Answer::Ready(resp) => resp,
                    Answer::Running(running) => self.within_time(running).await,
                };
                let status = resp.status();
                let latency = started.elapsed();
                let operation = resp.data::<OperationId>().map(|id| id.0);
                let route = routes().route_of(operation, uri.path());
                let user_id = context.user_id().unwrap_or("-");
                let latency_ms = latency.as_secs_f64() * 1000.0;
                if status.is_server_error() {
                    tracing::warn!(%method, route, status = status.as_u16(), latency_ms, user_id, "request");
                } else {
                    tracing::info!(%method, route, status = status.as_u16(), latency_ms, user_id, "request");
                }
                self.metrics.record_request(route, &method, status.as_u16(), latency);
                if status == StatusCode::UNAUTHORIZED {
                    // The checker records why a sent token failed; no record means none was sent.
                    self.metrics
                        .record_auth_failure(context.auth_failure().unwrap_or(AuthRejection::MissingToken));
                }
                (resp, route)
            }
            .instrument(span)
            .await;

            let method_not_allowed = resp.status() == StatusCode::METHOD_NOT_ALLOWED;
            let headers = resp.headers_mut();
            headers.insert(REQUEST_ID_HEADER, id);
            headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            if method_not_allowed && let Some(allow) = routes().allow(route) {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            if route.starts_with("/api/") {
                // Task data is per user: no shared or browser cache may keep it.
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
            if !answered_preflight {
                cors::add_response_headers(headers, origin);
            }
            if self.drain.is_draining() {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(resp)
        }
    }
}

/// A request's answer as [`EdgeEndpoint::start`] leaves it: known already, or on its way.
enum Answer<F> {
    Ready(Response),
    Running(CatchPanic<F>),
}

impl<E: Endpoint> EdgeEndpoint<E> {
    /// The checks that need no waiting, then the body and the routes, boxed: their future is
    /// large, and it is built once in place of being moved at every step outward.
    fn start(&self, mut req: Request) -> Answer<impl Future<Output = Response> + Send + '_> {
        normalize_path(&mut req);
        if let Err(err) = check_header_size(&req).and_then(|()| check_one_authorization(&req)) {
            return Answer::Ready(err.as_response());
        }
        Answer::Running(CatchPanic(Box::pin(self.call_inner(req))))
    }

    /// The answer within the request timeout, whatever happens: a panic is a 500, the time
    /// running out a 503.
    async fn within_time<F: Future<Output = Response>>(&self, running: CatchPanic<F>) -> Response {
        match tokio::time::timeout(self.request_timeout, running).await {
            Ok(Ok(resp)) => resp,
            Ok(Err(_panic)) => {
                tracing::error!("a request handler panicked");
                ApiError::Internal.as_response()
            }
            Err(_) => {
                tracing::warn!(limit_ms = self.request_timeout.as_millis() as u64, "request timed out");
                ApiError::RequestTimeout.as_response()
            }
        }
    }

    /// The body within its limit, then the routes; any error becomes the JSON error body.
    async fn call_inner(&self, mut req: Request) -> Response {
        if let Err(err) = read_body_within_limit(&mut req).await {
            return err.as_response();
        }
        match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => render_error(err),
        }
    }
}

/// Polls a future, turning a panic inside it into `Err` (the payload is dropped: the panic hook
/// has already reported it).
struct CatchPanic<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchPanic<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}
