//! Scheduler benchmarks (issue 5 §8), on SQLite, with a generated estate of 10,000
//! artifacts × 500 components:
//!
//! 1. impact: the impact set of a 1,000-advisory delta (`impact::window`), p50 over
//!    repeated computations;
//! 2. no-op jobs: enqueue (one run of 10,000 jobs per transaction), claim in batches,
//!    complete in batches; jobs per second;
//! 3. latency: from a one-advisory delta renamed into the inbox of a running `run`
//!    (release binary, `--settle-ms 0`, the producer's rename convention) to its signed
//!    completion event in the outbox; p50 over 20 deltas.
//!
//! The estate: packages are drawn with a power-law skew from 50,000 (npm, PyPI, Maven),
//! so a few are in nearly every image and most in few. Advisories name packages of a
//! 200,000-package universe that contains the estate's, the way a day of OSV spans far
//! more packages than one site ships. The estate is built once and cached under
//! target/bench-data; `STELLA_BENCH_ARTIFACTS` shrinks it for a quick look, and
//! `STELLA_BENCH_ONLY=impact,noop,latency` picks phases.
#![allow(clippy::print_stdout)]

mod support;

use std::collections::BTreeSet;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use ed25519_dalek::SigningKey;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use stella_scheduler::bundle::{
    keys, write_bundle, BundleId, BundleSpec, DocumentSource, MemberPath, Mode, NewDocument,
    TrustFile,
};
use stella_scheduler::model::{Digest, DocumentFormat, DocumentKind, Subject};
use stella_scheduler::store::{JobResult, NewJob, NewRun, Store};
use support::Rng;

const BINARY: &str = env!("CARGO_BIN_EXE_stella-scheduler");
/// Bumped whenever the generated estate changes, so a stale cache is not reused.
const GENERATOR_VERSION: u32 = 3;
const ARTIFACTS: u64 = 10_000;
const COMPONENTS: usize = 500;
const ESTATE_PACKAGES: u64 = 50_000;
const UNIVERSE_PACKAGES: u64 = 200_000;
const BASE_ADVISORIES: u64 = 2_000;
const DELTA_ADVISORIES: u64 = 1_000;
const IMPACT_REPEATS: usize = 21;
const LATENCY_DELTAS: u64 = 20;
/// How many images ship the package of a "popular" one-advisory delta, at least.
const POPULAR: usize = 500;
const NOOP_JOBS: u64 = 100_000;
const NOOP_BATCH: u32 = 500;
const SITE: &str = "bench-site";

fn main() -> ExitCode {
    support::finish("scheduler", run())
}

fn run() -> anyhow::Result<()> {
    let artifacts = std::env::var("STELLA_BENCH_ARTIFACTS")
        .ok()
        .map(|v| v.parse::<u64>())
        .transpose()
        .context("STELLA_BENCH_ARTIFACTS")?
        .unwrap_or(ARTIFACTS);
    let only = std::env::var("STELLA_BENCH_ONLY").unwrap_or_default();
    let wanted = |phase: &str| only.is_empty() || only.split(',').any(|p| p == phase);
    let estate = estate(artifacts)?;
    if wanted("impact") {
        impact(&estate)?;
    }
    if wanted("noop") {
        noop_jobs()?;
    }
    if wanted("latency") {
        latency(&estate)?;
    }
    Ok(())
}

/// The cached estate: a data dir with the SBOMs and base advisories applied and every
/// window run finished, plus the key and the chain head to build more deltas on.
struct Estate {
    dir: PathBuf,
    data: PathBuf,
    key: SigningKey,
    head: BundleId,
    artifacts: u64,
}

fn estate(artifacts: u64) -> anyhow::Result<Estate> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let dir = root.join(format!("scheduler-g{GENERATOR_VERSION}-a{artifacts}"));
    let data = dir.join("data");
    let done = dir.join("done.json");
    if !done.exists() {
        build_estate(&dir, &data, artifacts, &done)?;
    }
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&done)?)?;
    let head = meta["head"].as_str().context("done.json head")?.parse()?;
    let key = keys::read_signing_key(&dir.join("feed.key"))?;
    Ok(Estate {
        dir,
        data,
        key,
        head,
        artifacts,
    })
}

