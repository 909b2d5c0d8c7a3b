//! `findings` through the real binary, over stores built by `ingest`: the corpus overlaps
//! of the sample bundles with their evidence, the filters, `--as-of` across withdrawals,
//! a VEX statement that changes a status and the `vexIssuers` setting that undoes it,
//! and output that is sorted and the same byte for byte from one run to the next.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use stella_scheduler::bundle::Withdrawal;
use stella_scheduler::model::{DocumentFormat, DocumentKind};
use support::*;

/// A data dir holding the four sample bundles (positions 1 to 4).
fn samples(root: &Path) -> PathBuf {
    let dir = data_dir(root);
    let bundles = Path::new(ROOT).join("bundles");
    let files: Vec<String> = bundle_names(&bundles)
        .into_iter()
        .map(|n| bundles.join(n).to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["ingest", "--data-dir", dir.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    ok(&args);
    assert_eq!(status(&dir)["position"], 4);
    dir
}

/// `findings --json` with `extra` arguments; requires success.
fn findings(dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["findings", "--json", "--data-dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    serde_json::from_slice(&ok(&args).stdout).unwrap()
}

fn list(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().unwrap()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {value}"))
}

/// The purl without qualifiers or subpath.
fn bare_component(finding: &Value) -> &str {
    text(finding, "component").split(['?', '#']).next().unwrap()
}

/// (component without qualifiers, vulnerability, status) of every finding.
fn rows(report: &Value) -> BTreeSet<(String, String, String)> {
    list(report)
        .iter()
        .map(|f| {
            (
                bare_component(f).to_owned(),
                text(f, "vulnerability").to_owned(),
                text(f, "status").to_owned(),
            )
        })
        .collect()
}

fn owned(rows: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    rows.iter()
        .map(|(c, v, s)| (c.to_string(), v.to_string(), s.to_string()))
        .collect()
}

/// The findings about `purl` (without qualifiers) that name `id`.
fn about<'a>(report: &'a Value, purl: &str, id: &str) -> Vec<&'a Value> {
    list(report)
        .iter()
        .filter(|f| bare_component(f) == purl && names(f).contains(id))
        .collect()
}

fn names(finding: &Value) -> BTreeSet<&str> {
    let aliases = finding["aliases"].as_array().unwrap().iter();
    let mut all: BTreeSet<&str> = aliases.map(|a| a.as_str().unwrap()).collect();
    all.insert(text(finding, "vulnerability"));
    all
}

fn evidence_ids(finding: &Value) -> BTreeSet<&str> {
    let advisories = finding["evidence"]["advisories"].as_array().unwrap();
    advisories.iter().map(|e| text(e, "id")).collect()
}

/// The synthetic subject `tests/samples.rs` gives a sample SBOM without an image digest.
fn demo_digest(image: &str) -> String {
    let hash = Sha256::digest(format!("demo image {image}"));
    format!("sha256:{}", hex::encode(hash))
}

const JUICE_SHOP: &str = "registry.local/juice-shop:14.1.1";
const PY_APP: &str = "registry.local/py-app:1.0";
const QUARKUS: &str = "registry.local/quarkus-app:1.0";

/// The corpus README's overlaps for the six SBOMs the sample bundles carry, and nothing
/// else: hyper's partial version is the README's ambiguity case, reported as `unknown`.
const SAMPLE_ROWS: [(&str, &str, &str); 19] = [
    ("pkg:cargo/hyper@0.14", "CVE-2021-32715", "unknown"),
    ("pkg:cargo/tokio@1.19.2", "CVE-2023-22466", "affected"),
    (
        "pkg:golang/golang.org/x/crypto@v0.0.0-20220622213112-05595931fe9d",
        "CVE-2023-48795",
        "affected",
    ),
    (
        "pkg:golang/golang.org/x/net@v0.13.0",
        "CVE-2023-39325",
        "affected",
    ),
    (
        "pkg:golang/golang.org/x/text@v0.3.7",
        "CVE-2022-32149",
        "affected",
    ),
    (
        "pkg:golang/google.golang.org/protobuf@v1.30.0",
        "CVE-2024-24786",
        "affected",
    ),
    (
        "pkg:maven/io.netty/netty-codec-http2@4.1.82.Final",
        "GHSA-xpw8-rcwv-8f8p",
        "affected",
    ),
    ("pkg:npm/jsonwebtoken@0.1.0", "CVE-2015-9235", "affected"),
    ("pkg:npm/jsonwebtoken@0.4.0", "CVE-2015-9235", "affected"),
    ("pkg:npm/lodash@2.4.2", "CVE-2021-23337", "affected"),
    ("pkg:npm/minimist@0.2.3", "CVE-2021-44906", "affected"),
    ("pkg:npm/moment@2.0.0", "CVE-2022-24785", "affected"),
    ("pkg:npm/semver@5.7.1", "CVE-2022-25883", "affected"),
    ("pkg:npm/semver@6.3.0", "CVE-2022-25883", "affected"),
    ("pkg:npm/semver@7.3.8", "CVE-2022-25883", "affected"),
    ("pkg:npm/vm2@3.9.11", "CVE-2023-37903", "affected"),
    ("pkg:pypi/idna@2.10", "CVE-2024-3651", "affected"),
    ("pkg:pypi/requests@2.31.0", "CVE-2024-35195", "affected"),
    ("pkg:pypi/urllib3@2.2.0", "CVE-2024-37891", "affected"),
];

#[test]
fn the_sample_bundles_give_the_corpus_overlaps_with_their_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = samples(tmp.path());
    let report = findings(&dir, &[]);
    assert_eq!(report["position"], 4);
    assert_eq!(rows(&report), owned(&SAMPLE_ROWS));
    for finding in list(&report) {
        assert_evidence(finding);
    }
    let juice = demo_digest(JUICE_SHOP);
    for finding in list(&report) {
        let npm = text(finding, "component").starts_with("pkg:npm/");
        assert_eq!(text(finding, "artifact") == juice, npm, "{finding}");
    }
    let py = about(&report, "pkg:pypi/urllib3@2.2.0", "GHSA-34jh-p97f-mpxf");
    assert_eq!(text(py[0], "artifact"), demo_digest(PY_APP));
    assert_eq!(text(py[0], "fixedIn"), "2.2.2", "the second range's fix");
    let idna = about(&report, "pkg:pypi/idna@2.10", "PYSEC-2024-60");
    assert_eq!(text(idna[0], "fixedIn"), "3.7");
    let netty = about(
        &report,
        "pkg:maven/io.netty/netty-codec-http2@4.1.82.Final",
        "GHSA-xpw8-rcwv-8f8p",
    );
    assert_eq!(text(netty[0], "artifact"), demo_digest(QUARKUS));
    assert_eq!(text(netty[0], "fixedIn"), "4.1.100.Final");
}

