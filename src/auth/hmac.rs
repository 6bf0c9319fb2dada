//! Verification of HMAC-signed tokens (HS256/384/512) with `BETTER_AUTH_SECRET`: what frontends
//! mint themselves with jose or jsonwebtoken.
//!
//! jsonwebtoken decides every token that is accepted. A token whose signature does not match is
//! refused before it is handed over, by [`KeyedMacs`]: jsonwebtoken would read the token's
//! header twice and derive the HMAC key from the secret again before finding the mismatch, which
//! made a refused token cost three times the work of its check (specs/performance.md).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use sha2::{Sha256, Sha384, Sha512};

use super::claims::{IdentityClaims, Verified, identity_from_claims, rejection_for, validation};
use crate::config::{AuthSettings, Secret};
use crate::error::AuthRejection;

/// Verifies tokens with the shared secret; built once at start-up (the key is derived once).
pub struct HmacVerifier {
    key: DecodingKey,
    macs: KeyedMacs,
    validation: Validation,
}

impl HmacVerifier {
    pub fn new(secret: &Secret, settings: &AuthSettings) -> Self {
        Self {
            // What jose's `new TextEncoder().encode(secret)` signs with: the UTF-8 bytes.
            key: DecodingKey::from_secret(secret.expose().as_bytes()),
            macs: KeyedMacs::new(secret.expose().as_bytes()),
            // The allow-list: the header's `alg` must be one of these.
            validation: validation(
                settings.algorithms.clone(),
                settings.leeway_seconds,
                settings.issuer.as_deref(),
                settings.audience.as_deref(),
            ),
        }
    }

    /// `alg` is the algorithm the token's header names (read before, to route the token here).
    pub fn verify(&self, token: &str, alg: Algorithm) -> Result<Verified, AuthRejection> {
        // Only an algorithm jsonwebtoken would go on to check the signature of: any other is
        // refused by it, for that reason, first.
        if self.validation.algorithms.contains(&alg) && self.macs.signature_differs(token, alg) {
            return Err(rejection_for(&jsonwebtoken::errors::ErrorKind::InvalidSignature));
        }
        let claims = decode::<IdentityClaims>(token, &self.key, &self.validation)
            .map_err(|err| rejection_for(err.kind()))?
            .claims;
        identity_from_claims(claims)
    }
}

/// The secret's HMAC key schedule for each algorithm, derived once (as jsonwebtoken's own
/// verifier does per token) and copied for each signature checked.
struct KeyedMacs {
    hs256: Hmac<Sha256>,
    hs384: Hmac<Sha384>,
    hs512: Hmac<Sha512>,
}

impl KeyedMacs {
    fn new(secret: &[u8]) -> Self {
        let keyed = "HMAC takes a key of any length";
        KeyedMacs {
            hs256: Hmac::new_from_slice(secret).expect(keyed),
            hs384: Hmac::new_from_slice(secret).expect(keyed),
            hs512: Hmac::new_from_slice(secret).expect(keyed),
        }
    }

    /// Whether the token is three parts whose signature decodes and is not the HMAC of the
    /// first two under `alg`: exactly the tokens jsonwebtoken refuses with `InvalidSignature`
    /// once their header is read. Anything else (`false`) is left to jsonwebtoken, which says
    /// what is wrong with it (a match, too: jsonwebtoken decides what is accepted).
    fn signature_differs(&self, token: &str, alg: Algorithm) -> bool {
        // Split as jsonwebtoken splits: the signature after the last dot, the header and the
        // payload before it, with exactly one dot between them.
        let Some((message, signature)) = token.rsplit_once('.') else {
            return false;
        };
        if message.bytes().filter(|&byte| byte == b'.').count() != 1 {
            return false;
        }
        // Room for the longest (HS512) signature and base64's estimate of it.
        let mut decoded = [0u8; 80];
        let Ok(length) = URL_SAFE_NO_PAD.decode_slice(signature, &mut decoded) else {
            return false;
        };
        let signature = &decoded[..length];
        let message = message.as_bytes();
        match alg {
            Algorithm::HS256 => differs(self.hs256.clone(), message, signature),
            Algorithm::HS384 => differs(self.hs384.clone(), message, signature),
            Algorithm::HS512 => differs(self.hs512.clone(), message, signature),
            _ => false,
        }
    }
}

