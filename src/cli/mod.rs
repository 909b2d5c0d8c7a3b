//! Command-line faces over the library. One file per subcommand; `main` only dispatches.
//!
//! Exit codes (docs/cli.md): 0 success; 1 input refused or invalid (a bundle failed
//! verification, a document could not be classified, ...); 2 usage or environment error
//! (bad flags, unreadable files, invalid trust file). Data goes to stdout, diagnostics
//! to stderr.

mod bundle_create;
mod bundle_inspect;
mod bundle_verify;
mod data_dir_args;
mod export;
mod findings;
mod impact;
mod ingest;
mod init;
mod jobs_list;
mod jobs_retry;
mod keys_generate;
mod limits_args;
mod nats_args;
mod nats_publish;
mod offline_kit_export;
mod offline_kit_import;
mod output;
mod progress;
mod queue_pause;
mod recheck;
mod run;
mod runs_cancel;
mod runs_list;
mod runs_retry;
mod runs_show;
mod schedules_add;
mod schedules_delete;
mod schedules_list;
mod schedules_pause;
mod status;
mod tokens_add;
mod trust_add;
mod trust_list;
mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use output::{CliError, Exit};

/// Verifies and schedules signed advisory, VEX and SBOM bundles for air-gapped sites.
#[derive(Debug, Parser)]
#[command(name = "stella-scheduler", version, about)]
pub struct Cli {
    /// More diagnostics on stderr (-v info, -vv debug); STELLA_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// How log lines on stderr are written: text, or one JSON object per line.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: crate::telemetry::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a data dir: folders, store, config, trust file and site key.
    Init(init::Args),
    /// Apply the given bundles (and whatever waits in the inbox) in chain order.
    Ingest(ingest::Args),
    /// Watch the inbox and apply bundles as they arrive; --once drains and exits.
    Run(run::Args),
    /// Change-log position, feed heads, pending and quarantined bundles, counts.
    Status(status::Args),
    /// Findings (artifact x component x vulnerability, with VEX applied) as of a position.
    Findings(findings::Args),
    /// The artifacts a window or a selector impacts, with reasons (no run is created).
    Impact(impact::Args),
    /// Runs: list, show, cancel, retry.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Create a run over what a selector names (all, an artifact, a purl, a vulnerability).
    Recheck(recheck::Args),
    /// Jobs: list, retry a dead-lettered one.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Cron schedules in a time zone that create recheck runs: add, list, delete, pause,
    /// resume.
    #[command(subcommand)]
    Schedules(SchedulesCommand),
    /// Only run jobs (next to `run`, which plans, finishes and exports); see docs/scheduler.md.
    Worker(worker::Args),
    /// Pause or resume job claims.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Write a completion bundle of the runs finished since the last export.
    Export(export::Args),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Trust files: which keys may sign which feeds.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// API tokens (docs/api.md).
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Create, verify and inspect bundles (format v1).
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Move a site's whole state as one signed bundle (docs/offline-kit.md).
    #[command(subcommand)]
    OfflineKit(OfflineKitCommand),
    /// Connected mode helpers (docs/transport.md): publish bundles to NATS.
    #[command(subcommand)]
    Nats(NatsCommand),
}

#[derive(Debug, Subcommand)]
enum NatsCommand {
    /// Publish bundle files to <prefix>.<feed>, large ones through the object bucket.
    Publish(nats_publish::Args),
}

#[derive(Debug, Subcommand)]
enum RunsCommand {
    /// Runs, newest first.
    List(runs_list::Args),
    /// One run: jobs, impact set, summary, completion event.
    Show(runs_show::Args),
    /// Cancel a run and its open jobs.
    Cancel(runs_cancel::Args),
    /// Queue a failed run's dead-lettered jobs again.
    Retry(runs_retry::Args),
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Jobs by state and run.
    List(jobs_list::Args),
    /// Revive a dead-lettered job.
    Retry(jobs_retry::Args),
}

#[derive(Debug, Subcommand)]
enum SchedulesCommand {
    /// Add a schedule; it owes its latest fire time, so the next `run` pass fires it.
    Add(schedules_add::Args),
    /// Schedules by name, with their next and last fire times.
    List(schedules_list::Args),
    /// Delete a schedule (its runs stay).
    Delete(schedules_delete::Args),
    /// Stop a schedule from creating runs.
    Pause(schedules_pause::Args),
    /// Restart a paused schedule from its next fire time after now.
    Resume(schedules_pause::Args),
}

