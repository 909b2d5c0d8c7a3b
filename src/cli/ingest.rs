//! `ingest`: copy bundles into the inbox and apply everything there in chain order.

use std::path::PathBuf;

use super::data_dir_args::{ApplyArgs, DataDirArgs};
use super::output::{self, CliError, Exit};
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
    let outcomes = ingestor
        .drain(ready, &mut progress)
        .map_err(CliError::usage)?;
    report(&outcomes, args.json)
}

/// One line per file on stderr while the work goes on, when a person is watching.
fn progress(outcome: &Outcome) {
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        super::run::log_outcome(outcome);
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