fn build_estate(dir: &Path, data: &Path, artifacts: u64, done: &Path) -> anyhow::Result<()> {
    println!("building the estate in {} (once)", dir.display());
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let key = keys::generate()?;
    keys::write_key_pair(dir, "feed", &key)?;
    let mut trust = TrustFile::empty();
    trust.upsert(&key.verifying_key(), &["*".to_owned()], None);
    trust.write(&dir.join("trust.json"))?;
    let site_key = dir.join("site.key");
    keys::write_key_pair(dir, "site", &keys::generate()?)?;
    cli(&[
        "init",
        "--data-dir",
        &text(data),
        "--site-id",
        SITE,
        "--site-key",
        &text(&site_key),
        "--import-trust",
        &text(&dir.join("trust.json")),
    ])?;
    let sboms = dir.join("sboms.tar.zst");
    let docs = (0..artifacts)
        .map(sbom_document)
        .collect::<Result<Vec<_>, _>>()?;
    write_bundle(
        spec("bench-sbom", 1, None),
        docs,
        std::slice::from_ref(&key),
        &sboms,
    )?;
    let osv = dir.join("osv-1.tar.zst");
    let docs = (0..BASE_ADVISORIES)
        .map(advisory_document)
        .collect::<Result<Vec<_>, _>>()?;
    let head = write_bundle(
        spec("bench-osv", 1, None),
        docs,
        std::slice::from_ref(&key),
        &osv,
    )?
    .id;
    let started = Instant::now();
    cli(&[
        "ingest",
        "--data-dir",
        &text(data),
        &text(&sboms),
        &text(&osv),
    ])?;
    println!("  ingested in {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    cli(&[
        "run",
        "--once",
        "--settle-ms",
        "0",
        "--data-dir",
        &text(data),
    ])?;
    println!(
        "  first runs finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    std::fs::write(done, json!({"head": head.to_string()}).to_string())?;
    Ok(())
}

/// Runs the release binary; its stderr is passed through, its failure is an error.
fn cli(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(BINARY)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("running {args:?}"))?;
    if !status.success() {
        bail!("{args:?} exited with {status}");
    }
    Ok(())
}

fn text(path: &Path) -> String {
    path.display().to_string()
}

fn spec(feed: &str, sequence: u64, previous: Option<BundleId>) -> BundleSpec {
    BundleSpec {
        feed: feed.to_owned(),
        sequence,
        mode: if previous.is_none() {
            Mode::Snapshot
        } else {
            Mode::Delta
        },
        previous,
        created_at: format!("2026-11-{:02}T00:00:00Z", 1 + sequence % 28),
        expires_at: None,
        withdrawn: Vec::new(),
    }
}

/// Package `i`'s purl type, advisory ecosystem and names (purl name, OSV name).
fn package(i: u64) -> (&'static str, &'static str, String, String) {
    match i % 3 {
        0 => (
            "npm",
            "npm",
            format!("bench-pkg-{i}"),
            format!("bench-pkg-{i}"),
        ),
        1 => (
            "pypi",
            "PyPI",
            format!("bench-pkg-{i}"),
            format!("bench-pkg-{i}"),
        ),
        _ => (
            "maven",
            "Maven",
            format!("org.bench/pkg-{i}"),
            format!("org.bench:pkg-{i}"),
        ),
    }
}

fn artifact_digest(a: u64) -> Digest {
    Digest::from_sha256(&Sha256::digest(format!("bench artifact {a}")).into())
}

fn sbom_document(a: u64) -> anyhow::Result<NewDocument> {
    let path = format!("sbom/app-{a}.cdx.json");
    Ok(NewDocument {
        path: MemberPath::parse(path.as_bytes())?,
        kind: DocumentKind::Sbom,
        format: DocumentFormat::Cyclonedx,
        subject: Some(Subject {
            name: format!("registry.bench/app-{a}:1.0"),
            digest: artifact_digest(a),
        }),
        source: Box::new(Generated(move || render_sbom(a))),
    })
}

