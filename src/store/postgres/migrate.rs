//! The PostgreSQL migrations (migrations/postgres/), embedded and applied at connect like
//! the SQLite ones (store/migrate.rs): in order, each recorded with its SHA-256 in
//! `scheduler.schema_migrations`, an edited one refused.
//!
//! Stores connecting at once (several workers starting) would race on `CREATE SCHEMA`;
//! the whole application runs in one transaction under an advisory lock, so the second
//! waits and then finds every migration recorded.

use sha2::{Digest as _, Sha256};
use sqlx::{Connection as _, PgConnection};

use crate::store::StoreError;

/// (name, SQL) in application order; the names match the SQLite ones, and 0005 to 0007
/// are PostgreSQL's alone (a lighter job queue; lz4 for documents; no per-row foreign
/// key checks at ingest; see the files).
const POSTGRES: &[(&str, &str)] = &[
    (
        "0001_state",
        include_str!("../../../migrations/postgres/0001_state.sql"),
    ),
    (
        "0002_scheduler",
        include_str!("../../../migrations/postgres/0002_scheduler.sql"),
    ),
    (
        "0003_control",
        include_str!("../../../migrations/postgres/0003_control.sql"),
    ),
    (
        "0004_schedules",
        include_str!("../../../migrations/postgres/0004_schedules.sql"),
    ),
    (
        "0005_lean_queue",
        include_str!("../../../migrations/postgres/0005_lean_queue.sql"),
    ),
    (
        "0006_lz4_documents",
        include_str!("../../../migrations/postgres/0006_lz4_documents.sql"),
    ),
    (
        "0007_ingest_without_fk",
        include_str!("../../../migrations/postgres/0007_ingest_without_fk.sql"),
    ),
];

/// The advisory lock held while migrating.
const MIGRATE_LOCK: i64 = 0x5354_454c_4c41_0000;

/// What the bookkeeping steps are called in errors.
const BOOKKEEPING: &str = "schema_migrations";

pub(super) async fn apply(conn: &mut PgConnection) -> Result<(), StoreError> {
    let fail = |name: &str| {
        let name = name.to_owned();
        move |source| StoreError::PgMigration { name, source }
    };
    let mut tx = conn.begin().await.map_err(fail(BOOKKEEPING))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATE_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(fail(BOOKKEEPING))?;
    sqlx::raw_sql(
        "CREATE SCHEMA IF NOT EXISTS scheduler;
         CREATE TABLE IF NOT EXISTS scheduler.schema_migrations (
             name TEXT PRIMARY KEY, sha256 TEXT NOT NULL)",
    )
    .execute(&mut *tx)
    .await
    .map_err(fail(BOOKKEEPING))?;
    for (name, sql) in POSTGRES {
        apply_one(&mut tx, name, sql).await?;
    }
    tx.commit().await.map_err(fail(BOOKKEEPING))
}

async fn apply_one(conn: &mut PgConnection, name: &str, sql: &str) -> Result<(), StoreError> {
    let fail = |source| StoreError::PgMigration {
        name: name.to_owned(),
        source,
    };
    let current = hex::encode(Sha256::digest(sql.as_bytes()));
    let recorded: Option<String> =
        sqlx::query_scalar("SELECT sha256 FROM scheduler.schema_migrations WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(fail)?;
    match recorded {
        Some(r) if r == current => Ok(()),
        Some(recorded) => Err(StoreError::MigrationEdited {
            name: name.to_owned(),
            recorded,
            current,
        }),
        None => {
            sqlx::raw_sql(sql).execute(&mut *conn).await.map_err(fail)?;
            sqlx::query("INSERT INTO scheduler.schema_migrations (name, sha256) VALUES ($1, $2)")
                .bind(name)
                .bind(&current)
                .execute(&mut *conn)
                .await
                .map_err(fail)?;
            Ok(())
        }
    }
}
