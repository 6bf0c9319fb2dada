//! The owner-scoped statements, each filtered on the owner's id.
//!
//! Reads and plain writes are one statement each (`INSERT/UPDATE … RETURNING`), and the toggle
//! is computed by the database (`completed = NOT completed`), so two concurrent toggles give two
//! flips instead of a lost update. A change that may complete a task runs in a transaction: when
//! it completes a recurring task, the next occurrence is created in the same transaction.

use chrono::{DateTime, Utc};
use migration::search_fold::fold;
use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    FromQueryResult, Iterable, PartialModelTrait, QueryFilter, QuerySelect, QueryTrait, Statement, UpdateMany, Value,
};

use super::cells::TaskRows;
use super::details::{Due, Priority, Recurrence, RecurrenceKind, tags_for_matching, within_calendar};
use super::entity::{ActiveModel, Column, Entity as Tasks, Model, TASK_ROW_COLUMNS, TaskRow};
use super::fixed_sql::FixedSql;
use crate::auth::AuthUser;
use crate::db::{Db, DbTransaction};

/// A recurrence as stored: the flag, and the rule it repeats by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecurrenceSetting {
    pub is_recurring: bool,
    pub rule: Option<Recurrence>,
}

pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub due: Option<Due>,
    pub recurrence: RecurrenceSetting,
    pub reminder_at: Option<DateTime<Utc>>,
}

impl NewTask {
    /// Any task: the shape of a create's statement does not depend on its values.
    fn placeholder() -> NewTask {
        NewTask {
            title: String::new(),
            description: None,
            completed: false,
            priority: Priority::medium(),
            tags: Vec::new(),
            due: None,
            recurrence: RecurrenceSetting {
                is_recurring: false,
                rule: None,
            },
            reminder_at: None,
        }
    }
}

/// A partial update: `None` keeps the stored value.
#[derive(Default)]
pub struct TaskChanges {
    pub title: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
    pub priority: Option<Priority>,
    pub tags: Option<Vec<String>>,
    /// `Some(None)` clears the due date.
    pub due: Option<Option<Due>>,
    pub is_recurring: Option<bool>,
    /// `Some(None)` clears the rule (and stops the recurrence).
    pub recurrence: Option<Option<Recurrence>>,
    /// `Some(None)` clears the reminder.
    pub reminder_at: Option<Option<DateTime<Utc>>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionChange {
    Set(bool),
    Toggle,
}

/// Which versions of the task a change may apply to (`If-Match`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match`, or `*`: whatever the task's version.
    Any,
    /// Only while the task is at one of these versions (none: never, e.g. only weak tags).
    OneOf(Vec<i64>),
}

/// What a change of one task came to.
#[derive(Debug)]
// Returned once per request and matched at once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum ChangeOutcome<T> {
    Changed(T),
    /// The caller has no such task.
    NotFound,
    /// The task exists but is at another version than the precondition's; here as it is now.
    Stale(TaskRow),
}

impl<T> ChangeOutcome<T> {
    /// A change that touched no row: a missing task, or (under a precondition) a stale one.
    async fn unchanged(
        db: &impl ConnectionTrait,
        owner: &AuthUser,
        id: i64,
        precondition: &Precondition,
    ) -> Result<Self, DbErr> {
        if *precondition == Precondition::Any {
            return Ok(ChangeOutcome::NotFound);
        }
        Ok(match find_task(db, owner, id).await? {
            Some(current) => ChangeOutcome::Stale(current),
            None => ChangeOutcome::NotFound,
        })
    }
}

/// Timestamps are kept to the microsecond: what PostgreSQL stores, so a task reads back exactly
/// as it was answered when created, on either back end.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// The caller's task `id` (at most one row: `id` is unique).
pub async fn find_task(db: &impl ConnectionTrait, owner: &AuthUser, id: i64) -> Result<Option<TaskRow>, DbErr> {
    find_task_row(db, owner, id).await?.first(|cells| cells.to_row())
}

