//! The scheduler: windows and rechecks become runs ([`plan`]), runs become durable jobs
//! that workers claim with leases and fencing tokens ([`worker`]), and finished runs
//! become DSSE-signed completion events ([`completion`]) written to the outbox.
//!
//! Wall-clock time drives only leases, deadlines and backoff (columns ending in `_ms`);
//! what a job computes depends only on its run's pinned position, so a retry, a rescue
//! or another site with the same inputs computes the same bytes.

pub mod completion;
pub mod delta;
mod finish;
pub mod plan;
pub mod policy;
pub mod schedule;
pub mod worker;

pub use finish::{emit_events, finish_runs, Finisher};
pub use plan::{plan_windows, recheck};
pub use policy::{RetryPolicy, SlaPolicy, Tenants, RUNNING_PRIORITY};
pub use worker::{now_ms, KnowledgeCache, Pass, Worker};

use crate::findings::FindingsError;
use crate::impact::ImpactError;
use crate::store::StoreError;

/// The scheduling policies of a site.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policies {
    pub sla: SlaPolicy,
    pub retry: RetryPolicy,
    pub tenants: Tenants,
}

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error("idempotency key {key:?} was used for run {run_id} with another selector")]
    IdempotencyConflict { key: String, run_id: String },
    #[error(
        "job {job_id} names {artifact:?}, which is not an artifact digest (the store is damaged)"
    )]
    ArtifactId { job_id: u64, artifact: String },
    #[error(
        "stored findings of {artifact} at position {position} do not decode (the store is damaged)"
    )]
    StoredEvaluation {
        artifact: String,
        position: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error("stored {what} of run {run_id} does not decode (the store is damaged)")]
    StoredRun {
        what: &'static str,
        run_id: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot encode a result")]
    Encode(#[source] serde_json::Error),
    #[error("cannot write completion event {path}")]
    Outbox {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Impact(#[from] ImpactError),
    #[error(transparent)]
    Findings(#[from] FindingsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
