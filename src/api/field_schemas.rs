//! The published schemas of the lenient task fields: exactly what `task_fields` accepts, every
//! dialect included (`anyOf`), so that a client, Swagger UI and a contract fuzzer see the rule the
//! server applies. The patterns are tested against the readers in `task_fields`.

use std::borrow::Cow;
use std::marker::PhantomData;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

/// The white space `str::trim` removes (Unicode `White_Space`), as a regex class.
pub const TRIMMED: &str = r"[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

/// A regex that matches `word` in any ASCII case: `low` → `[Ll][Oo][Ww]`.
fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `^ws*(word|word|…)ws*$`, the words in any case; `allow_blank` adds the empty alternative.
fn words_pattern(words: &[&str], allow_blank: bool) -> String {
    let mut alternatives: Vec<String> = words.iter().map(|word| any_case(word)).collect();
    if allow_blank {
        alternatives.push(String::new());
    }
    format!("^{TRIMMED}*({}){TRIMMED}*$", alternatives.join("|"))
}

pub const PRIORITY_WORDS: [&str; 7] = ["none", "low", "medium", "normal", "high", "urgent", "critical"];
pub const RECURRENCE_WORDS: [&str; 15] = [
    "daily", "day", "days", "weekly", "week", "weeks", "monthly", "month", "months", "yearly", "year", "years",
    "annually", "annual", "none",
];
pub const STATUS_TRUE: [&str; 5] = ["completed", "complete", "done", "finished", "closed"];
pub const STATUS_FALSE: [&str; 10] = [
    "pending",
    "incomplete",
    "todo",
    "to_do",
    "to-do",
    "open",
    "active",
    "in_progress",
    "in-progress",
    "not_started",
];
pub const REMINDER_UNITS: [&str; 16] = [
    "m", "min", "mins", "minute", "minutes", "h", "hr", "hrs", "hour", "hours", "d", "day", "days", "w", "week",
    "weeks",
];

/// A tag: at most 50 characters, none of them a control character.
pub const TAG_PATTERN: &str = r"^[^\x00-\x1F\x7F-\x9F]{0,50}$";
/// Tags as one comma-separated string: at most 20 pieces of at most 50 characters.
pub const TAG_LIST_PATTERN: &str = r"^[^,\x00-\x1F\x7F-\x9F]{0,50}(,[^,\x00-\x1F\x7F-\x9F]{0,50}){0,19}$";
/// An RRULE: `FREQ` first, then `INTERVAL` (1–999) or the other RFC 5545 parts, which are ignored.
pub const RRULE_PATTERN: &str =
    r"^(RRULE:)?FREQ=(DAILY|WEEKLY|MONTHLY|YEARLY)(;(INTERVAL=0*[1-9][0-9]{0,2}|(COUNT|UNTIL|WKST|BY[A-Z]+)=[^;]*))*$";
/// A whole number 1–999 written as a string.
pub const INTERVAL_PATTERN: &str = r"^0*[1-9][0-9]{0,2}$";

pub fn priority_pattern() -> String {
    let mut words: Vec<&str> = PRIORITY_WORDS.to_vec();
    words.extend(["1", "2", "3", "4"]);
    words_pattern(&words, false)
}

pub fn recurrence_word_pattern() -> String {
    words_pattern(&RECURRENCE_WORDS, true)
}

pub fn status_pattern(allow_blank: bool) -> String {
    let words: Vec<&str> = STATUS_TRUE.iter().chain(STATUS_FALSE.iter()).copied().collect();
    words_pattern(&words, allow_blank)
}

/// `30m`, `1h`, `2 days`: 1 to 10000 units before the due date.
pub fn relative_reminder_pattern() -> String {
    let units: Vec<String> = REMINDER_UNITS.iter().map(|unit| any_case(unit)).collect();
    format!(
        "^{TRIMMED}*0*([1-9][0-9]{{0,3}}|10000){TRIMMED}*({}){TRIMMED}*$",
        units.join("|")
    )
}

fn string(pattern: Option<String>, format: Option<&'static str>, max_length: Option<usize>) -> MetaSchemaRef {
    let mut schema = MetaSchema::new("string");
    schema.pattern = pattern;
    schema.format = format;
    schema.max_length = max_length;
    MetaSchemaRef::Inline(Box::new(schema))
}

