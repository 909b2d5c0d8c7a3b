//! Embedded migrations, applied in order at open, each recorded with its SHA-256 so an
//! edited migration is caught instead of silently diverging.

use rusqlite::{params, Connection, OptionalExtension as _};
use sha2::{Digest as _, Sha256};

use super::StoreError;

/// (name, SQL) in application order.
const SQLITE: &[(&str, &str)] = &[
    (
        "0001_state",
        include_str!("../../migrations/sqlite/0001_state.sql"),
    ),
    (
        "0002_scheduler",
        include_str!("../../migrations/sqlite/0002_scheduler.sql"),
    ),
    (
        "0003_control",
        include_str!("../../migrations/sqlite/0003_control.sql"),
    ),
    (
        "0004_schedules",
        include_str!("../../migrations/sqlite/0004_schedules.sql"),
    ),
];

pub fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             name TEXT PRIMARY KEY, sha256 TEXT NOT NULL)",
    )?;
    for (name, sql) in SQLITE {
        apply_one(conn, name, sql)?;
    }
    Ok(())
}

fn apply_one(conn: &mut Connection, name: &str, sql: &str) -> Result<(), StoreError> {
    let current = hex::encode(Sha256::digest(sql.as_bytes()));
    let recorded: Option<String> = conn
        .query_row(
            "SELECT sha256 FROM schema_migrations WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?;
    match recorded {
        Some(r) if r == current => Ok(()),
        Some(recorded) => Err(StoreError::MigrationEdited {
            name: name.to_owned(),
            recorded,
            current,
        }),
        None => {
            let fail = |source| StoreError::Migration {
                name: name.to_owned(),
                source,
            };
            let tx = conn.transaction().map_err(fail)?;
            tx.execute_batch(sql).map_err(fail)?;
            tx.execute(
                "INSERT INTO schema_migrations (name, sha256) VALUES (?1, ?2)",
                params![name, current],
            )
            .map_err(fail)?;
            tx.commit().map_err(fail)
        }
    }
}