#[derive(Debug, Subcommand)]
enum QueueCommand {
    /// Stop claims (running jobs finish).
    Pause(queue_pause::Args),
    /// Restart claims.
    Resume(queue_pause::Args),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Generate an Ed25519 key pair: NAME.key (private, 0600) and NAME.pub.
    Generate(keys_generate::Args),
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Add a token with scopes and a tenant to the tokens file; prints it once.
    Add(tokens_add::Args),
}

#[derive(Debug, Subcommand)]
enum TrustCommand {
    /// Add a public key to a trust file (created if absent), or extend its feeds.
    Add(trust_add::Args),
    /// List the keys of a trust file.
    List(trust_list::Args),
}

#[derive(Debug, Subcommand)]
enum BundleCommand {
    /// Build a signed bundle from documents (kind and format detected from content).
    Create(bundle_create::Args),
    /// Verify bundles against a trust file; exit 0 only if every one is valid.
    Verify(bundle_verify::Args),
    /// Show a bundle's manifest without checking any signature (marked unverified).
    Inspect(bundle_inspect::Args),
}

#[derive(Debug, Subcommand)]
enum OfflineKitCommand {
    /// Write every current document, the feed heads, the trust file and the site public
    /// key as one kit signed by the site key.
    Export(offline_kit_export::Args),
    /// Verify a kit with the exporting site's key and replace this site's state with it.
    Import(offline_kit_import::Args),
}

/// Runs the command and turns its outcome into the documented exit code.
pub fn main(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Init(args) => init::run(args),
        Command::Ingest(args) => ingest::run(args),
        Command::Run(args) => run::run(args),
        Command::Status(args) => status::run(args),
        Command::Findings(args) => findings::run(args),
        Command::Impact(args) => impact::run(args),
        Command::Runs(RunsCommand::List(args)) => runs_list::run(args),
        Command::Runs(RunsCommand::Show(args)) => runs_show::run(args),
        Command::Runs(RunsCommand::Cancel(args)) => runs_cancel::run(args),
        Command::Runs(RunsCommand::Retry(args)) => runs_retry::run(args),
        Command::Recheck(args) => recheck::run(args),
        Command::Jobs(JobsCommand::List(args)) => jobs_list::run(args),
        Command::Jobs(JobsCommand::Retry(args)) => jobs_retry::run(args),
        Command::Schedules(SchedulesCommand::Add(args)) => schedules_add::run(args),
        Command::Schedules(SchedulesCommand::List(args)) => schedules_list::run(args),
        Command::Schedules(SchedulesCommand::Delete(args)) => schedules_delete::run(args),
        Command::Schedules(SchedulesCommand::Pause(args)) => schedules_pause::run(args, true),
        Command::Schedules(SchedulesCommand::Resume(args)) => schedules_pause::run(args, false),
        Command::Queue(QueueCommand::Pause(args)) => queue_pause::run(args, true),
        Command::Queue(QueueCommand::Resume(args)) => queue_pause::run(args, false),
        Command::Export(args) => export::run(args),
        Command::Worker(args) => worker::run(args),
        Command::Keys(KeysCommand::Generate(args)) => keys_generate::run(args),
        Command::Trust(TrustCommand::Add(args)) => trust_add::run(args),
        Command::Tokens(TokensCommand::Add(args)) => tokens_add::run(args),
        Command::Trust(TrustCommand::List(args)) => trust_list::run(args),
        Command::Bundle(BundleCommand::Create(args)) => bundle_create::run(args),
        Command::Bundle(BundleCommand::Verify(args)) => bundle_verify::run(args),
        Command::Bundle(BundleCommand::Inspect(args)) => bundle_inspect::run(args),
        Command::OfflineKit(OfflineKitCommand::Export(args)) => offline_kit_export::run(args),
        Command::OfflineKit(OfflineKitCommand::Import(args)) => offline_kit_import::run(args),
        Command::Nats(NatsCommand::Publish(args)) => nats_publish::run(args),
    };
    match result {
        Ok(()) => ExitCode::from(Exit::Ok as u8),
        Err(err) => err.report(),
    }
}
