//! Matching end to end over the shared third-party corpus: every overlap its README lists
//! as affected produces a finding, every trap it lists does not (or is `unknown` where the
//! README says so), and VEX documents set the statuses they state.
//!
//! Documents are read with `formats::parse`, exactly as ingest reads them. The corpus has
//! no advisory for CVE-2020-25649 and no SBOM with the wolfi `bash` its VEX documents talk
//! about; those two tests build the missing piece themselves, and say so where they do.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

use sha2::{Digest as _, Sha256};
use stella_scheduler::formats::{self, ParsedDocument};
use stella_scheduler::matching::{
    findings, AdvisoryIndex, Finding, IssuedStatement, Knowledge, Status, Trust, VexIndex,
};
use stella_scheduler::model::{
    Advisory, Affected, Component, Digest, DocumentFormat, DocumentKind, Package, Range,
    RangeEvent, RangeKind, Sbom, VexDocument,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(CORPUS).join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every OSV advisory of the corpus; the deliberately invalid one must be refused.
fn corpus_advisories() -> Vec<Advisory> {
    let mut advisories = Vec::new();
    for folder in [
        "ghsa",
        "go",
        "osv-dev-testdata",
        "osv-schema-testdata",
        "pypa",
        "rustsec",
    ] {
        let dir = Path::new(CORPUS).join("osv").join(folder);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        for name in names {
            let rel = format!("osv/{folder}/{name}");
            let parsed = formats::parse(
                &name,
                DocumentKind::Advisory,
                DocumentFormat::Osv,
                &read(&rel),
            );
            match parsed {
                Ok(ParsedDocument::Advisory(a)) => advisories.push(a),
                Err(_) if name.starts_with("INVALID-") => {}
                other => panic!("{rel}: {other:?}"),
            }
        }
    }
    assert_eq!(
        advisories.len(),
        47,
        "48 advisory files, one deliberately invalid"
    );
    advisories
}

fn sbom(rel: &str) -> (Digest, Sbom) {
    let format = if rel.starts_with("spdx/") {
        DocumentFormat::Spdx
    } else {
        DocumentFormat::Cyclonedx
    };
    let bytes = read(rel);
    let ParsedDocument::Sbom(sbom) =
        formats::parse(rel, DocumentKind::Sbom, format, &bytes).unwrap()
    else {
        panic!("{rel} is not an SBOM")
    };
    let digest = match &sbom.subject {
        Some(subject) => subject.digest.clone(),
        None => Digest::from_sha256(&Sha256::digest(&bytes).into()),
    };
    (digest, sbom)
}

fn vex(rel: &str, format: DocumentFormat) -> VexDocument {
    let parsed = formats::parse(rel, DocumentKind::Vex, format, &read(rel)).unwrap();
    let ParsedDocument::Vex(document) = parsed else {
        panic!("{rel} is not VEX")
    };
    document
}

fn everyone(_: &IssuedStatement) -> bool {
    true
}

struct World {
    advisories: AdvisoryIndex,
    vex: VexIndex,
}

impl World {
    fn corpus() -> World {
        World {
            advisories: AdvisoryIndex::new(corpus_advisories()),
            vex: VexIndex::default(),
        }
    }

    fn run(&self, digest: &Digest, components: &[Component], trust: &dyn Trust) -> Vec<Finding> {
        let knowledge = Knowledge {
            advisories: &self.advisories,
            vex: &self.vex,
            trust,
        };
        findings(digest, components, knowledge)
    }

    fn sbom(&self, rel: &str) -> Vec<Finding> {
        let (digest, sbom) = sbom(rel);
        self.run(&digest, &sbom.components, &everyone)
    }
}

/// Whether the finding's component is `purl` (possibly followed by qualifiers or subpath).
fn is_component(finding: &Finding, purl: &str) -> bool {
    let rest = finding.component.strip_prefix(purl);
    rest.is_some_and(|r| r.is_empty() || r.starts_with('?') || r.starts_with('#'))
}

fn names(finding: &Finding, id: &str) -> bool {
    finding.vulnerability == id || finding.aliases.iter().any(|a| a == id)
}

fn about<'a>(findings: &'a [Finding], purl: &str, id: &str) -> Vec<&'a Finding> {
    findings
        .iter()
        .filter(|f| is_component(f, purl) && names(f, id))
        .collect()
}

