//! The durable job queue on PostgreSQL; mirrors store/jobs.rs call for call.
//!
//! A claim is one statement: `UPDATE ... WHERE job_id = ANY (ARRAY(SELECT ... LIMIT n
//! FOR UPDATE SKIP LOCKED)) RETURNING ...`, reading `jobs_ready` in claim order, so that
//! workers on many connections take disjoint batches without waiting on each other. Every state
//! change of a claimed job names its fence, as on SQLite. Succeeding (and cancelling)
//! moves a job to `jobs_finished` in the same statement, so the hot table holds open
//! jobs and dead letters only; reads that list jobs read both tables.
//!
//! Multi-row calls (`complete_jobs`, `heartbeat_many`) send their rows as arrays and run
//! one statement: one round trip per batch.

use std::collections::HashSet;

use sqlx::postgres::PgRow;
use sqlx::{Connection as _, Row as _};

use super::{limit, to_u32, Fault, PgStore};
use crate::store::{ClaimedJob, FenceLost, JobRecord, JobResult, Retry, StoreError, MAX_TAKEOVERS};

/// The claim: nearest deadline first, then highest priority, then oldest job; nothing
/// while the queue is paused. `SKIP LOCKED` passes over rows another claim holds.
/// `= ANY (ARRAY(subquery))` rather than `IN (subquery)`: the picked ids become one
/// value, looked up through the primary key; with `IN`, a batch of 500 in a table of
/// 20,000 was planned as a hash semi-join over a sequential scan of `jobs`.
const CLAIM: &str = "UPDATE scheduler.jobs j SET state = 'leased', lease_owner = $1,
         lease_until_ms = $2, fence = fence + 1, attempt = attempt + 1
     FROM scheduler.runs r
     WHERE r.seq = j.run_seq AND j.job_id = ANY (ARRAY(
         SELECT job_id FROM scheduler.jobs
         WHERE state = 'queued' AND not_before_ms <= $3
           AND (SELECT paused FROM scheduler.queue_control WHERE id = 1) = 0
         ORDER BY deadline_ms, priority DESC, job_id
         LIMIT $4
         FOR UPDATE SKIP LOCKED))
     RETURNING j.job_id, j.run_seq, j.artifact, j.fence, j.attempt, j.max_attempts,
         j.deadline_ms, j.base_position, r.run_id, r.position, j.priority";

/// The columns of `jobs` and `jobs_finished`, in table order.
const JOB_COLUMNS: &str = "job_id, run_seq, tenant, artifact, idempotency_key, state,
     severity, priority, base_position, attempt, max_attempts, not_before_ms, deadline_ms,
     lease_owner, lease_until_ms, fence, takeovers, last_error, sla_breached, finished_ms";

/// Completes a batch: the leased rows whose fence matches leave `jobs` for
/// `jobs_finished`, and their findings and deltas are written, all in one statement.
/// `$1..$8` are parallel arrays, one entry per result (at most one per job and fence).
const COMPLETE: &str = "WITH input AS (
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[],
                              $5::bigint[], $6::text[], $7::bytea[], $8::bytea[])
             WITH ORDINALITY
             AS i(job_id, fence, now_ms, artifact, position, digest, findings, delta, ord)),
     done AS (
         DELETE FROM scheduler.jobs j USING input i
         WHERE j.job_id = i.job_id AND j.fence = i.fence AND j.state = 'leased'
         RETURNING j.*, i.now_ms AS done_ms),
     moved AS (
         INSERT INTO scheduler.jobs_finished
         SELECT job_id, run_seq, tenant, artifact, idempotency_key, 'succeeded', severity,
             priority, base_position, attempt, max_attempts, not_before_ms, deadline_ms,
             NULL, NULL, fence, takeovers, last_error, (done_ms > deadline_ms)::int, done_ms
         FROM done),
     evaluated AS (
         INSERT INTO scheduler.evaluations (artifact, position, digest, findings)
         SELECT i.artifact, i.position, i.digest, i.findings
         FROM input i JOIN done d ON d.job_id = i.job_id AND d.fence = i.fence
         ORDER BY i.ord
         ON CONFLICT (artifact, position) DO NOTHING),
     delta AS (
         INSERT INTO scheduler.deltas (run_seq, artifact, delta)
         SELECT d.run_seq, d.artifact, i.delta
         FROM input i JOIN done d ON d.job_id = i.job_id AND d.fence = i.fence
         ON CONFLICT (run_seq, artifact) DO UPDATE SET delta = EXCLUDED.delta)
     SELECT job_id, fence FROM done";

