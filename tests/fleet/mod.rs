//! Sites for the multi-process tests: the samples plus a snapshot of generated images,
//! on SQLite (the reference) and on PostgreSQL, and the commands to drive and compare
//! them.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::json;

use super::support::*;

/// Images of the PostgreSQL kill test: enough jobs that workers are still busy when one
/// of them is killed.
pub const IMAGES: usize = 400;

/// A data dir with the samples ingested (state in the data dir's SQLite file).
pub fn site(root: &Path) -> PathBuf {
    let dir = data_dir(root);
    let d = dir.to_str().unwrap().to_owned();
    let bundles = Path::new(ROOT).join("bundles");
    let mut args = vec!["ingest".to_owned(), "--data-dir".to_owned(), d];
    for name in bundle_names(&bundles) {
        args.push(bundles.join(name).to_str().unwrap().to_owned());
    }
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    dir
}

pub fn spawn(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// An SBOM of `i`: lodash and minimist at versions the demo advisories name, and a few
/// generated packages.
pub fn image_sbom(i: usize) -> stella_scheduler::bundle::NewDocument {
    let mut components: Vec<_> = (0..6)
        .map(|k| {
            let name = format!("gen-pkg-{}", (i * 7 + k * 3) % 50);
            json!({"type": "library", "name": name, "version": "1.0.0",
                   "purl": format!("pkg:npm/{name}@1.0.0")})
        })
        .collect();
    components.push(
        json!({"type": "library", "name": "lodash", "version": "2.4.2",
                           "purl": "pkg:npm/lodash@2.4.2"}),
    );
    components.push(
        json!({"type": "library", "name": "minimist", "version": "0.2.3",
                           "purl": "pkg:npm/minimist@0.2.3"}),
    );
    let bom = json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
                     "components": components});
    let name = format!("registry.local/image-{i:03}:1");
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(name.as_bytes()));
    sbom(
        &format!("sboms/image-{i:03}.cdx.json"),
        serde_json::to_vec(&bom).unwrap(),
        &name,
        &digest,
    )
}

/// Runs a command on a data dir whose state is in `db`.
pub fn on(dir: &Path, db: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--data-dir", dir.to_str().unwrap()]);
    if let Some(url) = db {
        all.extend(["--database-url", url]);
    }
    ok(&all)
}

pub fn spawn_on(dir: &Path, db: &str, args: &[&str]) -> Child {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--data-dir", dir.to_str().unwrap(), "--database-url", db]);
    spawn(&all)
}

/// Jobs leased by the process `pid` (worker names carry their process id).
pub fn leased_by(dir: &Path, db: &str, pid: u32) -> usize {
    let out = on(
        dir,
        Some(db),
        &["jobs", "list", "--state", "leased", "--json"],
    );
    let jobs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mark = format!(":{pid}:");
    jobs.as_array()
        .unwrap()
        .iter()
        .filter(|j| j["leaseOwner"].as_str().is_some_and(|o| o.contains(&mark)))
        .count()
}

/// The state and the runs' digests, what the two sites must agree on.
pub fn outcome(
    dir: &Path,
    db: Option<&str>,
) -> (serde_json::Value, Vec<u8>, Vec<(String, String)>) {
    let status: serde_json::Value =
        serde_json::from_slice(&on(dir, db, &["status", "--json"]).stdout).unwrap();
    let findings = on(dir, db, &["findings", "--json"]).stdout;
    let runs: serde_json::Value =
        serde_json::from_slice(&on(dir, db, &["runs", "list", "--json"]).stdout).unwrap();
    let digests = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["impactDigest"].to_string(), r["deltaDigest"].to_string()))
        .collect();
    let summary = json!({"runs": status["runs"], "jobs": status["jobs"],
                         "stateDigest": status["stateDigest"], "position": status["position"]});
    (summary, findings, digests)
}

/// The reference site (SQLite, every window run by one `run --once`) and a site whose
/// state is in the PostgreSQL database `url`, with the same bundles ingested and nothing
/// run yet. Both hold the samples and a snapshot of [`IMAGES`] generated images.
pub fn pg_sites(root: &Path, url: &str) -> (PathBuf, PathBuf) {
    let images = root.join("images.tar.zst");
    bundle(
        &images,
        Spec::snapshot("images", 1),
        (0..IMAGES).map(image_sbom).collect(),
    );
    let reference = site(&root.join("reference"));
    on(&reference, None, &["ingest", images.to_str().unwrap()]);
    on(&reference, None, &["run", "--once", "--settle-ms", "0"]);

    let split = root.join("split").join("data");
    ok(&[
        "init",
        "--data-dir",
        split.to_str().unwrap(),
        "--site-id",
        "test-site",
        "--database-url",
        url,
    ]);
    ok(&[
        "trust",
        "add",
        "--trust",
        split.join("trust.json").to_str().unwrap(),
        "--public-key",
        demo_pub().to_str().unwrap(),
        "--feed",
        "*",
    ]);
    let bundles = Path::new(ROOT).join("bundles");
    for name in bundle_names(&bundles) {
        on(
            &split,
            Some(url),
            &["ingest", bundles.join(name).to_str().unwrap()],
        );
    }
    on(&split, Some(url), &["ingest", images.to_str().unwrap()]);
    (reference, split)
}