fn assert_affected(findings: &[Finding], purl: &str, id: &str) {
    let found = about(findings, purl, id);
    assert!(!found.is_empty(), "{purl} must be affected by {id}");
    for finding in found {
        assert_eq!(
            finding.status,
            Status::Affected,
            "{purl} / {id}: {finding:#?}"
        );
        let evidence = &finding.evidence.advisories;
        assert!(
            evidence.iter().any(|e| e.id == id || names(finding, &e.id)),
            "{finding:#?}"
        );
    }
}

fn assert_absent(findings: &[Finding], purl: &str, id: &str) {
    let found = about(findings, purl, id);
    assert!(
        found.is_empty(),
        "{purl} must not be flagged by {id}: {found:#?}"
    );
}

const JUICE_SHOP: &str = "cyclonedx/sbom/juice-shop-14.1.1.flat.cdx-1.4.json";
const BIG_MONGO: &str = "cyclonedx/sbom/guac-big-mongo.cdx-1.4.json";
const KUBECTL: &str = "spdx/guac-kubectl-v1.28.1-amd64.spdx.json";
const REQUIREMENTS: &str = "cyclonedx/sbom/cdx-python-requirements-with-comments.cdx-1.6.json";
const PIPENV: &str = "cyclonedx/sbom/cdx-python-pipenv-with-urls.cdx-1.6.json";
const POETRY: &str = "cyclonedx/sbom/cdx-python-poetry-issue702.cdx-1.6.json";
const EXAMPLE11: &str = "spdx/spdx-examples-example11.spdx.json";

#[test]
fn juice_shop_npm_overlaps() {
    let found = World::corpus().sbom(JUICE_SHOP);
    assert_affected(&found, "pkg:npm/jsonwebtoken@0.1.0", "GHSA-c7hr-j4mj-j2w6");
    assert_affected(&found, "pkg:npm/jsonwebtoken@0.4.0", "GHSA-c7hr-j4mj-j2w6");
    assert_affected(&found, "pkg:npm/lodash@2.4.2", "GHSA-35jh-r3h4-6jhm");
    assert_affected(&found, "pkg:npm/minimist@0.2.3", "GHSA-xvch-5gv4-984h");
    assert_affected(&found, "pkg:npm/moment@2.0.0", "GHSA-8hfj-j24r-96c4");
    for version in ["5.7.1", "6.3.0", "7.3.8"] {
        assert_affected(
            &found,
            &format!("pkg:npm/semver@{version}"),
            "GHSA-c2qf-rxjj-qqgw",
        );
    }
    let vm2 = about(&found, "pkg:npm/vm2@3.9.11", "GHSA-g644-9gfx-q4q4");
    assert_eq!(vm2.len(), 1);
    assert_eq!(vm2[0].status, Status::Affected);
    assert_eq!(vm2[0].fixed_in, None, "last_affected gives no fix");
    let range = vm2[0].evidence.advisories[0].range.as_ref().unwrap();
    assert!(range
        .events
        .contains(&RangeEvent::LastAffected("3.9.19".into())));
    // Past the fix.
    assert_absent(&found, "pkg:npm/lodash@4.17.21", "GHSA-35jh-r3h4-6jhm");
    assert_absent(&found, "pkg:npm/moment@2.29.4", "GHSA-8hfj-j24r-96c4");
    assert_absent(&found, "pkg:npm/minimist@1.2.8", "GHSA-xvch-5gv4-984h");
}

#[test]
fn the_fix_and_severity_come_with_the_finding() {
    let found = World::corpus().sbom(JUICE_SHOP);
    let lodash = about(&found, "pkg:npm/lodash@2.4.2", "GHSA-35jh-r3h4-6jhm")[0];
    assert_eq!(lodash.fixed_in.as_deref(), Some("4.17.21"));
    assert_eq!(
        lodash.vulnerability, "CVE-2021-23337",
        "the CVE is the preferred id"
    );
    let severity = lodash.severity.as_ref().unwrap();
    assert_eq!(severity.level.as_deref(), Some("high"));
    assert!(!severity.scores.is_empty());
    let semver = about(&found, "pkg:npm/semver@6.3.0", "GHSA-c2qf-rxjj-qqgw")[0];
    assert_eq!(
        semver.fixed_in.as_deref(),
        Some("6.3.1"),
        "the fix of its own range"
    );
}

