//! The task JSON objects: what the API answers and what it accepts.
//!
//! Request objects derive `Object` for their published schema and implement [`FromJsonObject`]
//! for parsing, so every failing field is reported (see `json_body`). Unknown fields, `user_id`
//! included, are ignored: the owner only ever comes from the token.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use poem_openapi::types::{Example, MaybeUndefined};
use serde_json::json;

use super::conditional::etag_of;
use super::field_schemas::{
    DueSchema, IntervalSchema, PrioritySchema, Published, RecurrenceSchema, ReminderAtSchema, ReminderTimeSchema,
    RequiredStatusSchema, StatusSchema, TagsSchema,
};
use super::json_body::{Field, Fields, FromJsonObject};
use super::task_fields::{ReminderInput, TaskDetailsInput, read_completion_alias, resolve_reminder};
use super::timestamp::Timestamp;
use crate::error::{ApiError, ErrorBody};
use crate::tasks::cells::Schedule;
use crate::tasks::details::{Due, Priority, Recurrence, RecurrenceKind};
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
    /// `medium` unless set; returned in the spelling it was sent in (`HIGH` stays `HIGH`).
    /// Ranked none < low < medium (normal) < high < urgent = critical.
    pub priority: String,
    /// Trimmed, without case-insensitive duplicates; `[]` when none.
    pub tags: Vec<String>,
    /// A date (`2026-03-01`) when one was sent, else a date-time in UTC with `Z`; `null` when none.
    #[oai(nullable)]
    pub due_date: Option<String>,
    /// Whether completing the task creates its next occurrence.
    pub is_recurring: bool,
    /// `daily`, `weekly`, `monthly` or `yearly`; `null` when the task does not recur.
    #[oai(nullable)]
    pub recurrence_type: Option<String>,
    /// Every how many days, weeks, months or years; 1 unless set.
    pub recurrence_interval: i32,
    /// When the next occurrence will be due (one step after the due date), for a recurring task
    /// with a due date; else `null`.
    #[oai(nullable)]
    pub next_run_at: Option<String>,
    /// The recurring task whose completion created this one; else `null`.
    #[oai(nullable)]
    pub parent_task_id: Option<i64>,
    /// When to remind (RFC 3339, UTC); `null` when none.
    #[oai(nullable)]
    pub reminder_at: Option<Timestamp>,
    /// When the task was completed (RFC 3339, UTC); `null` while it is not.
    #[oai(nullable)]
    pub completed_at: Option<Timestamp>,
    /// The task's version as an entity tag, e.g. `"3"` (with the quotes): the `ETag` header of
    /// this task's own answers, here too so that a client holding a list can send `If-Match` for
    /// any task in it. It changes on every change of the task.
    pub etag: String,
}

impl From<entity::Model> for Task {
    fn from(task: entity::Model) -> Self {
        entity::TaskRow::from(task).into()
    }
}

impl From<entity::TaskRow> for Task {
    fn from(task: entity::TaskRow) -> Self {
        let Schedule { due, rule, next_run } = task.cells().schedule();
        Task {
            id: task.id,
            user_id: task.user_id,
            title: task.title,
            description: task.description,
            completed: task.completed,
            created_at: Timestamp(task.created_at),
            updated_at: Timestamp(task.updated_at),
            priority: task.priority,
            tags: stored_tags(&task.tags),
            due_date: due.map(Due::to_wire),
            is_recurring: task.is_recurring,
            recurrence_type: rule.map(|rule| rule.kind.as_str().to_owned()),
            recurrence_interval: task.recurrence_interval,
            next_run_at: next_run.map(Due::to_wire),
            parent_task_id: task.parent_task_id,
            reminder_at: task.reminder_at.map(Timestamp),
            completed_at: task.completed_at.map(Timestamp),
            etag: etag_of(task.version),
        }
    }
}

/// The tags column (a JSON array of strings) as a list; most tasks have none, which needs no
/// parser.
pub(super) fn stored_tags(stored: &str) -> Vec<String> {
    if stored == "[]" {
        return Vec::new();
    }
    serde_json::from_str(stored).unwrap_or_default()
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
            priority: "high".into(),
            tags: vec!["shopping".into()],
            due_date: Some("2026-01-19".into()),
            is_recurring: true,
            recurrence_type: Some("weekly".into()),
            recurrence_interval: 1,
            next_run_at: Some("2026-01-26".into()),
            parent_task_id: None,
            reminder_at: None,
            completed_at: None,
            etag: etag_of(3),
        }
    }
}

