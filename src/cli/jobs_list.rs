//! `jobs list`: jobs by state and run.

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::store::JobRecord;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    /// Only jobs in this state (queued, leased, succeeded, dead, cancelled).
    #[arg(long, value_name = "STATE")]
    state: Option<String>,
    /// Only the jobs of this run.
    #[arg(long, value_name = "RUN_ID")]
    run: Option<String>,
    #[arg(long, value_name = "N", default_value_t = 100)]
    limit: u64,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let store = args.data_dir.dir().open_store().map_err(CliError::usage)?;
    let jobs = store
        .jobs(args.state.as_deref(), args.run.as_deref(), args.limit)
        .map_err(CliError::usage)?;
    if args.json {
        return output::json_pretty(&jobs);
    }
    let lines: Vec<String> = jobs.iter().map(line).collect();
    output::text(&lines.join("\n"))
}

fn line(job: &JobRecord) -> String {
    let breached = if job.sla_breached {
        "  SLA BREACHED"
    } else {
        ""
    };
    let error = job
        .last_error
        .as_deref()
        .map(|e| format!("  last error: {e}"))
        .unwrap_or_default();
    format!(
        "{:>8}  {}  {:<9}  {:<8}  attempt {}/{}  {}{breached}{error}",
        job.job_id,
        job.run_id,
        job.state,
        job.severity,
        job.attempt,
        job.max_attempts,
        job.artifact
    )
}
