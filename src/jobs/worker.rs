//! A worker: claims jobs, evaluates each artifact as of its run's pinned position,
//! diffs against the artifact's base position, and writes both with the job's success
//! in one transaction. A failure goes to the retry schedule or the dead letters.
//!
//! The advisories and VEX of a position are parsed and indexed once and kept while jobs
//! of that position keep coming (and the base position's, for diffs). A new position
//! rebuilds them from the store: the cost grows with the advisories held, not with the
//! delta (a known limit at very large stores).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::delta::{self, Delta};
use super::{JobsError, Policies, RetryPolicy};
use crate::findings::{self, Snapshot, VexPolicy};
use crate::matching::Finding;
use crate::model::Digest;
use crate::store::{ClaimedJob, JobResult, Retry, Store};
use crate::telemetry::metrics::{self, JobOutcome};

/// How long a claim holds before another worker may rescue the job.
pub const LEASE_MS: i64 = 60_000;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub claimed: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub fenced_out: usize,
}

/// One worker, with its own store connection.
#[derive(Debug)]
pub struct Worker {
    store: Store,
    owner: String,
    policies: Policies,
    vex: VexPolicy,
    cache: KnowledgeCache,
}

/// The advisories and VEX of the latest positions asked, parsed and indexed once and
/// shared by the workers of one process (clones share one cache).
#[derive(Clone, Debug, Default)]
pub struct KnowledgeCache(Arc<Mutex<Vec<Arc<Snapshot>>>>);

/// Positions kept: a run's position and its base, with room for a second run's.
const KEEP: usize = 3;

impl KnowledgeCache {
    /// The knowledge at `position`, built under the lock so that concurrent workers
    /// asking for the same position build it once.
    fn at(
        &self,
        store: &Store,
        position: u64,
        vex: &VexPolicy,
    ) -> Result<Arc<Snapshot>, JobsError> {
        let mut slots = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = slots.iter().find(|s| s.position == position) {
            return Ok(found.clone());
        }
        let built = Arc::new(findings::knowledge_at(store, position, vex)?);
        if slots.len() == KEEP {
            slots.remove(0);
        }
        slots.push(built.clone());
        Ok(built)
    }
}