/// The task details a create or an update may send, published once for both, in every dialect
/// of `specs/api/fields.md`. Unknown fields are ignored.
#[derive(Debug, Default, Object)]
pub struct TaskDetailsRequest {
    /// `low`, `medium` (default; also `normal`), `high`, `urgent`, `critical` or `none`, in any
    /// case (returned as sent), or a number 1 to 4.
    #[oai(skip_serializing_if_is_none)]
    pub priority: Option<Published<PrioritySchema>>,
    /// An array of strings, an array of `{"name": …}` objects, or a comma-separated string; at
    /// most 20 tags of at most 50 characters.
    #[oai(skip_serializing_if_is_none)]
    pub tags: Option<Published<TagsSchema>>,
    /// A date (`2026-03-01`) or a date-time (`2026-03-01T09:00:00Z`; without an offset it is
    /// UTC); `""` or `null` for none. Also accepted as `dueDate` or `due_at`.
    #[oai(skip_serializing_if_is_none)]
    pub due_date: Option<Published<DueSchema>>,
    /// Whether completing the task creates its next occurrence. Implied by `recurrence_type`.
    #[oai(nullable, skip_serializing_if_is_none)]
    pub is_recurring: Option<bool>,
    /// `daily`, `weekly`, `monthly`, `yearly` or `none`, or an RRULE (`FREQ=WEEKLY;INTERVAL=2`).
    /// Also accepted as `recurrence_pattern` or `recurrence_rule`.
    #[oai(skip_serializing_if_is_none)]
    pub recurrence_type: Option<Published<RecurrenceSchema>>,
    /// Every how many days, weeks, months or years (1 to 999; default 1). Also `recurring_interval`.
    #[oai(skip_serializing_if_is_none)]
    pub recurrence_interval: Option<Published<IntervalSchema>>,
    /// When to remind, a date-time; `null` for none.
    #[oai(skip_serializing_if_is_none)]
    pub reminder_at: Option<Published<ReminderAtSchema>>,
    /// A date-time, or a time before the due date: `30m`, `1h`, `2d`, `1w` (on a task without a
    /// due date: from now).
    #[oai(skip_serializing_if_is_none)]
    pub reminder_time: Option<Published<ReminderTimeSchema>>,
    /// An alias of `completed`: `completed`/`done` or `pending`/`incomplete` (any case).
    /// `is_completed` and `is_complete` are understood too; `completed` wins.
    #[oai(skip_serializing_if_is_none)]
    pub status: Option<Published<StatusSchema>>,
    /// The details as read, in every dialect above (not published).
    #[oai(skip)]
    pub read: TaskDetailsInput,
}

impl TaskDetailsRequest {
    fn read(fields: &mut Fields<'_>) -> TaskDetailsRequest {
        TaskDetailsRequest {
            read: TaskDetailsInput::read(fields),
            ..TaskDetailsRequest::default()
        }
    }
}

/// A new task. Unknown fields are ignored.
#[derive(Debug, Object)]
#[oai(example)]
pub struct NewTaskRequest {
    /// Required; trimmed (white space and invisible characters at either end), then 1 to 200 characters, one line without control characters.
    #[oai(validator(
        pattern = r"^[\t\n\x0B\x0C\r \x85\xA0\xAD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF]*[^\t\n\x0B\x0C\r \x85\xA0\xAD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\x00-\x1F\x7F-\x9F](?:[^\x00-\x1F\x7F-\x9F]{0,198}[^\t\n\x0B\x0C\r \x85\xA0\xAD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\x00-\x1F\x7F-\x9F])?[\t\n\x0B\x0C\r \x85\xA0\xAD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF]*$"
    ))]
    pub title: String,
    /// Optional, at most 1000 characters, no NUL; an empty string is stored as given, `null` means none.
    #[oai(nullable, validator(max_length = 1000, pattern = r"^[^\x00]*$"))]
    pub description: Option<String>,
    /// Defaults to `false`.
    #[oai(skip_serializing_if_is_none)]
    pub completed: Option<bool>,
    /// Priority, tags, due date, recurrence, reminder and the completion aliases.
    #[oai(flatten)]
    pub details: TaskDetailsRequest,
}

impl Example for NewTaskRequest {
    fn example() -> Self {
        NewTaskRequest {
            title: "Buy milk".into(),
            description: Some("2 litres, semi-skimmed".into()),
            completed: None,
            details: TaskDetailsRequest {
                priority: Some(Published::new(json!("high"))),
                tags: Some(Published::new(json!(["shopping"]))),
                due_date: Some(Published::new(json!("2026-01-19"))),
                recurrence_type: Some(Published::new(json!("weekly"))),
                reminder_time: Some(Published::new(json!("1h"))),
                ..TaskDetailsRequest::default()
            },
        }
    }
}

