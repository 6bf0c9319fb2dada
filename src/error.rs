//! The one error body, the one [`ApiError`], and the renderer for errors the framework makes.
//!
//! Every non-2xx answer of the service is an [`ErrorBody`]: `detail` for FastAPI-era frontends,
//! `message` for the others, a stable `code`, the numeric `status` and, for validation failures,
//! the failing fields in `errors`. Internal causes are logged, never returned.

use poem::error::{MethodNotAllowedError, NotFoundError, ReadBodyError, ResponseError, SizedLimitError};
use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::Object;
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;

use crate::request_limits::{MAX_BODY_BYTES, MAX_HEADER_BYTES};

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

/// Every way a request can fail. `?` maps database errors into it; handlers read straight down.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("unauthorized: {0:?}")]
    Unauthorized(AuthRejection),
    #[error("task not found")]
    TaskNotFound,
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
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
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

    fn code_and_sentence(&self) -> (&'static str, String) {
        let fixed = |code, sentence: &str| (code, sentence.to_owned());
        match self {
            ApiError::Unauthorized(AuthRejection::MissingToken) => fixed(
                "missing_token",
                "Authentication required: send the access token as `Authorization: Bearer <token>`.",
            ),
            ApiError::Unauthorized(AuthRejection::InvalidToken(why)) => {
                ("invalid_token", format!("The access token is invalid: {why}."))
            }
            ApiError::Unauthorized(AuthRejection::Expired) => fixed("token_expired", "The access token has expired."),
            ApiError::Unauthorized(AuthRejection::NotYetValid) => fixed(
                "token_not_yet_valid",
                "The access token is not valid yet (nbf is in the future).",
            ),
            ApiError::TaskNotFound => fixed("task_not_found", "Task not found."),
            ApiError::RouteNotFound => fixed("route_not_found", "No such endpoint. See /docs for the API."),
            ApiError::MethodNotAllowed => {
                fixed("method_not_allowed", "This endpoint does not support that HTTP method.")
            }
            ApiError::Validation(issues) => ("validation_failed", validation_sentence(issues)),
            ApiError::BadRequest(why) => ("bad_request", format!("The request could not be read: {why}.")),
            ApiError::PayloadTooLarge => (
                "payload_too_large",
                format!("The request body is larger than {} KiB.", MAX_BODY_BYTES / 1024),
            ),
            ApiError::UnsupportedMediaType => fixed(
                "unsupported_media_type",
                "The request body must be JSON (`Content-Type: application/json`).",
            ),
            ApiError::HeadersTooLarge => (
                "headers_too_large",
                format!("The request headers are larger than {} KiB.", MAX_HEADER_BYTES / 1024),
            ),
            ApiError::RequestTimeout => fixed(
                "request_timeout",
                "The request took too long and was abandoned; please retry shortly.",
            ),
            ApiError::DatabaseUnavailable => fixed(
                "database_unavailable",
                "The database is unavailable right now; please retry shortly.",
            ),
            ApiError::AuthUnavailable => fixed(
                "auth_unavailable",
                "Your sign-in cannot be checked right now (the authentication service's keys are unreachable); please retry shortly.",
            ),
            ApiError::Internal => fixed("internal_error", "Something went wrong on our side."),
        }
    }

    /// The stable snake_case code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            // Called on every refused token (metrics): no sentence is built for it.
            ApiError::Unauthorized(AuthRejection::MissingToken) => "missing_token",
            ApiError::Unauthorized(AuthRejection::InvalidToken(_)) => "invalid_token",
            ApiError::Unauthorized(AuthRejection::Expired) => "token_expired",
            ApiError::Unauthorized(AuthRejection::NotYetValid) => "token_not_yet_valid",
            other => other.code_and_sentence().0,
        }
    }

    /// The JSON body this error is answered with.
    pub fn body(&self) -> ErrorBody {
        let (code, sentence) = self.code_and_sentence();
        ErrorBody {
            detail: sentence.clone(),
            message: sentence,
            code: code.to_owned(),
            status: self.status().as_u16(),
            errors: match self {
                ApiError::Validation(issues) => Some(issues.clone()),
                _ => None,
            },
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

fn validation_sentence(issues: &[ValidationIssue]) -> String {
    let parts: Vec<String> = issues
        .iter()
        .map(|issue| match issue.loc.get(1) {
            Some(field) => format!("{field}: {}", issue.msg),
            None => issue.msg.clone(),
        })
        .collect();
    format!("Invalid request: {}", parts.join(" "))
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
        let mut resp = Json(self.body()).into_response();
        resp.set_status(self.status());
        if self.status() == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(self.challenge()));
        }
        resp
    }
}

/// `catch_all_error` handler: every error that escaped an operation becomes the JSON body.
pub async fn render_error(err: poem::Error) -> Response {
    if err.is_from_response() {
        // An operation's own typed response travelling as an error: already in our shape.
        return err.into_response();
    }
    ApiError::from_framework(err).as_response()
}

/// Implemented by every operation's response enum: which documented variant answers a failure.
/// Generated by [`error_variants!`](crate::error_variants).
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
/// `Unauthorized(Json<ErrorBody>, String)`, `InternalError` (500), `ServiceUnavailable` (503) and
/// `ClientError(StatusCode, Json<ErrorBody>)` (the documented `4XX` range); the listed statuses
/// map onto their own variants. Any other server error is answered as a 500: a `5XX` status must
/// never travel through the variant documented as `4XX`.
#[macro_export]
macro_rules! error_variants {
    ($response:ty { $($status:literal => $variant:ident),* $(,)? }) => {
        impl $crate::error::FromApiError for $response {
            fn from_api_error(err: $crate::error::ApiError) -> Self {
                let status = err.status();
                let challenge = err.challenge();
                let body = ::poem_openapi::payload::Json(err.body());
                match status.as_u16() {
                    401 => Self::Unauthorized(body, challenge.to_owned()),
                    $($status => Self::$variant(body),)*
                    503 => Self::ServiceUnavailable(body),
                    400..=499 => Self::ClientError(status, body),
                    _ => Self::InternalError(::poem_openapi::payload::Json(
                        $crate::error::ApiError::Internal.body(),
                    )),
                }
            }
        }
    };
}

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