/// Every advisory evidence names an id of the finding; an affected finding's evidence
/// gives the range that hit; an unknown one says why.
fn assert_evidence(finding: &Value) {
    let advisories = finding["evidence"]["advisories"].as_array().unwrap();
    assert!(!advisories.is_empty(), "{finding}");
    for evidence in advisories {
        assert!(names(finding).contains(text(evidence, "id")), "{finding}");
        assert_eq!(evidence["verdict"], finding["status"], "{finding}");
        if finding["status"] == "affected" {
            let events = evidence["range"]["events"].as_array();
            assert!(events.is_some_and(|e| !e.is_empty()), "{evidence}");
        } else {
            assert!(!text(finding, "reason").is_empty(), "{finding}");
        }
    }
}

#[test]
fn records_of_one_flaw_are_one_finding_listing_every_id() {
    let tmp = tempfile::tempdir().unwrap();
    let report = findings(&samples(tmp.path()), &[]);
    let text_pkg = about(
        &report,
        "pkg:golang/golang.org/x/text@v0.3.7",
        "CVE-2022-32149",
    );
    assert_eq!(text_pkg.len(), 1, "{report}");
    assert_eq!(
        evidence_ids(text_pkg[0]),
        BTreeSet::from(["GHSA-69ch-w2m2-3vjp", "GO-2022-1059"])
    );
    assert!(names(text_pkg[0]).is_superset(&evidence_ids(text_pkg[0])));
    let by_prefix = text_pkg[0]["evidence"]["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "GHSA-69ch-w2m2-3vjp")
        .unwrap();
    assert_eq!(by_prefix["matchedBy"], "go module prefix");
    let tokio = about(&report, "pkg:cargo/tokio@1.19.2", "CVE-2023-22466");
    assert_eq!(tokio.len(), 1, "{report}");
    assert_eq!(
        evidence_ids(tokio[0]),
        BTreeSet::from(["GHSA-7rrj-xr53-82p7", "RUSTSEC-2023-0001"])
    );
    assert_eq!(text(tokio[0], "fixedIn"), "1.20.3");
    let all_tokio = list(&report)
        .iter()
        .filter(|f| bare_component(f) == "pkg:cargo/tokio@1.19.2");
    assert_eq!(all_tokio.count(), 1, "RUSTSEC-2021-0124 is past its fix");
}

#[test]
fn filters_select_by_artifact_and_by_any_id_of_a_flaw() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = samples(tmp.path());
    let juice = demo_digest(JUICE_SHOP);
    let only_juice = findings(&dir, &["--artifact", &juice]);
    assert_eq!(list(&only_juice).len(), 9);
    assert!(list(&only_juice).iter().all(|f| f["artifact"] == *juice));
    let by_alias = findings(&dir, &["--vuln", "GHSA-69ch-w2m2-3vjp"]);
    assert_eq!(
        rows(&by_alias),
        owned(&[(
            "pkg:golang/golang.org/x/text@v0.3.7",
            "CVE-2022-32149",
            "affected"
        )])
    );
    let lower_case = findings(&dir, &["--vuln", "ghsa-69ch-w2m2-3vjp"]);
    assert_eq!(lower_case, by_alias, "ids compare without case");
    let semver = findings(&dir, &["--vuln", "CVE-2022-25883"]);
    assert_eq!(list(&semver).len(), 3);
    let both = findings(
        &dir,
        &["--artifact", &juice, "--vuln", "GHSA-c7hr-j4mj-j2w6"],
    );
    let components: Vec<&str> = list(&both).iter().map(bare_component).collect();
    assert_eq!(
        components,
        ["pkg:npm/jsonwebtoken@0.1.0", "pkg:npm/jsonwebtoken@0.4.0"]
    );
    let other = demo_digest(PY_APP);
    let none = findings(
        &dir,
        &["--artifact", &other, "--vuln", "GHSA-c7hr-j4mj-j2w6"],
    );
    assert!(list(&none).is_empty());
}

