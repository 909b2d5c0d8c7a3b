//! `run`: watch the inbox, apply bundles as they arrive, plan their windows into runs,
//! run the jobs on `--workers` threads, and write completion events and bundles to the
//! outbox. `--once` drains everything (ingest, runs, jobs, export) and exits.
//!
//! File events come from `notify`; a periodic rescan covers file systems that drop
//! events. A file is taken only after its size and mtime held still for `--settle-ms`.
//! With `--nats-url`, bundles also arrive from NATS JetStream (written into the inbox
//! whole, so taken at once) and completion events are published there (docs/transport.md).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use notify::Watcher as _;

use super::data_dir_args::{ApplyArgs, DataDirArgs, Site};
use super::output::{self, CliError, Exit};
use crate::api::{self, ApiContext, Server, TokenFile};
use crate::ingest::inbox::{self, Settler};
use crate::ingest::{DataDir, Ingestor, Outcome};
use crate::service::{Scheduler, Step, Workers};
use crate::transport::{Nats, Paths};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data_dir: DataDirArgs,
    #[command(flatten)]
    apply: ApplyArgs,
    /// Watch this folder instead of DIR/inbox; settled files are moved into DIR/inbox.
    #[arg(long, value_name = "DIR")]
    inbox: Option<PathBuf>,
    /// Process what is there, wait for nothing new, and exit.
    #[arg(long)]
    once: bool,
    /// A file is taken once its size and mtime held still this long.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    settle_ms: u64,
    /// Full rescan period, for file systems that miss events. While jobs are open,
    /// `run` also looks every 500 ms for runs that `worker` processes have finished.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    rescan_secs: u64,
    /// Print each outcome as one JSON document per line on stdout.
    #[arg(long)]
    json: bool,
    /// Job workers hosted next to the watcher (0: plan runs but run no job here).
    #[arg(long, value_name = "N", default_value_t = 2)]
    workers: usize,
    /// Do not export completion bundles into the outbox as runs finish.
    #[arg(long)]
    no_export: bool,
    /// Serve the HTTP control plane (docs/api.md) on this address.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8440")]
    listen: Option<std::net::SocketAddr>,
    /// The API's tokens file (`tokens add` writes it) [default: DIR/tokens.json].
    #[arg(long, value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// Runtime hooks must carry an HMAC-SHA256 signature under the secret in this file.
    #[arg(long, value_name = "FILE")]
    hook_secret_file: Option<PathBuf>,
    // Boxed: the NATS names would make `Command::Run` the one large variant.
    #[command(flatten)]
    nats: Box<super::nats_args::NatsRunArgs>,
}

/// Starts the API when `--listen` asks for it; it stops when the returned server drops.
fn listen(args: &Args, dir: &DataDir, site: &Site) -> Result<Option<Server>, CliError> {
    let Some(addr) = args.listen else {
        return Ok(None);
    };
    let tokens_path = args
        .tokens
        .clone()
        .unwrap_or_else(|| dir.root().join("tokens.json"));
    let tokens = TokenFile::load(&tokens_path).map_err(CliError::usage)?;
    if tokens.tokens.is_empty() {
        tracing::warn!(file = %tokens_path.display(), "no API tokens: every /api/v1 call will be refused; add one with `stella-scheduler tokens add`");
    }
    let hook_secret = match &args.hook_secret_file {
        None => None,
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("cannot read the hook secret {}", path.display()))
                .map_err(CliError::usage)?
                .trim_ascii()
                .to_vec(),
        ),
    };
    let context = ApiContext::new(
        dir.clone(),
        site.policies.clone(),
        site.vex.clone(),
        tokens,
        hook_secret,
    );
    let server = api::serve(context, addr).map_err(CliError::usage)?;
    // The bound address, for `--listen 127.0.0.1:0` and for people; stderr is for them.
    let _ = writeln!(std::io::stderr(), "API listening on http://{}", server.addr);
    Ok(Some(server))
}

