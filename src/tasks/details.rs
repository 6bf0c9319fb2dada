//! The task details beyond title and completion: priority, tags, due date, recurrence and
//! reminders. Pure values and rules, unit-tested here; parsing the many dialects frontends send
//! happens at the edge (`api::task_fields`), storage in the queries.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, Utc};

/// A priority as the client spelled it (`HIGH`, `high`, `High` are returned as sent, so
/// frontends that compare with their own spelling keep matching) and its rank, which sorting and
/// filtering use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Priority {
    pub spelling: String,
    pub rank: PriorityRank,
}

/// `none` < `low` < `medium` (`normal`) < `high` < `urgent` = `critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PriorityRank {
    None = 0,
    Low = 1,
    Medium = 2,
    High = 3,
    Urgent = 4,
}

impl PriorityRank {
    /// The rank of a priority word, case-insensitively (`normal` is `medium`, `critical` is
    /// `urgent`), or of a number 1 to 4 (low to urgent).
    pub fn of_word(word: &str) -> Option<PriorityRank> {
        match word.trim().to_ascii_lowercase().as_str() {
            "none" => Some(PriorityRank::None),
            "low" | "1" => Some(PriorityRank::Low),
            "medium" | "normal" | "2" => Some(PriorityRank::Medium),
            "high" | "3" => Some(PriorityRank::High),
            "urgent" | "critical" | "4" => Some(PriorityRank::Urgent),
            _ => None,
        }
    }

    /// The word a number stands for.
    fn canonical_word(self) -> &'static str {
        match self {
            PriorityRank::None => "none",
            PriorityRank::Low => "low",
            PriorityRank::Medium => "medium",
            PriorityRank::High => "high",
            PriorityRank::Urgent => "urgent",
        }
    }
}

impl Priority {
    /// The default of every task that was created without one.
    pub fn medium() -> Priority {
        Priority {
            spelling: "medium".to_owned(),
            rank: PriorityRank::Medium,
        }
    }

    /// A priority word, kept as spelled (trimmed); `None` when it is not one.
    pub fn from_word(word: &str) -> Option<Priority> {
        let rank = PriorityRank::of_word(word)?;
        let trimmed = word.trim();
        let spelling = if trimmed.bytes().all(|b| b.is_ascii_digit()) {
            rank.canonical_word().to_owned()
        } else {
            trimmed.to_owned()
        };
        Some(Priority { spelling, rank })
    }

    /// A number 1 to 4 (low, medium, high, urgent), answered as the word.
    pub fn from_number(number: i64) -> Option<Priority> {
        let rank = match number {
            1 => PriorityRank::Low,
            2 => PriorityRank::Medium,
            3 => PriorityRank::High,
            4 => PriorityRank::Urgent,
            _ => return None,
        };
        Some(Priority {
            spelling: rank.canonical_word().to_owned(),
            rank,
        })
    }
}

/// At most this many tags per task, each at most [`MAX_TAG_CHARS`] characters.
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 50;

/// Trims, drops empty tags and case-insensitive duplicates (the first spelling wins).
pub fn normalise_tags(tags: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim();
        if !tag.is_empty() && !kept.iter().any(|known| known.to_lowercase() == tag.to_lowercase()) {
            kept.push(tag.to_owned());
        }
    }
    kept
}

/// Separates tags in the folded copy that the tag filter matches against; control characters
/// are refused in tags, so it cannot occur in one.
pub const TAG_SEPARATOR: char = '\u{1f}';

/// The folded tags as stored for matching: `␟a␟b␟`, so `␟tag␟` finds exactly one tag.
pub fn tags_for_matching(tags: &[String]) -> String {
    let mut folded = String::from(TAG_SEPARATOR);
    for tag in tags {
        folded.push_str(&migration::search_fold::fold(tag));
        folded.push(TAG_SEPARATOR);
    }
    folded
}

/// A due date: a calendar date (from `<input type="date">`, answered as `YYYY-MM-DD`) or an
/// instant (answered in UTC with `Z`). A date is stored as its midnight UTC, with the flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    Date(NaiveDate),
    At(DateTime<Utc>),
}

impl Due {
    pub fn instant(self) -> DateTime<Utc> {
        match self {
            Due::Date(date) => date.and_time(NaiveTime::MIN).and_utc(),
            Due::At(at) => at,
        }
    }

    pub fn is_date_only(self) -> bool {
        matches!(self, Due::Date(_))
    }

    pub fn from_stored(at: DateTime<Utc>, date_only: bool) -> Due {
        if date_only {
            Due::Date(at.date_naive())
        } else {
            Due::At(at)
        }
    }