/// The caller's task `id` as the database answered it (no row, or one: `id` is unique), for an
/// answer written from its cells without owning their text.
#[tracing::instrument(skip(db, owner), fields(user_id = owner.id()))]
pub async fn find_task_row(db: &impl ConnectionTrait, owner: &AuthUser, id: i64) -> Result<TaskRows, DbErr> {
    static FIND_TASK: FixedSql = FixedSql::new();
    let statement = FIND_TASK.bind(
        db.get_database_backend(),
        |backend| {
            TaskRow::select_cols(Tasks::find().select_only())
                .filter(Column::Id.eq(0i64))
                .filter(Column::UserId.eq(""))
                .build(backend)
        },
        vec![id.into(), owner.id().into()],
    );
    Ok(TaskRows::new(db.query_one_raw(statement).await?.into_iter().collect()))
}

fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}

/// The created task as the database stored it.
#[tracing::instrument(skip_all, fields(user_id = owner.id()))]
pub async fn create_task(db: &impl ConnectionTrait, owner: &AuthUser, task: NewTask) -> Result<TaskRow, DbErr> {
    // Every answered column but the generated `id` and `version` is a value bound here, so only
    // those two come back and the answer is written from the bound values: `RETURNING` all 18
    // answered columns cost PostgreSQL a tenth of its work per create, and the service their
    // decoding (specs/performance.md). Every column but the generated ones is always given, so the
    // text is the same every time: it is built once, and a create only binds its values
    // (sea-query built it per request: a sixth of a create).
    static CREATE_TASK: FixedSql = FixedSql::new();
    let mut model = new_task_model(owner, task, now());
    let statement = CREATE_TASK.bind(
        db.get_database_backend(),
        |backend| insert_returning_generated(new_task_model(owner, NewTask::placeholder(), now()), backend),
        column_values(&model),
    );
    let generated = db.query_one_raw(statement).await?.ok_or(DbErr::RecordNotInserted)?;
    model.id = Set(generated.try_get_by_index(0)?);
    model.version = Set(generated.try_get_by_index(1)?);
    // Only a recurring task's next occurrence has a parent, and it is inserted by
    // `create_next_occurrence`, not here.
    model.parent_task_id = Set(None);
    Ok(Model::try_from(model)?.into())
}

/// The row a create inserts: every column but the generated `id` and `version`.
fn new_task_model(owner: &AuthUser, task: NewTask, now: DateTime<Utc>) -> ActiveModel {
    let rule = task.recurrence.rule;
    ActiveModel {
        user_id: Set(owner.id().to_owned()),
        title_folded: Set(fold(&task.title)),
        description_folded: Set(task.description.as_deref().map(fold)),
        title: Set(task.title),
        description: Set(task.description),
        completed: Set(task.completed),
        completed_at: Set(task.completed.then_some(now)),
        created_at: Set(now),
        updated_at: Set(now),
        priority_rank: Set(task.priority.rank as i16),
        priority: Set(task.priority.spelling),
        tags_folded: Set(tags_for_matching(&task.tags)),
        tags: Set(tags_json(&task.tags)),
        due_at: Set(task.due.map(Due::instant)),
        due_date_only: Set(task.due.is_some_and(Due::is_date_only)),
        is_recurring: Set(task.recurrence.is_recurring),
        recurrence_type: Set(rule.map(|rule| rule.kind.as_str().to_owned())),
        recurrence_interval: Set(rule.map_or(1, |rule| rule.interval as i32)),
        reminder_at: Set(task.reminder_at),
        ..Default::default()
    }
}

/// SeaORM's `INSERT … RETURNING` of the columns the database generates (`id`, `version`).
fn insert_returning_generated(model: ActiveModel, backend: DbBackend) -> Statement {
    let mut insert = Tasks::insert(model);
    QueryTrait::query(&mut insert).returning(Query::returning().columns([Column::Id, Column::Version]));
    insert.build(backend)
}

