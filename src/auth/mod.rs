//! Who is calling: bearer-token verification and the identity it yields.
//!
//! The only way to obtain an [`AuthUser`] is a successful [`TokenVerifier::verify`]: its fields are
//! private to this module and it has no public constructor. Operations take [`BearerAuth`] as their
//! first parameter and task queries take `&AuthUser`, so no code path reaches a task without a
//! verified identity.
//!
//! Two kinds of token are accepted, each only on its own path (no algorithm confusion):
//! HS256/384/512 signed with `BETTER_AUTH_SECRET` ([`hmac`]), and the asymmetric tokens of Better
//! Auth's `jwt()` plugin, checked against its JWKS ([`jwks`]).

mod claims;
mod hmac;
pub mod jwks;
mod token;
mod token_cache;

pub use token::{DEMO_USER_EMAIL, DEMO_USER_ID, mint_token};

use std::sync::Arc;

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};

use self::claims::{RawHeader, Verified};
use self::hmac::HmacVerifier;
use self::jwks::JwksVerifier;
pub use self::token_cache::CacheLookups;
use self::token_cache::{VerifiedBy, VerifiedTokens};
use crate::config::AuthSettings;
use crate::error::{ApiError, AuthRejection};
use crate::request_context::RequestContext;

/// The caller, as proven by a verified token. Shared, not copied: the same id goes from the token
/// cache to the request and on to its access log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthUser {
    id: Arc<str>,
}

impl AuthUser {
    /// The Better Auth user id: the owner of every task this request may touch.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A caller without a token, for unit tests of the queries.
    #[cfg(test)]
    pub(crate) fn for_tests(id: &str) -> AuthUser {
        AuthUser { id: id.into() }
    }
}

/// The `{user_id}` of the per-user path a request came by (`/api/{user_id}/tasks…`,
/// percent-decoded, as the route table hands path parameters over). The bearer check refuses any
/// other user than the token's; the id is never used to look anything up.
#[derive(Clone, Debug)]
pub struct PathUser(pub Arc<str>);

/// Why a token was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// The token is not acceptable: 401.
    Rejected(AuthRejection),
    /// The token cannot be checked right now (Better Auth's key set was never fetched): 503.
    Unavailable,
}

impl From<AuthRejection> for AuthFailure {
    fn from(rejection: AuthRejection) -> Self {
        AuthFailure::Rejected(rejection)
    }
}

/// Routes each token to the one verifier its algorithm belongs to, and remembers the tokens it
/// has verified ([`token_cache`]).
pub struct TokenVerifier {
    hmac: Option<HmacVerifier>,
    jwks: Option<JwksVerifier>,
    verified: VerifiedTokens,
}

impl TokenVerifier {
    pub fn new(settings: &AuthSettings) -> Self {
        Self {
            hmac: settings
                .secret
                .as_ref()
                .map(|secret| HmacVerifier::new(secret, settings)),
            jwks: settings
                .jwks
                .clone()
                .map(|jwks| JwksVerifier::new(jwks, settings.leeway_seconds, settings.audience.clone())),
            verified: VerifiedTokens::new(settings.verified_token_cache_size, settings.leeway_seconds),
        }
    }

    /// A verifier that accepts nothing: for generating the OpenAPI document.
    pub fn disabled() -> Self {
        Self {
            hmac: None,
            jwks: None,
            verified: VerifiedTokens::new(0, 0),
        }
    }

    /// How the lookups among the tokens verified before went, for `/metrics`.
    pub fn cache_lookups(&self) -> CacheLookups {
        self.verified.lookups()
    }

    /// The JWKS path, when one is configured.
    pub fn jwks(&self) -> Option<&JwksVerifier> {
        self.jwks.as_ref()
    }

    /// Starts refreshing Better Auth's key set in the background (the first fetch right away),
    /// when a JWKS is configured. The task runs until it is aborted.
    pub fn spawn_key_refresh(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let jwks = self.jwks.as_ref()?;
        tracing::info!(url = %jwks.url(), "accepting Better Auth JWKS tokens");
        let verifier = self.clone();
        Some(tokio::spawn(async move {
            if let Some(jwks) = verifier.jwks() {
                jwks.keep_fresh().await;
            }
        }))
    }

