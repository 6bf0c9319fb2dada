//! The values of the list's query parameters, one type each ([`QueryValue`]): its schema is what
//! the document publishes (integers with their bounds, booleans, closed sets of words) and its
//! `read` what the service accepts, in every spelling frontends send. A text that is no such value
//! is ignored (the parameter's default applies), never an error.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseFromParameter, ParseResult, Type};

use crate::tasks::{ListOrder, SortField};

/// The largest page `limit` accepts; other values mean "no limit", like an absent one.
pub const MAX_PAGE_LIMIT: u64 = 1000;

/// The furthest `offset` the databases take (a signed 64-bit number on both). A larger offset or
/// page, whatever its digits, is past the end of every list: it is read as this one and answers
/// an empty page, never an error.
pub const MAX_OFFSET: u64 = i64::MAX as u64;

/// A non-negative whole number of any size, at most [`MAX_OFFSET`]; `None` for anything else.
fn offset_number(value: &str) -> Option<u64> {
    let number = match value.parse::<u64>() {
        Ok(number) => number,
        Err(_) if value.bytes().all(|byte| byte.is_ascii_digit()) => u64::MAX,
        Err(_) => return None,
    };
    Some(number.min(MAX_OFFSET))
}

/// `true`/`false` and the status words, in any case; `None` for "all" and for unknown words.
fn completion_word(value: &str) -> Option<Option<bool>> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "completed" | "complete" | "done" | "finished" => Some(Some(true)),
        "false" | "0" | "pending" | "incomplete" | "active" | "todo" | "open" | "not_completed" => Some(Some(false)),
        "all" | "any" => Some(None),
        _ => None,
    }
}

fn sort_field(word: &str) -> Option<SortField> {
    match word.to_ascii_lowercase().as_str() {
        "created_at" | "createdat" | "created" | "date" | "newest" => Some(SortField::CreatedAt),
        "updated_at" | "updatedat" | "updated" => Some(SortField::UpdatedAt),
        "title" | "name" | "alphabetical" => Some(SortField::Title),
        "id" => Some(SortField::Id),
        "due_date" | "duedate" | "due" | "due_at" => Some(SortField::DueDate),
        "priority" => Some(SortField::Priority),
        _ => None,
    }
}

fn list_order(word: &str) -> Option<ListOrder> {
    match word.to_ascii_lowercase().as_str() {
        "asc" | "ascending" => Some(ListOrder::Asc),
        "desc" | "descending" => Some(ListOrder::Desc),
        _ => None,
    }
}

/// A value of a list parameter: how it is published, and how a sent text is read. Reading never
/// fails: a text that is no such value is ignored and the default applies.
pub trait QueryValue: Sized + Send + Sync + 'static {
    /// The value's schema in the published document.
    fn schema() -> MetaSchema;
    /// The value `text` (trimmed) stands for, in any of the spellings frontends send.
    fn read(text: &str) -> Option<Self>;
}

/// A declared list parameter holding a `T`: published with `T`'s schema, so that a client
/// generated from the document sends `limit: 10` or `completed: true` as numbers and booleans,
/// and read by `T::read`. [`list_query`] reads the same values, through the same `T::read`,
/// under the parameter's name or one of its aliases.
pub struct Lenient<T>(pub Option<T>);

impl<T: QueryValue> Type for Lenient<T> {
    const IS_REQUIRED: bool = false;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        T::schema().ty.into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(T::schema()))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl<T: QueryValue> ParseFromParameter for Lenient<T> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Lenient(T::read(value.trim())))
    }

    fn parse_from_parameters<I: IntoIterator<Item = A>, A: AsRef<str>>(iter: I) -> ParseResult<Self> {
        Ok(Lenient(
            iter.into_iter().find_map(|value| T::read(value.as_ref().trim())),
        ))
    }
}

fn schema(ty: &'static str, format: Option<&'static str>) -> MetaSchema {
    MetaSchema {
        format,
        ..MetaSchema::new(ty)
    }
}

fn words(words: &[&str]) -> MetaSchema {
    MetaSchema {
        enum_items: words.iter().map(|word| serde_json::Value::from(*word)).collect(),
        ..MetaSchema::new("string")
    }
}

fn whole_number(minimum: u64, maximum: Option<u64>) -> MetaSchema {
    MetaSchema {
        minimum: Some(minimum as f64),
        maximum: maximum.map(|maximum| maximum as f64),
        ..schema("integer", Some("int64"))
    }
}

/// `completed`: `true` or `false`, and the status words (`completed`, `pending`, `all`, …).
/// `Completion(None)` is "all".
pub struct Completion(pub Option<bool>);

impl QueryValue for Completion {
    fn schema() -> MetaSchema {
        schema("boolean", None)
    }

    fn read(text: &str) -> Option<Self> {
        completion_word(text).map(Completion)
    }
}

/// `status`: `all`, `pending` or `completed`, and their synonyms, in any case.
pub struct StatusWord(pub Option<bool>);

