//! Golden tests (issue 5 §6): fixed input bundles, played through the real binary in a
//! fresh data dir with a committed site key, must produce the committed completion
//! bundles, completion events and `findings --json` reports byte for byte.
//!
//! - The scenario is three `run --once` invocations ([`STEPS`]): the sample bundles of
//!   `bundles/`, then two deltas of `golden-tests/inputs/` that narrow one advisory's
//!   range, widen another's, withdraw a third and add a VEX statement, so the last
//!   windows carry new, resolved and changed findings.
//! - The inputs are rebuilt from `../shared/corpus` with the demo key and must equal the
//!   committed ones; the outputs must equal `golden-tests/expected/`.
//! - Two fresh sites with the same key, one with `--workers 1` and one with
//!   `--workers 3`, export the same bytes.
//! - Twenty random arrival orders of the same per-feed sequences, split over several
//!   invocations, end on the same findings.
//!
//! After a deliberate change to the format or the inputs, regenerate with
//! `STELLA_BLESS=1 cargo test --test golden` (golden-tests/README.md).
#![allow(clippy::unwrap_used)]

mod support;

#[path = "pg_support/mod.rs"]
mod pg_support;

#[path = "../benches/support/mod.rs"]
mod bench_support;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use support::{corpus, ok, ROOT};

/// The site every golden run signs as.
const SITE_ID: &str = "golden-site";
/// Each step is one `run --once` over these files, dropped into the inbox together.
const STEPS: [&[&str]; 3] = [
    &[
        "bundles/demo-osv-1-snapshot.tar.zst",
        "bundles/demo-sbom-1-snapshot.tar.zst",
    ],
    &[
        "bundles/demo-osv-2-delta.tar.zst",
        "bundles/demo-vex-1-snapshot.tar.zst",
    ],
    &[
        "golden-tests/inputs/demo-osv-3-delta.tar.zst",
        "golden-tests/inputs/demo-vex-2-delta.tar.zst",
    ],
];
/// When the golden deltas were made: their `createdAt`, and the `modified` of what they
/// carry.
const GOLDEN_DAY: &str = "2026-12-03T00:00:00Z";

fn path(rel: &str) -> PathBuf {
    Path::new(ROOT).join(rel)
}

fn blessing() -> bool {
    std::env::var("STELLA_BLESS").is_ok_and(|v| v == "1")
}

