//! `worker` processes next to a `run` that only plans and settles: every job is done
//! once, and the findings and exports equal those of one process doing everything.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

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
