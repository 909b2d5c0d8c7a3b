//! Ingest: from files in the drop folder to applied, versioned state.
//!
//! Every input file ends in exactly one of archive/, pending/ or quarantine/, and every
//! bundle applies whole or not at all. `ingest FILE...` and the `run` watcher share this
//! code path: files land in inbox/, then [`Ingestor::drain`] takes them in chain order.

mod apply;
pub mod chain;
mod datadir;
pub mod inbox;
mod placement;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub(crate) use apply::component_rows;
pub use datadir::{Config, DataDir, DataDirError, InitOptions, Initialized, StoreKind};
pub use placement::reason_path;

use crate::bundle::{ExpiryPolicy, Limits, Trust, TrustError};
use crate::store::{Store, StoreError};

/// How much write-ahead log a bundle may find before it is applied; beyond it, the log is
/// copied into the database file first (a checkpoint), so that it does not grow with
/// every bundle of a long stream.
pub const WAL_COPY_BEFORE_APPLY_BYTES: u64 = 256 << 20;

/// Failures of the environment (store, file system), not of a bundle: processing stops
/// and the file stays where it was, to be taken again.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot move {path}")]
    Move {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot list {path}")]
    List {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot copy {from} into the inbox")]
    Copy {
        from: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where one input file ended, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum Outcome {
    Applied {
        position: u64,
        feed: String,
        sequence: u64,
        bundle_id: String,
        file: PathBuf,
    },
    Duplicate {
        position: u64,
        bundle_id: String,
        file: PathBuf,
    },
    Pending {
        feed: String,
        sequence: u64,
        waiting_for: u64,
        file: PathBuf,
    },
    Quarantined {
        file: PathBuf,
        step: String,
        error: String,
    },
}

/// Applies bundles to one data dir's store.
#[derive(Debug)]
pub struct Ingestor {
    dir: DataDir,
    store: Store,
    trust: Trust,
    limits: Limits,
    expiry: ExpiryPolicy,
}

impl Ingestor {
    pub fn open(
        dir: DataDir,
        trust_override: Option<&Path>,
        limits: Limits,
        expiry: ExpiryPolicy,
    ) -> Result<Self, IngestError> {
        let config = dir.config()?;
        let trust = Trust::load(&dir.trust_path(&config, trust_override))?;
        let store = dir.open_store()?;
        store.defer_checkpoints()?;
        Ok(Self {
            dir,
            store,
            trust,
            limits,
            expiry,
        })
    }

    /// Copies the write-ahead log into the database file, without waiting for readers.
    ///
    /// A bundle's commit never does this: the commit is durable once it is in the log,
    /// and for a large snapshot the copy costs about as much again. `run` calls this when
    /// a pass applied something and before it plans, and once at its start for what an
    /// earlier process left; applying a bundle first copies a log grown past
    /// [`WAL_COPY_BEFORE_APPLY_BYTES`]; `ingest` leaves its last bundles in the log for
    /// the next process that opens the store (docs/state.md).
    pub fn checkpoint(&self) -> Result<(), IngestError> {
        self.copy_log(|_| true)
    }

    /// Before a bundle is applied: copies the write-ahead log into the database file
    /// when it already holds more than [`WAL_COPY_BEFORE_APPLY_BYTES`], so that a
    /// stream of bundles applied without idle time between them (one `ingest` of many
    /// files) keeps the log to about one bundle's size.
    fn checkpoint_if_log_is_large(&self) -> Result<(), IngestError> {
        self.copy_log(|bytes| bytes > WAL_COPY_BEFORE_APPLY_BYTES)
    }

    fn copy_log(&self, wanted: impl Fn(u64) -> bool) -> Result<(), IngestError> {
        if !wanted(self.store.wal_bytes()) {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let done = self.store.checkpoint()?;
        if done.frames > 0 {
            tracing::debug!(
                frames = done.frames,
                copied = done.copied,
                checkpoint_ms = started.elapsed().as_millis() as u64,
                "write-ahead log copied into the store"
            );
        }
        Ok(())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Copies files into the inbox (atomically: temp name, fsync, rename).
    pub fn enqueue(&self, files: &[PathBuf]) -> Result<(), IngestError> {
        for from in files {
            inbox::copy_in(from, &self.dir.inbox()).map_err(|source| IngestError::Copy {
                from: from.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Processes every ready file in the inbox in chain order, then whatever in pending/
    /// became applicable. Calls `progress` after each file.
    pub fn drain(
        &mut self,
        ready: Vec<PathBuf>,
        progress: &mut dyn FnMut(&Outcome),
    ) -> Result<Vec<Outcome>, IngestError> {
        let mut outcomes = Vec::new();
        for file in inbox::chain_order(ready, &self.limits) {
            crate::telemetry::metrics::bundle_received(crate::telemetry::metrics::Source::Inbox);
            let outcome = self.process(&file)?;
            progress(&outcome);
            let applied = matches!(outcome, Outcome::Applied { .. });
            outcomes.push(outcome);
            if applied {
                outcomes.extend(self.retry_pending(progress)?);
            }
        }
        Ok(outcomes)
    }

    /// Re-examines pending/ until a pass applies nothing.
    pub fn retry_pending(
        &mut self,
        progress: &mut dyn FnMut(&Outcome),
    ) -> Result<Vec<Outcome>, IngestError> {
        let mut outcomes = Vec::new();
        loop {
            let waiting = inbox::bundles_in(&self.dir.pending())?;
            let mut applied_any = false;
            for file in inbox::chain_order(waiting, &self.limits) {
                let outcome = self.process(&file)?;
                if !matches!(outcome, Outcome::Pending { .. }) {
                    progress(&outcome);
                    applied_any |= matches!(outcome, Outcome::Applied { .. });
                    outcomes.push(outcome);
                }
            }
            if !applied_any {
                return Ok(outcomes);
            }
        }
    }
}
