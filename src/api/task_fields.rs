//! The task details in every dialect the frontends of this app family send (see
//! `specs/api/fields.md`), read into one canonical form. A value that is present but cannot be
//! read is a 422 naming the field; unknown fields stay ignored.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::field_schemas::{STATUS_FALSE, STATUS_TRUE};
use super::json_body::Fields;
use crate::error::{ApiError, ValidationIssue};
use crate::tasks::details::{
    Due, MAX_RECURRENCE_INTERVAL, MAX_TAG_CHARS, MAX_TAGS, Priority, Recurrence, RecurrenceKind, normalise_tags,
    parse_instant, parse_interval, parse_relative_reminder, within_calendar,
};

/// The names each field is accepted under, canonical first.
const PRIORITY: &[&str] = &["priority"];
const TAGS: &[&str] = &["tags"];
const DUE: &[&str] = &["due_date", "dueDate", "due_at", "dueAt"];
const IS_RECURRING: &[&str] = &["is_recurring", "isRecurring", "recurring"];
const RECURRENCE: &[&str] = &[
    "recurrence_type",
    "recurrenceType",
    "recurrence_pattern",
    "recurrence_rule",
    "recurrence",
];
const INTERVAL: &[&str] = &["recurrence_interval", "recurrenceInterval", "recurring_interval"];
const REMINDER_AT: &[&str] = &["reminder_at", "reminderAt"];
const REMINDER_TIME: &[&str] = &["reminder_time", "reminderTime"];
const COMPLETED_ALIASES: &[&str] = &["is_completed", "is_complete", "isCompleted"];
/// The fields of the task itself, read by the caller: a body with no others has no details.
const CORE_FIELDS: &[&str] = &["title", "description", "completed"];

/// A reminder as sent: cleared, at an instant, or some time before the due date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReminderInput {
    Clear,
    At(DateTime<Utc>),
    BeforeDue(Duration),
}

/// Every detail a create or update body may carry; `None` where the body says nothing.
#[derive(Debug, Default)]
pub struct TaskDetailsInput {
    pub completed: Option<bool>,
    pub priority: Option<Priority>,
    pub tags: Option<Vec<String>>,
    /// `Some(None)`: cleared (`null` or `""`).
    pub due: Option<Option<Due>>,
    pub is_recurring: Option<bool>,
    /// `Some(None)`: no recurrence (`null`, `""`, `none`).
    pub recurrence: Option<Option<Recurrence>>,
    pub reminder: Option<ReminderInput>,
}

impl TaskDetailsInput {
    /// Reads the details of `fields`. `completed` itself is read by the caller (its rules differ
    /// between create and update); its aliases and `status` are read here and lose to it.
    pub fn read(fields: &mut Fields<'_>) -> TaskDetailsInput {
        // Most bodies send only a title, a description or the flag: the 27 names the details are
        // accepted under are then not looked up one by one (about 3k instructions per create).
        if fields.sends_only(CORE_FIELDS) {
            return TaskDetailsInput::default();
        }
        Self::read_sent(fields)
    }

    fn read_sent(fields: &mut Fields<'_>) -> TaskDetailsInput {
        let mut details = TaskDetailsInput {
            completed: read_completion_alias(fields),
            priority: read_priority(fields),
            tags: read_tags(fields),
            due: read_due(fields),
            is_recurring: None,
            recurrence: None,
            reminder: read_reminder(fields),
        };
        let interval = read_interval(fields);
        details.recurrence = read_recurrence(fields, interval);
        details.is_recurring = match fields.first_of(IS_RECURRING) {
            None | Some((_, Value::Null)) => None,
            Some((_, Value::Bool(flag))) => Some(*flag),
            Some((name, _)) => {
                fields.issue(name, "bool_type", "Must be true or false.");
                None
            }
        };
        // A rule without the flag means the task recurs; the flag without a rule repeats daily.
        match (details.is_recurring, details.recurrence) {
            (None, Some(rule)) => details.is_recurring = Some(rule.is_some()),
            (Some(true), None) if interval.is_some() => {
                details.recurrence = Some(Some(Recurrence {
                    kind: RecurrenceKind::Daily,
                    interval: interval.unwrap_or(1),
                }));
            }
            _ => {}
        }
        details
    }
}

/// `is_completed`, `is_complete`, or a `status` word; `None` when none is sent.
pub fn read_completion_alias(fields: &mut Fields<'_>) -> Option<bool> {
    // Both are read, so that each is validated when sent; the boolean aliases win.
    let flag = match fields.first_of(COMPLETED_ALIASES) {
        None | Some((_, Value::Null)) => None,
        Some((_, Value::Bool(flag))) => Some(*flag),
        Some((name, _)) => {
            fields.issue(name, "bool_type", "Must be true or false.");
            None
        }
    };
    flag.or(read_status(fields))
}

