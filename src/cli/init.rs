//! `init`: a new data dir with its folders, store, config, trust file and site key.

use std::path::PathBuf;

use super::data_dir_args::DataDirArgs;
use super::output::{self, CliError};
use crate::ingest::InitOptions;

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
    /// Start from a copy of this trust file (validated) instead of an empty one.
    #[arg(long, value_name = "FILE")]
    import_trust: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let options = InitOptions {
        site_id: args.site_id.as_deref(),
        site_key: args.site_key.as_deref(),
        trust: args.trust.as_deref(),
        import_trust: args.import_trust.as_deref(),
    };
    let made = args
        .data_dir
        .dir()
        .init(&options)
        .map_err(CliError::usage)?;
    if args.json {
        return output::json_pretty(&made);
    }
    output::text(&format!(
        "initialized {}\nsite id {}\nkeyid   {}",
        made.data_dir, made.site_id, made.keyid
    ))
}
