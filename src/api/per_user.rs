//! The per-user path style, written once: every `/api/tasks…` operation is also served, and
//! published, at `/api/{user_id}/tasks…`.
//!
//! Some frontends of this app family put the user in the path. [`PerUserPaths`] wraps an API and
//! implements poem-openapi's `OpenApi` trait for it: the same operation endpoints are added to the
//! route table under the per-user templates, and the document gains their descriptions (each path
//! with a `{user_id}` parameter, each operation id prefixed `user_`, the "Tasks (per-user paths)"
//! tag and a documented 403), since frontends generate their clients from it.
//!
//! The user still comes only from the token: the path's user id travels to the bearer check as a
//! [`PathUser`], and a token of another user answers 403 `user_mismatch` before anything is read.
//! A create's `Location` names the same path style, its user id encoded as one path segment.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem::{Endpoint, EndpointExt, Request, Response, Result};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{
    MetaApi, MetaMediaType, MetaOperationParam, MetaParamIn, MetaResponse, MetaSchema, MetaSchemaRef, MetaTag, Registry,
};
use poem_openapi::{OpenApi, OperationId};

use crate::auth::PathUser;
use crate::error::ErrorJson;

/// The tag of the per-user operations in the document.
pub const PER_USER_TAG: &str = "Tasks (per-user paths)";

/// Every byte of a path segment that RFC 3986 does not leave unreserved.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `/api/{user_id}/tasks` with the id as one encoded segment: a `/`, `%`, space, non-ASCII or
/// control character in it stays part of the id instead of naming another path.
pub(super) fn user_tasks_path(user_id: &str) -> String {
    format!(
        "/api/{}/tasks",
        percent_encoding::utf8_percent_encode(user_id, PATH_SEGMENT)
    )
}

/// `T`'s operations under `/api/{user_id}/…` instead of `/api/…`.
pub struct PerUserPaths<T>(pub T);

/// `/api/tasks/{id}` as `/api/{user_id}/tasks/{id}`; `parameter` is how the path style writes a
/// parameter (`{user_id}` in the document, `:user_id` in poem's route table).
fn per_user(path: &str, parameter: &str) -> String {
    match path.strip_prefix("/api/") {
        Some(rest) => format!("/api/{parameter}/{rest}"),
        None => path.to_owned(),
    }
}

/// A route-table path (`/api/tasks/:id`) written as the document writes it (`/api/tasks/{id}`).
fn as_documented(route: &str) -> String {
    route
        .split('/')
        .map(|segment| match segment.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `text` as a `'static` string (poem-openapi's metadata holds ids and summaries as such), made
/// once per distinct text for the life of the process however often the metadata is read.
fn interned(text: String) -> &'static str {
    static INTERNED: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Mutex::default);
    let mut known = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(text) = known.get(text.as_str()) {
        return text;
    }
    let text: &'static str = Box::leak(text.into_boxed_str());
    known.insert(text);
    text
}

/// `user_` before an operation id.
fn per_user_operation_id(id: &str) -> &'static str {
    interned(format!("user_{id}"))
}

impl<T: OpenApi> OpenApi for PerUserPaths<T> {
    fn meta() -> Vec<MetaApi> {
        let mut apis = T::meta();
        for path in apis.iter_mut().flat_map(|api| api.paths.iter_mut()) {
            path.path = per_user(&path.path, "{user_id}");
            for operation in &mut path.operations {
                operation.tags = vec![PER_USER_TAG];
                operation.summary = operation
                    .summary
                    .map(|summary| interned(format!("{summary} (per-user path)")));
                operation.operation_id = operation.operation_id.map(per_user_operation_id);
                operation.params.insert(0, user_id_param());
                operation.responses.responses.push(user_mismatch_response());
                operation
                    .responses
                    .responses
                    .sort_by_key(|response| response.status.unwrap_or(u16::MAX));
            }
        }
        apis
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
        registry.create_tag(MetaTag {
            name: PER_USER_TAG,
            description: Some(
                "The same operations under `/api/{user_id}/tasks…`, for frontends that put the user in the\n\
                 path. The user still comes only from the token: a `{user_id}` that is not the token's\n\
                 answers 403 `user_mismatch` before anything is read.",
            ),
            external_docs: None,
        });
    }

