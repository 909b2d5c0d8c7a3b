//! Runs on PostgreSQL, the rest of store/runs.rs that the queue does not need: window
//! planning, listings, impact and output, finishing and retrying a run, deltas, the
//! outbox marks, change-log lookups; and the two reads of store/jobs.rs that read
//! documents and findings (`evaluation`, `sbom_as_of`). Same names, signatures and
//! results as the SQLite store.
//!
//! Dead letters stay in `jobs` (only succeeded and cancelled jobs move to
//! `jobs_finished`), so reviving a failed run's jobs is an update of `jobs` alone.
//!
//! Known difference: a read of one row that SQLite answers with
//! `QueryReturnedNoRows` (`run_impact`, `run_output` of an unknown run) fails here with
//! `StoreError::Postgres` wrapping `RowNotFound`; both are errors, with different text.

use sqlx::Connection as _;

use super::runs::{read_run, RUN_SELECT};
use super::state::{read_document, read_entry, ENTRY_SELECT};
use super::{limit, PgStore};
use crate::store::{ChangeEntry, RunOutcome, RunOutput, RunRecord, StoreError, StoredDocument};

impl PgStore {
    /// Change-log positions that have no window run yet, ascending.
    pub fn unplanned_windows(&self) -> Result<Vec<u64>, StoreError> {
        self.block_on("unplanned_windows", async {
            let mut conn = self.conn.lock().await;
            let positions: Vec<i64> = sqlx::query_scalar(
                "SELECT c.position FROM scheduler.changelog c
                 WHERE NOT EXISTS (SELECT 1 FROM scheduler.runs r
                                   WHERE r.window_position = c.position)
                 ORDER BY c.position",
            )
            .fetch_all(&mut *conn)
            .await?;
            Ok(positions.into_iter().map(|p| p as u64).collect())
        })
    }

    /// Runs, newest first, optionally only those in `state`.
    pub fn runs(&self, state: Option<&str>, limit: u64) -> Result<Vec<RunRecord>, StoreError> {
        self.tenant_runs(None, state, limit)
    }

    /// Runs of one tenant (all with `None`), newest first, optionally only in `state`.
    pub fn tenant_runs(
        &self,
        tenant: Option<&str>,
        state: Option<&str>,
        limit_to: u64,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let sql = format!(
            "{RUN_SELECT} WHERE ($1::text IS NULL OR state = $1)
               AND ($3::text IS NULL OR tenant = $3)
             ORDER BY seq DESC LIMIT $2"
        );
        self.block_on("tenant_runs", async {
            let mut conn = self.conn.lock().await;
            let rows = sqlx::query(&sql)
                .bind(state)
                .bind(limit(limit_to))
                .bind(tenant)
                .fetch_all(&mut *conn)
                .await?;
            Ok(rows.iter().map(read_run).collect::<Result<_, _>>()?)
        })
    }

    /// The stored impact set of a run (canonical JSON); empty when none was stored.
    pub fn run_impact(&self, seq: u64) -> Result<Vec<u8>, StoreError> {
        self.block_on("run_impact", async {
            let mut conn = self.conn.lock().await;
            let impact: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT impact FROM scheduler.runs WHERE seq = $1")
                    .bind(seq as i64)
                    .fetch_one(&mut *conn)
                    .await?;
            Ok(impact.unwrap_or_default())
        })
    }

    /// The summary and completion envelope of a finished run.
    pub fn run_output(&self, seq: u64) -> Result<RunOutput, StoreError> {
        self.block_on("run_output", async {
            let mut conn = self.conn.lock().await;
            let (summary, completion): (Option<Vec<u8>>, Option<Vec<u8>>) =
                sqlx::query_as("SELECT summary, completion FROM scheduler.runs WHERE seq = $1")
                    .bind(seq as i64)
                    .fetch_one(&mut *conn)
                    .await?;
            Ok(RunOutput {
                summary,
                completion,
            })
        })
    }

    /// Records a run's end; false if it was not running (already finished or cancelled).
    pub fn finish_run(&mut self, seq: u64, outcome: &RunOutcome) -> Result<bool, StoreError> {
        self.block_on("finish_run", async {
            let mut conn = self.conn.lock().await;
            let n = sqlx::query(
                "UPDATE scheduler.runs SET state = $1, summary = $2, delta_digest = $3,
                     completion = $4, finished_ms = $5
                 WHERE seq = $6 AND state = 'running'",
            )
            .bind(&outcome.state)
            .bind(&outcome.summary)
            .bind(&outcome.delta_digest)
            .bind(&outcome.completion)
            .bind(outcome.finished_ms)
            .bind(seq as i64)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            Ok(n == 1)
        })
    }

