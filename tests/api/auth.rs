//! User story 2: every API request is authenticated by a Better Auth JWT, and only by one.

use base64::Engine;
use jsonwebtoken::Algorithm;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{SECRET, TestApp, assert_error, now, sign, sign_with, spawn_app, spawn_app_with, token_for};

/// Every operation under /api, with a body where it takes one.
fn protected_requests(app: &TestApp, id: i64) -> Vec<reqwest::RequestBuilder> {
    let task = format!("/api/tasks/{id}");
    vec![
        app.anonymous(Method::GET, "/api/tasks"),
        app.anonymous(Method::POST, "/api/tasks").json(&json!({"title": "x"})),
        app.anonymous(Method::GET, &task),
        app.anonymous(Method::PUT, &task).json(&json!({"title": "x"})),
        app.anonymous(Method::PATCH, &task).json(&json!({"title": "x"})),
        app.anonymous(Method::PATCH, &format!("{task}/complete")),
        app.anonymous(Method::DELETE, &task),
    ]
}

async fn assert_rejected(app: &TestApp, authorization: Option<&str>, code: &str, challenge: &str) {
    let id = app.create_titled("alice", "target").await;
    for request in protected_requests(app, id) {
        let request = match authorization {
            Some(value) => request.header("authorization", value),
            None => request,
        };
        let resp = request.send().await.unwrap();
        assert_eq!(resp.headers()["www-authenticate"], challenge);
        assert_error(resp, StatusCode::UNAUTHORIZED, code).await;
    }
    // Nothing was changed by the rejected calls.
    let task = app.get_task("alice", id).await.json::<Value>().await.unwrap();
    assert_eq!(
        (task["title"].as_str(), task["completed"].as_bool()),
        (Some("target"), Some(false))
    );
}

const INVALID: &str = r#"Bearer error="invalid_token""#;

#[tokio::test]
async fn a_missing_authorization_header_is_401_on_every_operation() {
    let app = spawn_app().await;
    assert_rejected(&app, None, "missing_token", "Bearer").await;
}

#[tokio::test]
async fn another_scheme_or_an_empty_bearer_is_401() {
    let app = spawn_app().await;
    assert_rejected(
        &app,
        Some(&format!("Basic {}", token_for("alice"))),
        "missing_token",
        "Bearer",
    )
    .await;
    assert_rejected(&app, Some("Bearer"), "missing_token", "Bearer").await;
    assert_rejected(&app, Some(&token_for("alice")), "missing_token", "Bearer").await;
}

#[tokio::test]
async fn the_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let resp = app
            .anonymous(Method::GET, "/api/tasks")
            .header("authorization", format!("{scheme} {}", token_for("alice")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{scheme}");
    }
}

#[tokio::test]
async fn a_malformed_token_is_401_invalid_token() {
    let app = spawn_app().await;
    assert_rejected(&app, Some("Bearer not.a.jwt"), "invalid_token", INVALID).await;
    assert_rejected(&app, Some("Bearer abc"), "invalid_token", INVALID).await;
}

