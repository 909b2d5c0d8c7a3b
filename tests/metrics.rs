//! `/metrics` as the API renders it: the sample bundles ingested, one again and one
//! broken file, `run --once` done, all in this process (counters live in the process
//! that saw the events), then the rendered text checked value by value and parsed.
//! Also: `--log-format json` writes one JSON object per line with the bundle's span.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::Parser as _;
use stella_scheduler::cli::{self, Cli};
use stella_scheduler::ingest::DataDir;
use stella_scheduler::telemetry::metrics;
use support::*;

/// Runs one command of the CLI in this process.
fn in_process(args: &[&str]) -> ExitCode {
    let cli = Cli::try_parse_from(std::iter::once("stella-scheduler").chain(args.iter().copied()))
        .unwrap();
    cli::main(cli)
}

fn samples() -> Vec<PathBuf> {
    let bundles = Path::new(ROOT).join("bundles");
    bundle_names(&bundles)
        .into_iter()
        .map(|n| bundles.join(n))
        .collect()
}

/// Adds staleness budgets to the data dir's config.json.
fn add_budgets(dir: &Path) {
    let path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["staleness"] = serde_json::json!({
        "demo-osv": {"warnSeconds": 3600, "failSeconds": 7200},
        "*": {"warnSeconds": 86400, "failSeconds": 172800, "failReadiness": false}
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
}

/// One sample line: metric name, labels as written, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A small parser of the Prometheus text format: `# HELP`/`# TYPE` comments, then
/// `name{label="value",...} number` lines. Fails on anything else, on a sample whose
/// family has no TYPE, and on a TYPE given twice.
fn parse(text: &str) -> Vec<Sample> {
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "line {n}: {line}"
            );
            assert!(typed.insert(name.to_owned(), kind.to_owned()).is_none());
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        let sample = parse_sample(line).unwrap_or_else(|| panic!("line {n}: {line:?}"));
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                let base = sample.name.strip_suffix(s)?;
                (typed.get(base).map(String::as_str) == Some("histogram")).then_some(base)
            })
            .unwrap_or(&sample.name);
        assert!(typed.contains_key(family), "line {n}: no TYPE for {family}");
        samples.push(sample);
    }
    samples
}

fn parse_sample(line: &str) -> Option<Sample> {
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        v => v.parse().ok()?,
    };
    let (name, labels) = match series.split_once('{') {
        None => (series, ""),
        Some((name, rest)) => (name, rest.strip_suffix('}')?),
    };
    let valid_name = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.starts_with(|c: char| c.is_ascii_alphabetic());
    if !valid_name {
        return None;
    }
    let mut parsed = BTreeMap::new();
    for pair in labels.split(',').filter(|p| !p.is_empty()) {
        let (key, quoted) = pair.split_once('=')?;
        let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
        parsed.insert(key.to_owned(), inner.to_owned());
    }
    Some(Sample {
        name: name.to_owned(),
        labels: parsed,
        value,
    })
}

/// The value of the one sample of `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0].value
}

