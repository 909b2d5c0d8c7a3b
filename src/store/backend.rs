//! One store over two backends: the embedded SQLite database (the default) and
//! PostgreSQL (`--database-url`). Every method answers the same on both (tests/pg_*.rs
//! compare them call for call); this file only dispatches, and is generated from the
//! SQLite methods' signatures, so a method added there must be added here and to
//! `PgStore`.

use std::path::Path;

use super::control::{AuditRecord, RuntimeState};
use super::exports::{ExportHead, ExportRecord, NewExport, Unexported};
use super::impact::{ArtifactComponent, ArtifactRef, ComponentRef, Side};
use super::jobs::{ClaimedJob, FenceLost, JobRecord, JobResult, Retry};
use super::kit::HeadAsOf;
use super::metrics::QueueGauges;
use super::postgres::{PgApplyTx, PgStore};
use super::runs::{JobCounts, NewJob, NewRun, RunOutcome, RunOutput, RunRecord};
use super::schedules::{NewSchedule, ScheduleRecord};
use super::sqlite::{
    ApplyHeader, Checkpoint, ComponentRow, NewVersion, PutOutcome, SqliteApplyTx, SqliteStore,
    StoredDocument, WalWriteback,
};
use super::{ChangeEntry, DocumentCounts, FeedHead, SchedulerCounts, StoreError};
use crate::model::DocumentKind;