fn read_status(fields: &mut Fields<'_>) -> Option<bool> {
    match fields.first_of(&["status"])? {
        (_, Value::Null) => None,
        (name, Value::String(status)) => {
            let word = status.trim().to_ascii_lowercase();
            if word.is_empty() {
                None
            } else if STATUS_TRUE.contains(&word.as_str()) {
                Some(true)
            } else if STATUS_FALSE.contains(&word.as_str()) {
                Some(false)
            } else {
                fields.issue(
                    name,
                    "enum",
                    "Must be `completed` (or `done`) or `pending` (or `incomplete`).",
                );
                None
            }
        }
        (name, _) => {
            fields.issue(
                name,
                "string_type",
                "Must be a string such as `completed` or `pending`.",
            );
            None
        }
    }
}

fn read_priority(fields: &mut Fields<'_>) -> Option<Priority> {
    let (name, value) = fields.first_of(PRIORITY)?;
    let priority = match value {
        Value::Null => return None,
        Value::String(word) => Priority::from_word(word),
        Value::Number(number) => number.as_i64().and_then(Priority::from_number),
        _ => None,
    };
    if priority.is_none() {
        fields.issue(
            name,
            "enum",
            "Must be one of none, low, medium (or normal), high, urgent, critical (any case), or a number 1 to 4.",
        );
    }
    priority
}

fn read_tags(fields: &mut Fields<'_>) -> Option<Vec<String>> {
    let (name, value) = fields.first_of(TAGS)?;
    let raw: Vec<String> = match value {
        Value::Null => Vec::new(),
        Value::String(list) if list.is_empty() => Vec::new(),
        // `"work, home"`: the comma-separated dialect.
        Value::String(list) => list.split(',').map(str::to_owned).collect(),
        Value::Array(items) => {
            let mut raw = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(tag) => raw.push(tag.clone()),
                    // `{"name": "work"}` (tag objects), optionally with an id or a colour.
                    Value::Object(object) => match object.get("name") {
                        Some(Value::String(tag)) => raw.push(tag.clone()),
                        _ => {
                            fields.issue(name, "tag_type", "A tag object must have a string `name`.");
                            return None;
                        }
                    },
                    _ => {
                        fields.issue(name, "tag_type", "Tags must be strings or objects with a `name`.");
                        return None;
                    }
                }
            }
            raw
        }
        _ => {
            fields.issue(
                name,
                "list_type",
                "Must be an array of tags or a comma-separated string.",
            );
            return None;
        }
    };
    // The limits apply to the tags as sent (the published schema states them so).
    if raw.len() > MAX_TAGS {
        fields.issue(
            name,
            "too_long",
            format!("At most {MAX_TAGS} tags (got {}).", raw.len()),
        );
        return None;
    }
    if let Some(tag) = raw.iter().find(|tag| tag.chars().count() > MAX_TAG_CHARS) {
        let shown: String = tag.chars().take(20).collect();
        fields.issue(
            name,
            "string_too_long",
            format!("Each tag must be at most {MAX_TAG_CHARS} characters (`{shown}…` is longer)."),
        );
        return None;
    }
    if raw.iter().any(|tag| tag.chars().any(char::is_control)) {
        fields.issue(name, "string_pattern", "Tags must not contain control characters.");
        return None;
    }
    Some(normalise_tags(raw))
}

fn read_due(fields: &mut Fields<'_>) -> Option<Option<Due>> {
    let (name, value) = fields.first_of(DUE)?;
    match value {
        Value::Null => Some(None),
        Value::String(text) if text.is_empty() => Some(None),
        Value::String(text) => match Due::parse(text) {
            Some(due) => Some(Some(due)),
            None => {
                fields.issue(
                    name,
                    "datetime_parsing",
                    "Must be a date (`2026-03-01`) or a date-time (`2026-03-01T09:00:00Z`; without an offset it is UTC).",
                );
                None
            }
        },
        _ => {
            fields.issue(name, "string_type", "Must be a date or date-time string, or null.");
            None
        }
    }
}

fn read_interval(fields: &mut Fields<'_>) -> Option<u32> {
    let (name, value) = fields.first_of(INTERVAL)?;
    let interval = match value {
        Value::Null => return None,
        Value::Number(number) => number
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=MAX_RECURRENCE_INTERVAL).contains(n)),
        Value::String(digits) => parse_interval(digits),
        _ => None,
    };
    if interval.is_none() {
        fields.issue(
            name,
            "int_range",
            format!("Must be a whole number from 1 to {MAX_RECURRENCE_INTERVAL}."),
        );
    }
    interval
}

