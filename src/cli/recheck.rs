//! `recheck`: a run over what a selector names, at the latest position.

use super::data_dir_args::{DataDirArgs, Site};
use super::output::{self, CliError};
use crate::impact::Selector;
use crate::jobs::{self, now_ms};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    /// {"all":true}, {"artifact":"sha256:.."}, {"purl":"pkg:.."} or {"vulnerability":"ID"}.
    #[arg(long, value_name = "JSON")]
    selector: String,
    /// The same key always gives the same run (the first one created with it).
    #[arg(long, value_name = "KEY")]
    idempotency_key: Option<String>,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let dir = args.data_dir.dir();
    let site = Site::open(&dir)?;
    let selector = Selector::parse(&args.selector).map_err(CliError::refused)?;
    let mut store = dir.open_store().map_err(CliError::usage)?;
    let key = args.idempotency_key.as_deref();
    let (run, created) = jobs::recheck(&mut store, &selector, key, &site.policies, now_ms())
        .map_err(CliError::refused)?;
    if args.json {
        return output::json_pretty(&serde_json::json!({"run": run, "created": created}));
    }
    let verb = if created { "created" } else { "exists " };
    output::text(&format!("{verb} {}", super::runs_list::line(&run)))
}
