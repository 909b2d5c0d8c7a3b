//! `schedules add`: a cron expression in a time zone that creates recheck runs.

use anyhow::Context as _;

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::impact::Selector;
use crate::jobs::now_ms;
use crate::jobs::policy::ALL_TENANTS;
use crate::jobs::schedule::{self, NewScheduleSpec, ScheduleError};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    /// The schedule's name, also its id: [a-z0-9][a-z0-9._-]{0,63}.
    #[arg(long, value_name = "NAME")]
    name: String,
    /// Five fields, minute hour day-of-month month day-of-week ("30 2 * * MON-FRI"), or
    /// @hourly, @daily, @weekly, @monthly, @yearly.
    #[arg(long, value_name = "EXPR")]
    cron: String,
    /// The IANA time zone the expression is read in (Europe/Berlin, UTC).
    #[arg(long, value_name = "TZ")]
    timezone: String,
    /// What each run rechecks: {"all":true}, {"artifact":"sha256:.."}, {"purl":"pkg:.."}
    /// or {"vulnerability":"ID"}.
    #[arg(long, value_name = "JSON")]
    selector: String,
    #[arg(long)]
    json: bool,
}

/// Adds the schedule for every tenant (the operator's, like `recheck`); it owes its
/// latest fire time, so the next `run` pass creates its first run.
pub fn run(args: Args) -> Result<(), CliError> {
    let selector = Selector::parse(&args.selector)
        .context("--selector")
        .map_err(CliError::refused)?;
    let mut store = args.data_dir.dir().open_store().map_err(CliError::usage)?;
    let spec = NewScheduleSpec {
        name: &args.name,
        tenant: ALL_TENANTS,
        cron: &args.cron,
        timezone: &args.timezone,
        selector: &selector,
    };
    let added = schedule::add(&mut store, &spec, now_ms()).map_err(failed)?;
    match args.json {
        true => output::json_pretty(&added),
        false => output::text(&format!("added {}", super::schedules_list::line(&added))),
    }
}

/// Exit 1 for what the user asked wrongly (a bad name, expression, zone; a taken or
/// unknown name), 2 for the store's failures.
pub fn failed(error: ScheduleError) -> CliError {
    match error {
        ScheduleError::Store(_) | ScheduleError::Stored { .. } | ScheduleError::Clock(_) => {
            CliError::usage(error)
        }
        _ => CliError::refused(error),
    }
}