#[test]
fn go_modules_meet_package_level_advisories() {
    let found = World::corpus().sbom(BIG_MONGO);
    let text = about(
        &found,
        "pkg:golang/golang.org/x/text@v0.3.7",
        "GO-2022-1059",
    );
    assert!(!text.is_empty());
    for finding in text {
        assert_eq!(finding.status, Status::Affected);
        assert_eq!(finding.vulnerability, "CVE-2022-32149");
        assert!(
            names(finding, "GHSA-69ch-w2m2-3vjp"),
            "one finding for both records"
        );
        let ids: BTreeSet<&str> = finding
            .evidence
            .advisories
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(ids, BTreeSet::from(["GHSA-69ch-w2m2-3vjp", "GO-2022-1059"]));
        let by_prefix = finding
            .evidence
            .advisories
            .iter()
            .find(|e| e.id.starts_with("GHSA"));
        assert_eq!(by_prefix.unwrap().matched_by, "go module prefix");
        assert_eq!(
            by_prefix.unwrap().package,
            "pkg:golang/golang.org/x/text/language"
        );
    }
    let crypto = "pkg:golang/golang.org/x/crypto@v0.0.0-20220622213112-05595931fe9d";
    assert_affected(&found, crypto, "GO-2023-2402");
}

#[test]
fn kubectl_go_overlaps_and_boundaries() {
    let found = World::corpus().sbom(KUBECTL);
    assert_affected(
        &found,
        "pkg:golang/golang.org/x/net@v0.13.0",
        "GO-2023-2102",
    );
    assert_affected(
        &found,
        "pkg:golang/google.golang.org/protobuf@v1.30.0",
        "GO-2024-2611",
    );
    // The version equals the fix.
    assert_absent(
        &found,
        "pkg:golang/github.com/gogo/protobuf@v1.3.2",
        "GO-2021-0053",
    );
    assert_absent(
        &found,
        "pkg:golang/golang.org/x/net@v0.13.0",
        "GO-2023-1988",
    );
    // Past the fix, also for the package-level GHSA record.
    assert_absent(
        &found,
        "pkg:golang/golang.org/x/text@v0.11.0",
        "GO-2022-1059",
    );
    assert_absent(
        &found,
        "pkg:golang/golang.org/x/text@v0.11.0",
        "GHSA-69ch-w2m2-3vjp",
    );
    // Withdrawn.
    assert_absent(
        &found,
        "pkg:golang/k8s.io/kubernetes@v1.28.1",
        "GO-2022-0617",
    );
}

#[test]
fn maven_orders_final_releases_by_number() {
    let found = World::corpus().sbom(QUARKUS);
    let purl = "pkg:maven/io.netty/netty-codec-http2@4.1.82.Final";
    assert_affected(&found, purl, "GHSA-xpw8-rcwv-8f8p");
    let finding = about(&found, purl, "GHSA-xpw8-rcwv-8f8p")[0];
    assert_eq!(
        finding.vulnerability, "GHSA-xpw8-rcwv-8f8p",
        "no aliases: its own id"
    );
    assert!(finding.aliases.is_empty());
}

#[test]
fn pypi_overlaps_and_boundaries() {
    let world = World::corpus();
    let found = world.sbom(REQUIREMENTS);
    assert_affected(&found, "pkg:pypi/requests@2.31.0", "GHSA-9wx4-h78v-vm56");
    assert_affected(&found, "pkg:pypi/urllib3@2.2.0", "GHSA-34jh-p97f-mpxf");
    assert_affected(&found, "pkg:pypi/idna@2.10", "PYSEC-2024-60");
    assert_absent(&found, "pkg:pypi/requests@2.31.0", "PYSEC-2023-74");
    let found = world.sbom(PIPENV);
    assert_affected(&found, "pkg:pypi/idna@3.6", "PYSEC-2024-60");
    let found = world.sbom(POETRY);
    for (purl, ids) in [
        (
            "pkg:pypi/requests@2.32.3",
            &["GHSA-9wx4-h78v-vm56", "PYSEC-2023-74"][..],
        ),
        (
            "pkg:pypi/urllib3@2.3.0",
            &["GHSA-34jh-p97f-mpxf", "PYSEC-2023-192"][..],
        ),
        ("pkg:pypi/idna@3.10", &["PYSEC-2024-60"][..]),
        ("pkg:pypi/aiohttp@3.11.12", &["PYSEC-2022-43059"][..]),
    ] {
        for id in ids {
            assert_absent(&found, purl, id);
        }
    }
}

