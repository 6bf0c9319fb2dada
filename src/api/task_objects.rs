//! The task JSON objects: what the API answers and what it accepts.
//!
//! Request objects derive `Object` for their published schema and implement [`FromJsonObject`]
//! for parsing, so every failing field is reported (see `json_body`). Unknown fields, `user_id`
//! included, are ignored: the owner only ever comes from the token.

use poem_openapi::Object;
use poem_openapi::types::{Example, MaybeUndefined};

use super::json_body::{Field, Fields, FromJsonObject};
use super::timestamp::Timestamp;
use crate::tasks::{self, entity};

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// A task, as stored.
#[derive(Debug, Object, serde::Serialize)]
#[oai(example)]
pub struct Task {
    /// Unique id of the task.
    pub id: i64,
    /// The Better Auth id of the owner (from the token's `sub`).
    pub user_id: String,
    /// 1 to 200 characters, trimmed.
    pub title: String,
    /// Up to 1000 characters, or `null`.
    #[oai(nullable)]
    pub description: Option<String>,
    pub completed: bool,
    /// When the task was created (RFC 3339, UTC).
    pub created_at: Timestamp,
    /// When the task last changed (RFC 3339, UTC).
    pub updated_at: Timestamp,
}

impl From<entity::Model> for Task {
    fn from(task: entity::Model) -> Self {
        Task {
            id: task.id,
            user_id: task.user_id,
            title: task.title,
            description: task.description,
            completed: task.completed,
            created_at: Timestamp(task.created_at),
            updated_at: Timestamp(task.updated_at),
        }
    }
}

impl Example for Task {
    fn example() -> Self {
        let created = chrono::DateTime::parse_from_rfc3339("2026-01-18T10:00:00.123456Z")
            .expect("a valid example time")
            .to_utc();
        Task {
            id: 42,
            user_id: "Yt5yQ0mBZ1cHH7k9fVRcV4yWvE8EPzZ1".into(),
            title: "Buy milk".into(),
            description: Some("2 litres, semi-skimmed".into()),
            completed: false,
            created_at: Timestamp(created),
            updated_at: Timestamp(created),
        }
    }
}

/// A new task. Unknown fields are ignored.
#[derive(Debug, Object)]
#[oai(example)]
pub struct NewTaskRequest {
    /// Required; trimmed, then 1 to 200 characters; no NUL.
    #[oai(validator(
        pattern = r"^[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\x00](?:[^\x00]{0,198}[^\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\x00])?[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    ))]
    pub title: String,
    /// Optional, at most 1000 characters, no NUL; an empty string is stored as given, `null` means none.
    #[oai(nullable, validator(max_length = 1000, pattern = r"^[^\x00]*$"))]
    pub description: Option<String>,
    /// Defaults to `false`.
    #[oai(skip_serializing_if_is_none)]
    pub completed: Option<bool>,
}

impl Example for NewTaskRequest {
    fn example() -> Self {
        NewTaskRequest {
            title: "Buy milk".into(),
            description: Some("2 litres, semi-skimmed".into()),
            completed: None,
        }
    }
}

impl From<NewTaskRequest> for tasks::NewTask {
    fn from(request: NewTaskRequest) -> Self {
        tasks::NewTask {
            title: request.title,
            description: request.description,
            completed: request.completed.unwrap_or(false),
        }
    }
}

/// A partial update: absent fields keep their value, `description: null` clears it.
#[derive(Debug, Object)]
#[oai(example)]
pub struct TaskUpdateRequest {
    /// Trimmed, then 1 to 200 characters; no NUL.
    #[oai(validator(
        pattern = r"^[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\x00](?:[^\x00]{0,198}[^\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\x00])?[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    ))]
    pub title: Option<String>,
    /// At most 1000 characters, no NUL; `null` clears the description.
    #[oai(nullable, validator(max_length = 1000, pattern = r"^[^\x00]*$"))]
    pub description: MaybeUndefined<String>,
    #[oai(skip_serializing_if_is_none)]
    pub completed: Option<bool>,
}

