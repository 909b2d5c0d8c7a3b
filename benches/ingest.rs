//! Ingest benchmark (issue 3): a synthetic OSV snapshot of 200,000 documents (690 MB
//! uncompressed; the issue said about 400) verified, parsed and committed into SQLite by
//! the real binary,
//! with its throughput and peak RSS; then one-document deltas, timed both as a whole
//! `ingest` command and as the apply itself (in-process, store already open). Last, the
//! same snapshot through the whole `ingest --database-url` command into a fresh
//! PostgreSQL database each time (issue 6: at least 80 MB/s), followed by the same
//! documents again as an unchanged re-snapshot, when a server answers at
//! `STELLA_TEST_PG` (default `postgres://postgres@127.0.0.1:5432`).
//!
//! `cargo bench --bench ingest`; `BENCH_DOCS=N` for a smaller run. Fixtures are cached
//! under target/bench-data/. Figures only: nothing here asserts a time.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

#[path = "../tests/pg_support/mod.rs"]
mod pg_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use stella_scheduler::bundle::trust::TrustFile;
use stella_scheduler::bundle::{keys, write_bundle, BundleSpec, ExpiryPolicy, Limits, Mode};
use stella_scheduler::ingest::{DataDir, Ingestor, Outcome};
use support::{new_document, Size};

const BINARY: &str = env!("CARGO_BIN_EXE_stella-scheduler");
/// Bumped whenever the fixture changes (2: the re-snapshot was added).
const GENERATOR_VERSION: u32 = 2;
const DEFAULT_DOCS: u64 = 200_000;
const REPETITIONS: usize = 3;
const DELTAS: u64 = 5;
const FEED: &str = "osv-ingest";
const TARGET_MB_S: f64 = 150.0;
const TARGET_RSS_MB: f64 = 200.0;
const TARGET_DELTA_MS: f64 = 20.0;
const TARGET_PG_MB_S: f64 = 80.0;

fn main() -> ExitCode {
    support::finish("ingest", run())
}

struct Fixture {
    dir: PathBuf,
    snapshot: PathBuf,
    /// The same documents again as sequence 2, a snapshot: nothing in it changes.
    resnapshot: PathBuf,
    doc_bytes: u64,
    deltas: Vec<PathBuf>,
}

fn run() -> anyhow::Result<()> {
    let docs: u64 = std::env::var("BENCH_DOCS").map_or(Ok(DEFAULT_DOCS), |v| v.parse())?;
    let fixture = fixture(docs)?;
    println!(
        "ingest: {docs} documents, {:.1} MB of documents, snapshot {:.1} MB compressed",
        fixture.doc_bytes as f64 / 1e6,
        std::fs::metadata(&fixture.snapshot)?.len() as f64 / 1e6
    );
    let mut runs = Vec::new();
    for rep in 0..REPETITIONS {
        let data = fresh_data_dir(&fixture, rep)?;
        // Each repetition starts on a quiet disk: the previous one's gigabyte of
        // database and log would otherwise be written back during this one's timing.
        // Only the last data dir is kept, for the deltas.
        if let Some((_, _, previous)) = runs.last() {
            std::fs::remove_dir_all(previous)?;
        }
        settle_disk()?;
        let (secs, rss_kib) = time_ingest(&data, &fixture.snapshot, &[])?;
        let mb_s = fixture.doc_bytes as f64 / 1e6 / secs;
        println!(
            "  rep {}: {secs:.3} s, {mb_s:.1} MB/s, peak RSS {:.1} MB",
            rep + 1,
            rss_kib as f64 * 1024.0 / 1e6
        );
        runs.push((secs, rss_kib, data));
    }
    let (cli, apply) = time_deltas(&fixture, &runs.last().unwrap().2)?;
    report(&fixture, &runs, &cli, &apply);
    std::fs::remove_dir_all(&runs.last().unwrap().2)?;
    postgres(&fixture)
}

