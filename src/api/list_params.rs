//! The query of `GET /api/tasks`, in every dialect frontends send, parsed leniently.
//!
//! Real frontends name the same filter several ways (`status`, `status_filter`, `filter`; `search`,
//! `q`, `query`; …) and sometimes send values we do not know. The whole query string is read
//! here, once: an unknown parameter or value is ignored and the default applies, never an error.
//! Each parameter's values are one type (`super::query_values`), read here through the same
//! `read` whichever name the value came under.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::query_values::{
    Completion, DueFilter, Flag, MAX_OFFSET, Offset, PageNumber, PageSize, QueryValue, SortKey, SortOrder, StatusWord,
};
use crate::error::{ApiError, ValidationIssue};
use crate::tasks::details::{Due, PriorityRank, within_calendar};
use crate::tasks::{CountWindows, DueWindow, ListOrder, TaskListQuery};

/// The page size when `page` is sent without `limit`.
pub const DEFAULT_PAGE_SIZE: u64 = 20;

/// The most different tags one list request may filter on. Each is one more condition in the
/// statement: SQLite refuses an expression of about a thousand, and no frontend sends more than a
/// handful (a task holds at most 20).
pub const MAX_FILTER_TAGS: usize = 100;

/// The query string's pairs, decoded.
struct Pairs(Vec<(String, String)>);

impl Pairs {
    /// The first non-empty value of the first of `names` that is present.
    fn first(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|name| {
            self.0
                .iter()
                .find(|(key, value)| key == name && !value.trim().is_empty())
                .map(|(_, value)| value.trim())
        })
    }

    /// Every value of every one of `names`, comma lists split: `tags=a,b&tag=c`.
    fn all(&self, names: &[&str]) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, _)| names.contains(&key.as_str()) || names.iter().any(|name| key == &format!("{name}[]")))
            .flat_map(|(_, value)| value.split(','))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .collect()
    }
}

/// Midnight at the start of `date` in `tz` (the first instant of the day when midnight falls
/// in a daylight-saving gap).
fn start_of(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    tz.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(midnight + Duration::hours(1))).earliest())
        .map_or_else(|| midnight.and_utc(), |at| at.with_timezone(&Utc))
}

fn utc_midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

/// The due window of the calendar days `[first, until)` in `tz`.
fn days(first: NaiveDate, until: NaiveDate, tz: Tz) -> DueWindow {
    DueWindow {
        dates: (Some(utc_midnight(first)), Some(utc_midnight(until))),
        instants: (Some(start_of(first, tz)), Some(start_of(until, tz))),
    }
}

/// `due_after` (inclusive): a date means from the start of that day.
fn due_from(value: &str, tz: Tz) -> Option<DueWindow> {
    Some(match Due::parse(value)? {
        Due::Date(date) => DueWindow {
            dates: (Some(utc_midnight(date)), None),
            instants: (Some(start_of(date, tz)), None),
        },
        Due::At(at) => DueWindow {
            dates: (Some(at), None),
            instants: (Some(at), None),
        },
    })
}

/// `due_before` (inclusive): a date means until the end of that day. A bound past the year 9999
/// is no bound (every due date is before it), and is left out: SQLite compares instants as
/// text, where `+10000-…` sorts before `2026-…`.
fn due_until(value: &str, tz: Tz) -> Option<DueWindow> {
    Some(match Due::parse(value)? {
        Due::Date(date) => {
            let next = date.succ_opt()?;
            DueWindow {
                dates: (None, within_calendar(utc_midnight(next))),
                instants: (None, within_calendar(start_of(next, tz))),
            }
        }
        Due::At(at) => {
            let after = within_calendar(at + Duration::microseconds(1));
            DueWindow {
                dates: (None, after),
                instants: (None, after),
            }
        }
    })
}

