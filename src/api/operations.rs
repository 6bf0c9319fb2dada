//! [`Operations`]: the API's generated operations in one route table, served without the layers
//! `OpenApiService`'s own endpoint wraps around them.
//!
//! `OpenApiService::into_endpoint` puts the same route table behind a `before` layer (the query
//! string copied into the request), a `map_to_response` layer and a box, and `app.rs` boxed it
//! once more: each layer moved the whole request and the operation's future again, on every
//! request (specs/performance.md). Here the table is built from the same generated operations
//! (`OpenApi::add_routes`, as poem-openapi builds it) and the query string is handed to them the
//! way their extractors read it. The document and Swagger UI still come from `OpenApiService`.

use std::collections::HashMap;

use poem::{Endpoint, Request, Response, Result, Route, RouteMethod};
use poem_openapi::__private::UrlQuery;
use poem_openapi::OpenApi;

/// Every operation of `apis`, routed by path and method (poem's `Route` and `RouteMethod`: a
/// path that matches with another method is a 405, and `HEAD` is answered by a `GET`).
pub struct Operations(Route);

impl Operations {
    pub fn new(apis: impl OpenApi) -> Self {
        let mut table = HashMap::new();
        apis.add_routes(&mut table);
        let route = table.into_iter().fold(Route::new(), |route, (path, methods)| {
            let methods = methods
                .into_iter()
                .fold(RouteMethod::new(), |methods, (method, operation)| {
                    methods.method(method, operation)
                });
            route.at(path, methods)
        });
        Operations(route)
    }
}

impl Endpoint for Operations {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        // What `OpenApiService`'s endpoint does before its routes: the `Query` extractors read the
        // decoded pairs from here (and panic when they are missing), so every request gets them.
        let pairs: Vec<(String, String)> = req.params().unwrap_or_default();
        req.extensions_mut().insert(UrlQuery(pairs));
        self.0.call(req).await
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
