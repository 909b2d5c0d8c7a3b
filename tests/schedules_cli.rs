//! Schedules through the real binary on a real data dir with the sample bundles: add,
//! list, pause, resume, delete, the refusals (exit 1 with what, where and why), and
//! `run --once` firing what is due exactly once.
//!
//! No test waits for a clock: a new schedule owes its latest fire time (docs/scheduler.md,
//! "Schedules"), so a yearly `0 0 1 1 *` is due at the next `run --once` and not again
//! for a year. Fire times at fixed instants are tested in `src/jobs/schedule.rs`.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::*;

const ALL: &str = r#"{"all":true}"#;

/// An initialized data dir with the four samples ingested (no run yet).
fn site(root: &Path) -> PathBuf {
    let dir = data_dir(root);
    let bundles = Path::new(ROOT).join("bundles");
    let mut args = vec![
        "ingest".to_owned(),
        "--data-dir".to_owned(),
        dir.to_str().unwrap().to_owned(),
    ];
    for name in bundle_names(&bundles) {
        args.push(bundles.join(name).to_str().unwrap().to_owned());
    }
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    dir
}

fn json(args: &[&str]) -> Value {
    serde_json::from_slice(&ok(args).stdout).unwrap()
}

fn refused(args: &[&str], says: &[&str]) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    for part in says {
        assert!(
            stderr.contains(part),
            "{args:?}: wanted {part:?} in {stderr}"
        );
    }
}

fn add(d: &str, name: &str, cron: &str) -> Value {
    json(&[
        "schedules",
        "add",
        "--json",
        "--data-dir",
        d,
        "--name",
        name,
        "--cron",
        cron,
        "--timezone",
        "Europe/Berlin",
        "--selector",
        ALL,
    ])
}

fn run_once(d: &str) {
    ok(&["run", "--once", "--settle-ms", "0", "--data-dir", d]);
}

/// Runs with trigger `schedule`, newest first.
fn scheduled_runs(d: &str) -> Vec<Value> {
    let runs = json(&["runs", "list", "--json", "--data-dir", d]);
    let runs = runs.as_array().unwrap().iter().cloned();
    runs.filter(|r| r["trigger"] == "schedule").collect()
}

fn schedule(d: &str, name: &str) -> Value {
    let all = json(&["schedules", "list", "--json", "--data-dir", d]);
    let found = all
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scheduleId"] == name);
    found.cloned().unwrap_or(Value::Null)
}

#[test]
fn a_due_schedule_fires_once_and_a_paused_one_not_at_all() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path());
    let d = dir.to_str().unwrap();

    let yearly = add(d, "yearly", "0 0 1 1 *");
    assert_eq!(yearly["paused"], false);
    assert_eq!(yearly["lastFired"], Value::Null);
    assert_eq!(yearly["selector"], ALL);
    // Midnight of 1 January in Berlin (CET, +1) is 23:00 UTC the day before.
    let owed = yearly["nextFire"].as_str().unwrap().to_owned();
    assert!(owed.ends_with("-12-31T23:00:00Z"), "{owed}");
    add(d, "held", "0 0 1 1 *");
    let held = json(&[
        "schedules",
        "pause",
        "--json",
        "--data-dir",
        d,
        "--name",
        "held",
    ]);
    assert_eq!(held["paused"], true);

    run_once(d);
    let fired = scheduled_runs(d);
    assert_eq!(fired.len(), 1, "one run, for `yearly` only: {fired:?}");
    let key = fired[0]["idempotencyKey"].as_str().unwrap();
    let fire_time = schedule(d, "yearly")["lastFired"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(key, format!("schedule:yearly:{fire_time}"));
    assert!(fire_time.ends_with("-12-31T23:00:00Z"), "{fire_time}");
    let id = fired[0]["runId"].as_str().unwrap();
    let shown = json(&["runs", "show", "--json", "--data-dir", d, id]);
    assert_eq!(shown["run"]["state"], "completed");
    assert_eq!(shown["run"]["selector"], ALL);
    assert_eq!(
        shown["jobs"]["succeeded"], 6,
        "every sample artifact rechecked"
    );
    assert_eq!(schedule(d, "held")["lastFired"], Value::Null);

    // The same fire time again: nothing new.
    run_once(d);
    assert_eq!(scheduled_runs(d).len(), 1);

    // Resumed, `held` skips the fire time that passed while it was paused.
    let resumed = json(&[
        "schedules",
        "resume",
        "--json",
        "--data-dir",
        d,
        "--name",
        "held",
    ]);
    assert_eq!(resumed["paused"], false);
    assert!(resumed["nextFire"].as_str().unwrap() > fire_time.as_str());
    run_once(d);
    assert_eq!(scheduled_runs(d).len(), 1);

    let text = String::from_utf8(ok(&["schedules", "list", "--data-dir", d]).stdout).unwrap();
    assert!(
        text.contains("yearly  active  \"0 0 1 1 *\" Europe/Berlin"),
        "{text}"
    );
    ok(&["schedules", "delete", "--data-dir", d, "--name", "held"]);
    assert_eq!(schedule(d, "held"), Value::Null);
    refused(
        &["schedules", "delete", "--data-dir", d, "--name", "held"],
        &["no schedule \"held\""],
    );
    refused(
        &["schedules", "pause", "--data-dir", d, "--name", "held"],
        &["no schedule \"held\""],
    );
}

