//! Entity tags and conditional requests: `ETag` on every task answer and on the list,
//! `If-None-Match` → 304, `If-Match` → 412 with the current task when stale. Without these
//! headers every operation behaves as before (the rest of the suite).

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, json_with_status, spawn_app};

fn etag(resp: &Response) -> String {
    resp.headers()["etag"].to_str().unwrap().to_owned()
}

async fn send(
    app: &TestApp,
    user: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Response {
    let mut request = app.as_user(user, method, path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// `HEAD` is answered as the `GET` of the same path, without the body: its status and headers
/// (a cache revalidating by `ETag` can use either); a path without a `GET` is a 405.
#[tokio::test]
async fn a_head_is_the_get_without_its_body() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "Headed").await;
    let path = format!("/api/tasks/{id}");

    let head = send(&app, "alice", Method::HEAD, &path, &[], None).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(etag(&head), "\"1\"");
    assert_eq!(head.headers()["content-type"], "application/json; charset=utf-8");
    assert!(head.bytes().await.unwrap().is_empty(), "no body");

    let list = send(&app, "alice", Method::HEAD, "/api/tasks", &[], None).await;
    assert_eq!(list.status(), StatusCode::OK);
    let missing = send(&app, "alice", Method::HEAD, "/api/tasks/999999", &[], None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let someone_elses = send(&app, "bob", Method::HEAD, &path, &[], None).await;
    assert_eq!(someone_elses.status(), StatusCode::NOT_FOUND);
    let no_get = send(&app, "alice", Method::HEAD, &format!("{path}/complete"), &[], None).await;
    assert_eq!(no_get.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_task_answers_its_version_as_etag_and_304_when_unchanged() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "Tagged").await;
    let path = format!("/api/tasks/{id}");

    let first = app.get_task("alice", id).await;
    assert_eq!(etag(&first), "\"1\"");
    let body = json_with_status(first, StatusCode::OK).await;
    assert_eq!(body["etag"], "\"1\"", "the same tag inside the task");

    for tag in ["\"1\"", "W/\"1\"", "\"7\", \"1\"", "*"] {
        let cached = send(&app, "alice", Method::GET, &path, &[("if-none-match", tag)], None).await;
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED, "{tag}");
        assert_eq!(etag(&cached), "\"1\"");
        assert!(cached.bytes().await.unwrap().is_empty(), "no body");
    }
    let other = send(&app, "alice", Method::GET, &path, &[("if-none-match", "\"2\"")], None).await;
    assert_eq!(other.status(), StatusCode::OK);

    // The per-user path names the same task, with the same tag.
    let per_user = send(
        &app,
        "alice",
        Method::GET,
        &format!("/api/alice/tasks/{id}"),
        &[("if-none-match", "\"1\"")],
        None,
    )
    .await;
    assert_eq!(per_user.status(), StatusCode::NOT_MODIFIED);
    // Another user's task is still a 404, tag or not.
    let foreign = send(&app, "bob", Method::GET, &path, &[("if-none-match", "*")], None).await;
    assert_error(foreign, StatusCode::NOT_FOUND, "task_not_found").await;
}

#[tokio::test]
async fn every_change_moves_the_version_even_within_one_microsecond() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "Moving").await;
    let path = format!("/api/tasks/{id}");
    let mut seen = vec!["\"1\"".to_owned()];
    let changes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::PUT, path.clone(), Some(json!({"title": "Renamed"}))),
        (Method::PATCH, path.clone(), Some(json!({"priority": "high"}))),
        (Method::PATCH, format!("{path}/complete"), None),
        (
            Method::PATCH,
            format!("{path}/complete"),
            Some(json!({"completed": true})),
        ),
        (Method::PATCH, format!("{path}/toggle"), None),
        (Method::POST, format!("{path}/toggle"), None),
        (
            Method::PATCH,
            format!("{path}/status"),
            Some(json!({"status": "completed"})),
        ),
    ];
    for (method, path, body) in changes {
        let resp = send(&app, "alice", method.clone(), &path, &[], body).await;
        let tag = etag(&resp);
        let task = json_with_status(resp, StatusCode::OK).await;
        assert_eq!(task["etag"], tag.as_str(), "{method} {path}");
        assert!(!seen.contains(&tag), "{method} {path} answered an earlier tag {tag}");
        seen.push(tag);
    }
    assert_eq!(seen.last().unwrap(), "\"8\"", "one step per change");
}

#[tokio::test]
async fn a_stale_if_match_answers_412_with_the_current_task_and_changes_nothing() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "Original").await;
    let path = format!("/api/tasks/{id}");
    // Another tab renames it: version 2.
    assert_eq!(
        app.update_task("alice", id, json!({"title": "From tab two"}))
            .await
            .status(),
        StatusCode::OK
    );

    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::PUT, path.clone(), Some(json!({"title": "From tab one"}))),
        (Method::PATCH, path.clone(), Some(json!({"title": "From tab one"}))),
        (Method::PATCH, format!("{path}/complete"), None),
        (Method::PATCH, format!("{path}/toggle"), None),
        (Method::POST, format!("{path}/toggle"), None),
        (
            Method::PATCH,
            format!("{path}/status"),
            Some(json!({"status": "completed"})),
        ),
        (Method::DELETE, path.clone(), None),
        (
            Method::PUT,
            format!("/api/alice/tasks/{id}"),
            Some(json!({"title": "From tab one"})),
        ),
        (Method::DELETE, format!("/api/alice/tasks/{id}"), None),
    ];
    for (method, target, body) in attempts {
        for stale in ["\"1\"", "W/\"2\"", "\"l-0123\"", "garbage"] {
            let resp = send(
                &app,
                "alice",
                method.clone(),
                &target,
                &[("if-match", stale)],
                body.clone(),
            )
            .await;
            let error = assert_error(resp, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
            assert_eq!(error["current"]["title"], "From tab two", "{method} {target} {stale}");
            assert_eq!(error["current"]["etag"], "\"2\"");
            assert_eq!(error["current"]["completed"], false);
        }
    }
    let unchanged = json_with_status(app.get_task("alice", id).await, StatusCode::OK).await;
    assert_eq!(
        (unchanged["title"].as_str(), unchanged["etag"].as_str()),
        (Some("From tab two"), Some("\"2\""))
    );
}

