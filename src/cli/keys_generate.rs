//! `keys generate`: a new Ed25519 key pair on disk.

use std::path::PathBuf;

use anyhow::anyhow;
use serde::Serialize;

use super::output::{self, CliError};
use crate::bundle::keys;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder to write NAME.key and NAME.pub into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Base name of the two files ([A-Za-z0-9._-]+).
    #[arg(long)]
    name: String,
    /// Print {"keyid", "privateKey", "publicKey"} as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Generated {
    keyid: String,
    private_key: String,
    public_key: String,
}

pub fn run(args: Args) -> Result<(), CliError> {
    check_name(&args.name)?;
    let key = keys::generate().map_err(CliError::usage)?;
    let files = keys::write_key_pair(&args.out, &args.name, &key).map_err(CliError::usage)?;
    let keyid = keys::key_id(&key.verifying_key());
    if args.json {
        return output::json_pretty(&Generated {
            keyid,
            private_key: files.private.display().to_string(),
            public_key: files.public.display().to_string(),
        });
    }
    output::text(&keyid)
}

fn check_name(name: &str) -> Result<(), CliError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        return Ok(());
    }
    Err(CliError::usage(anyhow!(
        "key name {name:?} must match [A-Za-z0-9._-]+ and not start with '.'"
    )))
}
