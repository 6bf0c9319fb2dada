//! Who is calling: bearer-token verification and the identity it yields.
//!
//! The only way to obtain an [`AuthUser`] is a successful [`JwtVerifier::verify`]: its fields are
//! private to this module and it has no public constructor. Operations take [`BearerAuth`] as their
//! first parameter and task queries take `&AuthUser`, so no code path reaches a task without a
//! verified identity.

mod token;
mod verifier;

pub use token::{DEMO_USER_EMAIL, DEMO_USER_ID, mint_token};
pub use verifier::JwtVerifier;

use std::sync::Arc;

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};

use crate::error::ApiError;
use crate::request_context::RequestContext;

/// The caller, as proven by a verified token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthUser {
    id: String,
    email: Option<String>,
}

impl AuthUser {
    /// The Better Auth user id: the owner of every task this request may touch.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }
}

/// A JWT from Better Auth in `Authorization: Bearer <token>`. HS256/HS384/HS512 tokens are
/// verified with `BETTER_AUTH_SECRET`; `exp` is required. The user id is read from `sub` (or
/// `user_id`, `userId`, `id`, `user.id`). In development mode the server prints a ready-to-paste
/// token at start-up, and `todo-api token` mints one.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "verify_bearer")]
pub struct BearerAuth(AuthUser);

impl BearerAuth {
    pub fn user(&self) -> &AuthUser {
        &self.0
    }
}

async fn verify_bearer(req: &Request, bearer: Bearer) -> poem::Result<AuthUser> {
    let verifier = req
        .data::<Arc<JwtVerifier>>()
        .expect("build_app registers the JwtVerifier");
    let context = req.extensions().get::<Arc<RequestContext>>();
    match verifier.verify(&bearer.token) {
        Ok(user) => {
            if let Some(context) = context {
                context.set_user(user.id());
            }
            Ok(user)
        }
        Err(rejection) => {
            // The reason is logged, the token never is.
            tracing::debug!(?rejection, "rejected bearer token");
            let error = ApiError::Unauthorized(rejection);
            if let Some(context) = context {
                context.set_auth_failure(error.code());
            }
            Err(error.into())
        }
    }
}
