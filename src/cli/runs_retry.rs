//! `runs retry`: revive a failed run; its dead-lettered jobs are queued again.

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
    let revived = store
        .retry_run(&args.run_id, now_ms())
        .map_err(CliError::usage)?;
    let Some(revived) = revived else {
        let why = match store.run(&args.run_id).map_err(CliError::usage)? {
            None => format!("no run {:?} in this data dir", args.run_id),
            Some(run) => format!(
                "run {} is {}; only a failed run can be retried",
                run.run_id, run.state
            ),
        };
        return Err(CliError::refused(anyhow::anyhow!(why)));
    };
    match args.json {
        true => output::json(&serde_json::json!({"runId": args.run_id, "requeued": revived})),
        false => output::text(&format!(
            "{}: {revived} dead job(s) queued again",
            args.run_id
        )),
    }
}