fn integer(minimum: f64, maximum: f64) -> MetaSchemaRef {
    let mut schema = MetaSchema::new("integer");
    schema.minimum = Some(minimum);
    schema.maximum = Some(maximum);
    MetaSchemaRef::Inline(Box::new(schema))
}

fn empty_string() -> MetaSchemaRef {
    string(None, None, Some(0))
}

fn any_of(alternatives: Vec<MetaSchemaRef>) -> MetaSchema {
    let mut schema = MetaSchema::ANY;
    schema.any_of = alternatives;
    schema.nullable = true;
    schema
}

/// Which field a [`Published`] value documents.
pub trait FieldSchema: Send + Sync {
    const NAME: &'static str;
    /// Whether the field must be sent.
    const REQUIRED: bool = false;
    fn schema() -> MetaSchema;
}

macro_rules! field_schema {
    ($(#[$doc:meta])* $name:ident, $schema:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl FieldSchema for $name {
            const NAME: &'static str = stringify!($name);
            fn schema() -> MetaSchema {
                $schema
            }
        }
    };
}

field_schema!(
    /// A priority word (any case) or 1–4.
    PrioritySchema,
    any_of(vec![string(Some(priority_pattern()), None, None), integer(1.0, 4.0)])
);
field_schema!(
    /// Tags: an array of strings or `{name}` objects, or a comma-separated string.
    TagsSchema,
    {
        let mut tag_object = MetaSchema::new("object");
        tag_object.required = vec!["name"];
        tag_object.properties = vec![("name", string(Some(TAG_PATTERN.to_owned()), None, None))];
        let mut item = MetaSchema::ANY;
        item.any_of = vec![
            string(Some(TAG_PATTERN.to_owned()), None, None),
            MetaSchemaRef::Inline(Box::new(tag_object)),
        ];
        let mut array = MetaSchema::new("array");
        array.items = Some(Box::new(MetaSchemaRef::Inline(Box::new(item))));
        array.max_items = Some(crate::tasks::details::MAX_TAGS);
        any_of(vec![
            MetaSchemaRef::Inline(Box::new(array)),
            string(Some(TAG_LIST_PATTERN.to_owned()), None, None),
        ])
    }
);
field_schema!(
    /// A date, a date-time, or `""`.
    DueSchema,
    any_of(vec![
        string(None, Some("date"), None),
        string(None, Some("date-time"), None),
        empty_string()
    ])
);
field_schema!(
    /// A recurrence word (any case), `none`/`""`, or an RRULE.
    RecurrenceSchema,
    any_of(vec![
        string(Some(recurrence_word_pattern()), None, None),
        string(Some(RRULE_PATTERN.to_owned()), None, None)
    ])
);
field_schema!(
    /// 1–999, as a number or a string.
    IntervalSchema,
    any_of(vec![integer(1.0, 999.0), string(Some(INTERVAL_PATTERN.to_owned()), None, None)])
);
field_schema!(
    /// A date-time or `""`.
    ReminderAtSchema,
    any_of(vec![string(None, Some("date-time"), None), empty_string()])
);
field_schema!(
    /// A date-time, a time before the due date (`1h`), or `""`.
    ReminderTimeSchema,
    any_of(vec![
        string(None, Some("date-time"), None),
        string(Some(relative_reminder_pattern()), None, None),
        empty_string()
    ])
);
field_schema!(
    /// A completion word (any case) or blank.
    StatusSchema,
    any_of(vec![string(Some(status_pattern(true)), None, None)])
);

/// A completion word (any case), required and not null.
pub struct RequiredStatusSchema;

impl FieldSchema for RequiredStatusSchema {
    const NAME: &'static str = "RequiredStatusSchema";
    const REQUIRED: bool = true;
    fn schema() -> MetaSchema {
        let mut schema = MetaSchema::new("string");
        schema.pattern = Some(status_pattern(false));
        schema
    }
}

/// A published request field: the schema of `S`, the value as sent. The server reads the value
/// through `task_fields` (which accepts exactly the schema); this type documents it and carries
/// examples.
pub struct Published<S>(pub Value, PhantomData<S>);

impl<S> Published<S> {
    pub fn new(value: Value) -> Self {
        Published(value, PhantomData)
    }
}

impl<S> std::fmt::Debug for Published<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<S: FieldSchema> Type for Published<S> {
    const IS_REQUIRED: bool = S::REQUIRED;
    type RawValueType = Value;
    type RawElementValueType = Value;

