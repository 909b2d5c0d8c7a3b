//! SIGKILL `run --once --workers 2` at random points while it plans runs, works their
//! jobs, signs completion events and exports, restart it, repeat until a run exits 0 by
//! itself; then the site must hold exactly what a site that was never killed holds: every
//! job succeeded, one completion event per run (in the store and in the outbox), the same
//! findings and deltas, and byte-identical export bundles.
//!
//! Inputs arrive in groups (the sample bundles, their delta, generated SBOMs, then
//! generated advisory deltas, one window each); a group enters the inbox once the
//! previous one is done, in both sites, so positions, runs and exports line up. Both
//! sites sign with the demo key, so their events and bundles compare byte for byte. The
//! seed is printed; STELLA_KILL_SEED replays one.
#![allow(clippy::unwrap_used)]
// The seed and kill counts are printed on purpose: they make a failure reproducible.
#![allow(clippy::print_stderr)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use stella_scheduler::bundle::NewDocument;
use stella_scheduler::model::{DocumentFormat, DocumentKind};
use stella_scheduler::store::Store;
use support::*;

const MIN_KILLS: usize = 50;
/// Generated artifacts, and the packages their SBOMs draw from.
const ARTIFACTS: usize = 24;
const PACKAGES: usize = 48;
const COMPONENTS: usize = 24;
/// Groups of inputs at least (the samples, their delta, the SBOMs, one window) and at
/// most.
const MIN_GROUPS: usize = 4;
const MAX_GROUPS: usize = 60;
/// Kills per group at most, within these shares of the time an uninterrupted run of the
/// group took (see `kill_then_finish`). Four, below the five attempts a job has: a kill
/// while a worker holds a claimed batch costs every job in it an attempt, so five kills
/// landing on one batch would dead-letter jobs that never failed.
const KILLS_PER_GROUP: usize = 4;
const KILL_SPAN: f64 = 0.6;
const AIMED_SPAN: f64 = 0.2;
const IN_JOB_SPAN: Duration = Duration::from_micros(100);

// ---------------------------------------------------------------- inputs

fn sample(name: &str) -> PathBuf {
    Path::new(ROOT).join("bundles").join(name)
}

fn package(n: usize) -> String {
    format!("kill-pkg-{n}")
}

/// SBOM `i`: `COMPONENTS` of the generated packages at versions that depend on `i`, plus
/// two packages the sample advisories know.
fn generated_sbom(i: usize) -> NewDocument {
    let mut components: Vec<_> = (0..COMPONENTS)
        .map(|k| {
            let name = package((i * 5 + k * 7) % PACKAGES);
            let version = format!("1.{}.0", (i + k) % 6);
            json!({"type": "library", "name": name, "version": version,
                   "purl": format!("pkg:npm/{name}@{version}")})
        })
        .collect();
    components.push(
        json!({"type": "library", "name": "lodash", "version": "2.4.2",
                           "purl": "pkg:npm/lodash@2.4.2"}),
    );
    components.push(
        json!({"type": "library", "name": "minimist", "version": "0.2.3",
                           "purl": "pkg:npm/minimist@0.2.3"}),
    );
    let bom = json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
                     "components": components});
    let name = format!("registry.local/kill-{i:02}:1");
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(name.as_bytes()));
    sbom(
        &format!("sboms/kill-{i:02}.cdx.json"),
        serde_json::to_vec(&bom).unwrap(),
        &name,
        &digest,
    )
}

/// Window `seq` moves the fixed version of every third package, so each window adds,
/// resolves and changes findings of most generated artifacts.
fn advisories(seq: u64) -> Vec<NewDocument> {
    (0..PACKAGES)
        .filter(|n| (*n as u64 + seq) % 3 != 0)
        .map(|n| {
            let id = format!("KILL-{n}");
            let fixed = format!("1.{}.5", (n as u64 + seq) % 6);
            doc(
                &format!("advisories/{id}.json"),
                DocumentKind::Advisory,
                DocumentFormat::Osv,
                osv(&id, &package(n), &fixed),
            )
        })
        .collect()
}

/// Inputs in arrival groups: the sample bundles, the generated SBOMs, then one
/// generated advisory window after another, for as long as the test asks.
struct Arrivals {
    src: PathBuf,
    given: usize,
    previous: Option<String>,
}

impl Arrivals {
    fn new(src: &Path) -> Self {
        Self {
            src: src.to_owned(),
            given: 0,
            previous: None,
        }
    }