impl Example for TaskUpdateRequest {
    fn example() -> Self {
        TaskUpdateRequest {
            title: Some("Buy oat milk".into()),
            description: MaybeUndefined::Undefined,
            completed: Some(true),
        }
    }
}

impl From<TaskUpdateRequest> for tasks::TaskChanges {
    fn from(request: TaskUpdateRequest) -> Self {
        tasks::TaskChanges {
            title: request.title,
            description: match request.description {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(text) => Some(Some(text)),
            },
            completed: request.completed,
        }
    }
}

/// Sets completion; without this body (or with `{}`) the task is toggled instead.
#[derive(Debug, Object)]
#[oai(example)]
pub struct CompletionRequest {
    /// The new completion state; omit it to toggle.
    #[oai(skip_serializing_if_is_none)]
    pub completed: Option<bool>,
}

impl Example for CompletionRequest {
    fn example() -> Self {
        CompletionRequest { completed: Some(true) }
    }
}

/// The answer to a delete.
#[derive(Debug, Object)]
#[oai(example)]
pub struct DeletedTask {
    /// The id of the deleted task.
    pub id: i64,
    /// Always `Task deleted`.
    pub message: String,
}

impl DeletedTask {
    pub fn new(id: i64) -> Self {
        DeletedTask {
            id,
            message: "Task deleted".into(),
        }
    }
}

impl Example for DeletedTask {
    fn example() -> Self {
        DeletedTask::new(42)
    }
}

/// The title rule: trimmed, then 1..=200 characters (not bytes).
fn read_title(fields: &mut Fields<'_>, raw: String) -> Option<String> {
    let title = raw.trim();
    let length = title.chars().count();
    if length == 0 {
        fields.issue("title", "string_too_short", "Title must not be empty.");
        None
    } else if length > MAX_TITLE_CHARS {
        fields.issue(
            "title",
            "string_too_long",
            format!("Title must be at most {MAX_TITLE_CHARS} characters (got {length})."),
        );
        None
    } else {
        Some(title.to_owned())
    }
}

/// The description rule: at most 1000 characters, stored as given (an empty string stays empty).
fn read_description(fields: &mut Fields<'_>, text: String) -> Option<String> {
    let length = text.chars().count();
    if length > MAX_DESCRIPTION_CHARS {
        fields.issue(
            "description",
            "string_too_long",
            format!("Description must be at most {MAX_DESCRIPTION_CHARS} characters (got {length})."),
        );
        return None;
    }
    Some(text)
}

impl FromJsonObject for NewTaskRequest {
    fn from_json_object(fields: &mut Fields<'_>) -> Option<Self> {
        let title = match fields.string("title") {
            Field::Value(raw) => read_title(fields, raw),
            Field::Absent | Field::Null => {
                fields.issue("title", "missing", "Title is required.");
                None
            }
            Field::Invalid => None,
        };
        let description = match fields.string("description") {
            Field::Value(text) => read_description(fields, text),
            _ => None,
        };
        let completed = match fields.boolean("completed") {
            Field::Value(completed) => Some(completed),
            Field::Null => {
                fields.issue("completed", "bool_type", "Must be true or false; omit it for false.");
                None
            }
            Field::Absent | Field::Invalid => None,
        };
        Some(NewTaskRequest {
            title: title?,
            description,
            completed,
        })
    }
}

