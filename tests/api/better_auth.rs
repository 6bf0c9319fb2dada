//! Interop with the real `better-auth` package (pinned in `tests/interop/better-auth`): a Better
//! Auth server with the `jwt()` plugin runs on loopback, users sign up through its own handler the
//! way the frontend does, and the tokens it issues are used against the API unchanged.
//!
//! Needs Node.js and `npm ci --prefix tests/interop/better-auth` (CI does both and fails without
//! them; a developer machine without them skips these tests with a notice).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, json_with_status, spawn_app_with};

/// A running Better Auth issuer (`issuer.mjs`).
struct Issuer {
    child: Child,
    base_url: String,
    client: reqwest::Client,
}

/// A user signed up through Better Auth.
struct BetterAuthUser {
    id: String,
    jwt: String,
    session_token: String,
    cookie: String,
}

impl Issuer {
    /// Starts the issuer; `None` (after a notice) when Node or the package is not installed
    /// outside CI. In CI a missing piece fails the test.
    fn start(envs: &[(&str, &str)]) -> Option<Issuer> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/better-auth");
        let installed = dir.join("node_modules/better-auth/package.json").exists();
        let node = Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success());
        if !(installed && node) {
            let problem = format!(
                "Better Auth interop needs Node.js and `npm ci --prefix tests/interop/better-auth` (node: {node}, package installed: {installed})"
            );
            assert!(std::env::var_os("CI").is_none(), "{problem}");
            eprintln!("SKIPPED: {problem}");
            return None;
        }
        let mut child = Command::new("node")
            .arg("issuer.mjs")
            .current_dir(&dir)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("issuer did not start: {line:?}"));
        Some(Issuer {
            child,
            base_url: ready["baseURL"].as_str().unwrap().to_owned(),
            client: crate::helpers::http_client(),
        })
    }

    async fn sign_up(&self, name: &str) -> BetterAuthUser {
        let body = json!({"email": format!("{name}@example.com"), "password": "correct horse battery", "name": name});
        let resp = self
            .client
            .post(format!("{}/test/users", self.base_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
        let user: Value = resp.json().await.unwrap();
        BetterAuthUser {
            id: user["userId"].as_str().unwrap().to_owned(),
            jwt: user["jwt"].as_str().unwrap().to_owned(),
            session_token: user["sessionToken"].as_str().unwrap().to_owned(),
            cookie: user["cookie"].as_str().unwrap().to_owned(),
        }
    }

    /// A fresh JWT for the user's session (`GET /api/auth/token`).
    async fn token(&self, user: &BetterAuthUser) -> String {
        let resp = self
            .client
            .post(format!("{}/test/token", self.base_url))
            .json(&json!({"cookie": user.cookie}))
            .send()
            .await
            .unwrap();
        resp.json::<Value>().await.unwrap()["jwt"].as_str().unwrap().to_owned()
    }

    async fn app(&self, extra: &[(&str, &str)]) -> TestApp {
        let mut vars = vec![("BETTER_AUTH_URL", self.base_url.as_str())];
        vars.extend_from_slice(extra);
        spawn_app_with(&vars).await
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn header_alg(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt)
        .map(|h| format!("{:?}", h.alg))
        .unwrap_or_default()
}

#[tokio::test]
async fn a_better_auth_user_creates_and_lists_tasks_and_users_stay_isolated() {
    let Some(issuer) = Issuer::start(&[]) else { return };
    let app = issuer.app(&[]).await;
    let alice = issuer.sign_up("alice").await;
    let bob = issuer.sign_up("bob").await;
    assert_eq!(header_alg(&alice.jwt), "EdDSA", "Better Auth's default");

    let created = app
        .anonymous(Method::POST, "/api/tasks")
        .bearer_auth(&alice.jwt)
        .json(&json!({"title": "Signed in with Better Auth"}))
        .send()
        .await
        .unwrap();
    let task = json_with_status(created, StatusCode::CREATED).await;
    assert_eq!(task["user_id"], alice.id.as_str());

    let alices = json_with_status(app.list_with_token(&alice.jwt).await, StatusCode::OK).await;
    assert_eq!(alices.as_array().unwrap().len(), 1);
    let bobs = json_with_status(app.list_with_token(&bob.jwt).await, StatusCode::OK).await;
    assert_eq!(bobs, json!([]));
    let stolen = app
        .anonymous(Method::GET, &format!("/api/tasks/{}", task["id"]))
        .bearer_auth(&bob.jwt)
        .send()
        .await
        .unwrap();
    assert_error(stolen, StatusCode::NOT_FOUND, "task_not_found").await;
}

#[tokio::test]
async fn better_auths_opaque_session_token_is_not_a_bearer_token() {
    let Some(issuer) = Issuer::start(&[]) else { return };
    let app = issuer.app(&[]).await;
    let alice = issuer.sign_up("alice").await;
    for credential in [alice.session_token.as_str(), alice.cookie.split_once('=').unwrap().1] {
        assert_error(
            app.list_with_token(credential).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
    }
}

#[tokio::test]
async fn an_expired_better_auth_token_is_401() {
    let Some(issuer) = Issuer::start(&[("JWT_EXPIRATION", "1s")]) else {
        return;
    };
    let app = issuer.app(&[("JWT_LEEWAY_SECONDS", "0")]).await;
    let alice = issuer.sign_up("alice").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_error(
        app.list_with_token(&alice.jwt).await,
        StatusCode::UNAUTHORIZED,
        "token_expired",
    )
    .await;
}

#[tokio::test]
async fn rs256_and_es256_better_auth_issuers_are_accepted() {
    for alg in ["RS256", "ES256"] {
        let Some(issuer) = Issuer::start(&[("JWT_ALG", alg)]) else {
            return;
        };
        let app = issuer.app(&[]).await;
        let user = issuer.sign_up("carol").await;
        assert_eq!(header_alg(&user.jwt), alg);
        let resp = app.list_with_token(&user.jwt).await;
        assert_eq!(resp.status(), StatusCode::OK, "{alg}");
    }
}

#[tokio::test]
async fn after_better_auth_rotates_its_key_new_tokens_verify_without_a_restart() {
    let Some(issuer) = Issuer::start(&[("ROTATION_SECONDS", "2")]) else {
        return;
    };
    let app = issuer.app(&[("JWKS_MIN_REFRESH_SECONDS", "1")]).await;
    let alice = issuer.sign_up("alice").await;
    assert_eq!(app.list_with_token(&alice.jwt).await.status(), StatusCode::OK);
    let first_kid = jsonwebtoken::decode_header(&alice.jwt).unwrap().kid;

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let rotated = issuer.token(&alice).await;
    assert_ne!(
        jsonwebtoken::decode_header(&rotated).unwrap().kid,
        first_kid,
        "Better Auth rotated its key"
    );

    assert_eq!(app.list_with_token(&rotated).await.status(), StatusCode::OK);
    assert_eq!(
        app.list_with_token(&alice.jwt).await.status(),
        StatusCode::OK,
        "the old key is within its grace period"
    );
}
