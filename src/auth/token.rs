//! Minting HS256 tokens with the configured secret: the development token printed at start-up
//! and the `token` subcommand. Production tokens come from Better Auth, never from here.

use chrono::{Duration, Utc};
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

use crate::config::Secret;

/// The user the development token is minted for.
pub const DEMO_USER_ID: &str = "demo-user";
pub const DEMO_USER_EMAIL: &str = "demo@example.com";

/// An HS256 token for `user_id`, shaped like the ones Better Auth frontends mint
/// (`sub`, `email`, `iat`, `exp`).
pub fn mint_token(secret: &Secret, user_id: &str, email: Option<&str>, lifetime: Duration) -> String {
    let now = Utc::now();
    let mut claims = json!({
        "sub": user_id,
        "iat": now.timestamp(),
        "exp": (now + lifetime).timestamp(),
    });
    if let Some(email) = email {
        claims["email"] = json!(email);
    }
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .expect("HS256 signing with an in-memory key cannot fail")
}
