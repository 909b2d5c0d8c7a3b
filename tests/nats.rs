//! Connected mode against a real NATS server with JetStream (docs/transport.md).
//!
//! Every test uses its own stream, subjects, consumer and buckets (a fresh prefix) and
//! deletes them at the end, so tests never meet each other or a user's STELLA_BUNDLES.
//! The server is `STELLA_TEST_NATS_URL` or nats://127.0.0.1:4222. Without one the tests
//! say loudly that they skipped, except in CI (`CI=true`), where they fail.

#![allow(clippy::unwrap_used)]

#[path = "nats_support/mod.rs"]
mod nats_support;
mod support;
#[path = "interop/venv.rs"]
mod venv;

use std::path::{Path, PathBuf};
use std::process::Command;

use nats_support::*;
use serde_json::Value;
use stella_scheduler::model::{DocumentFormat, DocumentKind};
use support::{bundle, doc, osv, Rng, Spec, ROOT};

#[test]
fn published_bundles_apply_and_their_events_are_published_once() {
    let Some(url) = server() else { return };
    let names = Names::new(url, "flow");
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path());
    let files = samples();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let sent = names.publish(&refs, None);
    assert_eq!(sent.len(), 4);
    assert!(sent.iter().all(|s| s["object"].is_null()), "{sent:?}");
    assert_eq!(
        sent[0]["subject"],
        format!("{}.demo-osv", names.bundle_prefix())
    );

    let out = names.run_once(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = lines(&out.stdout);
    assert_eq!(outcomes(&all, "applied").len(), 4, "{all:?}");
    assert_events_published(&names, &dir);
    assert_eq!(names.consumer_state(), (0, 0), "every message acked");
    let exported = support::bundle_names(&dir.join("outbox"));
    assert_eq!(exported.len(), 1, "{exported:?}");
    let size = std::fs::metadata(dir.join("outbox").join(&exported[0]))
        .unwrap()
        .len();
    assert_eq!(names.exported_size(&exported[0]) as u64, size);

    // Again: nothing new to apply; the markers stop a second publish...
    let out = names.run_once(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(lines(&out.stdout).is_empty());
    assert_events_published(&names, &dir);
    // ...and without them the stream's deduplication by Nats-Msg-Id does.
    std::fs::remove_dir_all(dir.join("outbox/events/.published")).unwrap();
    let out = names.run_once(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_events_published(&names, &dir);
}

#[test]
fn the_same_bundle_from_the_drop_folder_and_nats_applies_once() {
    let Some(url) = server() else { return };
    let names = Names::new(url, "both");
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path());
    let snapshot = Path::new(ROOT).join("bundles/demo-osv-1-snapshot.tar.zst");
    support::drop_group(std::slice::from_ref(&snapshot), &dir);
    names.publish(&[&snapshot], None);

    let out = names.run_once(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = lines(&out.stdout);
    let (applied, duplicate) = (outcomes(&all, "applied"), outcomes(&all, "duplicate"));
    assert_eq!((applied.len(), duplicate.len()), (1, 1), "{all:?}");
    assert_eq!(applied[0]["bundleId"], duplicate[0]["bundleId"]);
    let status = support::status(&dir);
    assert_eq!(status["position"], 1, "{status}");
    assert_eq!(support::bundle_names(&dir.join("archive")).len(), 2);
    assert_eq!(names.consumer_state(), (0, 0));
}

#[test]
fn a_bundle_larger_than_max_payload_travels_through_the_object_store() {
    let Some(url) = server() else { return };
    let names = Names::new(url, "large");
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path());
    // Random hex in each advisory keeps zstd from shrinking the bundle below 1 MiB.
    let mut rng = Rng(0x5eed);
    let docs = (0..640)
        .map(|i| {
            let mut body: Value =
                serde_json::from_slice(&osv(&format!("LARGE-{i}"), "left-pad", "1.3.0")).unwrap();
            let noise: String = (0..256).map(|_| format!("{:016x}", rng.next())).collect();
            body["details"] = Value::String(noise);
            doc(
                &format!("advisories/LARGE-{i}.json"),
                DocumentKind::Advisory,
                DocumentFormat::Osv,
                body.to_string().into_bytes(),
            )
        })
        .collect();
    let file = tmp.path().join("large-1.tar.zst");
    bundle(&file, Spec::snapshot("demo-osv", 1), docs);
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > 1 << 20, "the bundle is only {size} bytes");

    let sent = names.publish(&[&file], None);
    let object = sent[0]["object"]
        .as_str()
        .unwrap_or_else(|| panic!("{sent:?}"));
    assert!(object.starts_with("sha256-"), "{object}");
    let out = names.run_once(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = lines(&out.stdout);
    assert_eq!(outcomes(&all, "applied").len(), 1, "{all:?}");
    let archived = support::bundle_names(&dir.join("archive"));
    assert_eq!(archived.len(), 1);
    assert_eq!(
        std::fs::metadata(dir.join("archive").join(&archived[0]))
            .unwrap()
            .len(),
        size
    );
    assert_eq!(names.consumer_state(), (0, 0));
}

#[test]
fn a_hostile_body_is_quarantined_with_its_reason_and_acked() {
    let Some(url) = server() else { return };
    let names = Names::new(url, "hostile");
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path());
    let mut rng = Rng(0xbad);
    let junk: Vec<u8> = (0..65_536).map(|_| rng.next() as u8).collect();
    let file = tmp.path().join("junk.tar.zst");
    std::fs::write(&file, &junk).unwrap();
    names.publish(&[&file], Some("hostile"));

    let out = names.run_once(&dir);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a quarantine makes --once exit 1"
    );
    let all = lines(&out.stdout);
    let quarantined = outcomes(&all, "quarantined");
    assert_eq!(quarantined.len(), 1, "{all:?}");
    let landed = PathBuf::from(quarantined[0]["file"].as_str().unwrap());
    assert_eq!(std::fs::read(&landed).unwrap(), junk);
    let reason: Value = serde_json::from_slice(
        &std::fs::read(stella_scheduler::ingest::reason_path(&landed)).unwrap(),
    )
    .unwrap();
    assert!(
        !reason["error"].as_str().unwrap_or_default().is_empty(),
        "{reason}"
    );
    assert_eq!(
        names.consumer_state(),
        (0, 0),
        "acked, not to be delivered again"
    );
    let again = names.run_once(&dir);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(lines(&again.stdout).is_empty());
}

