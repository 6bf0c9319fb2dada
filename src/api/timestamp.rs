//! `created_at` / `updated_at` on the wire: RFC 3339, UTC, `Z`, microseconds
//! (`2026-01-18T10:00:00.123456Z`), the form JavaScript's `Date` and Python parse alike.
//! poem-openapi's own `DateTime<Utc>` would write `+00:00` and nanoseconds.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp(pub DateTime<Utc>);

impl Type for Timestamp {
    const IS_REQUIRED: bool = true;
    type RawValueType = DateTime<Utc>;
    type RawElementValueType = DateTime<Utc>;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date-time")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`. chrono's RFC 3339 writer is fast (~60 ns); its `format()`
    /// with a format string is what was slow (~530 ns: it parses the string on every call).
    pub(super) fn to_wire(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_wire())
    }
}

impl ToJSON for Timestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.to_wire()))
    }
}

impl ParseFromJSON for Timestamp {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(text)) => DateTime::parse_from_rfc3339(&text)
                .map(|time| Timestamp(time.with_timezone(&Utc)))
                .map_err(ParseError::custom),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_written_in_utc_with_z_and_microseconds() {
        let time = DateTime::parse_from_rfc3339("2026-01-18T11:00:00.123456789+01:00").unwrap();
        let json = Timestamp(time.with_timezone(&Utc)).to_json();
        assert_eq!(json, Some(Value::String("2026-01-18T10:00:00.123456Z".into())));
    }

    #[test]
    fn serde_writes_the_same_text_as_the_openapi_serialiser() {
        let time = DateTime::parse_from_rfc3339("2026-01-18T10:00:00.123456Z")
            .unwrap()
            .to_utc();
        for timestamp in [
            Timestamp(time),
            Timestamp(DateTime::from_timestamp(1_768_730_400, 0).unwrap()),
        ] {
            let serde = serde_json::to_value(timestamp).unwrap();
            assert_eq!(Some(serde), timestamp.to_json());
        }
    }

    #[test]
    fn whole_seconds_still_carry_six_digits() {
        let time = DateTime::from_timestamp(1_768_730_400, 0).unwrap();
        assert_eq!(
            Timestamp(time).to_json(),
            Some(Value::String("2026-01-18T10:00:00.000000Z".into()))
        );
    }
}
