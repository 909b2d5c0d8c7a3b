//! The drop-folder flow through the real binary: chains, pending, duplicates, forks,
//! hostile files, snapshots, expiry and unparsable documents.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stella_scheduler::bundle::Withdrawal;
use stella_scheduler::model::{DocumentFormat, DocumentKind};
use support::*;

fn advisory(id: &str) -> stella_scheduler::bundle::NewDocument {
    let path = format!("advisories/{id}.json");
    doc(
        &path,
        DocumentKind::Advisory,
        DocumentFormat::Osv,
        osv(id, "left-pad", "1.3.0"),
    )
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_run(dir: &Path) -> Child {
    Command::new(BIN)
        .args([
            "run",
            "--settle-ms",
            "100",
            "--rescan-secs",
            "1",
            "--data-dir",
        ])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Places a file in the inbox the way producers must: hidden name, then rename.
fn drop_in(file: &Path, dir: &Path, name: &str) {
    let hidden = dir.join("inbox").join(format!(".{name}.partial"));
    std::fs::copy(file, &hidden).unwrap();
    std::fs::rename(&hidden, dir.join("inbox").join(name)).unwrap();
}

#[test]
fn watcher_applies_chains_in_order_and_puts_every_file_in_its_place() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path());
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let id1 = bundle(
        &src.join("s1.tar.zst"),
        Spec::delta("osv", 1, None),
        vec![advisory("A-1")],
    );
    let id2 = bundle(
        &src.join("s2.tar.zst"),
        Spec::delta("osv", 2, Some(&id1)),
        vec![advisory("A-2")],
    );
    let mut s3 = Spec::delta("osv", 3, Some(&id2));
    s3.withdrawn = vec![Withdrawal {
        kind: DocumentKind::Advisory,
        id: "A-1".into(),
    }];
    let id3 = bundle(&src.join("s3.tar.zst"), s3, vec![advisory("A-3")]);
    bundle(
        &src.join("fork2.tar.zst"),
        Spec::delta("osv", 2, Some(&id1)),
        vec![advisory("F-2")],
    );
    std::fs::write(
        src.join("hostile.tar.zst"),
        b"\x28\xb5\x2f\xfd not really zstd",
    )
    .unwrap();

    let mut run = start_run(&dir);
    drop_in(&src.join("s1.tar.zst"), &dir, "s1.tar.zst");
    wait_until("seq 1", || status(&dir)["position"] == 1);
    drop_in(&src.join("s3.tar.zst"), &dir, "s3.tar.zst");
    wait_until("seq 3 pending", || {
        status(&dir)["pending"].as_array().unwrap().len() == 1
    });
    let pending = &status(&dir)["pending"][0];
    assert_eq!(
        (pending["sequence"].as_u64(), pending["waitingFor"].as_u64()),
        (Some(3), Some(2))
    );
    drop_in(&src.join("s2.tar.zst"), &dir, "s2.tar.zst");
    wait_until("seq 2 and 3", || status(&dir)["position"] == 3);
    drop_in(&src.join("s1.tar.zst"), &dir, "replay-s1.tar.zst");
    drop_in(&src.join("fork2.tar.zst"), &dir, "fork2.tar.zst");
    drop_in(&src.join("hostile.tar.zst"), &dir, "hostile.tar.zst");
    wait_until("inbox empty", || {
        bundle_names(&dir.join("inbox")).is_empty()
    });
    run.kill().unwrap();
    run.wait().unwrap();

    let s = status(&dir);
    assert_eq!(s["feeds"][0]["sequence"], 3);
    assert_eq!(s["feeds"][0]["bundleId"], id3.as_str());
    assert_eq!(s["pending"].as_array().unwrap().len(), 0);
    assert_eq!(s["quarantined"], 2);
    assert_eq!(
        s["documents"]["advisory"], 2,
        "A-1 withdrawn, A-2 and A-3 hold"
    );
    let archived = bundle_names(&dir.join("archive"));
    assert_eq!(
        archived,
        [
            "replay-s1.tar.zst",
            "s1.tar.zst",
            "s2.tar.zst",
            "s3.tar.zst"
        ]
    );
    assert_eq!(
        bundle_names(&dir.join("quarantine")),
        ["fork2.tar.zst", "hostile.tar.zst"]
    );
    let fork: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("quarantine/fork2.reason.json")).unwrap())
            .unwrap();
    assert_eq!(fork["failedStep"], "chain");
    assert!(
        fork["error"].as_str().unwrap().contains("sequence 2"),
        "{fork}"
    );
    let hostile: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("quarantine/hostile.reason.json")).unwrap())
            .unwrap();
    assert_eq!(hostile["failedStep"], "decompress");
    assert_eq!(hostile["transcript"]["verdict"], "invalid");
}

