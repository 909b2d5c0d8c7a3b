//! The scheduler's commands through the real binary over the sample bundles: status
//! counts, runs list/show/cancel/retry, recheck, jobs list/retry, queue pause/resume,
//! export, and the refusals each documents (exit 1 with the reason); exit 2 when the
//! PostgreSQL store cannot be reached, and for an offline-kit import into PostgreSQL.
#![allow(clippy::unwrap_used)]

#[path = "pg_support/mod.rs"]
mod pg_support;
mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::*;

/// The four samples ingested and `run --once` done: 4 window runs, 6 jobs, 1 export.
fn site(root: &Path) -> PathBuf {
    let dir = data_dir(root);
    let d = dir.to_str().unwrap().to_owned();
    let bundles = Path::new(ROOT).join("bundles");
    let mut args = vec!["ingest".to_owned(), "--data-dir".to_owned(), d.clone()];
    for name in bundle_names(&bundles) {
        args.push(bundles.join(name).to_str().unwrap().to_owned());
    }
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    ok(&["run", "--once", "--settle-ms", "0", "--data-dir", &d]);
    dir
}

fn json(args: &[&str]) -> Value {
    serde_json::from_slice(&ok(args).stdout).unwrap()
}

fn refused(args: &[&str], says: &str) {
    let out = run(args);
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(says), "{args:?}: {stderr}");
}

#[test]
fn status_runs_and_jobs_describe_a_finished_site() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path());
    let d = dir.to_str().unwrap();

    let status = json(&["status", "--json", "--data-dir", d]);
    assert_eq!(status["runs"], serde_json::json!({"completed": 4}));
    assert_eq!(status["jobs"], serde_json::json!({"succeeded": 6}));
    assert_eq!(status["lastExport"], 1);
    assert_eq!(status["queuePaused"], false);
    assert_eq!(status["slaBreached"], 0);

    let runs = json(&["runs", "list", "--json", "--data-dir", d]);
    let ids: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["runId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "run-00000004",
            "run-00000003",
            "run-00000002",
            "run-00000001"
        ]
    );

    // The SBOM window (position 3 in file order: osv 1, osv 2, sbom, vex).
    let shown = json(&["runs", "show", "--json", "--data-dir", d, "run-00000003"]);
    assert_eq!(shown["jobs"]["succeeded"], 6);
    assert_eq!(shown["summary"]["new"], 19);
    assert_eq!(
        shown["completion"]["payloadType"],
        "application/vnd.in-toto+json"
    );
    assert_eq!(shown["impact"]["artifacts"].as_array().unwrap().len(), 6);

    let jobs = json(&[
        "jobs",
        "list",
        "--json",
        "--data-dir",
        d,
        "--run",
        "run-00000003",
    ]);
    assert_eq!(jobs.as_array().unwrap().len(), 6);
    assert!(jobs
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["state"] == "succeeded"));

    refused(&["runs", "show", "--data-dir", d, "run-99"], "no run");
    refused(
        &["runs", "cancel", "--data-dir", d, "run-00000003"],
        "not cancellable",
    );
    refused(
        &["runs", "retry", "--data-dir", d, "run-00000003"],
        "only a failed run",
    );
    refused(&["jobs", "retry", "--data-dir", d, "1"], "only a dead job");
    refused(&["jobs", "retry", "--data-dir", d, "999"], "no job 999");

    let out = ok(&[
        "export",
        "--data-dir",
        d,
        "--out",
        tmp.path().to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to export"));
}

#[test]
fn a_paused_queue_holds_a_recheck_until_it_is_cancelled_or_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path());
    let d = dir.to_str().unwrap();
    ok(&["queue", "pause", "--data-dir", d]);
    let all = r#"{"all":true}"#;
    let first = json(&[
        "recheck",
        "--json",
        "--data-dir",
        d,
        "--selector",
        all,
        "--idempotency-key",
        "k1",
    ]);
    assert_eq!(first["created"], true);
    let again = json(&[
        "recheck",
        "--json",
        "--data-dir",
        d,
        "--selector",
        all,
        "--idempotency-key",
        "k1",
    ]);
    assert_eq!(again["created"], false);
    assert_eq!(again["run"]["runId"], first["run"]["runId"]);
    refused(
        &[
            "recheck",
            "--data-dir",
            d,
            "--selector",
            r#"{"purl":"pkg:npm/x"}"#,
            "--idempotency-key",
            "k1",
        ],
        "another selector",
    );

    ok(&["run", "--once", "--settle-ms", "0", "--data-dir", d]);
    let status = json(&["status", "--json", "--data-dir", d]);
    assert_eq!(status["queuePaused"], true);
    assert_eq!(
        status["jobs"]["queued"], 6,
        "a paused queue hands out nothing"
    );

    let held = first["run"]["runId"].as_str().unwrap();
    ok(&["runs", "cancel", "--data-dir", d, held]);
    let cancelled = json(&[
        "jobs",
        "list",
        "--json",
        "--data-dir",
        d,
        "--state",
        "cancelled",
    ]);
    assert_eq!(cancelled.as_array().unwrap().len(), 6);

    ok(&["queue", "resume", "--data-dir", d]);
    let second = json(&["recheck", "--json", "--data-dir", d, "--selector", all]);
    ok(&["run", "--once", "--settle-ms", "0", "--data-dir", d]);
    let id = second["run"]["runId"].as_str().unwrap();
    let shown = json(&["runs", "show", "--json", "--data-dir", d, id]);
    assert_eq!(shown["run"]["state"], "completed");
    assert_eq!(
        shown["summary"]["new"], 0,
        "a recheck of an unchanged state finds nothing new"
    );
    let status = json(&["status", "--json", "--data-dir", d]);
    assert_eq!(
        status["lastExport"], 2,
        "the recheck's event went out in a second export"
    );
}

