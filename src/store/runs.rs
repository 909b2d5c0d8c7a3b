//! Runs: creation with their jobs (one transaction), reads, cancel, retry, finish.

use rusqlite::{params, OptionalExtension as _, Row};
use serde::Serialize;

use super::{SqliteStore, StoreError};

/// A run to create, with the impact set it was planned from.
#[derive(Clone, Debug)]
pub struct NewRun {
    pub trigger: String,
    pub position: u64,
    pub window_position: Option<u64>,
    pub selector: Option<String>,
    pub idempotency_key: Option<String>,
    pub tenant: String,
    pub impact: Vec<u8>,
    pub impact_digest: String,
    pub created_ms: i64,
}

/// One job to create for a new run.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub artifact: String,
    /// The tenant whose artifact this is (config `tenants`, by the SBOM's feed).
    pub tenant: String,
    pub severity: String,
    pub priority: i64,
    pub deadline_ms: i64,
    pub max_attempts: u32,
}

/// A run holds one job per artifact: a second job for one is refused before anything is
/// written. Both backends call this first; PostgreSQL's job tables keep no unique index
/// that would catch it (migrations/postgres/0005_lean_queue.sql).
pub(crate) fn one_job_per_artifact(jobs: &[NewJob]) -> Result<(), StoreError> {
    let mut artifacts = std::collections::HashSet::with_capacity(jobs.len());
    match jobs.iter().find(|j| !artifacts.insert(j.artifact.as_str())) {
        Some(twice) => Err(StoreError::ArtifactTwiceInRun {
            artifact: twice.artifact.clone(),
        }),
        None => Ok(()),
    }
}

/// A run as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    pub seq: u64,
    pub run_id: String,
    pub tenant: String,
    pub trigger: String,
    pub position: u64,
    pub window_position: Option<u64>,
    pub selector: Option<String>,
    pub idempotency_key: Option<String>,
    pub state: String,
    pub impact_digest: Option<String>,
    pub artifacts: u64,
    pub delta_digest: Option<String>,
    pub export_seq: Option<u64>,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
}

/// Job counts of a run by state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct JobCounts {
    pub queued: u64,
    pub leased: u64,
    pub succeeded: u64,
    pub dead: u64,
    pub cancelled: u64,
}

impl JobCounts {
    pub fn open(&self) -> u64 {
        self.queued + self.leased
    }
}

/// What a finished run left: its summary and its completion envelope (canonical JSON).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOutput {
    pub summary: Option<Vec<u8>>,
    pub completion: Option<Vec<u8>>,
}

/// How many runs and jobs are in each state (states with none are absent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulerCounts {
    pub runs: std::collections::BTreeMap<String, u64>,
    pub jobs: std::collections::BTreeMap<String, u64>,
    pub sla_breached: u64,
}

/// What finishing a run records.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub state: String,
    pub summary: Vec<u8>,
    pub delta_digest: String,
    pub completion: Option<Vec<u8>>,
    pub finished_ms: i64,
}

const RUN_SELECT: &str = "SELECT seq, run_id, tenant, trigger, position, window_position,
     selector, idempotency_key, state, impact_digest, artifacts, delta_digest, export_seq,
     created_ms, finished_ms FROM runs";

fn read_run(r: &Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        seq: r.get::<_, i64>(0)? as u64,
        run_id: r.get(1)?,
        tenant: r.get(2)?,
        trigger: r.get(3)?,
        position: r.get::<_, i64>(4)? as u64,
        window_position: r.get::<_, Option<i64>>(5)?.map(|p| p as u64),
        selector: r.get(6)?,
        idempotency_key: r.get(7)?,
        state: r.get(8)?,
        impact_digest: r.get(9)?,
        artifacts: r.get::<_, i64>(10)? as u64,
        delta_digest: r.get(11)?,
        export_seq: r.get::<_, Option<i64>>(12)?.map(|p| p as u64),
        created_ms: r.get(13)?,
        finished_ms: r.get(14)?,
    })
}

