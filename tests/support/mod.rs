//! Helpers for tests that drive the real binary against real data dirs.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use stella_scheduler::bundle::{
    keys, write_bundle, BundleSpec, InMemory, MemberPath, Mode, NewDocument, Withdrawal,
};
use stella_scheduler::model::{DocumentFormat, DocumentKind, Subject};

pub const BIN: &str = env!("CARGO_BIN_EXE_stella-scheduler");
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

pub fn corpus(rel: &str) -> PathBuf {
    Path::new(ROOT).join("../shared/corpus").join(rel)
}

pub fn demo_key() -> ed25519_dalek::SigningKey {
    keys::read_signing_key(&Path::new(ROOT).join("bundles/demo-key/DEMO-ONLY-NOT-SECRET.key"))
        .unwrap()
}

pub fn demo_pub() -> PathBuf {
    Path::new(ROOT).join("bundles/demo-key/DEMO-ONLY-NOT-SECRET.pub")
}

/// Runs the binary; returns its output whatever the exit code.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// Runs the binary and requires success.
pub fn ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// An initialized data dir whose trust file trusts the demo key for every feed.
/// Waits for `child` to exit; after `secs` seconds it is killed and the test fails,
/// saying `what` it was waiting for.
pub fn exit_within(
    child: &mut std::process::Child,
    secs: u64,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{what}: still running after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

pub fn data_dir(root: &Path) -> PathBuf {
    let dir = root.join("data");
    let d = dir.to_str().unwrap();
    ok(&["init", "--data-dir", d, "--site-id", "test-site"]);
    let trust = dir.join("trust.json");
    let public = demo_pub();
    ok(&[
        "trust",
        "add",
        "--trust",
        trust.to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
        "--feed",
        "*",
    ]);
    dir
}

pub fn status(dir: &Path) -> Value {
    let out = ok(&["status", "--json", "--data-dir", dir.to_str().unwrap()]);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A document for a bundle, from bytes.
pub fn doc(path: &str, kind: DocumentKind, format: DocumentFormat, bytes: Vec<u8>) -> NewDocument {
    NewDocument {
        path: MemberPath::parse(path.as_bytes()).unwrap(),
        kind,
        format,
        subject: None,
        source: Box::new(InMemory {
            name: path.to_owned(),
            bytes,
        }),
    }
}

pub fn sbom(path: &str, bytes: Vec<u8>, name: &str, digest_hex: &str) -> NewDocument {
    let mut d = doc(path, DocumentKind::Sbom, DocumentFormat::Cyclonedx, bytes);
    d.subject = Some(Subject {
        name: name.to_owned(),
        digest: format!("sha256:{digest_hex}").parse().unwrap(),
    });
    d
}

/// A small, valid OSV advisory.
pub fn osv(id: &str, package: &str, fixed: &str) -> Vec<u8> {
    serde_json::json!({
        "schema_version": "1.6.0", "id": id, "modified": "2026-11-01T00:00:00Z",
        "summary": format!("synthetic advisory {id}"),
        "affected": [{"package": {"ecosystem": "npm", "name": package},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]
    })
    .to_string()
    .into_bytes()
}

pub struct Spec<'a> {
    pub feed: &'a str,
    pub sequence: u64,
    pub previous: Option<&'a str>,
    pub mode: Mode,
    pub expires: Option<&'a str>,
    pub withdrawn: Vec<Withdrawal>,
}

impl<'a> Spec<'a> {
    pub fn delta(feed: &'a str, sequence: u64, previous: Option<&'a str>) -> Self {
        Self {
            feed,
            sequence,
            previous,
            mode: Mode::Delta,
            expires: None,
            withdrawn: vec![],
        }
    }

    pub fn snapshot(feed: &'a str, sequence: u64) -> Self {
        Self {
            mode: Mode::Snapshot,
            ..Self::delta(feed, sequence, None)
        }
    }
}

/// Writes a bundle signed by the demo key; returns its bundle id.
pub fn bundle(out: &Path, spec: Spec<'_>, docs: Vec<NewDocument>) -> String {
    let written = write_bundle(
        BundleSpec {
            feed: spec.feed.to_owned(),
            sequence: spec.sequence,
            previous: spec.previous.map(|p| p.parse().unwrap()),
            mode: spec.mode,
            created_at: format!("2026-12-01T00:00:{:02}Z", spec.sequence % 60),
            expires_at: spec.expires.map(str::to_owned),
            withdrawn: spec.withdrawn,
        },
        docs,
        &[demo_key()],
        out,
    )
    .unwrap();
    written.id.to_string()
}

/// Names of the `*.tar.zst` files in a folder, sorted.
pub fn bundle_names(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tar.zst"))
        .collect();
    names.sort();
    names
}

/// xorshift64*: small, seeded, good enough to place kills.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Copies bundles into `dir`'s inbox the way producers must: as `.NAME.partial`, then
/// renamed to `NAME`.
pub fn drop_group(group: &[PathBuf], dir: &Path) {
    for file in group {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let hidden = dir.join("inbox").join(format!(".{name}.partial"));
        std::fs::copy(file, &hidden).unwrap();
        std::fs::rename(&hidden, dir.join("inbox").join(&name)).unwrap();
    }
}
