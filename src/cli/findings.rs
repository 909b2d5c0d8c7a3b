//! `findings`: every (artifact, component, vulnerability) finding as of a position.

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::findings::{self, Query, VexPolicy};
use crate::model::Digest;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    /// Only this artifact (sha256:HEX).
    #[arg(long, value_name = "sha256:HEX")]
    artifact: Option<Digest>,
    /// Only this vulnerability (matches its aliases too).
    #[arg(long, value_name = "ID")]
    vuln: Option<String>,
    /// Evaluate the state as it was at this change-log position (default: the latest).
    #[arg(long, value_name = "POSITION")]
    as_of: Option<u64>,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let dir = args.data_dir.dir();
    let config = dir.config().map_err(CliError::usage)?;
    let store = dir.open_store().map_err(CliError::usage)?;
    let policy = VexPolicy {
        per_feed: config
            .vex_issuers
            .into_iter()
            .map(|(feed, issuers)| (feed, issuers.into_iter().collect()))
            .collect(),
    };
    let query = Query {
        as_of: args.as_of,
        artifact: args.artifact,
        vulnerability: args.vuln,
    };
    let report = findings::compute(&store, &query, &policy).map_err(CliError::usage)?;
    if args.json {
        let bytes = crate::canonical::to_vec_pretty(&report).map_err(CliError::usage)?;
        return output::text(String::from_utf8_lossy(&bytes).trim_end());
    }
    let mut lines = vec![format!(
        "position {}: {} findings",
        report.position,
        report.findings.len()
    )];
    for f in &report.findings {
        let fixed = f
            .fixed_in
            .as_deref()
            .map(|v| format!(" (fixed in {v})"))
            .unwrap_or_default();
        lines.push(format!(
            "{}  {}  {:<20} {}{fixed}",
            f.artifact, f.component, f.status, f.vulnerability
        ));
    }
    output::text(&lines.join("\n"))
}
