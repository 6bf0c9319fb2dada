//! `Idempotency-Key` on `POST /api/tasks` and the completion toggles: a retry gets the first
//! answer again (`Idempotent-Replayed: true`) and nothing is written twice; another request
//! with the same key is 422, a retry while the first still runs is 409, a malformed key is 400.
//! Without the header every operation behaves as before (the rest of the suite).

use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, json_with_status, spawn_app, spawn_app_behind_proxy, token_for};

/// An answer read whole: status, the headers a retry must repeat, and the exact body bytes.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: StatusCode,
    location: Option<String>,
    etag: Option<String>,
    replayed: Option<String>,
    body: String,
}

impl Answer {
    async fn read(resp: Response) -> Self {
        let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        let (location, etag, replayed) = (header("location"), header("etag"), header("idempotent-replayed"));
        Answer {
            status: resp.status(),
            location,
            etag,
            replayed,
            body: resp.text().await.unwrap(),
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// The same answer, but as a replay.
    fn replayed(&self) -> Self {
        Answer {
            status: self.status,
            location: self.location.clone(),
            etag: self.etag.clone(),
            replayed: Some("true".to_owned()),
            body: self.body.clone(),
        }
    }
}

async fn keyed(app: &TestApp, user: &str, method: Method, path: &str, key: &str, body: Option<Value>) -> Response {
    let mut request = app.as_user(user, method, path).header("idempotency-key", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn keyed_create(app: &TestApp, user: &str, key: &str, body: Value) -> Answer {
    Answer::read(keyed(app, user, Method::POST, "/api/tasks", key, Some(body)).await).await
}

#[tokio::test]
async fn a_retried_create_gets_the_first_answer_byte_for_byte_and_creates_once() {
    let app = spawn_app().await;
    let body = json!({"title": "Buy milk", "priority": "high", "tags": ["home"]});

    let first = keyed_create(&app, "alice", "3f1c2b9e-create", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.replayed, None, "a first answer is not a replay");
    let task = first.json();
    assert_eq!(first.location, Some(format!("/api/tasks/{}", task["id"])));
    assert_eq!(first.etag.as_deref(), Some("\"1\""));
    assert_eq!(task["title"], "Buy milk");

    for _ in 0..3 {
        let retry = keyed_create(&app, "alice", "3f1c2b9e-create", body.clone()).await;
        assert_eq!(retry, first.replayed());
    }
    assert_eq!(app.list_tasks("alice", "").await.len(), 1);

    // A replay is the answer as it was, even after the task changed since.
    let id = task["id"].as_i64().unwrap();
    let renamed = app.patch_task("alice", id, json!({"title": "Buy oat milk"})).await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let late = keyed_create(&app, "alice", "3f1c2b9e-create", body).await;
    assert_eq!(late, first.replayed());

    // The per-user path, and the quoted structured-field form of a key.
    let per_user = Answer::read(
        keyed(
            &app,
            "alice",
            Method::POST,
            "/api/alice/tasks",
            "\"k-2\"",
            Some(json!({"title": "Two"})),
        )
        .await,
    )
    .await;
    assert_eq!(per_user.status, StatusCode::CREATED);
    assert_eq!(
        per_user.location,
        Some(format!("/api/alice/tasks/{}", per_user.json()["id"]))
    );
    let again = keyed(
        &app,
        "alice",
        Method::POST,
        "/api/alice/tasks",
        "k-2",
        Some(json!({"title": "Two"})),
    )
    .await;
    assert_eq!(Answer::read(again).await, per_user.replayed());
    assert_eq!(app.list_tasks("alice", "").await.len(), 2);
}

#[tokio::test]
async fn the_same_key_for_another_request_is_422_and_changes_nothing() {
    let app = spawn_app().await;
    let first = keyed_create(&app, "alice", "reused", json!({"title": "A"})).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let id = first.json()["id"].as_i64().unwrap();

    let other_body = keyed(
        &app,
        "alice",
        Method::POST,
        "/api/tasks",
        "reused",
        Some(json!({"title": "B"})),
    )
    .await;
    assert_error(other_body, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
    let other_path = keyed(
        &app,
        "alice",
        Method::POST,
        "/api/alice/tasks",
        "reused",
        Some(json!({"title": "A"})),
    )
    .await;
    assert_error(other_path, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
    let other_operation = keyed(
        &app,
        "alice",
        Method::PATCH,
        &format!("/api/tasks/{id}/toggle"),
        "reused",
        None,
    )
    .await;
    assert_error(
        other_operation,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;

    let tasks = app.list_tasks("alice", "").await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["title"], "A");
    assert_eq!(tasks[0]["completed"], false, "the toggle did not run");
    // The original request still replays.
    let retry = keyed_create(&app, "alice", "reused", json!({"title": "A"})).await;
    assert_eq!(retry, first.replayed());
}

#[tokio::test]
async fn keys_are_per_user() {
    let app = spawn_app().await;
    let alice = keyed_create(&app, "alice", "shared-key", json!({"title": "Mine"})).await;
    let bob = keyed_create(&app, "bob", "shared-key", json!({"title": "Mine"})).await;
    assert_eq!((alice.status, bob.status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(bob.replayed, None, "another user's key never matches");
    assert_ne!(alice.json()["id"], bob.json()["id"]);
    assert_eq!(bob.json()["user_id"], "bob");
    assert_eq!(app.list_tasks("alice", "").await.len(), 1);
    assert_eq!(app.list_tasks("bob", "").await.len(), 1);
}

#[tokio::test]
async fn malformed_keys_are_400_and_nothing_is_written() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "Target").await;
    let too_long = "k".repeat(256);
    for key in ["", "two words", "tab\tinside", too_long.as_str()] {
        let create = keyed(
            &app,
            "alice",
            Method::POST,
            "/api/tasks",
            key,
            Some(json!({"title": "X"})),
        )
        .await;
        assert_error(create, StatusCode::BAD_REQUEST, "invalid_idempotency_key").await;
        let toggle = keyed(
            &app,
            "alice",
            Method::POST,
            &format!("/api/tasks/{id}/toggle"),
            key,
            None,
        )
        .await;
        assert_error(toggle, StatusCode::BAD_REQUEST, "invalid_idempotency_key").await;
    }
    // Non-ASCII bytes (sent raw, as obs-text).
    let non_ascii = app
        .as_user("alice", Method::POST, "/api/tasks")
        .header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes("clé".as_bytes()).unwrap(),
        )
        .json(&json!({"title": "X"}))
        .send()
        .await
        .unwrap();
    assert_error(non_ascii, StatusCode::BAD_REQUEST, "invalid_idempotency_key").await;
    let longest = keyed_create(&app, "alice", &"k".repeat(255), json!({"title": "Longest key"})).await;
    assert_eq!(longest.status, StatusCode::CREATED);

    let tasks = app.list_tasks("alice", "").await;
    assert_eq!(tasks.len(), 2, "only the task with a valid key was added");
    assert_eq!(tasks.iter().filter(|task| task["completed"] == true).count(), 0);

    // Without a token the answer is 401, whatever the key.
    let anonymous = app
        .anonymous(Method::POST, "/api/tasks")
        .header("idempotency-key", "")
        .json(&json!({"title": "X"}))
        .send()
        .await
        .unwrap();
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "missing_token").await;
}

#[tokio::test]
async fn a_toggle_retried_with_its_key_flips_once() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "Flip me").await;
    let toggles = [
        (Method::PATCH, format!("/api/tasks/{id}/toggle"), None),
        (Method::POST, format!("/api/tasks/{id}/toggle"), None),
        (Method::PATCH, format!("/api/tasks/{id}/complete"), None),
        (Method::PATCH, format!("/api/alice/tasks/{id}/toggle"), None),
        (Method::POST, format!("/api/alice/tasks/{id}/toggle"), None),
        (
            Method::PATCH,
            format!("/api/alice/tasks/{id}/complete"),
            Some(json!({})),
        ),
    ];
    for (round, (method, path, body)) in toggles.into_iter().enumerate() {
        let key = format!("toggle-{round}");
        let first = Answer::read(keyed(&app, "alice", method.clone(), &path, &key, body.clone()).await).await;
        assert_eq!(first.status, StatusCode::OK, "{method} {path}: {}", first.body);
        let expected = round % 2 == 0;
        assert_eq!(first.json()["completed"], expected, "{method} {path}");
        assert_eq!(first.etag, Some(format!("\"{}\"", round + 2)));
        for _ in 0..2 {
            let retry = Answer::read(keyed(&app, "alice", method.clone(), &path, &key, body.clone()).await).await;
            assert_eq!(retry, first.replayed(), "{method} {path}");
        }
        let now = json_with_status(app.get_task("alice", id).await, StatusCode::OK).await;
        assert_eq!(now["completed"], expected, "flipped once: {method} {path}");
        assert_eq!(now["etag"], format!("\"{}\"", round + 2));
    }
}

#[tokio::test]
async fn a_keyed_completion_with_a_body_sets_the_state_and_its_key_fits_only_that_body() {
    let app = spawn_app().await;
    let id = app.create_titled("alice", "Set me").await;
    let path = format!("/api/tasks/{id}/complete");
    let done = keyed(
        &app,
        "alice",
        Method::PATCH,
        &path,
        "set-1",
        Some(json!({"completed": true})),
    )
    .await;
    assert_eq!(json_with_status(done, StatusCode::OK).await["completed"], true);
    let reopen = keyed(
        &app,
        "alice",
        Method::PATCH,
        &path,
        "set-1",
        Some(json!({"completed": false})),
    )
    .await;
    assert_error(reopen, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
    let replay = keyed(
        &app,
        "alice",
        Method::PATCH,
        &path,
        "set-1",
        Some(json!({"completed": true})),
    )
    .await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(json_with_status(replay, StatusCode::OK).await["completed"], true);
}

#[tokio::test]
async fn failed_keyed_writes_keep_no_key_and_their_retry_runs_again() {
    let app = spawn_app().await;
    // 404: another user's task, then a missing one.
    let bobs = app.create_titled("bob", "Not yours").await;
    for id in [bobs, 999_999] {
        for _ in 0..2 {
            let toggle = keyed(
                &app,
                "alice",
                Method::PATCH,
                &format!("/api/tasks/{id}/toggle"),
                "missing",
                None,
            )
            .await;
            assert_error(toggle, StatusCode::NOT_FOUND, "task_not_found").await;
        }
    }
    // 412: a stale If-Match rolls the claim back; the retry with the current tag then runs.
    let id = app.create_titled("alice", "Guarded").await;
    let path = format!("/api/tasks/{id}/toggle");
    let stale = app
        .as_user("alice", Method::PATCH, &path)
        .header("idempotency-key", "guarded")
        .header("if-match", "\"9\"")
        .send()
        .await
        .unwrap();
    let body = assert_error(stale, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    assert_eq!(body["current"]["etag"], "\"1\"");
    let current = app
        .as_user("alice", Method::PATCH, &path)
        .header("idempotency-key", "guarded")
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(current.headers().get("idempotent-replayed"), None);
    assert_eq!(json_with_status(current, StatusCode::OK).await["completed"], true);
    // 422 from the body itself: nothing is claimed, so the corrected request can use the key.
    let invalid = keyed(
        &app,
        "alice",
        Method::POST,
        "/api/tasks",
        "fix-me",
        Some(json!({"title": ""})),
    )
    .await;
    assert_error(invalid, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let fixed = keyed_create(&app, "alice", "fix-me", json!({"title": "Fixed"})).await;
    assert_eq!((fixed.status, fixed.replayed), (StatusCode::CREATED, None));
    assert_eq!(app.list_tasks("bob", "").await.len(), 1);
    assert_eq!(app.list_tasks("bob", "").await[0]["completed"], false);
}

#[tokio::test]
async fn fifty_concurrent_sends_of_one_create_make_one_task() {
    let app = spawn_app().await;
    let body = json!({"title": "Exactly once", "description": "fifty sends, one task"});
    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let request = app
            .as_user("alice", Method::POST, "/api/tasks")
            .header("idempotency-key", "burst-1")
            .json(&body);
        sends.spawn(async move { Answer::read(request.send().await.unwrap()).await });
    }
    let answers = sends.join_all().await;

    let created: Vec<&Answer> = answers.iter().filter(|a| a.status == StatusCode::CREATED).collect();
    assert!(!created.is_empty(), "at least the first request answers 201");
    for answer in &answers {
        match answer.status {
            StatusCode::CREATED => assert_eq!(answer.body, created[0].body, "every 201 is the same answer"),
            StatusCode::CONFLICT => {
                let error: Value = answer.json();
                assert_eq!(error["code"], "idempotency_key_in_progress");
            }
            other => panic!("unexpected {other}: {}", answer.body),
        }
    }
    assert_eq!(
        created.iter().filter(|a| a.replayed.is_none()).count(),
        1,
        "exactly one answer is the original"
    );
    let tasks = app.list_tasks("alice", "").await;
    assert_eq!(tasks.len(), 1, "one task");

    let original = created.iter().find(|a| a.replayed.is_none()).unwrap();
    let later = keyed_create(&app, "alice", "burst-1", body).await;
    assert_eq!(&later, &original.replayed());
}

#[tokio::test]
async fn a_retry_while_the_first_request_still_runs_is_409_then_runs_once_the_key_is_free() {
    let Some((app, _proxy, direct_url)) =
        spawn_app_behind_proxy("a_retry_while_the_first_request_still_runs_is_409", &[]).await
    else {
        return;
    };
    // The first request, mid-flight: its claim inserted, its transaction not yet committed.
    let first = sea_orm::Database::connect(direct_url).await.unwrap();
    let in_flight = first.begin().await.unwrap();
    in_flight
        .execute_unprepared(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, created_at, expires_at) \
             VALUES ('alice', 'held', 'first', now(), now() + interval '1 hour')",
        )
        .await
        .unwrap();

    let retry = keyed(
        &app,
        "alice",
        Method::POST,
        "/api/tasks",
        "held",
        Some(json!({"title": "Held"})),
    )
    .await;
    assert_error(retry, StatusCode::CONFLICT, "idempotency_key_in_progress").await;
    assert!(app.list_tasks("alice", "").await.is_empty(), "nothing was written");
    // Other keys are not held up.
    let other = keyed_create(&app, "alice", "not-held", json!({"title": "Free"})).await;
    assert_eq!(other.status, StatusCode::CREATED);

    // The first request failed and rolled back: the key is free and the retry runs.
    in_flight.rollback().await.unwrap();
    let after = keyed_create(&app, "alice", "held", json!({"title": "Held"})).await;
    assert_eq!((after.status, after.replayed.as_deref()), (StatusCode::CREATED, None));
    assert_eq!(app.list_tasks("alice", "").await.len(), 2);
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_answered_by_its_retry_and_exists_once() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app().await;
    let body = r#"{"title":"Sent into the void"}"#;
    let host = app.address.trim_start_matches("http://").to_owned();
    let request = format!(
        "POST /api/tasks HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nIdempotency-Key: lost-answer\r\nContent-Length: {}\r\n\r\n{body}",
        token_for("alice"),
        body.len()
    );
    // The request is sent whole, then the connection is cut before any answer is read.
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    drop(stream);

    // The client retries, as a client does, until the first attempt is no longer in progress.
    let mut retry = None;
    for _ in 0..100 {
        let answer = Answer::read(
            app.as_user("alice", Method::POST, "/api/tasks")
                .header("idempotency-key", "lost-answer")
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        if answer.status != StatusCode::CONFLICT {
            retry = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let retry = retry.expect("the first attempt finished");
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.body);
    let tasks = app.list_tasks("alice", "").await;
    assert_eq!(tasks.len(), 1, "exactly one task");
    assert_eq!(
        retry.json()["id"],
        tasks[0]["id"],
        "the retry answers the task that exists"
    );
    assert_eq!(retry.json()["title"], "Sent into the void");
}

#[tokio::test]
async fn expired_keys_are_forgotten_and_swept() {
    let app = spawn_app_with_ttl().await;
    let first = keyed_create(&app, "alice", "old-key", json!({"title": "Day one"})).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let fresh = keyed_create(&app, "alice", "fresh-key", json!({"title": "Today"})).await;
    assert_eq!(fresh.status, StatusCode::CREATED);

    // The first key's time is up (its expiry moved back to its creation).
    app.db
        .execute_unprepared(
            "UPDATE idempotency_keys SET expires_at = created_at WHERE user_id = 'alice' AND key = 'old-key'",
        )
        .await
        .unwrap();
    let reused = keyed_create(&app, "alice", "old-key", json!({"title": "Another day"})).await;
    assert_eq!(
        (reused.status, reused.replayed.as_deref()),
        (StatusCode::CREATED, None),
        "an expired key names a new request: {}",
        reused.body
    );
    assert_ne!(reused.json()["id"], first.json()["id"]);
    // …and is kept again from now on.
    let retry = keyed_create(&app, "alice", "old-key", json!({"title": "Another day"})).await;
    assert_eq!(retry, reused.replayed());

    // The sweep deletes expired keys only; the service runs it by itself. It is the one
    // statement across users (on Citus, across shards): run it outside the app's single-shard
    // guard.
    let sweeper = match app.database_url() {
        Some(url) => todo_api::db::Db::new(sea_orm::Database::connect(url).await.unwrap(), true),
        None => app.db.clone(),
    };
    let now = chrono::Utc::now();
    assert_eq!(todo_api::idempotency::sweep_expired(&sweeper, now).await.unwrap(), 0);
    let in_two_hours = now + chrono::Duration::hours(2);
    assert_eq!(
        todo_api::idempotency::sweep_expired(&sweeper, in_two_hours)
            .await
            .unwrap(),
        2
    );
    assert_eq!(app.list_tasks("alice", "").await.len(), 3, "tasks stay; only keys go");
}

/// An app that keeps keys one hour (`IDEMPOTENCY_TTL_HOURS=1`).
async fn spawn_app_with_ttl() -> TestApp {
    crate::helpers::spawn_app_with(&[("IDEMPOTENCY_TTL_HOURS", "1")]).await
}

#[tokio::test]
async fn browsers_may_send_the_key_and_read_the_replay_mark() {
    let app = spawn_app().await;
    let preflight = app
        .anonymous(Method::OPTIONS, "/api/tasks")
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, idempotency-key",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    let allowed = preflight.headers()["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed.contains("Idempotency-Key"), "{allowed}");

    let created = keyed(
        &app,
        "alice",
        Method::POST,
        "/api/tasks",
        "cors",
        Some(json!({"title": "X"})),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let replay = app
        .as_user("alice", Method::POST, "/api/tasks")
        .header("origin", "http://localhost:3000")
        .header("idempotency-key", "cors")
        .json(&json!({"title": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let exposed = replay.headers()["access-control-expose-headers"].to_str().unwrap();
    assert!(
        exposed.contains("Idempotent-Replayed") && exposed.contains("ETag"),
        "{exposed}"
    );
}
