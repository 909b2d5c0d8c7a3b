//! One site's status: change-log position, feed heads, pending and quarantined bundles,
//! document counts, runs and jobs by state, the last export, and each feed against its
//! staleness budget. `status --json` prints it and the HTTP API serves it, so both say
//! the same thing in the same fields.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

use crate::bundle::{inspect, Limits};
use crate::ingest::{inbox, DataDir, DataDirError, IngestError};
use crate::staleness::{self, FeedStaleness};
use crate::store::{DocumentCounts, FeedHead, Store, StoreError};

/// What `status --json` prints and `/api/v1/status` answers.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteStatus {
    pub position: u64,
    pub feeds: Vec<FeedHead>,
    pub pending: Vec<Pending>,
    pub quarantined: usize,
    pub documents: DocumentCounts,
    pub runs: BTreeMap<String, u64>,
    pub jobs: BTreeMap<String, u64>,
    pub sla_breached: u64,
    pub queue_paused: bool,
    /// The last completion bundle's sequence in the site feed (0: none yet).
    pub last_export: u64,
    /// SHA-256 over the change log and every document version (no wall-clock fields).
    pub state_digest: String,
    /// Each feed that has a staleness budget, assessed at the time asked.
    pub staleness: Vec<FeedStaleness>,
}

/// A bundle in pending/ and the sequence it waits for.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    pub file: String,
    pub feed: String,
    pub sequence: u64,
    pub bundle_id: String,
    pub waiting_for: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SiteStatusError {
    #[error("cannot read the data dir's config")]
    Config(#[source] DataDirError),
    #[error("cannot read the store")]
    Store(#[from] StoreError),
    #[error("cannot list the bundles of a data dir folder")]
    Folder(#[source] IngestError),
}

/// Reads the status of the site at `dir`; `now` is the time staleness is judged at.
pub fn gather(
    dir: &DataDir,
    store: &Store,
    now: SystemTime,
) -> Result<SiteStatus, SiteStatusError> {
    let config = dir.config().map_err(SiteStatusError::Config)?;
    let feeds = store.feeds()?;
    let pending = inbox::bundles_in(&dir.pending())
        .map_err(SiteStatusError::Folder)?
        .into_iter()
        .filter_map(|f| pending_entry(&f, &feeds))
        .collect();
    let quarantined = inbox::bundles_in(&dir.quarantine())
        .map_err(SiteStatusError::Folder)?
        .len();
    let counts = store.scheduler_counts()?;
    Ok(SiteStatus {
        position: store.position()?,
        staleness: staleness::assess(&feeds, &config.staleness, now),
        pending,
        quarantined,
        documents: store.document_counts()?,
        runs: counts.runs,
        jobs: counts.jobs,
        sla_breached: counts.sla_breached,
        queue_paused: store.paused()?,
        last_export: store.export_head()?.map_or(0, |h| h.sequence),
        state_digest: store.state_digest()?,
        feeds,
    })
}

/// A pending file whose manifest can be read; others are left out (they will be
/// quarantined with the reason when their turn comes).
fn pending_entry(file: &Path, feeds: &[FeedHead]) -> Option<Pending> {
    let found = inspect(file, &Limits::default()).ok()?;
    let m = found.manifest;
    let head = feeds
        .iter()
        .find(|h| h.feed == m.feed)
        .map_or(0, |h| h.sequence);
    Some(Pending {
        file: file.file_name()?.to_string_lossy().into_owned(),
        feed: m.feed,
        sequence: m.sequence,
        bundle_id: found.id.to_string(),
        waiting_for: head + 1,
    })
}