/// A power-law pick: low indices (popular packages) far more often than high ones.
fn popular(rng: &mut Rng) -> u64 {
    (ESTATE_PACKAGES as f64 * rng.unit().powf(2.5)) as u64
}

/// The packages artifact `a` ships, and the generator state that then draws versions.
fn packages_of(a: u64) -> (BTreeSet<u64>, Rng) {
    let mut rng = Rng::new(a ^ 0xb0b);
    let mut chosen = BTreeSet::new();
    while chosen.len() < COMPONENTS {
        chosen.insert(popular(&mut rng));
    }
    (chosen, rng)
}

fn render_sbom(a: u64) -> Vec<u8> {
    let (chosen, mut rng) = packages_of(a);
    let components: Vec<serde_json::Value> = chosen
        .into_iter()
        .map(|i| {
            let (ty, _, name, _) = package(i);
            let version = format!(
                "{}.{}.{}",
                rng.range(1, 6),
                rng.range(0, 20),
                rng.range(0, 30)
            );
            json!({"type": "library", "name": name, "version": version,
                   "purl": format!("pkg:{ty}/{name}@{version}")})
        })
        .collect();
    let doc = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "metadata": {"component": {"type": "container", "name": format!("app-{a}")}},
        "components": components,
    });
    serde_json::to_vec(&doc).expect("a JSON value always serializes")
}

fn advisory_document(n: u64) -> anyhow::Result<NewDocument> {
    advisory_for(n, None)
}

/// Advisory `n`, about package `about` (every version below 99) or about one picked from
/// the universe (below a random fix).
fn advisory_for(n: u64, about: Option<u64>) -> anyhow::Result<NewDocument> {
    let path = format!("advisories/BENCH-{n}.json");
    Ok(NewDocument {
        path: MemberPath::parse(path.as_bytes())?,
        kind: DocumentKind::Advisory,
        format: DocumentFormat::Osv,
        subject: None,
        source: Box::new(Generated(move || render_advisory(n, about))),
    })
}

fn render_advisory(n: u64, about: Option<u64>) -> Vec<u8> {
    let mut rng = Rng::new(n ^ 0xad);
    let i = about.unwrap_or_else(|| rng.range(0, UNIVERSE_PACKAGES));
    let (_, ecosystem, _, name) = package(i);
    let fixed = match about {
        Some(_) => "99.0.0".to_owned(),
        None => format!("{}.{}.0", rng.range(1, 6), rng.range(0, 20)),
    };
    let doc = json!({
        "schema_version": "1.6.0",
        "id": format!("BENCH-{n}"),
        "modified": "2026-11-01T00:00:00Z",
        "aliases": [format!("CVE-2026-{}", 100_000 + n)],
        "summary": "generated advisory for the scheduler benchmark",
        "affected": [{
            "package": {"ecosystem": ecosystem, "name": name},
            "ranges": [{"type": if ecosystem == "Maven" { "ECOSYSTEM" } else { "SEMVER" },
                        "events": [{"introduced": "0"}, {"fixed": fixed}]}],
        }],
        "database_specific": {"severity": rng.pick(&["LOW", "MODERATE", "HIGH", "CRITICAL"])},
    });
    serde_json::to_vec(&doc).expect("a JSON value always serializes")
}

/// A document rendered each time the writer opens it.
struct Generated<F>(F);

impl<F: Fn() -> Vec<u8>> DocumentSource for Generated<F> {
    fn open(&self) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(Cursor::new((self.0)())))
    }

    fn describe(&self) -> String {
        "generated document".to_owned()
    }
}

