//! Task and error answers written straight into bytes. A task: from the cells of its row
//! ([`TaskCells`]), the same bytes serde_json writes for the derived `Serialize` of the published
//! [`Task`] made from that row (the tests below hold the two equal), in a third of the
//! instructions and without building the `Task`; an error body: the same bytes poem-openapi's
//! `Json` wrote for it.
//!
//! Through serde, every key and every string value goes through serde_json's byte-by-byte
//! escaping scan, and every timestamp through chrono's general RFC 3339 writer into a fresh
//! `String`: for a list of 20 tasks that was a third of the request's instructions
//! (specs/performance.md). Here the keys are constants, strings are checked for anything to
//! escape in one pass the compiler vectorises (and handed to serde_json only when they have
//! some), and timestamps are written from their fields.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use poem_openapi::types::Type;

use super::task_objects::{Task, stored_tags};
use super::timestamp::Timestamp;
use crate::error::{ApiError, ErrorBody};
use crate::tasks::cells::{Schedule, TaskCells};
use crate::tasks::details::Due;
use crate::tasks::entity::TaskRow;

/// What an answer's body can be written as.
pub trait JsonBody {
    /// The published schema of the JSON written.
    type Schema: Type;

    fn write_json(&self, out: &mut Vec<u8>);

    /// About how many bytes the JSON takes: the buffer is sized once instead of growing (and
    /// being copied) several times over a list.
    fn size_hint(&self) -> usize {
        TASK_SIZE_HINT
    }

    /// The JSON, as the body of an answer.
    fn into_json(self) -> Vec<u8>
    where
        Self: Sized,
    {
        to_json(&self)
    }
}

/// A task's JSON is 300–600 bytes unless its description is long.
pub const TASK_SIZE_HINT: usize = 512;

impl JsonBody for TaskCells<'_> {
    type Schema = Task;

    fn write_json(&self, out: &mut Vec<u8>) {
        let Schedule { due, rule, next_run } = self.schedule();
        out.extend_from_slice(b"{\"id\":");
        write_integer(out, self.id);
        out.extend_from_slice(b",\"user_id\":");
        write_str(out, self.user_id);
        out.extend_from_slice(b",\"title\":");
        write_str(out, self.title);
        out.extend_from_slice(b",\"description\":");
        write_optional(out, self.description, write_str);
        out.extend_from_slice(b",\"completed\":");
        write_bool(out, self.completed);
        out.extend_from_slice(b",\"created_at\":");
        write_timestamp(out, Timestamp(self.created_at));
        out.extend_from_slice(b",\"updated_at\":");
        write_timestamp(out, Timestamp(self.updated_at));
        out.extend_from_slice(b",\"priority\":");
        write_str(out, self.priority);
        out.extend_from_slice(b",\"tags\":");
        write_strings(out, &stored_tags(self.tags));
        out.extend_from_slice(b",\"due_date\":");
        write_optional(out, due, write_due);
        out.extend_from_slice(b",\"is_recurring\":");
        write_bool(out, self.is_recurring);
        out.extend_from_slice(b",\"recurrence_type\":");
        write_optional(out, rule.map(|rule| rule.kind.as_str()), write_str);
        out.extend_from_slice(b",\"recurrence_interval\":");
        write_integer(out, self.recurrence_interval);
        out.extend_from_slice(b",\"next_run_at\":");
        write_optional(out, next_run, write_due);
        out.extend_from_slice(b",\"parent_task_id\":");
        write_optional(out, self.parent_task_id, write_integer);
        out.extend_from_slice(b",\"reminder_at\":");
        write_optional(out, self.reminder_at.map(Timestamp), write_timestamp);
        out.extend_from_slice(b",\"completed_at\":");
        write_optional(out, self.completed_at.map(Timestamp), write_timestamp);
        // The entity tag `"7"` as a JSON string: its quotes escaped.
        out.extend_from_slice(b",\"etag\":\"\\\"");
        write_integer(out, self.version);
        out.extend_from_slice(b"\\\"\"}");
    }
}

impl JsonBody for TaskRow {
    type Schema = Task;

    fn write_json(&self, out: &mut Vec<u8>) {
        self.cells().write_json(out);
    }
}

/// JSON already written, published as `S`: a list answer written row by row as it was read.
pub struct WrittenJson<S> {
    json: Vec<u8>,
    schema: std::marker::PhantomData<fn() -> S>,
}

