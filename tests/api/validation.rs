//! Request bodies: the title and description rules, and FastAPI-style 422 errors.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, json_with_status, spawn_app};

async fn create_raw(app: &TestApp, content_type: Option<&str>, body: &str) -> reqwest::Response {
    let mut request = app.as_user("alice", Method::POST, "/api/tasks").body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.send().await.unwrap()
}

async fn create_json(app: &TestApp, body: Value) -> reqwest::Response {
    app.as_user("alice", Method::POST, "/api/tasks")
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Asserts a 422 whose `errors` has exactly one entry at `loc` of `kind`.
async fn assert_invalid(resp: reqwest::Response, loc: &[&str], kind: &str) -> Value {
    let body = assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let errors = body["errors"].as_array().expect("an errors array");
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["loc"], json!(loc), "{body}");
    assert_eq!(errors[0]["type"], kind, "{body}");
    assert!(errors[0]["msg"].as_str().is_some_and(|m| !m.is_empty()));
    body
}

#[tokio::test]
async fn a_missing_or_null_title_is_422() {
    let app = spawn_app().await;
    assert_invalid(
        create_json(&app, json!({"description": "no title"})).await,
        &["body", "title"],
        "missing",
    )
    .await;
    assert_invalid(
        create_json(&app, json!({"title": null})).await,
        &["body", "title"],
        "missing",
    )
    .await;
}

#[tokio::test]
async fn a_blank_title_is_422_after_trimming() {
    let app = spawn_app().await;
    for title in ["", "   ", "\t\n"] {
        assert_invalid(
            create_json(&app, json!({"title": title})).await,
            &["body", "title"],
            "string_too_short",
        )
        .await;
    }
}