impl SqliteStore {
    /// Change-log positions that have no window run yet, ascending.
    pub fn unplanned_windows(&self) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.position FROM changelog c
             WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.window_position = c.position)
             ORDER BY c.position",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
        rows.map(|p| Ok(p? as u64)).collect()
    }

    /// Creates a run and its jobs in one transaction. A run without jobs is created
    /// `running` all the same: finishing it (with its completion event) is the
    /// scheduler's step, so that every run ends the same way.
    ///
    /// Each job records its artifact's base position: the position of the latest
    /// earlier run that planned the artifact, which its delta is computed against.
    pub fn create_run(&mut self, run: &NewRun, jobs: &[NewJob]) -> Result<RunRecord, StoreError> {
        one_job_per_artifact(jobs)?;
        let tx = self.conn.transaction()?;
        let inserted = tx.execute(
            "INSERT INTO runs (run_id, tenant, trigger, position, window_position, selector,
                 idempotency_key, state, impact, impact_digest, artifacts, created_ms)
             VALUES ('', ?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?8, ?9, ?10)",
            params![
                run.tenant,
                run.trigger,
                run.position as i64,
                run.window_position.map(|p| p as i64),
                run.selector,
                run.idempotency_key,
                run.impact,
                run.impact_digest,
                jobs.len() as i64,
                run.created_ms,
            ],
        );
        if let (Err(e), Some(key)) = (&inserted, &run.idempotency_key) {
            if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) {
                let taken = tx
                    .query_row(
                        "SELECT 1 FROM runs WHERE idempotency_key = ?1",
                        [key],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                if taken {
                    return Err(StoreError::IdempotencyKeyTaken { key: key.clone() });
                }
            }
        }
        inserted?;
        let seq = tx.last_insert_rowid();
        let run_id = format!("run-{seq:08}");
        tx.execute(
            "UPDATE runs SET run_id = ?1 WHERE seq = ?2",
            params![run_id, seq],
        )?;
        {
            let mut base = tx.prepare_cached(
                "SELECT MAX(r.position) FROM jobs j JOIN runs r ON r.seq = j.run_seq
                 WHERE j.artifact = ?1 AND j.run_seq < ?2",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO jobs (run_seq, tenant, artifact, idempotency_key, state, severity,
                     priority, base_position, max_attempts, not_before_ms, deadline_ms)
                 VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for job in jobs {
                let base_position: Option<i64> =
                    base.query_row(params![job.artifact, seq], |r| r.get(0))?;
                insert.execute(params![
                    seq,
                    job.tenant,
                    job.artifact,
                    format!("{run_id}/{}", job.artifact),
                    job.severity,
                    job.priority,
                    base_position,
                    job.max_attempts,
                    run.created_ms,
                    job.deadline_ms,
                ])?;
            }
        }
        tx.commit()?;
        self.run(&run_id)?.ok_or_else(|| StoreError::Corrupt {
            what: format!("run {run_id} vanished after its insert"),
        })
    }

    pub fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        let sql = format!("{RUN_SELECT} WHERE run_id = ?1");
        Ok(self.conn.query_row(&sql, [run_id], read_run).optional()?)
    }

    pub fn run_by_seq(&self, seq: u64) -> Result<Option<RunRecord>, StoreError> {
        let sql = format!("{RUN_SELECT} WHERE seq = ?1");
        Ok(self
            .conn
            .query_row(&sql, [seq as i64], read_run)
            .optional()?)
    }

    pub fn run_by_idempotency_key(&self, key: &str) -> Result<Option<RunRecord>, StoreError> {
        let sql = format!("{RUN_SELECT} WHERE idempotency_key = ?1");
        Ok(self.conn.query_row(&sql, [key], read_run).optional()?)
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
        limit: u64,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let sql = format!(
            "{RUN_SELECT} WHERE (?1 IS NULL OR state = ?1) AND (?3 IS NULL OR tenant = ?3)
             ORDER BY seq DESC LIMIT ?2"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params![state, limit as i64, tenant], read_run)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The stored impact set of a run (canonical JSON).
    pub fn run_impact(&self, seq: u64) -> Result<Vec<u8>, StoreError> {
        let impact: Option<Vec<u8>> = self.conn.query_row(
            "SELECT impact FROM runs WHERE seq = ?1",
            [seq as i64],
            |r| r.get(0),
        )?;
        Ok(impact.unwrap_or_default())
    }

    /// The summary and completion envelope of a finished run.
    pub fn run_output(&self, seq: u64) -> Result<RunOutput, StoreError> {
        Ok(self.conn.query_row(
            "SELECT summary, completion FROM runs WHERE seq = ?1",
            [seq as i64],
            |r| {
                Ok(RunOutput {
                    summary: r.get(0)?,
                    completion: r.get(1)?,
                })
            },
        )?)
    }

    pub fn job_counts(&self, run_seq: u64) -> Result<JobCounts, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT state, COUNT(*) FROM jobs WHERE run_seq = ?1 GROUP BY state")?;
        let rows = stmt.query_map([run_seq as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        let mut counts = JobCounts::default();
        for row in rows {
            let (state, n) = row?;
            match state.as_str() {
                "queued" => counts.queued = n,
                "leased" => counts.leased = n,
                "succeeded" => counts.succeeded = n,
                "dead" => counts.dead = n,
                "cancelled" => counts.cancelled = n,
                other => {
                    return Err(StoreError::Corrupt {
                        what: format!("job state {other:?}"),
                    })
                }
            }
        }
        Ok(counts)
    }

    /// Runs by state, and jobs by state, across the store.
    pub fn scheduler_counts(&self) -> Result<SchedulerCounts, StoreError> {
        let mut counts = SchedulerCounts::default();
        let mut stmt = self
            .conn
            .prepare("SELECT state, COUNT(*) FROM runs GROUP BY state ORDER BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        counts.runs = rows.collect::<Result<_, _>>()?;
        let mut stmt = self
            .conn
            .prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        counts.jobs = rows.collect::<Result<_, _>>()?;
        counts.sla_breached =
            self.conn
                .query_row("SELECT COUNT(*) FROM jobs WHERE sla_breached", [], |r| {
                    r.get::<_, i64>(0)
                })? as u64;
        Ok(counts)
    }

    /// Running runs whose jobs are all finished: ready to be finished themselves.
    pub fn finishable_runs(&self) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.seq FROM runs r WHERE r.state = 'running' AND NOT EXISTS
                 (SELECT 1 FROM jobs j WHERE j.run_seq = r.seq
                  AND j.state IN ('queued', 'leased'))
             ORDER BY r.seq",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
        rows.map(|s| Ok(s? as u64)).collect()
    }

    /// Records a run's end; false if it was not running (already finished or cancelled).
    pub fn finish_run(&mut self, seq: u64, outcome: &RunOutcome) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE runs SET state = ?1, summary = ?2, delta_digest = ?3, completion = ?4,
                 finished_ms = ?5
             WHERE seq = ?6 AND state = 'running'",
            params![
                outcome.state,
                outcome.summary,
                outcome.delta_digest,
                outcome.completion,
                outcome.finished_ms,
                seq as i64
            ],
        )?;
        Ok(n == 1)
    }

    /// Cancels a run that has not finished: its open jobs are cancelled with it.
    pub fn cancel_run(&mut self, run_id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE runs SET state = 'cancelled', finished_ms = ?1
             WHERE run_id = ?2 AND state IN ('queued', 'planning', 'running')",
            params![now_ms, run_id],
        )?;
        tx.execute(
            "UPDATE jobs SET state = 'cancelled', finished_ms = ?1, lease_owner = NULL,
                 lease_until_ms = NULL, fence = fence + 1
             WHERE run_seq = (SELECT seq FROM runs WHERE run_id = ?2)
               AND state IN ('queued', 'leased')",
            params![now_ms, run_id],
        )?;
        tx.commit()?;
        Ok(n == 1)
    }

    /// Revives a failed run: its dead-lettered jobs are queued again with fresh attempts,
    /// and its next completion event is emitted and exported like a first one. `None`
    /// when the run is not failed.
    pub fn retry_run(&mut self, run_id: &str, now_ms: i64) -> Result<Option<u64>, StoreError> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE runs SET state = 'running', finished_ms = NULL, summary = NULL,
                 delta_digest = NULL, completion = NULL, emitted = 0, export_seq = NULL
             WHERE run_id = ?1 AND state = 'failed'",
            [run_id],
        )?;
        let revived = match n {
            0 => None,
            _ => Some(tx.execute(
                "UPDATE jobs SET state = 'queued', attempt = 0, not_before_ms = ?1,
                     finished_ms = NULL
                 WHERE run_seq = (SELECT seq FROM runs WHERE run_id = ?2) AND state = 'dead'",
                params![now_ms, run_id],
            )? as u64),
        };
        tx.commit()?;
        Ok(revived)
    }

    /// The deltas of a run's jobs, by artifact.
    pub fn run_deltas(&self, seq: u64) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT artifact, delta FROM deltas WHERE run_seq = ?1 ORDER BY artifact",
        )?;
        let rows = stmt.query_map([seq as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Finished runs with a completion event not yet written to the outbox.
    pub fn unemitted(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT run_id, completion FROM runs
             WHERE emitted = 0 AND completion IS NOT NULL ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn mark_emitted(&mut self, run_id: &str) -> Result<(), StoreError> {
        self.conn
            .execute("UPDATE runs SET emitted = 1 WHERE run_id = ?1", [run_id])?;
        Ok(())
    }

    pub fn set_paused(&mut self, paused: bool) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE queue_control SET paused = ?1 WHERE id = 1",
            [paused],
        )?;
        Ok(())
    }

    pub fn paused(&self) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT paused FROM queue_control WHERE id = 1", [], |r| {
                r.get(0)
            })?)
    }

    /// The change-log entry at `position`.
    pub fn change_at(&self, position: u64) -> Result<Option<super::ChangeEntry>, StoreError> {
        let sql = format!("{} WHERE position = ?1", super::sqlite::ENTRY_SELECT);
        Ok(self
            .conn
            .query_row(&sql, [position as i64], super::sqlite::read_entry)
            .optional()?)
    }

    /// The `created_at` (from its manifest) of the bundle applied at `position`.
    pub fn created_at(&self, position: u64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT created_at FROM changelog WHERE position = ?1",
                [position as i64],
                |r| r.get(0),
            )
            .optional()?)
    }
}