impl<S> WrittenJson<S> {
    pub fn new(json: Vec<u8>) -> Self {
        WrittenJson {
            json,
            schema: std::marker::PhantomData,
        }
    }
}

impl<S: Type> JsonBody for WrittenJson<S> {
    type Schema = S;

    fn size_hint(&self) -> usize {
        self.json.len()
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.json);
    }

    fn into_json(self) -> Vec<u8> {
        self.json
    }
}

/// An error answered as its [`ErrorBody`], written from the error itself — the same bytes
/// poem-openapi's `Json` writes for `body()` (the tests hold the two equal) without the
/// `serde_json::Value` tree, and without a `String` for its code or a fixed sentence.
impl JsonBody for ApiError {
    type Schema = ErrorBody;

    fn size_hint(&self) -> usize {
        // A hint, so the sentence is not formatted twice: the sentences are about 100 bytes (a
        // longer one only makes the buffer grow once), written twice (`detail`, `message`).
        64 + 2 * 128 + self.issues().map_or(0, |issues| issues.len() * 128)
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        let sentence = self.sentence();
        // The keys in the order poem-openapi's `serde_json::Map` (a `BTreeMap`) sorts them.
        out.extend_from_slice(b"{\"code\":");
        write_str(out, self.code());
        out.extend_from_slice(b",\"detail\":");
        write_str(out, &sentence);
        if let Some(issues) = self.issues() {
            out.extend_from_slice(b",\"errors\":[");
            for (index, issue) in issues.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"loc\":");
                write_strings(out, &issue.loc);
                out.extend_from_slice(b",\"msg\":");
                write_str(out, &issue.msg);
                out.extend_from_slice(b",\"type\":");
                write_str(out, &issue.kind);
                out.push(b'}');
            }
            out.push(b']');
        }
        out.extend_from_slice(b",\"message\":");
        write_str(out, &sentence);
        out.extend_from_slice(b",\"status\":");
        write_integer(out, self.status().as_u16());
        out.push(b'}');
    }
}

/// A borrowed body, written as the body itself (an error's `as_response` has only `&self`).
impl<T: JsonBody> JsonBody for &T {
    type Schema = T::Schema;

    fn size_hint(&self) -> usize {
        T::size_hint(self)
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        T::write_json(self, out);
    }
}

/// The JSON of `body`, in a buffer sized for it up front.
pub fn to_json(body: &impl JsonBody) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.size_hint());
    body.write_json(&mut out);
    out
}