/// Whether `signature` is not the MAC of `message` (compared in constant time).
fn differs<M: Mac>(mut mac: M, message: &[u8], signature: &[u8]) -> bool {
    mac.update(message);
    mac.verify_slice(signature).is_err()
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
            .verify(&sign(Algorithm::HS256, SECRET, claims), Algorithm::HS256)
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
            assert_eq!(verifier.verify(&token, alg).unwrap().user.id(), "u1", "{alg:?}");
        }
    }

    #[test]
    fn an_algorithm_left_out_of_the_allow_list_is_refused_for_that_whatever_its_signature() {
        let mut only_hs256 = settings();
        only_hs256.algorithms = vec![Algorithm::HS256];
        let claims = json!({"sub": "u1", "exp": now() + 60});
        for secret in [SECRET, "another-secret"] {
            let token = sign(Algorithm::HS512, secret, claims.clone());
            assert_eq!(
                verifier(&only_hs256).verify(&token, Algorithm::HS512),
                Err(AuthRejection::InvalidToken("its signing algorithm is not accepted")),
                "{secret}"
            );
        }
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
                matches!(
                    verifier.verify(token, Algorithm::HS256),
                    Err(AuthRejection::InvalidToken(_))
                ),
                "{token:?}"
            );
        }
    }

    #[test]
    fn a_signature_made_with_another_secret_is_refused_for_every_algorithm() {
        let verifier = verifier(&settings());
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let token = sign(alg, "another-secret", json!({"sub": "u1", "exp": now() + 60}));
            assert!(verifier.macs.signature_differs(&token, alg), "{alg:?}");
            assert_eq!(
                verifier.verify(&token, alg),
                Err(AuthRejection::InvalidToken("the signature does not match")),
                "{alg:?}"
            );
        }
    }

    /// The early refusal says "the signature does not match" only where jsonwebtoken would say
    /// it (`InvalidSignature`), never for a token it accepts or refuses for another reason.
    #[test]
    fn the_early_refusal_agrees_with_jsonwebtoken() {
        let claims = json!({"sub": "u1", "exp": now() + 60});
        let mut tokens = Vec::new();
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let good = sign(alg, SECRET, claims.clone());
            let forged = sign(alg, "another-secret", claims.clone());
            let (message, signature) = good.rsplit_once('.').unwrap();
            let (header, payload) = message.split_once('.').unwrap();
            tokens.extend([
                good.clone(),
                forged,
                format!("{message}.{}", &signature[1..]),
                format!("{message}.{signature}A"),
                format!("{message}.{signature}AA"),
                format!("{message}.*{}", &signature[1..]),
                format!("{message}."),
                format!("{header}.{signature}"),
                format!("{header}.{payload}.x.{signature}"),
                format!("{header}.{payload}x.{signature}"),
                format!("{header}..{signature}"),
                format!("{message}.{signature}{signature}"),
            ]);
        }
        let verifier = verifier(&settings());
        for token in &tokens {
            for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
                let by_jsonwebtoken =
                    decode::<IdentityClaims>(token, &verifier.key, &validation(vec![alg], 30, None, None))
                        .map(|_| ())
                        .map_err(|err| err.into_kind());
                let header_alg = jsonwebtoken::decode_header(token).map(|header| header.alg);
                if verifier.macs.signature_differs(token, alg) && header_alg.as_ref().ok() == Some(&alg) {
                    assert!(
                        matches!(by_jsonwebtoken, Err(jsonwebtoken::errors::ErrorKind::InvalidSignature)),
                        "{token} {alg:?}: {by_jsonwebtoken:?}"
                    );
                }
                if by_jsonwebtoken.is_ok() {
                    assert!(!verifier.macs.signature_differs(token, alg), "{token} {alg:?}");
                }
            }
        }
    }
}
