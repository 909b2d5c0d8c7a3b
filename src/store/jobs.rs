//! Durable jobs: claims with leases and fencing tokens, heartbeats, completion,
//! failure with retry or dead letter, rescue of expired leases.
//!
//! Every state change of a claimed job names the fence it was claimed with; a claim
//! bumps the fence, so a worker whose lease expired (and whose job another worker then
//! claimed) changes nothing: its write matches no row and it gets `FenceLost`.

use rusqlite::{params, OptionalExtension as _, Row, TransactionBehavior};
use serde::Serialize;

use super::{SqliteStore, StoreError, StoredDocument};

/// A job handed to a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedJob {
    pub job_id: u64,
    pub run_seq: u64,
    pub run_id: String,
    pub artifact: String,
    /// The run's pinned position: what the job evaluates.
    pub position: u64,
    /// What the delta is computed against; `None` when the artifact was never planned.
    pub base_position: Option<u64>,
    pub fence: u64,
    pub attempt: u32,
    pub max_attempts: u32,
    pub deadline_ms: i64,
    pub priority: i64,
}

/// A job's result, written with its completion in one transaction.
#[derive(Clone, Debug)]
pub struct JobResult<'a> {
    pub job_id: u64,
    pub fence: u64,
    pub artifact: &'a str,
    pub position: u64,
    /// `(digest, canonical JSON)` of the findings at `position`.
    pub findings: (&'a str, &'a [u8]),
    pub delta: &'a [u8],
    pub now_ms: i64,
}

/// What happens to a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    At(i64),
    DeadLetter,
}

/// A job as `jobs list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    pub job_id: u64,
    pub run_id: String,
    pub tenant: String,
    pub artifact: String,
    pub state: String,
    pub severity: String,
    pub priority: i64,
    pub attempt: u32,
    pub max_attempts: u32,
    pub not_before_ms: i64,
    pub deadline_ms: i64,
    pub lease_owner: Option<String>,
    pub fence: u64,
    pub last_error: Option<String>,
    pub sla_breached: bool,
}

/// Takeovers (leases taken back from stopped hosts) after which a job is dead-lettered.
pub const MAX_TAKEOVERS: u32 = 10;

#[derive(Debug, thiserror::Error)]
#[error("job {job_id} is no longer held with fence {fence}: its lease expired and it was taken or finished")]
pub struct FenceLost {
    pub job_id: u64,
    pub fence: u64,
}

const JOB_SELECT: &str = "SELECT j.job_id, r.run_id, j.tenant, j.artifact, j.state, j.severity,
     j.priority, j.attempt, j.max_attempts, j.not_before_ms, j.deadline_ms, j.lease_owner,
     j.fence, j.last_error, j.sla_breached
     FROM jobs j JOIN runs r ON r.seq = j.run_seq";

fn read_job(r: &Row<'_>) -> rusqlite::Result<JobRecord> {
    Ok(JobRecord {
        job_id: r.get::<_, i64>(0)? as u64,
        run_id: r.get(1)?,
        tenant: r.get(2)?,
        artifact: r.get(3)?,
        state: r.get(4)?,
        severity: r.get(5)?,
        priority: r.get(6)?,
        attempt: r.get(7)?,
        max_attempts: r.get(8)?,
        not_before_ms: r.get(9)?,
        deadline_ms: r.get(10)?,
        lease_owner: r.get(11)?,
        fence: r.get::<_, i64>(12)? as u64,
        last_error: r.get(13)?,
        sla_breached: r.get(14)?,
    })
}