impl NewTaskRequest {
    /// The task to create, at `now` (a relative reminder on a task without a due date counts
    /// from it).
    pub fn into_new_task(self, now: DateTime<Utc>) -> Result<tasks::NewTask, ApiError> {
        let details = self.details.read;
        let due = details.due.flatten();
        let rule = match (details.is_recurring, details.recurrence.flatten()) {
            // Recurring without a rule of its own repeats daily.
            (Some(true), None) => Some(Recurrence {
                kind: RecurrenceKind::Daily,
                interval: 1,
            }),
            (_, rule) => rule,
        };
        let reminder_at = match details.reminder {
            Some(reminder) => resolve_reminder(reminder, due, now)?,
            None => None,
        };
        Ok(tasks::NewTask {
            title: self.title,
            description: self.description,
            completed: self.completed.or(details.completed).unwrap_or(false),
            priority: details.priority.unwrap_or_else(Priority::medium),
            tags: details.tags.unwrap_or_default(),
            due,
            recurrence: tasks::RecurrenceSetting {
                is_recurring: details.is_recurring.unwrap_or(true) && rule.is_some(),
                rule,
            },
            reminder_at,
        })
    }
}

/// A partial update: absent fields keep their value, `description: null` clears it.
#[derive(Debug, Object)]
#[oai(example)]
pub struct TaskUpdateRequest {
    /// Trimmed (white space and invisible characters at either end), then 1 to 200 characters, one line without control characters.
    #[oai(validator(
        pattern = r"^[\t\n\x0B\x0C\r \x85\xA0\xAD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF]*[^\t\n\x0B\x0C\r \x85\xA0\xAD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\x00-\x1F\x7F-\x9F](?:[^\x00-\x1F\x7F-\x9F]{0,198}[^\t\n\x0B\x0C\r \x85\xA0\xAD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\x00-\x1F\x7F-\x9F])?[\t\n\x0B\x0C\r \x85\xA0\xAD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF]*$"
    ))]
    pub title: Option<String>,
    /// At most 1000 characters, no NUL; `null` clears the description.
    #[oai(nullable, validator(max_length = 1000, pattern = r"^[^\x00]*$"))]
    pub description: MaybeUndefined<String>,
    #[oai(skip_serializing_if_is_none)]
    pub completed: Option<bool>,
    /// Priority, tags, due date, recurrence, reminder and the completion aliases.
    #[oai(flatten)]
    pub details: TaskDetailsRequest,
}

impl Example for TaskUpdateRequest {
    fn example() -> Self {
        TaskUpdateRequest {
            title: Some("Buy oat milk".into()),
            description: MaybeUndefined::Undefined,
            completed: Some(true),
            details: TaskDetailsRequest {
                priority: Some(Published::new(json!("urgent"))),
                ..TaskDetailsRequest::default()
            },
        }
    }
}

impl TaskUpdateRequest {
    /// The changes this update asks for, at `now`. `stored_due` is the task's due date, read
    /// only when a reminder relative to it is sent without a new due date.
    pub fn into_changes(self, stored_due: Option<Due>, now: DateTime<Utc>) -> Result<tasks::TaskChanges, ApiError> {
        let details = self.details.read;
        let due_for_reminder = details.due.unwrap_or(stored_due);
        let reminder_at = match details.reminder {
            Some(reminder) => Some(resolve_reminder(reminder, due_for_reminder, now)?),
            None => None,
        };
        Ok(tasks::TaskChanges {
            title: self.title,
            description: match self.description {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(text) => Some(Some(text)),
            },
            completed: self.completed.or(details.completed),
            priority: details.priority,
            tags: details.tags,
            due: details.due,
            is_recurring: details.is_recurring,
            recurrence: details.recurrence,
            reminder_at,
        })
    }