fn text(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---- the golden inputs -----------------------------------------------------------------

/// The bundle id of a committed bundle, from `bundle inspect`.
fn bundle_id(bundle: &Path) -> String {
    let out = ok(&["bundle", "inspect", "--json", text(bundle)]);
    let inspected: Value = serde_json::from_slice(&out.stdout).unwrap();
    inspected["bundleId"].as_str().unwrap().to_owned()
}

/// A corpus OSV advisory, republished on [`GOLDEN_DAY`] with the first range of its first
/// affected package ending at `fixed`.
fn amended_advisory(rel: &str, fixed: &str) -> Vec<u8> {
    let mut doc: Value = serde_json::from_slice(&std::fs::read(corpus(rel)).unwrap()).unwrap();
    doc["modified"] = json!(GOLDEN_DAY);
    let events = &mut doc["affected"][0]["ranges"][0]["events"];
    assert!(events[1]["fixed"].is_string(), "{rel}: {events}");
    events[1] = json!({ "fixed": fixed });
    stella_scheduler::canonical::to_vec_pretty(&doc).unwrap()
}

/// The corpus OpenVEX example, rewritten into one `not_affected` statement about
/// juice-shop's moment@2.0.0 and GHSA-8hfj-j24r-96c4 (CVE-2022-24785).
fn moment_vex() -> Vec<u8> {
    let rel = "openvex/spec-example-fixed.json";
    let mut doc: Value = serde_json::from_slice(&std::fs::read(corpus(rel)).unwrap()).unwrap();
    doc["@id"] = json!("https://golden.invalid/vex/moment-2.0.0");
    doc["author"] = json!("Golden Test VEX");
    doc["timestamp"] = json!(GOLDEN_DAY);
    doc["statements"] = json!([{
        "vulnerability": {"name": "GHSA-8hfj-j24r-96c4"},
        "products": [{"@id": "pkg:npm/moment@2.0.0"}],
        "status": "not_affected",
        "justification": "vulnerable_code_not_in_execute_path"
    }]);
    stella_scheduler::canonical::to_vec_pretty(&doc).unwrap()
}

/// `bundle create` with the demo key over `docs`, written into `work` first (a member's
/// path depends on the document's name, not on `work`).
fn create_input(work: &Path, out: &Path, args: &[&str], docs: &[(&str, Vec<u8>)]) {
    let demo_key = path("bundles/demo-key/DEMO-ONLY-NOT-SECRET.key");
    let mut argv = vec!["bundle", "create", "--key", text(&demo_key)];
    argv.extend(["--out", text(out), "--created", GOLDEN_DAY]);
    argv.extend_from_slice(args);
    let files: Vec<PathBuf> = docs.iter().map(|(name, _)| work.join(name)).collect();
    for ((_, bytes), file) in docs.iter().zip(&files) {
        std::fs::write(file, bytes).unwrap();
    }
    argv.extend(files.iter().map(|f| text(f)));
    ok(&argv);
}

/// demo-osv #3: jsonwebtoken < 4.2.2 becomes < 0.3.0 (0.4.0 resolved, 0.1.0 changed),
/// lodash < 4.17.21 becomes < 4.17.22 (4.17.21 new, 2.4.2 changed), and PYSEC-2024-60 is
/// withdrawn (py-app's idna@2.10 resolved).
fn osv_3_delta(work: &Path, out: &Path) {
    let previous = bundle_id(&path("bundles/demo-osv-2-delta.tar.zst"));
    let args = [
        "--feed",
        "demo-osv",
        "--sequence",
        "3",
        "--mode",
        "delta",
        "--previous",
        &previous,
        "--withdraw",
        "advisory:PYSEC-2024-60",
    ];
    let docs = [
        (
            "GHSA-c7hr-j4mj-j2w6.json",
            amended_advisory("osv/ghsa/GHSA-c7hr-j4mj-j2w6.json", "0.3.0"),
        ),
        (
            "GHSA-35jh-r3h4-6jhm.json",
            amended_advisory("osv/ghsa/GHSA-35jh-r3h4-6jhm.json", "4.17.22"),
        ),
    ];
    create_input(work, out, &args, &docs);
}

/// demo-vex #2: juice-shop's moment@2.0.0 becomes `not_affected` (changed).
fn vex_2_delta(work: &Path, out: &Path) {
    let previous = bundle_id(&path("bundles/demo-vex-1-snapshot.tar.zst"));
    let args = [
        "--feed",
        "demo-vex",
        "--sequence",
        "2",
        "--mode",
        "delta",
        "--previous",
        &previous,
    ];
    let docs = [("golden-moment.vex.json", moment_vex())];
    create_input(work, out, &args, &docs);
}

/// Builds the golden inputs into `dir`; returns their file names.
fn build_inputs(dir: &Path) -> [&'static str; 2] {
    let work = tempfile::tempdir().unwrap();
    let names = ["demo-osv-3-delta.tar.zst", "demo-vex-2-delta.tar.zst"];
    osv_3_delta(work.path(), &dir.join(names[0]));
    vex_2_delta(work.path(), &dir.join(names[1]));
    names
}

/// Replaces `target` in one rename, so a test reading it meanwhile sees old or new bytes.
fn write_atomic(target: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let tmp = target.with_extension("blessing");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, target).unwrap();
}

/// Rebuilds the inputs; blessing, writes them over the committed ones, else requires
/// them equal.
fn check_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let committed = path("golden-tests/inputs");
    for name in build_inputs(tmp.path()) {
        let fresh = std::fs::read(tmp.path().join(name)).unwrap();
        let target = committed.join(name);
        if blessing() {
            write_atomic(&target, &fresh);
            continue;
        }
        let old = std::fs::read(&target).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run STELLA_BLESS=1 cargo test --test golden",
                target.display()
            )
        });
        assert!(
            old == fresh,
            "{} differs from a fresh build",
            target.display()
        );
    }
}