    /// Parses a due date: `YYYY-MM-DD`, an RFC 3339 date-time, or a date-time without an
    /// offset (`2026-01-18T10:00`, seconds and fractions optional), read as UTC.
    pub fn parse(text: &str) -> Option<Due> {
        let is_date_shape = text.len() == 10
            && text.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if is_date_shape {
            let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
            return (1..=9999).contains(&date.year()).then_some(Due::Date(date));
        }
        parse_instant(text).map(Due::At)
    }

    /// The same due moved by one recurrence step.
    pub fn advanced(self, recurrence: Recurrence) -> Option<Due> {
        match self {
            Due::Date(date) => recurrence.advance_date(date).map(Due::Date),
            Due::At(at) => recurrence.advance(at).map(Due::At),
        }
    }

    /// `YYYY-MM-DD` for a date, RFC 3339 UTC with microseconds and `Z` for an instant.
    pub fn to_wire(self) -> String {
        match self {
            Due::Date(date) => date.format("%Y-%m-%d").to_string(),
            Due::At(at) => at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        }
    }
}

/// An RFC 3339 date-time, or one without an offset (read as UTC), to the microsecond; years
/// 0 to 9999 in UTC, the years RFC 3339 can spell (`0001-01-01T00:30:00+01:00` is in the year 0
/// in UTC, and is answered as `0000-12-31T23:30:00.000000Z`).
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(text)
        .map(|at| at.to_utc())
        .or_else(|_| {
            // `2026-01-18 10:00:00Z`-style spellings that RFC 3339 refuses but ISO 8601 allows.
            DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M%#z").map(|at| at.to_utc())
        })
        .ok()
        .or_else(|| {
            [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%d %H:%M",
            ]
            .iter()
            .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
            .map(|naive| naive.and_utc())
        })?;
    DateTime::from_timestamp_micros(within_calendar(parsed)?.timestamp_micros())
}

/// `at` when it lies in the years 0 to 9999 in UTC: the instants the service stores and
/// answers. Past them an instant is neither a `YYYY-MM-DD` date nor RFC 3339, and SQLite's text
/// order (`+10083-…` before `2026-…`) would put it first.
pub fn within_calendar(at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (0..=9999).contains(&at.year()).then_some(at)
}

/// How often a recurring task comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecurrenceKind {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl RecurrenceKind {
    /// `daily`, `weekly`, `monthly`, `yearly` in any case, their RRULE `FREQ` values, and the
    /// nouns some frontends send (`day`, `week`, …, `annually`).
    pub fn from_word(word: &str) -> Option<RecurrenceKind> {
        match word.trim().to_ascii_lowercase().as_str() {
            "daily" | "day" | "days" => Some(RecurrenceKind::Daily),
            "weekly" | "week" | "weeks" => Some(RecurrenceKind::Weekly),
            "monthly" | "month" | "months" => Some(RecurrenceKind::Monthly),
            "yearly" | "year" | "years" | "annually" | "annual" => Some(RecurrenceKind::Yearly),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RecurrenceKind::Daily => "daily",
            RecurrenceKind::Weekly => "weekly",
            RecurrenceKind::Monthly => "monthly",
            RecurrenceKind::Yearly => "yearly",
        }
    }
}

/// The largest accepted `recurrence_interval`.
pub const MAX_RECURRENCE_INTERVAL: u32 = 999;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recurrence {
    pub kind: RecurrenceKind,
    /// Every `interval` days, weeks, months or years; 1 or more.
    pub interval: u32,
}

impl Recurrence {
    /// `at` moved by one step. Months and years go by the calendar, clamped to the end of a
    /// shorter month (Jan 31 + 1 month = Feb 28, or 29 in a leap year). `None` past the year
    /// 9999: a series ends there.
    pub fn advance(self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let interval = self.interval;
        let next = match self.kind {
            RecurrenceKind::Daily => at.checked_add_signed(Duration::days(interval.into())),
            RecurrenceKind::Weekly => at.checked_add_signed(Duration::weeks(interval.into())),
            RecurrenceKind::Monthly => at.checked_add_months(Months::new(interval)),
            RecurrenceKind::Yearly => at.checked_add_months(Months::new(interval.checked_mul(12)?)),
        };
        within_calendar(next?)
    }

    /// The rule kept in `recurrence_type` and `recurrence_interval`; `None` without a type.
    pub fn from_stored(kind: Option<&str>, interval: i32) -> Option<Recurrence> {
        Some(Recurrence {
            kind: RecurrenceKind::from_word(kind?)?,
            interval: Self::stored_interval(interval),
        })
    }

