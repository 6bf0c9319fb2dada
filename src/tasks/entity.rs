//! The `tasks` table (created by the `migration` crate).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The Better Auth user id of the owner (there is no users table here).
    pub user_id: String,
    pub title: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub completed: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// `title` folded for case-insensitive search (`migration::search_fold`); never answered.
    #[sea_orm(column_type = "Text")]
    pub title_folded: String,
    /// `description` folded the same way.
    #[sea_orm(column_type = "Text", nullable)]
    pub description_folded: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
