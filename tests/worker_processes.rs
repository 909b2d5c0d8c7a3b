//! `worker` processes next to a `run` that only plans and settles: every job is done
//! once, and the findings and exports equal those of one process doing everything.
#![allow(clippy::unwrap_used)]

mod support;

#[path = "fleet/mod.rs"]
mod fleet;
#[path = "pg_support/mod.rs"]
mod pg_support;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use fleet::*;
use support::*;

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
    // A rescan period longer than the test: the runs the workers finish must be
    // settled without waiting for it.
    let mut control = spawn(&[
        "run",
        "--workers",
        "0",
        "--settle-ms",
        "0",
        "--rescan-secs",
        "3600",
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
    let (reference, split) = pg_sites(tmp.path(), &db.url);
    let url = db.url.as_str();
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