pub fn run(args: Args) -> Result<(), CliError> {
    let dir = args.data_dir.dir();
    let mut ingestor = args.apply.open_ingestor(&dir)?;
    let site = Site::open(&dir)?;
    let _api = listen(&args, &dir, &site)?;
    let mut scheduler = site.scheduler(&dir, !args.no_export)?;
    let watched = args.inbox.clone().unwrap_or_else(|| dir.inbox());
    let (wake_tx, wake) = mpsc::channel();
    let shutdown = shutdown_flag(wake_tx.clone()).map_err(CliError::usage)?;
    let progress = wake_tx.clone();
    let nats = start_nats(&args, &dir, wake_tx.clone())?;
    // Access events (the loop's own listing of the folder opens it) are not news: waking
    // on them made every pass wake the next, a busy loop.
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if !event.is_ok_and(|e| e.kind.is_access()) {
            let _ = wake_tx.send(());
        }
    })
    .and_then(|mut w| {
        w.watch(&watched, notify::RecursiveMode::NonRecursive)
            .map(|()| w)
    })
    .with_context(|| format!("cannot watch {}", watched.display()))
    .map_err(CliError::usage)?;
    let mut quarantined = false;
    let mut emit = |o: &Outcome| {
        quarantined |= matches!(o, Outcome::Quarantined { .. });
        log_outcome(o);
        if args.json {
            // A closed stdout is not a reason to stop applying bundles.
            let _ = output::json(o);
        }
    };
    // What an earlier `ingest` left in the write-ahead log (docs/state.md).
    ingestor.checkpoint().map_err(CliError::usage)?;
    let applied = ingestor.retry_pending(&mut emit).map_err(CliError::usage)?;
    checkpoint_after(&ingestor, &applied)?;
    let mut settler = Settler::new(Duration::from_millis(args.settle_ms));
    let rescan = Duration::from_secs(args.rescan_secs.max(1));
    let workers = match args.once {
        true => None,
        false => Some(
            scheduler
                .spawn_workers(args.workers, shutdown.clone(), false, Some(progress))
                .map_err(CliError::usage)?,
        ),
    };
    let mut outage = crate::service::Outage::default();
    loop {
        if shutdown.load(Ordering::SeqCst) && !args.once {
            break;
        }
        let mut ready =
            take_ready(&mut settler, &watched, &dir.inbox()).map_err(CliError::usage)?;
        if let Some(nats) = &nats {
            ready = with_arrivals(ready, nats.take_arrivals());
        }
        let stepped = drain_and_schedule(
            &mut ingestor,
            ready,
            &mut emit,
            &mut scheduler,
            (&args, &shutdown, workers.as_ref()),
        );
        let (applied, wrote) = match stepped {
            Ok(done) => {
                outage.over();
                done
            }
            // The database went away (a restart, a network cut): wait and try again;
            // files not applied stay in the inbox for the next pass.
            Err(e) if !args.once && e.is_transient() => {
                outage.wait(&shutdown);
                continue;
            }
            Err(e) => return Err(e),
        };
        // Only a pass that moved files (acks due) or wrote events is news for NATS: an
        // idle pass would wake it, and it the loop, for nothing.
        if !applied.is_empty() || wrote {
            nats.as_ref().inspect(|n| n.pass_done());
        }
        let waiting = !inbox::bundles_in(&watched)
            .map_err(CliError::usage)?
            .is_empty();
        if let Some(why) = nats.as_ref().and_then(Nats::failure) {
            return Err(CliError::usage(anyhow::anyhow!(why)));
        }
        let nats_busy = nats.as_ref().is_some_and(|n| !n.caught_up());
        if shutdown.load(Ordering::SeqCst) || (args.once && !waiting && !nats_busy) {
            break;
        }
        let nap = if waiting {
            settler.settle() / 2
        } else if args.once && nats_busy {
            Duration::from_millis(100)
        } else if jobs_open(&scheduler) {
            // Jobs that `worker` processes finish wake no one here: look again soon, so
            // their runs finish and emit without waiting out the rescan.
            OPEN_JOBS_POLL.min(rescan)
        } else {
            rescan
        };
        let _ = wake.recv_timeout(nap.max(Duration::from_millis(10)));
    }
    let _ = watcher.unwatch(&watched);
    shutdown.store(true, Ordering::SeqCst);
    if let Some(nats) = nats {
        nats.stop();
    }
    if let Some(workers) = workers {
        workers.join().map_err(CliError::usage)?;
    }
    match quarantined && args.once {
        true => Err(CliError::reported(Exit::Refused)),
        false => Ok(()),
    }
}

/// Starts the NATS consumer and publisher when `--nats-url` asks for them
/// (docs/transport.md); they write into and read from this data dir's inbox and outbox.
fn start_nats(
    args: &Args,
    dir: &DataDir,
    wake: mpsc::Sender<()>,
) -> Result<Option<Nats>, CliError> {
    let Some(config) = args.nats.config() else {
        return Ok(None);
    };
    let paths = Paths {
        inbox: dir.inbox(),
        outbox: dir.outbox(),
    };
    let limits = args.apply.limits.limits();
    Nats::start(config, paths, limits, args.once, wake)
        .map(Some)
        .map_err(CliError::usage)
}

/// The settled files of this pass and the bundles NATS wrote (taken at once: they were
/// written whole), each once.
fn with_arrivals(mut ready: Vec<PathBuf>, arrivals: Vec<PathBuf>) -> Vec<PathBuf> {
    for file in arrivals {
        if !ready.contains(&file) && file.exists() {
            ready.push(file);
        }
    }
    ready
}

/// How often `run` looks for runs to finish while jobs are queued or leased.
const OPEN_JOBS_POLL: Duration = Duration::from_millis(500);

/// Whether jobs are queued or leased; a store that cannot say counts as yes, so the next
/// pass comes soon and meets the failure on its usual path.
fn jobs_open(scheduler: &Scheduler) -> bool {
    scheduler.open_jobs().map_or(true, |n| n > 0)
}

