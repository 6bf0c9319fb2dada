//! [`Operations`]: the API's generated operations in one route table, served without the layers
//! `OpenApiService`'s own endpoint wraps around them.
//!
//! `OpenApiService::into_endpoint` puts the same route table behind a `before` layer (the query
//! string copied into the request), a `map_to_response` layer and a box, and `app.rs` boxed it
//! once more: each layer moved the whole request and the operation's future again, on every
//! request (specs/performance.md). Here the table is built from the same generated operations
//! (`OpenApi::add_routes`, as poem-openapi builds it) and the query string is handed to them the
//! way their extractors read it. The document and Swagger UI still come from `OpenApiService`.
//!
//! Each path's methods are matched here ([`Methods`]) rather than by poem's `RouteMethod`, which
//! wraps every operation in one more `map_to_response` layer and box (one more allocation and
//! move of the request per call); poem's `Route` still matches the path, since only it can hand
//! the path parameters to the `Path` extractors.

use std::collections::HashMap;

use poem::endpoint::BoxEndpoint;
use poem::error::MethodNotAllowedError;
use poem::http::Method;
use poem::{Endpoint, Request, Response, Result, Route};
use poem_openapi::__private::UrlQuery;
use poem_openapi::OpenApi;

/// Every operation of `apis`, routed by path (poem's `Route`) and method ([`Methods`]).
pub struct Operations(Route);

impl Operations {
    pub fn new(apis: impl OpenApi) -> Self {
        let mut table = HashMap::new();
        apis.add_routes(&mut table);
        let route = table.into_iter().fold(Route::new(), |route, (path, methods)| {
            route.at(path, Methods(methods.into_iter().collect()))
        });
        Operations(route)
    }

    /// The route table, with `req` made ready for it: what `OpenApiService`'s endpoint does
    /// before its routes. The `Query` extractors read the decoded pairs from the request (and
    /// panic when they are missing), so every request gets them. Not an `Endpoint` of its own:
    /// the caller calls the table, so the request is moved into the table's future directly
    /// instead of into one more future around it.
    pub fn route_for(&self, req: &mut Request) -> &Route {
        let pairs: Vec<(String, String)> = req.params().unwrap_or_default();
        req.extensions_mut().insert(UrlQuery(pairs));
        &self.0
    }
}

/// One path's operations by method, as poem's `RouteMethod` answers: another method is a 405
/// (`MethodNotAllowedError`), and a `HEAD` without an operation of its own is the `GET`'s
/// answer without its body.
struct Methods(Vec<(Method, BoxEndpoint<'static>)>);

impl Methods {
    fn operation(&self, method: &Method) -> Option<&BoxEndpoint<'static>> {
        self.0
            .iter()
            .find(|(of, _)| of == method)
            .map(|(_, operation)| operation)
    }
}

impl Endpoint for Methods {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        if let Some(operation) = self.operation(req.method()) {
            return operation.call(req).await;
        }
        match self.operation(&Method::GET) {
            Some(get) if req.method() == Method::HEAD => {
                req.set_method(Method::GET);
                let mut resp = get.call(req).await?;
                resp.set_body(());
                Ok(resp)
            }
            _ => Err(MethodNotAllowedError.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::api::Apis;

    /// `OpenApiService::into_endpoint` panics on a repeated operation id; this table is built
    /// without it, so the rule is held here.
    #[test]
    fn every_operation_id_is_unique() {
        let mut seen = HashSet::new();
        for operation in Apis::meta()
            .into_iter()
            .flat_map(|api| api.paths)
            .flat_map(|path| path.operations)
        {
            let id = operation.operation_id.expect("every operation has an id");
            assert!(seen.insert(id), "operation id {id} is used twice");
        }
        assert!(seen.len() > 10, "{seen:?}");
    }
}
