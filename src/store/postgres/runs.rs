//! Runs on PostgreSQL, as far as the queue needs them: creation with their jobs (one
//! transaction, one multi-row insert), reads, cancel, job counts. Mirrors
//! store/runs.rs; jobs live in `jobs` or `jobs_finished`, so counts read both.

use std::collections::BTreeMap;

use sqlx::postgres::PgRow;
use sqlx::{Connection as _, PgConnection, Row as _};

use super::{Fault, PgStore, IDS_LOCK};
use crate::store::{JobCounts, NewJob, NewRun, RunRecord, SchedulerCounts, StoreError};

pub(super) const RUN_SELECT: &str =
    "SELECT seq, run_id, tenant, trigger, position, window_position,
     selector, idempotency_key, state, impact_digest, artifacts, delta_digest, export_seq,
     created_ms, finished_ms FROM scheduler.runs";

pub(super) fn read_run(r: &PgRow) -> Result<RunRecord, sqlx::Error> {
    Ok(RunRecord {
        seq: r.try_get::<i64, _>(0)? as u64,
        run_id: r.try_get(1)?,
        tenant: r.try_get(2)?,
        trigger: r.try_get(3)?,
        position: r.try_get::<i64, _>(4)? as u64,
        window_position: r.try_get::<Option<i64>, _>(5)?.map(|p| p as u64),
        selector: r.try_get(6)?,
        idempotency_key: r.try_get(7)?,
        state: r.try_get(8)?,
        impact_digest: r.try_get(9)?,
        artifacts: r.try_get::<i64, _>(10)? as u64,
        delta_digest: r.try_get(11)?,
        export_seq: r.try_get::<Option<i64>, _>(12)?.map(|p| p as u64),
        created_ms: r.try_get(13)?,
        finished_ms: r.try_get(14)?,
    })
}

/// Inserts a run's jobs in one statement, numbered from `first_id` in slice order (as
/// SQLite's rowids number them). Each job's base position is the latest earlier run
/// that planned its artifact, read from `artifact_plans` (every CTE reads the snapshot
/// from before the statement, so the upsert that records this run's position for its
/// artifacts does not show in their base positions).
const INSERT_JOBS: &str = "WITH n AS (
         SELECT * FROM unnest($5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[],
                              $10::bigint[]) WITH ORDINALITY
             AS n(artifact, tenant, severity, priority, deadline_ms, max_attempts, ord)),
     queued AS (
         INSERT INTO scheduler.jobs (job_id, run_seq, tenant, artifact, idempotency_key,
             state, severity, priority, base_position, max_attempts, not_before_ms,
             deadline_ms)
         SELECT $1 + n.ord - 1, $2, n.tenant, n.artifact, $3 || '/' || n.artifact, 'queued',
             n.severity, n.priority, p.position, n.max_attempts, $4, n.deadline_ms
         FROM n LEFT JOIN scheduler.artifact_plans p ON p.artifact = n.artifact)
     INSERT INTO scheduler.artifact_plans AS p (artifact, position)
     SELECT artifact, $11 FROM n
     ON CONFLICT (artifact) DO UPDATE SET position = EXCLUDED.position
         WHERE p.position < EXCLUDED.position";

impl PgStore {
    /// Creates a run and its jobs in one transaction; as `Store::create_run`.
    pub fn create_run(&mut self, run: &NewRun, jobs: &[NewJob]) -> Result<RunRecord, StoreError> {
        crate::store::runs::one_job_per_artifact(jobs)?;
        let run_id = self.block_on("create_run", async {
            let mut conn = self.conn.lock().await;
            insert_run(&mut conn, run, jobs).await
        })?;
        self.run(&run_id)?.ok_or_else(|| StoreError::Corrupt {
            what: format!("run {run_id} vanished after its insert"),
        })
    }