    /// A stored interval, read as 1 when it is not a positive number.
    pub fn stored_interval(interval: i32) -> u32 {
        u32::try_from(interval).unwrap_or(1).max(1)
    }

    pub fn advance_date(self, date: NaiveDate) -> Option<NaiveDate> {
        self.advance(date.and_time(NaiveTime::MIN).and_utc())
            .map(|at| at.date_naive())
    }

    /// Reads an RFC 5545 RRULE's `FREQ` (first, `DAILY` to `YEARLY`) and `INTERVAL` (1–999),
    /// with or without the `RRULE:` prefix; the other standard parts (`COUNT`, `UNTIL`, `WKST`,
    /// `BY…`) are accepted and ignored, anything else refused.
    pub fn from_rrule(rule: &str) -> Option<Recurrence> {
        let body = rule.strip_prefix("RRULE:").unwrap_or(rule);
        let mut parts = body.split(';');
        let kind = match parts.next()?.strip_prefix("FREQ=")? {
            "DAILY" => RecurrenceKind::Daily,
            "WEEKLY" => RecurrenceKind::Weekly,
            "MONTHLY" => RecurrenceKind::Monthly,
            "YEARLY" => RecurrenceKind::Yearly,
            _ => return None,
        };
        let mut interval = 1;
        for part in parts {
            let (key, value) = part.split_once('=')?;
            match key {
                "INTERVAL" => interval = parse_interval(value)?,
                "COUNT" | "UNTIL" | "WKST" => {}
                by if by.len() > 2 && by.starts_with("BY") && by[2..].bytes().all(|b| b.is_ascii_uppercase()) => {}
                _ => return None,
            }
        }
        Some(Recurrence { kind, interval })
    }
}

/// An interval written as digits: 1 to 999 (leading zeros allowed).
pub fn parse_interval(digits: &str) -> Option<u32> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() || significant.len() > 3 {
        return None;
    }
    significant
        .parse()
        .ok()
        .filter(|n| (1..=MAX_RECURRENCE_INTERVAL).contains(n))
}