/// A copy of the estate's data dir to change freely.
fn scratch_copy(estate: &Estate, name: &str) -> anyhow::Result<PathBuf> {
    let copy = estate.dir.join(name);
    let _ = std::fs::remove_dir_all(&copy);
    let status = Command::new("cp")
        .arg("-a")
        .arg(&estate.data)
        .arg(&copy)
        .status()?;
    if !status.success() {
        bail!("copying the estate failed");
    }
    Ok(copy)
}

fn impact(estate: &Estate) -> anyhow::Result<()> {
    let data = scratch_copy(estate, "impact")?;
    let delta = estate.dir.join("osv-impact.tar.zst");
    let docs = (0..DELTA_ADVISORIES)
        .map(|i| advisory_document(BASE_ADVISORIES + i))
        .collect::<Result<Vec<_>, _>>()?;
    let spec = spec("bench-osv", 2, Some(estate.head.clone()));
    write_bundle(spec, docs, std::slice::from_ref(&estate.key), &delta)?;
    cli(&["ingest", "--data-dir", &text(&data), &text(&delta)])?;
    let store = Store::open(&data.join("store").join("state.sqlite"))?;
    store.map_for_reading(stella_scheduler::service::READ_MAP_BYTES)?;
    let position = store.position()?;
    let mut times = Vec::with_capacity(IMPACT_REPEATS);
    let mut impacted = 0;
    for _ in 0..IMPACT_REPEATS {
        let started = Instant::now();
        let set = stella_scheduler::impact::window(&store, position)?;
        times.push(started.elapsed());
        impacted = set.artifacts.len();
    }
    times.remove(0);
    println!(
        "impact: {DELTA_ADVISORIES}-advisory delta against {} artifacts x {COMPONENTS} components: \
         {impacted} artifacts impacted; p50 {:.1} ms, p90 {:.1} ms (target p50 <= 50 ms)",
        estate.artifacts,
        ms(percentile(&times, 50)),
        ms(percentile(&times, 90)),
    );
    Ok(())
}

fn noop_jobs() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut store = Store::open(&tmp.path().join("state.sqlite"))?;
    let per_run = 10_000u64;
    let started = Instant::now();
    let (mut enqueued, mut completed) = (0u64, 0u64);
    let now = 1_000;
    for r in 0..NOOP_JOBS / per_run {
        let run = NewRun {
            trigger: "recheck".to_owned(),
            position: 0,
            window_position: None,
            selector: Some(format!("{{\"noop\":{r}}}")),
            idempotency_key: None,
            tenant: "default".to_owned(),
            impact: b"{}".to_vec(),
            impact_digest: String::new(),
            created_ms: now,
        };
        let jobs: Vec<NewJob> = (0..per_run)
            .map(|j| NewJob {
                artifact: format!("sha256:{:064x}", r * per_run + j),
                tenant: "default".to_owned(),
                severity: "low".to_owned(),
                priority: 0,
                deadline_ms: now + 3_600_000,
                max_attempts: 5,
            })
            .collect();
        store.create_run(&run, &jobs)?;
        enqueued += per_run;
        loop {
            let claimed = store.claim("bench", NOOP_BATCH, now, 60_000)?;
            if claimed.is_empty() {
                break;
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
                    now_ms: now,
                })
                .collect();
            let outcomes = store.complete_jobs(&results)?;
            completed += outcomes.iter().filter(|o| o.is_ok()).count() as u64;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    if completed != enqueued {
        bail!("{enqueued} jobs enqueued but {completed} completed");
    }
    println!(
        "no-op jobs: {completed} enqueued, claimed ({NOOP_BATCH} per claim) and completed in \
         {secs:.2} s: {:.0} jobs/s (target >= 30,000)",
        completed as f64 / secs
    );
    Ok(())
}