/// The snapshot through the whole `ingest` command into PostgreSQL, a fresh database
/// and data dir for each repetition.
fn postgres(fixture: &Fixture) -> anyhow::Result<()> {
    let (mut secs, mut resnapshot_secs) = (Vec::new(), Vec::new());
    for rep in 0..REPETITIONS {
        let Some(db) = pg_support::TestDb::fresh("ingest bench, PostgreSQL") else {
            return Ok(());
        };
        let data = fresh_data_dir(fixture, rep)?;
        settle_disk()?;
        let url = ["--database-url", db.url.as_str()];
        let (s, rss_kib) = time_ingest(&data, &fixture.snapshot, &url)?;
        let (again, _) = time_ingest(&data, &fixture.resnapshot, &url)?;
        println!(
            "  PostgreSQL rep {}: {s:.3} s, {:.1} MB/s, peak RSS {:.1} MB; unchanged re-snapshot {again:.3} s",
            rep + 1,
            fixture.doc_bytes as f64 / 1e6 / s,
            rss_kib as f64 * 1024.0 / 1e6
        );
        std::fs::remove_dir_all(&data)?;
        secs.push(s);
        resnapshot_secs.push(again);
    }
    let mb_s = fixture.doc_bytes as f64 / 1e6 / median(secs);
    println!("snapshot ingest into PostgreSQL, median of {REPETITIONS}: {mb_s:.1} MB/s (target >= {TARGET_PG_MB_S} MB/s): {}",
        if mb_s >= TARGET_PG_MB_S { "MET" } else { "NOT MET" });
    println!(
        "unchanged re-snapshot into PostgreSQL, median of {REPETITIONS}: {:.3} s",
        median(resnapshot_secs)
    );
    Ok(())
}

fn fixture(docs: u64) -> anyhow::Result<Fixture> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let dir = root.join(format!("ingest-g{GENERATOR_VERSION}-docs{docs}"));
    let snapshot = dir.join("snapshot.tar.zst");
    let resnapshot = dir.join("resnapshot.tar.zst");
    let deltas: Vec<PathBuf> = (0..2 * DELTAS)
        .map(|i| dir.join(format!("delta-{i}.tar.zst")))
        .collect();
    let meta = dir.join("meta.json");
    if !meta.exists() {
        build(&dir, docs, [&snapshot, &resnapshot], &deltas, &meta)?;
    }
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta)?)?;
    let doc_bytes = meta["docBytes"].as_u64().context("meta.json docBytes")?;
    Ok(Fixture {
        dir,
        snapshot,
        resnapshot,
        doc_bytes,
        deltas,
    })
}

fn build(
    dir: &Path,
    docs: u64,
    [snapshot, resnapshot]: [&Path; 2],
    deltas: &[PathBuf],
    meta: &Path,
) -> anyhow::Result<()> {
    println!("building the fixture in {} (once)", dir.display());
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let key = keys::generate()?;
    let mut trust = TrustFile::empty();
    trust.upsert(&key.verifying_key(), &[FEED.to_owned()], None);
    trust.write(&dir.join("trust.json"))?;
    let documents = || {
        (0..docs)
            .map(|i| new_document(i, Size::Compact))
            .collect::<Result<Vec<_>, _>>()
    };
    let written = write_bundle(
        spec(1, None, Mode::Snapshot),
        documents()?,
        std::slice::from_ref(&key),
        snapshot,
    )?;
    let doc_bytes: u64 = written.manifest.documents.iter().map(|d| d.size).sum();
    write_bundle(
        spec(2, Some(written.id.clone()), Mode::Snapshot),
        documents()?,
        std::slice::from_ref(&key),
        resnapshot,
    )?;
    let mut previous = written.id;
    for (i, path) in deltas.iter().enumerate() {
        let sequence = 2 + i as u64;
        let one = vec![new_document(docs + i as u64, Size::Compact)?];
        previous = write_bundle(
            spec(sequence, Some(previous), Mode::Delta),
            one,
            std::slice::from_ref(&key),
            path,
        )?
        .id;
    }
    std::fs::write(meta, serde_json::json!({"docBytes": doc_bytes}).to_string())?;
    Ok(())
}

fn spec(
    sequence: u64,
    previous: Option<stella_scheduler::bundle::BundleId>,
    mode: Mode,
) -> BundleSpec {
    BundleSpec {
        feed: FEED.to_owned(),
        sequence,
        previous,
        mode,
        created_at: "2026-01-15T00:00:00Z".to_owned(),
        expires_at: None,
        withdrawn: Vec::new(),
    }
}

/// Writes every dirty page to disk (`sync`), outside any timing.
fn settle_disk() -> anyhow::Result<()> {
    let status = Command::new("sync").status().context("running sync")?;
    ensure!(status.success(), "sync failed");
    Ok(())
}

