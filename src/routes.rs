//! The route table: every path template the service answers and the methods of each, read once
//! from the API's own description (poem-openapi's `meta()`), plus the few routes that live outside
//! the API document. Logs, metrics and the `Allow` header of a 405 take routes from here, so a new
//! operation is named in one place: its `#[oai(path, method, operation_id)]`.

use std::collections::HashMap;
use std::sync::LazyLock;

use poem::http::Method;
use poem_openapi::OpenApi;

use crate::api::Apis;

/// The label of a request that matched no route (a bounded set: paths never become labels).
pub const UNMATCHED: &str = "unmatched";

/// Routes served outside the API document: `(template, whether it also covers sub-paths)`.
/// All answer GET only.
const UNDOCUMENTED_ROUTES: [(&str, bool); 5] = [
    ("/", false),
    ("/docs", true),
    ("/openapi.json", false),
    ("/openapi.yaml", false),
    ("/metrics", false),
];

/// Methods in the order an `Allow` header lists them.
const METHOD_ORDER: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

struct RouteTemplate {
    template: &'static str,
    /// The template's segments; `None` stands for a path parameter.
    segments: Vec<Option<&'static str>>,
    covers_sub_paths: bool,
    /// The `Allow` header of a 405 on this route.
    allow: &'static str,
}

impl RouteTemplate {
    fn new(template: &'static str, covers_sub_paths: bool, allow: &'static str) -> Self {
        let segments = split(template)
            .map(|segment| (!segment.starts_with('{')).then_some(segment))
            .collect();
        Self {
            template,
            segments,
            covers_sub_paths,
            allow,
        }
    }

    fn matches(&self, path: &str) -> bool {
        let mut requested = split(path);
        for expected in &self.segments {
            match (requested.next(), expected) {
                (None, _) => return false,
                (Some(segment), Some(literal)) if segment != *literal => return false,
                _ => {}
            }
        }
        self.covers_sub_paths || requested.next().is_none()
    }
}

/// The non-empty segments of a path (trailing and doubled slashes do not count).
fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|segment| !segment.is_empty())
}

pub struct RouteTable {
    /// Operation id -> its path template: the fast way, for every answer an operation gave.
    by_operation: HashMap<&'static str, &'static str>,
    templates: Vec<RouteTemplate>,
}

/// The service's routes, built on first use.
pub fn routes() -> &'static RouteTable {
    static ROUTES: LazyLock<RouteTable> = LazyLock::new(RouteTable::of::<Apis>);
    &ROUTES
}

impl RouteTable {
    /// Reads the table from an API's description. Templates and `Allow` values are built once
    /// per process and live as long as it (hence `'static`, which keeps metric labels free of
    /// allocation).
    fn of<T: OpenApi>() -> Self {
        let mut by_operation = HashMap::new();
        let mut methods: Vec<(&'static str, Vec<Method>)> = Vec::new();
        for path in T::meta().into_iter().flat_map(|api| api.paths) {
            let template: &'static str = Box::leak(path.path.into_boxed_str());
            for operation in path.operations {
                if let Some(id) = operation.operation_id {
                    by_operation.insert(id, template);
                }
                match methods.iter_mut().find(|(known, _)| *known == template) {
                    Some((_, list)) => list.push(operation.method),
                    None => methods.push((template, vec![operation.method])),
                }
            }
        }
        let mut templates: Vec<RouteTemplate> = methods
            .into_iter()
            .map(|(template, methods)| RouteTemplate::new(template, false, allow_header(&methods)))
            .collect();
        for (template, covers_sub_paths) in UNDOCUMENTED_ROUTES {
            if templates.iter().all(|known| known.template != template) {
                templates.push(RouteTemplate::new(template, covers_sub_paths, "GET, OPTIONS"));
            }
        }
        // Literal segments win over parameters: `/api/tasks/{id}` must not swallow a sibling
        // literal route of the same length.
        templates.sort_by_key(|route| std::cmp::Reverse(route.segments.iter().filter(|s| s.is_some()).count()));
        Self {
            by_operation,
            templates,
        }
    }

    /// The route of an answer: the template of the operation that gave it, else the first
    /// template the path matches, else [`UNMATCHED`].
    pub fn route_of(&self, operation_id: Option<&str>, path: &str) -> &'static str {
        operation_id
            .and_then(|id| self.by_operation.get(id).copied())
            .or_else(|| {
                self.templates
                    .iter()
                    .find(|route| route.matches(path))
                    .map(|route| route.template)
            })
            .unwrap_or(UNMATCHED)
    }

    /// The methods `route` answers, as an `Allow` header (RFC 9110 §15.5.6).
    pub fn allow(&self, route: &str) -> Option<&'static str> {
        self.templates
            .iter()
            .find(|known| known.template == route)
            .map(|known| known.allow)
    }
}

fn allow_header(methods: &[Method]) -> &'static str {
    let mut allow: Vec<&str> = METHOD_ORDER
        .iter()
        .filter(|method| methods.contains(method))
        .map(Method::as_str)
        .collect();
    allow.push("OPTIONS");
    Box::leak(allow.join(", ").into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_the_templates_the_api_publishes() {
        let routes = routes();
        let route = |path| routes.route_of(None, path);
        assert_eq!(route("/api/tasks"), "/api/tasks");
        assert_eq!(route("/api/tasks/"), "/api/tasks");
        assert_eq!(route("/api/tasks/42"), "/api/tasks/{id}");
        assert_eq!(route("/api/tasks/abc/complete/"), "/api/tasks/{id}/complete");
        assert_eq!(route("/health"), "/health");
        assert_eq!(route("/api/health"), "/api/health");
        assert_eq!(route("/docs/index.css"), "/docs");
        assert_eq!(route("/"), "/");
        assert_eq!(route("/wp-admin/x.php"), UNMATCHED);
        assert_eq!(route("/api/tasks/1/2/3"), UNMATCHED);
    }

    #[test]
    fn an_operation_id_names_its_route_whatever_the_path() {
        assert_eq!(routes().route_of(Some("get_task"), "/api/tasks/7/"), "/api/tasks/{id}");
        assert_eq!(routes().route_of(Some("list_tasks"), "/api/tasks"), "/api/tasks");
    }

    #[test]
    fn allow_lists_every_method_of_a_route() {
        let routes = routes();
        assert_eq!(routes.allow("/api/tasks"), Some("GET, POST, OPTIONS"));
        assert_eq!(
            routes.allow("/api/tasks/{id}"),
            Some("GET, PUT, PATCH, DELETE, OPTIONS")
        );
        assert_eq!(routes.allow("/api/tasks/{id}/complete"), Some("PATCH, OPTIONS"));
        assert_eq!(routes.allow("/health"), Some("GET, OPTIONS"));
        assert_eq!(routes.allow(UNMATCHED), None);
    }
}
