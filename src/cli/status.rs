//! `status`: change-log position, feed heads, pending and quarantined bundles, counts,
//! and each feed against its staleness budget (gathered by `site_status`).

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::site_status::{self, SiteStatus};
use crate::staleness::{FeedStaleness, State};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let dir = args.data_dir.dir();
    let store = dir.open_store().map_err(CliError::usage)?;
    let status = site_status::gather(&dir, &store, SystemTime::now()).map_err(CliError::usage)?;
    if args.json {
        return output::json_pretty(&status);
    }
    output::text(&render(&status))
}

/// One line for a feed against its budget: `ok`, `WARN` or `FAIL`, and its age.
fn staleness_line(f: &FeedStaleness) -> String {
    let state = match f.state {
        State::Ok => "ok",
        State::Warn => "WARN",
        State::Fail => "FAIL",
    };
    let age = f
        .age_seconds
        .map_or_else(|| "unknown".to_owned(), |a| format!("{a}s"));
    format!(
        "staleness   {} {state}: age {age} (warn at {}s, fail at {}s)",
        f.feed, f.warn_seconds, f.fail_seconds
    )
}

fn render(s: &SiteStatus) -> String {
    let mut lines = vec![format!("position    {}", s.position)];
    for f in &s.feeds {
        lines.push(format!(
            "feed        {} at #{} (position {}, applied {})",
            f.feed, f.sequence, f.position, f.applied_at
        ));
    }
    lines.extend(s.staleness.iter().map(staleness_line));
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