#[test]
fn ingest_takes_files_in_chain_order_whatever_the_argument_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path());
    let id1 = bundle(
        &tmp.path().join("a.tar.zst"),
        Spec::delta("f", 1, None),
        vec![advisory("X-1")],
    );
    let id2 = bundle(
        &tmp.path().join("b.tar.zst"),
        Spec::delta("f", 2, Some(&id1)),
        vec![advisory("X-2")],
    );
    bundle(
        &tmp.path().join("c.tar.zst"),
        Spec::delta("f", 3, Some(&id2)),
        vec![advisory("X-3")],
    );
    let files: Vec<String> = ["c", "a", "b"]
        .iter()
        .map(|n| {
            tmp.path()
                .join(format!("{n}.tar.zst"))
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let d = dir.to_str().unwrap();
    let out = ok(&[
        "ingest",
        "--json",
        "--data-dir",
        d,
        &files[0],
        &files[1],
        &files[2],
    ]);
    let outcomes: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = outcomes
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["applied", "applied", "applied"]);
    assert_eq!(status(&dir)["position"], 3);
    assert!(
        tmp.path().join("c.tar.zst").exists(),
        "ingest copies; the originals stay"
    );
}

#[test]
fn a_snapshot_replaces_the_feed_state_as_of_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path());
    let d = dir.to_str().unwrap();
    let b1 = tmp.path().join("1.tar.zst");
    let id1 = bundle(
        &b1,
        Spec::delta("f", 1, None),
        vec![advisory("K-1"), advisory("K-2")],
    );
    let b2 = tmp.path().join("2.tar.zst");
    bundle(&b2, Spec::delta("f", 2, Some(&id1)), vec![advisory("K-3")]);
    let b7 = tmp.path().join("7.tar.zst");
    bundle(
        &b7,
        Spec::snapshot("f", 7),
        vec![advisory("K-2"), advisory("K-9")],
    );
    for b in [&b1, &b2, &b7] {
        ok(&["ingest", "--data-dir", d, b.to_str().unwrap()]);
    }
    let s = status(&dir);
    assert_eq!(
        s["documents"]["advisory"], 2,
        "K-1 and K-3 are gone, K-2 and K-9 hold"
    );
    assert_eq!(s["feeds"][0]["sequence"], 7);
    let older = tmp.path().join("5.tar.zst");
    bundle(&older, Spec::snapshot("f", 5), vec![advisory("K-5")]);
    let out = run(&["ingest", "--data-dir", d, older.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an older snapshot is a rollback"
    );
    assert_eq!(status(&dir)["documents"]["advisory"], 2);
}

#[test]
fn expired_bundles_need_the_loud_opt_out_which_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path());
    let d = dir.to_str().unwrap();
    let old = tmp.path().join("old.tar.zst");
    let mut spec = Spec::delta("f", 1, None);
    spec.expires = Some("2026-01-01T00:00:00Z");
    bundle(&old, spec, vec![advisory("E-1")]);
    let refused = run(&["ingest", "--data-dir", d, old.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    let reason = std::fs::read_to_string(dir.join("quarantine/old.reason.json")).unwrap();
    assert!(
        reason.contains("expired at 2026-01-01T00:00:00Z"),
        "{reason}"
    );
    let out = ok(&[
        "ingest",
        "--dangerously-accept-expired",
        "--data-dir",
        d,
        old.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied"));
    let store = stella_scheduler::store::Store::open(&dir.join("store/state.sqlite")).unwrap();
    let log = store.changelog().unwrap();
    assert!(
        log[0].expired_accepted,
        "the opt-out is recorded with the bundle"
    );
}

#[test]
fn an_unparsable_document_in_a_signed_bundle_refuses_the_whole_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path());
    let d = dir.to_str().unwrap();
    let bad = corpus("osv/osv-schema-testdata/INVALID-nointroduced-CVE-2023-41045.json");
    let docs = vec![
        advisory("G-1"),
        doc(
            "advisories/invalid.json",
            DocumentKind::Advisory,
            DocumentFormat::Osv,
            std::fs::read(bad).unwrap(),
        ),
    ];
    let file = tmp.path().join("mixed.tar.zst");
    bundle(&file, Spec::delta("f", 1, None), docs);
    let out = run(&["ingest", "--data-dir", d, file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let reason: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("quarantine/mixed.reason.json")).unwrap())
            .unwrap();
    assert_eq!(reason["failedStep"], "load");
    let error = reason["error"].as_str().unwrap();
    assert!(
        error.contains("advisories/invalid.json") && error.contains("introduced"),
        "{error}"
    );
    let s = status(&dir);
    assert_eq!(
        (s["position"].as_u64(), s["documents"]["advisory"].as_u64()),
        (Some(0), Some(0))
    );
}

#[test]
fn every_corpus_document_kind_ingests_from_the_sample_bundles() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(tmp.path());
    let d = dir.to_str().unwrap();
    let samples = Path::new(ROOT).join("bundles");
    let mut args = vec!["ingest", "--data-dir", d];
    let files: Vec<String> = bundle_names(&samples)
        .into_iter()
        .map(|n| samples.join(n).to_string_lossy().into_owned())
        .collect();
    args.extend(files.iter().map(String::as_str));
    ok(&args);
    let s = status(&dir);
    assert_eq!(s["position"], 4);
    assert!(s["documents"]["advisory"].as_u64().unwrap() >= 25, "{s}");
    assert_eq!(s["documents"]["vex"], 4);
    assert_eq!(s["documents"]["sbom"], 6);
}
