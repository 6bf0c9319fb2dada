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
    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, written by hand: chrono's formatter parses a format
    /// description on every call, which showed up at 10 % of a list request's CPU.
    fn write_to(&self, out: &mut [u8; 27]) {
        use chrono::{Datelike, Timelike};
        fn put(out: &mut [u8], value: u32) {
            let mut value = value;
            for byte in out.iter_mut().rev() {
                *byte = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        let time = self.0;
        out.copy_from_slice(b"0000-00-00T00:00:00.000000Z");
        put(&mut out[0..4], time.year().clamp(0, 9999) as u32);
        put(&mut out[5..7], time.month());
        put(&mut out[8..10], time.day());
        put(&mut out[11..13], time.hour());
        put(&mut out[14..16], time.minute());
        // A leap second (nanosecond >= 1e9) is shown as :59.999999, like PostgreSQL does.
        put(&mut out[17..19], time.second());
        put(&mut out[20..26], (time.nanosecond() / 1_000).min(999_999));
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = [0u8; 27];
        self.write_to(&mut text);
        serializer.serialize_str(std::str::from_utf8(&text).expect("ASCII digits and separators"))
    }
}

impl ToJSON for Timestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.to_rfc3339_opts(SecondsFormat::Micros, true)))
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
