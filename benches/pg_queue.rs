//! The job queue on PostgreSQL (store/postgres/) next to graphile-worker on the same
//! server: no-op jobs enqueued, claimed and completed, jobs per second.
//!
//! stella: `STELLA_BENCH_JOBS` jobs (default 100,000) enqueued as runs of 10,000 jobs
//! (one multi-row insert each), then `STELLA_BENCH_WORKERS` threads (default 2), each
//! with its own `PgStore`, claim 500 at a time and complete each batch in one call.
//! graphile-worker (benches/graphile/run.js, its perfTest setup): the same number of
//! jobs queued in bulk, then as many worker processes with 24 concurrent jobs each,
//! local queue of 500 and batched completion. Each side gets a fresh database with
//! byte-order collation, dropped afterwards. The goal is at least 1.5× graphile-worker;
//! nothing is asserted about time. `STELLA_BENCH_PG` names the server (default
//! `postgres://postgres@127.0.0.1:5432`).
#![allow(clippy::print_stdout)]

mod support;

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context as _};
use sqlx::{Connection as _, PgConnection};
use stella_scheduler::store::postgres::PgStore;
use stella_scheduler::store::{JobResult, NewJob, NewRun};

const PER_RUN: u64 = 10_000;
const BATCH: u32 = 500;
const GRAPHILE_CONCURRENCY: u32 = 24;
const NOW: i64 = 1_000;

fn main() -> ExitCode {
    support::finish("pg_queue", run())
}

/// Seconds of one side's two phases.
#[derive(Clone, Copy, Debug)]
struct Timing {
    jobs: u64,
    enqueue: f64,
    work: f64,
}

impl Timing {
    fn line(&self, who: &str) -> String {
        let rate = |secs: f64| self.jobs as f64 / secs;
        format!(
            "{who:>16}: enqueue {:>9.0} jobs/s, claim+complete {:>8.0} jobs/s, \
             end to end {:>8.0} jobs/s ({} jobs, {:.2} s)",
            rate(self.enqueue),
            rate(self.work),
            rate(self.enqueue + self.work),
            self.jobs,
            self.enqueue + self.work
        )
    }
}

fn run() -> anyhow::Result<()> {
    let server = std::env::var("STELLA_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let jobs = env_number("STELLA_BENCH_JOBS", 100_000)?;
    let workers = env_number("STELLA_BENCH_WORKERS", 2)?;
    let ours = with_database(&server, "stella_bench", |url| stella(url, jobs, workers))?;
    println!("{}", ours.line("stella"));
    let theirs = with_database(&server, "graphile_bench", |url| {
        graphile(url, jobs, workers)
    })?;
    println!("{}", theirs.line("graphile-worker"));
    println!(
        "ratio stella / graphile-worker: claim+complete {:.2}x, end to end {:.2}x \
         (goal >= 1.5x; {workers} workers each side, load average {})",
        theirs.work / ours.work,
        (theirs.enqueue + theirs.work) / (ours.enqueue + ours.work),
        load_average()
    );
    Ok(())
}

fn env_number(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .with_context(|| format!("{name}={v:?} is not a count")),
        Err(_) => Ok(default),
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Runs `bench` on a fresh database of `server`, dropped afterwards whatever happened.
fn with_database<T>(
    server: &str,
    prefix: &str,
    bench: impl FnOnce(&str) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let name = format!("{prefix}_{}", std::process::id());
    admin(
        server,
        &format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE); \
             CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' \
             LC_COLLATE 'C' LC_CTYPE 'C'"
        ),
    )?;
    let result = bench(&format!("{server}/{name}"));
    admin(
        server,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )?;
    result
}

fn admin(server: &str, sql: &str) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut conn = PgConnection::connect(&format!("{server}/postgres")).await?;
        for statement in sql.split("; ") {
            sqlx::raw_sql(statement).execute(&mut conn).await?;
        }
        conn.close().await
    })
    .with_context(|| format!("on {server}: {sql}"))
}

