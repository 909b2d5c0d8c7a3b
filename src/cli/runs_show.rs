//! `runs show`: one run with its job counts, impact set, summary and completion event.

use serde::Serialize;

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::store::{JobCounts, RunRecord};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    /// The run id (run-NNNNNNNN).
    run_id: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Shown {
    run: RunRecord,
    jobs: JobCounts,
    impact: serde_json::Value,
    summary: Option<serde_json::Value>,
    completion: Option<serde_json::Value>,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let store = args.data_dir.dir().open_store().map_err(CliError::usage)?;
    let Some(run) = store.run(&args.run_id).map_err(CliError::usage)? else {
        let err = anyhow::anyhow!("no run {:?} in this data dir", args.run_id);
        return Err(CliError::refused(err));
    };
    let decode = |bytes: &[u8]| serde_json::from_slice(bytes).map_err(CliError::usage);
    let output = store.run_output(run.seq).map_err(CliError::usage)?;
    let shown = Shown {
        jobs: store.job_counts(run.seq).map_err(CliError::usage)?,
        impact: decode(&store.run_impact(run.seq).map_err(CliError::usage)?)?,
        summary: output.summary.as_deref().map(decode).transpose()?,
        completion: output.completion.as_deref().map(decode).transpose()?,
        run,
    };
    if args.json {
        return output::json_pretty(&shown);
    }
    let mut lines = vec![super::runs_list::line(&shown.run)];
    let j = &shown.jobs;
    lines.push(format!(
        "jobs: {} queued, {} leased, {} succeeded, {} dead, {} cancelled",
        j.queued, j.leased, j.succeeded, j.dead, j.cancelled
    ));
    if let Some(summary) = &shown.summary {
        lines.push(format!("summary: {summary}"));
    }
    let event = shown.completion.is_some();
    lines.push(format!(
        "completion event: {}",
        if event { "signed" } else { "none" }
    ));
    output::text(&lines.join("\n"))
}
