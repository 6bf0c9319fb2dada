//! Every acceptance and rejection path of the JWKS verifier, with keys generated here and no
//! network (the key set is loaded directly; the configured URL points at a closed port).

use std::sync::OnceLock;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use super::*;
use crate::auth::hmac::HmacVerifier;
use crate::auth::token_cache::VerifiedTokens;
use crate::auth::{AuthFailure, AuthUser, TokenVerifier};
use crate::config::{AuthSettings, Secret};

#[path = "../../tests/api/keys.rs"]
mod keys;
use keys::{TestKey, key_set};

const ISSUER: &str = "http://localhost:3000";
const SECRET: &str = "the-hmac-secret";
/// Nothing listens on the discard port: every fetch fails at once.
const UNREACHABLE: &str = "http://127.0.0.1:9/api/auth/jwks";

fn settings(issuer: Option<&str>) -> JwksSettings {
    JwksSettings {
        url: UNREACHABLE.into(),
        issuer: issuer.map(str::to_owned),
        min_refresh_interval: Duration::from_secs(5),
        refresh_every: Duration::from_secs(600),
        fetch_timeout: Duration::from_millis(500),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Better Auth's default claims.
fn claims() -> Value {
    json!({"sub": "user-1", "id": "user-1", "email": "a@example.com", "iss": ISSUER, "aud": ISSUER,
           "iat": now(), "exp": now() + 900})
}

fn ed() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::ed25519("ed-1"))
}

fn ec() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::es256("ec-1"))
}

fn rsa() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::rsa("rsa-1", Algorithm::RS256))
}

/// A verifier with both paths: the HMAC secret, and a JWKS already holding `jwks`.
fn verifier_with(jwks: &Value, issuer: Option<&str>, audience: Option<&str>) -> TokenVerifier {
    let auth = AuthSettings {
        secret: Some(Secret::new(SECRET)),
        secret_is_ephemeral: false,
        algorithms: vec![Algorithm::HS256],
        leeway_seconds: 30,
        verified_token_cache_size: 0,
        issuer: None,
        audience: audience.map(str::to_owned),
        jwks: None,
    };
    TokenVerifier {
        hmac: Some(HmacVerifier::new(auth.secret.as_ref().unwrap(), &auth)),
        jwks: Some(JwksVerifier::with_key_set(
            settings(issuer),
            audience.map(str::to_owned),
            jwks,
        )),
        verified: VerifiedTokens::new(0, 30),
    }
}

fn verifier() -> TokenVerifier {
    verifier_with(&key_set(&[ed(), ec(), rsa()]), Some(ISSUER), None)
}