    pub fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        self.run_where("run", "run_id = $1", run_id)
    }

    pub fn run_by_seq(&self, seq: u64) -> Result<Option<RunRecord>, StoreError> {
        self.block_on("run_by_seq", async {
            let mut conn = self.conn.lock().await;
            let sql = format!("{RUN_SELECT} WHERE seq = $1");
            let row = sqlx::query(&sql)
                .bind(seq as i64)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(row.as_ref().map(read_run).transpose()?)
        })
    }

    pub fn run_by_idempotency_key(&self, key: &str) -> Result<Option<RunRecord>, StoreError> {
        self.run_where("run_by_idempotency_key", "idempotency_key = $1", key)
    }

    fn run_where(
        &self,
        what: &'static str,
        filter: &str,
        value: &str,
    ) -> Result<Option<RunRecord>, StoreError> {
        self.block_on(what, async {
            let mut conn = self.conn.lock().await;
            let sql = format!("{RUN_SELECT} WHERE {filter}");
            let row = sqlx::query(&sql)
                .bind(value)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(row.as_ref().map(read_run).transpose()?)
        })
    }

    /// Job counts of a run by state, open and finished.
    pub fn job_counts(&self, run_seq: u64) -> Result<JobCounts, StoreError> {
        self.block_on("job_counts", async {
            let mut conn = self.conn.lock().await;
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT state, COUNT(*) FROM (
                     SELECT state FROM scheduler.jobs WHERE run_seq = $1
                     UNION ALL
                     SELECT state FROM scheduler.jobs_finished WHERE run_seq = $1) j
                 GROUP BY state",
            )
            .bind(run_seq as i64)
            .fetch_all(&mut *conn)
            .await?;
            let mut counts = JobCounts::default();
            for (state, n) in rows {
                let n = n as u64;
                match state.as_str() {
                    "queued" => counts.queued = n,
                    "leased" => counts.leased = n,
                    "succeeded" => counts.succeeded = n,
                    "dead" => counts.dead = n,
                    "cancelled" => counts.cancelled = n,
                    other => {
                        return Err(Fault::Store(StoreError::Corrupt {
                            what: format!("job state {other:?}"),
                        }))
                    }
                }
            }
            Ok(counts)
        })
    }

    /// Runs by state, and jobs by state (open and finished), across the store.
    pub fn scheduler_counts(&self) -> Result<SchedulerCounts, StoreError> {
        self.block_on("scheduler_counts", async {
            let mut conn = self.conn.lock().await;
            let by_state = |rows: Vec<(String, i64)>| -> BTreeMap<String, u64> {
                rows.into_iter().map(|(s, n)| (s, n as u64)).collect()
            };
            let runs = sqlx::query_as(
                "SELECT state, COUNT(*) FROM scheduler.runs GROUP BY state ORDER BY state",
            )
            .fetch_all(&mut *conn)
            .await?;
            let jobs = sqlx::query_as(
                "SELECT state, COUNT(*) FROM (
                     SELECT state FROM scheduler.jobs
                     UNION ALL SELECT state FROM scheduler.jobs_finished) j
                 GROUP BY state ORDER BY state",
            )
            .fetch_all(&mut *conn)
            .await?;
            let breached: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM scheduler.jobs WHERE sla_breached <> 0)
                      + (SELECT COUNT(*) FROM scheduler.jobs_finished WHERE sla_breached <> 0)",
            )
            .fetch_one(&mut *conn)
            .await?;
            Ok(SchedulerCounts {
                runs: by_state(runs),
                jobs: by_state(jobs),
                sla_breached: breached as u64,
            })
        })
    }

    /// Running runs whose jobs are all finished. Open jobs are all in `jobs`.
    pub fn finishable_runs(&self) -> Result<Vec<u64>, StoreError> {
        self.block_on("finishable_runs", async {
            let mut conn = self.conn.lock().await;
            let seqs: Vec<i64> = sqlx::query_scalar(
                "SELECT r.seq FROM scheduler.runs r WHERE r.state = 'running' AND NOT EXISTS
                     (SELECT 1 FROM scheduler.jobs j WHERE j.run_seq = r.seq
                      AND j.state IN ('queued', 'leased'))
                 ORDER BY r.seq",
            )
            .fetch_all(&mut *conn)
            .await?;
            Ok(seqs.into_iter().map(|s| s as u64).collect())
        })
    }

    /// Cancels a run that has not finished; its open jobs are cancelled with it and
    /// move to `jobs_finished` in the same transaction.
    pub fn cancel_run(&mut self, run_id: &str, now_ms: i64) -> Result<bool, StoreError> {
        self.block_on("cancel_run", async {
            let mut conn = self.conn.lock().await;
            let mut tx = conn.begin().await?;
            let n = sqlx::query(
                "UPDATE scheduler.runs SET state = 'cancelled', finished_ms = $1
                 WHERE run_id = $2 AND state IN ('queued', 'planning', 'running')",
            )
            .bind(now_ms)
            .bind(run_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(
                "WITH moved AS (
                     DELETE FROM scheduler.jobs
                     WHERE run_seq = (SELECT seq FROM scheduler.runs WHERE run_id = $2)
                       AND state IN ('queued', 'leased')
                     RETURNING *)
                 INSERT INTO scheduler.jobs_finished
                 SELECT job_id, run_seq, tenant, artifact, idempotency_key, 'cancelled',
                     severity, priority, base_position, attempt, max_attempts, not_before_ms,
                     deadline_ms, NULL, NULL, fence + 1, takeovers, last_error, sla_breached, $1
                 FROM moved",
            )
            .bind(now_ms)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(n == 1)
        })
    }
}

