//! `trust list`: the keys of a trust file and whether each counts today.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use time::OffsetDateTime;

use super::output::{self, CliError};
use crate::bundle::trust::TrustedKeyEntry;
use crate::bundle::{Trust, TrustFile};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_name = "FILE")]
    trust: PathBuf,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Listing {
    keys: Vec<Listed>,
    /// Per-feed thresholds set in the file; every other feed needs one signature.
    thresholds: BTreeMap<String, u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    keyid: String,
    feeds: Vec<String>,
    not_after: Option<String>,
    /// active, expired or revoked, as of now.
    status: &'static str,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let file = TrustFile::read(&args.trust).map_err(CliError::usage)?;
    let trust = Trust::load(&args.trust).map_err(CliError::usage)?;
    let now = OffsetDateTime::now_utc();
    let keys: Vec<Listed> = file.keys.iter().map(|e| listed(e, &trust, now)).collect();
    let thresholds = file
        .feeds
        .iter()
        .map(|(f, p)| (f.clone(), p.threshold))
        .collect();
    if args.json {
        return output::json_pretty(&Listing { keys, thresholds });
    }
    let lines: Vec<String> = keys
        .iter()
        .map(|k| {
            let until = k.not_after.as_deref().unwrap_or("no expiry");
            format!(
                "{}  {:<8} {}  (until {until})",
                k.keyid,
                k.status,
                k.feeds.join(",")
            )
        })
        .collect();
    output::text(&lines.join("\n"))
}

fn listed(entry: &TrustedKeyEntry, trust: &Trust, now: OffsetDateTime) -> Listed {
    let key = trust
        .key(&entry.keyid)
        .expect("every entry was validated by Trust::load");
    let status = match (key.revoked, key.expired_at(now)) {
        (true, _) => "revoked",
        (false, true) => "expired",
        (false, false) => "active",
    };
    Listed {
        keyid: entry.keyid.clone(),
        feeds: entry.feeds.clone(),
        not_after: entry.not_after.clone(),
        status,
    }
}