// ---- playing a scenario ----------------------------------------------------------------

/// A fresh data dir under `root` that signs as the golden site and trusts the demo feeds.
fn golden_site(root: &Path) -> PathBuf {
    golden_site_on(root, None)
}

/// [`golden_site`] with its state in the PostgreSQL database `db`: the URL is kept in
/// `root/database-url`, and every command on the site passes it (see [`on_site`]).
fn golden_site_on(root: &Path, db: Option<&str>) -> PathBuf {
    let dir = root.join("data");
    if let Some(url) = db {
        std::fs::create_dir_all(root).unwrap();
        std::fs::write(root.join("database-url"), url).unwrap();
    }
    let key = path("golden-tests/site-key/GOLDEN-ONLY-NOT-SECRET.key");
    let trust = path("bundles/demo-trust.json");
    on_site(
        &dir,
        &[
            "init",
            "--site-id",
            SITE_ID,
            "--site-key",
            text(&key),
            "--import-trust",
            text(&trust),
        ],
    );
    dir
}

/// Runs a command on the data dir `dir` (and its PostgreSQL database, if it has one).
fn on_site(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(["--data-dir".to_owned(), text(dir).to_owned()]);
    let marker = dir.parent().unwrap().join("database-url");
    if let Ok(url) = std::fs::read_to_string(marker) {
        all.extend(["--database-url".to_owned(), url]);
    }
    ok(&all.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Copies `files` into the inbox, then `run --once` with `workers` job threads.
fn run_step(dir: &Path, files: &[PathBuf], workers: usize) {
    for file in files {
        std::fs::copy(file, dir.join("inbox").join(file.file_name().unwrap())).unwrap();
    }
    let workers = workers.to_string();
    on_site(
        dir,
        &["run", "--once", "--settle-ms", "0", "--workers", &workers],
    );
}

fn findings(dir: &Path) -> Vec<u8> {
    on_site(dir, &["findings", "--json"]).stdout
}

/// Every file under `root`, by its path relative to `root` with `/` separators.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                folders.push(p);
                continue;
            }
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap();
            files.insert(rel.replace('\\', "/"), std::fs::read(&p).unwrap());
        }
    }
    files
}

/// What a scenario leaves: `findings-<step>.json` after every step, and `outbox/...`.
fn play(root: &Path, steps: &[Vec<PathBuf>], workers: usize) -> BTreeMap<String, Vec<u8>> {
    play_on(root, steps, workers, None)
}

/// [`play`] with the state in the PostgreSQL database `db`.
fn play_on(
    root: &Path,
    steps: &[Vec<PathBuf>],
    workers: usize,
    db: Option<&str>,
) -> BTreeMap<String, Vec<u8>> {
    let dir = golden_site_on(root, db);
    let mut out = BTreeMap::new();
    for (i, files) in steps.iter().enumerate() {
        run_step(&dir, files, workers);
        out.insert(format!("findings-{}.json", i + 1), findings(&dir));
    }
    for (rel, bytes) in tree(&dir.join("outbox")) {
        out.insert(format!("outbox/{rel}"), bytes);
    }
    out
}

fn golden_steps() -> Vec<Vec<PathBuf>> {
    STEPS
        .iter()
        .map(|files| files.iter().map(|f| path(f)).collect())
        .collect()
}

/// Requires two output trees equal file by file; on a difference, keeps `actual` under
/// `target/golden-actual/<what>` for inspection.
fn assert_same_tree(
    what: &str,
    expected: &BTreeMap<String, Vec<u8>>,
    actual: &BTreeMap<String, Vec<u8>>,
) {
    let names = |t: &BTreeMap<String, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
    let differing: Vec<&String> = actual
        .iter()
        .filter(|(name, bytes)| expected.get(*name) != Some(bytes))
        .map(|(name, _)| name)
        .collect();
    if names(expected) == names(actual) && differing.is_empty() {
        return;
    }
    let kept = path("target/golden-actual").join(what);
    let _ = std::fs::remove_dir_all(&kept);
    for (name, bytes) in actual {
        write_atomic(&kept.join(name), bytes);
    }
    panic!(
        "{what}: outputs differ from the expected ones\nexpected files: {:?}\nactual files:   {:?}\n\
         differing: {differing:?}\nactual outputs kept in {}\n\
         (after a deliberate change: STELLA_BLESS=1 cargo test --test golden)",
        names(expected),
        names(actual),
        kept.display()
    );
}