fn latency(estate: &Estate) -> anyhow::Result<()> {
    let data = scratch_copy(estate, "latency")?;
    let events = data.join("outbox").join("events");
    let mut watcher = Command::new(BINARY)
        .args(["run", "--settle-ms", "0", "--workers", "2", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let result = measure_latency(estate, &data, &events);
    let _ = watcher.kill();
    let _ = watcher.wait();
    for (what, times, impacted) in result? {
        println!(
            "latency ({what}): one-advisory delta into the inbox -> signed completion event, \
             {} artifacts in the store, {impacted:.0} impacted on average: p50 {:.0} ms, \
             p90 {:.0} ms, max {:.0} ms over {} deltas (target p50 <= 250 ms)",
            estate.artifacts,
            ms(percentile(&times, 50)),
            ms(percentile(&times, 90)),
            ms(percentile(&times, 100)),
            times.len()
        );
    }
    Ok(())
}

/// How many artifacts ship each package of the estate.
fn shipped_by(artifacts: u64) -> Vec<usize> {
    let mut counts = vec![0usize; ESTATE_PACKAGES as usize];
    for a in 0..artifacts {
        for i in packages_of(a).0 {
            counts[i as usize] += 1;
        }
    }
    counts
}

/// Latencies of one-advisory deltas: first about packages drawn uniformly from those the
/// estate ships (a typical day's advisory), then about popular ones (shipped by at least
/// `POPULAR` images, or the most shipped when the estate is small).
fn measure_latency(
    estate: &Estate,
    data: &Path,
    events: &Path,
) -> anyhow::Result<Vec<(&'static str, Vec<Duration>, f64)>> {
    let counts = shipped_by(estate.artifacts);
    let typical: Vec<u64> = (0..ESTATE_PACKAGES)
        .filter(|&i| counts[i as usize] > 0)
        .collect();
    let most = counts.iter().copied().max().unwrap_or(0);
    let popular: Vec<u64> = (0..ESTATE_PACKAGES)
        .filter(|&i| counts[i as usize] >= POPULAR.min(most))
        .collect();
    let inbox = data.join("inbox");
    let mut chain = (2u64, estate.head.clone());
    let mut rng = Rng::new(7);
    std::thread::sleep(Duration::from_millis(500));
    let mut out = Vec::new();
    for (what, pool) in [("typical package", &typical), ("popular package", &popular)] {
        let (mut times, mut impacted) = (Vec::new(), 0usize);
        for _ in 0..LATENCY_DELTAS {
            let about = pool[rng.below(pool.len())];
            let (sequence, previous) = chain.clone();
            let doc = advisory_for(BASE_ADVISORIES + DELTA_ADVISORIES + sequence, Some(about))?;
            let name = format!("osv-{sequence}.tar.zst");
            let partial = inbox.join(format!(".{name}.partial"));
            let spec = spec("bench-osv", sequence, Some(previous));
            let id = write_bundle(spec, vec![doc], std::slice::from_ref(&estate.key), &partial)?.id;
            chain = (sequence + 1, id);
            let before = count(events)?;
            let started = Instant::now();
            std::fs::rename(&partial, inbox.join(&name))?;
            let newest = wait_for_event(events, before)?;
            times.push(started.elapsed());
            impacted += subjects(&newest)?;
        }
        out.push((what, times, impacted as f64 / LATENCY_DELTAS as f64));
    }
    Ok(out)
}

fn count(events: &Path) -> anyhow::Result<usize> {
    match std::fs::read_dir(events) {
        Ok(entries) => Ok(entries.count()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Waits for a new event file; returns the newest one's path.
fn wait_for_event(events: &Path, before: usize) -> anyhow::Result<PathBuf> {
    let started = Instant::now();
    while count(events)? <= before {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("no completion event within 60 s");
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let mut names: Vec<PathBuf> = std::fs::read_dir(events)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    names.sort();
    names.pop().context("an event appeared")
}

fn subjects(event: &Path) -> anyhow::Result<usize> {
    use base64::Engine as _;
    let envelope: serde_json::Value = serde_json::from_slice(&std::fs::read(event)?)?;
    let payload = envelope["payload"].as_str().context("payload")?;
    let statement: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(payload)?)?;
    Ok(statement["subject"].as_array().map_or(0, Vec::len))
}

fn percentile(times: &[Duration], p: usize) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