impl QueryValue for StatusWord {
    fn schema() -> MetaSchema {
        words(&["all", "pending", "completed"])
    }

    fn read(text: &str) -> Option<Self> {
        completion_word(text).map(StatusWord)
    }
}

/// A yes or no: `true`, `1`, `yes`, `on` or `false`, `0`, `no`, `off`, in any case.
pub struct Flag(pub bool);

impl QueryValue for Flag {
    fn schema() -> MetaSchema {
        schema("boolean", None)
    }

    fn read(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(Flag(true)),
            "false" | "0" | "no" | "off" => Some(Flag(false)),
            _ => None,
        }
    }
}

/// `due_date_filter`: a span of calendar days, or `overdue`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DueFilter {
    Overdue,
    Today,
    ThisWeek,
    ThisMonth,
}

impl QueryValue for DueFilter {
    fn schema() -> MetaSchema {
        words(&["overdue", "today", "this_week", "this_month"])
    }

    fn read(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "overdue" => Some(DueFilter::Overdue),
            "today" => Some(DueFilter::Today),
            "this_week" | "week" => Some(DueFilter::ThisWeek),
            "this_month" | "month" => Some(DueFilter::ThisMonth),
            _ => None,
        }
    }
}

/// `sort`: a field, with its synonyms; a `-` before it sorts descending.
pub struct SortKey {
    pub field: SortField,
    pub descending: bool,
}

impl QueryValue for SortKey {
    fn schema() -> MetaSchema {
        words(&[
            "created_at",
            "-created_at",
            "updated_at",
            "-updated_at",
            "title",
            "-title",
            "due_date",
            "-due_date",
            "priority",
            "-priority",
            "id",
            "-id",
        ])
    }

    fn read(text: &str) -> Option<Self> {
        let (descending, word) = match text.strip_prefix('-') {
            Some(word) => (true, word),
            None => (false, text),
        };
        Some(SortKey {
            field: sort_field(word)?,
            descending,
        })
    }
}

/// `order`: `asc` or `desc` (also `ascending`, `descending`), any case.
pub struct SortOrder(pub ListOrder);

impl QueryValue for SortOrder {
    fn schema() -> MetaSchema {
        words(&["asc", "desc"])
    }

    fn read(text: &str) -> Option<Self> {
        list_order(text).map(SortOrder)
    }
}

/// `limit`: 1 to [`MAX_PAGE_LIMIT`] tasks.
pub struct PageSize(pub u64);

impl QueryValue for PageSize {
    fn schema() -> MetaSchema {
        whole_number(1, Some(MAX_PAGE_LIMIT))
    }

    fn read(text: &str) -> Option<Self> {
        text.parse()
            .ok()
            .filter(|limit| (1..=MAX_PAGE_LIMIT).contains(limit))
            .map(PageSize)
    }
}

/// `offset`: tasks to skip, at most [`MAX_OFFSET`] (any larger number counts as that).
pub struct Offset(pub u64);

impl QueryValue for Offset {
    fn schema() -> MetaSchema {
        whole_number(0, None)
    }

    fn read(text: &str) -> Option<Self> {
        offset_number(text).map(Offset)
    }
}

/// `page`: a page number from 1.
pub struct PageNumber(pub u64);

impl QueryValue for PageNumber {
    fn schema() -> MetaSchema {
        whole_number(1, None)
    }

    fn read(text: &str) -> Option<Self> {
        offset_number(text).filter(|page| *page >= 1).map(PageNumber)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words a value publishes, read back: each one must be understood.
    fn published_words<T: QueryValue>() -> Vec<String> {
        T::schema()
            .enum_items
            .iter()
            .map(|word| word.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn every_published_word_is_read_and_numbers_and_flags_in_range_only() {
        for word in published_words::<StatusWord>() {
            assert!(StatusWord::read(&word).is_some(), "{word}");
        }
        for word in published_words::<DueFilter>() {
            assert!(DueFilter::read(&word).is_some(), "{word}");
        }
        for word in published_words::<SortKey>() {
            let key = SortKey::read(&word).unwrap();
            assert_eq!(key.descending, word.starts_with('-'), "{word}");
        }
        for word in published_words::<SortOrder>() {
            assert!(SortOrder::read(&word).is_some(), "{word}");
        }
        assert_eq!(PageSize::read("1000").map(|size| size.0), Some(1000));
        assert!(PageSize::read("0").is_none() && PageSize::read("1001").is_none());
        assert!(PageNumber::read("0").is_none());
        assert_eq!(Offset::read("0").map(|offset| offset.0), Some(0));
        assert_eq!(Flag::read("TRUE").map(|flag| flag.0), Some(true));
        assert_eq!(Flag::read("off").map(|flag| flag.0), Some(false));
        assert!(Flag::read("maybe").is_none());
        assert_eq!(
            Completion::read("pending").map(|completion| completion.0),
            Some(Some(false))
        );
    }
}