fn stella(url: &str, jobs: u64, workers: u64) -> anyhow::Result<Timing> {
    let mut store = PgStore::connect(url)?;
    let started = Instant::now();
    for r in 0..jobs.div_ceil(PER_RUN) {
        let count = PER_RUN.min(jobs - r * PER_RUN);
        store.create_run(&noop_run(r), &noop_jobs(r, count))?;
    }
    let enqueue = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let threads: Vec<_> = (0..workers)
        .map(|w| {
            let url = url.to_owned();
            std::thread::spawn(move || work(&url, &format!("bench-{w}")))
        })
        .collect();
    let mut completed = 0;
    for thread in threads {
        completed += thread
            .join()
            .map_err(|_| anyhow::anyhow!("a worker panicked"))??;
    }
    let work = started.elapsed().as_secs_f64();
    if completed != jobs {
        bail!("{jobs} jobs enqueued but {completed} completed");
    }
    Ok(Timing {
        jobs,
        enqueue,
        work,
    })
}

/// One worker: claims and completes batches until the queue is drained.
fn work(url: &str, owner: &str) -> anyhow::Result<u64> {
    let mut store = PgStore::connect(url)?;
    let mut completed = 0;
    loop {
        let claimed = store.claim(owner, BATCH, NOW, 600_000)?;
        if claimed.is_empty() {
            if store.open_jobs()? == 0 {
                return Ok(completed);
            }
            std::thread::yield_now();
            continue;
        }
        let results: Vec<JobResult<'_>> = claimed
            .iter()
            .map(|j| JobResult {
                job_id: j.job_id,
                fence: j.fence,
                artifact: &j.artifact,
                position: j.position,
                findings: ("sha256:noop", b"[]"),
                delta: b"{}",
                now_ms: NOW,
            })
            .collect();
        let outcomes = store.complete_jobs(&results)?;
        completed += outcomes.iter().filter(|o| o.is_ok()).count() as u64;
    }
}

fn noop_run(r: u64) -> NewRun {
    NewRun {
        trigger: "recheck".to_owned(),
        position: 0,
        window_position: None,
        selector: Some(format!("{{\"noop\":{r}}}")),
        idempotency_key: None,
        tenant: "default".to_owned(),
        impact: b"{}".to_vec(),
        impact_digest: String::new(),
        created_ms: NOW,
    }
}

fn noop_jobs(r: u64, count: u64) -> Vec<NewJob> {
    (0..count)
        .map(|j| NewJob {
            artifact: format!("sha256:{:064x}", r * PER_RUN + j),
            tenant: "default".to_owned(),
            severity: "low".to_owned(),
            priority: 0,
            deadline_ms: NOW + 3_600_000,
            max_attempts: 5,
        })
        .collect()
}

/// graphile-worker through benches/graphile/run.js, installed with `npm ci` if needed.
fn graphile(url: &str, jobs: u64, processes: u64) -> anyhow::Result<Timing> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/graphile");
    if !dir.join("node_modules/graphile-worker").is_dir() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .context("npm ci in benches/graphile (is node installed?)")?;
        if !status.success() {
            bail!("npm ci in benches/graphile failed: {status}");
        }
    }
    let out = Command::new("node")
        .arg(dir.join("run.js"))
        .args([
            url,
            &jobs.to_string(),
            &processes.to_string(),
            &GRAPHILE_CONCURRENCY.to_string(),
        ])
        .output()
        .context("node benches/graphile/run.js")?;
    if !out.status.success() {
        bail!(
            "graphile-worker run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("run.js printed {}", String::from_utf8_lossy(&out.stdout)))?;
    let number = |field: &str| {
        report[field]
            .as_f64()
            .with_context(|| format!("run.js reported no {field}: {report}"))
    };
    Ok(Timing {
        jobs: number("jobs")? as u64,
        enqueue: number("enqueueSeconds")?,
        work: number("workSeconds")?,
    })
}
