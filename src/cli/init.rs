//! `init`: a new data dir with its folders, store, config, trust file and site key.

use std::path::PathBuf;

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::ingest::DataDirError;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    /// Site id (names the site's export feed); defaults to site-<keyid prefix>.
    #[arg(long)]
    site_id: Option<String>,
    /// Import this PKCS#8 PEM key as the site key instead of generating one.
    #[arg(long, value_name = "NAME.key")]
    site_key: Option<PathBuf>,
    /// Trust file path, relative to the data dir (default trust.json).
    #[arg(long, value_name = "FILE")]
    trust: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let dir = args.data_dir.dir();
    let made = dir
        .init(
            args.site_id.as_deref(),
            args.site_key.as_deref(),
            args.trust.as_deref(),
        )
        .map_err(|e| match e {
            DataDirError::SiteId { .. } => CliError::usage(e),
            other => CliError::usage(other),
        })?;
    if args.json {
        return output::json_pretty(&made);
    }
    output::text(&format!(
        "initialized {}\nsite id {}\nkeyid   {}",
        made.data_dir, made.site_id, made.keyid
    ))
}
