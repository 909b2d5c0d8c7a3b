//! Versioned state: the change log, feed heads, and every version of every document.
//!
//! SQLite is the embedded default. The schema lives in migrations/ so that a PostgreSQL
//! dialect can sit beside it with the same meaning; all SQL of the project is in this
//! room. Reads "as of a position" see exactly the document versions that held then.

mod backend;
mod control;
mod exports;
mod impact;
mod jobs;
pub mod kit;
mod metrics;
mod migrate;
pub mod postgres;
mod runs;
mod schedules;
mod sqlite;

pub use control::{AuditRecord, RuntimeState};
pub use exports::{ExportHead, ExportRecord, NewExport, Unexported};
pub use impact::{ArtifactComponent, ArtifactRef, ComponentRef, Side};
pub use jobs::{ClaimedJob, FenceLost, JobRecord, JobResult, Retry, MAX_TAKEOVERS};
pub use metrics::QueueGauges;
pub use runs::{JobCounts, NewJob, NewRun, RunOutcome, RunOutput, RunRecord, SchedulerCounts};
pub use schedules::{NewSchedule, ScheduleRecord};

pub use backend::{ApplyTx, Store};
pub use sqlite::{
    ApplyHeader, Checkpoint, ComponentRow, NewVersion, PutOutcome, SqliteApplyTx, SqliteStore,
    StoredDocument, WalWriteback,
};

use std::path::PathBuf;

use serde::Serialize;

/// Whether an error (of any layer above the store) comes from a lost or refused
/// PostgreSQL connection, so that another attempt later may succeed: the store connects
/// again on its next call. It looks for the driver's error down the source chain, which
/// passes through `#[error(transparent)]` wrappers. SQLite errors are never transient in
/// this sense.
pub fn is_transient(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(driver) = e.downcast_ref::<sqlx::Error>() {
            return postgres::connection_lost(driver);
        }
        current = e.source();
    }
    false
}

/// Errors from the state store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("migration {name} failed")]
    Migration {
        name: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("migration {name} was changed after it was applied (recorded sha256 {recorded}, file {current})")]
    MigrationEdited {
        name: String,
        recorded: String,
        current: String,
    },
    #[error("document {kind} {id} appears twice in this bundle ({first} and {second})")]
    DuplicateInBundle {
        kind: String,
        id: String,
        first: String,
        second: String,
    },
    #[error("{kind} documents are written by sites; the store versions only feed documents")]
    NotVersioned { kind: crate::model::DocumentKind },
    #[error("idempotency key {key:?} was taken by another run meanwhile")]
    IdempotencyKeyTaken { key: String },
    #[error("a run lists artifact {artifact} twice; it holds one job per artifact")]
    ArtifactTwiceInRun { artifact: String },
    #[error("schedule {schedule_id:?} exists")]
    ScheduleExists { schedule_id: String },
    #[error("the store holds an impossible value: {what}")]
    Corrupt { what: String },
    #[error("store query failed")]
    Query(#[from] rusqlite::Error),
    /// PostgreSQL backend (store/postgres/): the server could not be reached or set up.
    #[error("cannot open the PostgreSQL store at {url}: {why}")]
    PgOpen {
        /// The URL without its password.
        url: String,
        why: String,
        #[source]
        source: Option<sqlx::Error>,
    },
    #[error("PostgreSQL migration {name} failed")]
    PgMigration {
        name: String,
        #[source]
        source: sqlx::Error,
    },
    /// A PostgreSQL statement failed; `what` names the store call.
    #[error("PostgreSQL store call {what} failed")]
    Postgres {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
}

/// Where a feed's chain stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedHead {
    pub feed: String,
    pub sequence: u64,
    pub bundle_id: String,
    pub position: u64,
    pub applied_at: String,
}

/// Current document counts by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DocumentCounts {
    pub advisory: u64,
    pub vex: u64,
    pub sbom: u64,
}

/// One change-log entry, as `status` and later rooms read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeEntry {
    pub position: u64,
    pub feed: String,
    pub sequence: u64,
    pub bundle_id: String,
    pub mode: String,
    pub advisories: u64,
    pub vex: u64,
    pub sboms: u64,
    pub withdrawn: u64,
    pub expired_accepted: bool,
}