/// `promtool check metrics` reads the text as Prometheus does; CI must have it.
fn promtool_accepts(text: &str) {
    let spawned = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = spawned else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "promtool is not on PATH in CI (Debian package prometheus)"
        );
        eprintln!("SKIPPED: promtool is not on PATH; only the built-in parser checked /metrics");
        return;
    };
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rendered_metrics_count_what_ingest_and_run_did() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path());
    add_budgets(&dir);
    let d = dir.to_str().unwrap();
    let broken = tmp.path().join("broken.tar.zst");
    std::fs::write(&broken, b"not a zstd stream").unwrap();

    let files = samples();
    let mut args = vec!["ingest", "--data-dir", d];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    args.push(broken.to_str().unwrap());
    assert_eq!(
        in_process(&args),
        ExitCode::from(1),
        "the broken file is refused"
    );
    let again = files
        .iter()
        .find(|f| f.ends_with("demo-osv-1-snapshot.tar.zst"));
    let again = again.unwrap().to_str().unwrap();
    assert_eq!(
        in_process(&["ingest", "--data-dir", d, again]),
        ExitCode::SUCCESS
    );
    let once = ["run", "--once", "--settle-ms", "0", "--data-dir", d];
    assert_eq!(in_process(&once), ExitCode::SUCCESS);

    let data = DataDir::new(&dir);
    let store = data.open_store().unwrap();
    let later = SystemTime::now() + Duration::from_secs(10 * 86400);
    let text = metrics::render(&data, &store, later).unwrap();
    let s = parse(&text);

    let applied = "stella_bundles_applied_total";
    assert_eq!(value(&s, applied, &[("feed", "demo-osv")]), 2.0);
    assert_eq!(value(&s, applied, &[("feed", "demo-sbom")]), 1.0);
    assert_eq!(value(&s, applied, &[("feed", "demo-vex")]), 1.0);
    let duplicate = "stella_bundles_duplicate_total";
    assert_eq!(value(&s, duplicate, &[("feed", "demo-osv")]), 1.0);
    let received = "stella_bundles_received_total";
    assert_eq!(value(&s, received, &[("source", "inbox")]), 6.0);
    assert_eq!(value(&s, received, &[("source", "nats")]), 0.0);
    let refused = "stella_bundles_refused_total";
    assert_eq!(value(&s, refused, &[("reason", "verify")]), 1.0);
    assert_eq!(value(&s, refused, &[("reason", "chain")]), 0.0);
    // The documents the four manifests list (bundle inspect --json).
    let bytes = 74_029.0 + 14_603.0 + 3_848_139.0 + 8_376.0;
    assert_eq!(value(&s, "stella_ingest_bytes_total", &[]), bytes);
    assert_eq!(value(&s, "stella_quarantined_files", &[]), 1.0);
    assert_eq!(value(&s, "stella_bundles_pending", &[]), 0.0);

    // 4 windows, 6 jobs on the SBOM's window (tests/scheduler_cli.rs), one export.
    let impact = "stella_impact_duration_seconds_count";
    assert_eq!(value(&s, impact, &[("trigger", "window")]), 4.0);
    assert_eq!(value(&s, "stella_jobs", &[("state", "succeeded")]), 6.0);
    assert_eq!(value(&s, "stella_jobs", &[("state", "dead")]), 0.0);
    let job_time = "stella_job_duration_seconds_count";
    assert_eq!(value(&s, job_time, &[("outcome", "succeeded")]), 6.0);
    assert_eq!(value(&s, job_time, &[("outcome", "failed")]), 0.0);
    assert_eq!(value(&s, "stella_job_retries_total", &[]), 0.0);
    assert_eq!(value(&s, "stella_jobs_dead_lettered_total", &[]), 0.0);
    assert_eq!(value(&s, "stella_exports_total", &[]), 1.0);
    assert_eq!(value(&s, "stella_runs_active", &[]), 0.0);
    assert_eq!(value(&s, "stella_queue_backlog", &[]), 0.0);
    assert_eq!(value(&s, "stella_queue_paused", &[]), 0.0);
    assert_eq!(value(&s, "stella_sla_breaches", &[]), 0.0);

    // Ten days on, every feed is older than its budget; the ages are wall-clock.
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last = value(&s, "stella_last_bundle_applied_timestamp_seconds", &[]);
    assert!(last <= now && last > now - 600.0, "{last} vs {now}");
    let age = value(&s, "stella_feed_age_seconds", &[("feed", "demo-vex")]);
    assert!((864_000.0..864_600.0).contains(&age), "{age}");
    let warn = "stella_feed_staleness_warn_seconds";
    let fail = "stella_feed_staleness_fail_seconds";
    assert_eq!(value(&s, warn, &[("feed", "demo-osv")]), 3600.0);
    assert_eq!(value(&s, fail, &[("feed", "demo-osv")]), 7200.0);
    assert_eq!(value(&s, fail, &[("feed", "demo-sbom")]), 172_800.0);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(value(&s, "stella_build_info", &[("version", version)]), 1.0);

    // The API counts its requests into the same registry.
    metrics::http_request("/api/v1/runs/{run_id}", 404);
    let text = metrics::render(&data, &store, later).unwrap();
    let s = parse(&text);
    let requests = "stella_http_requests_total";
    let labels = [("route", "/api/v1/runs/{run_id}"), ("status", "404")];
    assert_eq!(value(&s, requests, &labels), 1.0);
    promtool_accepts(&text);

    // status shows the same budgets: osv FAIL, the rest under "*" FAIL too, ten days on
    // being only what the metrics were rendered at; now, everything is fresh.
    let status = status(&dir);
    let staleness = status["staleness"].as_array().unwrap();
    assert_eq!(staleness.len(), 3, "{staleness:?}");
    assert!(
        staleness.iter().all(|f| f["state"] == "ok"),
        "{staleness:?}"
    );
    assert_eq!(staleness[0]["feed"], "demo-osv");
    assert_eq!(staleness[0]["failSeconds"], 7200);
}

#[test]
fn json_logs_carry_the_bundle_span() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path());
    let vex = Path::new(ROOT).join("bundles/demo-vex-1-snapshot.tar.zst");
    let out = ok(&[
        "--log-format",
        "json",
        "-vv",
        "ingest",
        "--data-dir",
        dir.to_str().unwrap(),
        vex.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let in_bundle = lines
        .iter()
        .find(|l| l["span"]["name"] == "bundle")
        .unwrap_or_else(|| panic!("no line in the bundle span: {stderr}"));
    assert_eq!(in_bundle["span"]["feed"], "demo-vex");
    let id = in_bundle["span"]["bundle_id"].as_str().unwrap();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    assert!(in_bundle["fields"]["message"].is_string());
}
