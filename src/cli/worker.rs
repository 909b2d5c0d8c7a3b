//! `worker`: a process that only runs jobs. Planning, finishing runs, signing events and
//! exporting stay with `run`; any number of `worker` processes (and `run --workers N`)
//! claim from the same queue, each job under a lease and fencing token, so a job is
//! done once in effect whichever process takes it. `run` looks for the runs they finish
//! every 500 ms while jobs are open.
//!
//! On the embedded SQLite store, workers share one machine with the data dir; with
//! `--database-url` they can run on any machine that reaches the database.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context as _;

use super::data_dir_args::{DataDirArgs, Site};
use super::output::{self, CliError};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    /// Worker threads in this process.
    #[arg(long, value_name = "N", default_value_t = 2)]
    workers: usize,
    /// Run until no job is queued or leased, then exit (otherwise until SIGINT/SIGTERM).
    #[arg(long)]
    once: bool,
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let dir = args.data_dir.dir();
    let scheduler = Site::open(&dir)?.scheduler(&dir, false)?;
    let stop = Arc::new(AtomicBool::new(false));
    let set = stop.clone();
    ctrlc::set_handler(move || set.store(true, Ordering::SeqCst))
        .context("cannot install the SIGINT/SIGTERM handler")
        .map_err(CliError::usage)?;
    let n = args.workers.max(1);
    let workers = scheduler
        .spawn_workers(n, stop, args.once, None)
        .map_err(CliError::usage)?;
    tracing::info!(threads = n, "worker started");
    let jobs = workers.join().map_err(CliError::usage)?;
    if args.json {
        return output::json(&serde_json::json!({ "jobs": jobs }));
    }
    output::text(&format!("worker ran {jobs} job(s)"))
}