#[test]
fn components_without_a_version_are_unknown_not_safe() {
    let found = World::corpus().sbom(PIPENV);
    for (name, id) in [
        ("requests", "GHSA-9wx4-h78v-vm56"),
        ("requests", "PYSEC-2023-74"),
        ("urllib3", "GHSA-34jh-p97f-mpxf"),
        ("urllib3", "PYSEC-2023-192"),
    ] {
        let hits: Vec<_> = found
            .iter()
            .filter(|f| f.component.starts_with(&format!("pkg:pypi/{name}?")) && names(f, id))
            .collect();
        assert_eq!(hits.len(), 1, "{name} / {id}: {found:#?}");
        assert_eq!(hits[0].status, Status::Unknown);
        assert_eq!(
            hits[0].reason.as_deref(),
            Some("the component has no version")
        );
    }
}

#[test]
fn rust_records_of_one_flaw_are_one_finding() {
    let found = World::corpus().sbom(EXAMPLE11);
    let tokio = about(&found, "pkg:cargo/tokio@1.19.2", "CVE-2023-22466");
    assert_eq!(tokio.len(), 1, "{found:#?}");
    let finding = tokio[0];
    assert_eq!(finding.vulnerability, "CVE-2023-22466");
    assert!(names(finding, "RUSTSEC-2023-0001") && names(finding, "GHSA-7rrj-xr53-82p7"));
    assert_eq!(finding.evidence.advisories.len(), 2);
    assert_eq!(finding.fixed_in.as_deref(), Some("1.20.3"));
    assert_absent(&found, "pkg:cargo/tokio@1.19.2", "RUSTSEC-2021-0124");
}

/// `hyper@0.14` is a partial version: 0.14.0 is below the fix 0.14.10 but later 0.14.x
/// releases are not, so the honest answer is `unknown`, with the reason, rather than a
/// guess either way.
#[test]
fn a_partial_version_is_reported_as_ambiguous() {
    let found = World::corpus().sbom(EXAMPLE11);
    let hyper = about(&found, "pkg:cargo/hyper@0.14", "RUSTSEC-2021-0078");
    assert_eq!(hyper.len(), 1, "{found:#?}");
    assert_eq!(hyper[0].status, Status::Unknown);
    let reason = hyper[0].reason.as_deref().unwrap();
    assert!(reason.starts_with("partial version \"0.14\""), "{reason}");
}

#[test]
fn an_in_toto_subject_past_the_fix_is_not_flagged() {
    let statement =
        read("dsse/in-toto-statements/spec-release-npm-publish-semver-7.5.4.statement.json");
    let text = String::from_utf8(statement).unwrap();
    assert!(text.contains("pkg:npm/semver@7.5.4"));
    let component = component("pkg:npm/semver@7.5.4");
    let found = World::corpus().run(&digest(b"semver-7.5.4"), &[component], &everyone);
    assert_absent(&found, "pkg:npm/semver@7.5.4", "GHSA-c2qf-rxjj-qqgw");
}

#[test]
fn distribution_packages_use_their_release_and_source_package() {
    let found = World::corpus().sbom("cyclonedx/sbom/guac-alpine-3.16.2.cdx-1.4.json");
    // CVE-2018-5407 names Alpine's `openssl` source package for releases 3.3 to 3.8 only.
    assert_absent(&found, "pkg:alpine/libssl1.1@1.1.1q-r0", "CVE-2018-5407");
    let old = component("pkg:apk/alpine/libssl1.0@1.0.2p-r0?upstream=openssl&distro=alpine-3.8.1");
    let found = World::corpus().run(&digest(b"alpine-3.8"), &[old], &everyone);
    let finding = &found[0];
    assert_eq!(
        (finding.vulnerability.as_str(), finding.status),
        ("CVE-2018-5407", Status::Affected)
    );
    assert_eq!(finding.evidence.advisories[0].matched_by, "source package");
    assert_eq!(finding.fixed_in.as_deref(), Some("1.0.2q-r0"));
}