/// A job as listed: open ones from `jobs`, finished ones from `jobs_finished`.
fn job_select() -> String {
    format!(
        "SELECT j.job_id, r.run_id, j.tenant, j.artifact, j.state, j.severity, j.priority,
             j.attempt, j.max_attempts, j.not_before_ms, j.deadline_ms, j.lease_owner,
             j.fence, j.last_error, j.sla_breached
         FROM (SELECT {JOB_COLUMNS} FROM scheduler.jobs
               UNION ALL
               SELECT {JOB_COLUMNS} FROM scheduler.jobs_finished) j
         JOIN scheduler.runs r ON r.seq = j.run_seq"
    )
}

fn read_job(r: &PgRow) -> Result<JobRecord, Fault> {
    Ok(JobRecord {
        job_id: r.try_get::<i64, _>(0)? as u64,
        run_id: r.try_get(1)?,
        tenant: r.try_get(2)?,
        artifact: r.try_get(3)?,
        state: r.try_get(4)?,
        severity: r.try_get(5)?,
        priority: r.try_get(6)?,
        attempt: to_u32(r.try_get(7)?, "attempt")?,
        max_attempts: to_u32(r.try_get(8)?, "max_attempts")?,
        not_before_ms: r.try_get(9)?,
        deadline_ms: r.try_get(10)?,
        lease_owner: r.try_get(11)?,
        fence: r.try_get::<i64, _>(12)? as u64,
        last_error: r.try_get(13)?,
        sla_breached: r.try_get::<i64, _>(14)? != 0,
    })
}

fn read_claimed(r: &PgRow) -> Result<ClaimedJob, Fault> {
    Ok(ClaimedJob {
        job_id: r.try_get::<i64, _>(0)? as u64,
        run_seq: r.try_get::<i64, _>(1)? as u64,
        artifact: r.try_get(2)?,
        fence: r.try_get::<i64, _>(3)? as u64,
        attempt: to_u32(r.try_get(4)?, "attempt")?,
        max_attempts: to_u32(r.try_get(5)?, "max_attempts")?,
        deadline_ms: r.try_get(6)?,
        base_position: r.try_get::<Option<i64>, _>(7)?.map(|p| p as u64),
        run_id: r.try_get(8)?,
        position: r.try_get::<i64, _>(9)? as u64,
        priority: r.try_get(10)?,
    })
}

impl PgStore {
    /// Claims up to `limit` ready jobs for `owner`, nearest deadline first, then highest
    /// priority; nothing while the queue is paused. As `Store::claim`.
    pub fn claim(
        &mut self,
        owner: &str,
        limit: u32,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        let mut claimed = self.block_on("claim", async {
            let mut conn = self.conn.lock().await;
            let rows = sqlx::query(CLAIM)
                .bind(owner)
                .bind(now_ms + lease_ms)
                .bind(now_ms)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(read_claimed).collect::<Result<Vec<_>, _>>()
        })?;
        claimed.sort_by_key(|j| (j.deadline_ms, std::cmp::Reverse(j.priority), j.job_id));
        Ok(claimed)
    }

    /// The plan PostgreSQL chooses for a claim of `limit` jobs at `now_ms`
    /// (`EXPLAIN`, not executed, one line per plan line): for operators and the plan
    /// test, which checks that it reads `jobs_ready` rather than scanning `jobs`.
    pub fn claim_plan(&self, limit: u32, now_ms: i64) -> Result<String, StoreError> {
        self.block_on("claim_plan", async {
            let mut conn = self.conn.lock().await;
            let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {CLAIM}"))
                .bind("explain")
                .bind(now_ms)
                .bind(now_ms)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
            Ok(lines.join("\n"))
        })
    }

    /// Extends a held lease; false if the fence no longer holds.
    pub fn heartbeat(
        &mut self,
        job_id: u64,
        fence: u64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        Ok(self.heartbeat_many(&[(job_id, fence)], until_ms)? == 1)
    }

