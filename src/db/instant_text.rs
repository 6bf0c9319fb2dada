//! `timestamptz` and `date` values in PostgreSQL's text form, era included.
//!
//! Why: the service answers instants from the year 0 to 9999 in UTC (RFC 3339 spells them all,
//! and `0001-01-01T00:30:00+01:00` is in the year 0 once in UTC). PostgreSQL counts years by era:
//! it has no year 0 and writes it `0001-… BC`. The binary wire format is a count of microseconds
//! and has no such trouble, but the simple query protocol ([`super::inline`]) sends values as text
//! and answers in text: chrono writes the year 0 as `0000`, which PostgreSQL refuses, and sqlx
//! reads text answers without their era, so it fails on `… BC`. These functions write and read
//! the era.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use sea_orm::sqlx::error::{BoxDynError, UnexpectedNullError};
use sea_orm::sqlx::postgres::{PgRow, PgValueFormat, PgValueRef};
use sea_orm::sqlx::{Row, ValueRef};

/// The year as PostgreSQL spells it, and the era suffix: 0 is `1 BC`, -1 is `2 BC`.
fn era_year(year: i32) -> (i32, &'static str) {
    if year >= 1 { (year, "") } else { (1 - year, " BC") }
}

/// `at` (UTC) as PostgreSQL reads a `timestamptz`: `0001-12-31T23:00:00.000000Z BC`.
pub fn timestamptz_text(at: NaiveDateTime) -> String {
    let (year, era) = era_year(at.year());
    format!("{year:04}{}{era}", at.format("-%m-%dT%H:%M:%S%.6fZ"))
}

/// `date` as PostgreSQL reads a `date`: `0001-12-31 BC`.
pub fn date_text(date: NaiveDate) -> String {
    let (year, era) = era_year(date.year());
    format!("{year:04}{}{era}", date.format("-%m-%d"))
}

/// A `timestamptz` as PostgreSQL writes it in text with `DateStyle` ISO and the session in UTC
/// (as sqlx sets it up): `2026-11-29 12:30:05.5+00`, or `0001-12-31 23:00:00+00 BC`.
pub fn parse_timestamptz(text: &str) -> Option<DateTime<Utc>> {
    let (text, before_christ) = match text.strip_suffix(" BC") {
        Some(text) => (text, true),
        None => (text, false),
    };
    let (year, rest) = text.split_once('-')?;
    let year: i32 = year.parse().ok()?;
    // chrono reads years by number (1 BC is `0000`, 2 BC `-0001`) and wants a sign on five digits.
    let astronomical = match if before_christ { 1 - year } else { year } {
        year @ 0..=9999 => format!("{year:04}-{rest}"),
        year => format!("{year:+05}-{rest}"),
    };
    DateTime::parse_from_str(&astronomical, "%Y-%m-%d %H:%M:%S%.f%#z")
        .ok()
        .map(|at| at.to_utc())
}

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01T00:00:00Z).
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

/// A `timestamptz` in the binary format: microseconds since PostgreSQL's epoch. sqlx's decoder
/// gets there through a `NaiveDateTime`, a `Duration` sum and a `FixedOffset` (about 300
/// instructions per cell, five cells per task row); this is one addition and one division. Out
/// of chrono's range (`infinity`, which the service never writes) is `None`.
pub fn instant_from_pg_micros(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros.checked_add(PG_EPOCH_UNIX_MICROS)?)
}

/// A column type read by [`InstantColumns::instant_at`].
pub trait PgInstant: Sized {
    fn decode_instant(value: PgValueRef<'_>) -> Result<Self, BoxDynError>;
}

impl PgInstant for DateTime<Utc> {
    fn decode_instant(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            return Err(Box::new(UnexpectedNullError));
        }
        if value.format() == PgValueFormat::Text {
            let text = value.as_str()?;
            return parse_timestamptz(text).ok_or_else(|| format!("not a timestamptz: {text:?}").into());
        }
        let micros = i64::from_be_bytes(value.as_bytes()?.try_into()?);
        instant_from_pg_micros(micros).ok_or_else(|| format!("a timestamptz out of range: {micros}").into())
    }
}

impl PgInstant for Option<DateTime<Utc>> {
    fn decode_instant(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            return Ok(None);
        }
        DateTime::decode_instant(value).map(Some)
    }
}

/// Reads a `timestamptz` column of a PostgreSQL row in either wire format, without checking its
/// type (as sqlx's `try_get_unchecked`): for callers that checked the row's column types.
pub trait InstantColumns {
    fn instant_at<T: PgInstant>(&self, index: usize) -> Result<T, sea_orm::sqlx::Error>;
}

