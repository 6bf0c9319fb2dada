//! [`TaskCells`]: a task row's answered columns borrowed from the row they arrived in, and the
//! rows of a list visited that way ([`TaskRows`]).
//!
//! A list answer only needs each task's text long enough to write it. Decoded into an owned
//! [`TaskRow`], every row cost sqlx's generic `Decode` per cell (a type-descriptor clone, an
//! error path per cell) and a `String` per text column: on a list of 20 tasks a third of the
//! request's instructions (specs/performance.md). On PostgreSQL's binary format, once the row's
//! column types are the ones the migrations create, each cell is read here from its bytes: the
//! integers and booleans as they are, the timestamps by [`instant_from_pg_micros`], the text
//! borrowed after its UTF-8 check. Anything else (SQLite, the simple protocol's text format, a
//! changed schema) is decoded into a [`TaskRow`] first and borrowed from it.

use std::cmp::Reverse;

use chrono::{DateTime, Utc};
use sea_orm::sqlx::postgres::{PgColumn, PgRow, PgValueFormat};
use sea_orm::sqlx::{self, Row};
use sea_orm::{DbErr, FromQueryResult, QueryResult};

use super::details::{Due, Recurrence};
use super::entity::{TASK_ROW_COLUMNS, TaskRow, has_task_columns};
use crate::db::{instant_from_pg_micros, query_error};

/// The columns of [`TaskRow`], borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskCells<'r> {
    pub id: i64,
    pub user_id: &'r str,
    pub title: &'r str,
    pub description: Option<&'r str>,
    pub completed: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub priority: &'r str,
    pub tags: &'r str,
    pub due_at: Option<DateTime<Utc>>,
    pub due_date_only: bool,
    pub is_recurring: bool,
    pub recurrence_type: Option<&'r str>,
    pub recurrence_interval: i32,
    pub parent_task_id: Option<i64>,
    pub reminder_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub version: i64,
}

impl TaskRow {
    pub fn cells(&self) -> TaskCells<'_> {
        TaskCells {
            id: self.id,
            user_id: &self.user_id,
            title: &self.title,
            description: self.description.as_deref(),
            completed: self.completed,
            created_at: self.created_at,
            updated_at: self.updated_at,
            priority: &self.priority,
            tags: &self.tags,
            due_at: self.due_at,
            due_date_only: self.due_date_only,
            is_recurring: self.is_recurring,
            recurrence_type: self.recurrence_type.as_deref(),
            recurrence_interval: self.recurrence_interval,
            parent_task_id: self.parent_task_id,
            reminder_at: self.reminder_at,
            completed_at: self.completed_at,
            version: self.version,
        }
    }
}

/// What a task's due and recurrence columns mean: its due date, its rule (`None` for an unknown
/// stored rule), and when its next occurrence would be due — only a recurring task with a rule and
/// a due date has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub due: Option<Due>,
    pub rule: Option<Recurrence>,
    pub next_run: Option<Due>,
}

impl TaskCells<'_> {
    pub fn schedule(&self) -> Schedule {
        let due = self.due_at.map(|at| Due::from_stored(at, self.due_date_only));
        let rule = Recurrence::from_stored(self.recurrence_type, self.recurrence_interval);
        let next_run = match (self.is_recurring, rule, due) {
            (true, Some(rule), Some(due)) => due.advanced(rule),
            _ => None,
        };
        Schedule { due, rule, next_run }
    }

    pub fn to_row(self) -> TaskRow {
        TaskRow {
            id: self.id,
            user_id: self.user_id.to_owned(),
            title: self.title.to_owned(),
            description: self.description.map(str::to_owned),
            completed: self.completed,
            created_at: self.created_at,
            updated_at: self.updated_at,
            priority: self.priority.to_owned(),
            tags: self.tags.to_owned(),
            due_at: self.due_at,
            due_date_only: self.due_date_only,
            is_recurring: self.is_recurring,
            recurrence_type: self.recurrence_type.map(str::to_owned),
            recurrence_interval: self.recurrence_interval,
            parent_task_id: self.parent_task_id,
            reminder_at: self.reminder_at,
            completed_at: self.completed_at,
            version: self.version,
        }
    }
}

/// The cells of a PostgreSQL row in the binary format whose column types are the migrations'
/// (see [`has_task_columns`]); `None` for any other row, which the caller decodes the general way.
pub fn binary_cells(row: &PgRow) -> Option<Result<TaskCells<'_>, sqlx::Error>> {
    (is_binary(row) && has_task_columns(row)).then(|| read_binary_cells(row))
}