fn read_recurrence(fields: &mut Fields<'_>, interval: Option<u32>) -> Option<Option<Recurrence>> {
    let (name, value) = fields.first_of(RECURRENCE)?;
    let sent = match value {
        Value::Null => return Some(None),
        Value::String(sent) => sent,
        _ => {
            fields.issue(
                name,
                "string_type",
                "Must be daily, weekly, monthly, yearly or an RRULE.",
            );
            return None;
        }
    };
    let word = sent.trim();
    if word.is_empty() || word.eq_ignore_ascii_case("none") {
        return Some(None);
    }
    if let Some(kind) = RecurrenceKind::from_word(word) {
        return Some(Some(Recurrence {
            kind,
            interval: interval.unwrap_or(1),
        }));
    }
    match Recurrence::from_rrule(sent) {
        // An interval sent beside the rule wins over the rule's own.
        Some(rule) => Some(Some(Recurrence {
            interval: interval.unwrap_or(rule.interval),
            ..rule
        })),
        None => {
            fields.issue(
                name,
                "enum",
                "Must be daily, weekly, monthly, yearly, none, or an RRULE such as FREQ=WEEKLY;INTERVAL=2.",
            );
            None
        }
    }
}

/// `reminder_at` wins over `reminder_time`; both are validated when sent.
fn read_reminder(fields: &mut Fields<'_>) -> Option<ReminderInput> {
    let at = read_reminder_at(fields);
    let time = read_reminder_time(fields);
    at.or(time)
}

fn read_reminder_at(fields: &mut Fields<'_>) -> Option<ReminderInput> {
    if let Some((name, value)) = fields.first_of(REMINDER_AT) {
        return match value {
            Value::Null => Some(ReminderInput::Clear),
            Value::String(text) if text.is_empty() => Some(ReminderInput::Clear),
            Value::String(text) => match parse_instant(text) {
                Some(at) => Some(ReminderInput::At(at)),
                None => {
                    fields.issue(
                        name,
                        "datetime_parsing",
                        "Must be a date-time such as 2026-03-01T08:00:00Z.",
                    );
                    None
                }
            },
            _ => {
                fields.issue(name, "string_type", "Must be a date-time string, or null.");
                None
            }
        };
    }
    None
}

fn read_reminder_time(fields: &mut Fields<'_>) -> Option<ReminderInput> {
    let (name, value) = fields.first_of(REMINDER_TIME)?;
    match value {
        Value::Null => Some(ReminderInput::Clear),
        Value::String(text) if text.is_empty() => Some(ReminderInput::Clear),
        Value::String(text) => {
            if let Some(before) = parse_relative_reminder(text) {
                Some(ReminderInput::BeforeDue(before))
            } else if let Some(at) = parse_instant(text) {
                Some(ReminderInput::At(at))
            } else {
                fields.issue(
                    name,
                    "reminder_format",
                    "Must be a date-time, or a time before the due date such as 30m, 1h, 2d or 1w.",
                );
                None
            }
        }
        _ => {
            fields.issue(name, "string_type", "Must be a string, or null.");
            None
        }
    }
}

/// The reminder instant of `input` for a task due at `due`. A relative reminder on a task without
/// a due date counts from `now` instead ("remind me in 1h"): the only reading it has. A relative
/// reminder that lands outside the years 0 to 9999 (a week before a due date of 0000-01-03) is
/// refused like any instant out of that range: it has no RFC 3339 spelling to answer with.
pub fn resolve_reminder(
    input: ReminderInput,
    due: Option<Due>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let at = match input {
        ReminderInput::Clear => return Ok(None),
        ReminderInput::At(at) => return Ok(Some(at)),
        ReminderInput::BeforeDue(amount) => match due {
            Some(due) => due.instant().checked_sub_signed(amount),
            None => now
                .checked_add_signed(amount)
                .and_then(|at| DateTime::from_timestamp_micros(at.timestamp_micros())),
        },
    };
    match at.and_then(within_calendar) {
        Some(at) => Ok(Some(at)),
        None => Err(ApiError::Validation(vec![ValidationIssue::body(
            Some(REMINDER_TIME[0]),
            "reminder_out_of_range",
            "The reminder would fall outside the years 0 to 9999.",
        )])),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::tasks::details::PriorityRank;

    #[test]
    fn a_body_of_core_fields_only_reads_as_no_details_either_way() {
        for body in [
            json!({}),
            json!({"title": "x"}),
            json!({"title": "x", "description": null, "completed": true}),
        ] {
            let Value::Object(object) = body else { unreachable!() };
            let mut fields = Fields::new(&object);
            assert!(fields.sends_only(CORE_FIELDS));
            assert_eq!(
                format!("{:?}", TaskDetailsInput::read_sent(&mut fields)),
                format!("{:?}", TaskDetailsInput::default()),
                "{object:?}"
            );
        }
    }

    #[test]
    fn any_other_field_is_read() {
        let Value::Object(object) = json!({"title": "x", "priority": "high", "isCompleted": true}) else {
            unreachable!()
        };
        let details = TaskDetailsInput::read(&mut Fields::new(&object));
        assert_eq!(details.priority.map(|priority| priority.rank), Some(PriorityRank::High));
        assert_eq!(details.completed, Some(true));
    }
}
