//! The on-call material in operations/ checked against itself and the metrics contract:
//! the Grafana dashboard's structure, every metric name it, the alert rules and the
//! runbook use (against docs/metrics.md), every alert's runbook link and unit test, and
//! then promtool's own checks of the rules, their unit tests and the dashboard's PromQL.
//!
//! promtool is Debian's package `prometheus`; .ci/run installs it. Without it the
//! promtool test fails under CI=true and says it skipped otherwise.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value as Json;
use serde_norway::Value as Yaml;

const DASHBOARD: &str = "operations/worker-grafana-dashboard.json";
const RULES: &str = "operations/worker-prometheus-rules.yaml";
const RUNBOOK: &str = "operations/worker.md";
const RULE_TESTS: &str = "operations/tests";
const METRICS_DOC: &str = "docs/metrics.md";

/// The alerts issue 7 asks for; a rule renamed or dropped fails here first.
const ALERTS: [&str; 9] = [
    "StellaSlaBreaches",
    "StellaDeadLettersRising",
    "StellaBacklogGrowing",
    "StellaFeedStale",
    "StellaFeedAgeWarning",
    "StellaQuarantineRising",
    "StellaNoBundleReceived",
    "StellaQueuePausedLong",
    "StellaSchedulerDown",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn dashboard() -> Json {
    serde_json::from_str(&read(DASHBOARD)).unwrap_or_else(|e| panic!("{DASHBOARD}: {e}"))
}

/// One alerting rule as the tests need it.
#[derive(Debug)]
struct Alert {
    name: String,
    labels: HashMap<String, String>,
    annotations: HashMap<String, String>,
}

fn string_map(v: &Yaml) -> HashMap<String, String> {
    let Some(map) = v.as_mapping() else {
        return HashMap::new();
    };
    map.iter()
        .map(|(k, v)| {
            let key = k.as_str().unwrap().to_owned();
            (key, v.as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

fn alerts() -> Vec<Alert> {
    let rules: Yaml =
        serde_norway::from_str(&read(RULES)).unwrap_or_else(|e| panic!("{RULES}: {e}"));
    let groups = rules["groups"].as_sequence().expect("`groups` is a list");
    let group = groups
        .iter()
        .find(|g| g["name"].as_str() == Some("stella-scheduler"))
        .expect("a group named stella-scheduler");
    let list = group["rules"].as_sequence().expect("the group has `rules`");
    list.iter()
        .filter_map(|r| {
            Some(Alert {
                name: r["alert"].as_str()?.to_owned(),
                labels: string_map(&r["labels"]),
                annotations: string_map(&r["annotations"]),
            })
        })
        .collect()
}

/// Every `stella_…` metric name in `text`, as a whole token.
fn metric_names(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let is_name = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    let mut names = BTreeSet::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("stella_").map(|i| from + i) {
        let end = (at..bytes.len())
            .find(|&i| !is_name(bytes[i]))
            .unwrap_or(bytes.len());
        let joined = at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        if !joined {
            names.insert(text[at..end].to_owned());
        }
        from = end;
    }
    names
}

/// Whether `doc` names `metric`, directly or (for a histogram's series) by its base name.
fn documented(doc: &BTreeSet<String>, metric: &str) -> bool {
    doc.contains(metric)
        || ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|s| metric.strip_suffix(s))
            .any(|base| doc.contains(base))
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Whether `line` opens or closes a fenced code block, also one that starts a list item
/// (`1. ```sh`).
fn is_fence(line: &str) -> bool {
    let line = line.trim_start();
    let item = line.trim_start_matches(|c: char| c.is_ascii_digit());
    let after_marker = [". ", "- ", "* "]
        .iter()
        .find_map(|m| item.strip_prefix(m))
        .unwrap_or(line);
    line.starts_with("```") || after_marker.trim_start().starts_with("```")
}

/// The anchors of the Markdown headings in `text`, outside fenced code blocks.
fn anchors(text: &str) -> HashSet<String> {
    let mut in_fence = false;
    let mut found = HashSet::new();
    for line in text.lines() {
        if is_fence(line) {
            in_fence = !in_fence;
        } else if !in_fence && line.starts_with('#') {
            found.insert(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

fn panels(dash: &Json) -> &Vec<Json> {
    dash["panels"].as_array().expect("`panels` is a list")
}

/// Every PromQL expression of the dashboard, with the panel title it belongs to.
fn dashboard_exprs(dash: &Json) -> Vec<(String, String)> {
    let mut exprs = Vec::new();
    for panel in panels(dash) {
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or_default();
            exprs.push((title.to_owned(), expr.to_owned()));
        }
    }
    exprs
}

#[test]
fn dashboard_is_an_importable_grafana_dashboard() {
    let dash = dashboard();
    assert!(
        dash["title"].as_str().is_some_and(|t| !t.is_empty()),
        "the dashboard needs a title"
    );
    assert_eq!(dash["uid"], "stella-scheduler");
    assert_eq!(dash["schemaVersion"], 39);

    let vars = dash["templating"]["list"]
        .as_array()
        .expect("templating.list");
    let ds = vars
        .iter()
        .find(|v| v["name"] == "datasource")
        .expect("a `datasource` variable");
    assert_eq!(ds["type"], "datasource");
    assert_eq!(ds["query"], "prometheus");

    let panels = panels(&dash);
    assert!(!panels.is_empty(), "the dashboard has no panels");
    let mut ids = HashSet::new();
    let mut cells = HashMap::new();
    for panel in panels {
        let title = panel["title"].as_str().unwrap_or_default();
        assert!(!title.is_empty(), "a panel without a title: {panel}");
        let id = panel["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("{title}: no numeric id"));
        assert!(ids.insert(id), "{title}: panel id {id} is used twice");
        check_grid(title, &panel["gridPos"], &mut cells);
        check_targets(title, panel);
    }
}

/// A panel's place: inside the 24-column grid and on no other panel's cells.
fn check_grid(title: &str, pos: &Json, cells: &mut HashMap<(u64, u64), String>) {
    let field = |k: &str| {
        pos[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{title}: gridPos.{k}"))
    };
    let (x, y, w, h) = (field("x"), field("y"), field("w"), field("h"));
    assert!(
        w > 0 && h > 0 && x + w <= 24,
        "{title}: gridPos {pos} leaves the grid"
    );
    for cx in x..x + w {
        for cy in y..y + h {
            if let Some(other) = cells.insert((cx, cy), title.to_owned()) {
                panic!("{title} overlaps {other} at column {cx}, row {cy}");
            }
        }
    }
}

/// Rows only group panels; every other panel draws at least one query, all through the
/// `datasource` variable.
fn check_targets(title: &str, panel: &Json) {
    let targets = panel["targets"].as_array();
    if panel["type"] == "row" {
        assert!(targets.is_none_or(Vec::is_empty), "row {title} has queries");
        return;
    }
    assert_eq!(
        panel["datasource"]["uid"], "${datasource}",
        "{title}: data source"
    );
    let targets = targets.unwrap_or_else(|| panic!("{title}: no targets"));
    assert!(!targets.is_empty(), "{title}: no targets");
    for target in targets {
        let expr = target["expr"].as_str().unwrap_or_default();
        assert!(!expr.trim().is_empty(), "{title}: a target without an expr");
        assert_eq!(
            target["datasource"]["uid"], "${datasource}",
            "{title}: {expr}"
        );
    }
}

#[test]
fn every_metric_used_is_documented() {
    let doc = metric_names(&read(METRICS_DOC));
    let mut missing = BTreeSet::new();
    let mut used = BTreeSet::new();
    for file in [DASHBOARD, RULES, RUNBOOK] {
        for name in metric_names(&read(file)) {
            if !documented(&doc, &name) {
                missing.insert(format!("{name} (in {file})"));
            }
            used.insert(name);
        }
    }
    // The extractor itself: a histogram's bucket series and plain names are both found.
    for name in [
        "stella_job_duration_seconds_bucket",
        "stella_queue_backlog",
        "stella_jobs",
    ] {
        assert!(
            used.contains(name),
            "{name} not found in operations/: {used:?}"
        );
    }
    assert!(
        missing.is_empty(),
        "metrics used in operations/ but not in {METRICS_DOC}:\n  {}",
        missing.into_iter().collect::<Vec<_>>().join("\n  ")
    );
}

#[test]
fn every_alert_has_severity_annotations_and_a_runbook_section() {
    let alerts = alerts();
    let names: BTreeSet<&str> = alerts.iter().map(|a| a.name.as_str()).collect();
    let wanted: BTreeSet<&str> = ALERTS.into_iter().collect();
    assert_eq!(names, wanted, "the alerts in {RULES}");
    assert_eq!(names.len(), alerts.len(), "an alert name is used twice");

    let runbook = read(RUNBOOK);
    let headings = anchors(&runbook);
    for alert in &alerts {
        let name = &alert.name;
        let severity = alert.labels.get("severity").map(String::as_str);
        assert!(
            matches!(severity, Some("page" | "ticket")),
            "{name}: severity {severity:?}, want page or ticket"
        );
        for key in ["summary", "description", "runbook_url"] {
            let value = alert.annotations.get(key).map(String::as_str);
            assert!(value.is_some_and(|v| !v.is_empty()), "{name}: no {key}");
        }
        let url = &alert.annotations["runbook_url"];
        let target = url
            .strip_prefix(&format!("{RUNBOOK}#"))
            .unwrap_or_else(|| panic!("{name}: runbook_url {url} is not {RUNBOOK}#ANCHOR"));
        assert!(
            headings.contains(target),
            "{name}: {RUNBOOK} has no heading with anchor #{target}"
        );
        assert!(
            runbook.contains(name.as_str()),
            "{RUNBOOK} never names {name}"
        );
    }
}

/// The rule tests' files, sorted, so promtool's output reads the same each run.
fn rule_test_files() -> Vec<PathBuf> {
    let dir = root().join(RULE_TESTS);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".test.yaml"))
        .collect();
    files.sort();
    files
}

/// For each alert the unit tests name: (a case expects it to fire, a case expects none).
fn unit_test_cases() -> HashMap<String, (bool, bool)> {
    let mut cases: HashMap<String, (bool, bool)> = HashMap::new();
    for file in rule_test_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let doc: Yaml =
            serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let groups = doc["tests"].as_sequence().expect("`tests` is a list");
        for case in groups
            .iter()
            .flat_map(|g| g["alert_rule_test"].as_sequence())
            .flatten()
        {
            let name = case["alertname"].as_str().expect("alertname").to_owned();
            let fires = case["exp_alerts"]
                .as_sequence()
                .is_some_and(|a| !a.is_empty());
            let entry = cases.entry(name).or_default();
            if fires {
                entry.0 = true;
            } else {
                entry.1 = true;
            }
        }
    }
    cases
}

#[test]
fn every_alert_has_a_firing_and_a_quiet_unit_test() {
    let cases = unit_test_cases();
    for name in ALERTS {
        let (fires, quiet) = cases.get(name).copied().unwrap_or_default();
        assert!(fires, "no case in {RULE_TESTS} expects {name} to fire");
        assert!(
            quiet,
            "no case in {RULE_TESTS} expects {name} to stay quiet"
        );
    }
}

/// promtool on PATH, if any.
fn promtool() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("promtool"))
        .find(|p| p.is_file())
}

fn run(tool: &Path, args: &[&std::ffi::OsStr]) -> Output {
    let out = Command::new(tool)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", tool.display()));
    let shown = || {
        let words: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
        format!(
            "promtool {}\n--- stdout\n{}\n--- stderr\n{}",
            words.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    assert!(out.status.success(), "{} failed: {}", out.status, shown());
    out
}

/// The dashboard's queries as recording rules, Grafana's variables replaced by values
/// Prometheus accepts, so that promtool parses every one of them.
fn dashboard_as_rules(dash: &Json) -> String {
    let mut yaml = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (title, expr)) in dashboard_exprs(dash).iter().enumerate() {
        let expr = expr
            .replace("$__rate_interval", "5m")
            .replace("$instance", ".*");
        let quoted = serde_json::to_string(&expr).unwrap();
        yaml.push_str(&format!(
            "      # {title}\n      - record: dashboard:query_{i}\n        expr: {quoted}\n"
        ));
    }
    yaml
}

#[test]
fn promtool_checks_the_rules_their_tests_and_the_dashboard_queries() {
    let Some(tool) = promtool() else {
        let hint = "promtool not found (install Debian package prometheus)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{hint}: CI must run the alert rules' unit tests; .ci/run installs it");
        }
        // Straight to the stderr handle: libtest captures `eprintln!` of a passing test,
        // and a skip nobody sees would read as a pass.
        let _ = writeln!(std::io::stderr(), "skipped: {hint}");
        return;
    };
    run(&tool, &["check".as_ref(), "rules".as_ref(), RULES.as_ref()]);

    let files = rule_test_files();
    assert!(!files.is_empty(), "no *.test.yaml in {RULE_TESTS}");
    let mut args: Vec<&std::ffi::OsStr> = vec!["test".as_ref(), "rules".as_ref()];
    args.extend(files.iter().map(|p| p.as_os_str()));
    let out = run(&tool, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.matches("SUCCESS").count(),
        files.len(),
        "every test file should pass:\n{stdout}"
    );

    let dir = tempfile::tempdir().unwrap();
    let queries = dir.path().join("dashboard-queries.yaml");
    std::fs::write(&queries, dashboard_as_rules(&dashboard())).unwrap();
    run(
        &tool,
        &["check".as_ref(), "rules".as_ref(), queries.as_os_str()],
    );
}

#[test]
fn anchors_follow_github() {
    assert_eq!(anchor(" StellaFeedStale"), "stellafeedstale");
    assert_eq!(anchor(" Loading the rules"), "loading-the-rules");
    let text = "# Top\n```yaml\n# not a heading\n```\n## Down, again\n\
                1. ```sh\n   # a comment\n   ```\n## Last\n";
    let found = anchors(text);
    assert!(
        found.contains("top") && found.contains("down-again"),
        "{found:?}"
    );
    assert!(found.contains("last"), "{found:?}");
    assert!(
        !found.contains("not-a-heading") && !found.contains("a-comment"),
        "{found:?}"
    );
}

#[test]
fn metric_names_are_whole_tokens() {
    let text = "rate(stella_jobs_dead_lettered_total[5m]) xstella_no `stella_jobs{state}`";
    let names: Vec<String> = metric_names(text).into_iter().collect();
    assert_eq!(names, ["stella_jobs", "stella_jobs_dead_lettered_total"]);
    let doc: BTreeSet<String> = ["stella_job_duration_seconds".to_owned()].into();
    assert!(documented(&doc, "stella_job_duration_seconds_bucket"));
    assert!(!documented(&doc, "stella_job_duration_seconds_total"));
}