impl FromJsonObject for TaskUpdateRequest {
    fn from_json_object(fields: &mut Fields<'_>) -> Option<Self> {
        let title = match fields.string("title") {
            Field::Value(raw) => read_title(fields, raw),
            Field::Null => {
                fields.issue(
                    "title",
                    "string_type",
                    "Title cannot be null; omit it to keep the current title.",
                );
                None
            }
            Field::Absent | Field::Invalid => None,
        };
        let description = match fields.string("description") {
            Field::Value(text) => {
                read_description(fields, text).map_or(MaybeUndefined::Undefined, MaybeUndefined::Value)
            }
            Field::Null => MaybeUndefined::Null,
            Field::Absent | Field::Invalid => MaybeUndefined::Undefined,
        };
        let completed = match fields.boolean("completed") {
            Field::Value(completed) => Some(completed),
            Field::Null => {
                fields.issue("completed", "bool_type", "Must be true or false.");
                None
            }
            Field::Absent | Field::Invalid => None,
        };
        Some(TaskUpdateRequest {
            title,
            description,
            completed,
        })
    }
}

impl FromJsonObject for CompletionRequest {
    fn from_json_object(fields: &mut Fields<'_>) -> Option<Self> {
        let completed = match fields.boolean("completed") {
            Field::Value(completed) => Some(completed),
            Field::Null => {
                fields.issue("completed", "bool_type", "Must be true or false; omit it to toggle.");
                None
            }
            Field::Absent | Field::Invalid => None,
        };
        Some(CompletionRequest { completed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem_openapi::registry::{MetaSchemaRef, Registry};
    use poem_openapi::types::Type;

    /// The title rule as a JSON Schema pattern, for clients and contract fuzzers: at most 200
    /// characters once the white space `str::trim` removes is gone, at least one other character,
    /// no NUL. The `validator(pattern)` attributes of the request objects repeat it literally (they take no
    /// constants); these tests keep them equal to this constant and to `read_title`.
    const TITLE_PATTERN: &str = r"^[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\x00](?:[^\x00]{0,198}[^\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\x00])?[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$";

    /// No NUL anywhere: PostgreSQL cannot store it, so it is refused on both back ends.
    const DESCRIPTION_PATTERN: &str = r"^[^\x00]*$";

    fn property_pattern<T: Type>(name: &str, property: &str) -> Option<String> {
        let mut registry = Registry::new();
        T::register(&mut registry);
        let schema = &registry.schemas[name];
        let (_, MetaSchemaRef::Inline(field)) = schema.properties.iter().find(|(key, _)| *key == property)? else {
            return None;
        };
        field.pattern.clone()
    }

    #[test]
    fn the_published_patterns_are_the_constants() {
        for object in ["NewTaskRequest", "TaskUpdateRequest"] {
            let pattern = |property| match object {
                "NewTaskRequest" => property_pattern::<NewTaskRequest>(object, property),
                _ => property_pattern::<TaskUpdateRequest>(object, property),
            };
            assert_eq!(pattern("title").as_deref(), Some(TITLE_PATTERN), "{object}.title");
            assert_eq!(
                pattern("description").as_deref(),
                Some(DESCRIPTION_PATTERN),
                "{object}.description"
            );
        }
    }

    #[test]
    fn the_title_pattern_accepts_exactly_what_the_title_rule_accepts() {
        let pattern = regex::Regex::new(TITLE_PATTERN).unwrap();
        let samples = [
            "a".to_owned(),
            " a ".to_owned(),
            "\t".to_owned(),
            "   ".to_owned(),
            String::new(),
            "a\u{0}b".to_owned(),
            "\u{3000}x\u{3000}".to_owned(),
            "\u{85}".to_owned(),
            "\u{feff}".to_owned(),
            "x".repeat(200),
            "x".repeat(201),
            format!("  {}  ", "é".repeat(200)),
            format!("a{}b", " ".repeat(198)),
            format!("a{}b", " ".repeat(199)),
            "line\nbreak".to_owned(),
        ];
        for sample in samples {
            let rule = sample.trim();
            let accepted = !rule.is_empty() && rule.chars().count() <= MAX_TITLE_CHARS && !sample.contains('\0');
            assert_eq!(pattern.is_match(&sample), accepted, "{sample:?}");
        }
    }
}