fn write_optional<T>(out: &mut Vec<u8>, value: Option<T>, write: fn(&mut Vec<u8>, T)) {
    match value {
        Some(value) => write(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

fn write_integer(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// A JSON string: copied as it is unless it holds a quote, a backslash or a control character,
/// which only serde_json's own escaping writes (so the bytes are always serde_json's).
fn write_str(out: &mut Vec<u8>, text: &str) {
    // Every byte is looked at (no early exit), so the check compiles to a vector loop.
    let needs_escaping = text.bytes().fold(false, |found, byte| {
        found | (byte < 0x20) | (byte == b'"') | (byte == b'\\')
    });
    if needs_escaping {
        serde_json::to_writer(&mut *out, text).expect("writing to a Vec cannot fail");
    } else {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// A due date (or the next run): `"YYYY-MM-DD"` for a calendar date, a timestamp for an
/// instant, as [`Due::to_wire`] writes them.
fn write_due(out: &mut Vec<u8>, due: Due) {
    match due {
        Due::At(at) => write_timestamp(out, Timestamp(at)),
        Due::Date(date) => write_date(out, date),
    }
}

/// `"YYYY-MM-DD"`; years outside 0–9999, which chrono writes with a sign, go through chrono.
fn write_date(out: &mut Vec<u8>, date: NaiveDate) {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        write_str(out, &Due::Date(date).to_wire());
        return;
    }
    let mut text = *b"\"0000-00-00\"";
    put_digits(&mut text[1..5], year as u32);
    put_digits(&mut text[6..8], date.month());
    put_digits(&mut text[9..11], date.day());
    out.extend_from_slice(&text);
}

/// A JSON array of strings.
fn write_strings(out: &mut Vec<u8>, texts: &[String]) {
    out.push(b'[');
    for (index, text) in texts.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_str(out, text);
    }
    out.push(b']');
}

/// `"YYYY-MM-DDTHH:MM:SS.ffffffZ"`, as [`Timestamp`]'s serde form writes it. Years outside
/// 0–9999 and leap seconds, which chrono writes in forms of their own, go through chrono.
fn write_timestamp(out: &mut Vec<u8>, timestamp: Timestamp) {
    // The UTC date and time once: each of `DateTime`'s own field getters adds the (zero) offset
    // again.
    let at: NaiveDateTime = timestamp.0.naive_utc();
    let (date, time) = (at.date(), at.time());
    let year = date.year();
    let nanos = time.nanosecond();
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        write_str(out, &timestamp.to_wire());
        return;
    }
    let mut text = *b"\"0000-00-00T00:00:00.000000Z\"";
    put_digits(&mut text[1..5], year as u32);
    put_digits(&mut text[6..8], date.month());
    put_digits(&mut text[9..11], date.day());
    put_digits(&mut text[12..14], time.hour());
    put_digits(&mut text[15..17], time.minute());
    put_digits(&mut text[18..20], time.second());
    put_digits(&mut text[21..27], nanos / 1000);
    out.extend_from_slice(&text);
}

/// Writes `value` right-aligned in `digits`, zero-padded (the slice is already zeros).
fn put_digits(digits: &mut [u8], mut value: u32) {
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn written(body: &impl JsonBody) -> String {
        String::from_utf8(to_json(body)).expect("JSON is UTF-8")
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    /// A row with every answered column set: a weekly task due on a date.
    fn full_row() -> TaskRow {
        let created = utc(2026, 1, 18, 10, 0, 0) + chrono::Duration::microseconds(123_456);
        TaskRow {
            id: 42,
            user_id: "Yt5yQ0mBZ1cHH7k9fVRcV4yWvE8EPzZ1".into(),
            title: "Buy milk".into(),
            description: Some("2 litres, semi-skimmed".into()),
            completed: false,
            created_at: created,
            updated_at: created + chrono::Duration::seconds(5),
            priority: "High".into(),
            tags: r#"["shopping","weekly \"run\""]"#.into(),
            due_at: Some(utc(2026, 1, 19, 0, 0, 0)),
            due_date_only: true,
            is_recurring: true,
            recurrence_type: Some("weekly".into()),
            recurrence_interval: 2,
            parent_task_id: Some(7),
            reminder_at: Some(utc(2026, 1, 18, 9, 0, 0)),
            completed_at: None,
            version: 3,
        }
    }

    /// What serde_json writes for the published `Task` made from `row`: the reference.
    fn published(row: &TaskRow) -> String {
        serde_json::to_string(&Task::from(row.clone())).unwrap()
    }

    #[test]
    fn a_task_row_is_written_as_serde_json_serialises_its_published_task() {
        let sparse = TaskRow {
            description: None,
            tags: "[]".into(),
            due_at: None,
            recurrence_type: None,
            is_recurring: false,
            parent_task_id: Some(-7),
            reminder_at: None,
            completed: true,
            completed_at: Some(utc(1970, 1, 1, 0, 0, 0)),
            id: i64::MAX,
            recurrence_interval: i32::MIN,
            version: i64::MIN,
            ..full_row()
        };
        let variants = [
            // Due at an instant, recurring daily: `next_run_at` an instant too.
            TaskRow {
                due_date_only: false,
                due_at: Some(utc(2026, 3, 1, 17, 30, 0) + chrono::Duration::microseconds(1)),
                recurrence_type: Some(" Days ".into()),
                ..full_row()
            },
            // Recurring without a due date, or with a rule it does not know: no `next_run_at`.
            TaskRow {
                due_at: None,
                ..full_row()
            },
            TaskRow {
                recurrence_type: Some("fortnightly".into()),
                ..full_row()
            },
            // A rule on a task that no longer recurs: answered, but no `next_run_at`.
            TaskRow {
                is_recurring: false,
                ..full_row()
            },
            // Monthly from the 31st: clamped to the end of a shorter month.
            TaskRow {
                due_at: Some(utc(2024, 1, 31, 0, 0, 0)),
                recurrence_type: Some("monthly".into()),
                recurrence_interval: 1,
                ..full_row()
            },
            // Dates outside the years 0–9999, which chrono writes with a sign.
            TaskRow {
                due_at: Some(utc(9999, 12, 30, 0, 0, 0)),
                recurrence_type: Some("yearly".into()),
                ..full_row()
            },
            TaskRow {
                due_at: Some(utc(-1, 6, 1, 0, 0, 0)),
                ..full_row()
            },
            TaskRow {
                due_at: Some(utc(0, 2, 29, 0, 0, 0)),
                recurrence_type: Some("daily".into()),
                ..full_row()
            },
            // A tags column that is not a JSON array of strings answers `[]`.
            TaskRow {
                tags: "not json".into(),
                ..full_row()
            },
            TaskRow {
                tags: "[1, 2]".into(),
                ..full_row()
            },
            TaskRow {
                tags: r#"[ "spaced" , "out" ]"#.into(),
                ..full_row()
            },
        ];
        for row in [full_row(), sparse].iter().chain(&variants) {
            assert_eq!(written(row), published(row), "{row:?}");
            assert_eq!(written(&row.cells()), published(row), "{row:?}");
        }
    }

    #[test]
    fn strings_are_escaped_exactly_as_serde_json_escapes_them() {
        let nasty = [
            "",
            "plain",
            "quote \" and backslash \\",
            "control \u{1} \u{1f} \t \n \r \u{8} \u{c}",
            "delete \u{7f} stays",
            "unicode ✓ 日本語 😀 and \u{2028}",
            "</script>",
        ];
        for text in nasty {
            let row = TaskRow {
                title: text.to_owned(),
                user_id: text.to_owned(),
                priority: text.to_owned(),
                tags: serde_json::to_string(&[text, "b"]).unwrap(),
                description: Some(text.to_owned()),
                ..full_row()
            };
            assert_eq!(written(&row), published(&row), "{text:?}");
        }
    }

    #[test]
    fn written_json_is_answered_as_it_was_written() {
        let json = br#"[{"id":1}]"#.to_vec();
        let body = WrittenJson::<Vec<Task>>::new(json.clone());
        assert_eq!(body.size_hint(), json.len());
        assert_eq!(to_json(&body), json);
        assert_eq!(body.into_json(), json);
    }

    #[test]
    fn an_error_is_written_as_the_body_it_describes() {
        use crate::error::{ApiError, AuthRejection, ValidationIssue};
        use poem_openapi::types::ToJSON;
        let errors = [
            ApiError::TaskNotFound,
            ApiError::Internal,
            ApiError::Unauthorized(AuthRejection::MissingToken),
            ApiError::Unauthorized(AuthRejection::InvalidToken("it is \"signed\" with an unknown key")),
            ApiError::Unauthorized(AuthRejection::Expired),
            ApiError::BadRequest("a\nb".to_owned()),
            ApiError::Validation(vec![
                ValidationIssue::body(Some("title"), "string_too_short", "Title must not be empty."),
                ValidationIssue::body(None, "json_invalid", "quote \" \\ \u{1} ✓"),
                ValidationIssue {
                    loc: vec![],
                    msg: String::new(),
                    kind: "x".to_owned(),
                },
            ]),
            ApiError::Validation(vec![]),
            ApiError::BadRequest("a \"quoted\" \n line".to_owned()),
            ApiError::PreconditionFailed,
        ];
        for err in errors {
            let expected = err.body().to_json_string();
            assert_eq!(written(&err), expected, "{err:?}");
            assert_eq!(to_json(&&err), expected.as_bytes(), "{err:?}");
        }
    }

    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        let times = [
            Utc.with_ymd_and_hms(2026, 1, 18, 10, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap() + chrono::Duration::nanoseconds(999_999_999),
            Utc.with_ymd_and_hms(1, 2, 3, 4, 5, 6).unwrap() + chrono::Duration::microseconds(7),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
            // A leap second: chrono keeps it in the nanoseconds.
            Utc.with_ymd_and_hms(2016, 12, 31, 23, 59, 59).unwrap() + chrono::Duration::nanoseconds(0),
        ];
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        // And a spread of ordinary instants: every month and day-of-month boundary kind.
        let start = Utc.with_ymd_and_hms(1899, 12, 31, 23, 59, 58).unwrap();
        let spread =
            (0..20_000i64).map(|step| start + chrono::Duration::microseconds(step * 379_721_337_123 + step % 7));
        for at in times.into_iter().chain([leap]).chain(spread) {
            let mut out = Vec::new();
            write_timestamp(&mut out, Timestamp(at));
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&Timestamp(at)).unwrap(),
                "{at:?}"
            );
        }
    }
}
