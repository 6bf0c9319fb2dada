//! Query parameters of `GET /api/tasks`, parsed leniently.
//!
//! Real frontends send filters in several dialects and sometimes values we do not know; an
//! unknown value must never fail the request. [`Lenient`] turns a value that does not parse into
//! "absent", so the default applies, and publishes the parameter as a plain string: any value is
//! valid input, and the recognised ones are listed in the parameter's description.

use std::borrow::Cow;

use poem_openapi::Enum;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseFromParameter, ParseResult, Type};

use crate::tasks::{ListOrder, SortField};

/// A query parameter whose unparsable values are ignored instead of answered with 422.
#[derive(Debug, Default)]
pub struct Lenient<T>(pub Option<T>);

impl<T: Type> Type for Lenient<T> {
    const IS_REQUIRED: bool = false;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl<T: ParseFromParameter> ParseFromParameter for Lenient<T> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Lenient(T::parse_from_parameter(value.trim()).ok()))
    }

    fn parse_from_parameters<I: IntoIterator<Item = A>, A: AsRef<str>>(iter: I) -> ParseResult<Self> {
        // A repeated parameter: the first occurrence counts.
        match iter.into_iter().next() {
            Some(value) => Self::parse_from_parameter(value.as_ref()),
            None => Ok(Lenient(None)),
        }
    }
}

/// `completed`: a boolean, or the status words some frontends send in its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum CompletedFilter {
    True,
    False,
    /// Same as `false`.
    Pending,
    /// Same as `true`.
    Completed,
    /// No filter.
    All,
}

/// `status`: which tasks to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum StatusFilter {
    All,
    Pending,
    Completed,
    /// Same as `pending`.
    Active,
    /// Same as `pending`.
    Incomplete,
    /// Same as `completed`.
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum SortParam {
    CreatedAt,
    UpdatedAt,
    Title,
    Id,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum OrderParam {
    Asc,
    Desc,
}

/// The largest page `limit` accepts; other values mean "no limit", like an absent one.
pub const MAX_PAGE_LIMIT: u64 = 1000;

/// A usable page size, or `None` for every task.
pub fn page_limit(requested: Option<u64>) -> Option<u64> {
    requested.filter(|limit| (1..=MAX_PAGE_LIMIT).contains(limit))
}

impl From<SortParam> for SortField {
    fn from(param: SortParam) -> Self {
        match param {
            SortParam::CreatedAt => SortField::CreatedAt,
            SortParam::UpdatedAt => SortField::UpdatedAt,
            SortParam::Title => SortField::Title,
            SortParam::Id => SortField::Id,
        }
    }
}

impl From<OrderParam> for ListOrder {
    fn from(param: OrderParam) -> Self {
        match param {
            OrderParam::Asc => ListOrder::Asc,
            OrderParam::Desc => ListOrder::Desc,
        }
    }
}

/// The completion filter the two parameters ask for; `completed` wins when both are usable.
pub fn completion_filter(completed: Option<CompletedFilter>, status: Option<StatusFilter>) -> Option<bool> {
    match completed {
        Some(CompletedFilter::True | CompletedFilter::Completed) => return Some(true),
        Some(CompletedFilter::False | CompletedFilter::Pending) => return Some(false),
        Some(CompletedFilter::All) => return None,
        None => {}
    }
    match status? {
        StatusFilter::All => None,
        StatusFilter::Pending | StatusFilter::Active | StatusFilter::Incomplete => Some(false),
        StatusFilter::Completed | StatusFilter::Done => Some(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lenient<T: ParseFromParameter + std::fmt::Debug>(value: &str) -> Option<T> {
        Lenient::<T>::parse_from_parameter(value).unwrap().0
    }

    #[test]
    fn unknown_values_are_ignored_not_rejected() {
        assert_eq!(lenient::<StatusFilter>("done"), Some(StatusFilter::Done));
        assert_eq!(lenient::<StatusFilter>("whatever"), None);
        assert_eq!(page_limit(lenient::<u64>("0")), None);
        assert_eq!(page_limit(lenient::<u64>("1001")), None);
        assert_eq!(page_limit(lenient::<u64>("-5")), None);
        assert_eq!(page_limit(lenient::<u64>("1000")), Some(1000));
        assert_eq!(lenient::<u64>("99999999999999999999999"), None);
    }

    #[test]
    fn both_dialects_of_the_completion_filter_are_understood() {
        use CompletedFilter as C;
        use StatusFilter as S;
        assert_eq!(completion_filter(Some(C::True), None), Some(true));
        assert_eq!(completion_filter(Some(C::Pending), None), Some(false));
        assert_eq!(completion_filter(Some(C::All), Some(S::Done)), None);
        assert_eq!(completion_filter(None, Some(S::Active)), Some(false));
        assert_eq!(completion_filter(None, Some(S::Incomplete)), Some(false));
        assert_eq!(completion_filter(None, Some(S::Done)), Some(true));
        assert_eq!(completion_filter(None, Some(S::All)), None);
        assert_eq!(completion_filter(Some(C::False), Some(S::Completed)), Some(false));
        assert_eq!(completion_filter(None, None), None);
    }
}