    fn next_group(&mut self) -> Vec<PathBuf> {
        self.given += 1;
        match self.given {
            1 => vec![
                sample("demo-osv-1-snapshot.tar.zst"),
                sample("demo-vex-1-snapshot.tar.zst"),
                sample("demo-sbom-1-snapshot.tar.zst"),
            ],
            2 => vec![sample("demo-osv-2-delta.tar.zst")],
            3 => {
                let file = self.src.join("kill-sbom-1.tar.zst");
                let docs = (0..ARTIFACTS).map(generated_sbom).collect();
                bundle(&file, Spec::snapshot("kill-sbom", 1), docs);
                vec![file]
            }
            n => {
                let seq = n as u64 - 3;
                let file = self.src.join(format!("kill-osv-{seq}.tar.zst"));
                let spec = Spec::delta("kill-osv", seq, self.previous.as_deref());
                self.previous = Some(bundle(&file, spec, advisories(seq)));
                vec![file]
            }
        }
    }
}

// ---------------------------------------------------------------- sites

/// A data dir that signs with the demo key and trusts it for every feed.
fn site(root: &Path) -> PathBuf {
    let dir = root.join("data");
    let key = Path::new(ROOT).join("bundles/demo-key/DEMO-ONLY-NOT-SECRET.key");
    ok(&[
        "init",
        "--data-dir",
        dir.to_str().unwrap(),
        "--site-id",
        "kill-site",
        "--site-key",
        key.to_str().unwrap(),
    ]);
    let trust = dir.join("trust.json");
    ok(&[
        "trust",
        "add",
        "--trust",
        trust.to_str().unwrap(),
        "--public-key",
        demo_pub().to_str().unwrap(),
        "--feed",
        "*",
    ]);
    dir
}

fn run_once(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--once", "--settle-ms", "0", "--workers", "2"])
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

#[derive(Debug, Default)]
struct Tally {
    /// Kills of a live process.
    kills: usize,
    /// Kills of a process whose workers held jobs.
    mid_job: usize,
    /// Kills after which runs were left to finish, emit or export.
    mid_settle: usize,
}

impl Tally {
    /// Enough kills, and enough of them in jobs and in settling.
    fn enough(&self) -> bool {
        self.kills >= MIN_KILLS && self.mid_job >= MIN_KILLS / 2 && self.mid_settle >= 10
    }
}

/// Jobs leased by the process `pid` (worker names carry their process id), so that
/// leases a killed predecessor left behind do not count.
fn leased_by(dir: &Path, pid: u32) -> u64 {
    let sql = format!(
        "SELECT COUNT(*) FROM jobs WHERE state = 'leased' AND lease_owner LIKE 'kill-site:{pid}:%'"
    );
    count(dir, &sql)
}

/// Runs whose jobs are all done but that are not yet finished, emitted and exported:
/// what `settle` works on.
fn settling(dir: &Path) -> u64 {
    count(
        dir,
        "SELECT COUNT(*) FROM runs r WHERE NOT EXISTS (SELECT 1 FROM jobs j
             WHERE j.run_seq = r.seq AND j.state IN ('queued', 'leased'))
           AND (r.state = 'running' OR (r.completion IS NOT NULL
                AND (r.emitted = 0 OR r.export_seq IS NULL)))",
    )
}

/// A count from the store, read-only and without migrations so that it can look while
/// a run works; 0 before the first run created the tables.
fn count(dir: &Path, sql: &str) -> u64 {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let db = rusqlite::Connection::open_with_flags(dir.join("store/state.sqlite"), flags);
    let n = db.unwrap().query_row(sql, [], |r| r.get::<_, i64>(0));
    n.map_or(0, |n| n as u64)
}

/// Runs `run --once` to its end, which must be a success.
fn run_to_end(dir: &Path) {
    let out = run_once(dir).stderr(Stdio::piped()).output().unwrap();
    assert!(
        out.status.success(),
        "run --once failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `run --once` and SIGKILLs it, up to `KILLS_PER_GROUP` times (a run that
/// finished first is not killed), then lets one more run finish whatever is left. The
/// first kill lands anywhere within `KILL_SPAN` of `took`, the uninterrupted time; the
/// second and third wait until the process holds jobs, then land within `IN_JOB_SPAN`;
/// the fourth waits until runs wait to be settled (finished, emitted, exported), then
/// lands within `AIMED_SPAN` of `took`.
fn kill_then_finish(dir: &Path, took: Duration, rng: &mut Rng, tally: &mut Tally) {
    for k in 0..KILLS_PER_GROUP {
        let mut child = run_once(dir).spawn().unwrap();
        let span = match k {
            0 => took.mul_f64(KILL_SPAN),
            3 => {
                wait_until(&mut child, || settling(dir) > 0);
                took.mul_f64(AIMED_SPAN)
            }
            _ => {
                let pid = child.id();
                wait_until(&mut child, || leased_by(dir, pid) > 0);
                // Jobs of a window take a few milliseconds in all: the kill must follow
                // the lease closely to land inside one.
                took.mul_f64(AIMED_SPAN).min(IN_JOB_SPAN)
            }
        };
        let span_us = span.as_micros().max(1) as u64;
        std::thread::sleep(Duration::from_micros(rng.below(span_us)));
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "run --once failed: {status}");
            break;
        }
        let pid = child.id();
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        tally.kills += 1;
        tally.mid_job += usize::from(leased_by(dir, pid) > 0);
        tally.mid_settle += usize::from(settling(dir) > 0);
    }
    run_to_end(dir);
}

