//! `bundle verify`: run the verification procedure on each bundle and print verdicts.

use std::path::PathBuf;

use super::limits_args::LimitsArgs;
use super::output::{self, CliError, Exit};
use crate::bundle::{error_chain, Discard, ExpiryPolicy, Report, TranscriptView, Trust, Verifier};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Trust file (stella.trust.v1).
    #[arg(long, value_name = "FILE")]
    trust: PathBuf,
    /// Print one verification transcript per bundle, one JSON document per line.
    #[arg(long)]
    json: bool,
    /// Accept bundles whose expiresAt has passed. Recorded in the transcript.
    #[arg(long)]
    dangerously_accept_expired: bool,
    #[command(flatten)]
    limits: LimitsArgs,
    /// Bundles (.tar.zst) to verify.
    #[arg(required = true, value_name = "BUNDLE")]
    bundles: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let trust = Trust::load(&args.trust).map_err(CliError::usage)?;
    let policy = match args.dangerously_accept_expired {
        true => ExpiryPolicy::DangerouslyAcceptExpired,
        false => ExpiryPolicy::Enforce,
    };
    let verifier = Verifier::new(&trust, args.limits.limits()).expiry_policy(policy);
    let mut worst = Exit::Ok;
    for path in &args.bundles {
        let report = verifier.verify(path, &mut Discard);
        worst = worse(worst, exit_for(&report));
        match args.json {
            true => output::json(&TranscriptView::new(
                &report.transcript,
                report.manifest.as_ref(),
            ))?,
            false => output::text(&summary(&report))?,
        }
    }
    match worst {
        Exit::Ok => Ok(()),
        exit => Err(CliError::reported(exit)),
    }
}

fn exit_for(report: &Report) -> Exit {
    match &report.error {
        None => Exit::Ok,
        Some(e) if e.is_environment() => Exit::Usage,
        Some(_) => Exit::Refused,
    }
}

fn worse(a: Exit, b: Exit) -> Exit {
    if (b as u8) > (a as u8) {
        b
    } else {
        a
    }
}

fn summary(report: &Report) -> String {
    let t = &report.transcript;
    if let Some(err) = &report.error {
        return format!("{}: invalid: {}", t.bundle, error_chain(err));
    }
    let m = report
        .manifest
        .as_ref()
        .expect("a valid report has its manifest");
    let id = t.bundle_id.as_ref().map(|b| b.as_str()).unwrap_or("?");
    let counted: Vec<&str> = t
        .signatures
        .iter()
        .filter(|s| s.counted)
        .map(|s| crate::bundle::short_keyid(&s.keyid))
        .collect();
    format!(
        "{}: valid: bundle {id}, feed {} sequence {} ({}), {} members, {} bytes, signed by {}",
        t.bundle,
        m.feed,
        m.sequence,
        m.mode,
        t.checked.len(),
        t.bytes_checked,
        counted.join(", ")
    )
}