impl InstantColumns for PgRow {
    fn instant_at<T: PgInstant>(&self, index: usize) -> Result<T, sea_orm::sqlx::Error> {
        let value = self.try_get_raw(index)?;
        T::decode_instant(value).map_err(|source| sea_orm::sqlx::Error::ColumnDecode {
            index: format!("{index:?}"),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    #[test]
    fn binary_instants_decode_as_sqlx_decodes_them() {
        // sqlx: PostgreSQL's epoch as a naive date-time plus the microseconds.
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let sqlx = |micros: i64| (epoch + Duration::microseconds(micros)).and_utc();
        let utc = |y, mo, d, h, mi, s| Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap();
        let year_0 = utc(0, 1, 1, 0, 0, 0);
        let year_9999 = utc(9999, 12, 31, 23, 59, 59) + Duration::microseconds(999_999);
        let bounds = [year_0, year_9999].map(|at| (at.naive_utc() - epoch).num_microseconds().unwrap());
        let spread =
            (0..50_000i64).map(|step| bounds[0] + step * ((bounds[1] - bounds[0]) / 50_000) + step % 1_000_003);
        for micros in [0, -1, 1, bounds[0], bounds[1], 86_400_000_000 - 1]
            .into_iter()
            .chain(spread)
        {
            assert_eq!(instant_from_pg_micros(micros), Some(sqlx(micros)), "{micros}");
        }
        assert_eq!(instant_from_pg_micros(i64::MAX), None, "infinity");
        assert_eq!(instant_from_pg_micros(i64::MIN), None, "-infinity");
    }

    #[test]
    fn the_year_0_and_before_are_written_in_the_christian_era() {
        let at = |y, mo, d, h| Utc.with_ymd_and_hms(y, mo, d, h, 0, 0).unwrap().naive_utc();
        assert_eq!(timestamptz_text(at(2026, 11, 29, 12)), "2026-11-29T12:00:00.000000Z");
        assert_eq!(timestamptz_text(at(1, 1, 1, 0)), "0001-01-01T00:00:00.000000Z");
        assert_eq!(timestamptz_text(at(0, 12, 31, 23)), "0001-12-31T23:00:00.000000Z BC");
        assert_eq!(timestamptz_text(at(0, 2, 29, 1)), "0001-02-29T01:00:00.000000Z BC");
        assert_eq!(timestamptz_text(at(-1, 1, 1, 0)), "0002-01-01T00:00:00.000000Z BC");
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(date_text(date(9999, 12, 31)), "9999-12-31");
        assert_eq!(date_text(date(0, 1, 3)), "0001-01-03 BC");
    }

    #[test]
    fn postgres_text_is_read_with_its_era_and_fraction() {
        let utc = |y, mo, d, h, mi, s| Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap();
        assert_eq!(
            parse_timestamptz("2026-11-29 12:30:05+00"),
            Some(utc(2026, 11, 29, 12, 30, 5))
        );
        assert_eq!(
            parse_timestamptz("2026-11-29 12:30:05.123456+00"),
            Some(utc(2026, 11, 29, 12, 30, 5) + Duration::microseconds(123_456))
        );
        assert_eq!(
            parse_timestamptz("0001-12-31 23:00:00+00 BC"),
            Some(utc(0, 12, 31, 23, 0, 0))
        );
        // 1 BC is a leap year (the proleptic year 0); a year read without its era would not be.
        assert_eq!(
            parse_timestamptz("0001-02-29 01:00:00+00 BC"),
            Some(utc(0, 2, 29, 1, 0, 0))
        );
        assert_eq!(
            parse_timestamptz("9999-12-31 23:59:59.999999+00"),
            Some(utc(9999, 12, 31, 23, 59, 59) + Duration::microseconds(999_999))
        );
        assert_eq!(
            parse_timestamptz("2026-11-29 13:30:05+01"),
            Some(utc(2026, 11, 29, 12, 30, 5))
        );
        for wrong in [
            "",
            "BC",
            "yesterday",
            "2026-13-01 00:00:00+00",
            "0001-01-01 00:00:00+00 AD",
        ] {
            assert_eq!(parse_timestamptz(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn what_is_written_reads_back_over_the_supported_years() {
        let mut at = Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
        // A prime step in minutes plus some microseconds visits every month, day and hour.
        let step = Duration::minutes(1_000_003) + Duration::microseconds(123_457);
        while at <= end {
            // PostgreSQL's text answer: a space between date and time, `+00` for the zone.
            let written = timestamptz_text(at.naive_utc());
            let answered = written.replacen('T', " ", 1).replacen('Z', "+00", 1);
            assert_eq!(parse_timestamptz(&answered), Some(at), "{written}");
            at += step;
        }
    }
}