/// The values of the columns `model` sets, in the order SeaORM's `INSERT` lists them (the
/// entity's column order).
fn column_values(model: &ActiveModel) -> Vec<Value> {
    Column::iter()
        .filter_map(|column| match model.get(column) {
            ActiveValue::Set(value) => Some(value),
            _ => None,
        })
        .collect()
}

/// The `SET` expressions of a completion change. `completed_at` moves to `now` only on a
/// false→true transition, so a returned `completed_at == now` proves this statement completed it.
fn completion_update(update: UpdateMany<Tasks>, change: CompletionChange, now: DateTime<Utc>) -> UpdateMany<Tasks> {
    let was_completed = || Expr::col(Column::Completed).eq(true);
    let (completed, completed_at): (SimpleExpr, SimpleExpr) = match change {
        CompletionChange::Set(true) => (
            Expr::value(true),
            Expr::case(was_completed(), Expr::col(Column::CompletedAt))
                .finally(Expr::value(now))
                .into(),
        ),
        CompletionChange::Set(false) => (Expr::value(false), Expr::value(Option::<DateTime<Utc>>::None)),
        CompletionChange::Toggle => (
            Expr::col(Column::Completed).not(),
            Expr::case(was_completed(), Expr::value(Option::<DateTime<Utc>>::None))
                .finally(Expr::value(now))
                .into(),
        ),
    };
    update
        .col_expr(Column::Completed, completed)
        .col_expr(Column::CompletedAt, completed_at)
}

/// Applies `changes` to the caller's task `id`; `None` when the caller has no such task.
#[tracing::instrument(skip(db, owner, changes), fields(user_id = owner.id()))]
pub async fn update_task(
    db: &Db,
    owner: &AuthUser,
    id: i64,
    changes: TaskChanges,
    precondition: &Precondition,
) -> Result<ChangeOutcome<TaskRow>, DbErr> {
    let now = now();
    let mut update = Tasks::update_many().col_expr(Column::UpdatedAt, Expr::value(now));
    if let Some(title) = changes.title {
        update = update
            .col_expr(Column::TitleFolded, Expr::value(fold(&title)))
            .col_expr(Column::Title, Expr::value(title));
    }
    if let Some(description) = changes.description {
        update = update
            .col_expr(Column::DescriptionFolded, Expr::value(description.as_deref().map(fold)))
            .col_expr(Column::Description, Expr::value(description));
    }
    if let Some(priority) = changes.priority {
        update = update
            .col_expr(Column::PriorityRank, Expr::value(priority.rank as i16))
            .col_expr(Column::Priority, Expr::value(priority.spelling));
    }
    if let Some(tags) = changes.tags {
        update = update
            .col_expr(Column::TagsFolded, Expr::value(tags_for_matching(&tags)))
            .col_expr(Column::Tags, Expr::value(tags_json(&tags)));
    }
    if let Some(due) = changes.due {
        update = update
            .col_expr(Column::DueAt, Expr::value(due.map(Due::instant)))
            .col_expr(Column::DueDateOnly, Expr::value(due.is_some_and(Due::is_date_only)));
    }
    if let Some(rule) = changes.recurrence {
        update = update
            .col_expr(
                Column::RecurrenceType,
                Expr::value(rule.map(|rule| rule.kind.as_str().to_owned())),
            )
            .col_expr(
                Column::RecurrenceInterval,
                Expr::value(rule.map_or(1, |rule| rule.interval as i32)),
            );
        if rule.is_none() && changes.is_recurring.is_none() {
            update = update.col_expr(Column::IsRecurring, Expr::value(false));
        }
    }
    if let Some(is_recurring) = changes.is_recurring {
        update = update.col_expr(Column::IsRecurring, Expr::value(is_recurring));
        if is_recurring && changes.recurrence.is_none() {
            // Recurring without a rule of its own repeats daily.
            update = update.col_expr(
                Column::RecurrenceType,
                Expr::col(Column::RecurrenceType).if_null(RecurrenceKind::Daily.as_str()),
            );
        }
    }
    if let Some(reminder_at) = changes.reminder_at {
        update = update.col_expr(Column::ReminderAt, Expr::value(reminder_at));
    }
    let update = versioned(update, precondition);
    let changed = match changes.completed {
        None => update_owned_task(db, owner, id, update).await?,
        Some(completed) => {
            let update = completion_update(update, CompletionChange::Set(completed), now);
            complete_in_transaction(db, owner, id, update, now).await?
        }
    };
    match changed {
        Some(task) => Ok(ChangeOutcome::Changed(task)),
        None => ChangeOutcome::unchanged(db, owner, id, precondition).await,
    }
}