/// Returns once `reached` holds or `child` has exited.
fn wait_until(child: &mut std::process::Child, reached: impl Fn() -> bool) {
    while child.try_wait().unwrap().is_none() && !reached() {
        std::thread::sleep(Duration::from_micros(200));
    }
}

// ---------------------------------------------------------------- what a site holds

/// Everything the two sites must agree on, read back through the store.
#[derive(Debug, PartialEq, Eq)]
struct Held {
    runs: Vec<HeldRun>,
    /// Per job: run id, artifact, state.
    jobs: Vec<(String, String, String)>,
    /// Per (run id, artifact): the stored delta.
    deltas: BTreeMap<(String, String), Vec<u8>>,
    /// Per (artifact, position): the stored findings.
    evaluations: BTreeMap<(String, u64), Vec<u8>>,
    /// Per export: sequence, bundle id, runs carried, createdAt.
    exports: Vec<(u64, String, u64, String)>,
    /// Finished runs with an event that no export carried.
    unexported: usize,
}

/// A run: its id, trigger, position, state, summary and completion envelope.
#[derive(Debug, PartialEq, Eq)]
struct HeldRun {
    run_id: String,
    trigger: String,
    position: u64,
    state: String,
    summary: Vec<u8>,
    completion: Option<Vec<u8>>,
}

fn held(dir: &Path) -> Held {
    let store = Store::open(&dir.join("store/state.sqlite")).unwrap();
    let mut records = store.runs(None, u64::MAX >> 1).unwrap();
    records.reverse();
    let exports = store.exports().unwrap().into_iter();
    let mut held = Held {
        runs: Vec::new(),
        jobs: Vec::new(),
        deltas: BTreeMap::new(),
        evaluations: BTreeMap::new(),
        exports: exports
            .map(|e| (e.sequence, e.bundle_id, e.runs, e.created_at))
            .collect(),
        unexported: store.unexported().unwrap().len(),
    };
    for run in &records {
        let output = store.run_output(run.seq).unwrap();
        held.runs.push(HeldRun {
            run_id: run.run_id.clone(),
            trigger: run.trigger.clone(),
            position: run.position,
            state: run.state.clone(),
            summary: output.summary.expect("a finished run has a summary"),
            completion: output.completion,
        });
        for (artifact, delta) in store.run_deltas(run.seq).unwrap() {
            held.deltas.insert((run.run_id.clone(), artifact), delta);
        }
    }
    for job in store.jobs(None, None, u64::MAX >> 1).unwrap() {
        let position = records
            .iter()
            .find(|r| r.run_id == job.run_id)
            .unwrap()
            .position;
        let findings = store.evaluation(&job.artifact, position).unwrap();
        held.evaluations.insert(
            (job.artifact.clone(), position),
            findings.expect("a succeeded job recorded its findings"),
        );
        held.jobs.push((job.run_id, job.artifact, job.state));
    }
    held
}

/// The outbox's files (events/ and export bundles) by relative path, with their bytes;
/// temp files a kill left behind (`.NAME.PID.partial`) are listed apart.
fn outbox(dir: &Path) -> (BTreeMap<String, Vec<u8>>, Vec<String>) {
    let mut files = BTreeMap::new();
    let mut partial = Vec::new();
    for sub in ["", "events"] {
        let folder = dir.join("outbox").join(sub);
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            if !entry.file_type().unwrap().is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if sub.is_empty() {
                name.clone()
            } else {
                format!("{sub}/{name}")
            };
            match name.starts_with('.') {
                true => partial.push(rel),
                false => {
                    files.insert(rel, std::fs::read(entry.path()).unwrap());
                }
            }
        }
    }
    (files, partial)
}

/// Jobs that did not succeed, each with its state and recorded attempts.
fn unsucceeded(dir: &Path) -> Vec<String> {
    let store = Store::open(&dir.join("store/state.sqlite")).unwrap();
    let jobs = store.jobs(None, None, u64::MAX >> 1).unwrap();
    let failed = jobs.into_iter().filter(|j| j.state != "succeeded");
    failed
        .map(|j| {
            let attempts = store.job_attempts(j.job_id).unwrap();
            format!("{} {} {}: {attempts:?}", j.state, j.run_id, j.artifact)
        })
        .collect()
}