#[test]
fn a_bundle_published_with_nats_py_applies_and_its_event_arrives() {
    let Some(url) = server() else { return };
    let Some(python) = venv::venv_python() else {
        return;
    };
    let names = Names::new(url, "py");
    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path());
    for (feed, file) in [
        ("demo-osv", "demo-osv-1-snapshot"),
        ("demo-sbom", "demo-sbom-1-snapshot"),
    ] {
        let bundle = Path::new(ROOT).join(format!("bundles/{file}.tar.zst"));
        let out = Command::new(python)
            .arg(Path::new(INTEROP).join("publish_nats.py"))
            .args([&names.url, &names.stream(), &names.bundle_prefix(), feed])
            .arg(&bundle)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = names.run_once(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(outcomes(&lines(&out.stdout), "applied").len(), 2);
    assert_events_published(&names, &dir);
    assert_eq!(names.consumer_state(), (0, 0));
}

/// A stream of the configured name that exists for other subjects would neither store
/// what is published nor hold what is consumed. `nats publish` refuses at once; `run`
/// (not `--once`: a service that would otherwise retry forever) stops with exit 2,
/// naming the stream, its subjects and the subject it needed, and takes nothing.
#[test]
fn a_stream_of_our_name_for_other_subjects_stops_publish_and_run_with_exit_2() {
    let Some(url) = server() else { return };
    let names = Names::new(url, "subjects");
    let other = format!("{}.other.>", names.prefix);
    names.rt.block_on(async {
        names
            .js
            .create_stream(async_nats::jetstream::stream::Config {
                name: names.stream(),
                subjects: vec![other.clone()],
                ..Default::default()
            })
            .await
            .unwrap();
    });
    let wanted = format!("{}.>", names.bundle_prefix());
    let says_why = |stderr: &str| {
        stderr.contains(&names.stream()) && stderr.contains(&other) && stderr.contains(&wanted)
    };

    let files = samples();
    let mut args: Vec<String> = vec!["nats".into(), "publish".into()];
    args.extend(names.common());
    args.push(files[0].display().to_string());
    let out = Command::new(support::BIN).args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(says_why(&stderr), "{stderr}");

    let tmp = tempfile::tempdir().unwrap();
    let dir = site(tmp.path());
    let mut run = Command::new(support::BIN)
        .args(names.run_args(&dir))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = support::exit_within(&mut run, 60, "run on a stream that cannot hold its bundles");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut run.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(says_why(&stderr), "{stderr}");
    assert!(support::bundle_names(&dir.join("archive")).is_empty());
}