#[test]
fn an_artifact_without_an_sbom_is_an_error_not_an_empty_list() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = samples(tmp.path());
    let unknown = demo_digest("registry.local/nobody:1");
    let d = dir.to_str().unwrap();
    let out = run(&[
        "findings",
        "--json",
        "--data-dir",
        d,
        "--artifact",
        &unknown,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!("no SBOM describes artifact {unknown} as of position 4");
    assert!(stderr.contains(&expected), "{stderr}");
    let before_sboms = run(&[
        "findings",
        "--data-dir",
        d,
        "--artifact",
        &demo_digest(JUICE_SHOP),
        "--as-of",
        "2",
    ]);
    assert_eq!(before_sboms.status.code(), Some(2), "the SBOM came at 3");
}

#[test]
fn as_of_past_the_change_log_exits_2_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = samples(tmp.path());
    let d = dir.to_str().unwrap();
    let out = run(&["findings", "--json", "--data-dir", d, "--as-of", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("position 5 is past the change log's last position 4"),
        "{stderr}"
    );
    let at_end = findings(&dir, &["--as-of", "4"]);
    assert_eq!(at_end, findings(&dir, &[]));
}

#[test]
fn the_output_is_sorted_and_identical_from_run_to_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = samples(tmp.path());
    let args = ["findings", "--json", "--data-dir", dir.to_str().unwrap()];
    let first = ok(&args).stdout;
    let second = ok(&args).stdout;
    assert!(first == second, "two runs differ");
    let report: Value = serde_json::from_slice(&first).unwrap();
    let keys: Vec<(&str, &str, &str)> = list(&report)
        .iter()
        .map(|f| {
            (
                text(f, "artifact"),
                text(f, "component"),
                text(f, "vulnerability"),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "sorted by artifact, component, vulnerability");
    let json = String::from_utf8(first).unwrap();
    assert!(
        json.find("\"aliases\"") < json.find("\"artifact\""),
        "keys sorted"
    );
    let plain = ok(&["findings", "--data-dir", dir.to_str().unwrap()]).stdout;
    let plain = String::from_utf8(plain).unwrap();
    assert!(plain.starts_with("position 4: 19 findings\n"), "{plain}");
}

/// An app whose SBOM lists `left-pad@1.2.0` and `is-odd@0.1.0`.
const APP_HEX: &str = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e";

fn app_sbom() -> stella_scheduler::bundle::NewDocument {
    let bom = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "components": [
            {"type": "library", "name": "left-pad", "version": "1.2.0",
             "purl": "pkg:npm/left-pad@1.2.0"},
            {"type": "library", "name": "is-odd", "version": "0.1.0",
             "purl": "pkg:npm/is-odd@0.1.0"},
        ]
    });
    sbom(
        "sboms/app.cdx.json",
        serde_json::to_vec(&bom).unwrap(),
        "registry.local/app:1",
        APP_HEX,
    )
}