impl SqliteStore {
    /// Claims up to `limit` ready jobs for `owner`, nearest deadline first, then highest
    /// priority; nothing while the queue is paused.
    pub fn claim(
        &mut self,
        owner: &str,
        limit: u32,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let claimed: Vec<ClaimedJob> = {
            let mut stmt = tx.prepare_cached(
                "UPDATE jobs SET state = 'leased', lease_owner = ?1, lease_until_ms = ?2,
                     fence = fence + 1, attempt = attempt + 1
                 WHERE job_id IN (
                     SELECT job_id FROM jobs
                     WHERE state = 'queued' AND not_before_ms <= ?3
                       AND (SELECT paused FROM queue_control WHERE id = 1) = 0
                     ORDER BY deadline_ms, priority DESC, job_id LIMIT ?4)
                 RETURNING job_id, run_seq, artifact, fence, attempt, max_attempts,
                     deadline_ms, base_position,
                     (SELECT run_id FROM runs WHERE seq = run_seq),
                     (SELECT position FROM runs WHERE seq = run_seq), priority",
            )?;
            let rows = stmt.query_map(params![owner, now_ms + lease_ms, now_ms, limit], |r| {
                Ok(ClaimedJob {
                    job_id: r.get::<_, i64>(0)? as u64,
                    run_seq: r.get::<_, i64>(1)? as u64,
                    artifact: r.get(2)?,
                    fence: r.get::<_, i64>(3)? as u64,
                    attempt: r.get(4)?,
                    max_attempts: r.get(5)?,
                    deadline_ms: r.get(6)?,
                    base_position: r.get::<_, Option<i64>>(7)?.map(|p| p as u64),
                    run_id: r.get(8)?,
                    position: r.get::<_, i64>(9)? as u64,
                    priority: r.get(10)?,
                })
            })?;
            rows.collect::<Result<_, _>>()?
        };
        tx.commit()?;
        let mut claimed = claimed;
        claimed.sort_by_key(|j| (j.deadline_ms, std::cmp::Reverse(j.priority), j.job_id));
        Ok(claimed)
    }