#[tokio::test]
async fn the_title_limit_counts_characters_not_bytes() {
    let app = spawn_app().await;
    let two_hundred = "é".repeat(200);
    let task = json_with_status(
        create_json(&app, json!({"title": two_hundred})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(task["title"].as_str().unwrap().chars().count(), 200);

    let padded = format!("  {}  ", "x".repeat(200));
    assert_eq!(
        create_json(&app, json!({"title": padded})).await.status(),
        StatusCode::CREATED,
        "spaces are trimmed first"
    );

    let too_long = "é".repeat(201);
    assert_invalid(
        create_json(&app, json!({"title": too_long})).await,
        &["body", "title"],
        "string_too_long",
    )
    .await;
}

#[tokio::test]
async fn the_description_is_limited_to_1000_characters() {
    let app = spawn_app().await;
    let ok = json!({"title": "t", "description": "ü".repeat(1000)});
    assert_eq!(create_json(&app, ok).await.status(), StatusCode::CREATED);
    let too_long = json!({"title": "t", "description": "ü".repeat(1001)});
    assert_invalid(
        create_json(&app, too_long).await,
        &["body", "description"],
        "string_too_long",
    )
    .await;
}

#[tokio::test]
async fn wrong_types_are_422_not_coerced() {
    let app = spawn_app().await;
    assert_invalid(
        create_json(&app, json!({"title": 42})).await,
        &["body", "title"],
        "string_type",
    )
    .await;
    assert_invalid(
        create_json(&app, json!({"title": "t", "description": 7})).await,
        &["body", "description"],
        "string_type",
    )
    .await;
    assert_invalid(
        create_json(&app, json!({"title": "t", "completed": "yes"})).await,
        &["body", "completed"],
        "bool_type",
    )
    .await;
    assert_invalid(
        create_json(&app, json!({"title": ["t"]})).await,
        &["body", "title"],
        "string_type",
    )
    .await;
}

#[tokio::test]
async fn every_failing_field_is_reported_at_once() {
    let app = spawn_app().await;
    let resp = create_json(
        &app,
        json!({"title": "", "description": "x".repeat(1001), "completed": 1}),
    )
    .await;
    let body = assert_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let locs: Vec<&Value> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["loc"][1])
        .collect();
    assert_eq!(locs, [&json!("title"), &json!("description"), &json!("completed")]);
}

#[tokio::test]
async fn malformed_json_an_empty_body_and_non_objects_are_422() {
    let app = spawn_app().await;
    let json = Some("application/json");
    assert_invalid(create_raw(&app, json, "{\"title\": ").await, &["body"], "json_invalid").await;
    assert_invalid(create_raw(&app, json, "").await, &["body"], "missing").await;
    assert_invalid(create_raw(&app, json, "[1, 2]").await, &["body"], "model_type").await;
    assert_invalid(create_raw(&app, json, "\"title\"").await, &["body"], "model_type").await;
    assert_invalid(create_raw(&app, json, "null").await, &["body"], "model_type").await;
}

#[tokio::test]
async fn a_body_without_content_type_is_read_as_json() {
    let app = spawn_app().await;
    let resp = create_raw(&app, None, r#"{"title": "no content type"}"#).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_non_json_content_type_is_415() {
    let app = spawn_app().await;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let resp = create_raw(&app, Some(content_type), r#"{"title": "x"}"#).await;
        assert_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    }
    let charset = create_raw(&app, Some("application/json; charset=utf-8"), r#"{"title": "x"}"#).await;
    assert_eq!(charset.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn nul_characters_are_refused_with_422() {
    let app = spawn_app().await;
    assert_invalid(
        create_json(&app, json!({"title": "a\u{0}b"})).await,
        &["body", "title"],
        "string_nul",
    )
    .await;
    assert_invalid(
        create_json(&app, json!({"title": "t", "description": "\u{0}"})).await,
        &["body", "description"],
        "string_nul",
    )
    .await;
}

#[tokio::test]
async fn hostile_json_never_causes_a_server_error() {
    let app = spawn_app().await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_object = format!("{{\"title\": {}{}}}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    let bodies = [
        deep.as_str(),
        deep_object.as_str(),
        r#"{"title": "\ud800"}"#,
        r#"{"title": "x", "completed": 1e999}"#,
        r#"{"title": 123456789012345678901234567890}"#,
        "\u{feff}{\"title\": \"bom\"}",
        "{\"title\": \"\\u0000\"}",
    ];
    for body in bodies {
        let resp = create_raw(&app, Some("application/json"), body).await;
        assert_eq!(
            resp.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            &body[..body.len().min(40)]
        );
    }
    let duplicate = create_raw(
        &app,
        Some("application/json"),
        r#"{"title": "first", "title": "second"}"#,
    )
    .await;
    assert_eq!(
        json_with_status(duplicate, StatusCode::CREATED).await["title"],
        "second"
    );
}

#[tokio::test]
async fn update_rules_match_create_rules() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "t").await;
    let put = |body: Value| {
        app.as_user("alice", Method::PUT, &format!("/api/tasks/{id}"))
            .json(&body)
            .send()
    };

    assert_invalid(
        put(json!({"title": " "})).await.unwrap(),
        &["body", "title"],
        "string_too_short",
    )
    .await;
    assert_invalid(
        put(json!({"title": "x".repeat(201)})).await.unwrap(),
        &["body", "title"],
        "string_too_long",
    )
    .await;
    assert_invalid(
        put(json!({"title": null})).await.unwrap(),
        &["body", "title"],
        "string_type",
    )
    .await;
    assert_invalid(
        put(json!({"completed": null})).await.unwrap(),
        &["body", "completed"],
        "bool_type",
    )
    .await;
    assert_invalid(
        put(json!({"description": "x".repeat(1001)})).await.unwrap(),
        &["body", "description"],
        "string_too_long",
    )
    .await;
    let no_body = app
        .as_user("alice", Method::PUT, &format!("/api/tasks/{id}"))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_invalid(no_body, &["body"], "missing").await;

    let task = json_with_status(app.get_task("alice", id).await, StatusCode::OK).await;
    assert_eq!(task["title"], "t", "no failed update changed the task");
}