/// A reminder relative to the due date: `30m`, `1h`, `2d`, `1w` before it.
pub fn parse_relative_reminder(text: &str) -> Option<Duration> {
    let text = text.trim().to_ascii_lowercase();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number = number.trim_start_matches('0');
    if number.is_empty() || number.len() > 5 {
        return None;
    }
    let amount: i64 = number.parse().ok().filter(|n| *n > 0 && *n <= 10_000)?;
    match unit.trim() {
        "m" | "min" | "mins" | "minute" | "minutes" => Some(Duration::minutes(amount)),
        "h" | "hr" | "hrs" | "hour" | "hours" => Some(Duration::hours(amount)),
        "d" | "day" | "days" => Some(Duration::days(amount)),
        "w" | "week" | "weeks" => Some(Duration::weeks(amount)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn monthly(interval: u32) -> Recurrence {
        Recurrence {
            kind: RecurrenceKind::Monthly,
            interval,
        }
    }

    #[test]
    fn priorities_keep_their_spelling_and_rank_by_meaning() {
        assert_eq!(Priority::from_word("HIGH").unwrap().spelling, "HIGH");
        assert_eq!(Priority::from_word(" High ").unwrap().rank, PriorityRank::High);
        assert_eq!(Priority::from_word("normal").unwrap().rank, PriorityRank::Medium);
        assert_eq!(Priority::from_word("critical").unwrap().rank, PriorityRank::Urgent);
        assert_eq!(Priority::from_word("3").unwrap().spelling, "high");
        assert_eq!(Priority::from_number(4).unwrap().spelling, "urgent");
        assert!(Priority::from_word("whenever").is_none());
        assert!(Priority::from_number(5).is_none());
        assert!(PriorityRank::Urgent > PriorityRank::High && PriorityRank::Low > PriorityRank::None);
    }

    #[test]
    fn tags_are_trimmed_and_deduplicated_case_insensitively() {
        let tags = normalise_tags(["Work".into(), " home ".into(), "work".into(), String::new()]);
        assert_eq!(tags, ["Work", "home"]);
        assert_eq!(tags_for_matching(&tags), "\u{1f}work\u{1f}home\u{1f}");
    }

    #[test]
    fn due_dates_and_times_parse_in_every_spelling_frontends_send() {
        assert_eq!(
            Due::parse("2026-03-01"),
            Some(Due::Date(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()))
        );
        assert_eq!(
            Due::parse("2026-03-01T10:00:00+02:00"),
            Some(Due::At(at("2026-03-01T08:00:00Z")))
        );
        assert_eq!(
            Due::parse("2026-03-01T10:00"),
            Some(Due::At(at("2026-03-01T10:00:00Z")))
        );
        assert_eq!(
            Due::parse("2026-03-01T10:00:30.5"),
            Some(Due::At(at("2026-03-01T10:00:30.5Z")))
        );
        assert_eq!(
            Due::parse("2026-03-01 10:00:00"),
            Some(Due::At(at("2026-03-01T10:00:00Z")))
        );
        assert_eq!(Due::parse("next tuesday"), None);
        assert_eq!(Due::parse("2026-02-30"), None);
        assert_eq!(
            Due::Date(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()).to_wire(),
            "2026-03-01"
        );
        assert_eq!(
            Due::At(at("2026-03-01T08:00:00+00:00")).to_wire(),
            "2026-03-01T08:00:00.000000Z"
        );
    }

    #[test]
    fn months_go_by_the_calendar_and_clamp_to_the_month_end() {
        assert_eq!(
            monthly(1).advance(at("2026-01-31T09:00:00Z")),
            Some(at("2026-02-28T09:00:00Z"))
        );
        assert_eq!(
            monthly(1).advance(at("2028-01-31T09:00:00Z")),
            Some(at("2028-02-29T09:00:00Z"))
        );
        assert_eq!(
            monthly(3).advance(at("2026-11-30T09:00:00Z")),
            Some(at("2027-02-28T09:00:00Z"))
        );
        let yearly = Recurrence {
            kind: RecurrenceKind::Yearly,
            interval: 1,
        };
        assert_eq!(
            yearly.advance(at("2028-02-29T00:00:00Z")),
            Some(at("2029-02-28T00:00:00Z"))
        );
        let weekly = Recurrence {
            kind: RecurrenceKind::Weekly,
            interval: 2,
        };
        assert_eq!(
            weekly.advance(at("2026-12-25T00:00:00Z")),
            Some(at("2027-01-08T00:00:00Z"))
        );
    }

    #[test]
    fn a_series_ends_at_the_year_9999() {
        let rule = monthly(999);
        assert_eq!(rule.advance(at("9999-12-31T00:00:00Z")), None);
        assert_eq!(
            Due::Date(NaiveDate::from_ymd_opt(9999, 12, 31).unwrap()).advanced(rule),
            None
        );
        let daily = Recurrence {
            kind: RecurrenceKind::Daily,
            interval: 1,
        };
        assert_eq!(daily.advance(at("9999-12-31T23:59:59Z")), None);
        assert_eq!(
            daily.advance(at("9999-12-30T23:59:59Z")),
            Some(at("9999-12-31T23:59:59Z"))
        );
    }

    #[test]
    fn rrules_give_their_frequency_and_interval() {
        assert_eq!(
            Recurrence::from_rrule("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"),
            Some(Recurrence {
                kind: RecurrenceKind::Weekly,
                interval: 2
            })
        );
        assert_eq!(
            Recurrence::from_rrule("FREQ=DAILY"),
            Some(Recurrence {
                kind: RecurrenceKind::Daily,
                interval: 1
            })
        );
        assert_eq!(Recurrence::from_rrule("FREQ=HOURLY"), None);
        assert_eq!(
            Recurrence::from_rrule("INTERVAL=2;FREQ=DAILY"),
            None,
            "FREQ comes first"
        );
        assert_eq!(Recurrence::from_rrule("FREQ=DAILY;COLOR=red"), None);
        assert_eq!(
            Recurrence::from_rrule("FREQ=MONTHLY;BYMONTHDAY=31;INTERVAL=006;COUNT=3"),
            Some(Recurrence {
                kind: RecurrenceKind::Monthly,
                interval: 6
            })
        );
        assert_eq!(Recurrence::from_rrule("FREQ=DAILY;INTERVAL=0"), None);
    }

    #[test]
    fn relative_reminders_read_minutes_hours_days_and_weeks() {
        assert_eq!(parse_relative_reminder("1h"), Some(Duration::hours(1)));
        assert_eq!(parse_relative_reminder("2d"), Some(Duration::days(2)));
        assert_eq!(parse_relative_reminder("1w"), Some(Duration::weeks(1)));
        assert_eq!(parse_relative_reminder("30 min"), Some(Duration::minutes(30)));
        assert_eq!(parse_relative_reminder("h"), None);
        assert_eq!(parse_relative_reminder("0d"), None);
        assert_eq!(parse_relative_reminder("5x"), None);
    }
}
