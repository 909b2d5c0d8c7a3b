//! `runs list`: runs, newest first.

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::store::RunRecord;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    /// Only runs in this state (queued, planning, running, completed, failed, cancelled).
    #[arg(long, value_name = "STATE")]
    state: Option<String>,
    /// At most this many runs.
    #[arg(long, value_name = "N", default_value_t = 50)]
    limit: u64,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let store = args.data_dir.dir().open_store().map_err(CliError::usage)?;
    let runs = store
        .runs(args.state.as_deref(), args.limit)
        .map_err(CliError::usage)?;
    if args.json {
        return output::json_pretty(&runs);
    }
    let lines: Vec<String> = runs.iter().map(line).collect();
    output::text(&lines.join("\n"))
}

/// `run-00000003  completed  window@3  6 artifact(s)`
pub fn line(run: &RunRecord) -> String {
    format!(
        "{}  {:<9}  {}@{}  {} artifact(s)",
        run.run_id, run.state, run.trigger, run.position, run.artifacts
    )
}
