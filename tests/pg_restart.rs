//! PostgreSQL restarted while a control process and two workers are mid-run: they wait
//! it out with backoff, connect again, and the outcome equals one SQLite process doing
//! everything (nothing lost, nothing applied twice).
//!
//! This restarts the machine's PostgreSQL cluster (`pg_ctlcluster ... restart`), so it
//! lives alone in this test binary (cargo runs test binaries one after another). Without
//! the cluster tools or PostgreSQL it says it skipped, except under CI=true.
#![allow(clippy::unwrap_used)]

mod support;

#[path = "fleet/mod.rs"]
mod fleet;
#[path = "pg_support/mod.rs"]
mod pg_support;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use fleet::*;
use support::*;

/// The installed cluster version (`/etc/postgresql/<version>/main`), if any.
fn cluster_version() -> Option<String> {
    let entries = std::fs::read_dir("/etc/postgresql").ok()?;
    let mut versions: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    versions.sort();
    versions.pop()
}

fn restart_cluster(version: &str) {
    let status = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", version, "main", "restart"])
        .status()
        .unwrap();
    assert!(status.success(), "pg_ctlcluster restart failed: {status}");
}

/// Succeeded jobs so far, read through the CLI; `None` while the database is away.
fn succeeded(dir: &Path, url: &str) -> Option<usize> {
    let d = dir.to_str().unwrap();
    let out = run(&[
        "jobs",
        "list",
        "--state",
        "succeeded",
        "--json",
        "--limit",
        "100000",
        "--data-dir",
        d,
        "--database-url",
        url,
    ]);
    let jobs: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(jobs.as_array()?.len())
}

#[test]
fn processes_wait_out_a_postgresql_restart_and_finish_the_same() {
    let test = "processes_wait_out_a_postgresql_restart_and_finish_the_same";
    let Some(version) = cluster_version() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: no PostgreSQL cluster under CI=true"
        );
        eprintln_skip(test);
        return;
    };
    let Some(db) = pg_support::TestDb::fresh(test) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (reference, split) = pg_sites(tmp.path(), &db.url);
    let url = db.url.as_str();

    let mut processes: Vec<Child> = vec![spawn_on(
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
    )];
    for _ in 0..2 {
        processes.push(spawn_on(&split, url, &["worker", "--workers", "1"]));
    }
    // Restart once some jobs are done and others are not.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = succeeded(&split, url).unwrap_or(0);
        if done > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no job finished in 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    restart_cluster(&version);
    for p in &mut processes {
        assert!(
            p.try_wait().unwrap().is_none(),
            "a process exited when PostgreSQL restarted"
        );
    }

    let expected = outcome(&reference, None);
    let deadline = Instant::now() + Duration::from_secs(120);
    let got = loop {
        let settled = succeeded(&split, url).is_some_and(|n| n > 0) && {
            let got = outcome(&split, Some(url));
            (got.0["runs"] == expected.0["runs"] && got.0["jobs"] == expected.0["jobs"])
                .then_some(got)
        }
        .is_some();
        if settled {
            break outcome(&split, Some(url));
        }
        assert!(
            Instant::now() < deadline,
            "not settled in 120 s after the restart"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    for p in &mut processes {
        assert!(
            p.try_wait().unwrap().is_none(),
            "a process exited after the restart"
        );
        let _ = p.kill();
        let _ = p.wait();
    }
    assert_eq!(got.0, expected.0);
    assert_eq!(got.1, expected.1, "findings differ");
    assert_eq!(got.2, expected.2, "runs' impact or delta digests differ");
}

/// Says the test skipped, on the real stderr (the harness hides `eprintln!` of passing
/// tests).
fn eprintln_skip(test: &str) {
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED {test}: no PostgreSQL cluster tools !!!!!!!!\n"
    );
}
