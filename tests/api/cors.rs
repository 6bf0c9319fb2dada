//! CORS for browser frontends: allowed origins are echoed with credentials, others get nothing.

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, spawn_app, spawn_app_with, token_for};

async fn preflight(app: &TestApp, origin: &str, method: &str) -> reqwest::Response {
    app.anonymous(Method::OPTIONS, "/api/tasks/1")
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .unwrap()
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_succeeds_without_a_token() {
    let app = spawn_app().await;
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        let resp = preflight(&app, "http://localhost:3000", method).await;
        assert!(resp.status().is_success(), "{method}: {}", resp.status());
        assert_eq!(
            header(&resp, "access-control-allow-origin"),
            Some("http://localhost:3000")
        );
        assert_eq!(header(&resp, "access-control-allow-credentials"), Some("true"));
        assert_eq!(
            header(&resp, "access-control-allow-methods"),
            Some("GET, POST, PUT, PATCH, DELETE, OPTIONS")
        );
        assert_eq!(
            header(&resp, "access-control-allow-headers"),
            Some("Authorization, Content-Type, Accept, X-Requested-With, If-Match, If-None-Match, Idempotency-Key")
        );
        assert_eq!(header(&resp, "access-control-max-age"), Some("600"));
        assert_eq!(header(&resp, "vary"), Some("Origin"));
    }
}

#[tokio::test]
async fn actual_requests_from_an_allowed_origin_carry_the_cors_headers_errors_included() {
    let app = spawn_app().await;
    let ok = app
        .as_user("alice", Method::GET, "/api/tasks")
        .header("origin", "http://127.0.0.1:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        header(&ok, "access-control-allow-origin"),
        Some("http://127.0.0.1:3000")
    );
    assert_eq!(header(&ok, "access-control-allow-credentials"), Some("true"));
    assert!(ok.headers().get_all("vary").iter().any(|v| v == "Origin"));

    let unauthorized = app
        .anonymous(Method::GET, "/api/tasks")
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&unauthorized, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );

    let not_found = app
        .as_user("alice", Method::GET, "/api/tasks/12345")
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(not_found.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        header(&not_found, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let exposed = header(&not_found, "access-control-expose-headers").unwrap();
    for name in ["Location", "WWW-Authenticate", "ETag"] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
}

#[tokio::test]
async fn a_foreign_origin_gets_no_cors_headers() {
    let app = spawn_app().await;
    let pre = preflight(&app, "https://evil.example", "DELETE").await;
    assert!(pre.headers().get("access-control-allow-origin").is_none());
    assert!(pre.headers().get("access-control-allow-credentials").is_none());

    let actual = app
        .anonymous(Method::GET, "/api/tasks")
        .bearer_auth(token_for("alice"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        actual.status(),
        StatusCode::OK,
        "the server answers; the browser is what blocks the page"
    );
    assert!(actual.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn configured_origins_and_subdomain_patterns_are_honoured() {
    let app = spawn_app_with(&[("CORS_ORIGINS", "https://app.example.com, https://*.vercel.app")]).await;
    assert_eq!(
        header(
            &preflight(&app, "https://app.example.com", "GET").await,
            "access-control-allow-origin"
        ),
        Some("https://app.example.com")
    );
    assert_eq!(
        header(
            &preflight(&app, "https://todo-git-main-me.vercel.app", "POST").await,
            "access-control-allow-origin"
        ),
        Some("https://todo-git-main-me.vercel.app")
    );
    assert!(
        preflight(&app, "http://localhost:3000", "GET")
            .await
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert!(
        preflight(&app, "https://vercel.app.evil.example", "GET")
            .await
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn the_wildcard_is_never_sent() {
    let app = spawn_app().await;
    let resp = preflight(&app, "http://localhost:3000", "GET").await;
    assert_ne!(header(&resp, "access-control-allow-origin"), Some("*"));
}
