//! Verification of Better Auth's HMAC-signed JWTs.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, Validation, decode};
use serde_json::{Map, Value};

use super::AuthUser;
use crate::config::AuthSettings;
use crate::error::AuthRejection;

/// Longest user id accepted from a token. Better Auth ids are ~32 characters; the cap keeps
/// absurd values out of the `user_id` index.
const MAX_USER_ID_CHARS: usize = 255;

/// Claims that may carry the user id, in order of preference.
const USER_ID_CLAIMS: [&str; 4] = ["sub", "user_id", "userId", "id"];

/// Verifies tokens with the shared secret; built once at start-up (the key is derived once).
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl JwtVerifier {
    pub fn new(settings: &AuthSettings) -> Self {
        let mut validation = Validation::new(settings.algorithms[0]);
        // The allow-list: the header's `alg` must be one of these (`none` cannot even be parsed).
        validation.algorithms = settings.algorithms.clone();
        validation.leeway = settings.leeway_seconds;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // A configured issuer or audience must also be present: jsonwebtoken only compares the
        // claims a token happens to carry.
        let mut required = vec!["exp"];
        match &settings.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            // Tokens often carry `aud`; without a configured audience it is not checked.
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &settings.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        Self {
            // What jose's `new TextEncoder().encode(secret)` signs with: the UTF-8 bytes.
            key: DecodingKey::from_secret(settings.secret.expose().as_bytes()),
            validation,
        }
    }

    pub fn verify(&self, token: &str) -> Result<AuthUser, AuthRejection> {
        let claims = decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map_err(|err| rejection_for(err.kind()))?
            .claims;
        identity_from_claims(&claims)
    }
}

fn rejection_for(kind: &ErrorKind) -> AuthRejection {
    use AuthRejection::InvalidToken;
    match kind {
        ErrorKind::ExpiredSignature => AuthRejection::Expired,
        ErrorKind::ImmatureSignature => AuthRejection::NotYetValid,
        ErrorKind::InvalidSignature => InvalidToken("the signature does not match"),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName | ErrorKind::UnsupportedAlgorithm => {
            InvalidToken("its signing algorithm is not accepted")
        }
        ErrorKind::MissingRequiredClaim(claim) if claim == "exp" => InvalidToken("it has no `exp` claim"),
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => {
            InvalidToken("a required claim is missing or malformed")
        }
        ErrorKind::InvalidIssuer => InvalidToken("it was issued by an issuer this service does not trust"),
        ErrorKind::InvalidAudience => InvalidToken("it is meant for another audience"),
        _ => InvalidToken("it is not a well-formed JWT"),
    }
}

/// The user id is the first non-empty string among `sub`, `user_id`, `userId`, `id`, `user.id`;
/// the email comes from `email` or `user.email`.
fn identity_from_claims(claims: &Map<String, Value>) -> Result<AuthUser, AuthRejection> {
    let nested = claims.get("user").and_then(Value::as_object);

    let id = USER_ID_CLAIMS
        .iter()
        .find_map(|claim| non_empty(claims.get(*claim)))
        .or_else(|| non_empty(nested.and_then(|user| user.get("id"))))
        .ok_or(AuthRejection::InvalidToken("it names no user (no `sub` claim)"))?;
    if id.chars().count() > MAX_USER_ID_CHARS || id.contains('\0') {
        return Err(AuthRejection::InvalidToken("its user id is not acceptable"));
    }
    let email = non_empty(claims.get("email"))
        .or_else(|| non_empty(nested.and_then(|user| user.get("email"))))
        .map(str::to_owned);
    Ok(AuthUser {
        id: id.to_owned(),
        email,
    })
}

/// A claim that is a string with something in it.
fn non_empty(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).filter(|text| !text.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &str = "unit-test-secret-that-is-long-enough";

    fn settings() -> AuthSettings {
        AuthSettings {
            secret: Secret::new(SECRET),
            secret_is_ephemeral: false,
            algorithms: vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
            leeway_seconds: 30,
            issuer: None,
            audience: None,
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn sign(alg: Algorithm, secret: &str, claims: Value) -> String {
        encode(&Header::new(alg), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    }

    fn verify_with(settings: AuthSettings, claims: Value) -> Result<AuthUser, AuthRejection> {
        JwtVerifier::new(&settings).verify(&sign(Algorithm::HS256, SECRET, claims))
    }

    fn verify(claims: Value) -> Result<AuthUser, AuthRejection> {
        verify_with(settings(), claims)
    }

    #[test]
    fn every_configured_hmac_algorithm_verifies() {
        let verifier = JwtVerifier::new(&settings());
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let token = sign(alg, SECRET, json!({"sub": "u1", "exp": now() + 60}));
            assert_eq!(verifier.verify(&token).unwrap().id(), "u1", "{alg:?}");
        }
    }

    #[test]
    fn an_algorithm_left_out_of_the_allow_list_is_rejected() {
        let mut only_hs256 = settings();
        only_hs256.algorithms = vec![Algorithm::HS256];
        let token = sign(Algorithm::HS512, SECRET, json!({"sub": "u1", "exp": now() + 60}));
        assert!(matches!(
            JwtVerifier::new(&only_hs256).verify(&token),
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
            JwtVerifier::new(&settings()).verify(&token),
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
    fn the_user_id_comes_from_the_first_non_empty_id_claim() {
        let exp = now() + 60;
        let id_of = |claims: Value| verify(claims).map(|user| user.id().to_owned());
        assert_eq!(id_of(json!({"sub": "a", "user_id": "b", "exp": exp})).unwrap(), "a");
        assert_eq!(id_of(json!({"sub": "", "user_id": "b", "exp": exp})).unwrap(), "b");
        assert_eq!(id_of(json!({"userId": "c", "exp": exp})).unwrap(), "c");
        assert_eq!(id_of(json!({"id": "d", "exp": exp})).unwrap(), "d");
        assert_eq!(id_of(json!({"user": {"id": "e"}, "exp": exp})).unwrap(), "e");
        assert_eq!(id_of(json!({"sub": 42, "id": "f", "exp": exp})).unwrap(), "f");
        assert!(id_of(json!({"email": "x@example.com", "exp": exp})).is_err());
        assert!(id_of(json!({"sub": "x".repeat(256), "exp": exp})).is_err());
    }

    #[test]
    fn the_email_is_optional_and_may_be_nested() {
        let exp = now() + 60;
        assert_eq!(
            verify(json!({"sub": "a", "email": "a@x.io", "exp": exp}))
                .unwrap()
                .email(),
            Some("a@x.io")
        );
        assert_eq!(
            verify(json!({"user": {"id": "a", "email": "n@x.io"}, "exp": exp}))
                .unwrap()
                .email(),
            Some("n@x.io")
        );
        assert_eq!(verify(json!({"sub": "a", "exp": exp})).unwrap().email(), None);
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
        let verifier = JwtVerifier::new(&settings());
        for token in [none.as_str(), "", "not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30"] {
            assert!(
                matches!(verifier.verify(token), Err(AuthRejection::InvalidToken(_))),
                "{token:?}"
            );
        }
    }
}
