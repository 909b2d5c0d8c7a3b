//! The sample bundles in bundles/ are rebuilt from ../shared/corpus with the demo key and
//! must come out byte-identical to the committed ones, and must verify.
//!
//! To regenerate them after a deliberate format change:
//! `STELLA_BLESS=1 cargo test --test samples`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_stella-scheduler");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn corpus(rel: &str) -> String {
    format!("{ROOT}/../shared/corpus/{rel}")
}

fn demo_key() -> String {
    format!("{ROOT}/bundles/demo-key/DEMO-ONLY-NOT-SECRET.key")
}

/// A synthetic image digest for a demo SBOM: SHA-256 of the text "demo image NAME".
fn demo_subject(file: &str, name: &str) -> String {
    use sha2::Digest as _;
    let digest = hex::encode(sha2::Sha256::digest(format!("demo image {name}")));
    format!("{file}={name}@sha256:{digest}")
}

struct Sample {
    file: &'static str,
    args: Vec<String>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn samples(osv_1_id: Option<&str>) -> Vec<Sample> {
    let mut osv1 = strings(&[
        "--feed",
        "demo-osv",
        "--sequence",
        "1",
        "--mode",
        "snapshot",
    ]);
    osv1.extend(strings(&["--created", "2026-12-01T00:00:00Z"]));
    for f in [
        "osv/ghsa",
        "osv/go",
        "osv/pypa/PYSEC-2024-60.yaml",
        "osv/pypa/PYSEC-2023-74.yaml",
    ] {
        osv1.push(corpus(f));
    }
    for f in [
        "RUSTSEC-2023-0001",
        "RUSTSEC-2021-0078",
        "RUSTSEC-2021-0124",
    ] {
        osv1.push(corpus(&format!("osv/rustsec/{f}.json")));
    }
    let mut osv2 = strings(&["--feed", "demo-osv", "--sequence", "2", "--mode", "delta"]);
    osv2.extend(strings(&[
        "--created",
        "2026-12-02T00:00:00Z",
        "--previous",
    ]));
    osv2.push(osv_1_id.unwrap_or("0").to_owned());
    osv2.extend(strings(&["--withdraw", "advisory:GO-2022-0617"]));
    for f in [
        "RUSTSEC-2020-0071",
        "RUSTSEC-2021-0139",
        "RUSTSEC-2023-0002",
    ] {
        osv2.push(corpus(&format!("osv/rustsec/{f}.json")));
    }
    osv2.push(corpus("osv/pypa/PYSEC-2022-43059.yaml"));
    let mut vex = strings(&[
        "--feed",
        "demo-vex",
        "--sequence",
        "1",
        "--mode",
        "snapshot",
    ]);
    vex.extend(strings(&["--created", "2026-12-01T00:00:00Z"]));
    for f in [
        "openvex/vexctl-document1.vex.json",
        "openvex/vexctl-document2.vex.json",
        "csaf/oasis-sec-vex-2022-0001.json",
        "cyclonedx/vex/bom-examples-CISA-case1-vex-affected.cdx-1.4.json",
    ] {
        vex.push(corpus(f));
    }
    let mut sbom = strings(&[
        "--feed",
        "demo-sbom",
        "--sequence",
        "1",
        "--mode",
        "snapshot",
    ]);
    sbom.extend(strings(&["--created", "2026-12-01T00:00:00Z"]));
    let with_subjects = [
        (
            "cyclonedx/sbom/juice-shop-14.1.1.flat.cdx-1.4.json",
            "registry.local/juice-shop:14.1.1",
        ),
        (
            "cyclonedx/sbom/cdx-python-requirements-with-comments.cdx-1.6.json",
            "registry.local/py-app:1.0",
        ),
        (
            "cyclonedx/sbom/guac-quarkus-deps.cdx-1.4.json",
            "registry.local/quarkus-app:1.0",
        ),
    ];
    for (f, name) in with_subjects {
        sbom.push("--subject".into());
        sbom.push(demo_subject(&corpus(f), name));
    }
    for (f, _) in with_subjects {
        sbom.push(corpus(f));
    }
    sbom.push(corpus("cyclonedx/sbom/guac-big-mongo.cdx-1.4.json"));
    sbom.push(corpus("spdx/guac-kubectl-v1.28.1-amd64.spdx.json"));
    sbom.push(corpus("spdx/spdx-examples-example11.spdx.json"));
    vec![
        Sample {
            file: "demo-osv-1-snapshot.tar.zst",
            args: osv1,
        },
        Sample {
            file: "demo-osv-2-delta.tar.zst",
            args: osv2,
        },
        Sample {
            file: "demo-vex-1-snapshot.tar.zst",
            args: vex,
        },
        Sample {
            file: "demo-sbom-1-snapshot.tar.zst",
            args: sbom,
        },
    ]
}

fn create(sample: &Sample, out: &Path) -> String {
    let output = Command::new(BIN)
        .args(["bundle", "create", "--json", "--key", &demo_key(), "--out"])
        .arg(out)
        .args(&sample.args)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}: {stderr}", sample.file);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    json["bundleId"].as_str().unwrap().to_owned()
}

/// Builds every sample into `dir`; returns their paths.
fn build_all(dir: &Path) -> Vec<PathBuf> {
    let first = &samples(None)[0];
    let osv_1_id = create(first, &dir.join(first.file));
    let mut built = vec![dir.join(first.file)];
    for sample in samples(Some(&osv_1_id)).iter().skip(1) {
        create(sample, &dir.join(sample.file));
        built.push(dir.join(sample.file));
    }
    built
}

#[test]
fn samples_rebuild_byte_identical() {
    let bless = std::env::var("STELLA_BLESS").is_ok_and(|v| v == "1");
    let tmp = tempfile::tempdir().unwrap();
    let committed = Path::new(ROOT).join("bundles");
    for built in build_all(tmp.path()) {
        let name = built.file_name().unwrap();
        let target = committed.join(name);
        let fresh = std::fs::read(&built).unwrap();
        if bless {
            std::fs::write(&target, &fresh).unwrap();
            continue;
        }
        let old = std::fs::read(&target).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run STELLA_BLESS=1 cargo test --test samples",
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

#[test]
fn committed_samples_verify_with_the_demo_trust_file() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.zst"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "four samples expected: {files:?}");
    let output = Command::new(BIN)
        .args(["bundle", "verify", "--json", "--trust"])
        .arg(Path::new(ROOT).join("bundles/demo-trust.json"))
        .args(&files)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let verdicts: Vec<serde_json::Value> = output
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(verdicts.len(), 4);
    for v in &verdicts {
        assert_eq!(v["verdict"], "valid", "{v}");
        assert!(v["membersChecked"].as_u64().unwrap() >= 3, "{v}");
    }
}