    /// Extends a held lease; false if the fence no longer holds.
    pub fn heartbeat(
        &mut self,
        job_id: u64,
        fence: u64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE jobs SET lease_until_ms = ?1
             WHERE job_id = ?2 AND fence = ?3 AND state = 'leased'",
            params![until_ms, job_id as i64, fence as i64],
        )?;
        Ok(n == 1)
    }

    /// Writes a job's findings, its delta and its success in one transaction.
    pub fn complete_job(
        &mut self,
        result: &JobResult<'_>,
    ) -> Result<Result<(), FenceLost>, StoreError> {
        let mut outcomes = self.complete_jobs(std::slice::from_ref(result))?;
        Ok(outcomes.pop().unwrap_or(Ok(())))
    }

    /// Writes several jobs' results in one transaction: for each, its findings, its
    /// delta and its success, or nothing of it when its fence moved (that job's entry
    /// is `Err(FenceLost)`; the others still commit).
    pub fn complete_jobs(
        &mut self,
        results: &[JobResult<'_>],
    ) -> Result<Vec<Result<(), FenceLost>>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(results.len());
        {
            let mut succeed = tx.prepare_cached(
                "UPDATE jobs SET state = 'succeeded', finished_ms = ?1, lease_owner = NULL,
                     lease_until_ms = NULL, sla_breached = (?1 > deadline_ms)
                 WHERE job_id = ?2 AND fence = ?3 AND state = 'leased'",
            )?;
            let mut evaluation = tx.prepare_cached(
                "INSERT OR IGNORE INTO evaluations (artifact, position, digest, findings)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut delta = tx.prepare_cached(
                "INSERT OR REPLACE INTO deltas (run_seq, artifact, delta)
                 SELECT run_seq, artifact, ?2 FROM jobs WHERE job_id = ?1",
            )?;
            for result in results {
                let n = succeed.execute(params![
                    result.now_ms,
                    result.job_id as i64,
                    result.fence as i64
                ])?;
                if n == 0 {
                    outcomes.push(Err(FenceLost {
                        job_id: result.job_id,
                        fence: result.fence,
                    }));
                    continue;
                }
                let (digest, findings) = result.findings;
                evaluation.execute(params![
                    result.artifact,
                    result.position as i64,
                    digest,
                    findings
                ])?;
                delta.execute(params![result.job_id as i64, result.delta])?;
                outcomes.push(Ok(()));
            }
        }
        tx.commit()?;
        Ok(outcomes)
    }

    /// Extends several held leases in one transaction; how many still held.
    pub fn heartbeat_many(
        &mut self,
        jobs: &[(u64, u64)],
        until_ms: i64,
    ) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let mut held = 0;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE jobs SET lease_until_ms = ?1
                 WHERE job_id = ?2 AND fence = ?3 AND state = 'leased'",
            )?;
            for (job_id, fence) in jobs {
                held += stmt.execute(params![until_ms, *job_id as i64, *fence as i64])?;
            }
        }
        tx.commit()?;
        Ok(held)
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (state, not_before, finished) = match retry {
            Retry::At(at) => ("queued", Some(at), None),
            Retry::DeadLetter => ("dead", None, Some(now_ms)),
        };
        let n = tx.execute(
            "UPDATE jobs SET state = ?1, not_before_ms = COALESCE(?2, not_before_ms),
                 finished_ms = ?3, last_error = ?4, lease_owner = NULL, lease_until_ms = NULL,
                 sla_breached = sla_breached OR (?5 > deadline_ms)
             WHERE job_id = ?6 AND fence = ?7 AND state = 'leased'",
            params![
                state,
                not_before,
                finished,
                error,
                now_ms,
                job_id as i64,
                fence as i64
            ],
        )?;
        if n == 0 {
            return Ok(Err(FenceLost { job_id, fence }));
        }
        tx.execute(
            "INSERT OR REPLACE INTO job_attempts (job_id, attempt, error, at_ms)
             SELECT job_id, attempt, ?2, ?3 FROM jobs WHERE job_id = ?1",
            params![job_id as i64, error, now_ms],
        )?;
        tx.commit()?;
        Ok(Ok(()))
    }

    /// Returns jobs whose lease expired to the queue (or to the dead letters when that
    /// was their last attempt); the count of jobs rescued.
    pub fn rescue_expired(&mut self, now_ms: i64) -> Result<u64, StoreError> {
        self.take_back(
            "lease_until_ms < ?1",
            params![now_ms, "lease expired (worker stopped or stalled)"],
        )
    }

    /// Takes back, whatever their lease time, the jobs leased by owners whose name starts
    /// with `owner_prefix` (one stopped host); the count of jobs taken back.
    ///
    /// A host starting its workers calls it for its site's hosts that stopped: a crash
    /// leaves their leases behind, and waiting for them to expire would hold those jobs
    /// a whole lease. A takeover is not charged as an attempt (a claimed batch dies with
    /// its host whether or not its jobs were at fault), but a job taken over
    /// `MAX_TAKEOVERS` times is dead-lettered: it may be what stops its hosts. Should the
    /// owner still be alive after all, fencing keeps this safe: its late result is
    /// refused.
    pub fn rescue_abandoned(&mut self, owner_prefix: &str, now_ms: i64) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let filter = "state = 'leased' AND substr(lease_owner, 1, length(?2)) = ?2";
        tx.execute(
            &format!(
                "INSERT OR REPLACE INTO job_attempts (job_id, attempt, error, at_ms)
                 SELECT job_id, attempt, 'taken over ' || (takeovers + 1) || ' times: the \
                     host running it stopped each time (the job may be what stops it)', ?1
                 FROM jobs WHERE {filter} AND takeovers + 1 >= ?3"
            ),
            params![now_ms, owner_prefix, MAX_TAKEOVERS],
        )?;
        let n = tx.execute(
            &format!(
                "UPDATE jobs SET
                     attempt = CASE WHEN takeovers + 1 >= ?3 THEN attempt ELSE attempt - 1 END,
                     takeovers = takeovers + 1,
                     state = CASE WHEN takeovers + 1 >= ?3 THEN 'dead' ELSE 'queued' END,
                     finished_ms = CASE WHEN takeovers + 1 >= ?3 THEN ?1 END,
                     last_error = 'lease abandoned (its host stopped)',
                     lease_owner = NULL, lease_until_ms = NULL,
                     sla_breached = sla_breached OR (?1 > deadline_ms)
                 WHERE {filter}"
            ),
            params![now_ms, owner_prefix, MAX_TAKEOVERS],
        )?;
        tx.commit()?;
        Ok(n as u64)
    }

    /// The distinct owners of leased jobs.
    pub fn lease_owners(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT lease_owner FROM jobs
             WHERE state = 'leased' AND lease_owner IS NOT NULL ORDER BY 1",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a failed attempt for every leased job that `filter` picks and returns it
    /// to the queue, or to the dead letters on its last attempt. In `filter` and `args`,
    /// `?1` is the time and `?2` the error recorded.
    fn take_back(
        &mut self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            &format!(
                "INSERT OR REPLACE INTO job_attempts (job_id, attempt, error, at_ms)
                 SELECT job_id, attempt, ?2, ?1 FROM jobs WHERE state = 'leased' AND {filter}"
            ),
            args,
        )?;
        let n = tx.execute(
            &format!(
                "UPDATE jobs SET
                     state = CASE WHEN attempt >= max_attempts THEN 'dead' ELSE 'queued' END,
                     finished_ms = CASE WHEN attempt >= max_attempts THEN ?1 END,
                     last_error = ?2, lease_owner = NULL, lease_until_ms = NULL,
                     sla_breached = sla_breached OR (?1 > deadline_ms)
                 WHERE state = 'leased' AND {filter}"
            ),
            args,
        )?;
        tx.commit()?;
        Ok(n as u64)
    }

    /// Jobs still queued or leased: zero means the queue is drained.
    pub fn open_jobs(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'leased')",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
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

    /// Jobs of one tenant (all with `None`), optionally of one state and one run.
    pub fn tenant_jobs(
        &self,
        tenant: Option<&str>,
        state: Option<&str>,
        run_id: Option<&str>,
        limit: u64,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let sql = format!(
            "{JOB_SELECT} WHERE (?1 IS NULL OR j.state = ?1) AND (?2 IS NULL OR r.run_id = ?2)
               AND (?4 IS NULL OR j.tenant = ?4)
             ORDER BY j.job_id LIMIT ?3"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params![state, run_id, limit as i64, tenant], read_job)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn job(&self, job_id: u64) -> Result<Option<JobRecord>, StoreError> {
        let sql = format!("{JOB_SELECT} WHERE j.job_id = ?1");
        Ok(self
            .conn
            .query_row(&sql, [job_id as i64], read_job)
            .optional()?)
    }

    /// Every failed attempt of a job: (attempt, error chain).
    pub fn job_attempts(&self, job_id: u64) -> Result<Vec<(u32, String)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT attempt, error FROM job_attempts WHERE job_id = ?1 ORDER BY attempt",
        )?;
        let rows = stmt.query_map([job_id as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revives a dead-lettered job with fresh attempts; its run runs again if it had
    /// failed, and its next completion event is emitted and exported like a first one.
    /// False if the job is not dead.
    pub fn retry_job(&mut self, job_id: u64, now_ms: i64) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE jobs SET state = 'queued', attempt = 0, not_before_ms = ?1,
                 finished_ms = NULL
             WHERE job_id = ?2 AND state = 'dead'",
            params![now_ms, job_id as i64],
        )?;
        if n == 1 {
            tx.execute(
                "UPDATE runs SET state = 'running', finished_ms = NULL, summary = NULL,
                     delta_digest = NULL, completion = NULL, emitted = 0, export_seq = NULL
                 WHERE seq = (SELECT run_seq FROM jobs WHERE job_id = ?1) AND state = 'failed'",
                [job_id as i64],
            )?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    /// The findings recorded for an artifact as of a position, if a job computed them.
    pub fn evaluation(&self, artifact: &str, position: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT findings FROM evaluations WHERE artifact = ?1 AND position = ?2",
                params![artifact, position as i64],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The SBOM describing `artifact` as of `position` (first feed by name), if any.
    pub fn sbom_as_of(
        &self,
        artifact: &str,
        position: u64,
    ) -> Result<Option<StoredDocument>, StoreError> {
        Ok(self
            .conn
            .query_row(
                // By the (kind, doc_id) prefix of documents_subjects: a few versions, not
                // every SBOM of the span (which the planner picked otherwise).
                "SELECT feed, doc_id, format, path, subject_name, bytes
                 FROM documents INDEXED BY documents_subjects
                 WHERE kind = 'sbom' AND doc_id = ?1 AND valid_from <= ?2
                   AND (valid_to IS NULL OR valid_to > ?2)
                 ORDER BY feed LIMIT 1",
                params![artifact, position as i64],
                super::sqlite::read_document,
            )
            .optional()?)
    }
}
