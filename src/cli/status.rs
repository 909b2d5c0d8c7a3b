//! `status`: change-log position, feed heads, pending and quarantined bundles, counts.

use std::collections::BTreeMap;

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
    runs: BTreeMap<String, u64>,
    jobs: BTreeMap<String, u64>,
    sla_breached: u64,
    queue_paused: bool,
    /// The last completion bundle's sequence in the site feed (0: none yet).
    last_export: u64,
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
    let counts = store.scheduler_counts()?;
    Ok(Status {
        runs: counts.runs,
        jobs: counts.jobs,
        sla_breached: counts.sla_breached,
        queue_paused: store.paused()?,
        last_export: store.export_head()?.map_or(0, |h| h.sequence),
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
    let by_state = |m: &BTreeMap<String, u64>| {
        let parts: Vec<String> = m.iter().map(|(k, v)| format!("{v} {k}")).collect();
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(", ")
        }
    };
    lines.push(format!("runs        {}", by_state(&s.runs)));
    lines.push(format!(
        "jobs        {}{}{}",
        by_state(&s.jobs),
        if s.sla_breached > 0 {
            format!(", {} past their SLA", s.sla_breached)
        } else {
            String::new()
        },
        if s.queue_paused {
            " (queue paused)"
        } else {
            ""
        }
    ));
    lines.push(format!("exports     {}", s.last_export));
    lines.push(format!("state       {}", s.state_digest));
    lines.join("\n")
}