/// Milliseconds since the Unix epoch: for leases, deadlines and backoff only.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Worker {
    pub fn new(store: Store, owner: String, policies: Policies, vex: VexPolicy) -> Self {
        Self {
            store,
            owner,
            policies,
            vex,
            cache: KnowledgeCache::default(),
        }
    }

    /// Shares `cache` with the other workers of this process.
    pub fn sharing(mut self, cache: KnowledgeCache) -> Self {
        self.cache = cache;
        self
    }

    /// Jobs still queued or leased, by any worker.
    pub fn open_jobs(&self) -> Result<u64, JobsError> {
        Ok(self.store.open_jobs()?)
    }

    /// Whether the queue is paused.
    pub fn paused(&self) -> Result<bool, JobsError> {
        Ok(self.store.paused()?)
    }

    /// Rescues expired leases, claims up to `batch` jobs and runs them. Failures are
    /// recorded as they happen; successes are written together in one transaction at
    /// the end (each job's result with its completion, fenced one by one). Leases are
    /// extended when half of one has gone by.
    /// Gives back the jobs this worker holds, after a pass failed midway (a lost database
    /// connection): their results were not written, so they go back to the queue now
    /// rather than when the lease expires. Fencing keeps a late write of ours harmless.
    pub fn give_back_leases(&mut self) -> Result<u64, JobsError> {
        Ok(self.store.rescue_abandoned(&self.owner, now_ms())?)
    }

    pub fn pass(&mut self, batch: u32) -> Result<Pass, JobsError> {
        self.store.rescue_expired(now_ms())?;
        let claimed = self.store.claim(&self.owner, batch, now_ms(), LEASE_MS)?;
        let mut pass = Pass {
            claimed: claimed.len(),
            ..Pass::default()
        };
        let mut renewed = now_ms();
        let mut done: Vec<Done> = Vec::with_capacity(claimed.len());
        for (i, job) in claimed.iter().enumerate() {
            match self.run_one(job)? {
                Some(result) => done.push(result),
                None => pass.failed += 1,
            }
            if now_ms() - renewed > LEASE_MS / 2 {
                renewed = now_ms();
                let open: Vec<(u64, u64)> = claimed[i + 1..]
                    .iter()
                    .chain(done.iter().map(|d| &d.job))
                    .map(|j| (j.job_id, j.fence))
                    .collect();
                self.store.heartbeat_many(&open, renewed + LEASE_MS)?;
            }
        }
        let now = now_ms();
        let results: Vec<JobResult<'_>> = done.iter().map(|d| d.result(now)).collect();
        let outcomes = self.store.complete_jobs(&results)?;
        for (outcome, d) in outcomes.into_iter().zip(&done) {
            match outcome {
                Ok(()) => {
                    metrics::job_attempt(JobOutcome::Succeeded, d.took);
                    pass.succeeded += 1;
                }
                Err(lost) => {
                    tracing::warn!(%lost, "result dropped");
                    pass.fenced_out += 1;
                }
            }
        }
        Ok(pass)
    }

    /// Evaluates one job: its result, or `None` after recording the failure.
    fn run_one(&mut self, job: &ClaimedJob) -> Result<Option<Done>, JobsError> {
        let _span = tracing::info_span!("job", job_id = job.job_id, run_id = %job.run_id).entered();
        let started = Instant::now();
        let err = match self.evaluate(job) {
            Ok((findings, delta)) => {
                let findings = crate::canonical::to_vec(&findings).map_err(JobsError::Encode)?;
                let digest = format!("sha256:{}", hex::encode(sha2_digest(&findings)));
                let delta = crate::canonical::to_vec(&delta).map_err(JobsError::Encode)?;
                return Ok(Some(Done {
                    job: job.clone(),
                    findings,
                    digest,
                    delta,
                    took: started.elapsed(),
                }));
            }
            Err(err) => err,
        };
        let chain = crate::bundle::error_chain(&err);
        let now = now_ms();
        // The job's own attempt limit, fixed when it was planned.
        let policy = RetryPolicy {
            max_attempts: job.max_attempts,
            ..self.policies.retry
        };
        let retry = match policy.next_attempt(job.job_id, job.attempt, now, job.deadline_ms) {
            Some(at) => Retry::At(at),
            None => Retry::DeadLetter,
        };
        tracing::warn!(error = %chain, ?retry, "job failed");
        metrics::job_attempt(JobOutcome::Failed, started.elapsed());
        match self
            .store
            .fail_job(job.job_id, job.fence, &chain, retry, now)?
        {
            Err(lost) => tracing::warn!(%lost, "failure not recorded"),
            Ok(()) if retry == Retry::DeadLetter => metrics::job_dead_lettered(),
            Ok(()) => metrics::job_retry(),
        }
        Ok(None)
    }

    /// The findings at the job's position and their delta against its base position.
    fn evaluate(&mut self, job: &ClaimedJob) -> Result<(Vec<Finding>, Delta), JobsError> {
        let artifact: Digest = job.artifact.parse().map_err(|_| JobsError::ArtifactId {
            job_id: job.job_id,
            artifact: job.artifact.clone(),
        })?;
        let after = self.findings_at(&artifact, job.position)?;
        let before = match job.base_position {
            None => Vec::new(),
            Some(base) => self.findings_at(&artifact, base)?,
        };
        let delta = delta::diff(
            &job.artifact,
            job.position,
            job.base_position,
            before,
            after.clone(),
        );
        Ok((after, delta))
    }

    /// Recorded findings when a job already computed them, else computed now.
    fn findings_at(&mut self, artifact: &Digest, position: u64) -> Result<Vec<Finding>, JobsError> {
        if let Some(bytes) = self.store.evaluation(artifact.as_str(), position)? {
            return serde_json::from_slice(&bytes).map_err(|source| JobsError::StoredEvaluation {
                artifact: artifact.to_string(),
                position,
                source,
            });
        }
        let knowledge = self.cache.at(&self.store, position, &self.vex)?;
        Ok(knowledge.artifact(&self.store, artifact)?)
    }
}

/// An evaluated job waiting for its batch's commit.
struct Done {
    job: ClaimedJob,
    findings: Vec<u8>,
    digest: String,
    delta: Vec<u8>,
    /// How long the evaluation took, for `stella_job_duration_seconds`.
    took: Duration,
}

impl Done {
    fn result(&self, now_ms: i64) -> JobResult<'_> {
        JobResult {
            job_id: self.job.job_id,
            fence: self.job.fence,
            artifact: &self.job.artifact,
            position: self.job.position,
            findings: (&self.digest, &self.findings),
            delta: &self.delta,
            now_ms,
        }
    }
}

fn sha2_digest(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}