    /// Whether the update sends a reminder relative to a due date it does not send.
    pub fn needs_stored_due(&self) -> bool {
        matches!(self.details.read.reminder, Some(ReminderInput::BeforeDue(_))) && self.details.read.due.is_none()
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

/// A status to set: `completed` (also `done`, `complete`) or `pending` (also `incomplete`,
/// `todo`), any case; `{"completed": true|false}` is understood too.
#[derive(Debug, Object)]
#[oai(example)]
pub struct StatusRequest {
    /// `completed` or `pending`, or one of their synonyms, in any case.
    pub status: Published<RequiredStatusSchema>,
    /// The state the status means (not published).
    #[oai(skip)]
    pub completed: bool,
}

impl Example for StatusRequest {
    fn example() -> Self {
        StatusRequest {
            status: Published::new(json!("completed")),
            completed: true,
        }
    }
}

impl FromJsonObject for StatusRequest {
    fn from_json_object(fields: &mut Fields<'_>) -> Option<Self> {
        let completed = match fields.boolean("completed") {
            Field::Value(completed) => Some(completed),
            _ => None,
        };
        let status = read_completion_alias(fields);
        match status.or(completed) {
            Some(completed) => Some(StatusRequest {
                status: Published::new(serde_json::Value::Null),
                completed,
            }),
            None => {
                if matches!(fields.first_of(&["status"]), None | Some((_, serde_json::Value::Null))) {
                    fields.issue(
                        "status",
                        "missing",
                        "Send `status`: completed or pending (or `completed`: true or false).",
                    );
                }
                None
            }
        }
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

/// What a title is trimmed of: white space, and the invisible format characters (zero-width
/// space and joiners, word joiner, byte order mark, direction marks, soft hyphen) that would let
/// a title that shows nothing count as one. Inside a title they stay (an emoji sequence joins
/// with U+200D).
fn is_blank(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{AD}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
        )
}

/// The title rule: trimmed of [`is_blank`] characters, then 1..=200 characters (not bytes), none
/// of them a control character (a title is one line: no line break, tab or terminal escape).
fn read_title(fields: &mut Fields<'_>, raw: String) -> Option<String> {
    let title = raw.trim_matches(is_blank);
    let length = title.chars().count();
    if length == 0 {
        fields.issue("title", "string_too_short", "Title must not be empty.");
        None
    } else if title.chars().any(char::is_control) {
        fields.issue(
            "title",
            "string_pattern",
            "Title must be one line without control characters (line breaks, tabs, escape sequences).",
        );
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
        let details = TaskDetailsRequest::read(fields);
        Some(NewTaskRequest {
            title: title?,
            description,
            completed,
            details,
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
        let details = TaskDetailsRequest::read(fields);
        Some(TaskUpdateRequest {
            title,
            description,
            completed,
            details,
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

/// The body of a 412: the project's error body, and the task as it is now, for the client to
/// merge with.
#[derive(Debug, Object)]
pub struct PreconditionFailedBody {
    #[oai(flatten)]
    pub error: ErrorBody,
    /// The task as it is now; its `etag` is what `If-Match` must name to change it.
    pub current: Task,
}

impl PreconditionFailedBody {
    pub fn new(current: Task) -> Self {
        PreconditionFailedBody {
            error: ApiError::PreconditionFailed.body(),
            current,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem_openapi::registry::{MetaSchemaRef, Registry};
    use poem_openapi::types::Type;

    /// The title rule as a JSON Schema pattern, for clients and contract fuzzers: at most 200
    /// characters once the blank ones at either end (`is_blank`) are gone, at least one other
    /// character, no control character. The `validator(pattern)` attributes of the request objects repeat it literally (they take no
    /// constants); these tests keep them equal to this constant and to `read_title`.
    const TITLE_PATTERN: &str = r"^[\t\n\x0B\x0C\r \x85\xA0\xAD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF]*[^\t\n\x0B\x0C\r \x85\xA0\xAD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\x00-\x1F\x7F-\x9F](?:[^\x00-\x1F\x7F-\x9F]{0,198}[^\t\n\x0B\x0C\r \x85\xA0\xAD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF\x00-\x1F\x7F-\x9F])?[\t\n\x0B\x0C\r \x85\xA0\xAD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u2066-\u206F\u3000\uFEFF]*$";

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
            "tab\tinside".to_owned(),
            "red \u{1b}[31m".to_owned(),
            "del\u{7f}".to_owned(),
            "c1\u{9b}".to_owned(),
            "\u{200b}\u{200c}\u{200d}".to_owned(),
            "\u{feff}Buy milk\u{200b}".to_owned(),
            "\u{ad}\u{2060}\u{202e}".to_owned(),
            "\u{1f468}\u{200d}\u{1f469}".to_owned(),
            "\n\t trimmed \r\n".to_owned(),
            format!("\u{200b}{}\u{feff}", "x".repeat(200)),
        ];
        for sample in samples {
            let rule = sample.trim_matches(is_blank);
            let accepted =
                !rule.is_empty() && rule.chars().count() <= MAX_TITLE_CHARS && !rule.chars().any(char::is_control);
            assert_eq!(pattern.is_match(&sample), accepted, "{sample:?}");
        }
    }
}