/// Every change moves `version` (computed by the database), and applies only at a version the
/// precondition accepts: the check and the write are one statement.
fn versioned(update: UpdateMany<Tasks>, precondition: &Precondition) -> UpdateMany<Tasks> {
    let update = update.col_expr(Column::Version, Expr::col(Column::Version).add(1));
    match precondition {
        Precondition::Any => update,
        Precondition::OneOf(versions) => update.filter(Column::Version.is_in(versions.iter().copied())),
    }
}

/// Sets or toggles `completed`; `None` when the caller has no such task. Completing a recurring
/// task creates its next occurrence in the same transaction.
#[tracing::instrument(skip(db, owner), fields(user_id = owner.id()))]
pub async fn set_completion(
    db: &Db,
    owner: &AuthUser,
    id: i64,
    change: CompletionChange,
    precondition: &Precondition,
) -> Result<ChangeOutcome<TaskRow>, DbErr> {
    let now = now();
    let update = completion_statement(change, precondition, now);
    match complete_in_transaction(db, owner, id, update, now).await? {
        Some(task) => Ok(ChangeOutcome::Changed(task)),
        None => ChangeOutcome::unchanged(db, owner, id, precondition).await,
    }
}

/// [`set_completion`] inside a transaction the caller opened and ends (a keyed request's, whose
/// stored answer commits with the change).
#[tracing::instrument(skip(transaction, owner), fields(user_id = owner.id()))]
pub async fn set_completion_within(
    transaction: &DbTransaction,
    owner: &AuthUser,
    id: i64,
    change: CompletionChange,
    precondition: &Precondition,
) -> Result<ChangeOutcome<TaskRow>, DbErr> {
    let now = now();
    let update = completion_statement(change, precondition, now);
    match complete_and_spawn(transaction, owner, id, update, now).await? {
        Some(task) => Ok(ChangeOutcome::Changed(task)),
        None => ChangeOutcome::unchanged(transaction, owner, id, precondition).await,
    }
}

/// The `UPDATE` of a completion change, under its precondition.
fn completion_statement(
    change: CompletionChange,
    precondition: &Precondition,
    now: DateTime<Utc>,
) -> UpdateMany<Tasks> {
    let update = Tasks::update_many().col_expr(Column::UpdatedAt, Expr::value(now));
    versioned(completion_update(update, change, now), precondition)
}

/// Runs an update that may complete the task and, when it did complete a recurring task,
/// creates the next occurrence — atomically. Concurrent completions of one task are serialised
/// by the row lock of the `UPDATE`: only the first sees the false→true transition. A task whose
/// next occurrence exists already (completed, reopened, completed again) spawns no second one.
///
/// Most tasks do not recur: for them the change is one statement, as any other update — it only
/// applies when the row is not recurring, so a recurring task (or a missing one) falls through to
/// the transaction.
async fn complete_in_transaction(
    db: &Db,
    owner: &AuthUser,
    id: i64,
    update: UpdateMany<Tasks>,
    now: DateTime<Utc>,
) -> Result<Option<TaskRow>, DbErr> {
    let plain = update.clone().filter(Column::IsRecurring.eq(false));
    if let Some(task) = update_owned_task(db, owner, id, plain).await? {
        return Ok(Some(task));
    }
    let transaction = db.begin().await?;
    // Ended explicitly on every path, rather than by dropping it: a connection must never go back
    // to the pool inside a transaction.
    match complete_and_spawn(&transaction, owner, id, update, now).await {
        Ok(Some(task)) => {
            transaction.commit().await?;
            Ok(Some(task))
        }
        Ok(None) => {
            transaction.rollback().await?;
            Ok(None)
        }
        Err(err) => {
            if let Err(rollback) = transaction.rollback().await {
                tracing::warn!(error = %rollback, "rolling back after a failed completion");
            }
            Err(err)
        }
    }
}

