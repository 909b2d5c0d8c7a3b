//! `schedules delete`: removes a schedule; the runs it created stay.

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::jobs::schedule;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    #[arg(long, value_name = "NAME")]
    name: String,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let mut store = args.data_dir.dir().open_store().map_err(CliError::usage)?;
    schedule::delete(&mut store, &args.name).map_err(super::schedules_add::failed)?;
    match args.json {
        true => output::json(&serde_json::json!({"deleted": args.name})),
        false => output::text(&format!("deleted {}", args.name)),
    }
}
