//! `schedules pause` / `schedules resume`: a paused schedule creates no run; a resumed
//! one skips the fire times that passed while it was paused.

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::jobs::{now_ms, schedule};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    #[arg(long, value_name = "NAME")]
    name: String,
    #[arg(long)]
    json: bool,
}

/// Pauses (`paused` true) or resumes the named schedule.
pub fn run(args: Args, paused: bool) -> Result<(), CliError> {
    let mut store = args.data_dir.dir().open_store().map_err(CliError::usage)?;
    let changed = match paused {
        true => schedule::pause(&mut store, &args.name),
        false => schedule::resume(&mut store, &args.name, now_ms()),
    };
    let changed = changed.map_err(super::schedules_add::failed)?;
    match args.json {
        true => output::json_pretty(&changed),
        false => output::text(&super::schedules_list::line(&changed)),
    }
}