#[tokio::test]
async fn a_current_if_match_or_a_star_lets_the_change_through() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "Editable").await;
    let path = format!("/api/tasks/{id}");
    let renamed = send(
        &app,
        "alice",
        Method::PUT,
        &path,
        &[("if-match", "\"1\"")],
        Some(json!({"title": "Once"})),
    )
    .await;
    assert_eq!(etag(&renamed), "\"2\"");
    let listed = send(
        &app,
        "alice",
        Method::PATCH,
        &path,
        &[("if-match", "\"9\", \"2\"")],
        Some(json!({"title": "Twice"})),
    )
    .await;
    assert_eq!(listed.status(), StatusCode::OK);
    let toggled = send(
        &app,
        "alice",
        Method::PATCH,
        &format!("{path}/complete"),
        &[("if-match", "*")],
        None,
    )
    .await;
    assert_eq!(json_with_status(toggled, StatusCode::OK).await["completed"], true);
    let deleted = send(&app, "alice", Method::DELETE, &path, &[("if-match", "\"4\"")], None).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(app.get_task("alice", id).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn if_match_on_a_missing_or_foreign_task_is_404() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "Hers").await;
    for (user, target) in [
        ("bob", format!("/api/tasks/{id}")),
        ("alice", "/api/tasks/999999".to_owned()),
    ] {
        for tag in ["\"1\"", "*", "\"5\""] {
            let resp = send(
                &app,
                user,
                Method::PUT,
                &target,
                &[("if-match", tag)],
                Some(json!({"title": "x"})),
            )
            .await;
            assert_error(resp, StatusCode::NOT_FOUND, "task_not_found").await;
            let resp = send(&app, user, Method::DELETE, &target, &[("if-match", tag)], None).await;
            assert_error(resp, StatusCode::NOT_FOUND, "task_not_found").await;
        }
    }
    assert_eq!(app.get_task("alice", id).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn two_concurrent_updates_with_one_etag_give_one_200_and_one_412() {
    let app = spawn_app().await;
    for round in 0..10 {
        let id = app.create_titled("alice", &format!("Contested {round}")).await;
        let path = format!("/api/tasks/{id}");
        let (a, b) = tokio::join!(
            send(
                &app,
                "alice",
                Method::PUT,
                &path,
                &[("if-match", "\"1\"")],
                Some(json!({"title": "Tab A"}))
            ),
            send(
                &app,
                "alice",
                Method::PUT,
                &path,
                &[("if-match", "\"1\"")],
                Some(json!({"title": "Tab B"}))
            ),
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 412], "round {round}");
        let stored = json_with_status(app.get_task("alice", id).await, StatusCode::OK).await;
        assert_eq!(stored["etag"], "\"2\"", "exactly one change applied");
    }
}

#[tokio::test]
async fn the_list_answers_an_etag_over_exactly_what_it_returned() {
    let app = spawn_app().await;
    let first = app.create_titled("alice", "One").await;
    app.create_titled("alice", "Two").await;

    let listed = app.as_user("alice", Method::GET, "/api/tasks").send().await.unwrap();
    let tag = etag(&listed);
    assert!(tag.starts_with("\"l-"), "{tag}");
    let tasks = json_with_status(listed, StatusCode::OK).await;
    assert_eq!(tasks.as_array().unwrap().len(), 2);

    let cached = send(
        &app,
        "alice",
        Method::GET,
        "/api/tasks",
        &[("if-none-match", &tag)],
        None,
    )
    .await;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(etag(&cached), tag);
    assert!(cached.bytes().await.unwrap().is_empty());

    // Another query is another answer; the same query on the per-user path is the same answer.
    let filtered = send(
        &app,
        "alice",
        Method::GET,
        "/api/tasks?completed=false",
        &[("if-none-match", &tag)],
        None,
    )
    .await;
    assert_eq!(filtered.status(), StatusCode::OK);
    let per_user = send(
        &app,
        "alice",
        Method::GET,
        "/api/alice/tasks",
        &[("if-none-match", &tag)],
        None,
    )
    .await;
    assert_eq!(per_user.status(), StatusCode::NOT_MODIFIED);
    // Another user's empty list is not this one.
    let bobs = send(&app, "bob", Method::GET, "/api/tasks", &[("if-none-match", &tag)], None).await;
    assert_eq!(bobs.status(), StatusCode::OK);

    // Any change to a listed task changes the list's tag; so does a new task.
    app.update_task("alice", first, json!({"title": "One, renamed"})).await;
    let changed = send(
        &app,
        "alice",
        Method::GET,
        "/api/tasks",
        &[("if-none-match", &tag)],
        None,
    )
    .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let renamed_tag = etag(&changed);
    assert_ne!(renamed_tag, tag);
    app.create_titled("alice", "Three").await;
    let grown = send(
        &app,
        "alice",
        Method::GET,
        "/api/tasks",
        &[("if-none-match", &renamed_tag)],
        None,
    )
    .await;
    assert_eq!(grown.status(), StatusCode::OK);
}