/// The tag filter's values without case-insensitive repeats (the first spelling kept); 422 when
/// more than [`MAX_FILTER_TAGS`] different ones are left.
fn filter_tags(values: Vec<&str>) -> Result<Vec<String>, ApiError> {
    let mut seen = std::collections::HashSet::new();
    let mut tags = Vec::new();
    for value in values {
        let tag = value.replace('\0', "");
        if seen.insert(tag.to_lowercase()) {
            if tags.len() == MAX_FILTER_TAGS {
                return Err(ApiError::Validation(vec![ValidationIssue::query(
                    "tags",
                    "too_long",
                    format!("At most {MAX_FILTER_TAGS} different tags can be filtered on at once."),
                )]));
            }
            tags.push(tag);
        }
    }
    Ok(tags)
}

/// Parses the raw query string of a list request at `now`. Only a filter too large to run is an
/// error; anything else unknown is ignored.
pub fn list_query(raw: &str, now: DateTime<Utc>) -> Result<TaskListQuery, ApiError> {
    let pairs = Pairs(serde_urlencoded::from_str(raw).unwrap_or_default());
    let mut query = TaskListQuery {
        // `completed` wins over the status words when both are usable.
        completed: pairs
            .first(&["completed"])
            .and_then(Completion::read)
            .map(|completion| completion.0)
            .or_else(|| {
                pairs
                    .first(&["status", "status_filter", "filter"])
                    .and_then(StatusWord::read)
                    .map(|status| status.0)
            })
            .flatten(),
        // NUL cannot occur in stored text (and PostgreSQL refuses it as a parameter).
        search: pairs
            .first(&["search", "q", "query"])
            .map(|text| text.replace('\0', ""))
            .filter(|text| !text.is_empty()),
        ..TaskListQuery::default()
    };
    let priorities = pairs.all(&["priority", "priority_filter"]);
    if !priorities.iter().any(|word| word.eq_ignore_ascii_case("all")) {
        query.priorities = priorities
            .iter()
            .filter_map(|word| PriorityRank::of_word(word))
            .collect();
        // One bound value per rank however often it was sent.
        query.priorities.sort();
        query.priorities.dedup();
    }
    query.tags = filter_tags(pairs.all(&["tag", "tags", "tags_filter"]))?;

    let tz = time_zone(&pairs);
    let today = now.with_timezone(&tz).date_naive();
    if let Some(window) = pairs
        .first(&["due_after", "due_date_from", "due_from"])
        .and_then(|v| due_from(v, tz))
    {
        query.due_windows.push(window);
    }
    if let Some(window) = pairs
        .first(&["due_before", "due_date_to", "due_to"])
        .and_then(|v| due_until(v, tz))
    {
        query.due_windows.push(window);
    }
    let due_filter = pairs
        .first(&["due_date_filter", "due_filter"])
        .and_then(DueFilter::read);
    let overdue = pairs
        .first(&["overdue", "overdue_only"])
        .and_then(Flag::read)
        .is_some_and(|flag| flag.0)
        || due_filter == Some(DueFilter::Overdue);
    match due_filter {
        Some(DueFilter::Today) => query.due_windows.push(days(today, today + Duration::days(1), tz)),
        Some(DueFilter::ThisWeek) => {
            let monday = today - Duration::days(today.weekday().num_days_from_monday().into());
            query.due_windows.push(days(monday, monday + Duration::days(7), tz));
        }
        Some(DueFilter::ThisMonth) => {
            let first = today.with_day(1).unwrap_or(today);
            let next = first.checked_add_months(chrono::Months::new(1)).unwrap_or(first);
            query.due_windows.push(days(first, next, tz));
        }
        Some(DueFilter::Overdue) | None => {}
    }
    if overdue {
        query.due_windows.push(overdue_window(today, now));
        // Overdue means not done yet.
        query.completed = Some(false);
    }

    let sort = pairs
        .first(&["sort", "sort_by", "sortBy", "order_by"])
        .and_then(SortKey::read);
    query.sort = sort.as_ref().map(|key| key.field).unwrap_or_default();
    query.order = pairs
        .first(&["order", "sort_order", "sortOrder", "direction"])
        .and_then(SortOrder::read)
        .map(|order| order.0)
        .or(sort.filter(|key| key.descending).map(|_| ListOrder::Desc));

    let limit = pairs
        .first(&["limit", "page_size", "per_page", "pageSize"])
        .and_then(PageSize::read)
        .map(|size| size.0);
    match pairs.first(&["page"]).and_then(PageNumber::read) {
        Some(PageNumber(page)) => {
            let size = limit.unwrap_or(DEFAULT_PAGE_SIZE);
            query.limit = Some(size);
            query.offset = (page - 1).saturating_mul(size).min(MAX_OFFSET);
        }
        None => {
            query.limit = limit;
            query.offset = pairs
                .first(&["offset", "skip"])
                .and_then(Offset::read)
                .map_or(0, |offset| offset.0);
        }
    }
    Ok(query)
}

