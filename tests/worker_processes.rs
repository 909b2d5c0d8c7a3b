//! `worker` processes next to a `run` that only plans and settles: every job is done
//! once, and the findings and exports equal those of one process doing everything.
#![allow(clippy::unwrap_used)]

mod support;

#[path = "pg_support/mod.rs"]
mod pg_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

/// Images of the PostgreSQL kill test: enough jobs that workers are still busy when one
/// of them is killed.
const IMAGES: usize = 400;

fn site(root: &Path) -> PathBuf {
    let dir = data_dir(root);
    let d = dir.to_str().unwrap().to_owned();
    let bundles = Path::new(ROOT).join("bundles");
    let mut args = vec!["ingest".to_owned(), "--data-dir".to_owned(), d];
    for name in bundle_names(&bundles) {
        args.push(bundles.join(name).to_str().unwrap().to_owned());
    }
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    dir
}

fn spawn(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn findings(dir: &Path) -> Vec<u8> {
    ok(&["findings", "--json", "--data-dir", dir.to_str().unwrap()]).stdout
}

#[test]
fn two_worker_processes_and_a_planning_run_give_the_single_process_result() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = site(&tmp.path().join("reference"));
    let r = reference.to_str().unwrap();
    ok(&["run", "--once", "--settle-ms", "0", "--data-dir", r]);

    let split = site(&tmp.path().join("split"));
    let d = split.to_str().unwrap();
    let mut control = spawn(&[
        "run",
        "--workers",
        "0",
        "--settle-ms",
        "0",
        "--rescan-secs",
        "1",
        "--data-dir",
        d,
    ]);
    let mut workers: Vec<Child> = (0..2)
        .map(|_| spawn(&["worker", "--workers", "2", "--data-dir", d]))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let settled = loop {
        let s = status(&split);
        if s["runs"] == serde_json::json!({"completed": 4}) && s["lastExport"] == 1 {
            break s;
        }
        assert!(Instant::now() < deadline, "not settled in 60 s: {s}");
        std::thread::sleep(Duration::from_millis(200));
    };
    for child in workers.iter_mut().chain([&mut control]) {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert_eq!(settled["jobs"], serde_json::json!({"succeeded": 6}));
    assert_eq!(findings(&split), findings(&reference));
    let expected = status(&reference);
    assert_eq!(settled["stateDigest"], expected["stateDigest"]);
    // Each run's impact set and findings delta are the same, whichever process ran it.
    let digests = |dir: &Path| -> Vec<(String, String)> {
        let out = ok(&[
            "runs",
            "list",
            "--json",
            "--data-dir",
            dir.to_str().unwrap(),
        ]);
        let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        runs.as_array()
            .unwrap()
            .iter()
            .map(|r| (r["impactDigest"].to_string(), r["deltaDigest"].to_string()))
            .collect()
    };
    assert_eq!(digests(&split), digests(&reference));
}

/// An SBOM of `i`: lodash and minimist at versions the demo advisories name, and a few
/// generated packages.
fn image_sbom(i: usize) -> stella_scheduler::bundle::NewDocument {
    let mut components: Vec<_> = (0..6)
        .map(|k| {
            let name = format!("gen-pkg-{}", (i * 7 + k * 3) % 50);
            json!({"type": "library", "name": name, "version": "1.0.0",
                   "purl": format!("pkg:npm/{name}@1.0.0")})
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
    let name = format!("registry.local/image-{i:03}:1");
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(name.as_bytes()));
    sbom(
        &format!("sboms/image-{i:03}.cdx.json"),
        serde_json::to_vec(&bom).unwrap(),
        &name,
        &digest,
    )
}

/// Runs a command on a data dir whose state is in `db`.
fn on(dir: &Path, db: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--data-dir", dir.to_str().unwrap()]);
    if let Some(url) = db {
        all.extend(["--database-url", url]);
    }
    ok(&all)
}

fn spawn_on(dir: &Path, db: &str, args: &[&str]) -> Child {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--data-dir", dir.to_str().unwrap(), "--database-url", db]);
    spawn(&all)
}

/// Jobs leased by the process `pid` (worker names carry their process id).
fn leased_by(dir: &Path, db: &str, pid: u32) -> usize {
    let out = on(
        dir,
        Some(db),
        &["jobs", "list", "--state", "leased", "--json"],
    );
    let jobs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mark = format!(":{pid}:");
    jobs.as_array()
        .unwrap()
        .iter()
        .filter(|j| j["leaseOwner"].as_str().is_some_and(|o| o.contains(&mark)))
        .count()
}

/// The state and the runs' digests, what the two sites must agree on.
fn outcome(dir: &Path, db: Option<&str>) -> (serde_json::Value, Vec<u8>, Vec<(String, String)>) {
    let status: serde_json::Value =
        serde_json::from_slice(&on(dir, db, &["status", "--json"]).stdout).unwrap();
    let findings = on(dir, db, &["findings", "--json"]).stdout;
    let runs: serde_json::Value =
        serde_json::from_slice(&on(dir, db, &["runs", "list", "--json"]).stdout).unwrap();
    let digests = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["impactDigest"].to_string(), r["deltaDigest"].to_string()))
        .collect();
    let summary = json!({"runs": status["runs"], "jobs": status["jobs"],
                         "stateDigest": status["stateDigest"], "position": status["position"]});
    (summary, findings, digests)
}

