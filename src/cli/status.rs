//! `status`: change-log position, feed heads, pending and quarantined bundles, counts.

use serde::Serialize;

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::bundle::{inspect, Limits};
use crate::ingest::{inbox, DataDir};
use crate::store::{DocumentCounts, FeedHead, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    position: u64,
    feeds: Vec<FeedHead>,
    pending: Vec<Pending>,
    quarantined: usize,
    documents: DocumentCounts,
    /// SHA-256 over the change log and every document version (no wall-clock fields).
    state_digest: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pending {
    file: String,
    feed: String,
    sequence: u64,
    bundle_id: String,
    waiting_for: u64,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let dir = args.data_dir.dir();
    let store = dir.open_store().map_err(CliError::usage)?;
    let status = gather(&dir, &store).map_err(CliError::usage)?;
    if args.json {
        return output::json_pretty(&status);
    }
    output::text(&render(&status))
}

fn gather(dir: &DataDir, store: &Store) -> anyhow::Result<Status> {
    let feeds = store.feeds()?;
    let pending = inbox::bundles_in(&dir.pending())?
        .into_iter()
        .filter_map(|f| pending_entry(&f, &feeds))
        .collect();
    Ok(Status {
        position: store.position()?,
        pending,
        quarantined: inbox::bundles_in(&dir.quarantine())?.len(),
        documents: store.document_counts()?,
        state_digest: store.state_digest()?,
        feeds,
    })
}

fn pending_entry(file: &std::path::Path, feeds: &[FeedHead]) -> Option<Pending> {
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

fn render(s: &Status) -> String {
    let mut lines = vec![format!("position    {}", s.position)];
    for f in &s.feeds {
        lines.push(format!(
            "feed        {} at #{} (position {}, applied {})",
            f.feed, f.sequence, f.position, f.applied_at
        ));
    }
    for p in &s.pending {
        lines.push(format!(
            "pending     {} #{} waits for #{} ({})",
            p.feed, p.sequence, p.waiting_for, p.file
        ));
    }
    lines.push(format!("quarantined {}", s.quarantined));
    let d = &s.documents;
    lines.push(format!(
        "documents   {} advisories, {} vex, {} sboms",
        d.advisory, d.vex, d.sbom
    ));
    lines.push(format!("state       {}", s.state_digest));
    lines.join("\n")
}
