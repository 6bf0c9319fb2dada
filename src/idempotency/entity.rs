//! The `idempotency_keys` table (created by the `migration` crate).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub key: String,
    /// [`Fingerprint`](super::Fingerprint) of the key's first request.
    #[sea_orm(column_type = "Text")]
    pub fingerprint: String,
    /// The stored answer; set before the claiming transaction commits, so never seen empty.
    #[sea_orm(nullable)]
    pub status: Option<i16>,
    #[sea_orm(column_type = "Text", nullable)]
    pub body: Option<String>,
    #[sea_orm(nullable)]
    pub location: Option<String>,
    #[sea_orm(nullable)]
    pub etag: Option<String>,
    pub created_at: DateTimeUtc,
    /// From then on the key is forgotten: it may name a new request.
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
