//! `offline-kit export`: the site's whole state as one signed kit (docs/offline-kit.md).

use std::path::PathBuf;

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::offline_kit::{self, ExportError, Exported};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    /// Where to write the kit (written atomically; same state, same bytes).
    #[arg(long, value_name = "KIT.tar.zst")]
    out: PathBuf,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let exported = offline_kit::export(&args.data_dir.dir(), &args.out).map_err(classify)?;
    if args.json {
        return output::json_pretty(&exported);
    }
    output::text(&render(&exported))
}

fn classify(e: ExportError) -> CliError {
    match e.is_refusal() {
        true => CliError::refused(e),
        false => CliError::usage(e),
    }
}

fn render(e: &Exported) -> String {
    let d = &e.documents;
    format!(
        "wrote {}: kit {} (feed {} sequence {}, created {})\n\
         {} feeds; {} advisories, {} vex, {} sboms",
        e.out,
        e.bundle_id,
        e.feed,
        e.sequence,
        e.created_at,
        e.heads.len(),
        d.advisory,
        d.vex,
        d.sbom
    )
}