#[test]
fn findings_are_sorted_and_deterministic() {
    let world = World::corpus();
    let first = world.sbom(JUICE_SHOP);
    assert_eq!(first, world.sbom(JUICE_SHOP));
    let keys: Vec<_> = first
        .iter()
        .map(|f| (&f.component, &f.vulnerability))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let json = stella_scheduler::canonical::to_vec(&first[0]).unwrap();
    let text = String::from_utf8(json).unwrap();
    for key in [
        "\"artifact\"",
        "\"aliases\"",
        "\"component\"",
        "\"evidence\"",
        "\"fixedIn\"",
    ] {
        assert!(text.contains(key), "{key} missing in {text}");
    }
}

fn component(purl: &str) -> Component {
    Component {
        bom_ref: None,
        group: None,
        name: purl.to_owned(),
        version: None,
        purl: Some(purl.to_owned()),
        hashes: Vec::new(),
    }
}

fn digest(seed: &[u8]) -> Digest {
    Digest::from_sha256(&Sha256::digest(seed).into())
}

/// CVE-2020-25649: the corpus VEX says not_affected for jackson-databind 2.10.0 through a
/// BOM-link whose serial number does not match the BOM it means, so matching falls back to
/// the link's purl fragment. The corpus has no advisory for this CVE: the one below is
/// built here, shaped after GHSA-288c-cq4h-88gq.
#[test]
fn a_cyclonedx_vex_turns_jackson_databind_not_affected() {
    let advisory = Advisory {
        id: "GHSA-288c-cq4h-88gq".into(),
        schema_version: None,
        aliases: vec!["CVE-2020-25649".into()],
        upstream: Vec::new(),
        modified: "2023-01-01T00:00:00Z".parse().unwrap(),
        published: None,
        withdrawn: None,
        summary: None,
        severity: Vec::new(),
        database_severity: Some("high".into()),
        affected: vec![Affected {
            package: Some(Package {
                ecosystem: "Maven".into(),
                name: "com.fasterxml.jackson.core:jackson-databind".into(),
                purl: None,
            }),
            ranges: vec![Range {
                kind: RangeKind::Ecosystem,
                repo: None,
                events: vec![
                    RangeEvent::Introduced("2.10.0".into()),
                    RangeEvent::Fixed("2.10.5.1".into()),
                ],
            }],
            versions: Vec::new(),
            ecosystem_specific: None,
            database_specific: None,
        }],
    };
    let (digest, bom) = sbom("cyclonedx/vex/bom-examples-VEX-bom.cdx-1.3.json");
    let document = vex(
        "cyclonedx/vex/bom-examples-VEX-vex.cdx-1.4.json",
        DocumentFormat::Cyclonedx,
    );
    let statements =
        IssuedStatement::from_document(&document, "bom-examples-VEX", "cyclonedx-examples");
    let world = World {
        advisories: AdvisoryIndex::new([advisory]),
        vex: VexIndex::new(statements),
    };
    let purl = "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0";
    let nobody = |_: &IssuedStatement| false;
    let untrusted = world.run(&digest, &bom.components, &nobody);
    assert_eq!(
        about(&untrusted, purl, "CVE-2020-25649")[0].status,
        Status::Affected
    );
    let trusted = world.run(&digest, &bom.components, &everyone);
    let finding = about(&trusted, purl, "CVE-2020-25649")[0];
    assert_eq!(finding.status, Status::NotAffected);
    assert_eq!(finding.justification.as_deref(), Some("code_not_reachable"));
    let statement = &finding.evidence.vex[0];
    assert_eq!(statement.issuer, "cyclonedx-examples");
    assert!(statement.decisive && statement.statement.ends_with("#0"));
}

fn wolfi_world(documents: Vec<(VexDocument, &str)>) -> World {
    let statements = documents
        .iter()
        .flat_map(|(d, issuer)| IssuedStatement::from_document(d, "doc", issuer))
        .collect();
    World {
        advisories: AdvisoryIndex::default(),
        vex: VexIndex::new(statements),
    }
}

