//! The served OpenAPI document is the committed `openapi.yaml`, and `specs/api/` lists exactly
//! the operations, responses and auth requirements it serves.

use std::collections::BTreeMap;
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

const REGENERATE: &str = "cargo run --quiet -- spec > openapi.yaml   (or: just spec)";

#[tokio::test]
async fn the_served_spec_is_the_committed_openapi_yaml() {
    let app = spawn_app().await;
    let resp = app.anonymous(Method::GET, "/openapi.yaml").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let served = resp.text().await.unwrap();

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed = std::fs::read_to_string(root.join("openapi.yaml")).unwrap_or_default();
    if served != committed {
        let dump = root.join("target/openapi.served.yaml");
        let _ = std::fs::create_dir_all(dump.parent().unwrap());
        let _ = std::fs::write(&dump, &served);
        panic!(
            "openapi.yaml differs from the spec the server serves (written to {}).\nRegenerate it with:\n    {REGENERATE}",
            dump.display()
        );
    }
    assert_eq!(
        served,
        todo_api::app::openapi_yaml(),
        "the spec command prints what is served"
    );
}

#[tokio::test]
async fn the_json_spec_is_served_too() {
    let app = spawn_app().await;
    let resp = app.anonymous(Method::GET, "/openapi.json").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let spec: Value = resp.json().await.unwrap();
    assert_eq!(spec["info"]["title"], "Todo API");
}

/// `(METHOD, path)` -> (statuses, auth) for every operation in the served spec.
fn served_operations(spec: &Value) -> BTreeMap<(String, String), (Vec<String>, String)> {
    let mut operations = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let mut statuses: Vec<String> = operation["responses"].as_object().unwrap().keys().cloned().collect();
            statuses.sort();
            let auth = match operation.get("security") {
                Some(security) if !security.as_array().unwrap().is_empty() => "Bearer",
                _ => "none",
            };
            operations.insert((method.to_uppercase(), path.clone()), (statuses, auth.to_owned()));
        }
    }
    operations
}

/// The rows of every endpoint table in `specs/api/*.md`: `| `METHOD` | `path` | auth | statuses |`.
fn documented_operations() -> BTreeMap<(String, String), (Vec<String>, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/api");
    let mut operations = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("specs/api exists") {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines().filter(|line| line.starts_with("| `")) {
            let cells: Vec<&str> = line
                .trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().trim_matches('`'))
                .collect();
            let [method, path, auth, statuses, ..] = cells[..] else {
                continue;
            };
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) {
                continue;
            }
            let mut statuses: Vec<String> = statuses.split(',').map(|s| s.trim().to_owned()).collect();
            statuses.sort();
            let previous = operations.insert((method.to_owned(), path.to_owned()), (statuses, auth.to_owned()));
            assert!(previous.is_none(), "{method} {path} is listed twice in specs/api");
        }
    }
    operations
}

/// The document the app serves, as JSON.
async fn served_document(app: &TestApp) -> Value {
    let resp = app.anonymous(Method::GET, "/openapi.json").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn specs_api_lists_exactly_the_served_operations_statuses_and_auth() {
    let app = spawn_app().await;
    let spec = served_document(&app).await;

    let served = served_operations(&spec);
    let documented = documented_operations();

    for (operation, served_row) in &served {
        assert_eq!(
            documented.get(operation),
            Some(served_row),
            "specs/api for {operation:?} (served: {served_row:?})"
        );
    }
    for operation in documented.keys() {
        assert!(
            served.contains_key(operation),
            "specs/api lists {operation:?}, which is not served"
        );
    }
}

#[tokio::test]
async fn every_task_operation_documents_bearer_auth_and_its_errors() {
    let spec: Value = serde_json::from_str(&todo_api::app::openapi_json()).unwrap();
    assert_eq!(spec["components"]["securitySchemes"]["BearerAuth"]["scheme"], "bearer");
    for ((method, path), (statuses, auth)) in served_operations(&spec) {
        if path.starts_with("/api/tasks") {
            assert_eq!(auth, "Bearer", "{method} {path}");
            for status in ["401", "500", "503"] {
                assert!(
                    statuses.contains(&status.to_owned()),
                    "{method} {path} documents {status}"
                );
            }
        }
    }
}

/// The example body a schema publishes (what Swagger UI pre-fills).
fn example_of(spec: &Value, schema: &str) -> Value {
    spec["components"]["schemas"][schema]["example"].clone()
}

#[tokio::test]
async fn the_published_request_examples_are_accepted_as_they_are() {
    let app = spawn_app().await;
    let spec: Value = serde_json::from_str(&todo_api::app::openapi_json()).unwrap();

    let created = app
        .send_json("alice", Method::POST, "/api/tasks", example_of(&spec, "NewTaskRequest"))
        .await;
    assert_eq!(
        created.status(),
        StatusCode::CREATED,
        "{}",
        created.text().await.unwrap()
    );
    let id = created.json::<Value>().await.unwrap()["id"].as_i64().unwrap();

    let path = format!("/api/tasks/{id}");
    let updated = app
        .send_json("alice", Method::PUT, &path, example_of(&spec, "TaskUpdateRequest"))
        .await;
    assert_eq!(updated.status(), StatusCode::OK, "{}", updated.text().await.unwrap());
    let completed = app
        .send_json(
            "alice",
            Method::PATCH,
            &format!("{path}/complete"),
            example_of(&spec, "CompletionRequest"),
        )
        .await;
    assert_eq!(
        completed.status(),
        StatusCode::OK,
        "{}",
        completed.text().await.unwrap()
    );
}

/// The list's parameters as a client generated from the document types them: numbers, booleans and
/// closed sets of words, each of which the service understands.
#[tokio::test]
async fn the_lists_parameters_are_published_with_their_types_and_every_published_word_is_understood() {
    let app = spawn_app().await;
    let spec = served_document(&app).await;
    for path in ["/api/tasks", "/api/{user_id}/tasks"] {
        let parameters = spec["paths"][path]["get"]["parameters"].as_array().unwrap();
        let schema = |name: &str| {
            parameters
                .iter()
                .find(|parameter| parameter["name"] == name)
                .unwrap_or_else(|| panic!("{path} publishes {name}"))["schema"]
                .clone()
        };
        for name in ["limit", "offset", "page"] {
            assert_eq!(schema(name)["type"], "integer", "{path} {name}");
        }
        assert_eq!(schema("limit")["maximum"], 1000.0);
        for name in ["completed", "overdue"] {
            assert_eq!(schema(name)["type"], "boolean", "{path} {name}");
        }
        for name in ["status", "sort", "order", "due_date_filter"] {
            let words = schema(name)["enum"].as_array().cloned().unwrap_or_default();
            assert!(!words.is_empty(), "{path} {name} is a closed set");
            for word in words {
                let word = word.as_str().unwrap();
                // Each published word is understood: `-priority` and `priority` order differently.
                let resp = app
                    .as_user("alice", Method::GET, &format!("/api/tasks?{name}={word}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), StatusCode::OK, "{name}={word}");
            }
        }
    }
    // What a typed client sends for numbers and booleans is read as such.
    for id in 0..3 {
        app.create_titled("alice", &format!("t{id}")).await;
    }
    assert_eq!(app.titles("alice", "?limit=2&offset=0&sort=title").await, ["t0", "t1"]);
    assert_eq!(app.titles("alice", "?limit=2&page=2&sort=title").await, ["t2"]);
    assert_eq!(app.titles("alice", "?completed=true").await, Vec::<String>::new());
    assert_eq!(
        app.titles("alice", "?completed=false&sort=-title&limit=1").await,
        ["t2"]
    );
}
