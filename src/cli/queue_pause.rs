//! `queue pause` / `queue resume`: stop or restart claims; running jobs finish.

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    #[arg(long)]
    json: bool,
}

/// Sets the queue's pause flag (`paused` false resumes).
pub fn run(args: Args, paused: bool) -> Result<(), CliError> {
    let mut store = args.data_dir.dir().open_store().map_err(CliError::usage)?;
    store.set_paused(paused).map_err(CliError::usage)?;
    let word = if paused { "paused" } else { "running" };
    match args.json {
        true => output::json(&serde_json::json!({"queue": word})),
        false => output::text(&format!("queue {word}")),
    }
}
