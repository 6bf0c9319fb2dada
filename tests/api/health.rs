//! `/health` and `/api/health` report the service and its database, without a token.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{json_with_status, spawn_app};

#[tokio::test]
async fn health_is_ok_without_a_token_on_both_paths() {
    let app = spawn_app().await;
    for path in ["/health", "/api/health"] {
        let resp = app.anonymous(Method::GET, path).send().await.unwrap();
        assert_eq!(
            json_with_status(resp, StatusCode::OK).await,
            json!({"status": "ok", "database": "ok"})
        );
    }
}

#[tokio::test]
async fn health_is_503_unavailable_when_the_database_does_not_answer() {
    let app = spawn_app().await;
    app.db.clone().close().await.unwrap();

    for path in ["/health", "/api/health"] {
        let resp = app.anonymous(Method::GET, path).send().await.unwrap();
        let body = json_with_status(resp, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(body["status"], "unavailable");
        assert_eq!(body["database"], "unavailable");
        assert_eq!(body["code"], "database_unavailable");
        assert_eq!(body["detail"], body["message"]);
    }
}