/// The state store: SQLite or PostgreSQL.
#[derive(Debug)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// A bundle's apply transaction on either backend. One exists per bundle being applied,
/// so the size difference of the variants costs nothing worth a box.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum ApplyTx<'a> {
    Sqlite(SqliteApplyTx<'a>),
    Postgres(PgApplyTx<'a>),
}

impl Store {
    /// Opens (creating if absent) the SQLite store at `path` and applies its migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Store::Sqlite(SqliteStore::open(path)?))
    }

    /// Connects to the PostgreSQL database at `url` and applies its migrations.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(Store::Postgres(PgStore::connect(url)?))
    }

    /// A thread that syncs SQLite's write-ahead log during a large apply; PostgreSQL
    /// has no log file of ours to sync.
    pub fn wal_writeback(&self) -> Option<WalWriteback> {
        match self {
            Store::Sqlite(s) => s.wal_writeback(),
            Store::Postgres(_) => None,
        }
    }

    /// Begins applying one bundle: everything until `commit`, or nothing.
    pub fn begin_apply(&mut self, header: ApplyHeader) -> Result<ApplyTx<'_>, StoreError> {
        Ok(match self {
            Store::Sqlite(s) => ApplyTx::Sqlite(s.begin_apply(header)?),
            Store::Postgres(p) => ApplyTx::Postgres(p.begin_apply(header)?),
        })
    }

    pub fn audit(&mut self, record: &AuditRecord) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(s) => s.audit(record),
            Store::Postgres(s) => s.audit(record),
        }
    }

    pub fn audit_log(&self, limit: u64) -> Result<Vec<AuditRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.audit_log(limit),
            Store::Postgres(s) => s.audit_log(limit),
        }
    }

    pub fn set_runtime_state(&mut self, state: &RuntimeState) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.set_runtime_state(state),
            Store::Postgres(s) => s.set_runtime_state(state),
        }
    }

    pub fn is_running(&self, artifact: &str) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.is_running(artifact),
            Store::Postgres(s) => s.is_running(artifact),
        }
    }

    pub fn expedite_artifact(
        &mut self,
        artifact: &str,
        priority: i64,
        deadline_ms: i64,
    ) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(s) => s.expedite_artifact(artifact, priority, deadline_ms),
            Store::Postgres(s) => s.expedite_artifact(artifact, priority, deadline_ms),
        }
    }

    pub fn ever_evaluated(&self, artifact: &str) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.ever_evaluated(artifact),
            Store::Postgres(s) => s.ever_evaluated(artifact),
        }
    }

    pub fn sbom_feed(&self, artifact: &str, position: u64) -> Result<Option<String>, StoreError> {
        match self {
            Store::Sqlite(s) => s.sbom_feed(artifact, position),
            Store::Postgres(s) => s.sbom_feed(artifact, position),
        }
    }

    pub fn unexported(&self) -> Result<Vec<Unexported>, StoreError> {
        match self {
            Store::Sqlite(s) => s.unexported(),
            Store::Postgres(s) => s.unexported(),
        }
    }

    pub fn export_head(&self) -> Result<Option<ExportHead>, StoreError> {
        match self {
            Store::Sqlite(s) => s.export_head(),
            Store::Postgres(s) => s.export_head(),
        }
    }

    pub fn record_export(&mut self, export: &NewExport<'_>) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.record_export(export),
            Store::Postgres(s) => s.record_export(export),
        }
    }

    pub fn exports(&self) -> Result<Vec<ExportRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.exports(),
            Store::Postgres(s) => s.exports(),
        }
    }

    pub fn restore_exports(&mut self, exports: &[ExportRecord]) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.restore_exports(exports),
            Store::Postgres(s) => s.restore_exports(exports),
        }
    }

    pub fn changed_at(
        &self,
        kind: DocumentKind,
        position: u64,
    ) -> Result<Vec<(Side, StoredDocument)>, StoreError> {
        match self {
            Store::Sqlite(s) => s.changed_at(kind, position),
            Store::Postgres(s) => s.changed_at(kind, position),
        }
    }

    pub fn components_of(
        &self,
        package: &str,
        position: u64,
    ) -> Result<Vec<ArtifactComponent>, StoreError> {
        match self {
            Store::Sqlite(s) => s.components_of(package, position),
            Store::Postgres(s) => s.components_of(package, position),
        }
    }

    pub fn scan_components(
        &self,
        package: &str,
        position: u64,
        visit: impl FnMut(ComponentRef<'_>),
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.scan_components(package, position, visit),
            Store::Postgres(s) => s.scan_components(package, position, visit),
        }
    }

    pub fn scan_artifacts(
        &self,
        position: u64,
        visit: impl FnMut(&str, Option<&str>),
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.scan_artifacts(position, visit),
            Store::Postgres(s) => s.scan_artifacts(position, visit),
        }
    }

    pub fn artifacts_as_of(&self, position: u64) -> Result<Vec<ArtifactRef>, StoreError> {
        match self {
            Store::Sqlite(s) => s.artifacts_as_of(position),
            Store::Postgres(s) => s.artifacts_as_of(position),
        }
    }

    pub fn claim(
        &mut self,
        owner: &str,
        limit: u32,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        match self {
            Store::Sqlite(s) => s.claim(owner, limit, now_ms, lease_ms),
            Store::Postgres(s) => s.claim(owner, limit, now_ms, lease_ms),
        }
    }

    pub fn heartbeat(
        &mut self,
        job_id: u64,
        fence: u64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.heartbeat(job_id, fence, until_ms),
            Store::Postgres(s) => s.heartbeat(job_id, fence, until_ms),
        }
    }

    pub fn complete_job(
        &mut self,
        result: &JobResult<'_>,
    ) -> Result<Result<(), FenceLost>, StoreError> {
        match self {
            Store::Sqlite(s) => s.complete_job(result),
            Store::Postgres(s) => s.complete_job(result),
        }
    }

    pub fn complete_jobs(
        &mut self,
        results: &[JobResult<'_>],
    ) -> Result<Vec<Result<(), FenceLost>>, StoreError> {
        match self {
            Store::Sqlite(s) => s.complete_jobs(results),
            Store::Postgres(s) => s.complete_jobs(results),
        }
    }

    pub fn heartbeat_many(
        &mut self,
        jobs: &[(u64, u64)],
        until_ms: i64,
    ) -> Result<usize, StoreError> {
        match self {
            Store::Sqlite(s) => s.heartbeat_many(jobs, until_ms),
            Store::Postgres(s) => s.heartbeat_many(jobs, until_ms),
        }
    }

    pub fn fail_job(
        &mut self,
        job_id: u64,
        fence: u64,
        error: &str,
        retry: Retry,
        now_ms: i64,
    ) -> Result<Result<(), FenceLost>, StoreError> {
        match self {
            Store::Sqlite(s) => s.fail_job(job_id, fence, error, retry, now_ms),
            Store::Postgres(s) => s.fail_job(job_id, fence, error, retry, now_ms),
        }
    }

    pub fn rescue_expired(&mut self, now_ms: i64) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(s) => s.rescue_expired(now_ms),
            Store::Postgres(s) => s.rescue_expired(now_ms),
        }
    }

    pub fn rescue_abandoned(&mut self, owner_prefix: &str, now_ms: i64) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(s) => s.rescue_abandoned(owner_prefix, now_ms),
            Store::Postgres(s) => s.rescue_abandoned(owner_prefix, now_ms),
        }
    }

    pub fn lease_owners(&self) -> Result<Vec<String>, StoreError> {
        match self {
            Store::Sqlite(s) => s.lease_owners(),
            Store::Postgres(s) => s.lease_owners(),
        }
    }

    pub fn open_jobs(&self) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(s) => s.open_jobs(),
            Store::Postgres(s) => s.open_jobs(),
        }
    }

    pub fn jobs(
        &self,
        state: Option<&str>,
        run_id: Option<&str>,
        limit: u64,
    ) -> Result<Vec<JobRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.jobs(state, run_id, limit),
            Store::Postgres(s) => s.jobs(state, run_id, limit),
        }
    }

    pub fn tenant_jobs(
        &self,
        tenant: Option<&str>,
        state: Option<&str>,
        run_id: Option<&str>,
        limit: u64,
    ) -> Result<Vec<JobRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.tenant_jobs(tenant, state, run_id, limit),
            Store::Postgres(s) => s.tenant_jobs(tenant, state, run_id, limit),
        }
    }

    pub fn job(&self, job_id: u64) -> Result<Option<JobRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.job(job_id),
            Store::Postgres(s) => s.job(job_id),
        }
    }

    pub fn job_attempts(&self, job_id: u64) -> Result<Vec<(u32, String)>, StoreError> {
        match self {
            Store::Sqlite(s) => s.job_attempts(job_id),
            Store::Postgres(s) => s.job_attempts(job_id),
        }
    }

    pub fn retry_job(&mut self, job_id: u64, now_ms: i64) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.retry_job(job_id, now_ms),
            Store::Postgres(s) => s.retry_job(job_id, now_ms),
        }
    }

    pub fn evaluation(&self, artifact: &str, position: u64) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Store::Sqlite(s) => s.evaluation(artifact, position),
            Store::Postgres(s) => s.evaluation(artifact, position),
        }
    }

    pub fn sbom_as_of(
        &self,
        artifact: &str,
        position: u64,
    ) -> Result<Option<StoredDocument>, StoreError> {
        match self {
            Store::Sqlite(s) => s.sbom_as_of(artifact, position),
            Store::Postgres(s) => s.sbom_as_of(artifact, position),
        }
    }

    pub fn heads_as_of(&self, position: u64) -> Result<Vec<HeadAsOf>, StoreError> {
        match self {
            Store::Sqlite(s) => s.heads_as_of(position),
            Store::Postgres(s) => s.heads_as_of(position),
        }
    }

    pub fn queue_gauges(&self) -> Result<QueueGauges, StoreError> {
        match self {
            Store::Sqlite(s) => s.queue_gauges(),
            Store::Postgres(s) => s.queue_gauges(),
        }
    }

    pub fn unplanned_windows(&self) -> Result<Vec<u64>, StoreError> {
        match self {
            Store::Sqlite(s) => s.unplanned_windows(),
            Store::Postgres(s) => s.unplanned_windows(),
        }
    }

    pub fn create_run(&mut self, run: &NewRun, jobs: &[NewJob]) -> Result<RunRecord, StoreError> {
        match self {
            Store::Sqlite(s) => s.create_run(run, jobs),
            Store::Postgres(s) => s.create_run(run, jobs),
        }
    }

    pub fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.run(run_id),
            Store::Postgres(s) => s.run(run_id),
        }
    }

    pub fn run_by_seq(&self, seq: u64) -> Result<Option<RunRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.run_by_seq(seq),
            Store::Postgres(s) => s.run_by_seq(seq),
        }
    }

    pub fn run_by_idempotency_key(&self, key: &str) -> Result<Option<RunRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.run_by_idempotency_key(key),
            Store::Postgres(s) => s.run_by_idempotency_key(key),
        }
    }

    pub fn runs(&self, state: Option<&str>, limit: u64) -> Result<Vec<RunRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.runs(state, limit),
            Store::Postgres(s) => s.runs(state, limit),
        }
    }

    pub fn tenant_runs(
        &self,
        tenant: Option<&str>,
        state: Option<&str>,
        limit: u64,
    ) -> Result<Vec<RunRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.tenant_runs(tenant, state, limit),
            Store::Postgres(s) => s.tenant_runs(tenant, state, limit),
        }
    }

    pub fn run_impact(&self, seq: u64) -> Result<Vec<u8>, StoreError> {
        match self {
            Store::Sqlite(s) => s.run_impact(seq),
            Store::Postgres(s) => s.run_impact(seq),
        }
    }

    pub fn run_output(&self, seq: u64) -> Result<RunOutput, StoreError> {
        match self {
            Store::Sqlite(s) => s.run_output(seq),
            Store::Postgres(s) => s.run_output(seq),
        }
    }

    pub fn job_counts(&self, run_seq: u64) -> Result<JobCounts, StoreError> {
        match self {
            Store::Sqlite(s) => s.job_counts(run_seq),
            Store::Postgres(s) => s.job_counts(run_seq),
        }
    }

    pub fn scheduler_counts(&self) -> Result<SchedulerCounts, StoreError> {
        match self {
            Store::Sqlite(s) => s.scheduler_counts(),
            Store::Postgres(s) => s.scheduler_counts(),
        }
    }

    pub fn finishable_runs(&self) -> Result<Vec<u64>, StoreError> {
        match self {
            Store::Sqlite(s) => s.finishable_runs(),
            Store::Postgres(s) => s.finishable_runs(),
        }
    }

    pub fn finish_run(&mut self, seq: u64, outcome: &RunOutcome) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.finish_run(seq, outcome),
            Store::Postgres(s) => s.finish_run(seq, outcome),
        }
    }

    pub fn cancel_run(&mut self, run_id: &str, now_ms: i64) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.cancel_run(run_id, now_ms),
            Store::Postgres(s) => s.cancel_run(run_id, now_ms),
        }
    }

    pub fn retry_run(&mut self, run_id: &str, now_ms: i64) -> Result<Option<u64>, StoreError> {
        match self {
            Store::Sqlite(s) => s.retry_run(run_id, now_ms),
            Store::Postgres(s) => s.retry_run(run_id, now_ms),
        }
    }

    pub fn run_deltas(&self, seq: u64) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        match self {
            Store::Sqlite(s) => s.run_deltas(seq),
            Store::Postgres(s) => s.run_deltas(seq),
        }
    }

    pub fn unemitted(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        match self {
            Store::Sqlite(s) => s.unemitted(),
            Store::Postgres(s) => s.unemitted(),
        }
    }

    pub fn mark_emitted(&mut self, run_id: &str) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.mark_emitted(run_id),
            Store::Postgres(s) => s.mark_emitted(run_id),
        }
    }

    pub fn set_paused(&mut self, paused: bool) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.set_paused(paused),
            Store::Postgres(s) => s.set_paused(paused),
        }
    }

    pub fn paused(&self) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.paused(),
            Store::Postgres(s) => s.paused(),
        }
    }

    pub fn change_at(&self, position: u64) -> Result<Option<ChangeEntry>, StoreError> {
        match self {
            Store::Sqlite(s) => s.change_at(position),
            Store::Postgres(s) => s.change_at(position),
        }
    }

    pub fn created_at(&self, position: u64) -> Result<Option<String>, StoreError> {
        match self {
            Store::Sqlite(s) => s.created_at(position),
            Store::Postgres(s) => s.created_at(position),
        }
    }

    pub fn create_schedule(&mut self, new: &NewSchedule) -> Result<ScheduleRecord, StoreError> {
        match self {
            Store::Sqlite(s) => s.create_schedule(new),
            Store::Postgres(s) => s.create_schedule(new),
        }
    }

    pub fn schedules(&self, tenant: Option<&str>) -> Result<Vec<ScheduleRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.schedules(tenant),
            Store::Postgres(s) => s.schedules(tenant),
        }
    }

    pub fn schedule(&self, schedule_id: &str) -> Result<Option<ScheduleRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.schedule(schedule_id),
            Store::Postgres(s) => s.schedule(schedule_id),
        }
    }

    pub fn delete_schedule(&mut self, schedule_id: &str) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.delete_schedule(schedule_id),
            Store::Postgres(s) => s.delete_schedule(schedule_id),
        }
    }

    pub fn set_schedule_paused(
        &mut self,
        schedule_id: &str,
        paused: bool,
        next_fire: Option<&str>,
    ) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.set_schedule_paused(schedule_id, paused, next_fire),
            Store::Postgres(s) => s.set_schedule_paused(schedule_id, paused, next_fire),
        }
    }

    pub fn due_schedules(&self, now: &str) -> Result<Vec<ScheduleRecord>, StoreError> {
        match self {
            Store::Sqlite(s) => s.due_schedules(now),
            Store::Postgres(s) => s.due_schedules(now),
        }
    }

    pub fn mark_schedule_fired(
        &mut self,
        schedule_id: &str,
        fired: &str,
        next: &str,
    ) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.mark_schedule_fired(schedule_id, fired, next),
            Store::Postgres(s) => s.mark_schedule_fired(schedule_id, fired, next),
        }
    }

    pub fn map_for_reading(&self, bytes: i64) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.map_for_reading(bytes),
            Store::Postgres(s) => s.map_for_reading(bytes),
        }
    }

    pub fn defer_checkpoints(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.defer_checkpoints(),
            Store::Postgres(s) => s.defer_checkpoints(),
        }
    }

    pub fn checkpoint(&self) -> Result<Checkpoint, StoreError> {
        match self {
            Store::Sqlite(s) => s.checkpoint(),
            Store::Postgres(s) => s.checkpoint(),
        }
    }

    pub fn wal_bytes(&self) -> u64 {
        match self {
            Store::Sqlite(s) => s.wal_bytes(),
            Store::Postgres(s) => s.wal_bytes(),
        }
    }

    pub fn position(&self) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(s) => s.position(),
            Store::Postgres(s) => s.position(),
        }
    }

    pub fn feed_head(&self, feed: &str) -> Result<Option<FeedHead>, StoreError> {
        match self {
            Store::Sqlite(s) => s.feed_head(feed),
            Store::Postgres(s) => s.feed_head(feed),
        }
    }

    pub fn feeds(&self) -> Result<Vec<FeedHead>, StoreError> {
        match self {
            Store::Sqlite(s) => s.feeds(),
            Store::Postgres(s) => s.feeds(),
        }
    }

    pub fn applied(&self, bundle_id: &str) -> Result<Option<ChangeEntry>, StoreError> {
        match self {
            Store::Sqlite(s) => s.applied(bundle_id),
            Store::Postgres(s) => s.applied(bundle_id),
        }
    }

    pub fn changelog(&self) -> Result<Vec<ChangeEntry>, StoreError> {
        match self {
            Store::Sqlite(s) => s.changelog(),
            Store::Postgres(s) => s.changelog(),
        }
    }

    pub fn document_counts(&self) -> Result<DocumentCounts, StoreError> {
        match self {
            Store::Sqlite(s) => s.document_counts(),
            Store::Postgres(s) => s.document_counts(),
        }
    }

    pub fn documents_as_of(
        &self,
        kind: DocumentKind,
        position: u64,
    ) -> Result<Vec<StoredDocument>, StoreError> {
        match self {
            Store::Sqlite(s) => s.documents_as_of(kind, position),
            Store::Postgres(s) => s.documents_as_of(kind, position),
        }
    }

    pub fn state_digest(&self) -> Result<String, StoreError> {
        match self {
            Store::Sqlite(s) => s.state_digest(),
            Store::Postgres(s) => s.state_digest(),
        }
    }
}

