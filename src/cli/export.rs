//! `export`: write a completion bundle of every finished run not exported yet.

use std::path::PathBuf;

use super::data_dir_args::{DataDirArgs, Site};
use super::output::{self, CliError};
use super::progress::Working;
use crate::export::{self as completion, Site as Signer};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    /// The bundle file to write; a folder gets <site>-<sequence>.tar.zst inside it.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let dir = args.data_dir.dir();
    let site = Site::open(&dir)?;
    let mut store = dir.open_store().map_err(CliError::usage)?;
    let signer = Signer {
        id: &site.config.site_id,
        key: &site.key,
    };
    let working = Working::start("export", format!("writing {}", args.out.display()));
    let exported = completion::export(&mut store, &signer, &args.out);
    drop(working);
    let exported = exported.map_err(CliError::usage)?;
    match (args.json, exported) {
        (true, e) => output::json_pretty(&serde_json::json!({"exported": e})),
        (false, None) => output::text("nothing to export: no finished run since the last export"),
        (false, Some(e)) => output::text(&format!(
            "exported {} run(s) to {} (feed {} sequence {}, bundle {})",
            e.runs.len(),
            e.file.display(),
            e.feed,
            e.sequence,
            e.bundle_id
        )),
    }
}
