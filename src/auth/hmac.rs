//! Verification of HMAC-signed tokens (HS256/384/512) with `BETTER_AUTH_SECRET`: what frontends
//! mint themselves with jose or jsonwebtoken.

use jsonwebtoken::{DecodingKey, Validation, decode};

use super::claims::{IdentityClaims, Verified, identity_from_claims, rejection_for, validation};
use crate::config::{AuthSettings, Secret};
use crate::error::AuthRejection;

/// Verifies tokens with the shared secret; built once at start-up (the key is derived once).
pub struct HmacVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl HmacVerifier {
    pub fn new(secret: &Secret, settings: &AuthSettings) -> Self {
        Self {
            // What jose's `new TextEncoder().encode(secret)` signs with: the UTF-8 bytes.
            key: DecodingKey::from_secret(secret.expose().as_bytes()),
            // The allow-list: the header's `alg` must be one of these.
            validation: validation(
                settings.algorithms.clone(),
                settings.leeway_seconds,
                settings.issuer.as_deref(),
                settings.audience.as_deref(),
            ),
        }
    }

    pub fn verify(&self, token: &str) -> Result<Verified, AuthRejection> {
        let claims = decode::<IdentityClaims>(token, &self.key, &self.validation)
            .map_err(|err| rejection_for(err.kind()))?
            .claims;
        identity_from_claims(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthUser;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use serde_json::{Value, json};

    const SECRET: &str = "unit-test-secret-that-is-long-enough";

    fn settings() -> AuthSettings {
        AuthSettings {
            secret: Some(Secret::new(SECRET)),
            secret_is_ephemeral: false,
            algorithms: vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
            leeway_seconds: 30,
            verified_token_cache_size: 0,
            issuer: None,
            audience: None,
            jwks: None,
        }
    }

    fn verifier(settings: &AuthSettings) -> HmacVerifier {
        HmacVerifier::new(settings.secret.as_ref().unwrap(), settings)
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn sign(alg: Algorithm, secret: &str, claims: Value) -> String {
        encode(&Header::new(alg), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    }

    fn verify_with(settings: AuthSettings, claims: Value) -> Result<AuthUser, AuthRejection> {
        verifier(&settings)
            .verify(&sign(Algorithm::HS256, SECRET, claims))
            .map(|verified| verified.user)
    }

    fn verify(claims: Value) -> Result<AuthUser, AuthRejection> {
        verify_with(settings(), claims)
    }

    #[test]
    fn every_configured_hmac_algorithm_verifies() {
        let verifier = verifier(&settings());
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let token = sign(alg, SECRET, json!({"sub": "u1", "exp": now() + 60}));
            assert_eq!(verifier.verify(&token).unwrap().user.id(), "u1", "{alg:?}");
        }
    }

    #[test]
    fn an_algorithm_left_out_of_the_allow_list_is_rejected() {
        let mut only_hs256 = settings();
        only_hs256.algorithms = vec![Algorithm::HS256];
        let token = sign(Algorithm::HS512, SECRET, json!({"sub": "u1", "exp": now() + 60}));
        assert!(matches!(
            verifier(&only_hs256).verify(&token),
            Err(AuthRejection::InvalidToken(_))
        ));
    }

    #[test]
    fn a_token_signed_with_another_secret_is_rejected() {
        let token = sign(
            Algorithm::HS256,
            "another-secret",
            json!({"sub": "u1", "exp": now() + 60}),
        );
        assert_eq!(
            verifier(&settings()).verify(&token),
            Err(AuthRejection::InvalidToken("the signature does not match"))
        );
    }

    #[test]
    fn expiry_is_required_and_checked_with_leeway() {
        assert!(matches!(
            verify(json!({"sub": "u1"})),
            Err(AuthRejection::InvalidToken(_))
        ));
        assert_eq!(
            verify(json!({"sub": "u1", "exp": now() - 120})),
            Err(AuthRejection::Expired)
        );
        assert!(
            verify(json!({"sub": "u1", "exp": now() - 10})).is_ok(),
            "within the 30 s leeway"
        );
        assert!(matches!(
            verify(json!({"sub": "u1", "exp": "soon"})),
            Err(AuthRejection::InvalidToken(_))
        ));
    }

    #[test]
    fn a_token_not_valid_yet_is_rejected() {
        let claims = json!({"sub": "u1", "exp": now() + 600, "nbf": now() + 300});
        assert_eq!(verify(claims), Err(AuthRejection::NotYetValid));
    }

    #[test]
    fn audience_and_issuer_are_checked_only_when_configured() {
        let claims = json!({"sub": "u1", "exp": now() + 60, "aud": "somebody", "iss": "https://auth.example"});
        assert!(verify(claims.clone()).is_ok());

        let mut strict = settings();
        strict.audience = Some("todo-api".into());
        assert!(matches!(
            verify_with(strict.clone(), claims.clone()),
            Err(AuthRejection::InvalidToken(_))
        ));
        strict.audience = None;
        strict.issuer = Some("https://other.example".into());
        assert!(matches!(
            verify_with(strict.clone(), claims),
            Err(AuthRejection::InvalidToken(_))
        ));

        let without_issuer = json!({"sub": "u1", "exp": now() + 60});
        assert!(matches!(
            verify_with(strict, without_issuer),
            Err(AuthRejection::InvalidToken(_))
        ));
    }

    #[test]
    fn unsigned_and_garbage_tokens_are_rejected() {
        use base64::Engine;
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!(
            "{}.{}.",
            b64(json!({"alg": "none", "typ": "JWT"})),
            b64(json!({"sub": "u1", "exp": now() + 60}))
        );
        let verifier = verifier(&settings());
        for token in [none.as_str(), "", "not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30"] {
            assert!(
                matches!(verifier.verify(token), Err(AuthRejection::InvalidToken(_))),
                "{token:?}"
            );
        }
    }
}
