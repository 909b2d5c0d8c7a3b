//! Connected mode against a real NATS server with JetStream (docs/transport.md).
//!
//! Every test uses its own stream, subjects, consumer and buckets (a fresh prefix) and
//! deletes them at the end, so tests never meet each other or a user's STELLA_BUNDLES.
//! The server is `STELLA_TEST_NATS_URL` or nats://127.0.0.1:4222. Without one the tests
//! say loudly that they skipped, except in CI (`CI=true`), where they fail.

#![allow(clippy::unwrap_used)]

mod support;
#[path = "interop/venv.rs"]
mod venv;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use async_nats::jetstream::{self, consumer::pull};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use stella_scheduler::model::{DocumentFormat, DocumentKind};
use support::{bundle, doc, osv, Rng, Spec, BIN, ROOT};

const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");

/// The server's URL, or `None` (after saying so) when no server answers outside CI.
fn server() -> Option<String> {
    let url = std::env::var("STELLA_TEST_NATS_URL")
        .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
    let addr = url.trim_start_matches("nats://").to_owned();
    if std::net::TcpStream::connect(&addr).is_ok() {
        return Some(url);
    }
    let why = format!("no NATS server answers at {url}");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("the NATS tests must run in CI (CI=true) but cannot: {why}");
    }
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let line = format!("SKIPPED: {why} (start nats-server -js): {test}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    None
}

/// One test's names on the server, and a client to look at them; deleted on drop.
struct Names {
    url: String,
    prefix: String,
    rt: tokio::runtime::Runtime,
    js: jetstream::Context,
}

impl Names {
    fn new(url: String, test: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let prefix = format!("t{}{}{test}", std::process::id(), nanos);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let js = rt.block_on(async {
            let client = async_nats::connect(url.as_str()).await.unwrap();
            jetstream::new(client)
        });
        Self {
            url,
            prefix,
            rt,
            js,
        }
    }

    fn stream(&self) -> String {
        format!("{}_B", self.prefix.to_uppercase())
    }

    fn events_stream(&self) -> String {
        format!("{}_E", self.prefix.to_uppercase())
    }

    fn events_subject(&self) -> String {
        format!("{}.events.completed", self.prefix)
    }

    fn bundle_prefix(&self) -> String {
        format!("{}.bundles", self.prefix)
    }

    /// The flags `nats publish` and `run` share.
    fn common(&self) -> Vec<String> {
        vec![
            "--nats-url".into(),
            self.url.clone(),
            "--nats-stream".into(),
            self.stream(),
            "--nats-subject-prefix".into(),
            self.bundle_prefix(),
            "--nats-object-bucket".into(),
            format!("{}_L", self.prefix),
        ]
    }

    /// `run --once` with this test's names; its output whatever the exit code.
    fn run_once(&self, dir: &Path) -> std::process::Output {
        let mut args: Vec<String> = vec![
            "run".into(),
            "--once".into(),
            "--json".into(),
            "--settle-ms".into(),
            "0".into(),
            "--data-dir".into(),
            dir.display().to_string(),
            "--nats-consumer".into(),
            "test-consumer".into(),
            "--nats-events-subject".into(),
            self.events_subject(),
            "--nats-events-stream".into(),
            self.events_stream(),
            "--nats-events-bucket".into(),
            format!("{}_EL", self.prefix),
            "--nats-export-bucket".into(),
            format!("{}_X", self.prefix),
        ];
        args.extend(self.common());
        Command::new(BIN).args(&args).output().unwrap()
    }

    /// `nats publish FILE...`; the JSON line of each file.
    fn publish(&self, files: &[&Path], feed: Option<&str>) -> Vec<Value> {
        let mut args: Vec<String> = vec!["nats".into(), "publish".into()];
        args.extend(self.common());
        if let Some(feed) = feed {
            args.extend(["--feed".into(), feed.into()]);
        }
        args.extend(files.iter().map(|f| f.display().to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = support::ok(&refs);
        lines(&out.stdout)
    }

    /// Every message of the events stream, in order.
    fn events(&self) -> Vec<jetstream::message::StreamMessage> {
        self.rt.block_on(async {
            let mut stream = self.js.get_stream(self.events_stream()).await.unwrap();
            let last = stream.info().await.unwrap().state.last_sequence;
            let mut messages = Vec::new();
            for seq in 1..=last {
                messages.push(stream.get_raw_message(seq).await.unwrap());
            }
            messages
        })
    }

    /// The size of an object in the export bucket.
    fn exported_size(&self, name: &str) -> usize {
        self.rt.block_on(async {
            let bucket = self
                .js
                .get_object_store(format!("{}_X", self.prefix))
                .await
                .unwrap();
            bucket.info(name).await.unwrap().size
        })
    }

    /// (pending, delivered but not acked) of the test's consumer.
    fn consumer_state(&self) -> (u64, usize) {
        self.rt.block_on(async {
            let stream = self.js.get_stream(self.stream()).await.unwrap();
            let mut consumer: jetstream::consumer::Consumer<pull::Config> =
                stream.get_consumer("test-consumer").await.unwrap();
            let info = consumer.info().await.unwrap();
            (info.num_pending, info.num_ack_pending)
        })
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        let streams = [
            self.stream(),
            self.events_stream(),
            format!("OBJ_{}_L", self.prefix),
            format!("OBJ_{}_EL", self.prefix),
            format!("OBJ_{}_X", self.prefix),
        ];
        self.rt.block_on(async {
            for stream in streams {
                let _ = self.js.delete_stream(stream).await;
            }
        });
    }
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn outcomes<'a>(all: &'a [Value], kind: &str) -> Vec<&'a Value> {
    all.iter().filter(|o| o["outcome"] == kind).collect()
}

/// A data dir set up as the README's first command does it.
fn site(root: &Path) -> PathBuf {
    let dir = root.join("site");
    let trust = Path::new(ROOT).join("bundles/demo-trust.json");
    support::ok(&[
        "init",
        "--data-dir",
        dir.to_str().unwrap(),
        "--import-trust",
        trust.to_str().unwrap(),
    ]);
    dir
}

fn samples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.zst"))
        .collect();
    files.sort();
    files
}

fn events_in_outbox(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("outbox/events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".dsse.json"))
        .collect();
    files.sort();
    files
}

/// Each event in the outbox is on the events subject once: the payload its bytes,
/// `Nats-Msg-Id` `sha256:` of them, `Stella-Run-Id` its run.
fn assert_events_published(names: &Names, dir: &Path) {
    let written = events_in_outbox(dir);
    assert!(!written.is_empty(), "no completion event was written");
    let published = names.events();
    assert_eq!(published.len(), written.len(), "one message per event");
    for (file, message) in written.iter().zip(&published) {
        let bytes = std::fs::read(file).unwrap();
        let run_id = file
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".dsse.json", "");
        assert_eq!(message.subject.as_str(), names.events_subject());
        assert_eq!(message.payload.as_ref(), bytes.as_slice());
        let header = |name: async_nats::HeaderName| match message.headers.get(name.clone()) {
            Some(v) => v.as_str().to_owned(),
            None => panic!("no {name} header: {:?}", message.headers),
        };
        let id = header(async_nats::header::NATS_MESSAGE_ID);
        assert_eq!(
            id,
            format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
        );
        assert_eq!(
            header(async_nats::HeaderName::from_static("Stella-Run-Id")),
            run_id
        );
    }
}

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