/// The statements of [`complete_in_transaction`], inside its transaction.
async fn complete_and_spawn(
    transaction: &DbTransaction,
    owner: &AuthUser,
    id: i64,
    update: UpdateMany<Tasks>,
    now: DateTime<Utc>,
) -> Result<Option<TaskRow>, DbErr> {
    let Some(task) = update_owned_task(transaction, owner, id, update).await? else {
        return Ok(None);
    };
    let just_completed = task.completed && task.completed_at == Some(now);
    if just_completed && task.is_recurring {
        // One read for both what the copy needs beyond the answered row (the search helpers) and
        // whether a copy exists already; the row is ours to read, locked by the update above.
        let spawned = Query::select()
            .expr(Expr::val(1))
            .from(Tasks)
            .and_where(Column::UserId.eq(owner.id()))
            .and_where(Column::ParentTaskId.eq(task.id))
            .to_owned();
        let (title_folded, description_folded, priority_rank, tags_folded, spawned_before) = Tasks::find()
            .select_only()
            .columns([
                Column::TitleFolded,
                Column::DescriptionFolded,
                Column::PriorityRank,
                Column::TagsFolded,
            ])
            .expr(Expr::exists(spawned))
            .filter(Column::UserId.eq(owner.id()))
            .filter(Column::Id.eq(task.id))
            .into_tuple::<(String, Option<String>, i16, String, bool)>()
            .one(transaction)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("the task just completed".to_owned()))?;
        if !spawned_before {
            let helpers = (title_folded, description_folded, priority_rank, tags_folded);
            create_next_occurrence(transaction, &task, helpers, now).await?;
        }
    }
    Ok(Some(task))
}

/// A task's search and filter helpers: `title_folded`, `description_folded`, `priority_rank`,
/// `tags_folded`.
type SearchHelpers = (String, Option<String>, i16, String);

/// The next occurrence of a completed recurring task: a copy of its content, search helpers and
/// rule, due one step after its due date (or after now), the reminder moved by the same amount.
async fn create_next_occurrence(
    db: &impl ConnectionTrait,
    task: &TaskRow,
    (title_folded, description_folded, priority_rank, tags_folded): SearchHelpers,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    // A recurring task always has a type (`daily` when none was sent); the fallback is the same.
    let rule =
        Recurrence::from_stored(task.recurrence_type.as_deref(), task.recurrence_interval).unwrap_or(Recurrence {
            kind: RecurrenceKind::Daily,
            interval: Recurrence::stored_interval(task.recurrence_interval),
        });
    let due = task
        .due_at
        .map(|at| Due::from_stored(at, task.due_date_only))
        .unwrap_or(Due::At(now));
    let Some(next_due) = due.advanced(rule) else {
        tracing::warn!(
            task_id = task.id,
            "the next occurrence would be due beyond the calendar; none created"
        );
        return Ok(());
    };
    let shift = next_due.instant() - due.instant();
    let next = ActiveModel {
        user_id: Set(task.user_id.clone()),
        title: Set(task.title.clone()),
        title_folded: Set(title_folded),
        description: Set(task.description.clone()),
        description_folded: Set(description_folded),
        completed: Set(false),
        completed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        priority: Set(task.priority.clone()),
        priority_rank: Set(priority_rank),
        tags: Set(task.tags.clone()),
        tags_folded: Set(tags_folded),
        due_at: Set(Some(next_due.instant())),
        due_date_only: Set(next_due.is_date_only()),
        is_recurring: Set(true),
        recurrence_type: Set(Some(rule.kind.as_str().to_owned())),
        recurrence_interval: Set(rule.interval as i32),
        parent_task_id: Set(Some(task.id)),
        // Moved with the due date; dropped if that takes it past the year 9999.
        reminder_at: Set(task
            .reminder_at
            .and_then(|at| within_calendar(at.checked_add_signed(shift)?))),
        ..Default::default()
    };
    // Nothing is read back: the answer is the completed task.
    Tasks::insert(next).exec_without_returning(db).await?;
    Ok(())
}