/// Three OpenVEX documents about CVE-1234-5678 in `pkg:apk/wolfi/bash@1.0.0`: affected
/// (January), under_investigation (December, 05:04:34) and fixed (05:06:38). No SBOM of
/// the corpus lists that package, so the artifact holding it is built here.
#[test]
fn openvex_statements_supersede_by_time() {
    let documents = vec![
        (
            vex(
                "openvex/guac-open-vex-affected.json",
                DocumentFormat::Openvex,
            ),
            "guac",
        ),
        (
            vex("openvex/vexctl-document1.vex.json", DocumentFormat::Openvex),
            "vexctl",
        ),
        (
            vex("openvex/vexctl-document2.vex.json", DocumentFormat::Openvex),
            "vexctl",
        ),
    ];
    let world = wolfi_world(documents.clone());
    let artifact = [component("pkg:apk/wolfi/bash@1.0.0?arch=x86_64")];
    let found = world.run(&digest(b"wolfi"), &artifact, &everyone);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        (found[0].vulnerability.as_str(), found[0].status),
        ("CVE-1234-5678", Status::Fixed)
    );
    assert_eq!(found[0].evidence.vex.len(), 3);
    let only_guac: BTreeSet<String> = BTreeSet::from(["guac".to_owned()]);
    let found = world.run(&digest(b"wolfi"), &artifact, &only_guac);
    assert_eq!(
        found[0].status,
        Status::Affected,
        "vexctl is not trusted here"
    );
}

#[test]
fn two_statuses_at_the_same_time_are_a_conflict() {
    let first = vex("openvex/vexctl-document1.vex.json", DocumentFormat::Openvex);
    let mut second = vex("openvex/vexctl-document2.vex.json", DocumentFormat::Openvex);
    second.statements[0].timestamp = first.statements[0].timestamp;
    let world = wolfi_world(vec![(first, "vexctl"), (second, "vexctl")]);
    let found = world.run(
        &digest(b"wolfi"),
        &[component("pkg:apk/wolfi/bash@1.0.0")],
        &everyone,
    );
    assert_eq!(found.len(), 1);
    assert!(found[0].vex_conflict);
    assert_eq!(found[0].status, Status::Unknown);
    assert_eq!(
        found[0].reason.as_deref(),
        Some("trusted VEX statements conflict")
    );
    let statuses: BTreeSet<Status> = found[0].evidence.vex.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        BTreeSet::from([Status::Fixed, Status::UnderInvestigation])
    );
}

/// The log4j VEX documents of the corpus name products of their own (a CSAF product id,
/// a bom-ref), none of which is in this artifact: they must not suppress the finding.
#[test]
fn statements_about_other_products_do_not_suppress() {
    let documents = [
        (
            "cyclonedx/vex/bom-examples-CISA-case1-vex-affected.cdx-1.4.json",
            DocumentFormat::Cyclonedx,
        ),
        ("csaf/oasis-sec-vex-2022-0001.json", DocumentFormat::Csaf),
        ("csaf/oasis-2022-evd-uc-08-001.json", DocumentFormat::Csaf),
        (
            "openvex/vexctl-pre-v0.2-test.vex.json",
            DocumentFormat::Openvex,
        ),
    ];
    let statements = documents
        .iter()
        .flat_map(|(rel, format)| IssuedStatement::from_document(&vex(rel, *format), rel, rel))
        .collect();
    let world = World {
        advisories: AdvisoryIndex::new(corpus_advisories()),
        vex: VexIndex::new(statements),
    };
    assert!(world.vex.len() > 10);
    let log4j = component("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1");
    let found = world.run(&digest(b"log4j"), &[log4j], &everyone);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        (found[0].vulnerability.as_str(), found[0].status),
        ("CVE-2021-44228", Status::Affected)
    );
    assert!(found[0].evidence.vex.is_empty());
}

#[test]
fn withdrawn_and_duplicate_advisories_are_handled_at_indexing() {
    let index = AdvisoryIndex::new(corpus_advisories());
    assert_eq!(index.withdrawn(), 7, "the README lists 7 withdrawn records");
    // PYSEC-2023-74 comes twice (YAML and JSON): one copy is kept.
    assert_eq!(index.len(), 47 - 7 - 1);
}