    pub async fn verify(&self, token: &str) -> Result<AuthUser, AuthFailure> {
        let now = jsonwebtoken::get_current_timestamp();
        // Read before the check: a key set fetched during it leaves its result stale.
        let key_set = self.jwks.as_ref().map(JwksVerifier::key_set_generation);
        if let Some(user) = self.verified.get(token, now, key_set) {
            return Ok(user);
        }
        let (verified, by) = self.verify_in_full(token, key_set).await?;
        self.verified.keep(token, &verified, by, now);
        Ok(verified.user)
    }

    /// The token's signature and claims checked, with the key that verified it.
    async fn verify_in_full(&self, token: &str, key_set: Option<u64>) -> Result<(Verified, VerifiedBy), AuthFailure> {
        use AuthRejection::InvalidToken;
        let header = RawHeader::parse(token)?;
        if header.names_its_own_key {
            return Err(InvalidToken("it names its own key (`jku`, `x5u` or `jwk`), which is never trusted").into());
        }
        if header.names_critical_extensions {
            return Err(
                InvalidToken("it names critical extensions (`crit`), which this service does not support").into(),
            );
        }
        match header.alg.as_str() {
            alg @ ("HS256" | "HS384" | "HS512") => match &self.hmac {
                Some(hmac) => {
                    let alg = alg.parse().expect("jsonwebtoken knows the HMAC algorithms");
                    Ok((hmac.verify(token, alg)?, VerifiedBy::Secret))
                }
                None => Err(InvalidToken("HMAC-signed tokens are not accepted (no BETTER_AUTH_SECRET)").into()),
            },
            "none" | "None" | "NONE" => Err(InvalidToken("unsigned tokens (`alg: none`) are never accepted").into()),
            "ES512" => Err(InvalidToken("ES512 tokens are not supported; use EdDSA, ES256, ES384, RS* or PS*").into()),
            "EdDSA" | "ES256" | "ES384" | "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => match &self.jwks
            {
                // Boxed: a key-set fetch may sit inside, and inline it would make every
                // request's future (HMAC ones too) a kilobyte larger, moved at every layer.
                Some(jwks) => {
                    let verified = Box::pin(jwks.verify(token, &header)).await?;
                    Ok((verified, VerifiedBy::KeySet(key_set.unwrap_or_default())))
                }
                None => Err(InvalidToken("asymmetric tokens are not accepted (no Better Auth JWKS configured)").into()),
            },
            _ => Err(InvalidToken("its signing algorithm is not accepted").into()),
        }
    }
}

/// A JWT from Better Auth in `Authorization: Bearer <token>`: HS256/HS384/HS512 verified with
/// `BETTER_AUTH_SECRET`, or EdDSA/ES256/ES384/RS*/PS* (Better Auth's `jwt()` plugin) verified
/// against its JWKS. `exp` is required. The user id is read from `sub` (or `user_id`, `userId`,
/// `id`, `user.id`). In development mode the server prints a ready-to-paste token at start-up,
/// and `todo-api token` mints one.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "verify_bearer")]
pub struct BearerAuth(AuthUser);

impl BearerAuth {
    pub fn user(&self) -> &AuthUser {
        &self.0
    }
}

async fn verify_bearer(req: &Request, bearer: Bearer) -> poem::Result<AuthUser> {
    let context = req
        .extensions()
        .get::<Arc<RequestContext>>()
        .expect("the edge layer gives every request its context");
    match context.verifier().verify(&bearer.token).await {
        Ok(user) => {
            context.set_user(&user);
            // A per-user path (`/api/{user_id}/tasks…`) must name the token's own user; the path's
            // id is never used to look anything up.
            if let Some(PathUser(path_user)) = req.extensions().get::<PathUser>()
                && **path_user != *user.id()
            {
                return Err(ApiError::UserMismatch.into());
            }
            Ok(user)
        }
        Err(AuthFailure::Rejected(rejection)) => {
            // The reason is logged, the token never is.
            tracing::debug!(?rejection, "rejected bearer token");
            context.set_auth_failure(rejection);
            Err(ApiError::Unauthorized(rejection).into())
        }
        Err(AuthFailure::Unavailable) => Err(ApiError::AuthUnavailable.into()),
    }
}