// ---- reading the outputs ---------------------------------------------------------------

/// The in-toto statement inside a completion event envelope.
fn statement(envelope: &[u8]) -> Value {
    let envelope: Value = serde_json::from_slice(envelope).unwrap();
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    let payload = envelope["payload"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// (feed, sequence) of the window each event reports, with its summary.
fn events_by_window(out: &BTreeMap<String, Vec<u8>>) -> BTreeMap<(String, u64), Value> {
    let events = out.iter().filter(|(n, _)| n.starts_with("outbox/events/"));
    events
        .map(|(_, bytes)| {
            let predicate = statement(bytes)["predicate"].clone();
            let window = &predicate["window"];
            let key = (
                window["feed"].as_str().unwrap().to_owned(),
                window["sequence"].as_u64().unwrap(),
            );
            (key, predicate["summary"].clone())
        })
        .collect()
}

/// (component, vulnerability) → (status, fixedIn) of a `findings --json` report.
fn finding_rows(report: &[u8]) -> BTreeMap<(String, String), (String, Value)> {
    let report: Value = serde_json::from_slice(report).unwrap();
    let rows = report["findings"].as_array().unwrap().iter().map(|f| {
        let key = (
            f["component"].as_str().unwrap().to_owned(),
            f["vulnerability"].as_str().unwrap().to_owned(),
        );
        (
            key,
            (
                f["status"].as_str().unwrap().to_owned(),
                f["fixedIn"].clone(),
            ),
        )
    });
    rows.collect()
}

fn row(component: &str, vulnerability: &str) -> (String, String) {
    (component.to_owned(), vulnerability.to_owned())
}

/// The manifest of a completion bundle, from `bundle inspect`.
fn manifest(bytes: &[u8]) -> Value {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), bytes).unwrap();
    let out = ok(&["bundle", "inspect", "--json", text(tmp.path())]);
    let inspected: Value = serde_json::from_slice(&out.stdout).unwrap();
    json!({"bundleId": inspected["bundleId"], "manifest": inspected["manifest"]})
}

