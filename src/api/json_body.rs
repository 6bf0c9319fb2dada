//! JSON request bodies with FastAPI-style validation errors.
//!
//! poem-openapi's `Json<T>` reports one unstructured message and treats a missing
//! `Content-Type` as an error. [`JsonBody`] and [`OptionalJsonBody`] keep the request schema of
//! `T` in the published spec but parse with [`FromJsonObject`], which reports every failing field
//! with its location, and accept a body sent without `Content-Type` as JSON.

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde_json::{Map, Value};

use crate::error::{ApiError, ValidationIssue};

/// A request object read from a JSON object, reporting every invalid field at once.
pub trait FromJsonObject: Type + Sized {
    fn from_json_object(fields: &mut Fields<'_>) -> Option<Self>;
}

/// A JSON object under validation, collecting the issues found so far.
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    issues: Vec<ValidationIssue>,
}

/// A field as sent: absent, `null`, or a value of the expected type. A value of another type has
/// already been reported and reads as `Invalid`.
pub enum Field<T> {
    Absent,
    Null,
    Value(T),
    Invalid,
}

impl<'a> Fields<'a> {
    pub fn new(object: &'a Map<String, Value>) -> Self {
        Fields {
            object,
            issues: Vec::new(),
        }
    }

    /// Whether every field sent is one of `names`.
    pub fn sends_only(&self, names: &[&str]) -> bool {
        self.object.keys().all(|key| names.contains(&key.as_str()))
    }

    pub fn issue(&mut self, field: &str, kind: &str, msg: impl Into<String>) {
        self.issues.push(ValidationIssue::body(Some(field), kind, msg));
    }

    fn field<T>(&mut self, name: &str, read: impl FnOnce(&Value) -> Option<T>, kind: &str, expected: &str) -> Field<T> {
        match self.object.get(name) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(value) => match read(value) {
                Some(value) => Field::Value(value),
                None => {
                    self.issue(name, kind, format!("Must be {expected}."));
                    Field::Invalid
                }
            },
        }
    }

    /// A string field. Text containing NUL is refused: PostgreSQL cannot store it.
    pub fn string(&mut self, name: &str) -> Field<String> {
        match self.field(
            name,
            |value| value.as_str().map(str::to_owned),
            "string_type",
            "a string",
        ) {
            Field::Value(text) if text.contains('\0') => {
                self.issue(name, "string_nul", "Must not contain NUL (\\u0000) characters.");
                Field::Invalid
            }
            other => other,
        }
    }

    /// The raw value of the first of `names` that is present (aliases), with its name.
    pub fn first_of<'n>(&self, names: &[&'n str]) -> Option<(&'n str, &'a Value)> {
        names
            .iter()
            .find_map(|name| self.object.get(*name).map(|value| (*name, value)))
    }

    pub fn boolean(&mut self, name: &str) -> Field<bool> {
        self.field(name, Value::as_bool, "bool_type", "true or false")
    }
}

/// Parses `bytes` as a JSON object and reads `T` from it.
fn parse_object<T: FromJsonObject>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|err| {
        ApiError::Validation(vec![ValidationIssue::body(
            None,
            "json_invalid",
            format!("The body is not valid JSON ({err})."),
        )])
    })?;
    let Value::Object(object) = value else {
        return Err(ApiError::Validation(vec![ValidationIssue::body(
            None,
            "model_type",
            "The body must be a JSON object.",
        )]));
    };
    let mut fields = Fields::new(&object);
    match T::from_json_object(&mut fields) {
        Some(parsed) if fields.issues.is_empty() => Ok(parsed),
        _ => Err(ApiError::Validation(fields.issues)),
    }
}

/// Reads the body, or `None` when there is none (or it is empty). A declared non-JSON type is a 415; no
/// `Content-Type` at all is read as JSON (what `fetch` with a string body and curl users expect).
async fn read_body(request: &Request, body: &mut RequestBody) -> Result<Option<Vec<u8>>, ApiError> {
    let bytes = body
        .take()
        .map_err(|_| ApiError::Internal)?
        .into_vec()
        .await
        .map_err(|err| ApiError::from_framework(err.into()))?;
    // Only a truly empty body is "no body": white space alone is not a JSON document.
    if bytes.is_empty() {
        return Ok(None);
    }
    match request.content_type() {
        Some(content_type) if !is_json(content_type) => Err(ApiError::UnsupportedMediaType),
        _ => Ok(Some(bytes)),
    }
}

/// `application/json`, `application/json; charset=utf-8`, `application/merge-patch+json`, …
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A JSON object body read into `T`; when `REQUIRED` is false, no body (or an empty one) reads as
/// `None`. Use it through [`JsonBody`] and [`OptionalJsonBody`].
pub struct JsonObjectBody<T, const REQUIRED: bool> {
    value: Option<T>,
    /// The body as sent (empty when there was none): what an `Idempotency-Key` fingerprints.
    raw: Vec<u8>,
}

/// A required JSON object body.
pub type JsonBody<T> = JsonObjectBody<T, true>;

/// An optional JSON object body.
pub type OptionalJsonBody<T> = JsonObjectBody<T, false>;

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.value
            .expect("the extractor refuses a required body that is missing")
    }
}

impl<T> OptionalJsonBody<T> {
    pub fn into_option(self) -> Option<T> {
        self.value
    }
}

impl<T, const REQUIRED: bool> JsonObjectBody<T, REQUIRED> {
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }
}

impl<'a, T: FromJsonObject, const REQUIRED: bool> ApiExtractor<'a> for JsonObjectBody<T, REQUIRED> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: "application/json",
                schema: <T as Type>::schema_ref(),
            }],
            required: REQUIRED,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match read_body(request, body).await? {
            Some(raw) => Ok(JsonObjectBody {
                value: Some(parse_object(&raw)?),
                raw,
            }),
            None if REQUIRED => Err(ApiError::Validation(vec![ValidationIssue::body(
                None,
                "missing",
                "A JSON object body is required.",
            )])
            .into()),
            None => Ok(JsonObjectBody {
                value: None,
                raw: Vec::new(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types_are_recognised() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
        assert!(!is_json("multipart/form-data; boundary=x"));
    }
}
