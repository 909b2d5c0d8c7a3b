//! A NATS server for tests, and one test's names on it (streams, subjects, consumer,
//! buckets with a fresh prefix), deleted at the end. The server is
//! `STELLA_TEST_NATS_URL` or nats://127.0.0.1:4222; without one, tests say loudly that
//! they skipped, except in CI (`CI=true`), where they fail.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use async_nats::jetstream::{self, consumer::pull};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::support::{self, BIN, ROOT};

pub const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");

/// The server's URL, or `None` (after saying so) when no server answers outside CI.
pub fn server() -> Option<String> {
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
pub struct Names {
    pub url: String,
    pub prefix: String,
    pub rt: tokio::runtime::Runtime,
    pub js: jetstream::Context,
}

impl Names {
    pub fn new(url: String, test: &str) -> Self {
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

    pub fn stream(&self) -> String {
        format!("{}_B", self.prefix.to_uppercase())
    }

    pub fn events_stream(&self) -> String {
        format!("{}_E", self.prefix.to_uppercase())
    }

    pub fn events_subject(&self) -> String {
        format!("{}.events.completed", self.prefix)
    }

    pub fn bundle_prefix(&self) -> String {
        format!("{}.bundles", self.prefix)
    }

    /// The flags `nats publish` and `run` share.
    pub fn common(&self) -> Vec<String> {
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

    /// `run` with this test's names (add `--once` to drain and exit).
    pub fn run_args(&self, dir: &Path) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "run".into(),
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
        args
    }

    /// `run --once` with this test's names; its output whatever the exit code.
    pub fn run_once(&self, dir: &Path) -> std::process::Output {
        let mut args = self.run_args(dir);
        args.push("--once".into());
        Command::new(BIN).args(&args).output().unwrap()
    }

    /// `nats publish FILE...`; the JSON line of each file.
    pub fn publish(&self, files: &[&Path], feed: Option<&str>) -> Vec<Value> {
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

    /// Every message of the events stream, in order; none while `run` has not created
    /// the stream yet (it does so before it publishes its first event).
    pub fn events(&self) -> Vec<jetstream::message::StreamMessage> {
        self.rt.block_on(async {
            let Ok(mut stream) = self.js.get_stream(self.events_stream()).await else {
                return Vec::new();
            };
            let last = stream.info().await.unwrap().state.last_sequence;
            let mut messages = Vec::new();
            for seq in 1..=last {
                messages.push(stream.get_raw_message(seq).await.unwrap());
            }
            messages
        })
    }

    /// The size of an object in the export bucket.
    pub fn exported_size(&self, name: &str) -> usize {
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
    pub fn consumer_state(&self) -> (u64, usize) {
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

pub fn lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn outcomes<'a>(all: &'a [Value], kind: &str) -> Vec<&'a Value> {
    all.iter().filter(|o| o["outcome"] == kind).collect()
}

/// A data dir set up as the README's first command does it.
pub fn site(root: &Path) -> PathBuf {
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

pub fn samples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.zst"))
        .collect();
    files.sort();
    files
}

pub fn events_in_outbox(dir: &Path) -> Vec<PathBuf> {
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
pub fn assert_events_published(names: &Names, dir: &Path) {
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