fn fresh_data_dir(fixture: &Fixture, rep: usize) -> anyhow::Result<PathBuf> {
    let data = fixture.dir.join(format!("run-{rep}"));
    let _ = std::fs::remove_dir_all(&data);
    let trust = fixture.dir.join("trust.json");
    let status = Command::new(BINARY)
        .args(["init", "--data-dir"])
        .arg(&data)
        .arg("--import-trust")
        .arg(&trust)
        .output()?;
    ensure!(
        status.status.success(),
        "init failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    Ok(data)
}

/// Wall-clock seconds and peak RSS (KiB) of `ingest` of one bundle into `data`, with
/// `extra` arguments.
fn time_ingest(data: &Path, bundle: &Path, extra: &[&str]) -> anyhow::Result<(f64, u64)> {
    let rss_file = data.join("rss.txt");
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss_file)
        .arg(BINARY)
        .args(["ingest", "--data-dir"])
        .arg(data)
        .args(extra)
        .arg(bundle)
        .output()
        .context("running /usr/bin/time (GNU time)")?;
    let secs = start.elapsed().as_secs_f64();
    ensure!(
        out.status.success(),
        "ingest failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        String::from_utf8_lossy(&out.stdout).contains("applied"),
        "the snapshot was not applied"
    );
    let rss: u64 = std::fs::read_to_string(&rss_file)?.trim().parse()?;
    Ok((secs, rss))
}

/// The first half of the deltas through the CLI, the second half in-process.
fn time_deltas(fixture: &Fixture, data: &Path) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let mut cli = Vec::new();
    for delta in &fixture.deltas[..DELTAS as usize] {
        let start = Instant::now();
        let out = Command::new(BINARY)
            .args(["ingest", "--data-dir"])
            .arg(data)
            .arg(delta)
            .output()?;
        cli.push(start.elapsed());
        ensure!(
            out.status.success(),
            "delta ingest failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut ingestor = Ingestor::open(
        DataDir::new(data),
        None,
        Limits::default(),
        ExpiryPolicy::Enforce,
    )?;
    let mut apply = Vec::new();
    for delta in &fixture.deltas[DELTAS as usize..] {
        let start = Instant::now();
        ingestor.enqueue(std::slice::from_ref(delta))?;
        let inbox = stella_scheduler::ingest::inbox::bundles_in(&data.join("inbox"))?;
        let outcomes = ingestor.drain(inbox, &mut |_| {})?;
        apply.push(start.elapsed());
        ensure!(
            matches!(outcomes.as_slice(), [Outcome::Applied { .. }]),
            "{outcomes:?}"
        );
    }
    Ok((cli, apply))
}

fn median<T: PartialOrd + Copy>(mut xs: Vec<T>) -> T {
    xs.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    xs[xs.len() / 2]
}

fn report(fixture: &Fixture, runs: &[(f64, u64, PathBuf)], cli: &[Duration], apply: &[Duration]) {
    let secs = median(runs.iter().map(|r| r.0).collect());
    let mb_s = fixture.doc_bytes as f64 / 1e6 / secs;
    let rss_mb = runs.iter().map(|r| r.1).max().unwrap_or(0) as f64 * 1024.0 / 1e6;
    let ms = |d: &[Duration]| median(d.iter().map(|d| d.as_secs_f64() * 1e3).collect());
    let (cli_ms, apply_ms) = (ms(cli), ms(apply));
    println!();
    println!("| measure | value | target |");
    println!("|---|---|---|");
    println!("| snapshot ingest, median of {REPETITIONS} | {secs:.3} s, {mb_s:.1} MB/s of documents | >= {TARGET_MB_S} MB/s |");
    println!("| peak RSS, highest run | {rss_mb:.1} MB | <= {TARGET_RSS_MB} MB |");
    println!(
        "| one-document delta, whole `ingest` command, median of {DELTAS} | {cli_ms:.1} ms | - |"
    );
    println!("| one-document delta, apply in-process, median of {DELTAS} | {apply_ms:.1} ms | <= {TARGET_DELTA_MS} ms |");
    println!();
    let verdict = |ok: bool| if ok { "MET" } else { "NOT MET" };
    println!("throughput: {}", verdict(mb_s >= TARGET_MB_S));
    println!("peak RSS: {}", verdict(rss_mb <= TARGET_RSS_MB));
    println!(
        "one-document delta: {}",
        verdict(apply_ms <= TARGET_DELTA_MS)
    );
}
