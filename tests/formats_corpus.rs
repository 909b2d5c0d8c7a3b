//! Every document of the shared third-party corpus, through `formats::classify` and
//! `formats::parse`: the kind, format and id each one must get, what its content must say,
//! and the specific error each deliberately broken file must get.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use stella_scheduler::formats::{self, Classified, FormatError, ParsedDocument, Problem};
use stella_scheduler::model::{
    Advisory, DocumentFormat, DocumentKind, RangeEvent, RangeKind, Sbom, VexDocument, VexStatus,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");

/// The folders of the corpus that hold documents for this room (DSSE envelopes do not).
const FOLDERS: [&str; 5] = ["osv", "openvex", "cyclonedx", "spdx", "csaf"];

/// Files that are in those folders but are not documents: the JSON schemas.
const SCHEMAS: [&str; 2] = [
    "osv/schema/osv-schema.json",
    "openvex/openvex_json_schema.json",
];

use DocumentFormat::{Csaf, Cyclonedx, Openvex, Osv, Spdx};
use DocumentKind::{Advisory as Adv, Sbom as Sb, Vex};

/// OSV advisories: file and the id `classify` must give.
const ADVISORIES: &[(&str, &str)] = &[
    ("osv/ghsa/GHSA-34jh-p97f-mpxf.json", "GHSA-34jh-p97f-mpxf"),
    ("osv/ghsa/GHSA-35c4-f3rq-f9g3.json", "GHSA-35c4-f3rq-f9g3"),
    ("osv/ghsa/GHSA-35jh-r3h4-6jhm.json", "GHSA-35jh-r3h4-6jhm"),
    ("osv/ghsa/GHSA-69ch-w2m2-3vjp.json", "GHSA-69ch-w2m2-3vjp"),
    ("osv/ghsa/GHSA-7rrj-xr53-82p7.json", "GHSA-7rrj-xr53-82p7"),
    ("osv/ghsa/GHSA-8hfj-j24r-96c4.json", "GHSA-8hfj-j24r-96c4"),
    ("osv/ghsa/GHSA-9wx4-h78v-vm56.json", "GHSA-9wx4-h78v-vm56"),
    ("osv/ghsa/GHSA-c2qf-rxjj-qqgw.json", "GHSA-c2qf-rxjj-qqgw"),
    ("osv/ghsa/GHSA-c7hr-j4mj-j2w6.json", "GHSA-c7hr-j4mj-j2w6"),
    ("osv/ghsa/GHSA-g644-9gfx-q4q4.json", "GHSA-g644-9gfx-q4q4"),
    ("osv/ghsa/GHSA-jfh8-c2jp-5v3q.json", "GHSA-jfh8-c2jp-5v3q"),
    ("osv/ghsa/GHSA-xpw8-rcwv-8f8p.json", "GHSA-xpw8-rcwv-8f8p"),
    ("osv/ghsa/GHSA-xvch-5gv4-984h.json", "GHSA-xvch-5gv4-984h"),
    ("osv/go/GO-2021-0053.json", "GO-2021-0053"),
    ("osv/go/GO-2022-0617.json", "GO-2022-0617"),
    ("osv/go/GO-2022-1059.json", "GO-2022-1059"),
    ("osv/go/GO-2023-1988.json", "GO-2023-1988"),
    ("osv/go/GO-2023-2102.json", "GO-2023-2102"),
    ("osv/go/GO-2023-2402.json", "GO-2023-2402"),
    ("osv/go/GO-2024-2442.json", "GO-2024-2442"),
    ("osv/go/GO-2024-2611.json", "GO-2024-2611"),
    ("osv/osv-dev-testdata/CVE-2022-27449.json", "CVE-2022-27449"),
    ("osv/osv-dev-testdata/DSA-3029-1.json", "DSA-3029-1"),
    (
        "osv/osv-dev-testdata/GHSA-838r-hvwh-24h8.json",
        "GHSA-838r-hvwh-24h8",
    ),
    (
        "osv/osv-dev-testdata/PYSEC-2021-63-withdrawn.json",
        "PYSEC-2021-63",
    ),
    (
        "osv/osv-dev-testdata/SYNTHETIC-OSV-128-limit.yaml",
        "OSV-128",
    ),
    (
        "osv/osv-dev-testdata/UBUNTU-CVE-2025-38094.json",
        "UBUNTU-CVE-2025-38094",
    ),
    (
        "osv/osv-schema-testdata/CVE-2018-5407.json",
        "CVE-2018-5407",
    ),
    (
        "osv/osv-schema-testdata/CVE-2023-41045.json",
        "CVE-2023-41045",
    ),
    (
        "osv/osv-schema-testdata/GHSA-9v2f-6vcg-3hgv.json",
        "GHSA-9v2f-6vcg-3hgv",
    ),
    ("osv/osv-schema-testdata/GO-2020-0001.json", "GO-2020-0001"),
    ("osv/osv-schema-testdata/GO-2024-2963.json", "GO-2024-2963"),
    (
        "osv/osv-schema-testdata/MAL-2024-10238.json",
        "MAL-2024-10238",
    ),
    (
        "osv/osv-schema-testdata/PYSEC-2023-74.json",
        "PYSEC-2023-74",
    ),
    (
        "osv/osv-schema-testdata/RHSA-2022_0216.json",
        "RHSA-2022:0216",
    ),
    ("osv/pypa/PYSEC-2021-13.yaml", "PYSEC-2021-13"),
    ("osv/pypa/PYSEC-2022-42969.yaml", "PYSEC-2022-42969"),
    ("osv/pypa/PYSEC-2022-43059.yaml", "PYSEC-2022-43059"),
    ("osv/pypa/PYSEC-2023-192.yaml", "PYSEC-2023-192"),
    ("osv/pypa/PYSEC-2023-74.yaml", "PYSEC-2023-74"),
    ("osv/pypa/PYSEC-2024-60.yaml", "PYSEC-2024-60"),
    ("osv/rustsec/RUSTSEC-2020-0071.json", "RUSTSEC-2020-0071"),
    ("osv/rustsec/RUSTSEC-2021-0078.json", "RUSTSEC-2021-0078"),
    ("osv/rustsec/RUSTSEC-2021-0124.json", "RUSTSEC-2021-0124"),
    ("osv/rustsec/RUSTSEC-2021-0139.json", "RUSTSEC-2021-0139"),
    ("osv/rustsec/RUSTSEC-2023-0001.json", "RUSTSEC-2023-0001"),
    ("osv/rustsec/RUSTSEC-2023-0002.json", "RUSTSEC-2023-0002"),
];

/// OpenVEX documents: file and the id `classify` must give.
const OPENVEX: &[(&str, &str)] = &[
    (
        "openvex/go-vex-v0.2.0.json",
        concat!(
            "https://openvex.dev/docs/public/vex-",
            "d4e9020b6d0d26f131d535e055902dd6ccf3e2088bce3079a8cd3588a4b14c78"
        ),
    ),
    (
        "openvex/guac-open-vex-affected.json",
        "merged-vex-67124ea942ef30e1f42f3f2bf405fbbc4f5a56e6e87684fc5cd957212fa3e025",
    ),
    (
        "openvex/guac-open-vex-not-affected.json",
        concat!(
            "https://openvex.dev/docs/public/vex-",
            "a06f9de1ad1b1e555a33b2d0c1e7e6ecc4dc1800ff457c61ea09d8e97670d2a3"
        ),
    ),
    (
        "openvex/spec-example-fixed.json",
        "https://openvex.dev/docs/example/vex-9fb3463de1b57",
    ),
    (
        "openvex/spec-example-under_investigation.json",
        "https://openvex.dev/docs/example/vex-9fb3463de1b57",
    ),
    (
        "openvex/vexctl-demo.vex.json",
        concat!(
            "https://openvex.dev/docs/public/vex-",
            "d7653e1c3ccc092c02e2cfd2b12549be29264ff28f9f704f599613b007584dbe"
        ),
    ),
    (
        "openvex/vexctl-document1.vex.json",
        concat!(
            "https://openvex.dev/docs/public/vex-",
            "0f3be8817faafa24e4bfb3d17eaf619efb1fe54923b9c42c57b156a936b91431"
        ),
    ),
    (
        "openvex/vexctl-document2.vex.json",
        concat!(
            "https://openvex.dev/docs/public/vex-",
            "3cd938c9a706eba0915883640116cfe813f7d59150cf758b8c869b4926a7cf11"
        ),
    ),
    (
        "openvex/vexctl-pre-v0.2-test.vex.json",
        concat!(
            "https://openvex.dev/docs/public/vex-",
            "6e8e4d52daffc0b12212095c2fd5d0d5265a551ba0029e2a20fc35f58537730d"
        ),
    ),
    (
        "openvex/vexctl-sample-2vulns.openvex.json",
        concat!(
            "https://openvex.dev/docs/public/vex-",
            "cbce60e4c921512c381e3234db5f9bd19704658a1b670e196d42a96f3dd80cd3"
        ),
    ),
    (
        "openvex/vexctl-sample-history.openvex.json",
        concat!(
            "https://openvex.dev/docs/public/vex-",
            "cbce60e4c921512c381e3234db5f9bd19704658a1b670e196d42a96f3dd80cd3"
        ),
    ),
];

/// CycloneDX SBOMs (one sits among the VEX examples): file and the id `classify` must give.
const CYCLONEDX_SBOMS: &[(&str, &str)] = &[
    (
        "cyclonedx/sbom/cdx-python-pipenv-with-urls.cdx-1.6.json",
        "with-urls@0.1.0",
    ),
    (
        "cyclonedx/sbom/cdx-python-poetry-issue702.cdx-1.6.json",
        "regression-issue702@0.1.0",
    ),
    (
        "cyclonedx/sbom/cdx-python-requirements-with-comments.cdx-1.6.json",
        "testing-requirements-txt@0.1.0",
    ),
    (
        "cyclonedx/sbom/cdx-spec-valid-bom-1.6.json",
        "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
    ),
    (
        "cyclonedx/sbom/guac-alpine-3.16.2.cdx-1.4.json",
        "sha256:cbaa390ec61abd889dfa5146a411c11717c19ef9e5e18458dbdc06439076ffe7",
    ),
    (
        "cyclonedx/sbom/guac-big-mongo.cdx-1.4.json",
        "sha256:fd73df9425bd48f25d7e913422af8124a6eadbd5d99f67bbd4a8b121f59b1187",
    ),
    (
        "cyclonedx/sbom/guac-distroless-static.cdx-1.4.json",
        "sha256:6ad5b696af3ca05a048bd29bf0f623040462638cb0b29c8d702cbb2805687388",
    ),
    (
        "cyclonedx/sbom/guac-quarkus-deps.cdx-1.4.json",
        "urn:uuid:0697952e-9848-4785-95bf-f81ff9731682",
    ),
    (
        "cyclonedx/sbom/juice-shop-14.1.1.flat.cdx-1.4.json",
        "pkg:npm/juice-shop@14.1.1?vcs_url=git%2Bhttps%3A//github.com/juice-shop/juice-shop.git",
    ),
    (
        "cyclonedx/sbom/laravel-7.12.0.cdx-1.4.json",
        "pkg:composer/cyclonedx/cyclonedx-php-composer-demo@dev-master",
    ),
    (
        "cyclonedx/vex/bom-examples-VEX-bom.cdx-1.3.json",
        "urn:uuid:5f0f0da9-c03d-47d8-b38d-009e6df67094",
    ),
];

/// CycloneDX VEX documents that have a serial number: file and the id `classify` must give.
const CYCLONEDX_VEX: &[(&str, &str)] = &[
    (
        "cyclonedx/vex/cdx-spec-valid-vulnerability-1.6.json",
        "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
    ),
    (
        "cyclonedx/vex/guac-cyclonedx-vex-false-positive.cdx-1.6.json",
        "urn:uuid:4e671687-395b-41f5-a30f-a58921a69b80",
    ),
];

/// SPDX SBOMs: file and the id `classify` must give.
const SPDX: &[(&str, &str)] = &[
    (
        "spdx/guac-kubectl-v1.28.1-amd64.spdx.json",
        "sha256:ee398c1e436e28bb57d16e3fed395657e877890295483bf21c016acbab6b7fd1",
    ),
    (
        "spdx/spdx-examples-04-SBOMwSecurity.spdx.json",
        "http://spdx.org/spdxdocs/tools-java/v1.1.5-444504E0-4F89-41D3-9A0C-0305E82C3301",
    ),
    (
        "spdx/spdx-examples-ACME-v2.3.spdx.json",
        "http://spdx.org/spdxdocs/spdx-example-4ca64a7e-2f6f-41bf-8b18-16da59d67824",
    ),
    (
        "spdx/spdx-examples-example11.spdx.json",
        "sha256:bd2195f2551328fa3ad870726f5591fd82fdc5dd33a359be79d356dbecd5868b",
    ),
];

/// CSAF VEX documents: file and the id `classify` must give.
const CSAF: &[(&str, &str)] = &[
    (
        "csaf/guac-redhat-rhsa-openssl-csaf-vex.json",
        "RHSA-2023:1441",
    ),
    (
        "csaf/oasis-2022-evd-uc-03-ms-001.json",
        "2022-EVD-UC-03-MS-001",
    ),
    ("csaf/oasis-2022-evd-uc-08-001.json", "2022-EVD-UC-08-001"),
    ("csaf/oasis-sec-vex-2022-0001.json", "SEC-VEX-2022-0001"),
];

/// Every document that must be classified, with its kind, format and id.
fn classified() -> Vec<(&'static str, DocumentKind, DocumentFormat, &'static str)> {
    let tables = [
        (Adv, Osv, ADVISORIES),
        (Vex, Openvex, OPENVEX),
        (Sb, Cyclonedx, CYCLONEDX_SBOMS),
        (Vex, Cyclonedx, CYCLONEDX_VEX),
        (Sb, Spdx, SPDX),
        (Vex, Csaf, CSAF),
    ];
    let rows = tables.into_iter().flat_map(|(kind, format, table)| {
        table
            .iter()
            .map(move |&(file, id)| (file, kind, format, id))
    });
    rows.collect()
}

/// CycloneDX VEX documents without `serialNumber`: named by their content digest.
const VEX_WITHOUT_ID: [&str; 2] = [
    "cyclonedx/vex/bom-examples-CISA-case1-vex-affected.cdx-1.4.json",
    "cyclonedx/vex/bom-examples-VEX-vex.cdx-1.4.json",
];

const INVALID_OSV: &str = "osv/osv-schema-testdata/INVALID-nointroduced-CVE-2023-41045.json";
const INVALID_OPENVEX: &str = "openvex/INVALID-spec-example-spring-boot-log4j.json";

fn bytes(file: &str) -> Vec<u8> {
    let path = Path::new(CORPUS).join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn classify(file: &str) -> Result<Classified, FormatError> {
    formats::classify(file, &bytes(file))
}

fn parse(file: &str, kind: DocumentKind, format: DocumentFormat) -> ParsedDocument {
    formats::parse(file, kind, format, &bytes(file)).unwrap_or_else(|e| panic!("{e}"))
}

fn advisory(file: &str) -> Advisory {
    match parse(file, Adv, Osv) {
        ParsedDocument::Advisory(advisory) => advisory,
        other => panic!("{file}: not an advisory: {other:?}"),
    }
}

fn vex(file: &str, format: DocumentFormat) -> VexDocument {
    match parse(file, Vex, format) {
        ParsedDocument::Vex(vex) => vex,
        other => panic!("{file}: not VEX: {other:?}"),
    }
}

fn sbom(file: &str, format: DocumentFormat) -> Sbom {
    match parse(file, Sb, format) {
        ParsedDocument::Sbom(sbom) => sbom,
        other => panic!("{file}: not an SBOM: {other:?}"),
    }
}

/// Every data file under the folders this room reads, relative to the corpus.
fn data_files() -> Vec<String> {
    let mut files = Vec::new();
    for folder in FOLDERS {
        collect(&Path::new(CORPUS).join(folder), &mut files);
    }
    let corpus = Path::new(CORPUS);
    let relative = files
        .iter()
        .map(|f| f.strip_prefix(corpus).unwrap().to_str().unwrap().to_owned());
    let mut relative: Vec<String> = relative.filter(|f| !f.ends_with("SOURCES.md")).collect();
    relative.retain(|f| !SCHEMAS.contains(&f.as_str()));
    relative.sort();
    relative
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

#[test]
fn the_tables_cover_every_data_file_of_the_corpus() {
    let mut listed: Vec<String> = classified().iter().map(|(f, ..)| (*f).to_owned()).collect();
    listed.extend(VEX_WITHOUT_ID.iter().map(|f| (*f).to_owned()));
    listed.extend([INVALID_OSV.to_owned(), INVALID_OPENVEX.to_owned()]);
    listed.sort();
    assert_eq!(data_files(), listed);
    assert_eq!(
        listed.len(),
        48 + 12 + 15 + 4 + 4,
        "OSV, OpenVEX, CycloneDX, SPDX, CSAF"
    );
}

#[test]
fn every_document_gets_its_kind_format_and_id() {
    for (file, kind, format, id) in classified() {
        let classified = classify(file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (classified.kind, classified.format),
            (kind, format),
            "{file}"
        );
        assert_eq!(classified.id, id, "{file}");
        assert_eq!(classified.document.kind(), kind, "{file}");
    }
}

#[test]
fn parsing_as_declared_gives_what_classify_gives() {
    for (file, kind, format, _) in classified() {
        let classified = classify(file).unwrap();
        assert_eq!(parse(file, kind, format), classified.document, "{file}");
    }
}

#[test]
fn every_model_survives_a_json_round_trip() {
    for (file, ..) in classified() {
        let document = classify(file).unwrap().document;
        let json = serde_json::to_string(&document).unwrap();
        let back: ParsedDocument = serde_json::from_str(&json).unwrap();
        assert_eq!(back, document, "{file}");
    }
}

#[test]
fn a_declaration_that_contradicts_the_content_is_refused() {
    let file = "cyclonedx/vex/cdx-spec-valid-vulnerability-1.6.json";
    let err = formats::parse(file, Sb, Cyclonedx, &bytes(file)).unwrap_err();
    assert!(
        matches!(err.problem, Problem::Mismatch { kind: Vex, .. }),
        "{err}"
    );
    let file = "osv/go/GO-2022-1059.json";
    let err = formats::parse(file, Vex, Csaf, &bytes(file)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{file}: declared as vex/csaf but the content is advisory/osv")
    );
    let err = formats::parse(file, Adv, Spdx, &bytes(file)).unwrap_err();
    assert!(matches!(err.problem, Problem::NotAllowed { .. }), "{err}");
}

// ---- the deliberately broken files ----

#[test]
fn an_osv_range_without_introduced_is_refused_naming_the_range() {
    for err in [classify(INVALID_OSV).unwrap_err(), {
        formats::parse(INVALID_OSV, Adv, Osv, &bytes(INVALID_OSV)).unwrap_err()
    }] {
        let Problem::NoIntroduced { path } = &err.problem else {
            panic!("{err}")
        };
        assert_eq!(path, "affected[0].ranges[0]");
        assert_eq!(err.document, INVALID_OSV);
        let message = err.to_string();
        assert!(
            message.contains("`affected[0].ranges[0]`: range has no `introduced` event"),
            "{message}"
        );
    }
}

#[test]
fn the_openvex_spec_example_that_is_not_json_is_refused_with_line_and_column() {
    let err = classify(INVALID_OPENVEX).unwrap_err();
    let Problem::Json(source) = &err.problem else {
        panic!("{err}")
    };
    // Line 22 ends `"purl": "…",` and line 23 closes the object: a trailing comma.
    assert_eq!((source.line(), source.column()), (23, 11));
    assert_eq!(
        err.to_string(),
        format!("{INVALID_OPENVEX}: not valid JSON")
    );
    let chained = std::error::Error::source(&err).unwrap().to_string();
    assert!(chained.contains("line 23 column 11"), "{chained}");
}

#[test]
fn cyclonedx_vex_without_serial_number_is_named_by_its_content_digest() {
    use sha2::Digest as _;
    for file in VEX_WITHOUT_ID {
        let found = classify(file).unwrap();
        let digest = hex::encode(sha2::Sha256::digest(bytes(file)));
        assert_eq!(found.id, format!("sha256:{digest}"), "{file}");
        assert_eq!((found.kind, found.format), (Vex, Cyclonedx), "{file}");
        assert!(vex(file, Cyclonedx).id.is_none(), "{file}");
    }
}

// ---- OSV content ----

#[test]
fn semver_advisory_has_its_three_ranges() {
    let a = advisory("osv/ghsa/GHSA-c2qf-rxjj-qqgw.json");
    let ranges: Vec<_> = a.affected.iter().flat_map(|x| &x.ranges).collect();
    assert_eq!(ranges.len(), 3);
    let bounds: Vec<(&str, &str)> = ranges
        .iter()
        .map(|r| (r.events[0].version(), r.events[1].version()))
        .collect();
    assert_eq!(
        bounds,
        [("7.0.0", "7.5.2"), ("6.0.0", "6.3.1"), ("0", "5.7.2")]
    );
    assert!(ranges.iter().all(|r| r.kind == RangeKind::Ecosystem));
    assert_eq!(a.database_severity.as_deref(), Some("moderate"));
    assert_eq!(a.severity[0].kind, "CVSS_V3");
}

#[test]
fn rustsec_and_ghsa_name_the_same_flaw() {
    let rustsec = advisory("osv/rustsec/RUSTSEC-2023-0001.json");
    assert!(
        rustsec.aliases.iter().any(|a| a == "GHSA-7rrj-xr53-82p7"),
        "{:?}",
        rustsec.aliases
    );
    assert!(rustsec.aliases.iter().any(|a| a == "CVE-2023-22466"));
    let ghsa = advisory("osv/ghsa/GHSA-7rrj-xr53-82p7.json");
    assert!(
        ghsa.aliases.iter().any(|a| a == "CVE-2023-22466"),
        "{:?}",
        ghsa.aliases
    );
    assert_eq!(rustsec.affected[0].ranges[0].kind, RangeKind::Semver);
}

#[test]
fn pysec_2023_74_reads_the_same_from_yaml_and_json() {
    let yaml = advisory("osv/pypa/PYSEC-2023-74.yaml");
    let json = advisory("osv/osv-schema-testdata/PYSEC-2023-74.json");
    assert_eq!(yaml, json);
    let kinds: Vec<RangeKind> = yaml.affected[0].ranges.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [RangeKind::Git, RangeKind::Ecosystem]);
    assert_eq!(
        yaml.affected[0].ranges[0].repo.as_deref(),
        Some("https://github.com/psf/requests")
    );
    assert!(
        yaml.affected[0].versions.iter().any(|v| v == "2.10.0"),
        "2.10.0 must stay a string"
    );
    assert_eq!(
        yaml.affected[0].package.as_ref().unwrap().purl.as_deref(),
        Some("pkg:pypi/requests")
    );
}

#[test]
fn withdrawn_advisories_say_so_and_others_do_not() {
    let withdrawn = [
        "osv/ghsa/GHSA-35c4-f3rq-f9g3.json",
        "osv/rustsec/RUSTSEC-2023-0002.json",
        "osv/pypa/PYSEC-2021-13.yaml",
        "osv/pypa/PYSEC-2022-43059.yaml",
        "osv/go/GO-2022-0617.json",
        "osv/go/GO-2024-2442.json",
        "osv/osv-dev-testdata/PYSEC-2021-63-withdrawn.json",
    ];
    for file in withdrawn {
        assert!(advisory(file).withdrawn.is_some(), "{file} is withdrawn");
    }
    assert_eq!(
        advisory("osv/ghsa/GHSA-c2qf-rxjj-qqgw.json").withdrawn,
        None
    );
}

#[test]
fn last_affected_and_limit_events_are_kept() {
    let vm2 = advisory("osv/ghsa/GHSA-g644-9gfx-q4q4.json");
    let events = &vm2.affected[0].ranges[0].events;
    assert!(
        events.contains(&RangeEvent::LastAffected("3.9.19".to_owned())),
        "{events:?}"
    );
    let synthetic = advisory("osv/osv-dev-testdata/SYNTHETIC-OSV-128-limit.yaml");
    let limits: Vec<(RangeKind, &str)> = synthetic.affected[0]
        .ranges
        .iter()
        .flat_map(|r| {
            r.events.iter().filter_map(move |e| match e {
                RangeEvent::Limit(v) => Some((r.kind, v.as_str())),
                _ => None,
            })
        })
        .collect();
    assert_eq!(
        limits,
        [
            (RangeKind::Git, "8d8242f545e9cec3e6d0d2e3f5bde8be1c659735"),
            (RangeKind::Ecosystem, "1.14.2"),
        ]
    );
}

#[test]
fn events_out_of_version_order_stay_in_document_order() {
    let a = advisory("osv/pypa/PYSEC-2023-192.yaml");
    let events: Vec<String> = a.affected[0].ranges[0]
        .events
        .iter()
        .map(|e| format!("{e:?}"))
        .collect();
    let raw: serde_json::Value =
        serde_norway::from_slice(&bytes("osv/pypa/PYSEC-2023-192.yaml")).unwrap();
    let raw_events = raw["affected"][0]["ranges"][0]["events"]
        .as_array()
        .unwrap();
    assert_eq!(events.len(), raw_events.len());
    for (event, raw) in a.affected[0].ranges[0].events.iter().zip(raw_events) {
        let (key, value) = raw.as_object().unwrap().iter().next().unwrap();
        assert_eq!(
            serde_json::to_value(event).unwrap(),
            serde_json::json!({ key: value })
        );
    }
}

#[test]
fn other_osv_edge_cases_read_as_published() {
    let ubuntu = advisory("osv/osv-dev-testdata/UBUNTU-CVE-2025-38094.json");
    assert!(ubuntu.aliases.is_empty());
    assert_eq!(ubuntu.upstream, ["CVE-2025-38094"]);
    assert_eq!(
        (
            ubuntu.severity[0].kind.as_str(),
            ubuntu.severity[0].score.as_str()
        ),
        ("Ubuntu", "medium")
    );
    assert!(!ubuntu.affected[0].versions.is_empty());

    let two_ecosystems = advisory("osv/ghsa/GHSA-8hfj-j24r-96c4.json");
    let ecosystems: Vec<&str> = two_ecosystems
        .affected
        .iter()
        .map(|a| a.package.as_ref().unwrap().ecosystem.as_str())
        .collect();
    assert_eq!(ecosystems, ["npm", "NuGet"]);

    let no_package = advisory("osv/osv-schema-testdata/CVE-2023-41045.json");
    assert!(no_package.affected[0].package.is_none());
    assert_eq!(no_package.affected[0].ranges[0].kind, RangeKind::Git);

    assert!(advisory("osv/ghsa/GHSA-xpw8-rcwv-8f8p.json")
        .aliases
        .is_empty());
    let lodash = advisory("osv/ghsa/GHSA-35jh-r3h4-6jhm.json");
    let specific = lodash.affected[0].ecosystem_specific.as_ref().unwrap();
    assert!(specific.get("affected_functions").is_some(), "{specific}");
}

// ---- OpenVEX content ----

#[test]
fn vexctl_documents_one_and_two_supersede_in_time() {
    let first = vex("openvex/vexctl-document1.vex.json", Openvex);
    let second = vex("openvex/vexctl-document2.vex.json", Openvex);
    let (a, b) = (&first.statements[0], &second.statements[0]);
    assert_eq!(
        (a.status, b.status),
        (VexStatus::UnderInvestigation, VexStatus::Fixed)
    );
    assert_eq!(a.vulnerability.name, b.vulnerability.name);
    assert_eq!(
        a.products[0].purl.as_deref(),
        Some("pkg:apk/wolfi/bash@1.0.0")
    );
    assert_eq!(a.products, b.products);
    assert!(a.timestamp.unwrap() < b.timestamp.unwrap());
}

#[test]
fn the_pre_v02_shape_reads_into_the_same_model() {
    let doc = vex("openvex/vexctl-pre-v0.2-test.vex.json", Openvex);
    let summary: Vec<(&str, VexStatus, Option<&str>)> = doc
        .statements
        .iter()
        .map(|s| {
            (
                s.vulnerability.name.as_str(),
                s.status,
                s.justification.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "CVE-2009-4487",
                VexStatus::NotAffected,
                Some("vulnerable_code_not_in_execute_path")
            ),
            ("CVE-2021-44228", VexStatus::Affected, None),
        ]
    );
    assert!(doc
        .statements
        .iter()
        .all(|s| s.products.is_empty() && s.timestamp == doc.timestamp));
}

#[test]
fn openvex_products_keep_their_subcomponents_and_statements() {
    let doc = vex("openvex/go-vex-v0.2.0.json", Openvex);
    assert_eq!(doc.statements.len(), 5);
    let last = &doc.statements[4];
    assert_eq!(
        (last.status, last.justification.as_deref()),
        (VexStatus::NotAffected, Some("vulnerable_code_not_present"))
    );
    assert_eq!(
        last.impact_statement.as_deref(),
        Some("affected functions were removed before packaging")
    );
    let subs: Vec<_> = last.products[0]
        .subcomponents
        .iter()
        .map(|s| s.purl.as_deref().unwrap())
        .collect();
    assert_eq!(
        subs,
        [
            "pkg:apk/alpine/libssl3@3.0.8-r3",
            "pkg:apk/alpine/libcrypto3@3.0.8-r3"
        ]
    );

    let aliased = vex("openvex/vexctl-sample-2vulns.openvex.json", Openvex);
    assert_eq!(
        aliased.statements[0].vulnerability.aliases,
        ["SNYK-DEBIAN12-LIBDE265-3361563"]
    );
    let own = aliased.statements[0].timestamp.unwrap();
    let inherited = aliased.statements[1].timestamp.unwrap();
    assert_eq!(
        (own.to_string(), Some(inherited)),
        (
            "2023-08-16T01:55:22.076684217Z".to_owned(),
            aliased.timestamp
        )
    );

    let empty_context = vex("openvex/guac-open-vex-affected.json", Openvex);
    let statement = &empty_context.statements[0];
    assert_eq!(
        statement.action_statement.as_deref(),
        Some("This is a test action statement")
    );
}

// ---- CycloneDX content ----

#[test]
fn juice_shop_lists_the_vulnerable_npm_packages() {
    let sbom = sbom(
        "cyclonedx/sbom/juice-shop-14.1.1.flat.cdx-1.4.json",
        Cyclonedx,
    );
    assert_eq!(sbom.components.len(), 1115);
    let purls: Vec<&str> = sbom
        .components
        .iter()
        .filter_map(|c| c.purl.as_deref())
        .collect();
    for purl in [
        "pkg:npm/lodash@2.4.2",
        "pkg:npm/vm2@3.9.11",
        "pkg:npm/semver@7.3.8",
        "pkg:npm/moment@2.0.0",
    ] {
        assert!(purls.contains(&purl), "{purl} missing");
    }
    assert_eq!(sbom.subject, None);
    assert_eq!(sbom.root.unwrap().name, "juice-shop");
}

#[test]
fn container_sboms_name_their_image_by_digest() {
    let alpine = classify("cyclonedx/sbom/guac-alpine-3.16.2.cdx-1.4.json").unwrap();
    assert_eq!(
        alpine.subject.unwrap().name,
        "docker.io/library/alpine:latest"
    );
    let mongo = classify("cyclonedx/sbom/guac-big-mongo.cdx-1.4.json").unwrap();
    assert_eq!(
        mongo.subject.as_ref().unwrap().name,
        "docker.io/library/mongo"
    );
    let ParsedDocument::Sbom(mongo) = mongo.document else {
        panic!("not an SBOM")
    };
    assert!(mongo
        .components
        .iter()
        .any(|c| c.purl.as_deref() == Some("pkg:golang/golang.org/x/text@v0.3.7")));
}

#[test]
fn maven_and_python_sboms_keep_versions_and_purls() {
    let quarkus = sbom("cyclonedx/sbom/guac-quarkus-deps.cdx-1.4.json", Cyclonedx);
    let netty = quarkus
        .components
        .iter()
        .find(|c| c.name == "netty-codec-http2")
        .unwrap();
    assert_eq!(
        (netty.group.as_deref(), netty.version.as_deref()),
        (Some("io.netty"), Some("4.1.82.Final"))
    );
    assert!(
        netty.hashes.iter().any(|h| h.alg == "sha256"),
        "{:?}",
        netty.hashes
    );

    let requirements = sbom(
        "cyclonedx/sbom/cdx-python-requirements-with-comments.cdx-1.6.json",
        Cyclonedx,
    );
    assert!(requirements
        .components
        .iter()
        .any(|c| c.purl.as_deref() == Some("pkg:pypi/requests@2.31.0")));
    let pipenv = sbom(
        "cyclonedx/sbom/cdx-python-pipenv-with-urls.cdx-1.6.json",
        Cyclonedx,
    );
    let requests = pipenv
        .components
        .iter()
        .find(|c| c.name == "requests")
        .unwrap();
    assert!(requests
        .purl
        .as_deref()
        .unwrap()
        .starts_with("pkg:pypi/requests?vcs_url="));
}

#[test]
fn cyclonedx_vex_maps_states_and_keeps_the_analysis() {
    let jackson = vex("cyclonedx/vex/bom-examples-VEX-vex.cdx-1.4.json", Cyclonedx);
    let s = &jackson.statements[0];
    assert_eq!(
        (s.vulnerability.name.as_str(), s.status),
        ("CVE-2020-25649", VexStatus::NotAffected)
    );
    assert_eq!(
        (s.original_status.as_str(), s.justification.as_deref()),
        ("not_affected", Some("code_not_reachable"))
    );
    assert_eq!(s.responses, ["will_not_fix", "update"]);
    assert_eq!(s.ratings.len(), 3);
    assert_eq!(s.ratings[0].score.as_ref().unwrap().as_f64(), Some(7.5));
    assert!(s.products[0].id.starts_with("urn:cdx:3e671687-"));
    assert_eq!(
        s.products[0].purl, None,
        "the BOM-link points into another BOM"
    );
    assert_eq!(s.timestamp.unwrap().to_string(), "2021-10-26T00:00:00Z");

    let cisa = vex(
        "cyclonedx/vex/bom-examples-CISA-case1-vex-affected.cdx-1.4.json",
        Cyclonedx,
    );
    let s = &cisa.statements[0];
    assert_eq!(
        (s.status, s.original_status.as_str()),
        (VexStatus::Affected, "exploitable")
    );
    assert_eq!(
        s.products[0].name.as_deref(),
        Some("DEF"),
        "product-DEF is metadata.component"
    );
}

#[test]
fn cyclonedx_vex_versions_and_self_links_resolve() {
    let spec = vex(
        "cyclonedx/vex/cdx-spec-valid-vulnerability-1.6.json",
        Cyclonedx,
    );
    let product = &spec.statements[0].products[0];
    assert_eq!(
        product.purl.as_deref(),
        Some("pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.4")
    );
    let ranges: Vec<_> = product
        .versions
        .iter()
        .map(|v| v.range.as_deref().unwrap())
        .collect();
    assert_eq!(
        ranges,
        [
            "vers:semver/<2.6.7.5",
            "vers:semver/2.7.0|<2.8.11.1",
            "vers:semver/2.9.0|<2.9.5"
        ]
    );
    assert_eq!(spec.statements[0].vulnerability.aliases, ["CVE-2018-7489"]);

    let fp = vex(
        "cyclonedx/vex/guac-cyclonedx-vex-false-positive.cdx-1.6.json",
        Cyclonedx,
    );
    let s = &fp.statements[0];
    assert_eq!(
        (s.status, s.original_status.as_str()),
        (VexStatus::NotAffected, "false_positive")
    );
    assert_eq!(s.products[0].name.as_deref(), Some("test-app-2"));
    assert_eq!(s.products[0].versions[0].status, "unaffected");
    assert_eq!(
        fp.statements[1].products[0].name, None,
        "no component has that bom-ref"
    );
}

// ---- SPDX content ----

#[test]
fn kubectl_spdx_lists_x_net_and_names_its_image() {
    let file = "spdx/guac-kubectl-v1.28.1-amd64.spdx.json";
    let classified = classify(file).unwrap();
    let subject = classified.subject.unwrap();
    assert_eq!(
        subject.name,
        "k8supstream.azurecr.io/public/oss/kubernetes/kubectl:v1.28.1-linux-amd64"
    );
    let sbom = sbom(file, Spdx);
    let net = sbom
        .components
        .iter()
        .find(|c| c.name == "golang.org/x/net")
        .unwrap();
    assert_eq!(net.version.as_deref(), Some("v0.13.0"));
    assert_eq!(
        net.purl.as_deref(),
        Some("pkg:golang/golang.org/x/net@v0.13.0")
    );
    assert_eq!(
        sbom.components.len(),
        88,
        "89 packages less the described image"
    );
    assert_eq!(
        sbom.root.unwrap().bom_ref.as_deref(),
        Some("SPDXRef-DocumentRoot-Image-k8supstream.azurecr.io-public-oss-kubernetes-kubectl")
    );
}

#[test]
fn spdx_example11_lists_tokio_and_names_the_built_file() {
    let classified = classify("spdx/spdx-examples-example11.spdx.json").unwrap();
    assert_eq!(classified.subject.unwrap().name, "hello-server");
    let sbom = sbom("spdx/spdx-examples-example11.spdx.json", Spdx);
    let tokio = sbom.components.iter().find(|c| c.name == "tokio").unwrap();
    assert_eq!(
        (tokio.version.as_deref(), tokio.purl.as_deref()),
        (Some("1.19.2"), Some("pkg:cargo/tokio@1.19.2"))
    );
    assert_eq!(sbom.root.unwrap().name, "hello-server-src");
}

// ---- CSAF content ----

#[test]
fn secvisogram_is_known_not_affected_by_log4shell() {
    let doc = vex("csaf/oasis-sec-vex-2022-0001.json", Csaf);
    let s = doc
        .statements
        .iter()
        .find(|s| s.vulnerability.name == "CVE-2021-44228")
        .unwrap();
    assert_eq!(
        (s.status, s.original_status.as_str()),
        (VexStatus::NotAffected, "known_not_affected")
    );
    assert_eq!(s.justification.as_deref(), Some("component_not_present"));
    assert_eq!(
        s.impact_statement.as_deref(),
        Some("Secvisogram is written in JavaScript. No Java is included.")
    );
    assert_eq!(s.products[0].name.as_deref(), Some("Secvisogram <=1.14.0"));
    assert_eq!(s.timestamp.unwrap().to_string(), "2022-05-27T10:00:00Z");
    assert_eq!(doc.statements.len(), 3);
}

#[test]
fn csaf_categories_map_to_statuses_and_recommendations() {
    let doc = vex("csaf/oasis-2022-evd-uc-08-001.json", Csaf);
    let log4shell = |status| {
        let ids = doc
            .statements
            .iter()
            .filter(|s| s.vulnerability.name == "CVE-2021-44228" && s.status == status);
        ids.map(|s| s.products[0].id.as_str()).collect::<Vec<_>>()
    };
    assert_eq!(
        log4shell(VexStatus::Fixed),
        ["CSAFPID-0010", "CSAFPID-0011"]
    );
    assert_eq!(
        log4shell(VexStatus::Affected),
        [
            "CSAFPID-0002",
            "CSAFPID-0003",
            "CSAFPID-0004",
            "CSAFPID-0008"
        ]
    );
    assert_eq!(log4shell(VexStatus::NotAffected).len(), 5);
    let recommended: Vec<_> = doc
        .recommended
        .iter()
        .map(|r| (r.vulnerability.name.as_str(), r.product.id.as_str()))
        .collect();
    assert_eq!(recommended, [("CVE-2021-44228", "CSAFPID-0011")]);
    let fixable = doc
        .statements
        .iter()
        .find(|s| s.products[0].id == "CSAFPID-0002")
        .unwrap();
    assert_eq!(
        (
            fixable.responses.as_slice(),
            fixable.action_statement.as_deref()
        ),
        (
            ["vendor_fix".to_owned()].as_slice(),
            Some("Update to version 4.2 or later.")
        )
    );

    let uc03 = vex("csaf/oasis-2022-evd-uc-03-ms-001.json", Csaf);
    let investigating = uc03
        .statements
        .iter()
        .filter(|s| s.status == VexStatus::UnderInvestigation);
    assert_eq!(investigating.count(), 5);
}

#[test]
fn red_hat_relationships_resolve_to_rpm_purls() {
    let doc = vex("csaf/guac-redhat-rhsa-openssl-csaf-vex.json", Csaf);
    assert_eq!(doc.statements.len(), 36);
    let affected: Vec<_> = doc
        .statements
        .iter()
        .filter(|s| s.status == VexStatus::Affected)
        .collect();
    assert_eq!(affected.len(), 1);
    let product = &affected[0].products[0];
    assert_eq!(
        product.id,
        "BaseOS-8.6.0.Z.EUS:openssl-1:1.1.1k-7.el8_6.x86_64"
    );
    assert_eq!(
        product.cpe.as_deref(),
        Some("cpe:/o:redhat:rhel_eus:8.6::baseos")
    );
    let component = &product.subcomponents[0];
    assert_eq!(
        component.purl.as_deref(),
        Some("pkg:rpm/redhat/openssl@1.1.1k-7.el8_6?arch=x86_64&epoch=1")
    );
    assert_eq!(affected[0].vulnerability.name, "CVE-2023-0286");
    assert!(affected[0]
        .action_statement
        .as_deref()
        .unwrap()
        .starts_with("For details on how to apply"));
}