/// Runs `update` on the caller's task `id` only, returning the task as changed: the answered
/// columns only, decoded by position (as a create's), not every column through SeaORM's derived
/// decoding.
async fn update_owned_task(
    db: &impl ConnectionTrait,
    owner: &AuthUser,
    id: i64,
    update: UpdateMany<Tasks>,
) -> Result<Option<TaskRow>, DbErr> {
    let mut update = update.filter(Column::Id.eq(id)).filter(Column::UserId.eq(owner.id()));
    QueryTrait::query(&mut update).returning(Query::returning().columns(TASK_ROW_COLUMNS));
    let statement = update.build(db.get_database_backend());
    TaskRow::find_by_statement(statement).one(db).await
}

/// Deletes the caller's task `id`; `false` when the caller has no such task.
#[tracing::instrument(skip(db, owner), fields(user_id = owner.id()))]
pub async fn delete_task(
    db: &impl ConnectionTrait,
    owner: &AuthUser,
    id: i64,
    precondition: &Precondition,
) -> Result<ChangeOutcome<()>, DbErr> {
    let mut delete = Tasks::delete_many()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(owner.id()));
    if let Precondition::OneOf(versions) = precondition {
        delete = delete.filter(Column::Version.is_in(versions.iter().copied()));
    }
    if delete.exec(db).await?.rows_affected > 0 {
        Ok(ChangeOutcome::Changed(()))
    } else {
        ChangeOutcome::unchanged(db, owner, id, precondition).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_binds_its_values_into_the_statement_sea_orm_builds_for_it() {
        let due = Due::parse("2026-12-24").unwrap();
        let rule = Recurrence::from_rrule("FREQ=WEEKLY;INTERVAL=2").unwrap();
        let samples = [
            NewTask::placeholder(),
            NewTask {
                title: "Write the report".into(),
                description: Some("by Friday, for Ünal".into()),
                completed: true,
                priority: Priority::from_word("high").unwrap(),
                tags: vec!["work".into(), "Q4".into()],
                due: Some(due),
                recurrence: RecurrenceSetting {
                    is_recurring: true,
                    rule: Some(rule),
                },
                reminder_at: Some(now()),
            },
        ];
        let alice = AuthUser::for_tests("alice");
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let fixed = FixedSql::new();
            for task in samples.iter().map(clone_task) {
                let at = now();
                let bound = fixed.bind(
                    backend,
                    |backend| insert_returning_generated(new_task_model(&alice, NewTask::placeholder(), at), backend),
                    column_values(&new_task_model(&alice, clone_task(&task), at)),
                );
                assert_eq!(
                    bound,
                    insert_returning_generated(new_task_model(&alice, task, at), backend),
                    "{backend:?}"
                );
            }
        }
    }

    fn clone_task(task: &NewTask) -> NewTask {
        NewTask {
            title: task.title.clone(),
            description: task.description.clone(),
            completed: task.completed,
            priority: task.priority.clone(),
            tags: task.tags.clone(),
            due: task.due,
            recurrence: task.recurrence,
            reminder_at: task.reminder_at,
        }
    }

    #[test]
    fn timestamps_are_truncated_to_microseconds() {
        assert_eq!(now().timestamp_subsec_nanos() % 1_000, 0);
    }
}