/// What the golden outputs must say whatever their bytes, so that blessing a regression
/// cannot pass unnoticed. The facts come from the corpus overlaps
/// (../shared/corpus/README.md) and the golden deltas' recipe.
fn assert_golden_meaning(out: &BTreeMap<String, Vec<u8>>) {
    let windows: Vec<(String, u64)> = events_by_window(out).into_keys().collect();
    let expected_windows = [("demo-osv", 3), ("demo-sbom", 1), ("demo-vex", 2)];
    let expected_windows: Vec<(String, u64)> = expected_windows
        .iter()
        .map(|(f, s)| (f.to_string(), *s))
        .collect();
    assert_eq!(
        windows, expected_windows,
        "windows that touched an artifact; the others (no SBOM yet, or nothing impacted) \
         finish without an event"
    );
    let summaries = events_by_window(out);
    let summary = |feed: &str, seq: u64| summaries[&(feed.to_owned(), seq)].clone();
    let sbom = summary("demo-sbom", 1);
    assert_eq!(
        (sbom["artifacts"].as_u64(), sbom["new"].as_u64()),
        (Some(6), Some(19))
    );
    let osv = summary("demo-osv", 3);
    let counts = |s: &Value| ["new", "resolved", "changed"].map(|k| s[k].as_u64().unwrap());
    assert_eq!(counts(&osv), [1, 2, 2], "demo-osv #3: {osv}");
    assert_eq!(counts(&summary("demo-vex", 2)), [0, 0, 1]);

    let before = finding_rows(&out["findings-2.json"]);
    let after = finding_rows(&out["findings-3.json"]);
    let jwt_old = row("pkg:npm/jsonwebtoken@0.4.0", "CVE-2015-9235");
    let idna = row("pkg:pypi/idna@2.10", "CVE-2024-3651");
    let lodash_new = row("pkg:npm/lodash@4.17.21", "CVE-2021-23337");
    let moment = row("pkg:npm/moment@2.0.0", "CVE-2022-24785");
    let jwt_kept = row("pkg:npm/jsonwebtoken@0.1.0", "CVE-2015-9235");
    for resolved in [&jwt_old, &idna] {
        assert!(
            before.contains_key(resolved) && !after.contains_key(resolved),
            "{resolved:?}"
        );
    }
    assert!(!before.contains_key(&lodash_new) && after.contains_key(&lodash_new));
    assert_eq!(
        (&before[&moment].0, &after[&moment].0),
        (&"affected".into(), &"not_affected".into())
    );
    assert_eq!(
        (&before[&jwt_kept].1, &after[&jwt_kept].1),
        (&json!("4.2.2"), &json!("0.3.0"))
    );

    let first = manifest(&out["outbox/golden-site-000001.tar.zst"]);
    let second = manifest(&out["outbox/golden-site-000002.tar.zst"]);
    assert_eq!(first["manifest"]["mode"], "snapshot", "{first}");
    assert_eq!(second["manifest"]["mode"], "delta", "{second}");
    assert_eq!(
        second["manifest"]["previous"], first["bundleId"],
        "{second}"
    );
    assert_eq!(second["manifest"]["feed"], SITE_ID, "{second}");
    assert_eq!(
        second["manifest"]["createdAt"], GOLDEN_DAY,
        "from the inputs: {second}"
    );
    let members: Vec<String> = second["manifest"]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{} {} {}", d["path"], d["kind"], d["format"]).replace('"', ""))
        .collect();
    assert_eq!(members.len(), 4, "demo-osv #3 and demo-vex #2: {members:?}");
    for member in &members {
        let ok = (member.starts_with("events/run-")
            && member.ends_with(".dsse.json completion dsse"))
            || (member.starts_with("findings/run-")
                && member.ends_with(".json findings stella-findings"));
        assert!(ok, "an event and findings per run: {members:?}");
    }
}

// ---- the tests -------------------------------------------------------------------------

#[test]
fn golden_inputs_rebuild_byte_identical() {
    check_inputs();
}

#[test]
fn golden_outputs_match_byte_for_byte() {
    if blessing() {
        check_inputs();
    }
    let tmp = tempfile::tempdir().unwrap();
    let actual = play(tmp.path(), &golden_steps(), 1);
    assert_golden_meaning(&actual);
    let expected_dir = path("golden-tests/expected");
    if blessing() {
        let _ = std::fs::remove_dir_all(&expected_dir);
        for (name, bytes) in &actual {
            write_atomic(&expected_dir.join(name), bytes);
        }
        return;
    }
    assert_same_tree("golden", &tree(&expected_dir), &actual);
}

/// The same inputs with the state in PostgreSQL give the same bytes as the committed
/// golden outputs (made on SQLite): findings after every step, completion events and
/// completion bundles.
#[test]
fn golden_outputs_are_the_same_bytes_on_postgresql() {
    let Some(db) = pg_support::TestDb::fresh("golden_outputs_are_the_same_bytes_on_postgresql")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let actual = play_on(tmp.path(), &golden_steps(), 2, Some(&db.url));
    assert_golden_meaning(&actual);
    let expected = tree(&path("golden-tests/expected"));
    assert_same_tree("golden-postgres", &expected, &actual);
}

