//! Cross-check of our PEP 440 and SemVer verdicts against the ecosystems' own libraries.
//!
//! For every PyPI and npm range of the corpus, versions are generated around each event
//! (the bound itself, its neighbours, pre-, post-, dev- and local variants) and judged by
//! us and by Python `packaging` / node `semver` (installed pinned under `target/` by
//! `tests/crosscheck/setup.sh`): which versions parse, how each compares with each bound,
//! and the OSV verdict. Every disagreement is listed, and the test wants none.
//!
//! Without python3 or node the test fails when `CI=true`, and otherwise prints a loud
//! SKIPPED notice: a developer machine may lack them, CI must not.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use stella_scheduler::formats::{self, ParsedDocument};
use stella_scheduler::matching::range::{CompiledAffected, Verdict};
use stella_scheduler::matching::Scheme;
use stella_scheduler::model::{Affected, DocumentFormat, DocumentKind, RangeEvent, RangeKind};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");
const HERE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/crosscheck");

/// One range to judge, with the versions generated around it.
struct Case {
    origin: String,
    events: Vec<(String, String)>,
    versions: Vec<String>,
}

#[test]
fn pep440_and_semver_verdicts_match_the_ecosystem_libraries() {
    let Some(out) = tools_ready() else { return };
    let mut disagreements = Vec::new();
    for (ecosystem, scheme) in [("PyPI", Scheme::Pep440), ("npm", Scheme::Semver)] {
        let cases = corpus_cases(ecosystem, scheme);
        assert!(cases.len() >= 5, "{ecosystem}: only {} ranges", cases.len());
        let theirs = reference(ecosystem, &cases, &out);
        let count: usize = cases.iter().map(|c| c.versions.len()).sum();
        for (case, judged) in cases.iter().zip(&theirs) {
            disagreements.extend(compare(scheme, case, judged));
        }
        eprintln!(
            "crosscheck {ecosystem}: {} ranges, {count} versions judged",
            cases.len()
        );
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// The output directory, with the libraries installed; `None` (after a loud notice) when
/// python3 or node is missing outside CI.
fn tools_ready() -> Option<PathBuf> {
    let missing: Vec<&str> = ["python3", "node", "npm"]
        .into_iter()
        .filter(|tool| Command::new(tool).arg("--version").output().is_err())
        .collect();
    if !missing.is_empty() {
        let message = format!("crosscheck needs {}", missing.join(", "));
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{message}, and CI=true"
        );
        let banner = "!".repeat(8);
        let what = "the PEP 440 / SemVer cross-check did not run";
        eprintln!("\n{banner} SKIPPED: {message}; {what} {banner}\n");
        return None;
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("crosscheck");
    let status = Command::new("bash")
        .arg(Path::new(HERE).join("setup.sh"))
        .arg(&out)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "tests/crosscheck/setup.sh failed: {status}"
    );
    Some(out)
}

fn corpus_cases(ecosystem: &str, scheme: Scheme) -> Vec<Case> {
    let mut cases = Vec::new();
    for (origin, affected) in corpus_entries(ecosystem) {
        for range in affected.ranges.iter().filter(|r| r.kind != RangeKind::Git) {
            let events: Vec<(String, String)> = range.events.iter().map(event).collect();
            let bounds = events.iter().map(|(_, v)| v.as_str()).filter(|v| *v != "0");
            let mut versions: BTreeSet<String> = bounds.flat_map(|b| around(scheme, b)).collect();
            versions.extend(["0", "0.0.1", "1", "99999"].map(str::to_owned));
            if scheme == Scheme::Semver {
                versions.retain(|v| v.matches('.').count() >= 2);
            }
            let origin = origin.clone();
            cases.push(Case {
                origin,
                events,
                versions: versions.into_iter().collect(),
            });
        }
    }
    cases
}

fn corpus_entries(ecosystem: &str) -> Vec<(String, Affected)> {
    let mut entries = Vec::new();
    for folder in ["ghsa", "osv-dev-testdata", "osv-schema-testdata", "pypa"] {
        let dir = Path::new(CORPUS).join("osv").join(folder);
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            let kind = (DocumentKind::Advisory, DocumentFormat::Osv);
            let Ok(ParsedDocument::Advisory(advisory)) =
                formats::parse(&name, kind.0, kind.1, &bytes)
            else {
                continue;
            };
            for affected in advisory.affected {
                if affected
                    .package
                    .as_ref()
                    .is_some_and(|p| p.ecosystem == ecosystem)
                {
                    entries.push((advisory.id.clone(), affected));
                }
            }
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

fn event(event: &RangeEvent) -> (String, String) {
    let kind = match event {
        RangeEvent::Introduced(_) => "introduced",
        RangeEvent::Fixed(_) => "fixed",
        RangeEvent::LastAffected(_) => "last_affected",
        RangeEvent::Limit(_) => "limit",
    };
    (kind.to_owned(), event.version().to_owned())
}

/// Versions around a bound: itself, its release numbers moved by one (at every position,
/// truncated there), and the pre-, post-, dev- and local forms of each.
fn around(scheme: Scheme, bound: &str) -> Vec<String> {
    let release: String = bound
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let release = release.trim_end_matches('.');
    let parts: Vec<u64> = release.split('.').filter_map(|p| p.parse().ok()).collect();
    let mut bases = vec![bound.to_owned(), release.to_owned()];
    for i in 0..parts.len() {
        let head = &parts[..i];
        bases.push(join(head, parts[i] + 1, &parts[i + 1..], scheme));
        if parts[i] > 0 {
            bases.push(join(head, parts[i] - 1, &[99], scheme));
            bases.push(join(head, parts[i] - 1, &parts[i + 1..], scheme));
        }
    }
    let suffixes: &[&str] = match scheme {
        Scheme::Semver => &[
            "", "-0", "-alpha", "-alpha.1", "-beta.2", "-rc.1", "-rc.1.2", "+build.5", "-1",
        ],
        _ => &[
            "",
            ".dev0",
            "a1",
            "b2",
            "rc1",
            ".post1",
            ".post1.dev2",
            "+local.7",
            ".0",
            ".1",
        ],
    };
    let mut out: Vec<String> = bases
        .iter()
        .flat_map(|b| suffixes.iter().map(move |s| format!("{b}{s}")))
        .collect();
    if scheme == Scheme::Pep440 {
        out.push(format!("1!{bound}"));
    }
    out
}

/// `head . middle . tail`, padded to three numbers for SemVer.
fn join(head: &[u64], middle: u64, tail: &[u64], scheme: Scheme) -> String {
    let mut parts: Vec<u64> = head.to_vec();
    parts.push(middle);
    parts.extend(tail);
    if scheme == Scheme::Semver {
        parts.resize(3, 0);
        parts.truncate(3);
    }
    let texts: Vec<String> = parts.iter().map(u64::to_string).collect();
    texts.join(".")
}

/// Runs the reference library on the cases.
fn reference(ecosystem: &str, cases: &[Case], out: &Path) -> Vec<Value> {
    let input: Vec<Value> = cases
        .iter()
        .map(|c| json!({"events": c.events, "versions": c.versions}))
        .collect();
    let file = out.join(format!("cases-{ecosystem}.json"));
    std::fs::write(&file, serde_json::to_vec(&input).unwrap()).unwrap();
    let output = match ecosystem {
        "PyPI" => Command::new(out.join("venv/bin/python"))
            .arg(Path::new(HERE).join("osv_packaging.py"))
            .arg(&file)
            .output(),
        _ => Command::new("node")
            .arg(Path::new(HERE).join("osv_semver.js"))
            .arg(&file)
            .env("NODE_PATH", out.join("node/node_modules"))
            .output(),
    }
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{ecosystem} reference failed: {stderr}"
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Every way our answer for `case` differs from the library's.
fn compare(scheme: Scheme, case: &Case, theirs: &Value) -> Vec<String> {
    let accepted: Vec<&str> = theirs["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut problems = Vec::new();
    for version in &case.versions {
        let ours = scheme.parse(version).is_ok();
        let theirs_ok = accepted.contains(&version.as_str());
        if ours != theirs_ok {
            problems.push(format!(
                "{}: {version:?} parses for us: {ours}, for them: {theirs_ok}",
                case.origin
            ));
        }
    }
    let compiled = compile(case, scheme);
    let bounds: Vec<&str> = case
        .events
        .iter()
        .map(|(_, v)| v.as_str())
        .filter(|v| *v != "0" && *v != "*")
        .collect();
    for (i, version) in accepted.iter().enumerate() {
        for (j, bound) in bounds.iter().enumerate() {
            let ours = scheme.compare(version, bound).map(|o| o as i64);
            let theirs_sign = theirs["signs"][i][j].as_i64().unwrap();
            if ours.as_ref().ok() != Some(&theirs_sign) {
                problems.push(format!(
                    "{}: compare({version}, {bound}) ours {ours:?}, theirs {theirs_sign}",
                    case.origin
                ));
            }
        }
        let ours = matches!(compiled.evaluate(Some(version)), Verdict::Affected(_));
        let theirs_affected = theirs["affected"][i].as_bool().unwrap();
        if ours != theirs_affected {
            problems.push(format!(
                "{}: {version} affected ours {ours}, theirs {theirs_affected}",
                case.origin
            ));
        }
    }
    problems
}

fn compile(case: &Case, scheme: Scheme) -> CompiledAffected {
    let events = case.events.iter().map(|(kind, v)| match kind.as_str() {
        "introduced" => RangeEvent::Introduced(v.clone()),
        "fixed" => RangeEvent::Fixed(v.clone()),
        "last_affected" => RangeEvent::LastAffected(v.clone()),
        _ => RangeEvent::Limit(v.clone()),
    });
    let affected = Affected {
        package: None,
        ranges: vec![stella_scheduler::model::Range {
            kind: RangeKind::Ecosystem,
            repo: None,
            events: events.collect(),
        }],
        versions: Vec::new(),
        ecosystem_specific: None,
        database_specific: None,
    };
    CompiledAffected::compile(&affected, "crosscheck", Some(scheme))
}
