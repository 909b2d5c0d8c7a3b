//! `ingest`: copy bundles into the inbox and apply everything there in chain order.

use std::path::{Path, PathBuf};

use super::data_dir_args::{ApplyArgs, DataDirArgs};
use super::output::{self, CliError, Exit};
use super::progress::Files;
use crate::ingest::{inbox, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    #[command(flatten)]
    apply: ApplyArgs,
    /// Print the outcomes as one JSON array.
    #[arg(long)]
    json: bool,
    /// Bundles to apply (copied into the inbox first; the originals stay).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let dir = args.data_dir.dir();
    let mut ingestor = args.apply.open_ingestor(&dir)?;
    ingestor.enqueue(&args.files).map_err(CliError::usage)?;
    let ready = inbox::bundles_in(&dir.inbox()).map_err(CliError::usage)?;
    let mut files = Files::new("ingest", &ready);
    // One line per file above the bar, when a person is watching.
    let mut progress = |outcome: &Outcome| {
        files.println(&describe(outcome));
        files.done(outcome_file(outcome));
    };
    let outcomes = ingestor
        .drain(ready, &mut progress)
        .map_err(CliError::usage)?;
    drop(files);
    report(&outcomes, args.json)
}

/// Where the file of an outcome ended up.
fn outcome_file(outcome: &Outcome) -> &Path {
    match outcome {
        Outcome::Applied { file, .. }
        | Outcome::Duplicate { file, .. }
        | Outcome::Pending { file, .. }
        | Outcome::Quarantined { file, .. } => file,
    }
}

/// Prints outcomes; exit 1 if any bundle was quarantined.
pub fn report(outcomes: &[Outcome], json: bool) -> Result<(), CliError> {
    if json {
        output::json_pretty(outcomes)?;
    } else {
        let lines: Vec<String> = outcomes.iter().map(describe).collect();
        if !lines.is_empty() {
            output::text(&lines.join("\n"))?;
        }
    }
    match outcomes
        .iter()
        .any(|o| matches!(o, Outcome::Quarantined { .. }))
    {
        true => Err(CliError::reported(Exit::Refused)),
        false => Ok(()),
    }
}

pub fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Applied {
            position,
            feed,
            sequence,
            file,
            ..
        } => {
            format!(
                "applied     {feed} #{sequence} at position {position}  ({})",
                file.display()
            )
        }
        Outcome::Duplicate { position, file, .. } => {
            format!("duplicate   of position {position}  ({})", file.display())
        }
        Outcome::Pending {
            feed,
            sequence,
            waiting_for,
            file,
        } => format!(
            "pending     {feed} #{sequence} waits for #{waiting_for}  ({})",
            file.display()
        ),
        Outcome::Quarantined { file, step, error } => {
            format!("quarantined at {step}: {error}  ({})", file.display())
        }
    }
}