#[tokio::test]
async fn a_token_with_a_bad_signature_is_401() {
    let app = spawn_app().await;
    let token = token_for("alice");
    let (head, _) = token.rsplit_once('.').unwrap();
    let tampered = format!("Bearer {head}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_rejected(&app, Some(&tampered), "invalid_token", INVALID).await;
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_401() {
    let app = spawn_app().await;
    let token = sign_with(
        Algorithm::HS256,
        "some-other-secret",
        json!({"sub": "alice", "exp": now() + 600}),
    );
    assert_rejected(&app, Some(&format!("Bearer {token}")), "invalid_token", INVALID).await;
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_401() {
    let app = spawn_app().await;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let token = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(json!({"sub": "alice", "exp": now() + 600}))
    );
    assert_rejected(&app, Some(&format!("Bearer {token}")), "invalid_token", INVALID).await;
}

#[tokio::test]
async fn an_expired_token_is_401_token_expired() {
    let app = spawn_app().await;
    let token = sign(json!({"sub": "alice", "exp": now() - 120}));
    assert_rejected(&app, Some(&format!("Bearer {token}")), "token_expired", INVALID).await;
}

#[tokio::test]
async fn a_token_expired_within_the_leeway_is_accepted() {
    let app = spawn_app().await;
    let token = sign(json!({"sub": "alice", "exp": now() - 5}));
    let resp = app.list_with_token(&token).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_token_accepted_before_is_401_token_expired_once_it_expires() {
    let app = spawn_app_with(&[("JWT_LEEWAY_SECONDS", "0")]).await;
    let expires_at = now() + 2;
    let token = sign(json!({"sub": "alice", "exp": expires_at}));
    for _ in 0..2 {
        assert_eq!(app.list_with_token(&token).await.status(), StatusCode::OK);
    }
    // Past `exp` (whole seconds: refused once the clock reads `exp + 1`).
    while now() <= expires_at {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_error(
        app.list_with_token(&token).await,
        StatusCode::UNAUTHORIZED,
        "token_expired",
    )
    .await;
}

#[tokio::test]
async fn a_token_without_exp_is_401() {
    let app = spawn_app().await;
    let token = sign(json!({"sub": "alice"}));
    assert_rejected(&app, Some(&format!("Bearer {token}")), "invalid_token", INVALID).await;
}

#[tokio::test]
async fn a_token_not_valid_yet_is_401() {
    let app = spawn_app().await;
    let token = sign(json!({"sub": "alice", "exp": now() + 3600, "nbf": now() + 600}));
    assert_rejected(&app, Some(&format!("Bearer {token}")), "token_not_yet_valid", INVALID).await;
}

#[tokio::test]
async fn a_token_without_a_user_id_is_401() {
    let app = spawn_app().await;
    let token = sign(json!({"email": "alice@example.com", "exp": now() + 600}));
    assert_rejected(&app, Some(&format!("Bearer {token}")), "invalid_token", INVALID).await;
}

#[tokio::test]
async fn hs384_and_hs512_tokens_are_accepted() {
    let app = spawn_app().await;
    for algorithm in [Algorithm::HS384, Algorithm::HS512] {
        let token = sign_with(algorithm, SECRET, json!({"sub": "alice", "exp": now() + 600}));
        let resp = app.list_with_token(&token).await;
        assert_eq!(resp.status(), StatusCode::OK, "{algorithm:?}");
    }
}

#[tokio::test]
async fn an_algorithm_not_on_the_allow_list_is_401() {
    let app = spawn_app_with(&[("JWT_ALGORITHMS", "HS256")]).await;
    let token = sign_with(Algorithm::HS512, SECRET, json!({"sub": "alice", "exp": now() + 600}));
    assert_rejected(&app, Some(&format!("Bearer {token}")), "invalid_token", INVALID).await;
}

#[tokio::test]
async fn the_user_id_may_come_from_user_id_userid_id_or_user_dot_id() {
    let app = spawn_app().await;
    for claims in [
        json!({"user_id": "alice", "exp": now() + 600}),
        json!({"userId": "alice", "exp": now() + 600}),
        json!({"id": "alice", "exp": now() + 600}),
        json!({"user": {"id": "alice", "email": "a@x.io"}, "exp": now() + 600}),
    ] {
        let resp = app
            .anonymous(Method::POST, "/api/tasks")
            .bearer_auth(sign(claims.clone()))
            .json(&json!({"title": "mine"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.json::<Value>().await.unwrap()["user_id"], "alice", "{claims}");
    }
}

#[tokio::test]
async fn a_token_repeating_its_user_id_claim_is_401() {
    // RFC 7519 §4: claim names must be unique; a parser may refuse a repeat, and this one does,
    // rather than pick one of two identities.
    let app = spawn_app().await;
    let b64 = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    let signing_input = format!(
        "{}.{}",
        b64(r#"{"alg":"HS256","typ":"JWT"}"#),
        b64(&format!(r#"{{"sub":"alice","sub":"mallory","exp":{}}}"#, now() + 600))
    );
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    let signature = jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key, Algorithm::HS256).unwrap();
    let token = format!("Bearer {signing_input}.{signature}");
    assert_rejected(&app, Some(&token), "invalid_token", INVALID).await;
}

#[tokio::test]
async fn a_token_carrying_an_audience_is_accepted_when_none_is_configured() {
    let app = spawn_app().await;
    let token = sign(
        json!({"sub": "alice", "aud": "http://localhost:3000", "iss": "http://localhost:3000", "exp": now() + 600}),
    );
    let resp = app.list_with_token(&token).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn issuer_and_audience_are_enforced_when_configured() {
    let app = spawn_app_with(&[("JWT_ISSUER", "https://auth.example"), ("JWT_AUDIENCE", "todo-api")]).await;
    let good = sign(json!({"sub": "alice", "iss": "https://auth.example", "aud": "todo-api", "exp": now() + 600}));
    let resp = app.list_with_token(&good).await;
    assert_eq!(resp.status(), StatusCode::OK);

    for claims in [
        json!({"sub": "alice", "iss": "https://evil.example", "aud": "todo-api", "exp": now() + 600}),
        json!({"sub": "alice", "iss": "https://auth.example", "aud": "other", "exp": now() + 600}),
        json!({"sub": "alice", "aud": "todo-api", "exp": now() + 600}),
    ] {
        let resp = app
            .anonymous(Method::GET, "/api/tasks")
            .bearer_auth(sign(claims.clone()))
            .send()
            .await
            .unwrap();
        assert_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

#[tokio::test]
async fn identity_never_comes_from_the_query_cookies_or_custom_headers() {
    let app = spawn_app().await;
    let token = token_for("alice");
    let attempts = [
        app.anonymous(
            Method::GET,
            &format!("/api/tasks?token={token}&access_token={token}&user_id=alice"),
        ),
        app.anonymous(Method::GET, "/api/tasks")
            .header("cookie", format!("token={token}; better-auth.session_token={token}")),
        app.anonymous(Method::GET, "/api/tasks")
            .header("x-user-id", "alice")
            .header("x-auth-token", token.clone()),
    ];
    for request in attempts {
        assert_error(request.send().await.unwrap(), StatusCode::UNAUTHORIZED, "missing_token").await;
    }
}

#[tokio::test]
async fn a_missing_token_wins_over_a_bad_body() {
    let app = spawn_app().await;
    let resp = app
        .anonymous(Method::POST, "/api/tasks")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::UNAUTHORIZED, "missing_token").await;
}
