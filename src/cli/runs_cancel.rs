//! `runs cancel`: stop a run; its open jobs are cancelled and no worker takes them.

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::jobs::now_ms;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    run_id: String,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let mut store = args.data_dir.dir().open_store().map_err(CliError::usage)?;
    let cancelled = store
        .cancel_run(&args.run_id, now_ms())
        .map_err(CliError::usage)?;
    if !cancelled {
        let why = match store.run(&args.run_id).map_err(CliError::usage)? {
            None => format!("no run {:?} in this data dir", args.run_id),
            Some(run) => format!("run {} is {}, not cancellable", run.run_id, run.state),
        };
        return Err(CliError::refused(anyhow::anyhow!(why)));
    }
    match args.json {
        true => output::json(&serde_json::json!({"runId": args.run_id, "state": "cancelled"})),
        false => output::text(&format!("cancelled {}", args.run_id)),
    }
}