/// The time zone a request names (`tz`, `timezone`, `time_zone`); UTC when none or an unknown one.
fn time_zone(pairs: &Pairs) -> Tz {
    zone(pairs.first(&["tz", "timezone", "time_zone"]))
}

/// An IANA time zone by name; UTC for none or an unknown one (never an error, as in the list).
fn zone(name: Option<&str>) -> Tz {
    name.and_then(|name| name.trim().parse().ok()).unwrap_or(Tz::UTC)
}

/// What `GET /api/tasks/stats` counts as overdue and as due today, at `now` in the time zone
/// `tz` names, as the list's `overdue=true` and `due_date_filter=today` read them.
pub fn count_windows(tz: Option<&str>, now: DateTime<Utc>) -> CountWindows {
    let tz = zone(tz);
    let today = now.with_timezone(&tz).date_naive();
    CountWindows {
        overdue: overdue_window(today, now),
        today: days(today, today + Duration::days(1), tz),
    }
}

/// Due before today (a date) or before now (an instant).
fn overdue_window(today: NaiveDate, now: DateTime<Utc>) -> DueWindow {
    DueWindow {
        dates: (None, Some(utc_midnight(today))),
        instants: (None, Some(now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::SortField;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn parse(raw: &str) -> TaskListQuery {
        list_query(raw, at("2026-03-04T15:00:00Z")).unwrap()
    }

    #[test]
    fn unknown_parameters_and_values_leave_the_defaults() {
        assert_eq!(
            parse("colour=red&status=whatever&sort=nonsense&limit=0&page=-1"),
            TaskListQuery::default()
        );
        assert_eq!(parse("limit=1001").limit, None);
        assert_eq!(parse("offset=-5").offset, 0);
        assert_eq!(parse("offset=1e3").offset, 0);
    }

    #[test]
    fn offsets_and_pages_past_what_the_databases_take_are_the_furthest_they_take() {
        // sea-query binds an offset as a signed 64-bit number; one past it once answered 500.
        for huge in ["9223372036854775808", "18446744073709551615", "99999999999999999999999"] {
            assert_eq!(parse(&format!("offset={huge}")).offset, MAX_OFFSET, "{huge}");
        }
        assert_eq!(parse("offset=9223372036854775807").offset, MAX_OFFSET);
        let query = parse("page=9223372036854775807");
        assert_eq!((query.limit, query.offset), (Some(DEFAULT_PAGE_SIZE), MAX_OFFSET));
        assert_eq!(parse("page=99999999999999999999999&limit=5").offset, MAX_OFFSET);
        assert_eq!(parse("offset=42").offset, 42);
    }

    #[test]
    fn every_dialect_of_the_completion_filter_is_understood() {
        assert_eq!(parse("completed=true").completed, Some(true));
        assert_eq!(parse("status=pending").completed, Some(false));
        assert_eq!(parse("status=COMPLETE").completed, Some(true));
        assert_eq!(parse("filter=pending").completed, Some(false));
        assert_eq!(parse("status_filter=done").completed, Some(true));
        assert_eq!(parse("completed=all&status=done").completed, None);
        assert_eq!(parse("completed=false&status=completed").completed, Some(false));
    }

    #[test]
    fn priorities_and_tags_are_any_of_lists() {
        assert_eq!(
            parse("priority=high,URGENT").priorities,
            [PriorityRank::High, PriorityRank::Urgent]
        );
        assert_eq!(
            parse("priority_filter=low&priority=3").priorities,
            [PriorityRank::Low, PriorityRank::High]
        );
        assert_eq!(
            parse(&format!("priority=high,low{}", ",1".repeat(5000))).priorities,
            [PriorityRank::Low, PriorityRank::High]
        );
        assert!(parse("priority=all").priorities.is_empty());
        assert_eq!(parse("tags=work,home&tag=x").tags, ["work", "home", "x"]);
        assert_eq!(parse("tags_filter=a").tags, ["a"]);
        assert_eq!(parse("tags=Work,work,WORK&tag=home").tags, ["Work", "home"]);
    }

    #[test]
    fn a_tag_filter_is_capped_by_its_different_tags_not_by_its_repeats() {
        let tags = |count: usize| (0..count).map(|i| format!("t{i}")).collect::<Vec<_>>().join(",");
        assert_eq!(
            parse(&format!("tags={}", tags(MAX_FILTER_TAGS))).tags.len(),
            MAX_FILTER_TAGS
        );
        assert_eq!(parse(&format!("tags=a{}", ",A".repeat(5000))).tags, ["a"]);
        let refused = list_query(&format!("tags={}", tags(MAX_FILTER_TAGS + 1)), Utc::now()).unwrap_err();
        assert_eq!(refused.code(), "validation_failed");
        assert_eq!(refused.issues().unwrap()[0].loc, ["query", "tags"]);
    }

    #[test]
    fn sort_accepts_a_minus_prefix_and_both_names() {
        let query = parse("sort=-due_date");
        assert_eq!((query.sort, query.order), (SortField::DueDate, Some(ListOrder::Desc)));
        let query = parse("sort_by=priority&sort_order=asc");
        assert_eq!((query.sort, query.order), (SortField::Priority, Some(ListOrder::Asc)));
        assert_eq!(parse("sort=title").order, None);
    }

    #[test]
    fn pages_are_offsets_of_the_page_size() {
        let query = parse("page=3&limit=10");
        assert_eq!((query.limit, query.offset), (Some(10), 20));
        let query = parse("page=2");
        assert_eq!(
            (query.limit, query.offset),
            (Some(DEFAULT_PAGE_SIZE), DEFAULT_PAGE_SIZE)
        );
    }

    #[test]
    fn due_windows_follow_the_callers_time_zone() {
        let today = parse("due_date_filter=today&tz=America/New_York");
        // 15:00 UTC on March 4th is 10:00 in New York (EST, UTC-5).
        assert_eq!(
            today.due_windows,
            [DueWindow {
                dates: (Some(at("2026-03-04T00:00:00Z")), Some(at("2026-03-05T00:00:00Z"))),
                instants: (Some(at("2026-03-04T05:00:00Z")), Some(at("2026-03-05T05:00:00Z"))),
            }]
        );
        let week = parse("due_date_filter=this_week");
        assert_eq!(week.due_windows[0].dates.0, Some(at("2026-03-02T00:00:00Z")));
        let month = parse("due_date_filter=this_month");
        assert_eq!(
            month.due_windows[0].dates,
            (Some(at("2026-03-01T00:00:00Z")), Some(at("2026-04-01T00:00:00Z")))
        );
        let overdue = parse("overdue=true");
        assert_eq!(overdue.completed, Some(false));
        assert_eq!(overdue.due_windows[0].instants.1, Some(at("2026-03-04T15:00:00Z")));
        let before = parse("due_before=2026-03-10&due_date_from=2026-03-01");
        assert_eq!(before.due_windows.len(), 2);
        assert_eq!(
            parse("tz=Not/AZone&due_date_filter=today").due_windows[0].instants.0,
            Some(at("2026-03-04T00:00:00Z"))
        );
    }
}
