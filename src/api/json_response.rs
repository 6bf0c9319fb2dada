//! Success bodies written straight to bytes.
//!
//! poem-openapi's `Json<T>` first builds a `serde_json::Value` tree of the whole answer and then
//! serialises the tree: for a list of tasks that was 14 % of the request's CPU (see
//! specs/performance.md). [`JsonResponse`] publishes `T`'s schema ([`JsonBody::Schema`]) and
//! content type but writes `T` in one pass ([`JsonBody`]). The wire format is pinned by the
//! integration tests.

use poem::http::{HeaderValue, header};
use poem::{Body, IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;

use super::task_json::JsonBody;

const CONTENT_TYPE: &str = "application/json; charset=utf-8";

pub struct JsonResponse<T>(pub T);

/// A JSON answer: `Response::builder().content_type(..)` parsed the content type from its text on
/// every answer (about 600 instructions); this header value is a static one.
fn json_answer(body: impl Into<Body>) -> Response {
    let mut resp = Response::from(body.into());
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    resp
}

impl<T: JsonBody + Send> Payload for JsonResponse<T> {
    const CONTENT_TYPE: &'static str = CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        T::Schema::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::Schema::register(registry);
    }
}

impl<T: JsonBody + Send> IntoResponse for JsonResponse<T> {
    fn into_response(self) -> Response {
        json_answer(self.0.into_json())
    }
}

/// `T`'s JSON, either serialised now or already serialised: written from the row it was read
/// from, or the answer of a keyed write, stored with its `Idempotency-Key` and sent byte for byte,
/// the first time and on every replay.
pub enum JsonAnswer<T> {
    Value(T),
    Serialized(Vec<u8>),
}

impl<T: JsonBody + Send> Payload for JsonAnswer<T> {
    const CONTENT_TYPE: &'static str = CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        T::Schema::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::Schema::register(registry);
    }
}

impl<T: JsonBody + Send> IntoResponse for JsonAnswer<T> {
    fn into_response(self) -> Response {
        match self {
            JsonAnswer::Value(value) => JsonResponse(value).into_response(),
            JsonAnswer::Serialized(body) => json_answer(body),
        }
    }
}