#[test]
fn bad_names_expressions_zones_and_selectors_are_refused_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path());
    let d = dir.to_str().unwrap();
    let add = |name: &str, cron: &str, zone: &str, selector: &str| {
        vec![
            "schedules".to_owned(),
            "add".to_owned(),
            "--data-dir".to_owned(),
            d.to_owned(),
            "--name".to_owned(),
            name.to_owned(),
            "--cron".to_owned(),
            cron.to_owned(),
            "--timezone".to_owned(),
            zone.to_owned(),
            "--selector".to_owned(),
            selector.to_owned(),
        ]
    };
    let refused_add = |args: Vec<String>, says: &[&str]| {
        refused(&args.iter().map(String::as_str).collect::<Vec<_>>(), says);
    };
    refused_add(
        add("n", "0 25 * * *", "UTC", ALL),
        &["cron expression \"0 25 * * *\" is invalid in its hour field \"25\""],
    );
    refused_add(
        add("n", "*/5 * * *", "UTC", ALL),
        &[
            "has 4 field(s)",
            "minute hour day-of-month month day-of-week",
        ],
    );
    refused_add(
        add("n", "0 0 30 2 *", "UTC", ALL),
        &["\"0 0 30 2 *\" has no fire time in UTC"],
    );
    refused_add(
        add("n", "0 2 * * *", "Mars/Olympus", ALL),
        &["time zone \"Mars/Olympus\" is not an IANA zone name"],
    );
    refused_add(
        add(
            "n",
            "0 2 * * *",
            "UTC",
            r#"{"all":true,"purl":"pkg:npm/x"}"#,
        ),
        &["--selector", "names exactly one of"],
    );
    refused_add(
        add("Nightly", "0 2 * * *", "UTC", ALL),
        &["schedule name \"Nightly\" is invalid", "[a-z0-9]"],
    );
    let out = run(&add("n", "0 2 * * *", "UTC", ALL)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert!(out.status.success());
    refused_add(
        add("n", "0 3 * * *", "UTC", ALL),
        &["schedule \"n\" exists"],
    );
    let all = json(&["schedules", "list", "--json", "--data-dir", d]);
    assert_eq!(
        all.as_array().unwrap().len(),
        1,
        "refused adds left nothing"
    );
    assert_eq!(all[0]["cron"], "0 2 * * *");

    let uninitialized = tmp.path().join("nothing-here");
    let out = run(&[
        "schedules",
        "list",
        "--data-dir",
        uninitialized.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "an environment error");
}
