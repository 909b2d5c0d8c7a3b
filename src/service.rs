//! One site's cycle, as `run` hosts it: after bundles are applied, windows are planned
//! into runs, workers (each on its own thread and store connection) run the jobs,
//! finished runs are signed, their events written to the outbox, and a completion
//! bundle exported there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use ed25519_dalek::SigningKey;

use crate::export::{self, ExportError, Exported, Site};
use crate::findings::VexPolicy;
use crate::ingest::DataDir;
use crate::jobs::{self, Finisher, JobsError, KnowledgeCache, Policies, Worker};
use crate::store::{Store, StoreError};

/// How much of the store the scheduler's connections map instead of copying pages.
pub const READ_MAP_BYTES: i64 = 1 << 30;

/// Jobs a worker claims at a time.
pub const CLAIM_BATCH: u32 = 16;
/// How long an idle worker sleeps, unless woken, before looking again (for jobs whose
/// backoff ended, or that another process queued).
const IDLE: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Jobs(#[from] JobsError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot open the store for a worker")]
    Open(#[source] crate::ingest::DataDirError),
    #[error("cannot clean {path}")]
    Outbox {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("worker thread {0} panicked")]
    WorkerPanicked(usize),
}

/// The scheduler half of a site: planning, finishing, emitting and exporting.
#[derive(Debug)]
pub struct Scheduler {
    dir: DataDir,
    store: Store,
    site_id: String,
    key: SigningKey,
    policies: Policies,
    vex: VexPolicy,
    auto_export: bool,
}

/// What one step did.
#[derive(Debug, Default)]
pub struct Step {
    pub finished: usize,
    pub emitted: usize,
    pub exported: Option<Exported>,
}

impl Scheduler {
    pub fn open(
        dir: DataDir,
        site_id: String,
        key: SigningKey,
        policies: Policies,
        vex: VexPolicy,
        auto_export: bool,
    ) -> Result<Self, ServiceError> {
        let store = dir.open_store().map_err(ServiceError::Open)?;
        store.map_for_reading(READ_MAP_BYTES)?;
        for folder in [dir.outbox(), dir.outbox().join("events")] {
            let removed = crate::fsutil::remove_stale_temps(&folder).map_err(|source| {
                ServiceError::Outbox {
                    path: folder.clone(),
                    source,
                }
            })?;
            if removed > 0 {
                tracing::info!(folder = %folder.display(), removed, "removed temp files of a stopped process");
            }
        }
        Ok(Self {
            dir,
            store,
            site_id,
            key,
            policies,
            vex,
            auto_export,
        })
    }

    /// Creates the recheck runs of the schedules whose fire time has come; returns how
    /// many were created.
    pub fn fire_schedules(&mut self) -> Result<usize, jobs::schedule::ScheduleError> {
        let fired = jobs::schedule::fire_due(&mut self.store, &self.policies, jobs::now_ms())?;
        Ok(fired.len())
    }

    /// Plans unplanned windows into runs.
    pub fn plan(&mut self) -> Result<usize, ServiceError> {
        Ok(jobs::plan_windows(&mut self.store, &self.policies, jobs::now_ms())?.len())
    }

    /// Finishes runs whose jobs are done, writes their events, and exports.
    pub fn settle(&mut self) -> Result<Step, ServiceError> {
        let finisher = Finisher {
            site: &self.site_id,
            key: &self.key,
        };
        let finished = jobs::finish_runs(&mut self.store, &finisher, jobs::now_ms())?;
        let emitted = jobs::emit_events(&mut self.store, &self.dir.outbox())?;
        let exported = match self.auto_export {
            true => export::export(
                &mut self.store,
                &Site {
                    id: &self.site_id,
                    key: &self.key,
                },
                &self.dir.outbox(),
            )?,
            false => None,
        };
        Ok(Step {
            finished: finished.len(),
            emitted,
            exported,
        })
    }

    pub fn paused(&self) -> Result<bool, ServiceError> {
        Ok(self.store.paused()?)
    }

    /// Takes back the leases of this site's hosts on this machine whose process is gone
    /// (a crash, a SIGKILL): their jobs would otherwise wait a whole lease. Hosts still
    /// running keep theirs.
    fn take_back_stopped_hosts(&self) -> Result<(), ServiceError> {
        let mut store = self.dir.open_store().map_err(ServiceError::Open)?;
        let site = format!("{}:", self.site_id);
        for owner in store.lease_owners()? {
            let Some(pid) = owner
                .strip_prefix(&site)
                .and_then(|rest| rest.split(':').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == std::process::id() || process_alive(pid) {
                continue;
            }
            let host = format!("{site}{pid}:");
            let taken = store.rescue_abandoned(&host, jobs::now_ms())?;
            if taken > 0 {
                tracing::warn!(host = %host, jobs = taken, "took back the leases of a stopped host");
            }
        }
        Ok(())
    }

    /// Jobs still queued or leased.
    pub fn open_jobs(&self) -> Result<u64, ServiceError> {
        Ok(self.store.open_jobs()?)
    }

    /// Starts `n` worker threads; they stop when `stop` is set, or, with `drain`, once
    /// no job is queued or leased. First, the leases of this site's earlier hosts are
    /// taken back (see [`Store::rescue_abandoned`]).
    ///
    /// Idle workers sleep until [`Workers::wake`] or a short poll; after a pass that
    /// finished jobs, a worker sends on `progress` so the host can finish runs at once.
    pub fn spawn_workers(
        &self,
        n: usize,
        stop: Arc<AtomicBool>,
        drain: bool,
        progress: Option<Sender<()>>,
    ) -> Result<Workers, ServiceError> {
        let host = format!("{}:{}:", self.site_id, std::process::id());
        if n > 0 {
            self.take_back_stopped_hosts()?;
        }
        let bell = Arc::new(Bell::default());
        let knowledge = KnowledgeCache::default();
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let store = self.dir.open_store().map_err(ServiceError::Open)?;
            store.map_for_reading(READ_MAP_BYTES)?;
            let owner = format!("{host}w{i}");
            let worker = Worker::new(store, owner, self.policies.clone(), self.vex.clone())
                .sharing(knowledge.clone());
            let host = Host {
                stop: stop.clone(),
                bell: bell.clone(),
                progress: progress.clone(),
                drain,
            };
            handles.push(std::thread::spawn(move || work(worker, &host)));
        }
        Ok(Workers { handles, bell })
    }
}

/// Whether a process with this id runs on this machine (Linux: /proc).
fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Running worker threads.
#[derive(Debug)]
pub struct Workers {
    handles: Vec<JoinHandle<Result<u64, ServiceError>>>,
    bell: Arc<Bell>,
}

/// What a worker thread shares with its host.
#[derive(Debug)]
struct Host {
    stop: Arc<AtomicBool>,
    bell: Arc<Bell>,
    progress: Option<Sender<()>>,
    drain: bool,
}

/// Wakes idle workers early: a counter and a condition variable.
#[derive(Debug, Default)]
struct Bell {
    rung: Mutex<u64>,
    ring: Condvar,
}

impl Bell {
    fn ring(&self) {
        if let Ok(mut rung) = self.rung.lock() {
            *rung += 1;
            self.ring.notify_all();
        }
    }

    /// Sleeps until rung or `timeout`; a poisoned lock just sleeps.
    fn wait(&self, timeout: Duration) {
        let Ok(rung) = self.rung.lock() else {
            std::thread::sleep(timeout);
            return;
        };
        let seen = *rung;
        let _ = self.ring.wait_timeout_while(rung, timeout, |r| *r == seen);
    }
}

impl Workers {
    /// Tells idle workers that jobs were queued.
    pub fn wake(&self) {
        self.bell.ring();
    }

    /// Waits for every worker; the jobs they ran.
    pub fn join(self) -> Result<u64, ServiceError> {
        let mut total = 0;
        for (i, handle) in self.handles.into_iter().enumerate() {
            total += handle
                .join()
                .map_err(|_| ServiceError::WorkerPanicked(i))??;
        }
        Ok(total)
    }
}

/// Waiting out a lost database connection: exponential backoff from 250 ms to 10 s, one
/// warning when it starts and one line when it ends.
#[derive(Debug, Default)]
pub struct Outage {
    attempts: u32,
}

impl Outage {
    const FIRST: Duration = Duration::from_millis(250);
    const MOST: Duration = Duration::from_secs(10);

    /// Sleeps before the next attempt (in short steps, so that `stop` is seen).
    pub fn wait(&mut self, stop: &AtomicBool) {
        if self.attempts == 0 {
            tracing::warn!("the database connection was lost; retrying with backoff");
        }
        let pause = Self::FIRST
            .saturating_mul(1u32 << self.attempts.min(6))
            .min(Self::MOST);
        self.attempts += 1;
        let until = std::time::Instant::now() + pause;
        while std::time::Instant::now() < until && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A call succeeded: the outage, if there was one, is over.
    pub fn over(&mut self) {
        if self.attempts > 0 {
            tracing::info!(attempts = self.attempts, "the database answers again");
            self.attempts = 0;
        }
    }
}

fn work(mut worker: Worker, host: &Host) -> Result<u64, ServiceError> {
    let mut done = 0u64;
    let mut outage = Outage::default();
    while !host.stop.load(Ordering::SeqCst) {
        let pass = match worker.pass(CLAIM_BATCH) {
            Ok(pass) => {
                outage.over();
                pass
            }
            // A lost PostgreSQL connection: the store connects again on its next call.
            Err(e) if crate::store::is_transient(&e) => {
                outage.wait(&host.stop);
                // The failed pass may have held jobs; once the database answers, they
                // go back to the queue instead of waiting out their lease.
                if let Ok(given) = worker.give_back_leases() {
                    if given > 0 {
                        tracing::info!(jobs = given, "gave back the jobs of a failed pass");
                    }
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        done += pass.claimed as u64;
        if pass.claimed > 0 {
            if let Some(progress) = &host.progress {
                let _ = progress.send(());
            }
            continue;
        }
        // A paused queue hands out nothing: draining it would wait forever.
        if host.drain && (worker.open_jobs()? == 0 || worker.paused()?) {
            break;
        }
        host.bell.wait(IDLE);
    }
    Ok(done)
}
