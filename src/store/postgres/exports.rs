//! Exports on PostgreSQL: which finished runs a completion bundle carried, and the site
//! feed's chain. Mirrors store/exports.rs with the same names, signatures and results.
//!
//! `exports.sequence` is given by the caller (the site feed's sequence), not assigned by
//! the store, so no key lock is needed; a sequence or bundle id recorded twice fails on
//! the table's keys, as on SQLite.

use sqlx::postgres::PgRow;
use sqlx::{Connection as _, Row as _};

use super::{Fault, PgStore};
use crate::store::{ExportHead, ExportRecord, NewExport, StoreError, Unexported};

fn read_export(r: &PgRow) -> Result<ExportRecord, sqlx::Error> {
    Ok(ExportRecord {
        sequence: r.try_get::<i64, _>(0)? as u64,
        bundle_id: r.try_get(1)?,
        file: r.try_get(2)?,
        runs: r.try_get::<i64, _>(3)? as u64,
        created_at: r.try_get(4)?,
    })
}

impl PgStore {
    /// Finished runs with a completion event that no export carried yet, in run order.
    pub fn unexported(&self) -> Result<Vec<Unexported>, StoreError> {
        self.block_on("unexported", async {
            let mut conn = self.conn.lock().await;
            let rows: Vec<(i64, String, i64, Vec<u8>)> = sqlx::query_as(
                "SELECT seq, run_id, position, completion FROM scheduler.runs
                 WHERE export_seq IS NULL AND completion IS NOT NULL
                   AND state IN ('completed', 'failed')
                 ORDER BY seq",
            )
            .fetch_all(&mut *conn)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(seq, run_id, position, completion)| Unexported {
                    seq: seq as u64,
                    run_id,
                    position: position as u64,
                    completion,
                })
                .collect())
        })
    }

    /// The last export of the site feed, if any.
    pub fn export_head(&self) -> Result<Option<ExportHead>, StoreError> {
        self.block_on("export_head", async {
            let mut conn = self.conn.lock().await;
            let row: Option<(i64, String)> = sqlx::query_as(
                "SELECT sequence, bundle_id FROM scheduler.exports
                 ORDER BY sequence DESC LIMIT 1",
            )
            .fetch_optional(&mut *conn)
            .await?;
            Ok(row.map(|(sequence, bundle_id)| ExportHead {
                sequence: sequence as u64,
                bundle_id,
            }))
        })
    }

    /// Records an export and marks its runs as carried, in one transaction (the runs
    /// in one statement).
    pub fn record_export(&mut self, export: &NewExport<'_>) -> Result<(), StoreError> {
        let seqs: Vec<i64> = export.runs.iter().map(|s| *s as i64).collect();
        self.block_on("record_export", async {
            let mut conn = self.conn.lock().await;
            let mut tx = conn.begin().await?;
            sqlx::query(
                "INSERT INTO scheduler.exports (sequence, bundle_id, file, runs, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(export.sequence as i64)
            .bind(export.bundle_id)
            .bind(export.file)
            .bind(export.runs.len() as i64)
            .bind(export.created_at)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE scheduler.runs SET export_seq = $1 WHERE seq = ANY ($2)")
                .bind(export.sequence as i64)
                .bind(&seqs)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Every recorded export, in sequence order.
    pub fn exports(&self) -> Result<Vec<ExportRecord>, StoreError> {
        self.block_on("exports", async {
            let mut conn = self.conn.lock().await;
            let rows = sqlx::query(
                "SELECT sequence, bundle_id, file, runs, created_at FROM scheduler.exports
                 ORDER BY sequence",
            )
            .fetch_all(&mut *conn)
            .await?;
            Ok(rows.iter().map(read_export).collect::<Result<_, _>>()?)
        })
    }

    /// Records exports made by an earlier store of this site, so that the site feed's
    /// chain continues where it stood (an offline-kit import replaces the store). One
    /// statement: all of them or none.
    pub fn restore_exports(&mut self, exports: &[ExportRecord]) -> Result<(), StoreError> {
        self.block_on("restore_exports", async {
            let mut conn = self.conn.lock().await;
            sqlx::query(
                "INSERT INTO scheduler.exports (sequence, bundle_id, file, runs, created_at)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[],
                                      $5::text[])",
            )
            .bind(
                exports
                    .iter()
                    .map(|e| e.sequence as i64)
                    .collect::<Vec<_>>(),
            )
            .bind(
                exports
                    .iter()
                    .map(|e| e.bundle_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(exports.iter().map(|e| e.file.as_str()).collect::<Vec<_>>())
            .bind(exports.iter().map(|e| e.runs as i64).collect::<Vec<_>>())
            .bind(
                exports
                    .iter()
                    .map(|e| e.created_at.as_str())
                    .collect::<Vec<_>>(),
            )
            .execute(&mut *conn)
            .await?;
            Ok::<_, Fault>(())
        })
    }
}