impl ApplyTx<'_> {
    pub fn position(&self) -> u64 {
        match self {
            ApplyTx::Sqlite(s) => s.position(),
            ApplyTx::Postgres(s) => s.position(),
        }
    }

    pub fn put(&mut self, v: NewVersion<'_>) -> Result<PutOutcome, StoreError> {
        match self {
            ApplyTx::Sqlite(s) => s.put(v),
            ApplyTx::Postgres(s) => s.put(v),
        }
    }

    /// [`ApplyTx::put`] for each of `versions` in order. PostgreSQL looks up their
    /// current versions in one statement instead of one round trip each (what makes a
    /// re-snapshot of a large feed fast there); SQLite puts them one by one. At the first
    /// refused version, the ones before it are recorded and the refusal returned.
    pub fn put_batch(
        &mut self,
        versions: &[NewVersion<'_>],
    ) -> Result<Vec<PutOutcome>, StoreError> {
        match self {
            ApplyTx::Sqlite(s) => versions.iter().map(|v| s.put(*v)).collect(),
            ApplyTx::Postgres(s) => s.put_batch(versions),
        }
    }

    pub fn withdraw(&mut self, kind: DocumentKind, id: &str) -> Result<bool, StoreError> {
        match self {
            ApplyTx::Sqlite(s) => s.withdraw(kind, id),
            ApplyTx::Postgres(s) => s.withdraw(kind, id),
        }
    }

    pub fn put_components(
        &mut self,
        artifact: &str,
        rows: &[ComponentRow],
    ) -> Result<(), StoreError> {
        match self {
            ApplyTx::Sqlite(s) => s.put_components(artifact, rows),
            ApplyTx::Postgres(s) => s.put_components(artifact, rows),
        }
    }

    pub fn commit(self) -> Result<u64, StoreError> {
        match self {
            ApplyTx::Sqlite(s) => s.commit(),
            ApplyTx::Postgres(s) => s.commit(),
        }
    }
}
