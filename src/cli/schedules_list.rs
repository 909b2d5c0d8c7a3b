//! `schedules list`: every schedule, by name.

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::store::ScheduleRecord;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let store = args.data_dir.dir().open_store().map_err(CliError::usage)?;
    let schedules = store.schedules(None).map_err(CliError::usage)?;
    if args.json {
        return output::json_pretty(&schedules);
    }
    if schedules.is_empty() {
        return output::text("no schedules");
    }
    let lines: Vec<String> = schedules.iter().map(line).collect();
    output::text(&lines.join("\n"))
}

/// `nightly  active  "30 2 * * *" Europe/Berlin  next 2026-12-05T01:30:00Z  last -  {"all":true}`
pub fn line(s: &ScheduleRecord) -> String {
    format!(
        "{}  {}  {:?} {}  next {}  last {}  {}",
        s.schedule_id,
        if s.paused { "paused" } else { "active" },
        s.cron,
        s.timezone,
        s.next_fire,
        s.last_fired.as_deref().unwrap_or("-"),
        s.selector
    )
}
