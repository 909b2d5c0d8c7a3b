//! `trust add`: put a public key into a trust file for some feeds.

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;

use super::output::{self, CliError};
use crate::bundle::{keys, manifest::parse_time, TrustFile};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Trust file to create or update.
    #[arg(long, value_name = "FILE")]
    trust: PathBuf,
    /// The key's NAME.pub file (standard base64 of the raw 32-byte key).
    #[arg(long, value_name = "NAME.pub")]
    public_key: PathBuf,
    /// A feed the key may sign; repeat for several, or "*" for every feed.
    #[arg(long = "feed", required = true, value_name = "FEED")]
    feeds: Vec<String>,
    /// Signatures by this key stop counting after this RFC 3339 time.
    #[arg(long, value_name = "RFC3339")]
    not_after: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Added {
    trust: String,
    keyid: String,
    feeds: Vec<String>,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let key = keys::read_public_key(&args.public_key).map_err(CliError::usage)?;
    if let Some(t) = &args.not_after {
        parse_time(t)
            .with_context(|| format!("--not-after {t:?} is not an RFC 3339 time"))
            .map_err(CliError::usage)?;
    }
    let mut file = match args.trust.exists() {
        true => TrustFile::read(&args.trust).map_err(CliError::usage)?,
        false => TrustFile::empty(),
    };
    file.upsert(&key, &args.feeds, args.not_after.clone());
    file.write(&args.trust).map_err(CliError::usage)?;
    let keyid = keys::key_id(&key);
    let feeds = file
        .keys
        .iter()
        .find(|k| k.keyid == keyid)
        .map(|k| k.feeds.clone())
        .unwrap_or_default();
    if args.json {
        let trust = args.trust.display().to_string();
        return output::json_pretty(&Added {
            trust,
            keyid,
            feeds,
        });
    }
    output::text(&format!("{keyid} trusted for {}", feeds.join(", ")))
}