/// A `postgres://` URL on a local port nobody listens on: the port was free a moment ago.
fn unreachable_database_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("postgres://postgres@127.0.0.1:{port}/stella")
}

#[test]
fn one_shot_commands_exit_2_naming_the_store_when_postgres_is_unreachable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path());
    let d = dir.to_str().unwrap();
    let url = unreachable_database_url();
    let sample = Path::new(ROOT)
        .join("bundles")
        .join(&bundle_names(&Path::new(ROOT).join("bundles"))[0]);
    let commands: [Vec<&str>; 3] = [
        vec!["status", "--json"],
        vec!["runs", "list", "--json"],
        vec!["ingest", sample.to_str().unwrap()],
    ];
    for command in commands {
        let mut args = command.clone();
        args.extend(["--data-dir", d, "--database-url", &url]);
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(
            stderr.contains("cannot open the PostgreSQL store") && stderr.contains("refused"),
            "{command:?}: {stderr}"
        );
    }
    // Nothing was taken from where it lay: the bundle is still there, not quarantined.
    assert!(sample.exists());
    assert_eq!(
        std::fs::read_dir(dir.join("quarantine")).unwrap().count(),
        0
    );
}

#[test]
fn offline_kit_import_into_postgres_is_refused_before_anything_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path());
    let d = dir.to_str().unwrap();
    let url = unreachable_database_url();
    let kit = tmp.path().join("no-such-kit.tar.zst");
    let key = demo_pub();
    let out = run(&[
        "offline-kit",
        "import",
        "--key",
        key.to_str().unwrap(),
        "--data-dir",
        d,
        "--database-url",
        &url,
        kit.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("offline-kit import into PostgreSQL is not supported yet"),
        "{stderr}"
    );
}

/// A data dir made with `--database-url` keeps its state in PostgreSQL: a command given
/// no URL refuses (exit 2, saying how to give it) instead of opening an empty SQLite
/// file beside it and archiving bundles the database never saw.
#[test]
fn a_postgresql_site_refuses_commands_without_a_database_url() {
    let Some(db) =
        pg_support::TestDb::fresh("a_postgresql_site_refuses_commands_without_a_database_url")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    let d = dir.to_str().unwrap();
    let trust = Path::new(ROOT).join("bundles/demo-trust.json");
    ok(&[
        "init",
        "--data-dir",
        d,
        "--import-trust",
        trust.to_str().unwrap(),
        "--database-url",
        &db.url,
    ]);
    let config: Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["store"], "postgresql");
    let sample = Path::new(ROOT)
        .join("bundles")
        .join(&bundle_names(&Path::new(ROOT).join("bundles"))[0]);
    let kit = tmp.path().join("kit.tar.zst");
    let key = demo_pub();
    let commands: [Vec<&str>; 4] = [
        vec!["status", "--json"],
        vec!["ingest", sample.to_str().unwrap()],
        vec!["run", "--once"],
        vec![
            "offline-kit",
            "import",
            "--key",
            key.to_str().unwrap(),
            kit.to_str().unwrap(),
        ],
    ];
    for command in commands {
        let mut args = command.clone();
        args.extend(["--data-dir", d]);
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(stderr.contains("PostgreSQL"), "{command:?}: {stderr}");
    }
    assert!(sample.exists());
    assert!(!dir.join("store/state.sqlite").exists() || sqlite_is_empty(&dir));
    assert_eq!(std::fs::read_dir(dir.join("archive")).unwrap().count(), 0);
    // With the URL, the same commands work.
    ok(&[
        "ingest",
        sample.to_str().unwrap(),
        "--data-dir",
        d,
        "--database-url",
        &db.url,
    ]);
    let status = ok(&[
        "status",
        "--json",
        "--data-dir",
        d,
        "--database-url",
        &db.url,
    ]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["position"], 1);
}

/// Whether the SQLite file of a data dir holds no applied bundle.
fn sqlite_is_empty(dir: &Path) -> bool {
    let store = stella_scheduler::store::Store::open(&dir.join("store/state.sqlite")).unwrap();
    store.position().unwrap() == 0
}
