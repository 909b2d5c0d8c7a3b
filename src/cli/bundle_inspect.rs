//! `bundle inspect`: a bundle's own claims, without trust. Nothing here is verified.

use std::path::PathBuf;

use serde::Serialize;

use super::limits_args::LimitsArgs;
use super::output::{self, CliError};
use crate::bundle::{inspect, BundleId, Manifest};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: LimitsArgs,
    #[arg(value_name = "BUNDLE")]
    bundle: PathBuf,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Inspection<'a> {
    bundle_id: &'a BundleId,
    manifest: &'a Manifest,
    /// Key ids the envelope claims; none of the signatures was checked.
    signed_by: &'a [String],
    verified: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let found =
        inspect(&args.bundle, &args.limits.limits()).map_err(|e| match e.is_environment() {
            true => CliError::usage(e),
            false => CliError::refused(e),
        })?;
    if args.json {
        return output::json_pretty(&Inspection {
            bundle_id: &found.id,
            manifest: &found.manifest,
            signed_by: &found.keyids,
            verified: false,
        });
    }
    let m = &found.manifest;
    let mut lines = vec![
        "UNVERIFIED: signatures and member digests were not checked".to_owned(),
        format!("bundle id  {}", found.id),
        format!("feed       {} sequence {} ({})", m.feed, m.sequence, m.mode),
        format!(
            "previous   {}",
            m.previous.as_ref().map_or("(none)", |p| p.as_str())
        ),
        format!("created    {}", m.created_at),
        format!(
            "expires    {}",
            m.expires_at.as_deref().unwrap_or("(never)")
        ),
        format!("signed by  {}", found.keyids.join(", ")),
        format!("documents  {}", m.documents.len()),
    ];
    for d in &m.documents {
        lines.push(format!(
            "  {} {}/{} {} bytes",
            d.path, d.kind, d.format, d.size
        ));
    }
    for w in &m.withdrawn {
        lines.push(format!("  withdraws {} {}", w.kind, w.id));
    }
    output::text(&lines.join("\n"))
}