/// One pass of the loop after the inbox was read: apply what is ready, then plan, run
/// (with `--once`), finish, emit and export. Returns the outcomes and whether events or
/// exports were written.
fn drain_and_schedule(
    ingestor: &mut Ingestor,
    ready: Vec<PathBuf>,
    emit: &mut dyn FnMut(&Outcome),
    scheduler: &mut Scheduler,
    (args, shutdown, hosted): (&Args, &Arc<AtomicBool>, Option<&Workers>),
) -> Result<(Vec<Outcome>, bool), CliError> {
    let applied = ingestor.drain(ready, emit).map_err(CliError::usage)?;
    checkpoint_after(ingestor, &applied)?;
    let wrote = schedule(scheduler, args, shutdown, hosted)?;
    Ok((applied, wrote))
}

/// Applying leaves the write-ahead log to idle time: once a pass applied something, it
/// is copied into the store here, before planning, so that no other connection's commit
/// does it instead.
fn checkpoint_after(ingestor: &Ingestor, outcomes: &[Outcome]) -> Result<(), CliError> {
    if outcomes
        .iter()
        .any(|o| matches!(o, Outcome::Applied { .. }))
    {
        ingestor.checkpoint().map_err(CliError::usage)?;
    }
    Ok(())
}

/// Fires due schedules, plans new windows; with `--once`, runs every job to the end on
/// `--workers` threads (one when 0); then finishes runs, writes their events and exports.
/// Returns whether events or a completion bundle were written.
fn schedule(
    scheduler: &mut Scheduler,
    args: &Args,
    shutdown: &Arc<AtomicBool>,
    hosted: Option<&Workers>,
) -> Result<bool, CliError> {
    let fired = scheduler.fire_schedules().map_err(CliError::usage)?;
    if fired > 0 {
        tracing::info!(fired, "scheduled rechecks created");
        hosted.inspect(|w| w.wake());
    }
    let planned = scheduler.plan().map_err(CliError::usage)?;
    if planned > 0 {
        tracing::info!(planned, "runs planned");
        hosted.inspect(|w| w.wake());
    }
    let paused = scheduler.paused().map_err(CliError::usage)?;
    if paused && args.once {
        tracing::warn!("the job queue is paused: --once leaves queued jobs for later");
    }
    if args.once && !paused && scheduler.open_jobs().map_err(CliError::usage)? > 0 {
        let stop = Arc::new(AtomicBool::new(shutdown.load(Ordering::SeqCst)));
        let workers = scheduler
            .spawn_workers(args.workers.max(1), stop, true, None)
            .map_err(CliError::usage)?;
        let done = workers.join().map_err(CliError::usage)?;
        tracing::info!(jobs = done, "jobs run");
    }
    let step = scheduler.settle().map_err(CliError::usage)?;
    log_step(&step);
    Ok(step.emitted > 0 || step.exported.is_some())
}

fn log_step(step: &Step) {
    let mut err = std::io::stderr().lock();
    if step.finished > 0 {
        let _ = writeln!(
            err,
            "finished    {} run(s), {} completion event(s) written",
            step.finished, step.emitted
        );
    }
    if let Some(e) = &step.exported {
        let _ = writeln!(
            err,
            "exported    {} run(s) to {} (sequence {})",
            e.runs.len(),
            e.file.display(),
            e.sequence
        );
    }
}

/// Settled files of the watched folder, moved into DIR/inbox when it is another folder.
fn take_ready(settler: &mut Settler, watched: &Path, own: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let ready = settler.ready(inbox::bundles_in(watched)?);
    if watched == own {
        return Ok(ready);
    }
    ready.into_iter().map(|f| pull_in(&f, own)).collect()
}

/// Moves a file from an external inbox into ours: a rename, or across file systems a
/// durable copy followed by removal of the original (the bundle itself is kept).
fn pull_in(file: &Path, own: &Path) -> anyhow::Result<PathBuf> {
    let name = file.file_name().context("file without a name")?;
    let target = own.join(name);
    match std::fs::rename(file, &target) {
        Ok(()) => {
            crate::fsutil::sync_parent(&target)?;
            Ok(target)
        }
        Err(_) => {
            let copied = inbox::copy_in(file, own)?;
            std::fs::remove_file(file).with_context(|| format!("remove {}", file.display()))?;
            Ok(copied)
        }
    }
}

/// Set by SIGINT or SIGTERM, which also wake the loop: it may be asleep until its next
/// rescan, and a service manager waits for the process to end.
fn shutdown_flag(wake: mpsc::Sender<()>) -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    ctrlc::set_handler(move || {
        set.store(true, Ordering::SeqCst);
        let _ = wake.send(());
    })
    .context("cannot install the SIGINT/SIGTERM handler")?;
    Ok(flag)
}

/// One progress line per file on stderr.
pub fn log_outcome(outcome: &Outcome) {
    let line = super::ingest::describe(outcome);
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
