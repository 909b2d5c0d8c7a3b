//! `jobs retry`: revive a dead-lettered job with fresh attempts.

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::jobs::now_ms;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    job_id: u64,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let mut store = args.data_dir.dir().open_store().map_err(CliError::usage)?;
    if !store
        .retry_job(args.job_id, now_ms())
        .map_err(CliError::usage)?
    {
        let why = match store.job(args.job_id).map_err(CliError::usage)? {
            None => format!("no job {} in this data dir", args.job_id),
            Some(job) => format!(
                "job {} is {}; only a dead job can be retried",
                job.job_id, job.state
            ),
        };
        return Err(CliError::refused(anyhow::anyhow!(why)));
    }
    match args.json {
        true => output::json(&serde_json::json!({"jobId": args.job_id, "state": "queued"})),
        false => output::text(&format!("job {} queued again", args.job_id)),
    }
}
