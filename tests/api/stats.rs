//! `GET /api/tasks/stats`: the caller's counts, in both path styles, equal to what the list's own
//! filters select.

use chrono::{Duration, Utc};
use chrono_tz::Tz;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, json_with_status, spawn_app};

async fn stats(app: &TestApp, user: &str, path: &str) -> Value {
    let resp = app.as_user(user, Method::GET, path).send().await.unwrap();
    json_with_status(resp, StatusCode::OK).await
}

#[tokio::test]
async fn a_caller_without_tasks_gets_zeros() {
    let app = spawn_app().await;
    assert_eq!(
        stats(&app, "alice", "/api/tasks/stats").await,
        json!({"total": 0, "completed": 0, "pending": 0, "overdue": 0, "due_today": 0,
               "by_priority": {"none": 0, "low": 0, "medium": 0, "high": 0, "urgent": 0}})
    );
}

#[tokio::test]
async fn the_counts_are_the_callers_own_and_agree_with_the_lists_filters() {
    let app = spawn_app().await;
    let now = Utc::now();
    let yesterday = (now - Duration::days(1)).date_naive().to_string();
    let next_week = (now + Duration::days(7)).date_naive().to_string();
    let an_hour_ago = (now - Duration::hours(1)).to_rfc3339();
    for body in [
        json!({"title": "late, a date", "due_date": yesterday, "priority": "high"}),
        json!({"title": "late, an instant", "due_date": an_hour_ago, "priority": "critical"}),
        json!({"title": "late but done", "due_date": yesterday, "completed": true, "priority": "low"}),
        json!({"title": "later", "due_date": next_week, "priority": "none"}),
        json!({"title": "plain"}),
        json!({"title": "done", "completed": true, "priority": "normal"}),
    ] {
        app.create_task("alice", body).await;
    }
    app.create_task("bob", json!({"title": "not alice's", "due_date": yesterday}))
        .await;

    let counts = stats(&app, "alice", "/api/tasks/stats").await;
    assert_eq!(counts["total"], 6);
    assert_eq!(counts["completed"], 2);
    assert_eq!(counts["pending"], 4);
    assert_eq!(counts["overdue"], 2);
    assert_eq!(
        counts["by_priority"],
        json!({"none": 1, "low": 1, "medium": 2, "high": 1, "urgent": 1})
    );
    // The same numbers as the list's filters, on every back end.
    let listed = |query: &'static str| {
        let app = &app;
        async move { app.list_tasks("alice", query).await.len() }
    };
    assert_eq!(counts["overdue"], listed("?overdue=true").await);
    assert_eq!(counts["completed"], listed("?completed=true").await);
    assert_eq!(counts["pending"], listed("?status=pending").await);
    assert_eq!(
        counts["due_today"],
        listed("?due_date_filter=today&completed=false").await
    );
    // The per-user path counts the same.
    assert_eq!(stats(&app, "alice", "/api/alice/tasks/stats").await, counts);
}

/// Today's date in `zone`, and whether it is still that date after `body` ran.
async fn on_one_day<F: Future<Output = Value>>(zone: Tz, body: impl Fn(String) -> F) -> Value {
    loop {
        let today = Utc::now().with_timezone(&zone).date_naive();
        let answer = body(today.to_string()).await;
        if Utc::now().with_timezone(&zone).date_naive() == today {
            return answer;
        }
    }
}

#[tokio::test]
async fn due_today_follows_the_time_zone_named_in_tz() {
    let app = spawn_app().await;
    let kiritimati: Tz = "Pacific/Kiritimati".parse().unwrap();
    let (here, there) = on_one_day(kiritimati, |today| {
        let app = &app;
        async move {
            app.create_task("alice", json!({"title": "today at UTC+14", "due_date": today}))
                .await;
            let here = stats(app, "alice", "/api/tasks/stats?tz=Pacific/Kiritimati").await;
            // At UTC-11 that date is one or two days ahead: neither today nor overdue.
            let there = stats(app, "alice", "/api/tasks/stats?tz=Pacific/Pago_Pago").await;
            json!([here, there])
        }
    })
    .await
    .as_array()
    .map(|pair| (pair[0].clone(), pair[1].clone()))
    .unwrap();
    assert_eq!(
        (here["due_today"].as_u64(), here["overdue"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        (there["due_today"].as_u64(), there["overdue"].as_u64()),
        (Some(0), Some(0))
    );
    // An unknown zone is UTC, never an error.
    let unknown = stats(&app, "alice", "/api/tasks/stats?tz=Not/AZone").await;
    let utc = stats(&app, "alice", "/api/tasks/stats").await;
    assert_eq!(unknown, utc);
}

#[tokio::test]
async fn stats_need_a_token_and_the_per_user_path_the_tokens_own_user() {
    let app = spawn_app().await;
    let resp = app.anonymous(Method::GET, "/api/tasks/stats").send().await.unwrap();
    assert_error(resp, StatusCode::UNAUTHORIZED, "missing_token").await;
    let resp = app
        .as_user("bob", Method::GET, "/api/alice/tasks/stats")
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::FORBIDDEN, "user_mismatch").await;
}
