//! The one error body, the one [`ApiError`], and the renderer for errors the framework makes.
//!
//! Every non-2xx answer of the service is an [`ErrorBody`]: `detail` for FastAPI-era frontends,
//! `message` for the others, a stable `code`, the numeric `status` and, for validation failures,
//! the failing fields in `errors`. Internal causes are logged, never returned.

use std::borrow::Cow;

use poem::error::{MethodNotAllowedError, NotFoundError, ReadBodyError, ResponseError, SizedLimitError};
use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::Object;
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};
use poem_openapi::types::Example;

/// One failing input, located the way FastAPI does (`["body", "title"]`, `["query", "limit"]`).
#[derive(Clone, Debug, PartialEq, Eq, Object)]
#[oai(example)]
pub struct ValidationIssue {
    /// Where the input is: `body` or `query`, then the field name.
    pub loc: Vec<String>,
    /// What is wrong with it, as a sentence.
    pub msg: String,
    /// A stable machine-readable kind, such as `missing`, `string_type` or `string_too_long`.
    #[oai(rename = "type")]
    pub kind: String,
}

impl ValidationIssue {
    pub fn body(field: Option<&str>, kind: &str, msg: impl Into<String>) -> Self {
        let mut loc = vec!["body".to_owned()];
        loc.extend(field.map(str::to_owned));
        Self {
            loc,
            msg: msg.into(),
            kind: kind.to_owned(),
        }
    }

    /// A query parameter that cannot be used as sent.
    pub fn query(parameter: &str, kind: &str, msg: impl Into<String>) -> Self {
        Self {
            loc: vec!["query".to_owned(), parameter.to_owned()],
            msg: msg.into(),
            kind: kind.to_owned(),
        }
    }
}

impl Example for ValidationIssue {
    fn example() -> Self {
        Self::body(Some("title"), "string_too_short", "Title must not be empty.")
    }
}

/// The body of every error response.
#[derive(Clone, Debug, Object)]
#[oai(example)]
pub struct ErrorBody {
    /// A readable sentence saying what went wrong.
    pub detail: String,
    /// The same sentence, for clients that read `message`.
    pub message: String,
    /// A stable snake_case code to branch on, e.g. `task_not_found`, `token_expired`.
    pub code: String,
    /// The HTTP status code of the response.
    pub status: u16,
    /// Present on validation failures (422): every failing field.
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<Vec<ValidationIssue>>,
}

impl Example for ErrorBody {
    fn example() -> Self {
        ApiError::TaskNotFound.body()
    }
}

/// Why a request was not authenticated. The message never contains the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthRejection {
    /// No `Authorization: Bearer …` header at all (or another scheme).
    MissingToken,
    /// A token was sent but is malformed, wrongly signed or otherwise unacceptable.
    InvalidToken(&'static str),
    Expired,
    NotYetValid,
}

impl AuthRejection {
    /// One rejection of each kind, in the order `kind_index` numbers them (for metrics).
    pub const KINDS: [AuthRejection; 4] = [
        AuthRejection::MissingToken,
        AuthRejection::InvalidToken(""),
        AuthRejection::Expired,
        AuthRejection::NotYetValid,
    ];

    /// The position of this rejection's kind in [`AuthRejection::KINDS`].
    pub fn kind_index(self) -> usize {
        match self {
            AuthRejection::MissingToken => 0,
            AuthRejection::InvalidToken(_) => 1,
            AuthRejection::Expired => 2,
            AuthRejection::NotYetValid => 3,
        }
    }