/// demo-sbom #2: forty more images shipping the py-app SBOM, so that a step holds more
/// jobs than one worker claims at a time (service::CLAIM_BATCH is 16) and three workers
/// share them. Which worker takes which job is the scheduler's business; only the
/// outputs are compared.
fn wide_sbom_delta(out: &Path) {
    let sbom_1 = bundle_id(&path("bundles/demo-sbom-1-snapshot.tar.zst"));
    let sbom = std::fs::read(corpus(
        "cyclonedx/sbom/cdx-python-requirements-with-comments.cdx-1.6.json",
    ))
    .unwrap();
    let docs = (0..40)
        .map(|i| {
            let name = format!("registry.local/py-app-{i:02}:1.0");
            let digest = hex::encode(Sha256::digest(format!("demo image {name}")));
            support::sbom(
                &format!("sbom/py-app-{i:02}.cdx.json"),
                sbom.clone(),
                &name,
                &digest,
            )
        })
        .collect();
    support::bundle(
        out,
        support::Spec::delta("demo-sbom", 2, Some(&sbom_1)),
        docs,
    );
}

#[test]
fn two_sites_with_the_same_key_export_the_same_bytes_with_1_or_3_workers() {
    let tmp = tempfile::tempdir().unwrap();
    let wide = tmp.path().join("demo-sbom-2-delta.tar.zst");
    wide_sbom_delta(&wide);
    let mut steps = golden_steps();
    steps[1].push(wide);
    let one = play(&tmp.path().join("one"), &steps, 1);
    let three = play(&tmp.path().join("three"), &steps, 3);
    assert_same_tree("workers-3-vs-1", &one, &three);

    let events = events_by_window(&one);
    let wide_run = &events[&("demo-sbom".to_owned(), 2)];
    assert_eq!(wide_run["artifacts"], 40, "{wide_run}");
    let osv_run = &events[&("demo-osv".to_owned(), 3)];
    assert_eq!(
        osv_run["artifacts"], 42,
        "juice-shop and 41 py-apps: {osv_run}"
    );
    assert_eq!(
        osv_run["resolved"], 42,
        "jsonwebtoken@0.4.0 and 41 idna: {osv_run}"
    );
}

/// A shuffled arrival: the files in a random order, cut into `1..=4` consecutive drops,
/// each followed by one `run --once` on a random number of workers.
fn arrival(rng: &mut bench_support::Rng, files: &[PathBuf]) -> (Vec<Vec<PathBuf>>, usize) {
    let mut order = files.to_vec();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let drops = 1 + rng.below(4);
    let mut cuts: Vec<usize> = (0..drops - 1).map(|_| rng.below(order.len() + 1)).collect();
    cuts.extend([0, order.len()]);
    cuts.sort_unstable();
    let steps = cuts
        .windows(2)
        .map(|w| order[w[0]..w[1]].to_vec())
        .collect();
    (steps, 1 + rng.below(3))
}

fn seed() -> u64 {
    match std::env::var("STELLA_SEED") {
        Ok(s) => s.parse().expect("STELLA_SEED is a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn names(steps: &[Vec<PathBuf>]) -> Vec<Vec<String>> {
    let name = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
    steps.iter().map(|s| s.iter().map(name).collect()).collect()
}

/// The final findings do not depend on the order bundles arrive in, nor on how their
/// arrival is split over invocations: deltas that come before their predecessor wait in
/// pending/ and apply once it lands. The seed is printed (and set with STELLA_SEED).
#[test]
fn findings_do_not_depend_on_arrival_order() {
    let seed = seed();
    // Straight to the process's stderr: the harness would hide `eprintln!` of a pass.
    let line = format!("arrival orders from seed {seed} (STELLA_SEED={seed} repeats them)\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    let mut rng = bench_support::Rng::new(seed);
    let files: Vec<PathBuf> = golden_steps().concat();
    let tmp = tempfile::tempdir().unwrap();
    let in_order = play(&tmp.path().join("in-order"), &golden_steps(), 1);
    let want = sha256_hex(&in_order["findings-3.json"]);
    for i in 0..20 {
        let (steps, workers) = arrival(&mut rng, &files);
        let dir = golden_site(&tmp.path().join(format!("order-{i}")));
        for drop in &steps {
            run_step(&dir, drop, workers);
        }
        let got = sha256_hex(&findings(&dir));
        assert_eq!(
            got,
            want,
            "seed {seed}, order {i}: drops {:?} on {workers} worker(s)",
            names(&steps)
        );
    }
}