fn is_binary(row: &PgRow) -> bool {
    row.try_get_raw(0)
        .is_ok_and(|value| value.format() == PgValueFormat::Binary)
}

/// Reads the cells by their PostgreSQL wire encodings: big-endian integers, one byte per
/// boolean, microseconds since 2000 for `timestamptz`, UTF-8 text. For a binary-format row whose
/// column types were checked.
fn read_binary_cells(row: &PgRow) -> Result<TaskCells<'_>, sqlx::Error> {
    let bytes = cell_bytes(row)?;
    let cell = |index: usize| Cell(index, bytes[index]);
    Ok(TaskCells {
        id: cell(0).int8()?,
        user_id: cell(1).text()?,
        title: cell(2).text()?,
        description: cell(3).optional(Cell::text)?,
        completed: cell(4).boolean()?,
        created_at: cell(5).instant()?,
        updated_at: cell(6).instant()?,
        priority: cell(7).text()?,
        tags: cell(8).text()?,
        due_at: cell(9).optional(Cell::instant)?,
        due_date_only: cell(10).boolean()?,
        is_recurring: cell(11).boolean()?,
        recurrence_type: cell(12).optional(Cell::text)?,
        recurrence_interval: cell(13).int4()?,
        parent_task_id: cell(14).optional(Cell::int8)?,
        reminder_at: cell(15).optional(Cell::instant)?,
        completed_at: cell(16).optional(Cell::instant)?,
        version: cell(17).int8()?,
    })
}

/// The bytes of the row's cells (`None` for NULL), taken in one loop: sqlx's `try_get_raw` builds
/// a value with a copy of the column's type descriptor and an error path around it, which taken
/// cell by cell (18 calls per row) cost more than reading the cells themselves.
fn cell_bytes(row: &PgRow) -> Result<[Option<&[u8]>; TASK_ROW_COLUMNS.len()], sqlx::Error> {
    let mut cells = [None; TASK_ROW_COLUMNS.len()];
    for (index, cell) in cells.iter_mut().enumerate() {
        *cell = row.try_get_raw(index)?.as_bytes().ok();
    }
    Ok(cells)
}

/// Which rows of one statement are read from their binary cells: PostgreSQL rows in the binary
/// format whose column types are the migrations' ([`has_task_columns`]). The rows of one statement
/// share its column descriptions (the same slice) and its format, so only the first is checked.
#[derive(Default)]
struct BinaryRows(Option<*const PgColumn>);

impl BinaryRows {
    /// `row` as a binary PostgreSQL row of checked columns; `None` when it must be decoded the
    /// general way (SQLite, the simple protocol's text format, a changed schema).
    fn check<'r>(&mut self, row: &'r QueryResult) -> Option<&'r PgRow> {
        let row = row.try_as_pg_row()?;
        let columns = row.columns().as_ptr();
        if self.0 == Some(columns) || (is_binary(row) && has_task_columns(row)) {
            self.0 = Some(columns);
            return Some(row);
        }
        None
    }
}

/// A cell of a binary-format row: its column index (for errors) and its bytes, `None` for NULL.
#[derive(Clone, Copy)]
struct Cell<'r>(usize, Option<&'r [u8]>);

impl<'r> Cell<'r> {
    fn optional<T>(self, read: fn(Self) -> Result<T, sqlx::Error>) -> Result<Option<T>, sqlx::Error> {
        self.1.map(|_| read(self)).transpose()
    }

    fn required(self) -> Result<&'r [u8], sqlx::Error> {
        self.1.ok_or_else(|| decode_error(self.0, "unexpected NULL".to_owned()))
    }

    fn fixed<const N: usize>(self) -> Result<[u8; N], sqlx::Error> {
        let bytes = self.required()?;
        bytes
            .try_into()
            .map_err(|_| decode_error(self.0, format!("{} bytes where {N} were expected", bytes.len())))
    }

    fn int8(self) -> Result<i64, sqlx::Error> {
        self.fixed().map(i64::from_be_bytes)
    }

    fn int4(self) -> Result<i32, sqlx::Error> {
        self.fixed().map(i32::from_be_bytes)
    }

    fn boolean(self) -> Result<bool, sqlx::Error> {
        self.fixed::<1>().map(|[byte]| byte != 0)
    }

    fn instant(self) -> Result<DateTime<Utc>, sqlx::Error> {
        let micros = self.int8()?;
        instant_from_pg_micros(micros)
            .ok_or_else(|| decode_error(self.0, format!("a timestamptz out of range: {micros}")))
    }

    fn text(self) -> Result<&'r str, sqlx::Error> {
        std::str::from_utf8(self.required()?).map_err(|err| decode_error(self.0, err.to_string()))
    }
}