    /// The error code of this rejection.
    pub fn code(self) -> &'static str {
        match self {
            AuthRejection::MissingToken => "missing_token",
            AuthRejection::InvalidToken(_) => "invalid_token",
            AuthRejection::Expired => "token_expired",
            AuthRejection::NotYetValid => "token_not_yet_valid",
        }
    }

    /// The sentence this rejection is answered with.
    fn sentence(self) -> Sentence<'static> {
        match self {
            AuthRejection::MissingToken => {
                Sentence::Fixed("Authentication required: send the access token as `Authorization: Bearer <token>`.")
            }
            AuthRejection::InvalidToken(why) => Sentence::Formatted("The access token is invalid: ", why),
            AuthRejection::Expired => Sentence::Fixed("The access token has expired."),
            AuthRejection::NotYetValid => Sentence::Fixed("The access token is not valid yet (nbf is in the future)."),
        }
    }
}

/// An error's answer: its [`ErrorBody`], written straight from the error.
pub type ErrorJson = crate::api::JsonResponse<ApiError>;

/// Every way a request can fail. `?` maps database errors into it; handlers read straight down.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("unauthorized: {0:?}")]
    Unauthorized(AuthRejection),
    #[error("task not found")]
    TaskNotFound,
    /// The `{user_id}` of a per-user path is not the token's user.
    #[error("user mismatch")]
    UserMismatch,
    /// `If-Match` names another version than the task's (answered with the current task).
    #[error("precondition failed")]
    PreconditionFailed,
    /// The `Idempotency-Key` header is not 1–255 visible ASCII characters.
    #[error("invalid idempotency key")]
    InvalidIdempotencyKey,
    /// The `Idempotency-Key` was used before for a different request.
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    /// The first request with this `Idempotency-Key` has not finished yet.
    #[error("idempotency key in progress")]
    IdempotencyKeyInProgress,
    #[error("route not found")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("validation failed")]
    Validation(Vec<ValidationIssue>),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("request headers too large")]
    HeadersTooLarge,
    #[error("request timed out")]
    RequestTimeout,
    /// The cause was logged where the error was created.
    #[error("database unavailable")]
    DatabaseUnavailable,
    /// Better Auth's key set has never been fetched, so its tokens cannot be checked yet.
    #[error("auth unavailable")]
    AuthUnavailable,
    /// The cause was logged where the error was created.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::TaskNotFound | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::UserMismatch => StatusCode::FORBIDDEN,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::InvalidIdempotencyKey => StatusCode::BAD_REQUEST,
            ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::IdempotencyKeyInProgress => StatusCode::CONFLICT,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::DatabaseUnavailable | ApiError::AuthUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error code table: each error's stable code and its sentence, in one match. The
    /// sentence is only formatted when a body is built, never to read a code.
    fn describe(&self) -> (&'static str, Sentence<'_>) {
        use Sentence::{Fixed, Formatted};
        match self {
            ApiError::Unauthorized(rejection) => (rejection.code(), rejection.sentence()),
            ApiError::TaskNotFound => ("task_not_found", Fixed("Task not found.")),
            ApiError::PreconditionFailed => (
                "precondition_failed",
                Fixed("The task has changed since the version named in If-Match; `current` is the task as it is now."),
            ),
            ApiError::UserMismatch => (
                "user_mismatch",
                Fixed("The user id in the path is not the signed-in user's; use your own id (or /api/tasks)."),
            ),
            ApiError::InvalidIdempotencyKey => (
                "invalid_idempotency_key",
                Fixed("The Idempotency-Key header must be 1 to 255 visible ASCII characters (a UUID, for example)."),
            ),
            ApiError::IdempotencyKeyReused => (
                "idempotency_key_reused",
                Fixed(
                    "This Idempotency-Key was already used for a different request; use a new key for a new request.",
                ),
            ),
            ApiError::IdempotencyKeyInProgress => (
                "idempotency_key_in_progress",
                Fixed("A request with this Idempotency-Key is still being processed; retry shortly to get its answer."),
            ),
            ApiError::RouteNotFound => ("route_not_found", Fixed("No such endpoint. See /docs for the API.")),
            ApiError::MethodNotAllowed => (
                "method_not_allowed",
                Fixed("This endpoint does not support that HTTP method."),
            ),
            ApiError::Validation(issues) => ("validation_failed", Sentence::Validation(issues)),
            ApiError::BadRequest(why) => ("bad_request", Formatted("The request could not be read: ", why)),
            ApiError::PayloadTooLarge => ("payload_too_large", Fixed("The request body is larger than 64 KiB.")),
            ApiError::UnsupportedMediaType => (
                "unsupported_media_type",
                Fixed("The request body must be JSON (`Content-Type: application/json`)."),
            ),
            ApiError::HeadersTooLarge => (
                "headers_too_large",
                Fixed("The request headers are larger than 32 KiB."),
            ),
            ApiError::RequestTimeout => (
                "request_timeout",
                Fixed("The request took too long and was abandoned; please retry shortly."),
            ),
            ApiError::DatabaseUnavailable => (
                "database_unavailable",
                Fixed("The database is unavailable right now; please retry shortly."),
            ),
            ApiError::AuthUnavailable => (
                "auth_unavailable",
                Fixed(
                    "Your sign-in cannot be checked right now (the authentication service's keys are unreachable); please retry shortly.",
                ),
            ),
            ApiError::Internal => ("internal_error", Fixed("Something went wrong on our side.")),
        }
    }

    /// The stable snake_case code of this error.
    pub fn code(&self) -> &'static str {
        self.describe().0
    }

    /// The sentence of this error's `detail` and `message`: built only for the errors whose
    /// sentence has a part of its own (a reason, the failing fields).
    pub fn sentence(&self) -> Cow<'static, str> {
        match self.describe().1 {
            Sentence::Fixed(text) => Cow::Borrowed(text),
            // Joined, not formatted: `format!` cost ~400 instructions on every refused token.
            Sentence::Formatted(lead, detail) => Cow::Owned([lead, detail, "."].concat()),
            Sentence::Validation(issues) => Cow::Owned(validation_sentence(issues)),
        }
    }

    /// The failing fields of a validation error.
    pub fn issues(&self) -> Option<&[ValidationIssue]> {
        match self {
            ApiError::Validation(issues) => Some(issues),
            _ => None,
        }
    }

    /// The JSON body this error is answered with, as a value (answers write it straight from the
    /// error: `JsonBody for ApiError`).
    pub fn body(&self) -> ErrorBody {
        let sentence = self.sentence().into_owned();
        ErrorBody {
            detail: sentence.clone(),
            message: sentence,
            code: self.code().to_owned(),
            status: self.status().as_u16(),
            errors: self.issues().map(<[ValidationIssue]>::to_vec),
        }
    }

    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3): `error` only when a token was sent.
    pub fn challenge(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(AuthRejection::MissingToken) => "Bearer",
            ApiError::Unauthorized(_) => r#"Bearer error="invalid_token""#,
            _ => "",
        }
    }

    /// Classifies an error made by poem or poem-openapi (extractors, routing, body reading).
    pub fn from_framework(err: poem::Error) -> ApiError {
        let err = match err.downcast::<ApiError>() {
            Ok(api_error) => return api_error,
            Err(err) => err,
        };
        if err.is::<AuthorizationError>() {
            ApiError::Unauthorized(AuthRejection::MissingToken)
        } else if err.is::<ParsePathError>() {
            // The only path parameter is a task id: one that is not a number names no task.
            ApiError::TaskNotFound
        } else if err
            .downcast_ref::<ParseParamError>()
            .is_some_and(|param| param.name.eq_ignore_ascii_case("Idempotency-Key"))
        {
            // A header value that is not even text (obs-text bytes) is not a key either.
            ApiError::InvalidIdempotencyKey
        } else if let Some(param) = err.downcast_ref::<ParseParamError>() {
            ApiError::Validation(vec![ValidationIssue {
                loc: vec!["query".to_owned(), param.name.to_owned()],
                msg: param.reason.clone(),
                kind: "query_invalid".to_owned(),
            }])
        } else if let Some(payload) = err.downcast_ref::<ParseRequestPayloadError>() {
            ApiError::Validation(vec![ValidationIssue::body(
                None,
                "json_invalid",
                payload.reason.clone(),
            )])
        } else if err.is::<ContentTypeError>() {
            ApiError::UnsupportedMediaType
        } else if err.is::<NotFoundError>() {
            ApiError::RouteNotFound
        } else if err.is::<MethodNotAllowedError>() {
            ApiError::MethodNotAllowed
        } else if matches!(
            err.downcast_ref::<ReadBodyError>(),
            Some(ReadBodyError::PayloadTooLarge)
        ) || matches!(
            err.downcast_ref::<SizedLimitError>(),
            Some(SizedLimitError::PayloadTooLarge)
        ) {
            ApiError::PayloadTooLarge
        } else if err.status().is_client_error() {
            ApiError::BadRequest(err.to_string())
        } else {
            tracing::error!(error = %err, status = err.status().as_u16(), "unhandled server error");
            ApiError::Internal
        }
    }
}