fn rejected(result: Result<AuthUser, AuthFailure>) -> AuthRejection {
    match result {
        Err(AuthFailure::Rejected(rejection)) => rejection,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn b64(value: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A token with an arbitrary header and a garbage signature.
fn forged(header: Value) -> String {
    format!("{}.{}.c2lnbmF0dXJl", b64(&header), b64(&claims()))
}

#[tokio::test]
async fn eddsa_es256_and_rsa_tokens_from_the_key_set_verify() {
    let verifier = verifier();
    for key in [ed(), ec(), rsa()] {
        let user = verifier.verify(&key.sign(&claims())).await.unwrap();
        assert_eq!(user.id(), "user-1", "{:?}", key.algorithm);
    }
}

#[tokio::test]
async fn an_rsa_key_without_alg_verifies_its_whole_family_but_one_with_alg_only_that() {
    let without_alg = json!({"keys": [rsa().public_jwk(false)]});
    let verifier = verifier_with(&without_alg, Some(ISSUER), None);
    assert!(
        verifier
            .verify(&rsa().sign_as(Algorithm::PS256, &claims()))
            .await
            .is_ok()
    );

    let with_alg = verifier_with(&key_set(&[rsa()]), Some(ISSUER), None);
    let rejection = rejected(with_alg.verify(&rsa().sign_as(Algorithm::PS256, &claims())).await);
    assert_eq!(
        rejection,
        AuthRejection::InvalidToken("its signing algorithm is not accepted")
    );
}

#[tokio::test]
async fn a_token_claiming_another_algorithm_than_its_key_is_rejected() {
    // An Ed25519 key's kid with an ES256 header: the key pins EdDSA.
    let token = forged(json!({"alg": "ES256", "kid": "ed-1"}));
    assert!(matches!(
        rejected(verifier().verify(&token).await),
        AuthRejection::InvalidToken(_)
    ));
}

#[tokio::test]
async fn an_hmac_token_is_never_checked_against_a_jwks_key() {
    // The classic confusion attack: HS256 "signed" with the public key as the secret.
    let public_x = ed().public_jwk(true)["x"].as_str().unwrap().to_owned();
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.kid = Some("ed-1".into());
    let token = jsonwebtoken::encode(
        &header,
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(public_x.as_bytes()),
    )
    .unwrap();
    let rejection = rejected(verifier().verify(&token).await);
    assert_eq!(rejection, AuthRejection::InvalidToken("the signature does not match"));
}

#[tokio::test]
async fn an_asymmetric_token_is_never_checked_against_the_secret() {
    let only_secret = TokenVerifier {
        jwks: None,
        ..verifier()
    };
    let rejection = rejected(only_secret.verify(&ed().sign(&claims())).await);
    assert_eq!(
        rejection,
        AuthRejection::InvalidToken("asymmetric tokens are not accepted (no Better Auth JWKS configured)")
    );
}

#[tokio::test]
async fn hmac_tokens_are_refused_when_only_a_jwks_is_configured() {
    let only_jwks = TokenVerifier {
        hmac: None,
        ..verifier()
    };
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert!(matches!(
        rejected(only_jwks.verify(&token).await),
        AuthRejection::InvalidToken(_)
    ));
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let token = format!("{}.{}.", b64(&json!({"alg": "none", "kid": "ed-1"})), b64(&claims()));
    let rejection = rejected(verifier().verify(&token).await);
    assert_eq!(
        rejection,
        AuthRejection::InvalidToken("unsigned tokens (`alg: none`) are never accepted")
    );
}

#[tokio::test]
async fn a_token_naming_its_own_key_is_rejected() {
    for (field, value) in [
        ("jku", json!("https://evil.example/jwks")),
        ("x5u", json!("https://evil.example/cert")),
        ("jwk", ed().public_jwk(true)),
    ] {
        let mut header = json!({"alg": "EdDSA", "kid": "ed-1"});
        header[field] = value;
        let rejection = rejected(verifier().verify(&forged(header)).await);
        assert!(
            matches!(rejection, AuthRejection::InvalidToken(why) if why.contains("names its own key")),
            "{field}"
        );
    }
}

#[tokio::test]
async fn es512_is_answered_with_a_clear_rejection() {
    let rejection = rejected(verifier().verify(&forged(json!({"alg": "ES512", "kid": "ed-1"}))).await);
    assert!(matches!(rejection, AuthRejection::InvalidToken(why) if why.contains("ES512")));
}

#[tokio::test]
async fn a_token_without_kid_or_with_an_unknown_kid_is_rejected() {
    let verifier = verifier();
    let no_kid = forged(json!({"alg": "EdDSA"}));
    assert_eq!(
        rejected(verifier.verify(&no_kid).await),
        AuthRejection::InvalidToken("it names no signing key (no `kid`)")
    );
    let stranger = TestKey::ed25519("not-published");
    assert_eq!(
        rejected(verifier.verify(&stranger.sign(&claims())).await),
        AuthRejection::InvalidToken("it is signed with a key Better Auth does not publish")
    );
}

#[tokio::test]
async fn a_token_signed_by_another_key_under_a_known_kid_is_rejected() {
    let impostor = TestKey::ed25519("ed-1");
    assert_eq!(
        rejected(verifier().verify(&impostor.sign(&claims())).await),
        AuthRejection::InvalidToken("the signature does not match")
    );
}

#[tokio::test]
async fn expiry_and_not_before_are_enforced() {
    let mut expired = claims();
    expired["exp"] = json!(now() - 120);
    assert_eq!(
        rejected(verifier().verify(&ed().sign(&expired)).await),
        AuthRejection::Expired
    );

    let mut early = claims();
    early["nbf"] = json!(now() + 600);
    assert_eq!(
        rejected(verifier().verify(&ed().sign(&early)).await),
        AuthRejection::NotYetValid
    );

    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert!(matches!(
        rejected(verifier().verify(&ed().sign(&no_exp)).await),
        AuthRejection::InvalidToken(_)
    ));
}

#[tokio::test]
async fn the_issuer_is_required_and_checked_and_the_audience_when_configured() {
    let mut other_issuer = claims();
    other_issuer["iss"] = json!("https://evil.example");
    assert!(matches!(
        rejected(verifier().verify(&ed().sign(&other_issuer)).await),
        AuthRejection::InvalidToken(_)
    ));

    let mut no_issuer = claims();
    no_issuer.as_object_mut().unwrap().remove("iss");
    assert!(matches!(
        rejected(verifier().verify(&ed().sign(&no_issuer)).await),
        AuthRejection::InvalidToken(_)
    ));

    let strict = verifier_with(&key_set(&[ed()]), Some(ISSUER), Some("todo-api"));
    assert!(matches!(
        rejected(strict.verify(&ed().sign(&claims())).await),
        AuthRejection::InvalidToken(_)
    ));
    let mut for_us = claims();
    for_us["aud"] = json!("todo-api");
    assert!(strict.verify(&ed().sign(&for_us)).await.is_ok());
}

#[tokio::test]
async fn without_a_configured_issuer_any_issuer_is_accepted() {
    let open = verifier_with(&key_set(&[ed()]), None, None);
    let mut elsewhere = claims();
    elsewhere["iss"] = json!("https://anything.example");
    assert!(open.verify(&ed().sign(&elsewhere)).await.is_ok());
}

#[tokio::test]
async fn a_token_without_a_user_is_rejected() {
    let mut anonymous = claims();
    for claim in ["sub", "id"] {
        anonymous.as_object_mut().unwrap().remove(claim);
    }
    assert!(matches!(
        rejected(verifier().verify(&ed().sign(&anonymous)).await),
        AuthRejection::InvalidToken(_)
    ));
}

#[tokio::test]
async fn unusable_keys_in_the_set_are_skipped() {
    let mut mismatched = ec().public_jwk(true);
    mismatched["alg"] = json!("RS256");
    mismatched["kid"] = json!("mismatched");
    let set = json!({"keys": [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "symmetric", "alg": "HS256"},
        {"kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA"},
        mismatched,
        {"kty": "OKP", "crv": "Ed25519", "x": "not base64!", "kid": "broken"},
        ed().public_jwk(true),
    ]});
    let verifier = verifier_with(&set, Some(ISSUER), None);
    let held = verifier.jwks.as_ref().unwrap().cached().unwrap();
    assert_eq!(held.keys.keys().collect::<Vec<_>>(), ["ed-1"]);
    assert!(verifier.verify(&ed().sign(&claims())).await.is_ok());
}

#[tokio::test]
async fn never_fetched_keys_make_asymmetric_tokens_unavailable_not_unauthorized() {
    let jwks = JwksVerifier::new(settings(Some(ISSUER)), 30, None);
    assert_eq!(jwks.status(), JwksStatus::Unavailable);
    let header = RawHeader::parse(&ed().sign(&claims())).unwrap();
    assert_eq!(
        jwks.verify(&ed().sign(&claims()), &header).await,
        Err(AuthFailure::Unavailable)
    );
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_stale_keys_serving() {
    let verifier = verifier();
    let jwks = verifier.jwks.as_ref().unwrap();
    assert_eq!(jwks.status(), JwksStatus::Ok);

    jwks.refresh().await; // the URL is unreachable
    assert_eq!(jwks.status(), JwksStatus::Stale);
    assert!(verifier.verify(&ed().sign(&claims())).await.is_ok());
}

#[tokio::test]
async fn refreshes_are_rate_limited() {
    let jwks = JwksVerifier::new(settings(Some(ISSUER)), 30, None);
    jwks.refresh().await;
    let first = jwks.refresh.lock().await.last_attempt;
    jwks.refresh().await;
    assert_eq!(
        jwks.refresh.lock().await.last_attempt,
        first,
        "the second refresh within 5 s did not fetch"
    );
}

#[tokio::test]
async fn the_key_set_stays_stale_while_a_refresh_after_a_failure_runs() {
    let verifier = verifier();
    let jwks = verifier.jwks.as_ref().unwrap();
    jwks.refresh().await; // the URL is unreachable
    assert_eq!(jwks.status(), JwksStatus::Stale);

    // A refresh in progress holds the lock; the status must not fall back to "ok" meanwhile.
    let _refreshing = jwks.refresh.lock().await;
    assert_eq!(jwks.status(), JwksStatus::Stale);
}