/// One control process and three worker processes on one PostgreSQL database; one
/// worker is SIGKILLed while it holds jobs and a replacement is started (which takes
/// back the dead process's leases at once). Every job completes once in effect, and the
/// outcome equals one SQLite process doing everything.
#[test]
fn a_worker_killed_mid_run_on_postgresql_changes_nothing() {
    let Some(db) =
        pg_support::TestDb::fresh("a_worker_killed_mid_run_on_postgresql_changes_nothing")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images.tar.zst");
    bundle(
        &images,
        Spec::snapshot("images", 1),
        (0..IMAGES).map(image_sbom).collect(),
    );

    let reference = site(&tmp.path().join("reference"));
    on(&reference, None, &["ingest", images.to_str().unwrap()]);
    on(&reference, None, &["run", "--once", "--settle-ms", "0"]);

    let root = tmp.path().join("split");
    let split = root.join("data");
    let url = db.url.as_str();
    ok(&[
        "init",
        "--data-dir",
        split.to_str().unwrap(),
        "--site-id",
        "test-site",
        "--database-url",
        url,
    ]);
    ok(&[
        "trust",
        "add",
        "--trust",
        split.join("trust.json").to_str().unwrap(),
        "--public-key",
        demo_pub().to_str().unwrap(),
        "--feed",
        "*",
    ]);
    let bundles = Path::new(ROOT).join("bundles");
    for name in bundle_names(&bundles) {
        on(
            &split,
            Some(url),
            &["ingest", bundles.join(name).to_str().unwrap()],
        );
    }
    on(&split, Some(url), &["ingest", images.to_str().unwrap()]);

    let mut control = spawn_on(
        &split,
        url,
        &[
            "run",
            "--workers",
            "0",
            "--settle-ms",
            "0",
            "--rescan-secs",
            "1",
        ],
    );
    let mut workers: Vec<Child> = (0..3)
        .map(|_| spawn_on(&split, url, &["worker", "--workers", "1"]))
        .collect();
    // Kill the first worker once it holds jobs (or after 20 s, which fails below).
    let victim = workers[0].id();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut held = 0;
    while held == 0 && Instant::now() < deadline {
        held = leased_by(&split, url, victim);
    }
    workers[0].kill().unwrap();
    workers[0].wait().unwrap();
    assert!(held > 0, "the victim never held a job");
    workers.push(spawn_on(&split, url, &["worker", "--workers", "1"]));

    let deadline = Instant::now() + Duration::from_secs(120);
    let expected = outcome(&reference, None);
    let got = loop {
        let got = outcome(&split, Some(url));
        if got.0["runs"] == expected.0["runs"] && got.0["jobs"] == expected.0["jobs"] {
            break got;
        }
        assert!(Instant::now() < deadline, "not settled in 120 s: {}", got.0);
        std::thread::sleep(Duration::from_millis(300));
    };
    for child in workers.iter_mut().chain([&mut control]) {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(got.0, expected.0);
    assert_eq!(got.1, expected.1, "findings differ");
    assert_eq!(got.2, expected.2, "runs' impact or delta digests differ");
}