/// The whole answer for every SBOM of the corpus: exactly the README's overlaps (and
/// the `unknown`s it asks for), nothing more. Components are compared without qualifiers.
#[test]
fn nothing_beyond_the_readme_is_flagged() {
    use Status::{Affected as A, Unknown as U};
    let expected: BTreeSet<(&str, &str, &str, Status)> = BTreeSet::from([
        (PIPENV, "pkg:pypi/idna@3.6", "CVE-2024-3651", A),
        (PIPENV, "pkg:pypi/requests", "CVE-2023-32681", U),
        (PIPENV, "pkg:pypi/requests", "CVE-2024-35195", U),
        (PIPENV, "pkg:pypi/urllib3", "CVE-2023-43804", U),
        (PIPENV, "pkg:pypi/urllib3", "CVE-2024-37891", U),
        (REQUIREMENTS, "pkg:pypi/idna@2.10", "CVE-2024-3651", A),
        (
            REQUIREMENTS,
            "pkg:pypi/requests@2.31.0",
            "CVE-2024-35195",
            A,
        ),
        (REQUIREMENTS, "pkg:pypi/urllib3@2.2.0", "CVE-2024-37891", A),
        (
            BIG_MONGO,
            "pkg:golang/golang.org/x/crypto@v0.0.0-20220622213112-05595931fe9d",
            "CVE-2023-48795",
            A,
        ),
        (
            BIG_MONGO,
            "pkg:golang/golang.org/x/text@v0.3.7",
            "CVE-2022-32149",
            A,
        ),
        (
            QUARKUS,
            "pkg:maven/io.netty/netty-codec-http2@4.1.82.Final",
            "GHSA-xpw8-rcwv-8f8p",
            A,
        ),
        (JUICE_SHOP, "pkg:npm/jsonwebtoken@0.1.0", "CVE-2015-9235", A),
        (JUICE_SHOP, "pkg:npm/jsonwebtoken@0.4.0", "CVE-2015-9235", A),
        (JUICE_SHOP, "pkg:npm/lodash@2.4.2", "CVE-2021-23337", A),
        (JUICE_SHOP, "pkg:npm/minimist@0.2.3", "CVE-2021-44906", A),
        (JUICE_SHOP, "pkg:npm/moment@2.0.0", "CVE-2022-24785", A),
        (JUICE_SHOP, "pkg:npm/semver@5.7.1", "CVE-2022-25883", A),
        (JUICE_SHOP, "pkg:npm/semver@6.3.0", "CVE-2022-25883", A),
        (JUICE_SHOP, "pkg:npm/semver@7.3.8", "CVE-2022-25883", A),
        (JUICE_SHOP, "pkg:npm/vm2@3.9.11", "CVE-2023-37903", A),
        (
            KUBECTL,
            "pkg:golang/golang.org/x/net@v0.13.0",
            "CVE-2023-39325",
            A,
        ),
        (
            KUBECTL,
            "pkg:golang/google.golang.org/protobuf@v1.30.0",
            "CVE-2024-24786",
            A,
        ),
        (EXAMPLE11, "pkg:cargo/hyper@0.14", "CVE-2021-32715", U),
        (EXAMPLE11, "pkg:cargo/tokio@1.19.2", "CVE-2023-22466", A),
    ]);
    let world = World::corpus();
    let mut got = BTreeSet::new();
    for rel in ALL_SBOMS {
        for finding in world.sbom(rel) {
            let component = finding
                .component
                .split(['?', '#'])
                .next()
                .unwrap()
                .to_owned();
            got.insert((
                rel,
                component,
                finding.vulnerability.clone(),
                finding.status,
            ));
        }
    }
    let got: BTreeSet<(&str, &str, &str, Status)> = got
        .iter()
        .map(|(r, c, v, s)| (*r, c.as_str(), v.as_str(), *s))
        .collect();
    assert_eq!(got, expected);
}

const QUARKUS: &str = "cyclonedx/sbom/guac-quarkus-deps.cdx-1.4.json";

const ALL_SBOMS: [&str; 14] = [
    PIPENV,
    POETRY,
    REQUIREMENTS,
    "cyclonedx/sbom/cdx-spec-valid-bom-1.6.json",
    "cyclonedx/sbom/guac-alpine-3.16.2.cdx-1.4.json",
    BIG_MONGO,
    "cyclonedx/sbom/guac-distroless-static.cdx-1.4.json",
    QUARKUS,
    JUICE_SHOP,
    "cyclonedx/sbom/laravel-7.12.0.cdx-1.4.json",
    KUBECTL,
    "spdx/spdx-examples-04-SBOMwSecurity.spdx.json",
    "spdx/spdx-examples-ACME-v2.3.spdx.json",
    EXAMPLE11,
];
