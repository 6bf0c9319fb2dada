//! A statement with its parameters written into the SQL as typed literals, for PostgreSQL's
//! simple query protocol.
//!
//! Why: behind a pooler in transaction mode that does not keep prepared statements (PgBouncer
//! before 1.21), the extended protocol breaks. sqlx parses a statement in one round trip and binds
//! it in the next; the pooler may hand each round trip to a different server connection, and named
//! statements left behind collide with another client's. A simple query is one message and one
//! round trip, with no server-side statement. The literals are typed as sqlx would bind them
//! (`E'…'::text`, `'…'::int8`, `E'…'::timestamptz`), so the statements mean exactly the same.
//! Numbers are quoted too: `-9223372036854775808::int8` would cast before negating, and overflow.

use std::fmt::Write;

use sea_orm::{DbErr, Statement, Value};

use super::instant_text::{date_text, timestamptz_text};

/// `stmt`'s SQL with each `$n` outside quotes replaced by the literal of its `n`th value.
pub fn inline_parameters(stmt: &Statement) -> Result<String, DbErr> {
    let Some(values) = &stmt.values else {
        return Ok(stmt.sql.clone());
    };
    let sql = stmt.sql.as_str();
    let mut out = String::with_capacity(sql.len() + 16 * values.0.len());
    let mut chars = sql.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            // A quoted literal or identifier is copied whole; a doubled quote stays inside it.
            '\'' | '"' => {
                let mut end = sql.len();
                while let Some((i, next)) = chars.next() {
                    if next == c {
                        if chars.peek().is_some_and(|&(_, after)| after == c) {
                            chars.next();
                            continue;
                        }
                        end = i + 1;
                        break;
                    }
                }
                out.push_str(&sql[at..end]);
            }
            '$' if chars.peek().is_some_and(|(_, d)| d.is_ascii_digit()) => {
                let mut index = 0usize;
                while let Some(&(_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
                    index = index * 10 + d.to_digit(10).unwrap_or(0) as usize;
                    chars.next();
                }
                let value = index
                    .checked_sub(1)
                    .and_then(|i| values.0.get(i))
                    .ok_or_else(|| DbErr::Custom(format!("statement has no parameter ${index}")))?;
                write_literal(&mut out, value)?;
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// One value as a typed SQL literal. The types the service binds are covered; any other is
/// refused rather than guessed.
fn write_literal(out: &mut String, value: &Value) -> Result<(), DbErr> {
    macro_rules! typed {
        ($value:expr, $sql_type:literal, |$v:ident| $write:expr) => {
            match $value {
                Some($v) => {
                    $write;
                    out.push_str(concat!("::", $sql_type));
                }
                None => out.push_str(concat!("NULL::", $sql_type)),
            }
        };
    }
    match value {
        Value::Bool(v) => typed!(v, "boolean", |v| out.push_str(if *v { "TRUE" } else { "FALSE" })),
        Value::TinyInt(v) => typed!(v, "int2", |v| write!(out, "'{v}'").unwrap()),
        Value::SmallInt(v) => typed!(v, "int2", |v| write!(out, "'{v}'").unwrap()),
        Value::TinyUnsigned(v) => typed!(v, "int2", |v| write!(out, "'{v}'").unwrap()),
        Value::SmallUnsigned(v) => typed!(v, "int4", |v| write!(out, "'{v}'").unwrap()),
        Value::Unsigned(v) => typed!(v, "int8", |v| write!(out, "'{v}'").unwrap()),
        // Limits and offsets; PostgreSQL has no unsigned type, and sqlx binds these as int8.
        Value::BigUnsigned(v) => typed!(v, "int8", |v| write!(out, "{}", i64::try_from(*v).unwrap_or(i64::MAX))
            .unwrap()),
        Value::Int(v) => typed!(v, "int4", |v| write!(out, "'{v}'").unwrap()),
        Value::BigInt(v) => typed!(v, "int8", |v| write!(out, "'{v}'").unwrap()),
        Value::Double(v) => typed!(v, "float8", |v| write!(out, "'{v}'").unwrap()),
        Value::String(v) => typed!(v, "text", |v| write_text(out, v)?),
        // PostgreSQL has no year 0 (it is 1 BC): the era is written out.
        Value::ChronoDate(v) => typed!(v, "date", |v| write_text(out, &date_text(*v))?),
        Value::ChronoDateTimeUtc(v) => typed!(v, "timestamptz", |v| write_text(out, &timestamptz_text(v.naive_utc()))?),
        Value::ChronoDateTimeWithTimeZone(v) => {
            typed!(v, "timestamptz", |v| write_text(out, &timestamptz_text(v.naive_utc()))?)
        }
        other => {
            return Err(DbErr::Custom(format!(
                "no simple-protocol literal for a value of type {other:?}"
            )));
        }
    }
    Ok(())
}

/// A string literal in the `E'…'` form, whose meaning does not depend on
/// `standard_conforming_strings`: backslashes and quotes escaped, nothing else touched.
fn write_text(out: &mut String, text: &str) -> Result<(), DbErr> {
    // The protocol's query string ends at a NUL byte; PostgreSQL text cannot hold one either.
    if text.contains('\0') {
        return Err(DbErr::Custom("a text value contains a NUL character".into()));
    }
    out.push_str("E'");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            c => out.push(c),
        }
    }
    out.push('\'');
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use sea_orm::{DbBackend, Values};

    use super::*;

    fn statement(sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    #[test]
    fn placeholders_become_typed_literals() {
        let at = Utc.with_ymd_and_hms(2026, 11, 29, 12, 30, 5).unwrap();
        let stmt = statement(
            r#"UPDATE "tasks" SET "title" = $3, "completed" = $4, "updated_at" = $5, "due_at" = $6 WHERE "id" = $1 AND "user_id" = $2"#,
            vec![
                7i64.into(),
                "alice".into(),
                "Buy milk".into(),
                true.into(),
                at.into(),
                Value::ChronoDateTimeUtc(None),
            ],
        );
        assert_eq!(
            inline_parameters(&stmt).unwrap(),
            r#"UPDATE "tasks" SET "title" = E'Buy milk'::text, "completed" = TRUE::boolean, "updated_at" = E'2026-11-29T12:30:05.000000Z'::timestamptz, "due_at" = NULL::timestamptz WHERE "id" = '7'::int8 AND "user_id" = E'alice'::text"#
        );
    }

    #[test]
    fn quotes_and_backslashes_cannot_break_out_of_a_literal() {
        let stmt = statement(
            "SELECT 1 WHERE title = $1",
            vec!["x'; DROP TABLE tasks; -- \\' $2".into()],
        );
        assert_eq!(
            inline_parameters(&stmt).unwrap(),
            r"SELECT 1 WHERE title = E'x''; DROP TABLE tasks; -- \\'' $2'::text"
        );
    }

    #[test]
    fn dollar_signs_inside_quotes_and_identifiers_are_not_placeholders() {
        let stmt = statement(
            r#"SELECT '$1', "a$1", 'it''s $1' FROM t WHERE x LIKE $1 ESCAPE '\'"#,
            vec![Value::String(Some("%50\\%%".into()))],
        );
        assert_eq!(
            inline_parameters(&stmt).unwrap(),
            r#"SELECT '$1', "a$1", 'it''s $1' FROM t WHERE x LIKE E'%50\\%%'::text ESCAPE '\'"#
        );
    }

    #[test]
    fn two_digit_placeholders_and_statements_without_values() {
        let values: Vec<Value> = (1..=12i32).map(Value::from).collect();
        let stmt = statement("SELECT $12, $1", values);
        assert_eq!(inline_parameters(&stmt).unwrap(), "SELECT '12'::int4, '1'::int4");
        let smallest = statement("SELECT $1", vec![i64::MIN.into()]);
        assert_eq!(
            inline_parameters(&smallest).unwrap(),
            "SELECT '-9223372036854775808'::int8"
        );
        let plain = Statement::from_string(DbBackend::Postgres, "SELECT 1");
        assert_eq!(inline_parameters(&plain).unwrap(), "SELECT 1");
        let missing = Statement {
            values: Some(Values(vec![])),
            ..statement("SELECT $1", vec![])
        };
        assert!(inline_parameters(&missing).is_err());
    }

    #[test]
    fn instants_and_dates_before_the_year_1_carry_their_era() {
        let year_0 = Utc.with_ymd_and_hms(0, 12, 31, 23, 0, 0).unwrap();
        let stmt = statement(
            "SELECT $1, $2, $3",
            vec![year_0.into(), year_0.fixed_offset().into(), year_0.date_naive().into()],
        );
        assert_eq!(
            inline_parameters(&stmt).unwrap(),
            "SELECT E'0001-12-31T23:00:00.000000Z BC'::timestamptz, E'0001-12-31T23:00:00.000000Z BC'::timestamptz, E'0001-12-31 BC'::date"
        );
    }

    #[test]
    fn a_nul_character_or_an_unknown_type_is_refused() {
        assert!(inline_parameters(&statement("SELECT $1", vec!["a\0b".into()])).is_err());
        assert!(inline_parameters(&statement("SELECT $1", vec![Value::Bytes(Some(vec![1]))])).is_err());
    }
}