/// The run row and its jobs; the run's id. Keys are MAX + 1 under [`IDS_LOCK`].
async fn insert_run(
    conn: &mut PgConnection,
    run: &NewRun,
    jobs: &[NewJob],
) -> Result<String, Fault> {
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(IDS_LOCK)
        .execute(&mut *tx)
        .await?;
    let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM scheduler.runs")
        .fetch_one(&mut *tx)
        .await?;
    let run_id = format!("run-{seq:08}");
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO scheduler.runs (seq, run_id, tenant, trigger, position, window_position,
             selector, idempotency_key, state, impact, impact_digest, artifacts, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'running', $9, $10, $11, $12)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING seq",
    )
    .bind(seq)
    .bind(&run_id)
    .bind(&run.tenant)
    .bind(&run.trigger)
    .bind(run.position as i64)
    .bind(run.window_position.map(|p| p as i64))
    .bind(&run.selector)
    .bind(&run.idempotency_key)
    .bind(&run.impact)
    .bind(&run.impact_digest)
    .bind(jobs.len() as i64)
    .bind(run.created_ms)
    .fetch_optional(&mut *tx)
    .await?;
    if inserted.is_none() {
        // Only the idempotency key is an arbiter, and a NULL key never conflicts.
        return Err(Fault::Store(match &run.idempotency_key {
            Some(key) => StoreError::IdempotencyKeyTaken { key: key.clone() },
            None => StoreError::Corrupt {
                what: format!("run {run_id} without an idempotency key was not inserted"),
            },
        }));
    }
    if !jobs.is_empty() {
        let first_id: i64 = sqlx::query_scalar(
            "SELECT GREATEST((SELECT COALESCE(MAX(job_id), 0) FROM scheduler.jobs),
                             (SELECT COALESCE(MAX(job_id), 0) FROM scheduler.jobs_finished)) + 1",
        )
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(INSERT_JOBS)
            .bind(first_id)
            .bind(seq)
            .bind(&run_id)
            .bind(run.created_ms)
            .bind(jobs.iter().map(|j| j.artifact.as_str()).collect::<Vec<_>>())
            .bind(jobs.iter().map(|j| j.tenant.as_str()).collect::<Vec<_>>())
            .bind(jobs.iter().map(|j| j.severity.as_str()).collect::<Vec<_>>())
            .bind(jobs.iter().map(|j| j.priority).collect::<Vec<_>>())
            .bind(jobs.iter().map(|j| j.deadline_ms).collect::<Vec<_>>())
            .bind(
                jobs.iter()
                    .map(|j| i64::from(j.max_attempts))
                    .collect::<Vec<_>>(),
            )
            .bind(run.position as i64)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(run_id)
}
