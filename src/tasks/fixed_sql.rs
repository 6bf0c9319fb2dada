//! Statements whose SQL text is the same on every request: built once per back end by SeaORM's
//! own builder, then only their values are bound per request.
//!
//! Building a `SELECT` of the 18 answered columns through sea-query on every request (column
//! expressions, aliases, quoting, the final string) cost more CPU than decoding its row
//! (specs/performance.md). The text is still SeaORM's, for whichever back end runs.

use std::sync::OnceLock;

use sea_orm::{DbBackend, Statement, Value};

/// One statement's SQL text, for PostgreSQL and for SQLite.
pub struct FixedSql {
    postgres: OnceLock<String>,
    sqlite: OnceLock<String>,
}

impl FixedSql {
    pub const fn new() -> Self {
        FixedSql {
            postgres: OnceLock::new(),
            sqlite: OnceLock::new(),
        }
    }

    /// The statement with `values`. `build` makes it the first time, for `backend`, with
    /// placeholder values in the same order as `values`.
    pub fn bind(
        &self,
        backend: DbBackend,
        build: impl FnOnce(DbBackend) -> Statement,
        values: Vec<Value>,
    ) -> Statement {
        let cell = match backend {
            DbBackend::Postgres => &self.postgres,
            _ => &self.sqlite,
        };
        let sql = cell.get_or_init(|| {
            let built = build(backend);
            debug_assert_eq!(
                built.values.as_ref().map_or(0, |v| v.0.len()),
                values.len(),
                "the built statement binds as many values as are given"
            );
            built.sql
        });
        Statement::from_sql_and_values(backend, sql.as_str(), values)
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ColumnTrait, EntityTrait, PartialModelTrait, QueryFilter, QuerySelect, QueryTrait};

    use super::*;
    use crate::tasks::entity::{Column, Entity as Tasks, TaskRow};

    #[test]
    fn the_bound_statement_is_the_one_the_builder_makes_with_those_values() {
        let build = |backend, id: i64, user: &str| {
            TaskRow::select_cols(Tasks::find().select_only())
                .filter(Column::Id.eq(id))
                .filter(Column::UserId.eq(user))
                .build(backend)
        };
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let fixed = FixedSql::new();
            for (id, user) in [(7, "alice"), (8, "bob")] {
                let bound = fixed.bind(backend, |backend| build(backend, 0, ""), vec![id.into(), user.into()]);
                assert_eq!(bound, build(backend, id, user), "{backend:?}");
                // The answered columns only, not the search helpers.
                assert!(
                    !bound.sql.contains("folded") && !bound.sql.contains("priority_rank"),
                    "{}",
                    bound.sql
                );
            }
        }
    }
}
