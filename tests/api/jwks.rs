//! Better Auth `jwt()` tokens through the API, against a JWKS endpoint served here: rotation,
//! rate-limited refreshes, an unreachable key source, health. (The interop test does the same
//! against the real Better Auth.)

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{EndpointExt, IntoResponse, Route, get, handler};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, json_with_status, spawn_app_with, token_for};
use crate::keys::{TestKey, key_set};

/// A stand-in for Better Auth's `/api/auth/jwks`: the served set can change, go down, and counts
/// its hits.
#[derive(Clone, Default)]
struct KeySource {
    keys: Arc<Mutex<Value>>,
    up: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
}

#[handler]
fn serve_jwks(source: Data<&KeySource>) -> poem::Response {
    source.hits.fetch_add(1, Ordering::SeqCst);
    if !source.up.load(Ordering::SeqCst) {
        return poem::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    poem::web::Json(source.keys.lock().unwrap().clone()).into_response()
}

impl KeySource {
    async fn start(keys: Value) -> (KeySource, String) {
        let source = KeySource::default();
        *source.keys.lock().unwrap() = keys;
        source.up.store(true, Ordering::SeqCst);
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
        let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
        let app = Route::new().at("/api/auth/jwks", get(serve_jwks)).data(source.clone());
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
        (source, format!("http://127.0.0.1:{port}"))
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn better_auth_claims(base_url: &str, user: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": user, "id": user, "email": format!("{user}@example.com"), "name": user, "emailVerified": false,
           "iss": base_url, "aud": base_url, "iat": now, "exp": now + 900})
}

async fn app_for(base_url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![("BETTER_AUTH_URL", base_url)];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

#[tokio::test]
async fn a_better_auth_eddsa_token_creates_and_lists_that_users_tasks() {
    let key = TestKey::ed25519("k1");
    let (_source, base) = KeySource::start(key_set(&[&key])).await;
    let app = app_for(&base, &[]).await;
    let token = key.sign(&better_auth_claims(&base, "ba-user"));

    let resp = app
        .anonymous(Method::POST, "/api/tasks")
        .bearer_auth(&token)
        .json(&json!({"title": "from Better Auth"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_with_status(resp, StatusCode::CREATED).await["user_id"], "ba-user");
    let list = app.list_with_token(&token).await;
    assert_eq!(
        json_with_status(list, StatusCode::OK).await.as_array().unwrap().len(),
        1
    );
    // HS256 tokens keep working beside the JWKS.
    assert_eq!(app.list_with_token(&token_for("alice")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_token_from_another_issuer_is_401_even_with_a_published_key() {
    let key = TestKey::ed25519("k1");
    let (_source, base) = KeySource::start(key_set(&[&key])).await;
    let app = app_for(&base, &[]).await;
    let token = key.sign(&better_auth_claims("https://evil.example", "mallory"));
    assert_error(
        app.list_with_token(&token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

/// The status of a list with a fresh token for user `u`, signed by `key`.
async fn list_status_signed_by(app: &TestApp, key: &TestKey, base: &str) -> StatusCode {
    app.list_with_token(&key.sign(&better_auth_claims(base, "u")))
        .await
        .status()
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_without_a_restart() {
    let old = TestKey::ed25519("old");
    let (source, base) = KeySource::start(key_set(&[&old])).await;
    let app = app_for(&base, &[("JWKS_MIN_REFRESH_SECONDS", "0")]).await;
    assert_eq!(list_status_signed_by(&app, &old, &base).await, StatusCode::OK);

    let new = TestKey::ed25519("new");
    *source.keys.lock().unwrap() = key_set(&[&new, &old]);

    assert_eq!(list_status_signed_by(&app, &new, &base).await, StatusCode::OK);
    assert_eq!(
        list_status_signed_by(&app, &old, &base).await,
        StatusCode::OK,
        "grace period"
    );
}

#[tokio::test]
async fn a_withdrawn_key_stops_verifying_even_a_token_accepted_before() {
    let old = TestKey::ed25519("old");
    let (source, base) = KeySource::start(key_set(&[&old])).await;
    let app = app_for(&base, &[("JWKS_MIN_REFRESH_SECONDS", "0")]).await;
    let accepted_before = old.sign(&better_auth_claims(&base, "u"));
    for _ in 0..2 {
        assert_eq!(app.list_with_token(&accepted_before).await.status(), StatusCode::OK);
    }

    // Better Auth rotates the old key out; a token under the new key fetches the new set.
    let new = TestKey::ed25519("new");
    *source.keys.lock().unwrap() = key_set(&[&new]);
    assert_eq!(list_status_signed_by(&app, &new, &base).await, StatusCode::OK);
    assert_error(
        app.list_with_token(&accepted_before).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_the_key_set_at_most_once_per_interval() {
    let key = TestKey::ed25519("k1");
    let (source, base) = KeySource::start(key_set(&[&key])).await;
    let app = app_for(&base, &[]).await;
    assert_eq!(
        app.list_with_token(&key.sign(&better_auth_claims(&base, "u")))
            .await
            .status(),
        StatusCode::OK
    );
    let fetched = source.hits();

    for i in 0..40 {
        let stranger = TestKey::ed25519(&format!("bogus-{i}"));
        let resp = app
            .list_with_token(&stranger.sign(&better_auth_claims(&base, "u")))
            .await;
        assert_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    assert!(
        source.hits() - fetched <= 1,
        "{} fetches for 40 unknown kids",
        source.hits() - fetched
    );
}

#[tokio::test]
async fn an_unreachable_key_source_gives_503_until_it_answers_then_tokens_verify() {
    let key = TestKey::ed25519("k1");
    let (source, base) = KeySource::start(key_set(&[&key])).await;
    source.up.store(false, Ordering::SeqCst);
    let app = app_for(&base, &[("JWKS_MIN_REFRESH_SECONDS", "0")]).await;
    let token = key.sign(&better_auth_claims(&base, "u"));

    assert_error(
        app.list_with_token(&token).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "auth_unavailable",
    )
    .await;
    assert_eq!(
        app.list_with_token(&token_for("alice")).await.status(),
        StatusCode::OK,
        "HS256 is unaffected"
    );
    let health = json_with_status(
        app.anonymous(Method::GET, "/health").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(health["jwks"], "unavailable");

    source.up.store(true, Ordering::SeqCst);
    assert_eq!(app.list_with_token(&token).await.status(), StatusCode::OK);
    let health = json_with_status(
        app.anonymous(Method::GET, "/health").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(health, json!({"status": "ok", "database": "ok", "jwks": "ok"}));

    // Down again: the cached keys keep serving and health says they are stale.
    source.up.store(false, Ordering::SeqCst);
    let stranger = TestKey::ed25519("unknown");
    app.list_with_token(&stranger.sign(&better_auth_claims(&base, "u")))
        .await;
    assert_eq!(app.list_with_token(&token).await.status(), StatusCode::OK);
    let health = json_with_status(
        app.anonymous(Method::GET, "/health").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(health["jwks"], "stale");
}

#[tokio::test]
async fn rs256_and_es256_tokens_verify_through_the_api() {
    let rsa = TestKey::rsa("rsa", jsonwebtoken::Algorithm::RS256);
    let ec = TestKey::es256("ec");
    let (_source, base) = KeySource::start(key_set(&[&rsa, &ec])).await;
    let app = app_for(&base, &[]).await;
    for key in [&rsa, &ec] {
        let resp = app.list_with_token(&key.sign(&better_auth_claims(&base, "u"))).await;
        assert_eq!(resp.status(), StatusCode::OK, "{:?}", key.algorithm);
    }
}