fn advisory_doc(id: &str, bytes: Vec<u8>) -> stella_scheduler::bundle::NewDocument {
    doc(
        &format!("advisories/{id}.json"),
        DocumentKind::Advisory,
        DocumentFormat::Osv,
        bytes,
    )
}

/// `osv(...)` with an alias, or marked withdrawn.
fn osv_with(id: &str, package: &str, alias: Option<&str>, withdrawn: bool) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(&osv(id, package, "1.3.0")).unwrap();
    if let Some(alias) = alias {
        value["aliases"] = json!([alias]);
    }
    if withdrawn {
        value["withdrawn"] = json!("2026-11-15T00:00:00Z");
        value["modified"] = json!("2026-11-15T00:00:00Z");
    }
    serde_json::to_vec(&value).unwrap()
}

fn ingest(dir: &Path, file: &Path) {
    ok(&[
        "ingest",
        "--data-dir",
        dir.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
}

/// Position 1 brings the SBOM and two advisories; position 2 withdraws the first through
/// its bundle's manifest; position 3 republishes the second with OSV's `withdrawn` set.
#[test]
fn as_of_shows_each_position_across_withdrawals() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path());
    let (b1, b2, b3) = (
        tmp.path().join("1.tar.zst"),
        tmp.path().join("2.tar.zst"),
        tmp.path().join("3.tar.zst"),
    );
    let first = vec![
        app_sbom(),
        advisory_doc("W-1", osv_with("W-1", "left-pad", None, false)),
        advisory_doc("W-2", osv_with("W-2", "is-odd", None, false)),
    ];
    let id1 = bundle(&b1, Spec::delta("local", 1, None), first);
    let mut second = Spec::delta("local", 2, Some(&id1));
    second.withdrawn = vec![Withdrawal {
        kind: DocumentKind::Advisory,
        id: "W-1".into(),
    }];
    let id2 = bundle(&b2, second, vec![]);
    let republished = advisory_doc("W-2", osv_with("W-2", "is-odd", None, true));
    bundle(&b3, Spec::delta("local", 3, Some(&id2)), vec![republished]);
    for file in [&b1, &b2, &b3] {
        ingest(&dir, file);
    }
    let at = |position: &str| findings(&dir, &["--as-of", position]);
    let vulns = |report: &Value| -> Vec<String> {
        list(report)
            .iter()
            .map(|f| text(f, "vulnerability").to_owned())
            .collect()
    };
    assert_eq!(
        vulns(&at("1")),
        ["W-2", "W-1"],
        "is-odd sorts before left-pad"
    );
    assert_eq!(at("1")["position"], 1);
    assert_eq!(vulns(&at("2")), ["W-2"], "W-1 withdrawn by the feed");
    assert!(vulns(&at("3")).is_empty(), "W-2 marked withdrawn");
    let latest = findings(&dir, &[]);
    assert_eq!(latest["position"], 3);
    assert!(list(&latest).is_empty());
    assert!(list(&at("0")).is_empty(), "nothing was known at 0");
}