    fn add_routes(self, route_table: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {
        let mut operation_ids = HashMap::new();
        for path in T::meta().into_iter().flat_map(|api| api.paths) {
            for operation in path.operations {
                if let Some(id) = operation.operation_id {
                    operation_ids.insert((path.path.clone(), operation.method), per_user_operation_id(id));
                }
            }
        }
        let mut inner = HashMap::new();
        self.0.add_routes(&mut inner);
        for (route, methods) in inner {
            let documented = as_documented(&route);
            let methods_here = route_table.entry(per_user(&route, ":user_id")).or_default();
            for (method, operation) in methods {
                let operation_id = operation_ids.get(&(documented.clone(), method.clone())).copied();
                let endpoint = OnPerUserPath {
                    operation,
                    operation_id,
                };
                methods_here.insert(method, endpoint.boxed());
            }
        }
    }
}

/// An operation reached by a per-user path: the path's user goes with the request, and the
/// answer carries the per-user operation id (for logs and metrics).
struct OnPerUserPath {
    operation: BoxEndpoint<'static>,
    operation_id: Option<&'static str>,
}

impl Endpoint for OnPerUserPath {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        let user: Arc<str> = req.raw_path_param("user_id").unwrap_or_default().into();
        req.extensions_mut().insert(PathUser(user));
        let mut resp = self.operation.call(req).await?;
        if let Some(id) = self.operation_id {
            resp.set_data(OperationId(id));
        }
        Ok(resp)
    }
}

fn user_id_param() -> MetaOperationParam {
    MetaOperationParam {
        name: "user_id".to_owned(),
        schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))),
        in_type: MetaParamIn::Path,
        description: Some("Your user id (the token's `sub`); any other answers 403 `user_mismatch`.".to_owned()),
        required: true,
        deprecated: false,
        explode: true,
        style: None,
    }
}

fn user_mismatch_response() -> MetaResponse {
    MetaResponse {
        description: "`user_mismatch`: `{user_id}` is not the token's user; nothing was read or changed.",
        status: Some(403),
        status_range: None,
        // Published as every error answer is: the error body's schema and content type.
        content: vec![MetaMediaType {
            content_type: <ErrorJson as Payload>::CONTENT_TYPE,
            schema: <ErrorJson as Payload>::schema_ref(),
        }],
        headers: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_read_again_makes_no_new_strings() {
        let first = per_user_operation_id("list_tasks");
        assert_eq!(first, "user_list_tasks");
        assert!(std::ptr::eq(first, per_user_operation_id("list_tasks")));
    }

    #[test]
    fn per_user_paths_put_the_user_after_api_in_both_path_styles() {
        assert_eq!(per_user("/api/tasks", "{user_id}"), "/api/{user_id}/tasks");
        assert_eq!(
            per_user("/api/tasks/:id/complete", ":user_id"),
            "/api/:user_id/tasks/:id/complete"
        );
        assert_eq!(as_documented("/api/tasks/:id/toggle"), "/api/tasks/{id}/toggle");
    }

    #[test]
    fn the_per_user_path_encodes_the_user_id_as_one_segment() {
        assert_eq!(user_tasks_path("alice-1_b.c~"), "/api/alice-1_b.c~/tasks");
        assert_eq!(user_tasks_path("al/ice"), "/api/al%2Fice/tasks");
        assert_eq!(user_tasks_path("x%2Fy"), "/api/x%252Fy/tasks");
        assert_eq!(user_tasks_path("a b\u{7}é"), "/api/a%20b%07%C3%A9/tasks");
    }
}