    /// Revives a failed run: its dead-lettered jobs (all in `jobs`: dead letters never
    /// move to `jobs_finished`) are queued again with fresh attempts, and its next
    /// completion event is emitted and exported like a first one. `None` when the run
    /// is not failed; else how many jobs were revived.
    pub fn retry_run(&mut self, run_id: &str, now_ms: i64) -> Result<Option<u64>, StoreError> {
        self.block_on("retry_run", async {
            let mut conn = self.conn.lock().await;
            let mut tx = conn.begin().await?;
            let revived_run: Option<i64> = sqlx::query_scalar(
                "UPDATE scheduler.runs SET state = 'running', finished_ms = NULL,
                     summary = NULL, delta_digest = NULL, completion = NULL, emitted = 0,
                     export_seq = NULL
                 WHERE run_id = $1 AND state = 'failed'
                 RETURNING seq",
            )
            .bind(run_id)
            .fetch_optional(&mut *tx)
            .await?;
            let revived = match revived_run {
                None => None,
                Some(seq) => Some(
                    sqlx::query(
                        "UPDATE scheduler.jobs SET state = 'queued', attempt = 0,
                             not_before_ms = $1, finished_ms = NULL
                         WHERE run_seq = $2 AND state = 'dead'",
                    )
                    .bind(now_ms)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                ),
            };
            tx.commit().await?;
            Ok(revived)
        })
    }

    /// The deltas of a run's jobs, by artifact (byte order, as on SQLite: the database's
    /// collation is checked at connect).
    pub fn run_deltas(&self, seq: u64) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.block_on("run_deltas", async {
            let mut conn = self.conn.lock().await;
            Ok(sqlx::query_as(
                "SELECT artifact, delta FROM scheduler.deltas WHERE run_seq = $1
                 ORDER BY artifact",
            )
            .bind(seq as i64)
            .fetch_all(&mut *conn)
            .await?)
        })
    }

    /// Finished runs with a completion event not yet written to the outbox.
    pub fn unemitted(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.block_on("unemitted", async {
            let mut conn = self.conn.lock().await;
            Ok(sqlx::query_as(
                "SELECT run_id, completion FROM scheduler.runs
                 WHERE emitted = 0 AND completion IS NOT NULL ORDER BY seq",
            )
            .fetch_all(&mut *conn)
            .await?)
        })
    }

    pub fn mark_emitted(&mut self, run_id: &str) -> Result<(), StoreError> {
        self.block_on("mark_emitted", async {
            let mut conn = self.conn.lock().await;
            sqlx::query("UPDATE scheduler.runs SET emitted = 1 WHERE run_id = $1")
                .bind(run_id)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    /// The change-log entry at `position`.
    pub fn change_at(&self, position: u64) -> Result<Option<ChangeEntry>, StoreError> {
        self.block_on("change_at", async {
            let mut conn = self.conn.lock().await;
            let sql = format!("{ENTRY_SELECT} WHERE position = $1");
            let row = sqlx::query(&sql)
                .bind(position as i64)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(row.as_ref().map(read_entry).transpose()?)
        })
    }

    /// The `created_at` (from its manifest) of the bundle applied at `position`.
    pub fn created_at(&self, position: u64) -> Result<Option<String>, StoreError> {
        self.block_on("created_at", async {
            let mut conn = self.conn.lock().await;
            Ok(
                sqlx::query_scalar(
                    "SELECT created_at FROM scheduler.changelog WHERE position = $1",
                )
                .bind(position as i64)
                .fetch_optional(&mut *conn)
                .await?,
            )
        })
    }

    /// The findings recorded for an artifact as of a position, if a job computed them.
    pub fn evaluation(&self, artifact: &str, position: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.block_on("evaluation", async {
            let mut conn = self.conn.lock().await;
            Ok(sqlx::query_scalar(
                "SELECT findings FROM scheduler.evaluations WHERE artifact = $1 AND position = $2",
            )
            .bind(artifact)
            .bind(position as i64)
            .fetch_optional(&mut *conn)
            .await?)
        })
    }

    /// The SBOM describing `artifact` as of `position` (first feed by name), if any.
    /// The `(kind, doc_id)` prefix of `documents_subjects` finds its few versions;
    /// PostgreSQL needs no `INDEXED BY` to choose it.
    pub fn sbom_as_of(
        &self,
        artifact: &str,
        position: u64,
    ) -> Result<Option<StoredDocument>, StoreError> {
        self.block_on("sbom_as_of", async {
            let mut conn = self.conn.lock().await;
            let row = sqlx::query(
                "SELECT feed, doc_id, format, path, subject_name, bytes
                 FROM scheduler.documents
                 WHERE kind = 'sbom' AND doc_id = $1 AND valid_from <= $2
                   AND (valid_to IS NULL OR valid_to > $2)
                 ORDER BY feed LIMIT 1",
            )
            .bind(artifact)
            .bind(position as i64)
            .fetch_optional(&mut *conn)
            .await?;
            Ok(row.as_ref().map(read_document).transpose()?)
        })
    }
}