const VEX_ID: &str = "https://vex.example/app/2026-0001";
const ISSUER: &str = "Example Vendor";

fn openvex_not_affected() -> stella_scheduler::bundle::NewDocument {
    let vex = json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": VEX_ID,
        "author": ISSUER,
        "timestamp": "2026-11-20T00:00:00Z",
        "version": 1,
        "statements": [{
            "vulnerability": {"name": "CVE-2099-0001"},
            "products": [{"@id": "pkg:npm/left-pad@1.2.0"}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path"
        }]
    });
    doc(
        "vex/app.openvex.json",
        DocumentKind::Vex,
        DocumentFormat::Openvex,
        serde_json::to_vec(&vex).unwrap(),
    )
}

fn set_vex_issuers(dir: &Path, issuers: Value) {
    let path = dir.join("config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["vexIssuers"] = issuers;
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
}

fn left_pad(dir: &Path, extra: &[&str]) -> Value {
    let report = findings(dir, extra);
    let found = about(&report, "pkg:npm/left-pad@1.2.0", "V-1");
    assert_eq!(found.len(), 1, "{report}");
    found[0].clone()
}

/// The advisory V-1 (alias CVE-2099-0001) flags left-pad; a later bundle of another feed
/// brings an OpenVEX statement, about the alias, that says not_affected.
#[test]
fn a_vex_statement_sets_the_status_unless_its_issuer_is_not_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path());
    let (app, vex) = (
        tmp.path().join("app.tar.zst"),
        tmp.path().join("vex.tar.zst"),
    );
    let advisory = osv_with("V-1", "left-pad", Some("CVE-2099-0001"), false);
    let docs = vec![app_sbom(), advisory_doc("V-1", advisory)];
    bundle(&app, Spec::delta("app", 1, None), docs);
    bundle(
        &vex,
        Spec::delta("vendor-vex", 1, None),
        vec![openvex_not_affected()],
    );
    ingest(&dir, &app);
    ingest(&dir, &vex);

    let before = left_pad(&dir, &["--as-of", "1"]);
    assert_eq!(before["status"], "affected");
    assert_eq!(before["evidence"]["vex"], json!([]));
    let after = left_pad(&dir, &[]);
    assert_eq!(after["status"], "not_affected");
    assert_eq!(
        after["justification"],
        "vulnerable_code_not_in_execute_path"
    );
    assert_eq!(after["vulnerability"], "CVE-2099-0001");
    let statement = &after["evidence"]["vex"][0];
    assert_eq!(statement["statement"], format!("vendor-vex/{VEX_ID}#0"));
    assert_eq!(statement["issuer"], ISSUER);
    assert_eq!(statement["status"], "not_affected");
    assert_eq!(statement["decisive"], true);
    assert_eq!(evidence_ids(&after), BTreeSet::from(["V-1"]));

    set_vex_issuers(&dir, json!({"vendor-vex": ["Another Vendor"]}));
    let untrusted = left_pad(&dir, &[]);
    assert_eq!(untrusted["status"], "affected");
    assert_eq!(untrusted["justification"], Value::Null);
    assert_eq!(untrusted["evidence"]["vex"], json!([]));
    set_vex_issuers(&dir, json!({"vendor-vex": [ISSUER]}));
    assert_eq!(left_pad(&dir, &[])["status"], "not_affected");
    set_vex_issuers(&dir, json!({"other-feed": ["Another Vendor"]}));
    assert_eq!(
        left_pad(&dir, &[])["status"],
        "not_affected",
        "a feed not listed trusts its issuers"
    );
}