    fn name() -> Cow<'static, str> {
        S::NAME.into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(S::schema()))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl<S: FieldSchema> ParseFromJSON for Published<S> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Ok(Published::new(value.unwrap_or_default()))
    }
}

impl<S: FieldSchema> ToJSON for Published<S> {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::details::{Priority, Recurrence, RecurrenceKind, parse_interval, parse_relative_reminder};

    fn pattern(text: &str) -> regex::Regex {
        regex::Regex::new(text).unwrap()
    }

    /// Each published pattern accepts exactly what its reader accepts, on the same samples.
    fn agree(published: &str, reader: impl Fn(&str) -> bool, samples: &[&str]) {
        let published = pattern(published);
        for sample in samples {
            assert_eq!(published.is_match(sample), reader(sample), "{published} on {sample:?}");
        }
    }

    #[test]
    fn the_priority_pattern_is_the_priority_reader() {
        agree(
            &priority_pattern(),
            |s| Priority::from_word(s).is_some(),
            &[
                "high",
                "HIGH",
                " Low ",
                "\u{3000}urgent",
                "normal",
                "critical",
                "none",
                "3",
                "0",
                "5",
                "12",
                "",
                "hi",
                "médium",
                "high!",
                "\u{1c}low",
            ],
        );
    }

    #[test]
    fn the_recurrence_patterns_are_the_recurrence_reader() {
        agree(
            &recurrence_word_pattern(),
            |s| {
                let word = s.trim();
                word.is_empty() || word.eq_ignore_ascii_case("none") || RecurrenceKind::from_word(word).is_some()
            },
            &[
                "daily",
                "WEEKLY",
                " Monthly ",
                "annually",
                "none",
                "",
                "  ",
                "hourly",
                "FREQ=DAILY",
                "fortnightly",
            ],
        );
        agree(
            RRULE_PATTERN,
            |s| Recurrence::from_rrule(s).is_some(),
            &[
                "FREQ=DAILY",
                "RRULE:FREQ=WEEKLY;INTERVAL=2",
                "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3",
                "FREQ=YEARLY;INTERVAL=0",
                "FREQ=YEARLY;INTERVAL=1000",
                "FREQ=YEARLY;INTERVAL=007",
                "INTERVAL=2;FREQ=DAILY",
                "freq=daily",
                "FREQ=HOURLY",
                "FREQ=DAILY;X-NAME=1",
                "FREQ=DAILY;",
                " FREQ=DAILY",
            ],
        );
    }

    #[test]
    fn the_interval_and_reminder_patterns_are_their_readers() {
        agree(
            INTERVAL_PATTERN,
            |s| parse_interval(s).is_some(),
            &[
                "1",
                "999",
                "1000",
                "0",
                "007",
                "0000",
                "",
                " 5",
                "+5",
                "5.0",
                "00000000000000000001",
            ],
        );
        agree(
            &relative_reminder_pattern(),
            |s| parse_relative_reminder(s).is_some(),
            &[
                "1h", " 30 min ", "2D", "1w", "1 week", "10000m", "10001m", "0h", "0005h", "h", "5", "5x", "1h2",
                "5 hours",
            ],
        );
    }

    #[test]
    fn the_status_and_tag_patterns_are_their_readers() {
        let status = |s: &str| {
            let word = s.trim().to_ascii_lowercase();
            word.is_empty() || STATUS_TRUE.contains(&word.as_str()) || STATUS_FALSE.contains(&word.as_str())
        };
        agree(
            &status_pattern(true),
            status,
            &["done", "COMPLETE", " pending ", "", "maybe", "in-progress", "to do"],
        );
        let tag_ok = |s: &str| s.chars().count() <= 50 && !s.chars().any(char::is_control);
        let long = "x".repeat(51);
        agree(
            TAG_PATTERN,
            tag_ok,
            &["work", "", "é".repeat(50).as_str(), &long, "a\u{7}b", "a\u{85}"],
        );
        let list_ok = |s: &str| {
            let pieces: Vec<&str> = s.split(',').collect();
            pieces.len() <= 20 && pieces.iter().all(|piece| tag_ok(piece) && !piece.contains(','))
        };
        let many = vec!["t"; 21].join(",");
        let twenty = vec!["t"; 20].join(",");
        agree(
            TAG_LIST_PATTERN,
            list_ok,
            &["a,b", "a", ",", &many, &twenty, &format!("a,{long}"), "a\u{1}"],
        );
    }
}