    /// Extends several held leases in one statement; how many of the given pairs still
    /// held (a pair given twice counts twice, as on SQLite).
    pub fn heartbeat_many(
        &mut self,
        jobs: &[(u64, u64)],
        until_ms: i64,
    ) -> Result<usize, StoreError> {
        let ids: Vec<i64> = jobs.iter().map(|(id, _)| *id as i64).collect();
        let fences: Vec<i64> = jobs.iter().map(|(_, f)| *f as i64).collect();
        self.block_on("heartbeat_many", async {
            let mut conn = self.conn.lock().await;
            let held: i64 = sqlx::query_scalar(
                "WITH pairs AS (
                     SELECT * FROM unnest($2::bigint[], $3::bigint[]) AS p(job_id, fence)),
                 extended AS (
                     UPDATE scheduler.jobs j SET lease_until_ms = $1
                     FROM (SELECT DISTINCT job_id, fence FROM pairs) p
                     WHERE j.job_id = p.job_id AND j.fence = p.fence AND j.state = 'leased'
                     RETURNING j.job_id, j.fence)
                 SELECT COUNT(*) FROM pairs JOIN extended USING (job_id, fence)",
            )
            .bind(until_ms)
            .bind(&ids)
            .bind(&fences)
            .fetch_one(&mut *conn)
            .await?;
            Ok(held as usize)
        })
    }

    /// Writes a job's findings, its delta and its success in one transaction.
    pub fn complete_job(
        &mut self,
        result: &JobResult<'_>,
    ) -> Result<Result<(), FenceLost>, StoreError> {
        let mut outcomes = self.complete_jobs(std::slice::from_ref(result))?;
        Ok(outcomes.pop().unwrap_or(Ok(())))
    }

    /// Writes several jobs' results in one statement: for each, its findings, its delta
    /// and its success, or nothing of it when its fence moved (that job's entry is
    /// `Err(FenceLost)`; the others still commit). A (job, fence) given twice succeeds
    /// at most once, the first time, as SQLite's one-by-one updates do.
    pub fn complete_jobs(
        &mut self,
        results: &[JobResult<'_>],
    ) -> Result<Vec<Result<(), FenceLost>>, StoreError> {
        let mut seen = HashSet::new();
        let first: Vec<bool> = results
            .iter()
            .map(|r| seen.insert((r.job_id, r.fence)))
            .collect();
        let batch: Vec<&JobResult<'_>> = results
            .iter()
            .zip(&first)
            .filter_map(|(r, is_first)| is_first.then_some(r))
            .collect();
        let done: HashSet<(u64, u64)> = self.block_on("complete_jobs", async {
            let mut conn = self.conn.lock().await;
            let rows: Vec<(i64, i64)> = sqlx::query_as(COMPLETE)
                .bind(batch.iter().map(|r| r.job_id as i64).collect::<Vec<_>>())
                .bind(batch.iter().map(|r| r.fence as i64).collect::<Vec<_>>())
                .bind(batch.iter().map(|r| r.now_ms).collect::<Vec<_>>())
                .bind(batch.iter().map(|r| r.artifact).collect::<Vec<_>>())
                .bind(batch.iter().map(|r| r.position as i64).collect::<Vec<_>>())
                .bind(batch.iter().map(|r| r.findings.0).collect::<Vec<_>>())
                .bind(batch.iter().map(|r| r.findings.1).collect::<Vec<_>>())
                .bind(batch.iter().map(|r| r.delta).collect::<Vec<_>>())
                .fetch_all(&mut *conn)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(id, fence)| (id as u64, fence as u64))
                .collect())
        })?;
        Ok(results
            .iter()
            .zip(first)
            .map(
                |(r, is_first)| match is_first && done.contains(&(r.job_id, r.fence)) {
                    true => Ok(()),
                    false => Err(FenceLost {
                        job_id: r.job_id,
                        fence: r.fence,
                    }),
                },
            )
            .collect())
    }

    /// Records a failed attempt: queued again at `retry`'s time, or dead-lettered.
    pub fn fail_job(
        &mut self,
        job_id: u64,
        fence: u64,
        error: &str,
        retry: Retry,
        now_ms: i64,
    ) -> Result<Result<(), FenceLost>, StoreError> {
        let (state, not_before, finished) = match retry {
            Retry::At(at) => ("queued", Some(at), None),
            Retry::DeadLetter => ("dead", None, Some(now_ms)),
        };
        let failed: i64 = self.block_on("fail_job", async {
            let mut conn = self.conn.lock().await;
            Ok(sqlx::query_scalar(
                "WITH failed AS (
                     UPDATE scheduler.jobs SET state = $1,
                         not_before_ms = COALESCE($2, not_before_ms), finished_ms = $3,
                         last_error = $4, lease_owner = NULL, lease_until_ms = NULL,
                         sla_breached = (sla_breached <> 0 OR $5 > deadline_ms)::int
                     WHERE job_id = $6 AND fence = $7 AND state = 'leased'
                     RETURNING job_id, attempt),
                 recorded AS (
                     INSERT INTO scheduler.job_attempts (job_id, attempt, error, at_ms)
                     SELECT job_id, attempt, $4, $5 FROM failed
                     ON CONFLICT (job_id, attempt)
                         DO UPDATE SET error = EXCLUDED.error, at_ms = EXCLUDED.at_ms)
                 SELECT COUNT(*) FROM failed",
            )
            .bind(state)
            .bind(not_before)
            .bind(finished)
            .bind(error)
            .bind(now_ms)
            .bind(job_id as i64)
            .bind(fence as i64)
            .fetch_one(&mut *conn)
            .await?)
        })?;
        Ok(match failed {
            0 => Err(FenceLost { job_id, fence }),
            _ => Ok(()),
        })
    }

    /// Returns jobs whose lease expired to the queue (or to the dead letters when that
    /// was their last attempt); the count of jobs rescued.
    pub fn rescue_expired(&mut self, now_ms: i64) -> Result<u64, StoreError> {
        self.block_on("rescue_expired", async {
            let mut conn = self.conn.lock().await;
            let n: i64 = sqlx::query_scalar(
                "WITH taken AS (
                     UPDATE scheduler.jobs SET
                         state = CASE WHEN attempt >= max_attempts THEN 'dead' ELSE 'queued' END,
                         finished_ms = CASE WHEN attempt >= max_attempts THEN $1 END,
                         last_error = $2, lease_owner = NULL, lease_until_ms = NULL,
                         sla_breached = (sla_breached <> 0 OR $1 > deadline_ms)::int
                     WHERE state = 'leased' AND lease_until_ms < $1
                     RETURNING job_id, attempt),
                 recorded AS (
                     INSERT INTO scheduler.job_attempts (job_id, attempt, error, at_ms)
                     SELECT job_id, attempt, $2, $1 FROM taken
                     ON CONFLICT (job_id, attempt)
                         DO UPDATE SET error = EXCLUDED.error, at_ms = EXCLUDED.at_ms)
                 SELECT COUNT(*) FROM taken",
            )
            .bind(now_ms)
            .bind("lease expired (worker stopped or stalled)")
            .fetch_one(&mut *conn)
            .await?;
            Ok(n as u64)
        })
    }

    /// Takes back, whatever their lease time, the jobs leased by owners whose name starts
    /// with `owner_prefix`; as `Store::rescue_abandoned` (a takeover is not an attempt;
    /// `MAX_TAKEOVERS` of them dead-letter the job).
    pub fn rescue_abandoned(&mut self, owner_prefix: &str, now_ms: i64) -> Result<u64, StoreError> {
        self.block_on("rescue_abandoned", async {
            let mut conn = self.conn.lock().await;
            let n: i64 = sqlx::query_scalar(
                "WITH taken AS (
                     UPDATE scheduler.jobs SET
                         attempt = CASE WHEN takeovers + 1 >= $3 THEN attempt
                                        ELSE attempt - 1 END,
                         takeovers = takeovers + 1,
                         state = CASE WHEN takeovers + 1 >= $3 THEN 'dead' ELSE 'queued' END,
                         finished_ms = CASE WHEN takeovers + 1 >= $3 THEN $1 END,
                         last_error = 'lease abandoned (its host stopped)',
                         lease_owner = NULL, lease_until_ms = NULL,
                         sla_breached = (sla_breached <> 0 OR $1 > deadline_ms)::int
                     WHERE state = 'leased' AND substr(lease_owner, 1, length($2)) = $2
                     RETURNING job_id, attempt, takeovers, state),
                 recorded AS (
                     INSERT INTO scheduler.job_attempts (job_id, attempt, error, at_ms)
                     SELECT job_id, attempt, 'taken over ' || takeovers || ' times: the host '
                         || 'running it stopped each time (the job may be what stops it)', $1
                     FROM taken WHERE state = 'dead'
                     ON CONFLICT (job_id, attempt)
                         DO UPDATE SET error = EXCLUDED.error, at_ms = EXCLUDED.at_ms)
                 SELECT COUNT(*) FROM taken",
            )
            .bind(now_ms)
            .bind(owner_prefix)
            .bind(i64::from(MAX_TAKEOVERS))
            .fetch_one(&mut *conn)
            .await?;
            Ok(n as u64)
        })
    }

    /// The distinct owners of leased jobs.
    pub fn lease_owners(&self) -> Result<Vec<String>, StoreError> {
        self.block_on("lease_owners", async {
            let mut conn = self.conn.lock().await;
            Ok(sqlx::query_scalar(
                "SELECT DISTINCT lease_owner FROM scheduler.jobs
                 WHERE state = 'leased' AND lease_owner IS NOT NULL ORDER BY 1",
            )
            .fetch_all(&mut *conn)
            .await?)
        })
    }

    /// Jobs still queued or leased (all in `jobs`): zero means the queue is drained.
    pub fn open_jobs(&self) -> Result<u64, StoreError> {
        self.block_on("open_jobs", async {
            let mut conn = self.conn.lock().await;
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM scheduler.jobs WHERE state IN ('queued', 'leased')",
            )
            .fetch_one(&mut *conn)
            .await?;
            Ok(n as u64)
        })
    }

    /// Jobs, optionally of one state and one run, in job order.
    pub fn jobs(
        &self,
        state: Option<&str>,
        run_id: Option<&str>,
        limit: u64,
    ) -> Result<Vec<JobRecord>, StoreError> {
        self.tenant_jobs(None, state, run_id, limit)
    }

    /// Jobs of one tenant (all with `None`), optionally of one state and one run, open
    /// and finished alike, in job order.
    pub fn tenant_jobs(
        &self,
        tenant: Option<&str>,
        state: Option<&str>,
        run_id: Option<&str>,
        limit_to: u64,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let sql = format!(
            "{} WHERE ($1::text IS NULL OR j.state = $1) AND ($2::text IS NULL OR r.run_id = $2)
               AND ($4::text IS NULL OR j.tenant = $4)
             ORDER BY j.job_id LIMIT $3",
            job_select()
        );
        self.block_on("tenant_jobs", async {
            let mut conn = self.conn.lock().await;
            let rows = sqlx::query(&sql)
                .bind(state)
                .bind(run_id)
                .bind(limit(limit_to))
                .bind(tenant)
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(read_job).collect()
        })
    }

    pub fn job(&self, job_id: u64) -> Result<Option<JobRecord>, StoreError> {
        let sql = format!("{} WHERE j.job_id = $1", job_select());
        self.block_on("job", async {
            let mut conn = self.conn.lock().await;
            let row = sqlx::query(&sql)
                .bind(job_id as i64)
                .fetch_optional(&mut *conn)
                .await?;
            row.as_ref().map(read_job).transpose()
        })
    }

    /// Every failed attempt of a job: (attempt, error chain).
    pub fn job_attempts(&self, job_id: u64) -> Result<Vec<(u32, String)>, StoreError> {
        self.block_on("job_attempts", async {
            let mut conn = self.conn.lock().await;
            let rows: Vec<(i64, String)> = sqlx::query_as(
                "SELECT attempt, error FROM scheduler.job_attempts
                 WHERE job_id = $1 ORDER BY attempt",
            )
            .bind(job_id as i64)
            .fetch_all(&mut *conn)
            .await?;
            rows.into_iter()
                .map(|(attempt, error)| Ok((to_u32(attempt, "attempt")?, error)))
                .collect()
        })
    }

    /// Revives a dead-lettered job (dead letters stay in `jobs`) with fresh attempts;
    /// its run runs again if it had failed. False if the job is not dead.
    pub fn retry_job(&mut self, job_id: u64, now_ms: i64) -> Result<bool, StoreError> {
        self.block_on("retry_job", async {
            let mut conn = self.conn.lock().await;
            let mut tx = conn.begin().await?;
            let revived: Option<i64> = sqlx::query_scalar(
                "UPDATE scheduler.jobs SET state = 'queued', attempt = 0, not_before_ms = $1,
                     finished_ms = NULL
                 WHERE job_id = $2 AND state = 'dead'
                 RETURNING run_seq",
            )
            .bind(now_ms)
            .bind(job_id as i64)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(run_seq) = revived {
                sqlx::query(
                    "UPDATE scheduler.runs SET state = 'running', finished_ms = NULL,
                         summary = NULL, delta_digest = NULL, completion = NULL, emitted = 0,
                         export_seq = NULL
                     WHERE seq = $1 AND state = 'failed'",
                )
                .bind(run_seq)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(revived.is_some())
        })
    }

    pub fn set_paused(&mut self, paused: bool) -> Result<(), StoreError> {
        self.block_on("set_paused", async {
            let mut conn = self.conn.lock().await;
            sqlx::query("UPDATE scheduler.queue_control SET paused = $1 WHERE id = 1")
                .bind(i64::from(paused))
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    pub fn paused(&self) -> Result<bool, StoreError> {
        self.block_on("paused", async {
            let mut conn = self.conn.lock().await;
            let paused: i64 =
                sqlx::query_scalar("SELECT paused FROM scheduler.queue_control WHERE id = 1")
                    .fetch_one(&mut *conn)
                    .await?;
            Ok(paused != 0)
        })
    }
}