/// An error's sentence, built into text only when a body is written.
enum Sentence<'a> {
    Fixed(&'static str),
    /// A fixed lead followed by a detail and a full stop.
    Formatted(&'static str, &'a str),
    Validation(&'a [ValidationIssue]),
}

/// "Invalid request:" and each failing field with what is wrong with it.
fn validation_sentence(issues: &[ValidationIssue]) -> String {
    use std::fmt::Write as _;
    let mut sentence = String::from("Invalid request:");
    for issue in issues {
        let _ = match issue.loc.get(1) {
            Some(field) => write!(sentence, " {field}: {}", issue.msg),
            None => write!(sentence, " {}", issue.msg),
        };
    }
    sentence
}

impl From<sea_orm::DbErr> for ApiError {
    /// An outage is answered 503 (retry later); any other database error is a bug of ours,
    /// answered 500 so that clients do not retry it for ever. Either way the cause is logged
    /// (inside the request's span, with its id) and never sent.
    fn from(err: sea_orm::DbErr) -> Self {
        if crate::db::is_outage(&err) {
            tracing::warn!(error = %err, "database unavailable");
            ApiError::DatabaseUnavailable
        } else {
            tracing::error!(error = %err, "database statement failed");
            ApiError::Internal
        }
    }
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        ApiError::status(self)
    }

    fn as_response(&self) -> Response {
        let mut resp = crate::api::JsonResponse(self).into_response();
        resp.set_status(self.status());
        if self.status() == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(self.challenge()));
        }
        resp
    }
}

