//! `impact`: the impact set of a window or a selector, without creating a run.

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::impact::{self, ImpactSet, Selector};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["window", "selector"])))]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    /// The window of the bundle applied at this change-log position.
    #[arg(long, value_name = "POSITION")]
    window: Option<u64>,
    /// A selector: {"all":true}, {"artifact":"sha256:.."}, {"purl":"pkg:.."} or
    /// {"vulnerability":"ID"}.
    #[arg(long, value_name = "JSON")]
    selector: Option<String>,
    /// For a selector: the position to read (default: the latest).
    #[arg(long, value_name = "POSITION", conflicts_with = "window")]
    as_of: Option<u64>,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let store = args.data_dir.dir().open_store().map_err(CliError::usage)?;
    store
        .map_for_reading(crate::service::READ_MAP_BYTES)
        .map_err(CliError::usage)?;
    let set = match (&args.window, &args.selector) {
        (Some(position), _) => impact::window(&store, *position).map_err(CliError::usage)?,
        (None, Some(text)) => {
            let selector = Selector::parse(text).map_err(CliError::refused)?;
            let latest = store.position().map_err(CliError::usage)?;
            let position = args.as_of.unwrap_or(latest);
            impact::select(&store, &selector, position).map_err(CliError::usage)?
        }
        (None, None) => {
            return Err(CliError::usage(anyhow::anyhow!(
                "give --window or --selector"
            )))
        }
    };
    match args.json {
        true => output::json_pretty(&set),
        false => output::text(&describe(&set)),
    }
}

fn describe(set: &ImpactSet) -> String {
    let mut lines = vec![format!(
        "position {}: {} artifact(s), digest {}",
        set.position,
        set.artifacts.len(),
        set.digest
    )];
    for a in &set.artifacts {
        let name = a.name.as_deref().unwrap_or("-");
        lines.push(format!("{} {} [{}]", a.artifact, name, a.severity));
        for r in &a.reasons {
            let component = r.component.as_deref().unwrap_or("");
            lines.push(format!(
                "    {} {} {}/{} {component}",
                r.change, r.kind, r.feed, r.id
            ));
        }
    }
    lines.join("\n") + "\n"
}