/// The keys whose values differ between two maps, or that only one has.
fn differing<K: Ord + std::fmt::Debug, V: PartialEq>(
    got: &BTreeMap<K, V>,
    expected: &BTreeMap<K, V>,
) -> Vec<String> {
    let keys = got.keys().chain(expected.keys());
    let mut keys: Vec<&K> = keys.filter(|k| got.get(k) != expected.get(k)).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter().map(|k| format!("{k:?}")).collect()
}

fn findings(dir: &Path) -> Vec<u8> {
    ok(&["findings", "--json", "--data-dir", dir.to_str().unwrap()]).stdout
}

// ---------------------------------------------------------------- the test

#[test]
fn sigkill_during_runs_loses_no_job_and_emits_each_event_once() {
    let seed: u64 = std::env::var("STELLA_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::process::id() as u64 * 2_654_435_761 + 1);
    eprintln!("kill test seed: {seed} (replay with STELLA_KILL_SEED={seed})");
    let mut rng = Rng(seed | 1);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let reference = site(&tmp.path().join("reference"));
    let killed = site(&tmp.path().join("killed"));

    // Each group goes through the reference site uninterrupted, then through the killed
    // site, whose kills land within that uninterrupted time (so they scale with the
    // machine) before a last run finishes; groups keep coming until enough kills landed.
    let started = Instant::now();
    let mut arrivals = Arrivals::new(&src);
    let mut tally = Tally::default();
    while !tally.enough() || arrivals.given < MIN_GROUPS {
        assert!(
            arrivals.given < MAX_GROUPS,
            "{tally:?} after {MAX_GROUPS} groups"
        );
        let group = arrivals.next_group();
        drop_group(&group, &reference);
        let clock = Instant::now();
        run_to_end(&reference);
        let took = clock.elapsed();
        drop_group(&group, &killed);
        kill_then_finish(&killed, took, &mut rng, &mut tally);
    }
    eprintln!(
        "{} groups, {tally:?}, in {:?}",
        arrivals.given,
        started.elapsed()
    );

    let expected = held(&reference);
    let got = held(&killed);
    let jobs = expected.jobs.len();
    assert!(jobs >= 200, "enough work for the kills to hit: {jobs} jobs");
    assert_eq!(
        unsucceeded(&reference),
        Vec::<String>::new(),
        "the reference's jobs"
    );
    let lost = unsucceeded(&killed);
    assert!(lost.is_empty(), "jobs lost (seed {seed}): {lost:#?}");
    for run in got.runs.iter().chain(&expected.runs) {
        assert_eq!(run.state, "completed", "{} (seed {seed})", run.run_id);
    }
    assert_eq!(got.jobs, expected.jobs, "the same jobs (seed {seed})");
    let ids = |runs: &[HeldRun]| runs.iter().map(|r| r.run_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&got.runs), ids(&expected.runs));
    for (run, twin) in got.runs.iter().zip(&expected.runs) {
        assert!(
            run == twin,
            "{}: summary or event differs (seed {seed})",
            run.run_id
        );
    }
    let none: Vec<String> = Vec::new();
    assert_eq!(
        differing(&got.deltas, &expected.deltas),
        none,
        "deltas (seed {seed})"
    );
    assert_eq!(
        differing(&got.evaluations, &expected.evaluations),
        none,
        "findings (seed {seed})"
    );
    assert_eq!(got.exports, expected.exports, "exports (seed {seed})");
    assert_eq!(got.unexported, 0, "every event was exported (seed {seed})");
    assert!(
        findings(&killed) == findings(&reference),
        "findings --json (seed {seed})"
    );

    let (events, partial) = outbox(&killed);
    let (expected_events, _) = outbox(&reference);
    let with_event: Vec<&HeldRun> = got.runs.iter().filter(|r| r.completion.is_some()).collect();
    assert!(
        with_event.len() >= MIN_GROUPS,
        "{} events",
        with_event.len()
    );
    for run in &with_event {
        let name = format!("events/{}.dsse.json", run.run_id);
        assert!(
            events.get(&name) == run.completion.as_ref(),
            "{name}: missing, or not the store's event (seed {seed})"
        );
    }
    let event_files = events.keys().filter(|k| k.starts_with("events/")).count();
    assert_eq!(event_files, with_event.len(), "one file per event");
    let carried: u64 = got.exports.iter().map(|e| e.2).sum();
    assert_eq!(carried, with_event.len() as u64, "each run exported once");
    let exports = events.keys().filter(|k| k.ends_with(".tar.zst")).count();
    assert!(exports >= 2, "completion bundles: {exports}");
    assert_eq!(
        differing(&events, &expected_events),
        none,
        "outbox files that differ from the uninterrupted site's (seed {seed})"
    );
    assert!(
        partial.is_empty(),
        "temp files left by killed writers survive a restart: {partial:?} (seed {seed})"
    );
    assert!(tally.enough(), "{tally:?}");
}