fn decode_error(index: usize, message: String) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: format!("{index:?}"),
        source: message.into(),
    }
}

/// The rows of a list of tasks, as the database answered them: visited as [`TaskCells`], so that
/// an answer can be written from them without owning their text.
pub struct TaskRows {
    rows: Vec<QueryResult>,
    /// Visit the rows newest first instead of in the order they arrived in.
    newest_first: bool,
}

impl TaskRows {
    pub fn new(rows: Vec<QueryResult>) -> Self {
        TaskRows {
            rows,
            newest_first: false,
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Has [`TaskRows::try_for_each`] visit the rows newest first (`created_at DESC, id DESC`, the
    /// list's default order), for rows read without an `ORDER BY`: see
    /// `queries::list_all_newest_first`, which leaves that sort to the service so the shared
    /// database does not pay it.
    pub fn newest_first(mut self) -> Self {
        self.newest_first = true;
        self
    }

    /// `read` of the first row's cells; `None` when there are no rows.
    pub fn first<T>(&self, read: impl FnOnce(TaskCells<'_>) -> T) -> Result<Option<T>, DbErr> {
        self.rows
            .first()
            .map(|row| with_cells(row, &mut BinaryRows::default(), read))
            .transpose()
    }

    /// Calls `visit` with each row's cells, in order; stops at the first row that cannot be decoded.
    pub fn try_for_each(&self, mut visit: impl FnMut(TaskCells<'_>)) -> Result<(), DbErr> {
        if self.newest_first {
            return self.try_for_each_newest_first(visit);
        }
        let mut binary_rows = BinaryRows::default();
        self.rows
            .iter()
            .try_for_each(|row| with_cells(row, &mut binary_rows, &mut visit))
    }

    /// Reads every row's cells once, sorts them by `(created_at, id)` descending and visits them.
    /// The cells are the sort's key, so no cell is read twice (reading the key's two cells
    /// before the writer read all of them cost 40 more of sqlx's `try_get_raw` per list of 20).
    fn try_for_each_newest_first(&self, visit: impl FnMut(TaskCells<'_>)) -> Result<(), DbErr> {
        let decoded: Vec<TaskRow>;
        let mut cells = Vec::with_capacity(self.rows.len());
        // Read last row first: a user's rows mostly arrive oldest first (the order they were
        // stored in), so the cells start out nearly in the order wanted and the sort of a short
        // list (an insertion sort) has little to move.
        let mut binary_rows = BinaryRows::default();
        for row in self.rows.iter().rev() {
            let Some(row) = binary_rows.check(row) else {
                break;
            };
            cells.push(read_binary_cells(row).map_err(query_error)?);
        }
        if cells.len() < self.rows.len() {
            // SQLite, the simple protocol's text format or a changed schema: decoded the general way.
            decoded = self
                .rows
                .iter()
                .rev()
                .map(|row| TaskRow::from_query_result(row, ""))
                .collect::<Result<_, _>>()?;
            cells.clear();
            cells.extend(decoded.iter().map(TaskRow::cells));
        }
        // Ids are unique, so no two keys are equal and an unstable sort is deterministic.
        cells.sort_unstable_by_key(|task| Reverse((task.created_at, task.id)));
        cells.into_iter().for_each(visit);
        Ok(())
    }
}

/// Calls `use_cells` with `row`'s cells: read from its bytes when it is a checked binary row,
/// else from a [`TaskRow`] decoded the general way (which lives only for the call).
fn with_cells<T>(
    row: &QueryResult,
    binary_rows: &mut BinaryRows,
    use_cells: impl FnOnce(TaskCells<'_>) -> T,
) -> Result<T, DbErr> {
    Ok(match binary_rows.check(row) {
        Some(row) => use_cells(read_binary_cells(row).map_err(query_error)?),
        None => use_cells(TaskRow::from_query_result(row, "")?.cells()),
    })
}
