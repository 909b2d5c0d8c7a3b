//! `impact` through the real binary over the sample bundles: what each window touches and
//! why, agreement with `findings`, selectors, stable digests, and refusals.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::*;

/// Positions: 1 SBOMs, 2 advisories (snapshot), 3 VEX (snapshot), 4 advisory delta,
/// 5 the golden VEX delta (moment 2.0.0 not_affected in juice-shop).
fn site(root: &Path) -> PathBuf {
    let dir = data_dir(root);
    let d = dir.to_str().unwrap();
    let bundles = Path::new(ROOT).join("bundles");
    for name in [
        "demo-sbom-1-snapshot.tar.zst",
        "demo-osv-1-snapshot.tar.zst",
        "demo-vex-1-snapshot.tar.zst",
        "demo-osv-2-delta.tar.zst",
    ] {
        ok(&[
            "ingest",
            "--data-dir",
            d,
            bundles.join(name).to_str().unwrap(),
        ]);
    }
    let vex2 = Path::new(ROOT).join("golden-tests/inputs/demo-vex-2-delta.tar.zst");
    ok(&["ingest", "--data-dir", d, vex2.to_str().unwrap()]);
    assert_eq!(status(&dir)["position"], 5);
    dir
}

fn impact(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["impact", "--json", "--data-dir", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    serde_json::from_slice(&ok(&all).stdout).unwrap()
}

fn artifacts(set: &Value) -> Vec<String> {
    let list = set["artifacts"].as_array().unwrap();
    list.iter()
        .map(|a| a["artifact"].as_str().unwrap().to_owned())
        .collect()
}

fn reasons(set: &Value) -> Vec<Value> {
    let list = set["artifacts"].as_array().unwrap();
    list.iter()
        .flat_map(|a| a["reasons"].as_array().unwrap().clone())
        .collect()
}

#[test]
fn each_window_names_what_it_touches_and_why() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path());

    let sboms = impact(&dir, &["--window", "1"]);
    assert_eq!(artifacts(&sboms).len(), 6, "{sboms}");
    for reason in reasons(&sboms) {
        assert_eq!(reason["kind"], "sbom");
        assert_eq!(reason["change"], "added");
    }
    let mut sorted = artifacts(&sboms);
    sorted.sort();
    assert_eq!(artifacts(&sboms), sorted, "artifacts come sorted");

    let advisories = impact(&dir, &["--window", "2"]);
    let why = reasons(&advisories);
    assert!(!why.is_empty());
    assert!(why
        .iter()
        .all(|r| r["kind"] == "advisory" && r["change"] == "added" && r["feed"] == "demo-osv"));
    assert!(
        why.iter()
            .any(|r| r["id"] == "PYSEC-2024-60" && r["component"] == "pkg:pypi/idna@2.10"),
        "{advisories}"
    );
    let critical = advisories["artifacts"].as_array().unwrap().iter();
    let levels: BTreeSet<&str> = critical.map(|a| a["severity"].as_str().unwrap()).collect();
    assert!(
        levels.contains("critical"),
        "database severities carry over: {levels:?}"
    );

    let vex = impact(&dir, &["--window", "5"]);
    let why = reasons(&vex);
    assert!(
        !why.is_empty(),
        "the VEX delta names juice-shop's moment: {vex}"
    );
    assert!(why
        .iter()
        .all(|r| r["kind"] == "vex" && r["feed"] == "demo-vex"));
    assert!(why.iter().any(|r| r["component"]
        .as_str()
        .unwrap_or("")
        .starts_with("pkg:npm/moment@")));
}

/// A window of advisories added to a store holding no advisory before impacts exactly
/// the artifacts that have findings right after it: impact and findings agree.
#[test]
fn an_advisory_window_impacts_exactly_the_artifacts_with_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path());
    let impacted: BTreeSet<String> = artifacts(&impact(&dir, &["--window", "2"]))
        .into_iter()
        .collect();
    let out = ok(&[
        "findings",
        "--json",
        "--as-of",
        "2",
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let with_findings: BTreeSet<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["artifact"].as_str().unwrap().to_owned())
        .collect();
    assert!(!with_findings.is_empty());
    assert_eq!(impacted, with_findings);
}

#[test]
fn selectors_name_artifacts_directly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path());
    let all = impact(&dir, &["--selector", r#"{"all":true}"#]);
    assert_eq!(artifacts(&all).len(), 6);
    assert_eq!(all["position"], 5);

    let one = artifacts(&all)[0].clone();
    let single = impact(&dir, &["--selector", &format!(r#"{{"artifact":"{one}"}}"#)]);
    assert_eq!(artifacts(&single), [one]);

    let lodash = impact(&dir, &["--selector", r#"{"purl":"pkg:npm/lodash"}"#]);
    assert_eq!(artifacts(&lodash).len(), 1, "{lodash}");
    let reason = &reasons(&lodash)[0];
    assert_eq!(reason["kind"], "selector");
    assert!(reason["component"]
        .as_str()
        .unwrap()
        .starts_with("pkg:npm/lodash@"));
    let absent = impact(&dir, &["--selector", r#"{"purl":"pkg:npm/lodash@0.0.1"}"#]);
    assert!(
        artifacts(&absent).is_empty(),
        "no artifact ships that version"
    );

    let by_alias = impact(
        &dir,
        &["--selector", r#"{"vulnerability":"cve-2022-32149"}"#],
    );
    assert_eq!(artifacts(&by_alias).len(), 1, "{by_alias}");
    let as_of = impact(&dir, &["--selector", r#"{"all":true}"#, "--as-of", "0"]);
    assert!(
        artifacts(&as_of).is_empty(),
        "nothing was described at position 0"
    );
}

#[test]
fn the_digest_is_stable_and_covers_the_content() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path());
    let first = impact(&dir, &["--window", "2"]);
    let again = impact(&dir, &["--window", "2"]);
    assert_eq!(first, again);
    let digest = first["digest"].as_str().unwrap();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    let other = impact(&dir, &["--window", "1"]);
    assert_ne!(other["digest"], first["digest"]);
}

#[test]
fn bad_windows_and_selectors_are_refused_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path());
    let d = dir.to_str().unwrap();
    let past = run(&["impact", "--data-dir", d, "--window", "9"]);
    assert_eq!(past.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&past.stderr).contains("past the change log"));
    let zero = run(&["impact", "--data-dir", d, "--window", "0"]);
    assert_eq!(zero.status.code(), Some(2));
    for (selector, says) in [
        (r#"{"all":true,"purl":"pkg:npm/x"}"#, "exactly one"),
        (r#"{"artifact":"sha256:00"}"#, "not a sha256"),
        (r#"{"purl":"npm/x"}"#, "purl"),
        (r#"{"everything":true}"#, "unknown field"),
        ("not json", "not valid JSON"),
    ] {
        let out = run(&["impact", "--data-dir", d, "--selector", selector]);
        assert_eq!(out.status.code(), Some(1), "{selector}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{selector}: {stderr}");
    }
    let neither = run(&["impact", "--data-dir", d]);
    assert_eq!(neither.status.code(), Some(2), "clap requires one of them");
}