/// Every error that escaped an operation becomes the JSON body.
pub fn render_error(err: poem::Error) -> Response {
    if err.is_from_response() {
        // An operation's own typed response travelling as an error: already in our shape.
        return err.into_response();
    }
    ApiError::from_framework(err).as_response()
}

/// Implemented by every operation's response enum: which documented variant answers a failure.
/// Generated by [`error_variants!`].
pub trait FromApiError {
    fn from_api_error(err: ApiError) -> Self;
}

/// `bad_request_handler` of every operation's response enum: extractor failures (auth, path,
/// body) become the operation's documented error variants instead of poem's text/plain 400.
pub fn reject<R: FromApiError>(err: poem::Error) -> R {
    R::from_api_error(ApiError::from_framework(err))
}

/// Answers an operation's result: the success variant, or the error variant that documents it.
pub fn respond<R: FromApiError>(result: Result<R, ApiError>) -> R {
    result.unwrap_or_else(R::from_api_error)
}

/// Implements [`FromApiError`] for an operation's response enum. Every enum has
/// `Unauthorized(ErrorJson, String)`, `InternalError` (500), `ServiceUnavailable` (503) and
/// `ClientError(StatusCode, ErrorJson)` (the documented `4XX` range); the listed statuses
/// map onto their own variants. Any other server error is answered as a 500: a `5XX` status must
/// never travel through the variant documented as `4XX`.
macro_rules! error_variants {
    ($response:ty { $($status:literal => $variant:ident),* $(,)? }) => {
        impl $crate::error::FromApiError for $response {
            fn from_api_error(err: $crate::error::ApiError) -> Self {
                let status = err.status();
                let challenge = err.challenge();
                let body = $crate::api::JsonResponse(err);
                match status.as_u16() {
                    401 => Self::Unauthorized(body, challenge.to_owned()),
                    $($status => Self::$variant(body),)*
                    503 => Self::ServiceUnavailable(body),
                    400..=499 => Self::ClientError(status, body),
                    _ => Self::InternalError($crate::api::JsonResponse($crate::error::ApiError::Internal)),
                }
            }
        }
    };
}
pub(crate) use error_variants;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_and_message_carry_the_same_sentence_and_the_status_is_repeated() {
        let body = ApiError::TaskNotFound.body();
        assert_eq!(body.detail, "Task not found.");
        assert_eq!(body.detail, body.message);
        assert_eq!((body.code.as_str(), body.status), ("task_not_found", 404));
        assert!(body.errors.is_none());
    }

    #[test]
    fn a_challenge_names_invalid_token_only_when_a_token_was_sent() {
        assert_eq!(
            ApiError::Unauthorized(AuthRejection::MissingToken).challenge(),
            "Bearer"
        );
        assert_eq!(
            ApiError::Unauthorized(AuthRejection::Expired).challenge(),
            r#"Bearer error="invalid_token""#
        );
    }

    #[test]
    fn validation_errors_list_every_field_in_the_sentence() {
        let err = ApiError::Validation(vec![
            ValidationIssue::body(Some("title"), "missing", "Field required."),
            ValidationIssue::body(Some("completed"), "bool_type", "Must be true or false."),
        ]);
        let body = err.body();
        assert_eq!(
            body.detail,
            "Invalid request: title: Field required. completed: Must be true or false."
        );
        assert_eq!(body.errors.unwrap().len(), 2);
    }

    #[test]
    fn the_size_limits_in_the_sentences_are_the_enforced_ones() {
        use crate::request_limits::{MAX_BODY_BYTES, MAX_HEADER_BYTES};
        let sentence = |err: ApiError| err.body().detail;
        assert!(sentence(ApiError::PayloadTooLarge).contains(&format!("{} KiB", MAX_BODY_BYTES / 1024)));
        assert!(sentence(ApiError::HeadersTooLarge).contains(&format!("{} KiB", MAX_HEADER_BYTES / 1024)));
    }

    #[test]
    fn every_rejection_kind_has_its_own_index_and_code() {
        for (index, kind) in AuthRejection::KINDS.iter().enumerate() {
            assert_eq!(kind.kind_index(), index);
            assert_eq!(ApiError::Unauthorized(*kind).body().code, kind.code());
        }
        assert_eq!(
            ApiError::Unauthorized(AuthRejection::InvalidToken("it is signed with an unknown key"))
                .body()
                .detail,
            "The access token is invalid: it is signed with an unknown key."
        );
    }

    #[test]
    fn framework_errors_are_classified_into_the_project_codes() {
        let classify = |err: poem::Error| ApiError::from_framework(err).body().code;
        assert_eq!(classify(NotFoundError.into()), "route_not_found");
        assert_eq!(classify(MethodNotAllowedError.into()), "method_not_allowed");
        assert_eq!(classify(AuthorizationError.into()), "missing_token");
        assert_eq!(classify(ReadBodyError::PayloadTooLarge.into()), "payload_too_large");
        assert_eq!(
            classify(ContentTypeError::ExpectContentType.into()),
            "unsupported_media_type"
        );
        assert_eq!(
            classify(
                ParsePathError {
                    name: "id",
                    reason: "x".into()
                }
                .into()
            ),
            "task_not_found"
        );
    }
}
